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
#[cfg(target_arch = "x86_64")]
use super::epilogue::Tile;

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
///
/// A product of at most `MR` rows with B's rows contiguous is taken
/// whatever B's size: its one block of rows streams B once, where packing
/// would copy all of B first and then read the copy (a gathered product's
/// `[8, 288] × [288, 1024]` per example, a few channels against many
/// gathered points).
pub(super) fn takes(p: &Product<f32>) -> bool {
    let fits = p.k.saturating_mul(p.n) <= MAX_B;
    let one_block = p.m <= MR && p.csb == 1;
    p.csc == 1 && (fits || one_block) && super::avx512()
}

/// The largest B (in elements, 256 KiB) `direct` takes.
const MAX_B: usize = 1 << 16;

/// `C = alpha A B + beta C` for a product `takes` accepted.
///
/// # Safety
///
/// As for `cdl_sgemm_batch`, and `takes(&p)`.
#[cfg(target_arch = "x86_64")]
pub(super) unsafe fn run(p: Product<f32>) {
    // SAFETY: forwarded from the caller.
    unsafe { run_with(p, None) }
}

/// `C = A B` for a product `takes` accepted, with `tile`'s epilogue applied
/// to every tile of C while it is in registers.
///
/// # Safety
///
/// As for `run`, with `alpha = 1` and `beta = 0`; `tile`'s operands and
/// outputs hold every row and column of the product.
#[cfg(target_arch = "x86_64")]
pub(super) unsafe fn run_fused(p: Product<f32>, tile: &mut Tile<'_>) {
    // SAFETY: forwarded from the caller.
    unsafe { run_with(p, Some(tile)) }
}

/// `run`, with an epilogue or without.
///
/// # Safety
///
/// As for `run_fused`.
#[cfg(target_arch = "x86_64")]
unsafe fn run_with(p: Product<f32>, tile: Option<&mut Tile<'_>>) {
    if p.csb == 1 {
        // SAFETY: forwarded; `takes` checked the processor.
        return unsafe { panels(p, tile) };
    }
    thread_local! {
        static ROWS: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    ROWS.with_borrow_mut(|rows| {
        // `copy_rows` writes every element, so what the buffer held is not
        // cleared first.
        rows.resize(p.k * p.n, 0.0);
        // SAFETY: B's elements lie where its strides say; `rows` is k x n.
        unsafe { copy_rows(&p, rows) };
        let p = Product {
            b: rows.as_ptr(),
            rsb: p.n as isize,
            csb: 1,
            ..p
        };
        // SAFETY: B is now the row-major copy; the rest is forwarded.
        unsafe { panels(p, tile) }
    })
}

#[cfg(not(target_arch = "x86_64"))]
pub(super) unsafe fn run(_: Product<f32>) {
    unreachable!("`takes` is false off x86-64")
}

#[cfg(not(target_arch = "x86_64"))]
pub(super) unsafe fn run_fused(_: Product<f32>, _: &mut super::epilogue::Tile<'_>) {
    unreachable!("`takes` is false off x86-64")
}

/// Walks C in panels of `NR` columns and, within each, blocks of `MR` rows.
///
/// # Safety
///
/// As for `run`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn panels(p: Product<f32>, mut tile: Option<&mut Tile<'_>>) {
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
            let t = tile.as_deref_mut();
            // SAFETY: the block lies inside the product's sizes.
            unsafe {
                if width > 16 {
                    rows_of::<2>(rows, &p, i, j, masks, t);
                } else {
                    rows_of::<1>(rows, &p, i, j, masks, t);
                }
            }
            i += rows;
        }
        j += width;
    }
}

/// `block` for `rows` rows (at most `MR`) and `W` column registers: two
/// for a panel wider than 16 columns, one for a narrower panel (a
/// classifier's ten columns, the last of a product whose columns are not
/// a multiple of `NR`), which then does none of the second register's
/// multiply-adds on zeros.
///
/// # Safety
///
/// As for `block`; with `W = 1`, the second register's mask is empty.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn rows_of<const W: usize>(
    rows: usize,
    p: &Product<f32>,
    i: usize,
    j: usize,
    masks: (__mmask16, __mmask16),
    t: Option<&mut Tile<'_>>,
) {
    // SAFETY: forwarded from the caller.
    unsafe {
        match rows {
            8 => block::<8, W>(p, i, j, masks, t),
            7 => block::<7, W>(p, i, j, masks, t),
            6 => block::<6, W>(p, i, j, masks, t),
            5 => block::<5, W>(p, i, j, masks, t),
            4 => block::<4, W>(p, i, j, masks, t),
            3 => block::<3, W>(p, i, j, masks, t),
            2 => block::<2, W>(p, i, j, masks, t),
            _ => block::<1, W>(p, i, j, masks, t),
        }
    }
}

/// `R` rows of C from row `i`, the (up to) 32 columns from `j` the masks
/// select, in `W` registers of 16 columns.
///
/// # Safety
///
/// As for `run`; rows `i..i + R` and the masked columns from `j` lie inside
/// C; with `W = 1`, the second register's mask is empty.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn block<const R: usize, const W: usize>(
    p: &Product<f32>,
    i: usize,
    j: usize,
    masks: (__mmask16, __mmask16),
    tile: Option<&mut Tile<'_>>,
) {
    let (m0, m1) = masks;
    let lanes = [m0, m1];
    let mut acc = [[_mm512_setzero_ps(); W]; R];
    // SAFETY: every address read or written is an element of A (rows
    // i..i+R, columns 0..k), of B (rows 0..k, the masked columns from j) or
    // of C; the masks keep loads and stores of B and C inside their rows
    // (a masked-off lane is not accessed). Addresses that may lie past an
    // operand (one row past B's last, the second register's columns of a
    // narrow panel, anything when k = 0) are only formed, with wrapping
    // arithmetic.
    unsafe {
        let a = p.a.wrapping_offset(i as isize * p.rsa);
        let mut b = p.b.wrapping_add(j);
        for l in 0..p.k as isize {
            let bs: [__m512; W] =
                std::array::from_fn(|w| _mm512_maskz_loadu_ps(lanes[w], b.wrapping_add(16 * w)));
            for (r, row) in acc.iter_mut().enumerate() {
                let x = _mm512_set1_ps(*a.offset(r as isize * p.rsa + l * p.csa));
                for (s, &bw) in row.iter_mut().zip(&bs) {
                    *s = _mm512_fmadd_ps(x, bw, *s);
                }
            }
            b = b.wrapping_offset(p.rsb);
        }
        let alpha = _mm512_set1_ps(p.alpha);
        let beta = _mm512_set1_ps(p.beta);
        // C is not written when only the epilogue reads it.
        let store = tile.as_ref().is_none_or(|t| t.store_c);
        let mut held = [[_mm512_setzero_ps(); 2]; R];
        for (r, row) in acc.iter().enumerate() {
            for (w, &s) in row.iter().enumerate() {
                let c = p.c.offset((i + r) as isize * p.rsc).add(j + 16 * w);
                let mut v = _mm512_mul_ps(alpha, s);
                if p.beta != 0.0 {
                    v = _mm512_fmadd_ps(beta, _mm512_maskz_loadu_ps(lanes[w], c), v);
                }
                if store {
                    _mm512_mask_storeu_ps(c, lanes[w], v);
                }
                held[r][w] = v;
            }
        }
        if let Some(t) = tile {
            // The epilogue on the tile's registers, still held.
            t.apply::<R>(i, j, [m0, m1], &held);
        }
    }
}

/// Copies B into `rows`, row-major `k x n`. A column-major B (a transposed
/// row-major matrix) goes in 8 x 8 tiles, each read as eight contiguous
/// columns and written as eight contiguous rows; the rest element by
/// element.
///
/// # Safety
///
/// Every element of B lies where its strides say; `rows.len() == k * n`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn copy_rows(p: &Product<f32>, rows: &mut [f32]) {
    let (k, n) = (p.k, p.n);
    let at = |l: usize, j: usize| l as isize * p.rsb + j as isize * p.csb;
    let (mut tiled_k, mut tiled_n) = (0, 0);
    if p.rsb == 1 {
        (tiled_k, tiled_n) = (k - k % 8, n - n % 8);
        for j in (0..tiled_n).step_by(8) {
            for l in (0..tiled_k).step_by(8) {
                // SAFETY: the tile's eight columns of eight rows lie in B, its
                // eight rows of eight columns in `rows`.
                unsafe {
                    let col = |c: usize| _mm256_loadu_ps(p.b.offset(at(l, j + c)));
                    let t = transpose8([
                        col(0),
                        col(1),
                        col(2),
                        col(3),
                        col(4),
                        col(5),
                        col(6),
                        col(7),
                    ]);
                    for (r, v) in t.into_iter().enumerate() {
                        _mm256_storeu_ps(rows.as_mut_ptr().add((l + r) * n + j), v);
                    }
                }
            }
        }
    }
    // What the tiles left: the last rows of the tiled columns, then the last
    // columns.
    for j in 0..n {
        let from = if j < tiled_n { tiled_k } else { 0 };
        for l in from..k {
            // SAFETY: (l, j) is an element of B.
            rows[l * n + j] = unsafe { *p.b.offset(at(l, j)) };
        }
    }
}

/// The transpose of an 8 x 8 block held as eight rows.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
pub(super) fn transpose8(r: [__m256; 8]) -> [__m256; 8] {
    // Pairs of rows interleaved, then pairs of pairs, then the halves.
    let lo = |a, b| _mm256_unpacklo_ps(a, b);
    let hi = |a, b| _mm256_unpackhi_ps(a, b);
    let t = [
        lo(r[0], r[1]),
        hi(r[0], r[1]),
        lo(r[2], r[3]),
        hi(r[2], r[3]),
        lo(r[4], r[5]),
        hi(r[4], r[5]),
        lo(r[6], r[7]),
        hi(r[6], r[7]),
    ];
    let u = [
        _mm256_shuffle_ps::<0x44>(t[0], t[2]),
        _mm256_shuffle_ps::<0xEE>(t[0], t[2]),
        _mm256_shuffle_ps::<0x44>(t[1], t[3]),
        _mm256_shuffle_ps::<0xEE>(t[1], t[3]),
        _mm256_shuffle_ps::<0x44>(t[4], t[6]),
        _mm256_shuffle_ps::<0xEE>(t[4], t[6]),
        _mm256_shuffle_ps::<0x44>(t[5], t[7]),
        _mm256_shuffle_ps::<0xEE>(t[5], t[7]),
    ];
    [
        _mm256_permute2f128_ps::<0x20>(u[0], u[4]),
        _mm256_permute2f128_ps::<0x20>(u[1], u[5]),
        _mm256_permute2f128_ps::<0x20>(u[2], u[6]),
        _mm256_permute2f128_ps::<0x20>(u[3], u[7]),
        _mm256_permute2f128_ps::<0x31>(u[0], u[4]),
        _mm256_permute2f128_ps::<0x31>(u[1], u[5]),
        _mm256_permute2f128_ps::<0x31>(u[2], u[6]),
        _mm256_permute2f128_ps::<0x31>(u[3], u[7]),
    ]
}
