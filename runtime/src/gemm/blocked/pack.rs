//! Packing for `blocked`: a block of A into panels of `MR` rows stored
//! depth step by depth step (`MR` numbers per step), a block of B into
//! panels of `NR` columns stored row by row (`NR` numbers per row, zeros
//! past C's last column).
//!
//! An operand stored the other way round (a row-major A, whose panel
//! reads `MR` rows across; a column-major B, the transposed weights of a
//! layer's forward product) is transposed here, in 8 × 8 tiles read as
//! eight contiguous runs and written as eight contiguous runs; an operand
//! with neither stride 1 is copied element by element.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

use super::{MR, NR};
use crate::gemm::Product;
#[cfg(target_arch = "x86_64")]
use crate::gemm::direct::transpose8;

/// Packs rows `i0..i1` of A, depth `l0..l0 + kc`, into `out`: panel `q`
/// (rows `i0 + q MR ..`) at `q MR kc`, its row `r` at depth step `l` at
/// `l MR + r`. Rows past `i1` in the last panel are left as they were.
///
/// # Safety
///
/// The block lies inside A; `out` holds `(i1 - i0)` rounded up to `MR`
/// times `kc` numbers.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2")]
pub(super) unsafe fn a_block(
    p: &Product<f32>,
    i0: usize,
    i1: usize,
    l0: usize,
    kc: usize,
    out: *mut f32,
) {
    let mut i = i0;
    let mut panel = out;
    while i < i1 {
        let rows = (i1 - i).min(MR);
        let from =
            p.a.wrapping_offset(i as isize * p.rsa + l0 as isize * p.csa);
        // SAFETY: the panel's rows and depth lie in A and in `out`.
        unsafe {
            if p.rsa == 1 {
                a_columns(from, p.csa, rows, kc, panel);
            } else if p.csa == 1 {
                a_rows(from, p.rsa, rows, kc, panel);
            } else {
                a_any(from, (p.rsa, p.csa), rows, 0, kc, panel);
            }
        }
        i += rows;
        panel = panel.wrapping_add(MR * kc);
    }
}

/// One panel of a column-major A: each depth step's `rows` numbers are
/// contiguous in A.
///
/// # Safety
///
/// `rows <= MR`; `kc` columns of `rows` numbers from `from`, `csa` apart,
/// lie in A; the panel lies in the output.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn a_columns(from: *const f32, csa: isize, rows: usize, kc: usize, panel: *mut f32) {
    let mask = ((1u32 << rows) - 1) as __mmask16;
    for l in 0..kc {
        // SAFETY: the masked lanes are the column's `rows` numbers and the
        // panel's first `rows` numbers of step `l` (`MR < 16`).
        unsafe {
            let v = _mm512_maskz_loadu_ps(mask, from.wrapping_offset(l as isize * csa));
            _mm512_mask_storeu_ps(panel.add(l * MR), mask, v);
        }
    }
}

/// One panel of a row-major A, transposed: groups of eight rows in 8 × 8
/// tiles, the rest element by element.
///
/// # Safety
///
/// As for `a_columns`, with rows `rsa` apart and each row's `kc` numbers
/// contiguous.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2")]
unsafe fn a_rows(from: *const f32, rsa: isize, rows: usize, kc: usize, panel: *mut f32) {
    let (tiled_rows, tiled_kc) = (rows - rows % 8, kc - kc % 8);
    for r in (0..tiled_rows).step_by(8) {
        for l in (0..tiled_kc).step_by(8) {
            // SAFETY: the tile's eight rows of eight numbers lie in A, its
            // eight steps of eight numbers in the panel.
            unsafe {
                let row = |x: usize| _mm256_loadu_ps(from.offset((r + x) as isize * rsa).add(l));
                let t = transpose8([
                    row(0),
                    row(1),
                    row(2),
                    row(3),
                    row(4),
                    row(5),
                    row(6),
                    row(7),
                ]);
                for (s, v) in t.into_iter().enumerate() {
                    _mm256_storeu_ps(panel.add((l + s) * MR + r), v);
                }
            }
        }
        // SAFETY: the depth the tiles left, for these rows.
        unsafe {
            a_any(
                from.offset(r as isize * rsa),
                (rsa, 1),
                8,
                tiled_kc,
                kc,
                panel.add(r),
            )
        };
    }
    let left = rows - tiled_rows;
    // SAFETY: the rows the tiles left, over the whole depth.
    unsafe {
        let at = from.wrapping_offset(tiled_rows as isize * rsa);
        a_any(at, (rsa, 1), left, 0, kc, panel.add(tiled_rows));
    }
}

/// `rows` rows of A from `from` (strides `(rsa, csa)`), depth steps
/// `l_from..kc`, into a panel whose step `l` starts at `panel + l MR`.
///
/// # Safety
///
/// Those elements lie in A and the panel's.
unsafe fn a_any(
    from: *const f32,
    (rsa, csa): (isize, isize),
    rows: usize,
    l_from: usize,
    kc: usize,
    panel: *mut f32,
) {
    for l in l_from..kc {
        for r in 0..rows {
            // SAFETY: the caller's promise.
            unsafe { *panel.add(l * MR + r) = *from.offset(r as isize * rsa + l as isize * csa) };
        }
    }
}

/// Packs depth `l0..l0 + kc` of B, columns `j0..j1`, into `out`: panel
/// `q` (columns `j0 + q NR ..`) at `q NR kc`, its depth step `l` at
/// `l NR`, zeros past `j1`.
///
/// # Safety
///
/// The block lies inside B; `out` holds `(j1 - j0)` rounded up to `NR`
/// times `kc` numbers.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2")]
pub(super) unsafe fn b_block(
    p: &Product<f32>,
    l0: usize,
    kc: usize,
    j0: usize,
    j1: usize,
    out: *mut f32,
) {
    let mut j = j0;
    let mut panel = out;
    while j < j1 {
        let width = (j1 - j).min(NR);
        let from =
            p.b.wrapping_offset(l0 as isize * p.rsb + j as isize * p.csb);
        // SAFETY: the panel's depth and columns lie in B and in `out`.
        unsafe {
            if p.csb == 1 {
                b_rows(from, p.rsb, width, kc, panel);
            } else {
                if width < NR {
                    clear(panel, kc);
                }
                if p.rsb == 1 {
                    b_columns(from, p.csb, width, kc, panel);
                } else {
                    b_any(from, (p.rsb, p.csb), (0, width), (0, kc), panel);
                }
            }
        }
        j += width;
        panel = panel.wrapping_add(NR * kc);
    }
}

/// One panel of a row-major B: each depth step's `width` numbers are
/// contiguous in B; the rest of the panel's row is zeroed.
///
/// # Safety
///
/// `width <= NR`; `kc` rows of `width` numbers from `from`, `rsb` apart,
/// lie in B; the panel lies in the output.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn b_rows(from: *const f32, rsb: isize, width: usize, kc: usize, panel: *mut f32) {
    let lanes = |skip: usize| ((1u32 << width.saturating_sub(skip).min(16)) - 1) as __mmask16;
    let (m0, m1) = (lanes(0), lanes(16));
    for l in 0..kc {
        // SAFETY: the masked lanes lie in B's row (a masked-off lane is
        // not read); the panel's row holds `NR` numbers.
        unsafe {
            let row = from.wrapping_offset(l as isize * rsb);
            let v0 = _mm512_maskz_loadu_ps(m0, row);
            let v1 = _mm512_maskz_loadu_ps(m1, row.wrapping_add(16));
            _mm512_store_ps(panel.add(l * NR), v0);
            _mm512_store_ps(panel.add(l * NR + 16), v1);
        }
    }
}

/// One panel of a column-major B, transposed: groups of eight columns in
/// 8 × 8 tiles, the rest element by element.
///
/// # Safety
///
/// As for `b_rows`, with columns `csb` apart and each column's `kc`
/// numbers contiguous.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn b_columns(from: *const f32, csb: isize, width: usize, kc: usize, panel: *mut f32) {
    let (tiled_width, tiled_kc) = (width - width % 8, kc - kc % 8);
    for c in (0..tiled_width).step_by(8) {
        for l in (0..tiled_kc).step_by(8) {
            // SAFETY: the tile's eight columns of eight numbers lie in B,
            // its eight rows of eight numbers in the panel.
            unsafe {
                let col = |x: usize| _mm256_loadu_ps(from.offset((c + x) as isize * csb).add(l));
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
                for (s, v) in t.into_iter().enumerate() {
                    _mm256_storeu_ps(panel.add((l + s) * NR + c), v);
                }
            }
        }
    }
    // SAFETY: the depth the tiles left, then the columns they left.
    unsafe {
        b_any(from, (1, csb), (0, tiled_width), (tiled_kc, kc), panel);
        b_any(from, (1, csb), (tiled_width, width), (0, kc), panel);
    }
}

/// Columns `c0..c1` of B from `from` (strides `(rsb, csb)`), depth steps
/// `l0..l1`, into a panel whose step `l` starts at `panel + l NR`.
///
/// # Safety
///
/// Those elements lie in B and in the panel.
unsafe fn b_any(
    from: *const f32,
    (rsb, csb): (isize, isize),
    (c0, c1): (usize, usize),
    (l0, l1): (usize, usize),
    panel: *mut f32,
) {
    for l in l0..l1 {
        for c in c0..c1 {
            // SAFETY: the caller's promise.
            unsafe { *panel.add(l * NR + c) = *from.offset(l as isize * rsb + c as isize * csb) };
        }
    }
}

/// Zeroes a panel's `kc` rows of `NR` numbers.
///
/// # Safety
///
/// The panel lies in the output.
unsafe fn clear(panel: *mut f32, kc: usize) {
    // SAFETY: the caller's promise.
    unsafe { std::ptr::write_bytes(panel, 0, kc * NR) };
}
