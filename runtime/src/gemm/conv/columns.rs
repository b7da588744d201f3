//! A convolution's weight gradient as products with its columns: every
//! tap's shifted copy of one example's input stacked into one matrix
//! (`im2col`), so that the gradient is a product in the packed product
//! kernels.
//!
//! With `K` taps and `c` input channels, the columns of an input `x`
//! (`[c, N]`) are the `[c·K, M]` matrix
//!
//!   X[q·K + e, i] = v_e(i) · x[q, σ_e(i)]
//!
//! (zero where no run of tap `e` reaches `i`), whose row `q·K + e` is
//! the weights' column `q·K + e`, and per example `dW += dy Xᵀ`,
//! `[d, M] × [M, cK]`.
//!
//! The direct kernel (`blocked::weight_grad`) runs at about half of the
//! core's peak: its register block loads one vector of the cotangent per
//! two multiply-adds. Here the copies cost `c·K·M` numbers per example
//! against `d·c·K·M` multiply-adds, and the product kernel's panels reuse
//! every loaded number many times; `wide` says when that pays. The
//! output points are taken in blocks whose columns stay in the
//! second-level cache (`BUDGET`). The forward and transposed
//! convolutions through columns were measured slower than the direct
//! kernels on every shape (`docs/performance.md`), and are not built.

use std::ops::Range;

use super::{GemmError, GemmScalar, Mat, MatMut, Run, Shape};
use crate::gemm::gemm_block;

/// Whether the weight gradient of a convolution of shape `s` runs
/// faster here than in the direct kernels: with at least `WIDE_OUT`
/// output channels (the product's rows; with fewer, its panels hold too
/// few rows to reuse the columns' numbers).
pub fn wide(s: &Shape) -> bool {
    s.out_channels >= WIDE_OUT
}

/// The fewest output channels whose weight gradients run here.
pub const WIDE_OUT: usize = 32;

/// The most numbers the weight gradient's columns take at a time: the
/// output points are taken in blocks whose columns (`c·K` rows) fit in
/// half of the second-level cache in f32.
const BUDGET: usize = 1 << 17;

/// The output points per block of the weight gradient's columns.
fn block(s: &Shape) -> usize {
    (BUDGET / (s.in_channels * s.taps).max(1))
        .max(32)
        .min(s.out_points.max(1))
}

/// The columns of one example's input `x` (`[c, N]`) over the output
/// points `points` into `cols` (`[c·K, points.len()]`, row-major):
/// `cols[(q·K + e)·L + i - points.start] = Σ value · x[q·N + σ_e(i)]` over
/// tap `e`'s runs, zero where no run reaches.
pub fn columns<T: GemmScalar>(
    s: &Shape,
    runs: &[Run],
    x: &[T],
    points: Range<usize>,
    cols: &mut [T],
) {
    let (k, n, l) = (s.taps, s.in_points, points.len());
    cols[..s.in_channels * k * l].fill(T::ZERO);
    for r in runs {
        let (out, len) = (r.out as usize, r.len as usize);
        let (from, to) = (out.max(points.start), (out + len).min(points.end));
        if from >= to {
            continue;
        }
        let (value, e) = (T::from_f64(r.value), r.tap as usize);
        let src = r.src as usize + from - out;
        for q in 0..s.in_channels {
            let row = &mut cols[(q * k + e) * l + from - points.start..][..to - from];
            let x = &x[q * n + src..][..to - from];
            if value == T::ONE {
                for (o, &v) in row.iter_mut().zip(x) {
                    *o += v;
                }
            } else {
                for (o, &v) in row.iter_mut().zip(x) {
                    *o += value * v;
                }
            }
        }
    }
}

/// `dW[p, q·K + e] += Σ_rows Σ_i dy[p, i] · X[q·K + e, i]` for the output
/// channels `channels`: `xs` holds `rows` examples of `[c, N]`, `dys` of
/// `[d, M]`; `dw[(p - channels.start)·cK + q·K + e]` (dense,
/// `channels.len() × cK`) receives the sums, example by example. Each
/// channel's sums do not depend on the range it is computed in.
pub fn weight_grad<T: GemmScalar>(
    s: &Shape,
    runs: &[Run],
    (xs, dys): (&[T], &[T]),
    rows: usize,
    channels: Range<usize>,
    dw: &mut [T],
) -> Result<(), GemmError> {
    let (c, d, m, n) = (s.in_channels, s.out_channels, s.out_points, s.in_points);
    let (ck, step) = (c * s.taps, block(s));
    let mut cols = vec![T::ZERO; ck * step];
    for row in 0..rows {
        let x = &xs[row * c * n..][..c * n];
        for first in (0..m).step_by(step) {
            let points = first..(first + step).min(m);
            let l = points.len();
            columns(s, runs, x, points, &mut cols);
            let dy = Mat {
                data: &dys[row * d * m..][..d * m],
                offset: channels.start * m + first,
                rows: channels.len(),
                cols: l,
                row_stride: m as isize,
                col_stride: 1,
            };
            let b = Mat::row_major(&cols[..ck * l], ck, l).t();
            let out = MatMut::row_major(&mut dw[..channels.len() * ck], channels.len(), ck);
            gemm_block(T::ONE, (dy, b), T::ONE, out, d)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
