//! Native tile kernels: the epilogue programs the JIT makes most, run
//! register by register on the product's tile instead of op by op through
//! the tile's slots.
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
    /// outputs.
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
        for r in 0..R {
            for (h, &mask) in masks.iter().enumerate() {
                if mask == 0 {
                    continue;
                }
                // SAFETY: the caller's promise: row i + r and the masked
                // columns from j lie in every operand and output.
                unsafe {
                    let load = |s: Src| match s {
                        Src::C => c[r][h],
                        Src::Input(x) => element(at.ins[x], i + r, j + 16 * h, mask),
                    };
                    let store = |o: usize, v: __m512| {
                        let (p, rs) = at.outs[o];
                        let row = p.wrapping_offset((i + r) as isize * rs);
                        _mm512_mask_storeu_ps(row.wrapping_add(j + 16 * h), mask, v);
                    };
                    match *self {
                        Native::Sum { terms, act, post } => {
                            let s = terms.sum(load);
                            let a = act.map_or(s, |a| a.apply(s));
                            for (o, &p) in post.iter().enumerate().take(at.n_outs) {
                                store(o, if p { a } else { s });
                            }
                        }
                        Native::Masked { terms, z } => {
                            let s = terms.sum(load);
                            let one = _mm512_set1_ps(1.0);
                            let step = positive(load(z), one, _mm512_setzero_ps());
                            store(0, _mm512_mul_ps(s, step));
                        }
                        Native::TanhGrad { g, one, h } => {
                            let y = load(h);
                            let d = _mm512_sub_ps(load(one), _mm512_mul_ps(y, y));
                            store(0, _mm512_mul_ps(load(g), d));
                        }
                    }
                }
            }
        }
    }
}

impl Terms {
    /// `t0 + t1 + …`, left to right.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn sum(&self, load: impl Fn(Src) -> __m512) -> __m512 {
        let mut s = load(self.src[0]);
        for &t in &self.src[1..self.len] {
            s = _mm512_add_ps(s, load(t));
        }
        s
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

/// An operand's 16 elements of row `row` from column `col` (the masked
/// lanes), or its row's number repeated when its column stride is 0. The
/// operand is `(pointer to row 0, row stride, column stride)`.
///
/// # Safety
///
/// The masked elements (or the row's number) lie in the operand.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn element(
    (p, rs, cs): (*const f32, isize, isize),
    row: usize,
    col: usize,
    mask: __mmask16,
) -> __m512 {
    let at = p.wrapping_offset(row as isize * rs + col as isize * cs);
    // SAFETY: the caller's promise.
    unsafe {
        if cs == 0 {
            _mm512_set1_ps(*at)
        } else {
            _mm512_maskz_loadu_ps(mask, at)
        }
    }
}
