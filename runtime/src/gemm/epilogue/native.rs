//! Native tile kernels: the epilogue programs the JIT makes most, run
//! step by step over the product's whole tile in registers instead of op
//! by op through the tile's slots.
//!
//! A program is recognised once, when it is made (`Program::new`), as one
//! of three forms:
//!
//! - `Sum`: `s = t0 + t1 + …` (left to right, each term C or an operand)
//!   and optionally `a = act(s)` with `act` one of relu, tanh or sigmoid;
//!   each output stores `s` or `a` (a layer's `relu(x W + b)` with its
//!   pre-activation, a cell's `tanh(x U + h W + b)`, a DeepSets layer's
//!   `relu(X Λ + pooled + b)`, a plain bias);
//! - `Masked`: `s * step(z)` (the backward of a relu, `s` a sum of terms as
//!   above);
//! - `TanhGrad`: `g * (one - h * h)` (the backward of a tanh, `one` an
//!   operand holding 1).
//!
//! Each output vector is computed from C's register and the operands'
//! loads with the same ops, in the same order and association, as the
//! general program (addition and multiplication of two numbers commute
//! bit for bit in IEEE arithmetic, so `b + C` and `C + b` are one form),
//! and stored straight from the register: the values are the same bits
//! as the general program's and the compiled kernel's.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

#[cfg(target_arch = "x86_64")]
use super::tile::{HALVES, positive, tanh};
use super::{EpOp, MAX_INPUTS, MAX_OUTPUTS};

/// Terms a `Sum` or a `Masked` form adds at most.
const MAX_TERMS: usize = 4;

/// Where a value of a native form comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Src {
    /// The product's element.
    C,
    /// The element of operand `i` at the same place.
    Input(usize),
}

/// A sum of terms, added left to right.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Terms {
    src: [Src; MAX_TERMS],
    len: usize,
}

/// An activation of a `Sum` form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Act {
    /// `0 < s ? s : 0`.
    Relu,
    /// The compiled kernels' `tanh`.
    Tanh,
    /// `½ + ½ tanh(s/2)`.
    Sigmoid,
}

/// A program in one of the forms this file runs natively.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Native {
    /// `s = Σ terms`, `a = act(s)`; output `o` stores `a` when `post[o]`,
    /// else `s`.
    Sum {
        /// The terms of `s`.
        terms: Terms,
        /// The activation, if an output stores one.
        act: Option<Act>,
        /// Which outputs store `a`.
        post: [bool; MAX_OUTPUTS],
    },
    /// `(Σ terms) * step(z)`, one output.
    Masked {
        /// The terms of the sum.
        terms: Terms,
        /// The value whose sign selects.
        z: Src,
    },
    /// `g * (one - h * h)`, one output.
    TanhGrad {
        /// The incoming gradient.
        g: Src,
        /// The operand holding 1.
        one: Src,
        /// The tanh's value.
        h: Src,
    },
}

/// The native form of a program whose ops each read only earlier ops, if
/// it has one.
pub(super) fn recognise(ops: &[EpOp], outputs: &[usize]) -> Option<Native> {
    if outputs.is_empty() || outputs.len() > MAX_OUTPUTS {
        return None;
    }
    sum(ops, outputs)
        .or_else(|| masked(ops, outputs))
        .or_else(|| tanh_grad(ops, outputs))
}

/// Op `i` as a leaf: C or an operand.
fn leaf(ops: &[EpOp], i: usize) -> Option<Src> {
    match ops[i] {
        EpOp::C => Some(Src::C),
        EpOp::Input(x) => Some(Src::Input(x)),
        _ => None,
    }
}

/// Op `i` as a sum of leaves added left to right: a leaf, or the sum of a
/// sum and a leaf (in either order, as addition commutes).
fn terms(ops: &[EpOp], i: usize) -> Option<Terms> {
    if let Some(s) = leaf(ops, i) {
        let mut src = [Src::C; MAX_TERMS];
        src[0] = s;
        return Some(Terms { src, len: 1 });
    }
    let EpOp::Add(a, b) = ops[i] else {
        return None;
    };
    let (chain, last) = match (leaf(ops, a), leaf(ops, b)) {
        (_, Some(s)) => (a, s),
        (Some(s), None) => (b, s),
        (None, None) => return None,
    };
    let mut t = terms(ops, chain)?;
    if t.len == MAX_TERMS {
        return None;
    }
    t.src[t.len] = last;
    t.len += 1;
    Some(t)
}

/// Every output is one sum `s` or one activation of it.
fn sum(ops: &[EpOp], outputs: &[usize]) -> Option<Native> {
    let mut s = None;
    let mut act = None;
    let mut post = [false; MAX_OUTPUTS];
    for (o, &i) in outputs.iter().enumerate() {
        let (at, a) = match ops[i] {
            EpOp::Relu(x) => (x, Some(Act::Relu)),
            EpOp::Tanh(x) => (x, Some(Act::Tanh)),
            EpOp::Sigmoid(x) => (x, Some(Act::Sigmoid)),
            _ => (i, None),
        };
        if a.is_some() {
            if act.is_some_and(|b| Some(b) != a) {
                return None;
            }
            act = a;
            post[o] = true;
        }
        if s.is_some_and(|t| t != at) {
            return None;
        }
        s = Some(at);
    }
    Some(Native::Sum {
        terms: terms(ops, s?)?,
        act,
        post,
    })
}

/// One output, `s * step(z)` (in either order).
fn masked(ops: &[EpOp], outputs: &[usize]) -> Option<Native> {
    let [o] = outputs else { return None };
    let EpOp::Mul(a, b) = ops[*o] else {
        return None;
    };
    let (s, z) = match (ops[a], ops[b]) {
        (_, EpOp::Step(z)) => (a, z),
        (EpOp::Step(z), _) => (b, z),
        _ => return None,
    };
    Some(Native::Masked {
        terms: terms(ops, s)?,
        z: leaf(ops, z)?,
    })
}

/// One output, `g * (one - h * h)` (the outer product in either order).
fn tanh_grad(ops: &[EpOp], outputs: &[usize]) -> Option<Native> {
    let [o] = outputs else { return None };
    let EpOp::Mul(a, b) = ops[*o] else {
        return None;
    };
    let (g, d) = match (leaf(ops, a), leaf(ops, b)) {
        (Some(g), None) => (g, b),
        (None, Some(g)) => (g, a),
        _ => return None,
    };
    let EpOp::Sub(one, sq) = ops[d] else {
        return None;
    };
    let EpOp::Mul(h, h2) = ops[sq] else {
        return None;
    };
    let h = leaf(ops, h)?;
    (leaf(ops, h2)? == h).then_some(())?;
    Some(Native::TanhGrad {
        g,
        one: leaf(ops, one)?,
        h,
    })
}

/// A tile's operands and outputs, as `Tile` holds them.
pub(super) struct Places<'a> {
    pub(super) ins: &'a [(*const f32, isize, isize); MAX_INPUTS],
    pub(super) outs: &'a [(*mut f32, isize); MAX_OUTPUTS],
    pub(super) n_outs: usize,
}

impl Native {
    /// Runs the form on rows `i..i + R` of the piece, the columns from `j`
    /// that `masks` select, `c` holding C's values there, and stores its
    /// outputs. Each step runs over the whole tile in registers (one
    /// dispatch per term, activation or output, not per vector).
    ///
    /// # Safety
    ///
    /// As for `Tile::apply`.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    #[inline]
    pub(super) unsafe fn apply<const R: usize>(
        &self,
        at: &Places<'_>,
        i: usize,
        j: usize,
        masks: [__mmask16; HALVES],
        c: &[[__m512; HALVES]; R],
    ) {
        let tile = Block { at, i, j, masks };
        // SAFETY (every block below): the caller's promise that rows
        // i..i + R and the masked columns from j lie in every operand and
        // output.
        unsafe {
            match *self {
                Native::Sum { terms, act, post } => {
                    let s = tile.sum(&terms, c);
                    let a = match act {
                        Some(f) => each(&s, |v| f.apply(v)),
                        None => s,
                    };
                    for (o, &p) in post.iter().enumerate().take(at.n_outs) {
                        tile.store(o, if p { &a } else { &s });
                    }
                }
                Native::Masked { terms, z } => {
                    let s = tile.sum(&terms, c);
                    let z = tile.load(z, c);
                    let (one, zero) = (_mm512_set1_ps(1.0), _mm512_setzero_ps());
                    let v: Vals<R> = std::array::from_fn(|r| {
                        std::array::from_fn(|h| {
                            _mm512_mul_ps(s[r][h], positive(z[r][h], one, zero))
                        })
                    });
                    tile.store(0, &v);
                }
                Native::TanhGrad { g, one, h } => {
                    let (g, one, y) = (tile.load(g, c), tile.load(one, c), tile.load(h, c));
                    let v: Vals<R> = std::array::from_fn(|r| {
                        std::array::from_fn(|k| {
                            let d = _mm512_sub_ps(one[r][k], _mm512_mul_ps(y[r][k], y[r][k]));
                            _mm512_mul_ps(g[r][k], d)
                        })
                    });
                    tile.store(0, &v);
                }
            }
        }
    }
}

/// The values of a tile: `R` rows of two 16-lane vectors.
#[cfg(target_arch = "x86_64")]
type Vals<const R: usize> = [[__m512; HALVES]; R];

/// `f` on every vector of a tile.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
fn each<const R: usize>(v: &Vals<R>, f: impl Fn(__m512) -> __m512) -> Vals<R> {
    std::array::from_fn(|r| std::array::from_fn(|h| f(v[r][h])))
}

/// Where a tile lies: its operands and outputs, first row and column, and
/// the lanes of its two vectors per row that hold columns.
#[cfg(target_arch = "x86_64")]
struct Block<'a> {
    at: &'a Places<'a>,
    i: usize,
    j: usize,
    masks: [__mmask16; HALVES],
}

#[cfg(target_arch = "x86_64")]
impl Block<'_> {
    /// A value over the tile: C's registers or an operand's elements.
    ///
    /// # Safety
    ///
    /// As for `Native::apply`.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn load<const R: usize>(&self, s: Src, c: &Vals<R>) -> Vals<R> {
        let Src::Input(x) = s else { return *c };
        let (p, rs, cs) = self.at.ins[x];
        std::array::from_fn(|r| {
            let row = p.wrapping_offset((self.i + r) as isize * rs + self.j as isize * cs);
            if cs == 0 {
                // SAFETY: the row's number lies in the operand.
                let v = _mm512_set1_ps(unsafe { *row });
                [v; HALVES]
            } else {
                std::array::from_fn(|h| {
                    // SAFETY: the masked elements lie in the operand.
                    unsafe { _mm512_maskz_loadu_ps(self.masks[h], row.wrapping_add(16 * h)) }
                })
            }
        })
    }

    /// `t0 + t1 + …` over the tile, left to right.
    ///
    /// # Safety
    ///
    /// As for `Native::apply`.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn sum<const R: usize>(&self, terms: &Terms, c: &Vals<R>) -> Vals<R> {
        // SAFETY: forwarded from the caller.
        unsafe {
            let mut s = self.load(terms.src[0], c);
            for &t in &terms.src[1..terms.len] {
                let v = self.load(t, c);
                s = std::array::from_fn(|r| {
                    std::array::from_fn(|h| _mm512_add_ps(s[r][h], v[r][h]))
                });
            }
            s
        }
    }

    /// Stores `v` as output `o`.
    ///
    /// # Safety
    ///
    /// As for `Native::apply`.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn store<const R: usize>(&self, o: usize, v: &Vals<R>) {
        let (p, rs) = self.at.outs[o];
        for (r, row) in v.iter().enumerate() {
            let at = p.wrapping_offset((self.i + r) as isize * rs + self.j as isize);
            for (h, &x) in row.iter().enumerate() {
                // SAFETY: the masked elements of the row lie in the output
                // (a masked-off lane is not accessed).
                unsafe { _mm512_mask_storeu_ps(at.wrapping_add(16 * h), self.masks[h], x) };
            }
        }
    }
}

impl Act {
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn apply(self, s: __m512) -> __m512 {
        match self {
            Act::Relu => positive(s, s, _mm512_setzero_ps()),
            Act::Tanh => tanh(s),
            Act::Sigmoid => {
                let half = _mm512_set1_ps(0.5);
                _mm512_fmadd_ps(tanh(_mm512_mul_ps(s, half)), half, half)
            }
        }
    }
}
