//! A packed, cache-blocked f32 product for AVX-512: the large products
//! whose B does not fit in the L2 cache next to A, such as an MLP layer's
//! `[128, 784] × [784, 256]` and its weight gradient
//! `[256, 128] × [128, 784]`.
//!
//! The product is cut into blocks of `KC` rows of B (a depth) and `NC`
//! columns. Each block of B is copied into a per-thread buffer as panels
//! of `NR` columns, row by row, and each block of `MC` rows of A into
//! panels of `MR` rows, column by column (`pack`); packing is also where a
//! transposed operand is transposed. The micro-kernel then holds an
//! `MR × NR` tile of C in sixteen AVX-512 registers while it walks the
//! depth: per step two aligned loads of B's panel and `MR` broadcasts of
//! A's, each feeding two multiply-adds, sixteen independent chains, enough
//! to keep the FMA units busy (a 12-row tile in 24 registers measured the
//! same on W1's products and leaves ragged rows more often). One panel of
//! B (`KC × NR`) stays in the L1 cache while every panel of A's block
//! passes over it; A's block and B's block stay in L2.
//!
//! C is summed over the blocks of the depth in order, one block at a time:
//! the first block applies `beta`, the later ones add to C. An epilogue
//! (`epilogue::Tile`) runs on each tile right after its last block, while
//! the tile is in registers, as in `direct`.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;
#[cfg(target_arch = "x86_64")]
use std::cell::RefCell;

use super::Product;
#[cfg(target_arch = "x86_64")]
use super::epilogue::Tile;

#[cfg(target_arch = "x86_64")]
mod pack;
#[cfg(test)]
mod tests;

/// Rows of C per micro-tile (at most `TILE_ROWS`, the epilogue's).
const MR: usize = 8;

/// Columns of C per micro-tile: two 16-lane registers.
const NR: usize = 32;

/// The deepest block of the depth: a panel of B (`KC × NR`, 24 KiB) fits
/// in a 32 KiB L1 cache with A's panel (6 KiB).
const KC: usize = 192;

/// What the depth's blocks are multiples of (but the last): the packing
/// transposes in 8 × 8 tiles, which then leave no depth step to copy
/// element by element.
const KU: usize = 8;

/// The most columns of B per block: `KC × NC` (768 KiB) stays in a 1 MiB
/// L2 cache; a weight gradient's `n = 784` is one block (two blocks of
/// at most 512 measured 1% slower there).
const NC: usize = 1024;

/// Rows of A per block (`MC × KC`, 108 KiB, in L2).
const MC: usize = 144;

/// Whether `blocked` takes this product: f32 on a processor with
/// AVX-512F, C with contiguous rows, and at least `MIN_WORK`
/// multiply-adds. The caller tries `direct` and `dots` first.
pub(super) fn takes(p: &Product<f32>) -> bool {
    let work = p.m.saturating_mul(p.k).saturating_mul(p.n);
    p.csc == 1 && work >= MIN_WORK && super::avx512()
}

/// The fewest multiply-adds `blocked` takes: below this, packing both
/// operands costs more than it saves against matrixmultiply's.
const MIN_WORK: usize = 1 << 15;

const _: () = assert!(MR <= super::epilogue::TILE_ROWS && MR <= 16);

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

#[cfg(not(target_arch = "x86_64"))]
pub(super) unsafe fn run(_: Product<f32>) {
    unreachable!("`takes` is false off x86-64")
}

#[cfg(not(target_arch = "x86_64"))]
pub(super) unsafe fn run_fused(_: Product<f32>, _: &mut super::epilogue::Tile<'_>) {
    unreachable!("`takes` is false off x86-64")
}

/// A 64-byte line of packed numbers, so that every packed panel starts
/// on a cache line.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Line([f32; 16]);

#[cfg(target_arch = "x86_64")]
thread_local! {
    /// This thread's packed blocks of A and B, kept between calls.
    static BUFFERS: RefCell<(Vec<Line>, Vec<Line>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// `buf` grown to hold at least `floats` numbers, as a pointer to them.
fn room(buf: &mut Vec<Line>, floats: usize) -> *mut f32 {
    let lines = floats.div_ceil(16);
    if buf.len() < lines {
        buf.resize(lines, Line([0.0; 16]));
    }
    buf.as_mut_ptr().cast()
}

/// The nearly equal blocks `from..to` that `total` is cut into when no
/// block may exceed `most` (a multiple of `unit`), each but the last a
/// multiple of `unit`; one empty block when `total` is 0.
fn blocks(total: usize, most: usize, unit: usize) -> impl Iterator<Item = (usize, usize)> {
    let count = total.div_ceil(most).max(1);
    let size = total.div_ceil(count).next_multiple_of(unit).max(unit);
    let count = total.div_ceil(size).max(1);
    (0..count).map(move |b| {
        let from = (b * size).min(total);
        (from, (from + size).min(total))
    })
}

/// The blocked loops: columns of C by `NC`, the depth by `KC`, rows by
/// `MC`, then panels of B and of A.
///
/// # Safety
///
/// As for `run_fused` when `tile` is given, else as for `run`.
#[cfg(target_arch = "x86_64")]
unsafe fn run_with(p: Product<f32>, mut tile: Option<&mut Tile<'_>>) {
    BUFFERS.with_borrow_mut(|(abuf, bbuf)| {
        let depth: Vec<(usize, usize)> = blocks(p.k, KC, KU).collect();
        for (j0, j1) in blocks(p.n, NC, NR) {
            let panels = (j1 - j0).div_ceil(NR);
            for (d, &(l0, l1)) in depth.iter().enumerate() {
                let kc = l1 - l0;
                let b = room(bbuf, panels * kc * NR);
                // SAFETY: the block lies inside B; `b` holds its panels.
                unsafe { pack::b_block(&p, l0, kc, j0, j1, b) };
                let stage = Stage {
                    first: d == 0,
                    last: d + 1 == depth.len(),
                    kc,
                };
                for (i0, i1) in blocks(p.m, MC, MR) {
                    let a = room(abuf, (i1 - i0).next_multiple_of(MR) * kc);
                    // SAFETY: the block lies inside A; `a` holds its panels.
                    unsafe { pack::a_block(&p, i0, i1, l0, kc, a) };
                    let block = Block {
                        i0,
                        i1,
                        j0,
                        j1,
                        a,
                        b,
                    };
                    // SAFETY: forwarded; the packed blocks are the product's.
                    unsafe { tiles(&p, &block, stage, tile.as_deref_mut()) };
                }
            }
        }
    })
}

/// Which block of the depth a pass is: the first applies `beta`, the last
/// runs the epilogue; `kc` is its depth.
#[derive(Clone, Copy)]
struct Stage {
    first: bool,
    last: bool,
    kc: usize,
}

/// Rows `i0..i1` and columns `j0..j1` of C with A's and B's packed blocks.
struct Block {
    i0: usize,
    i1: usize,
    j0: usize,
    j1: usize,
    a: *const f32,
    b: *const f32,
}

/// Every micro-tile of a block: panels of B outside, so that one panel of
/// B stays in L1 while the panels of A pass.
///
/// # Safety
///
/// As for `run_with`; the block's packed A and B are its own.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn tiles(p: &Product<f32>, blk: &Block, stage: Stage, mut tile: Option<&mut Tile<'_>>) {
    let kc = stage.kc;
    let mut j = blk.j0;
    let mut b = blk.b;
    while j < blk.j1 {
        let width = (blk.j1 - j).min(NR);
        let lanes = |skip: usize| -> __mmask16 {
            let w = width.saturating_sub(skip).min(16);
            ((1u32 << w) - 1) as __mmask16
        };
        let masks = [lanes(0), lanes(16)];
        let mut i = blk.i0;
        let mut a = blk.a;
        while i < blk.i1 {
            let rows = (blk.i1 - i).min(MR);
            let at = At { i, j, a, b, masks };
            let t = tile.as_deref_mut();
            // SAFETY: the tile lies inside the block.
            unsafe {
                if width > 16 {
                    rows_of::<2>(rows, p, at, stage, t);
                } else {
                    rows_of::<1>(rows, p, at, stage, t);
                }
            }
            i += rows;
            a = a.wrapping_add(MR * kc);
        }
        j += width;
        b = b.wrapping_add(NR * kc);
    }
}

/// `micro` for a tile of `rows` rows (at most `MR`) and `W` column
/// registers: two for a panel wider than 16 columns, one for a narrower
/// panel (the last of a product whose columns are not a multiple of `NR`,
/// or a narrow product such as a classifier's ten), which then does none
/// of the second register's multiply-adds on zeros.
///
/// # Safety
///
/// As for `micro`; with `W = 1`, the panel's columns past 16 are not in C.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn rows_of<const W: usize>(
    rows: usize,
    p: &Product<f32>,
    at: At,
    stage: Stage,
    t: Option<&mut Tile<'_>>,
) {
    // SAFETY: forwarded from the caller.
    unsafe {
        match rows {
            8 => micro::<8, W>(p, at, stage, t),
            7 => micro::<7, W>(p, at, stage, t),
            6 => micro::<6, W>(p, at, stage, t),
            5 => micro::<5, W>(p, at, stage, t),
            4 => micro::<4, W>(p, at, stage, t),
            3 => micro::<3, W>(p, at, stage, t),
            2 => micro::<2, W>(p, at, stage, t),
            _ => micro::<1, W>(p, at, stage, t),
        }
    }
}

/// Where one micro-tile is: its first row and column of C, its panels of
/// A and B, and the lanes of its two column registers that lie in C.
#[derive(Clone, Copy)]
#[cfg(target_arch = "x86_64")]
struct At {
    i: usize,
    j: usize,
    a: *const f32,
    b: *const f32,
    masks: [__mmask16; 2],
}

/// `R` rows of C from row `at.i`, the masked columns from `at.j` in `W`
/// registers of 16: the depth's block summed in registers, then written
/// (with `beta` on the first block, added to C on the others) and, after
/// the last block, the epilogue.
///
/// # Safety
///
/// As for `tiles`; A's panel holds `R` rows (at a stride of `MR`) and B's
/// `NR` columns (zero past C's), both `kc` deep; with `W = 1`, the second
/// register's mask is empty.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn micro<const R: usize, const W: usize>(
    p: &Product<f32>,
    at: At,
    stage: Stage,
    tile: Option<&mut Tile<'_>>,
) {
    let mut acc = [[_mm512_setzero_ps(); W]; R];
    // SAFETY: the packed panels hold `kc` steps of `MR` and `NR` numbers.
    unsafe {
        let (mut a, mut b) = (at.a, at.b);
        for _ in 0..stage.kc {
            let bs: [__m512; W] = std::array::from_fn(|w| _mm512_load_ps(b.add(16 * w)));
            for (r, row) in acc.iter_mut().enumerate() {
                let x = _mm512_set1_ps(*a.add(r));
                for (s, &bw) in row.iter_mut().zip(&bs) {
                    *s = _mm512_fmadd_ps(x, bw, *s);
                }
            }
            a = a.add(MR);
            b = b.add(NR);
        }
    }
    let alpha = _mm512_set1_ps(p.alpha);
    let beta = _mm512_set1_ps(if stage.first { p.beta } else { 1.0 });
    let reads = !stage.first || p.beta != 0.0;
    // C's last sums are not written when only the epilogue reads them.
    let store = !stage.last || tile.as_ref().is_none_or(|t| t.store_c);
    let mut held = [[_mm512_setzero_ps(); 2]; R];
    for (r, row) in acc.iter().enumerate() {
        for (w, &s) in row.iter().enumerate() {
            // SAFETY: row `at.i + r` and the masked columns lie in C (a
            // masked-off lane is not accessed).
            unsafe {
                let c = p.c.offset((at.i + r) as isize * p.rsc).add(at.j + 16 * w);
                let mut v = _mm512_mul_ps(alpha, s);
                if reads {
                    v = _mm512_fmadd_ps(beta, _mm512_maskz_loadu_ps(at.masks[w], c), v);
                }
                if store {
                    _mm512_mask_storeu_ps(c, at.masks[w], v);
                }
                held[r][w] = v;
            }
        }
    }
    if let (Some(t), true) = (tile, stage.last) {
        // SAFETY: the tile's rows and columns lie in the product.
        unsafe { epilogue(t, at, &held) };
    }
}

/// The epilogue on a tile's rows still held in registers, in pieces of at
/// most `TILE_ROWS` rows (the epilogue's tile; one piece while `MR` is
/// 8).
///
/// # Safety
///
/// As for `Tile::apply`, for rows `at.i..at.i + held.len()`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn epilogue(t: &mut Tile<'_>, at: At, held: &[[__m512; 2]]) {
    use super::epilogue::TILE_ROWS;
    for (n, rows) in held.chunks(TILE_ROWS).enumerate() {
        let i = at.i + n * TILE_ROWS;
        // SAFETY: forwarded from the caller.
        unsafe {
            match rows.len() {
                8 => t.apply::<8>(i, at.j, at.masks, rows.try_into().unwrap_unchecked()),
                7 => t.apply::<7>(i, at.j, at.masks, rows.try_into().unwrap_unchecked()),
                6 => t.apply::<6>(i, at.j, at.masks, rows.try_into().unwrap_unchecked()),
                5 => t.apply::<5>(i, at.j, at.masks, rows.try_into().unwrap_unchecked()),
                4 => t.apply::<4>(i, at.j, at.masks, rows.try_into().unwrap_unchecked()),
                3 => t.apply::<3>(i, at.j, at.masks, rows.try_into().unwrap_unchecked()),
                2 => t.apply::<2>(i, at.j, at.masks, rows.try_into().unwrap_unchecked()),
                _ => t.apply::<1>(i, at.j, at.masks, rows.try_into().unwrap_unchecked()),
            }
        }
    }
}
