//! An f32 product of a few rows whose right operand is transposed, as dot
//! products of contiguous rows, without packing.
//!
//! A weight gradient `dY Zᵀ` contracts two row-major operands along their
//! contiguous axis: `C[i, j] = Σ_l A[i, l] Z[j, l]`, with `B = Zᵀ` read
//! through a column stride. When A has at most `MR` rows, each column of C
//! is `MR` dot products of A's rows (which stay in the L1 cache) with one
//! row of `Z`, read once from wherever it is. Packing would copy all of
//! `Z` first and then read the copy: a gathered convolution's weight
//! gradient (`[8, 1024] × [1024, 288]` per example: eight output channels
//! against 288 gathered rows of 1024 points) spent most of its time there.
//!
//! Two columns of C are computed together, so that every load of A feeds
//! two fused multiply-adds; each of the `2·MR` sums is kept in a 16-lane
//! register and reduced across its lanes at the end, the last lanes of a
//! row masked.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

use super::Product;

/// The most rows of C `dots` takes.
const MR: usize = 8;

/// The shortest contraction `dots` takes: below it a column's dot products
/// are mostly the reduction across lanes, and packing costs little.
const MIN_K: usize = 64;

/// Whether `dots` takes this product: f32 on a processor with AVX-512F, at
/// most `MR` rows, A's rows and B's columns contiguous (B a transposed
/// row-major matrix), and a contraction of at least `MIN_K`.
pub(super) fn takes(p: &Product<f32>) -> bool {
    p.m <= MR && p.csa == 1 && p.rsb == 1 && p.k >= MIN_K && super::avx512()
}

/// Whether `dots` might take a product of `m` rows, whatever its strides.
pub(super) fn may_take(m: usize) -> bool {
    m <= MR
}

/// `C = alpha A B + beta C` for a product `takes` accepted.
///
/// # Safety
///
/// As for `cdl_sgemm_batch`, and `takes(&p)`.
#[cfg(target_arch = "x86_64")]
pub(super) unsafe fn run(p: Product<f32>) {
    // SAFETY: forwarded; `takes` checked the processor.
    unsafe {
        match p.m {
            8 => columns::<8>(&p),
            7 => columns::<7>(&p),
            6 => columns::<6>(&p),
            5 => columns::<5>(&p),
            4 => columns::<4>(&p),
            3 => columns::<3>(&p),
            2 => columns::<2>(&p),
            1 => columns::<1>(&p),
            _ => {}
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
pub(super) unsafe fn run(_: Product<f32>) {
    unreachable!("`takes` is false off x86-64")
}

/// Every column of C, two at a time, then the last one alone.
///
/// # Safety
///
/// As for `run`; `R == p.m`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn columns<const R: usize>(p: &Product<f32>) {
    let mut j = 0;
    while j + 2 <= p.n {
        // SAFETY: columns j and j + 1 lie in B and C.
        unsafe { pair::<R, 2>(p, j) };
        j += 2;
    }
    if j < p.n {
        // SAFETY: column j lies in B and C.
        unsafe { pair::<R, 1>(p, j) };
    }
}

/// Columns `j..j + W` of C (`W` of 1 or 2), all `R` rows.
///
/// # Safety
///
/// As for `run`; the columns lie inside B and C.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn pair<const R: usize, const W: usize>(p: &Product<f32>, j: usize) {
    let mut acc = [[_mm512_setzero_ps(); W]; R];
    // SAFETY: every address read is an element of A (rows 0..R, columns
    // 0..k, contiguous) or of B (columns j..j+W, rows 0..k, contiguous);
    // the mask keeps the last loads inside their rows and columns (a
    // masked-off lane is not accessed).
    unsafe {
        let column = |w: usize| p.b.offset((j + w) as isize * p.csb);
        let row = |r: usize| p.a.offset(r as isize * p.rsa);
        let mut l = 0;
        while l < p.k {
            let mask = if p.k - l >= 16 {
                0xFFFF
            } else {
                ((1u32 << (p.k - l)) - 1) as __mmask16
            };
            let mut b = [_mm512_setzero_ps(); W];
            for (w, b) in b.iter_mut().enumerate() {
                *b = _mm512_maskz_loadu_ps(mask, column(w).add(l));
            }
            for (r, acc) in acc.iter_mut().enumerate() {
                let a = _mm512_maskz_loadu_ps(mask, row(r).add(l));
                for (acc, &b) in acc.iter_mut().zip(&b) {
                    *acc = _mm512_fmadd_ps(a, b, *acc);
                }
            }
            l += 16;
        }
        for (r, acc) in acc.iter().enumerate() {
            for (w, &acc) in acc.iter().enumerate() {
                let c = p.c.offset(r as isize * p.rsc + (j + w) as isize * p.csc);
                let sum = p.alpha * _mm512_reduce_add_ps(acc);
                *c = if p.beta == 0.0 {
                    sum
                } else {
                    sum + p.beta * *c
                };
            }
        }
    }
}
