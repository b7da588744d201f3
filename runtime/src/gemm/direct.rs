//! An f32 product without packing, for the mid-sized products of a
//! training step whose right operand has contiguous rows: a recurrent
//! cell's `[32, 128] × [128, 128]` per time step, a tree level's product,
//! a set's `[64, 64] × [64, 64]`. matrixmultiply allocates and packs both
//! operands on every call, which is a fifth of such a step; here B's rows
//! are read where they are (a panel of 32 columns stays in the L1 cache
//! while every block of rows passes over it) and A's elements are
//! broadcast from where they are, whatever A's strides.
//!
//! The micro-kernel keeps an `8 × 32` block of C in sixteen AVX-512
//! registers; the last columns of a row are masked, the last rows use a
//! smaller block.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

use super::Product;

/// Columns of C per panel: two 16-lane registers.
const NR: usize = 32;

/// Rows of C per block.
const MR: usize = 8;

/// Whether `direct` takes this product: f32 on a processor with AVX-512F,
/// C with contiguous rows, and B small enough to stay in the L2 cache
/// between the blocks of rows that read it. A B whose rows are not
/// contiguous (a weight gradient's `dY Xᵀ`, contracting two operands along
/// their contiguous axis) is first copied row-major into a per-thread
/// buffer, which is what matrixmultiply's packing would do too.
pub(super) fn takes(p: &Product<f32>) -> bool {
    p.csc == 1 && p.k.saturating_mul(p.n) <= MAX_B && available()
}

/// The largest B (in elements, 256 KiB) `direct` takes.
const MAX_B: usize = 1 << 16;

#[cfg(target_arch = "x86_64")]
fn available() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
}

#[cfg(not(target_arch = "x86_64"))]
fn available() -> bool {
    false
}

/// `C = alpha A B + beta C` for a product `takes` accepted.
///
/// # Safety
///
/// As for `cdl_sgemm`, and `takes(&p)`.
#[cfg(target_arch = "x86_64")]
pub(super) unsafe fn run(p: Product<f32>) {
    if p.csb == 1 {
        // SAFETY: forwarded; `takes` checked the processor.
        return unsafe { panels(p) };
    }
    thread_local! {
        static ROWS: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    ROWS.with_borrow_mut(|rows| {
        rows.clear();
        rows.resize(p.k * p.n, 0.0);
        // Column by column, each read along B's rows' stride.
        for j in 0..p.n {
            // SAFETY: column j of B, rows 0..k, lies inside B.
            let col = unsafe { p.b.offset(j as isize * p.csb) };
            for l in 0..p.k {
                rows[l * p.n + j] = unsafe { *col.offset(l as isize * p.rsb) };
            }
        }
        let p = Product {
            b: rows.as_ptr(),
            rsb: p.n as isize,
            csb: 1,
            ..p
        };
        // SAFETY: B is now the row-major copy; the rest is forwarded.
        unsafe { panels(p) }
    })
}

#[cfg(not(target_arch = "x86_64"))]
pub(super) unsafe fn run(_: Product<f32>) {
    unreachable!("`takes` is false off x86-64")
}

/// Walks C in panels of `NR` columns and, within each, blocks of `MR` rows.
///
/// # Safety
///
/// As for `run`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn panels(p: Product<f32>) {
    let mut j = 0;
    while j < p.n {
        let width = (p.n - j).min(NR);
        // Lanes of the two registers that hold columns of C.
        let lanes = |skip: usize| -> __mmask16 {
            let w = width.saturating_sub(skip).min(16);
            ((1u32 << w) - 1) as __mmask16
        };
        let masks = (lanes(0), lanes(16));
        let mut i = 0;
        while i < p.m {
            let rows = (p.m - i).min(MR);
            // SAFETY: the block lies inside the product's sizes.
            unsafe {
                match rows {
                    8 => block::<8>(&p, i, j, masks),
                    7 => block::<7>(&p, i, j, masks),
                    6 => block::<6>(&p, i, j, masks),
                    5 => block::<5>(&p, i, j, masks),
                    4 => block::<4>(&p, i, j, masks),
                    3 => block::<3>(&p, i, j, masks),
                    2 => block::<2>(&p, i, j, masks),
                    _ => block::<1>(&p, i, j, masks),
                }
            }
            i += rows;
        }
        j += width;
    }
}

/// `R` rows of C from row `i`, the (up to) 32 columns from `j` the masks
/// select.
///
/// # Safety
///
/// As for `run`; rows `i..i + R` and the masked columns from `j` lie inside
/// C.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn block<const R: usize>(
    p: &Product<f32>,
    i: usize,
    j: usize,
    masks: (__mmask16, __mmask16),
) {
    let (m0, m1) = masks;
    let mut acc0 = [_mm512_setzero_ps(); R];
    let mut acc1 = [_mm512_setzero_ps(); R];
    // SAFETY: every address is an element of A (rows i..i+R, columns
    // 0..k), of B (rows 0..k, the masked columns from j) or of C; the masks
    // keep loads and stores of B and C inside their rows.
    unsafe {
        let a = p.a.offset(i as isize * p.rsa);
        let mut b = p.b.add(j);
        for l in 0..p.k as isize {
            let b0 = _mm512_maskz_loadu_ps(m0, b);
            let b1 = _mm512_maskz_loadu_ps(m1, b.add(16));
            for r in 0..R {
                let x = _mm512_set1_ps(*a.offset(r as isize * p.rsa + l * p.csa));
                acc0[r] = _mm512_fmadd_ps(x, b0, acc0[r]);
                acc1[r] = _mm512_fmadd_ps(x, b1, acc1[r]);
            }
            b = b.offset(p.rsb);
        }
        let alpha = _mm512_set1_ps(p.alpha);
        let beta = _mm512_set1_ps(p.beta);
        for r in 0..R {
            let c = p.c.offset((i + r) as isize * p.rsc).add(j);
            let mut v0 = _mm512_mul_ps(alpha, acc0[r]);
            let mut v1 = _mm512_mul_ps(alpha, acc1[r]);
            if p.beta != 0.0 {
                v0 = _mm512_fmadd_ps(beta, _mm512_maskz_loadu_ps(m0, c), v0);
                v1 = _mm512_fmadd_ps(beta, _mm512_maskz_loadu_ps(m1, c.add(16)), v1);
            }
            _mm512_mask_storeu_ps(c, m0, v0);
            _mm512_mask_storeu_ps(c.add(16), m1, v1);
        }
    }
}
