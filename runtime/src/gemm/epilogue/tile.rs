//! An epilogue program run on one tile of the direct kernel's output: the
//! up to `8 × 32` block of C the micro-kernel has just summed, handed over
//! in its sixteen registers.
//!
//! The program runs op by op over the whole tile, not register by
//! register: each op is one dispatch followed by a loop over the tile's
//! (up to) sixteen 16-lane vectors, which the compiler unrolls for each
//! block height. An op's values over the tile live in a `Slot` of 1 KiB,
//! so a program's values stay in the L1 cache between its ops. Per lane
//! the ops are the same as the compiled kernel's, in the same order, so
//! the values are the same bits as an unfused step's.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

use super::native::{Native, Places};
use super::{EpOp, MAX_INPUTS, MAX_OUTPUTS};

/// Rows of a tile: the direct kernel's block of rows.
pub(in crate::gemm) const TILE_ROWS: usize = 8;

/// 16-lane vectors per row of a tile: the direct kernel's 32 columns.
pub(super) const HALVES: usize = 2;

/// One op's values over a tile, row by row, 16 lanes per vector.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
pub(in crate::gemm) struct Slot([[[f32; 16]; HALVES]; TILE_ROWS]);

impl Slot {
    /// A slot of zeros.
    pub(in crate::gemm) const ZERO: Slot = Slot([[[0.0; 16]; HALVES]; TILE_ROWS]);
}

/// A program ready for one piece of a product: operands
/// `(pointer to the piece's row 0, row stride, column stride)`, outputs
/// `(pointer, row stride)` and one slot per op.
pub(in crate::gemm) struct Tile<'a> {
    pub(super) ops: &'a [EpOp],
    pub(super) outputs: &'a [usize],
    pub(super) ins: [(*const f32, isize, isize); MAX_INPUTS],
    pub(super) outs: [(*mut f32, isize); MAX_OUTPUTS],
    /// One slot per op (`ops.len()` of them).
    pub(super) slots: &'a mut [Slot],
    /// The program's native form, run instead of its ops when it has one.
    pub(super) native: Option<Native>,
    /// Whether the kernel must store C too (something besides the program
    /// reads it).
    pub(in crate::gemm) store_c: bool,
}

/// `v` at row `r`, vector `h` of a slot.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
fn get(s: &Slot, r: usize, h: usize) -> __m512 {
    // SAFETY: the slot's row is 16 aligned f32s (`Slot` is 64-byte aligned
    // and its rows are 64 bytes long).
    unsafe { _mm512_load_ps(s.0[r][h].as_ptr()) }
}

/// Writes `v` at row `r`, vector `h` of a slot.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
fn put(s: &mut Slot, r: usize, h: usize, v: __m512) {
    // SAFETY: as for `get`.
    unsafe { _mm512_store_ps(s.0[r][h].as_mut_ptr(), v) }
}

impl Tile<'_> {
    /// Runs the program on rows `i..i + R` of the piece, the columns from
    /// `j` that `masks` select (16 per mask), `c` holding C's values there
    /// row by row, and stores its outputs.
    ///
    /// # Safety
    ///
    /// Rows `i..i + R` and the masked columns from `j` lie inside the
    /// piece, whose operands and outputs hold them; `R <= TILE_ROWS`; the
    /// processor has AVX-512F.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    #[inline]
    pub(in crate::gemm) unsafe fn apply<const R: usize>(
        &mut self,
        i: usize,
        j: usize,
        masks: [__mmask16; HALVES],
        c: &[[__m512; HALVES]; R],
    ) {
        if let Some(native) = &self.native {
            let at = Places {
                ins: &self.ins,
                outs: &self.outs,
                n_outs: self.outputs.len(),
            };
            // SAFETY: forwarded from the caller.
            return unsafe { native.apply::<R>(&at, i, j, masks, c) };
        }
        for (n, &op) in self.ops.iter().enumerate() {
            let (done, rest) = self.slots.split_at_mut(n);
            let out = &mut rest[0];
            // One op over the tile; `done` holds the earlier ops' values.
            macro_rules! each {
                (|$r:ident, $h:ident| $v:expr) => {
                    for $r in 0..R {
                        for $h in 0..HALVES {
                            put(out, $r, $h, $v);
                        }
                    }
                };
            }
            match op {
                EpOp::C => each!(|r, h| c[r][h]),
                // SAFETY: the caller's promise about rows and columns.
                EpOp::Input(x) => unsafe { input::<R>(out, self.ins[x], i, j, masks) },
                EpOp::Add(a, b) => {
                    each!(|r, h| _mm512_add_ps(get(&done[a], r, h), get(&done[b], r, h)))
                }
                EpOp::Sub(a, b) => {
                    each!(|r, h| _mm512_sub_ps(get(&done[a], r, h), get(&done[b], r, h)))
                }
                EpOp::Mul(a, b) => {
                    each!(|r, h| _mm512_mul_ps(get(&done[a], r, h), get(&done[b], r, h)))
                }
                EpOp::Div(a, b) => {
                    each!(|r, h| _mm512_div_ps(get(&done[a], r, h), get(&done[b], r, h)))
                }
                EpOp::Neg(a) => each!(|r, h| neg(get(&done[a], r, h))),
                EpOp::Relu(a) => each!(|r, h| {
                    let x = get(&done[a], r, h);
                    positive(x, x, _mm512_setzero_ps())
                }),
                EpOp::Step(a) => each!(|r, h| positive(
                    get(&done[a], r, h),
                    _mm512_set1_ps(1.0),
                    _mm512_setzero_ps()
                )),
                EpOp::Tanh(a) => each!(|r, h| tanh(get(&done[a], r, h))),
                EpOp::Sigmoid(a) => each!(|r, h| {
                    let half = _mm512_set1_ps(0.5);
                    let t = tanh(_mm512_mul_ps(get(&done[a], r, h), half));
                    _mm512_fmadd_ps(t, half, half)
                }),
            }
        }
        for (&op, &(p, rs)) in self.outputs.iter().zip(&self.outs) {
            let s = &self.slots[op];
            for r in 0..R {
                let row = p.wrapping_offset((i + r) as isize * rs + j as isize);
                for (h, &mask) in masks.iter().enumerate() {
                    // SAFETY: the masked elements of the row lie in the
                    // output (a masked-off lane is not accessed).
                    unsafe { _mm512_mask_storeu_ps(row.wrapping_add(16 * h), mask, get(s, r, h)) };
                }
            }
        }
    }
}

/// An operand's elements over rows `i..i + R` of a tile, into `out`: 16
/// contiguous elements per vector, or one number repeated (column stride
/// 0). The operand is `(pointer to row 0, row stride, column stride)`.
///
/// # Safety
///
/// As for `Tile::apply`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn input<const R: usize>(
    out: &mut Slot,
    (p, rs, cs): (*const f32, isize, isize),
    i: usize,
    j: usize,
    masks: [__mmask16; HALVES],
) {
    for r in 0..R {
        let row = p.wrapping_offset((i + r) as isize * rs + j as isize * cs);
        if cs == 0 {
            // SAFETY: row i + r's number lies in the operand.
            let v = _mm512_set1_ps(unsafe { *row });
            (0..HALVES).for_each(|h| put(out, r, h, v));
        } else {
            for (h, &mask) in masks.iter().enumerate() {
                // SAFETY: the masked elements lie in the operand.
                let v = unsafe { _mm512_maskz_loadu_ps(mask, row.wrapping_add(16 * h)) };
                put(out, r, h, v);
            }
        }
    }
}

/// `-x`, by flipping the sign bit (as the compiled kernels' `fneg`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
fn neg(x: __m512) -> __m512 {
    let sign = _mm512_set1_epi32(i32::MIN);
    _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(x), sign))
}

/// `0 < x ? then : other`, lane by lane (false for NaN).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
pub(super) fn positive(x: __m512, then: __m512, other: __m512) -> __m512 {
    let m = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(_mm512_setzero_ps(), x);
    _mm512_mask_blend_ps(m, other, then)
}

/// `tanh` by the rational approximation the compiled kernels use (Eigen's
/// 13/6), op for op: clamp to ±7.9053, then `x p(x²) / q(x²)` by Horner
/// steps with fused multiply-adds.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
pub(super) fn tanh(x: __m512) -> __m512 {
    // The compiled kernels' constants, rounded to f32 as they round them.
    const CLAMP: f64 = 7.905_311_107_635_498;
    const ALPHA: [f64; 7] = [
        -2.760_768_477_423_55e-16,
        2.000_187_904_824_77e-13,
        -8.604_671_522_137_35e-11,
        5.122_297_090_371_14e-8,
        1.485_722_357_179_79e-5,
        6.372_619_288_754_36e-4,
        4.893_524_558_917_86e-3,
    ];
    const BETA: [f64; 4] = [
        1.198_258_394_667_02e-6,
        1.185_347_056_866_54e-4,
        2.268_434_632_439e-3,
        4.893_525_185_543_85e-3,
    ];
    let splat = |c: f64| _mm512_set1_ps(c as f32);
    let hi = splat(CLAMP);
    let lo = splat(-CLAMP);
    // x < hi ? x : hi, then lo < x ? x : lo (NaN becomes hi, then hi).
    let x = _mm512_mask_blend_ps(_mm512_cmp_ps_mask::<_CMP_LT_OQ>(x, hi), hi, x);
    let x = _mm512_mask_blend_ps(_mm512_cmp_ps_mask::<_CMP_LT_OQ>(lo, x), lo, x);
    let x2 = _mm512_mul_ps(x, x);
    let mut p = splat(ALPHA[0]);
    for a in &ALPHA[1..] {
        p = _mm512_fmadd_ps(x2, p, splat(*a));
    }
    let p = _mm512_mul_ps(x, p);
    let mut q = splat(BETA[0]);
    for b in &BETA[1..] {
        q = _mm512_fmadd_ps(x2, q, splat(*b));
    }
    _mm512_div_ps(p, q)
}
