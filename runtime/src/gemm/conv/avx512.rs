//! The blocked convolutions (`conv::blocked`) in f32 with AVX-512: a
//! block of up to `ROWS` output channels × two strips of 16 points in
//! sixteen registers.
//!
//! Each accumulator adds its terms in the order `blocked`'s loops over
//! arrays of lanes do, with the same fused multiply-adds, so the two agree
//! to the bit.

use std::arch::x86_64::*;
use std::ops::Range;

use super::blocked::{Bank, ROWS};
use super::strips::{LANES, Piece, Strips};

/// `blocked::forward` for f32.
///
/// # Safety
///
/// The processor has AVX-512F; `w` holds every weight of `st`'s shape,
/// `x` `[c, N]` and `y` `[d, M]` numbers.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn forward(st: &Strips<f32>, w: Bank<'_, f32>, x: &[f32], y: &mut [f32]) {
    let s = &st.shape;
    let mut p0 = 0;
    while p0 < s.out_channels {
        let rows = (s.out_channels - p0).min(ROWS);
        for j in (0..st.count()).step_by(2) {
            // SAFETY: forwarded; the block's channels and strips lie in the
            // shape.
            unsafe {
                match rows {
                    8 => forward_block::<8>(st, &w, x, y, p0, j),
                    7 => forward_block::<7>(st, &w, x, y, p0, j),
                    6 => forward_block::<6>(st, &w, x, y, p0, j),
                    5 => forward_block::<5>(st, &w, x, y, p0, j),
                    4 => forward_block::<4>(st, &w, x, y, p0, j),
                    3 => forward_block::<3>(st, &w, x, y, p0, j),
                    2 => forward_block::<2>(st, &w, x, y, p0, j),
                    _ => forward_block::<1>(st, &w, x, y, p0, j),
                }
            }
        }
        p0 += rows;
    }
}

/// Output channels `p0..p0 + R` over strips `j` and `j + 1` (or `j` alone,
/// the last).
///
/// # Safety
///
/// As for `forward`; `p0 + R ≤ d`, `j` a strip.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn forward_block<const R: usize>(
    st: &Strips<f32>,
    w: &Bank<'_, f32>,
    x: &[f32],
    y: &mut [f32],
    p0: usize,
    j: usize,
) {
    let s = &st.shape;
    let (n, m) = (s.in_points, s.out_points);
    let two = j + 1 < st.count();
    let j1 = if two { j + 1 } else { j };
    let mut acc0 = [_mm512_setzero_ps(); R];
    let mut acc1 = [_mm512_setzero_ps(); R];
    // SAFETY: the weights read are W[p0 + r, q, e] inside the bank; the
    // pieces' lanes read input points inside channel q's row of `x`
    // (`Strips::new` checked every run against the shape); masked-off
    // lanes are not accessed, their addresses only formed.
    unsafe {
        for q in 0..s.in_channels {
            let xq = x.as_ptr().add(q * n);
            for e in 0..s.taps {
                let v0 = tap(st.pieces(j, e), j * LANES, xq, st.unit);
                let v1 = tap(st.pieces(j1, e), j1 * LANES, xq, st.unit);
                let wq = w.data.as_ptr().add(p0 * w.sp + q * w.sq + e * w.se);
                for r in 0..R {
                    let b = _mm512_set1_ps(*wq.add(r * w.sp));
                    acc0[r] = _mm512_fmadd_ps(b, v0, acc0[r]);
                    acc1[r] = _mm512_fmadd_ps(b, v1, acc1[r]);
                }
            }
        }
        for r in 0..R {
            let row = y.as_mut_ptr().add((p0 + r) * m);
            _mm512_mask_storeu_ps(row.add(j * LANES), st.lanes(j), acc0[r]);
            if two {
                _mm512_mask_storeu_ps(row.add(j1 * LANES), st.lanes(j1), acc1[r]);
            }
        }
    }
}

/// Examples a weight-gradient block runs over before its sums go back to
/// memory: their inputs and cotangents (W8's second layer: 8 × 32 KiB)
/// stay in the second-level cache while every block passes over them.
const ROW_CHUNK: usize = 8;

/// `blocked::weight_grad`'s lane sums for f32: `acc` holds `LANES` partial
/// sums per weight of the channels `channels`.
///
/// # Safety
///
/// The processor has AVX-512F; `xs` holds `rows` examples of `[c, N]`,
/// `dys` of `[d, M]`; `channels` lie in `d`; `acc` holds
/// `channels.len() · cK · LANES` numbers.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn weight_grad(
    st: &Strips<f32>,
    xs: &[f32],
    dys: &[f32],
    rows: usize,
    channels: Range<usize>,
    acc: &mut [f32],
) {
    let s = &st.shape;
    let cols = s.in_channels * s.taps;
    for first in (0..rows).step_by(ROW_CHUNK) {
        let chunk = first..(first + ROW_CHUNK).min(rows);
        let mut p0 = channels.start;
        while p0 < channels.end {
            let r = (channels.end - p0).min(ROWS);
            let at = p0 - channels.start;
            for col in (0..cols).step_by(2) {
                // SAFETY: forwarded; the block lies in the channels and
                // columns.
                unsafe {
                    match r {
                        8 => weight_block::<8>(st, xs, dys, &chunk, [p0, at, col], acc),
                        7 => weight_block::<7>(st, xs, dys, &chunk, [p0, at, col], acc),
                        6 => weight_block::<6>(st, xs, dys, &chunk, [p0, at, col], acc),
                        5 => weight_block::<5>(st, xs, dys, &chunk, [p0, at, col], acc),
                        4 => weight_block::<4>(st, xs, dys, &chunk, [p0, at, col], acc),
                        3 => weight_block::<3>(st, xs, dys, &chunk, [p0, at, col], acc),
                        2 => weight_block::<2>(st, xs, dys, &chunk, [p0, at, col], acc),
                        _ => weight_block::<1>(st, xs, dys, &chunk, [p0, at, col], acc),
                    }
                }
            }
            p0 += r;
        }
    }
}

/// The lane sums of output channels `p0..p0 + R` (at `at..at + R` in
/// `acc`) against columns `col` and `col + 1` (or `col` alone, the last),
/// over every strip of one example.
///
/// # Safety
///
/// As for `weight_grad`.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn weight_block<const R: usize>(
    st: &Strips<f32>,
    xs: &[f32],
    dys: &[f32],
    chunk: &Range<usize>,
    [p0, at, col]: [usize; 3],
    acc: &mut [f32],
) {
    let s = &st.shape;
    let (n, m, k) = (s.in_points, s.out_points, s.taps);
    let cols = s.in_channels * k;
    let two = col + 1 < cols;
    let col1 = if two { col + 1 } else { col };
    let (q0, e0, q1, e1) = (col / k, col % k, col1 / k, col1 % k);
    let sums = |r: usize, c: usize| ((at + r) * cols + c) * LANES;
    // SAFETY: the sums lie in `acc`, the rows of `dy` read are output
    // channels p0 + r, the pieces read inside input channels q0 and q1
    // (as in `forward_block`); masked-off lanes are not accessed.
    unsafe {
        let ap = acc.as_mut_ptr();
        let mut acc0 = [_mm512_setzero_ps(); R];
        let mut acc1 = [_mm512_setzero_ps(); R];
        for r in 0..R {
            acc0[r] = _mm512_loadu_ps(ap.add(sums(r, col)));
            acc1[r] = _mm512_loadu_ps(ap.add(sums(r, col1)));
        }
        for row in chunk.clone() {
            let x = xs.as_ptr().add(row * s.in_channels * n);
            let dy = dys.as_ptr().add(row * s.out_channels * m);
            let (x0, x1) = (x.add(q0 * n), x.add(q1 * n));
            for j in 0..st.count() {
                let v0 = tap(st.pieces(j, e0), j * LANES, x0, st.unit);
                let v1 = tap(st.pieces(j, e1), j * LANES, x1, st.unit);
                let lanes = st.lanes(j);
                for r in 0..R {
                    let d = _mm512_maskz_loadu_ps(lanes, dy.add((p0 + r) * m + j * LANES));
                    acc0[r] = _mm512_fmadd_ps(d, v0, acc0[r]);
                    acc1[r] = _mm512_fmadd_ps(d, v1, acc1[r]);
                }
            }
        }
        for r in 0..R {
            _mm512_storeu_ps(ap.add(sums(r, col)), acc0[r]);
            if two {
                _mm512_storeu_ps(ap.add(sums(r, col1)), acc1[r]);
            }
        }
    }
}

/// A tap's vector over the strip from output point `start`: each piece's
/// lanes loaded from `xq`'s window, scaled by its value unless every value
/// is one, zero where no piece reaches.
///
/// # Safety
///
/// Every piece's lanes read points of the row at `xq`.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn tap(pieces: &[Piece<f32>], start: usize, xq: *const f32, unit: bool) -> __m512 {
    let mut v = _mm512_setzero_ps();
    for p in pieces {
        let at = xq.wrapping_offset(start as isize + p.delta as isize);
        // SAFETY: the masked lanes lie in the row (the caller); the others
        // are not accessed.
        let mut u = unsafe { _mm512_maskz_loadu_ps(p.mask, at) };
        if !unit {
            u = _mm512_mul_ps(u, _mm512_set1_ps(p.value));
        }
        v = _mm512_mask_mov_ps(v, p.mask, u);
    }
    v
}
