//! The weight gradient through columns against the convolution written
//! out from its runs in f64 (the definition, no product kernel), on the
//! blocked kernels' layers and on wide ones (channel counts that are no
//! multiple of a vector, taps across the ring's wrap, points in several
//! blocks, one and several examples), in f64 to rounding and in f32 to a
//! stated tolerance; and the channels computed in two ranges equal to the
//! bit the whole.

use super::super::blocked::tests::{grid_runs, layers};
use super::super::tests::{Numbers, ring_runs};
use super::*;

/// `dW = Σ_rows dy ⋆ x` summed run by run, point by point, in f64.
struct Naive<'a> {
    s: Shape,
    runs: &'a [Run],
}

impl Naive<'_> {
    /// Calls `f(p, q·K + e, out point, in point, value)` for every term
    /// of the convolution.
    fn terms(&self, mut f: impl FnMut(usize, usize, usize, usize, f64)) {
        let k = self.s.taps;
        for r in self.runs {
            for t in 0..r.len as usize {
                for p in 0..self.s.out_channels {
                    for q in 0..self.s.in_channels {
                        let col = q * k + r.tap as usize;
                        f(p, col, r.out as usize + t, r.src as usize + t, r.value);
                    }
                }
            }
        }
    }

    /// Dense `[d, cK]`.
    fn weight_grad(&self, xs: &[f64], dys: &[f64], rows: usize) -> Vec<f64> {
        let (k, m, n) = (self.s.taps, self.s.out_points, self.s.in_points);
        let (c, d) = (self.s.in_channels, self.s.out_channels);
        let mut dw = vec![0.0; d * c * k];
        for row in 0..rows {
            let (x, dy) = (&xs[row * c * n..], &dys[row * d * m..]);
            self.terms(|p, col, i, j, v| {
                dw[p * c * k + col] += dy[p * m + i] * v * x[(col / k) * n + j];
            });
        }
        dw
    }
}

/// The blocked kernels' layers and wide ones: a ring of 256 points with 7
/// taps from 17 to 33 channels, one of 40 points with 5 taps from 33 to
/// 20, a p4 torus from 9 to 16 channels (36 taps), and a ring of 1500
/// points whose weight gradient takes its points in two blocks.
fn wide_layers() -> Vec<(&'static str, Vec<Run>, Shape)> {
    let mut out = layers();
    let shape = |(runs, taps): (Vec<Run>, usize), points, d, c| {
        let s = Shape {
            out_channels: d,
            in_channels: c,
            taps,
            in_points: points,
            out_points: points,
        };
        (runs, s)
    };
    for (name, (runs, s)) in [
        ("ring 256 r3 wide", shape(ring_runs(256, 3), 256, 33, 17)),
        ("ring 40 r2 wide", shape(ring_runs(40, 2), 40, 20, 33)),
        (
            "p4 5x5 r1 wide",
            shape(grid_runs(5, 5, 1, 4, true), 100, 16, 9),
        ),
        // Columns of 120 rows: the weight gradient's points in two blocks.
        (
            "ring 1500 r1 blocks",
            shape(ring_runs(1500, 1), 1500, 16, 40),
        ),
    ] {
        out.push((name, runs, s));
    }
    out
}

#[track_caller]
fn within(a: &[f64], b: &[f64], tol: f64, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= tol * (1.0 + y.abs()),
            "{what}: entry {i}: {x} against {y}"
        );
    }
}

/// The weight gradient through columns in `T` over `rows` examples
/// (dense `[d, cK]`), computed in two channel ranges and checked against
/// the whole to the bit, in f64.
fn through_columns<T: GemmScalar>(
    s: &Shape,
    runs: &[Run],
    (xs, dys): (&[f64], &[f64]),
    rows: usize,
) -> Vec<f64> {
    let to = |v: &[f64]| v.iter().map(|&a| T::from_f64(a)).collect::<Vec<T>>();
    let (xt, dyt) = (to(xs), to(dys));
    let (ck, d) = (s.in_channels * s.taps, s.out_channels);
    let mut dw = vec![T::ZERO; d * ck];
    weight_grad(s, runs, (&xt, &dyt), rows, 0..d, &mut dw).expect("fits");
    let h = d / 2;
    let mut halves = vec![T::ZERO; d * ck];
    let (first, second) = halves.split_at_mut(h * ck);
    weight_grad(s, runs, (&xt, &dyt), rows, 0..h, first).expect("fits");
    weight_grad(s, runs, (&xt, &dyt), rows, h..d, second).expect("fits");
    assert!(
        dw.iter()
            .zip(&halves)
            .all(|(a, b)| a.to_f64() == b.to_f64()),
        "the weight gradient in two ranges of channels differs from the whole"
    );
    dw.iter().map(|a| a.to_f64()).collect()
}

/// Every layer, one and three examples: f64 to rounding (1e-12), f32 to
/// 1e-4 of one plus the value (sums of up to 4500 products of numbers
/// below 2 in size).
#[test]
fn weight_gradients_through_columns_equal_the_convolution_written_out() {
    let mut rng = Numbers(41);
    for (name, runs, s) in wide_layers() {
        let (c, d, m, n) = (s.in_channels, s.out_channels, s.out_points, s.in_points);
        let naive = Naive { s, runs: &runs };
        for rows in [1, 3] {
            let (xs, dys) = (rng.vec(rows * c * n), rng.vec(rows * d * m));
            let dw = naive.weight_grad(&xs, &dys, rows);
            let f64s = through_columns::<f64>(&s, &runs, (&xs, &dys), rows);
            within(&f64s, &dw, 1e-12, &format!("{name}, f64, {rows} rows"));
            let f32s = through_columns::<f32>(&s, &runs, (&xs, &dys), rows);
            within(&f32s, &dw, 1e-4, &format!("{name}, f32, {rows} rows"));
        }
    }
}

/// Runs of one tap that write one output point twice add both terms in
/// the columns, as in the convolution's definition.
#[test]
fn overlapping_runs_add_in_the_columns() {
    let s = Shape {
        out_channels: 2,
        in_channels: 2,
        taps: 1,
        in_points: 4,
        out_points: 3,
    };
    let runs = [
        Run {
            tap: 0,
            out: 0,
            src: 0,
            len: 3,
            value: 1.0,
        },
        Run {
            tap: 0,
            out: 1,
            src: 3,
            len: 1,
            value: 2.0,
        },
    ];
    let x = [1.0, 2.0, 3.0, 4.0, 10.0, 20.0, 30.0, 40.0];
    let mut cols = [0.0f64; 6];
    columns(&s, &runs, &x, 0..3, &mut cols);
    assert_eq!(cols, [1.0, 2.0 + 8.0, 3.0, 10.0, 20.0 + 80.0, 30.0]);
}
