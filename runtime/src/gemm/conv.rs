//! A direct convolution through runs of taps: the product of a map's
//! coefficients with the shifted copies of its input, computed without
//! materialising the copies.
//!
//! An equivariant map whose inner basis elements are shifts (a `cyclic(n)`
//! or p4 map with `local(r)`) is, per example,
//!
//!   y[p, i] = Σ_q Σ_e W[p, q·K + e] · v_e(i) · x[q, σ_e(i)],
//!
//! with `K` inner elements (taps), `σ_e` the point tap `e` reads for output
//! point `i` and `v_e(i)` its value. A *run* is a maximal range of output
//! points over which one tap reads consecutive input points with one value
//! (a ring's cyclic shift is two runs, a torus' translation two per row of
//! the image). Over a run the map is a product of the weights' tap slice
//! with a contiguous window of the input. The three kernels here take the
//! runs tap by tap: the tap's shifted copy of the input (`[c, M]`, one tap
//! at a time, so it stays in cache; the gather wrote all `K` taps' copies
//! per example) meets the weights' tap slice in one product:
//!
//! - `forward`: `y = W ⋆ x`;
//! - `input_grad`: `dx = Wᵀ ⋆ dy`, the transposed convolution;
//! - `weight_grad`: `dW += dy ⋆ x`, correlations of the output's cotangent
//!   with the input's windows.
//!
//! Each is the adjoint of the others in its operands, and each adds over
//! the taps in the same order whatever the thread count (deterministic).
//!
//! These tap-by-tap kernels are the fallback: the executor runs the
//! blocked kernels (`blocked`, over `strips`), which accumulate all taps
//! of a block of output points in registers, whenever the runs can be cut
//! into strips (`Strips::new`, and `Strips::transposed` for the input
//! gradient).

use super::{GemmError, GemmScalar, Mat, MatMut, gemm};
use crate::float::Float;

#[cfg(target_arch = "x86_64")]
mod avx512;
pub mod blocked;
pub mod columns;
pub mod strips;

/// A range of output points over which one tap reads consecutive input
/// points with one value: `y[·, out + t]` reads `value · x[·, src + t]` for
/// `t < len`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Run {
    /// The tap (inner basis element) `e`.
    pub tap: u32,
    /// The first output point.
    pub out: u32,
    /// The first input point.
    pub src: u32,
    /// The number of points.
    pub len: u32,
    /// The tap's value over the run.
    pub value: f64,
}

/// The sizes of a convolution through runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    /// Output channels `d`.
    pub out_channels: usize,
    /// Input channels `c`.
    pub in_channels: usize,
    /// Taps `K` per input channel.
    pub taps: usize,
    /// Input points `N` per channel.
    pub in_points: usize,
    /// Output points `M` per channel.
    pub out_points: usize,
}

impl Shape {
    /// The numbers weights `W[p, q·K + e]` at strides `(rs, cs)` span.
    pub fn weight_span(&self, rs: usize, cs: usize) -> usize {
        let cols = self.in_channels * self.taps;
        if self.out_channels == 0 || cols == 0 {
            return 0;
        }
        (self.out_channels - 1) * rs + (cols - 1) * cs + 1
    }
}

/// The weights `W[p, q·K + e]` at `data[p·rs + (q·K + e)·cs]`.
#[derive(Clone, Copy, Debug)]
pub struct Weights<'a, T> {
    /// The numbers the strides index.
    pub data: &'a [T],
    /// The stride between output channels.
    pub rs: usize,
    /// The stride between the columns `q·K + e`.
    pub cs: usize,
}

/// The largest tap, output point and input point (exclusive bounds) the
/// runs reach, to be checked against the shape's `taps`, `out_points` and
/// `in_points`.
pub fn runs_reach(runs: &[Run]) -> [usize; 3] {
    runs.iter().fold([0; 3], |[t, o, s], r| {
        [
            t.max(r.tap as usize + 1),
            o.max((r.out + r.len) as usize),
            s.max((r.src + r.len) as usize),
        ]
    })
}

/// Runs `per_tap(tap, runs)` on each maximal group of consecutive runs of
/// one tap (the runs of a gather table come tap by tap; a tap split over
/// several groups is handled group by group, each adding its part).
fn by_tap(
    runs: &[Run],
    mut per_tap: impl FnMut(usize, &[Run]) -> Result<(), GemmError>,
) -> Result<(), GemmError> {
    for group in runs.chunk_by(|a, b| a.tap == b.tap) {
        per_tap(group[0].tap as usize, group)?;
    }
    Ok(())
}

/// `buf[q, out + t] = value · x[q, src + t]` over `group`'s runs for every
/// input channel `q`: the tap's shifted copy of `x`, `[c, M]`, zero where
/// no run writes (one tap's copy, which stays in cache, never all taps').
fn shifted<T: Float>(s: &Shape, group: &[Run], x: &[T], buf: &mut [T]) {
    let covered: usize = group.iter().map(|r| r.len as usize).sum();
    if covered < s.out_points {
        buf.fill(T::ZERO);
    }
    for r in group {
        let (len, value) = (r.len as usize, T::from_f64(r.value));
        for q in 0..s.in_channels {
            let out = q * s.out_points + r.out as usize;
            let src = q * s.in_points + r.src as usize;
            for (o, &v) in buf[out..out + len].iter_mut().zip(&x[src..src + len]) {
                *o = value * v;
            }
        }
    }
}

/// Tap `e`'s slice of the weights, `W[p, q·K + e]` as a `[d, c]` matrix.
fn tap_slice<'a, T>(s: &Shape, w: &Weights<'a, T>, e: usize) -> Mat<'a, T> {
    Mat {
        data: w.data,
        offset: e * w.cs,
        rows: s.out_channels,
        cols: s.in_channels,
        row_stride: w.rs as isize,
        col_stride: (s.taps * w.cs) as isize,
    }
}

/// `y = W ⋆ x` for one example: `x` is `[c, N]`, `y` `[d, M]`, both
/// row-major. Per tap, the weights' tap slice times the tap's shifted copy
/// of `x`, accumulated into `y`.
pub fn forward<T: GemmScalar>(
    s: &Shape,
    runs: &[Run],
    w: Weights<'_, T>,
    x: &[T],
    y: &mut [T],
) -> Result<(), GemmError> {
    let (c, d, m) = (s.in_channels, s.out_channels, s.out_points);
    let y = &mut y[..d * m];
    y.fill(T::ZERO);
    let mut buf = vec![T::ZERO; c * m];
    by_tap(runs, |e, group| {
        shifted(s, group, x, &mut buf);
        let b = Mat::row_major(&buf, c, m);
        gemm(
            T::ONE,
            tap_slice(s, &w, e),
            b,
            T::ONE,
            MatMut::row_major(&mut *y, d, m),
        )
    })
}

/// `dx = Wᵀ ⋆ dy` for one example, the adjoint of `forward` in `x`:
/// `dy` is `[d, M]`, `dx` `[c, N]`. Per tap, the weights' tap slice
/// transposed times `dy`, added into `dx` along the tap's runs.
pub fn input_grad<T: GemmScalar>(
    s: &Shape,
    runs: &[Run],
    w: Weights<'_, T>,
    dy: &[T],
    dx: &mut [T],
) -> Result<(), GemmError> {
    let (c, d, m) = (s.in_channels, s.out_channels, s.out_points);
    dx[..c * s.in_points].fill(T::ZERO);
    let mut buf = vec![T::ZERO; c * m];
    by_tap(runs, |e, group| {
        let dy = Mat::row_major(&dy[..d * m], d, m);
        let out = MatMut::row_major(&mut buf, c, m);
        gemm(T::ONE, tap_slice(s, &w, e).t(), dy, T::ZERO, out)?;
        for r in group {
            let (len, value) = (r.len as usize, T::from_f64(r.value));
            for q in 0..c {
                let out = q * m + r.out as usize;
                let src = q * s.in_points + r.src as usize;
                for (o, &v) in dx[src..src + len].iter_mut().zip(&buf[out..out + len]) {
                    *o += value * v;
                }
            }
        }
        Ok(())
    })
}

/// `dW += dy ⋆ x` for one example, the adjoint of `forward` in `W`: adds
/// `Σ_t value · dy[p, out + t] · x[q, src + t]` over tap `e`'s runs to
/// `dW[p, q·K + e]` at `dw[p·rs + (q·K + e)·cs]`. Per tap, `dy` times the
/// tap's shifted copy of `x`, transposed.
pub fn weight_grad<T: GemmScalar>(
    s: &Shape,
    runs: &[Run],
    x: &[T],
    dy: &[T],
    dw: &mut [T],
    (rs, cs): (usize, usize),
) -> Result<(), GemmError> {
    let (c, d, m) = (s.in_channels, s.out_channels, s.out_points);
    let mut buf = vec![T::ZERO; c * m];
    by_tap(runs, |e, group| {
        shifted(s, group, x, &mut buf);
        let out = MatMut {
            data: &mut *dw,
            offset: e * cs,
            rows: d,
            cols: c,
            row_stride: rs as isize,
            col_stride: (s.taps * cs) as isize,
        };
        let bt = Mat::row_major(&buf, c, m).t();
        gemm(T::ONE, Mat::row_major(&dy[..d * m], d, m), bt, T::ONE, out)
    })
}

#[cfg(test)]
mod tests;
