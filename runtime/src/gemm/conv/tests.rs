//! The direct convolution's kernels against the gathered copies and a
//! plain product, in f64 and f32, and against each other as adjoints.

use super::*;

/// A deterministic stream of numbers in [-1, 1).
pub(super) struct Numbers(pub(super) u64);

impl Numbers {
    pub(super) fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }

    pub(super) fn vec(&mut self, n: usize) -> Vec<f64> {
        (0..n).map(|_| self.next()).collect()
    }
}

/// A ring of `n` points with taps at shifts `-r..=r` (two runs each but
/// the zero shift), value `1 + e/10` for tap `e`: a cyclic convolution.
pub(super) fn ring_runs(n: usize, r: usize) -> (Vec<Run>, usize) {
    let mut runs = Vec::new();
    for (e, shift) in (0..=2 * r)
        .map(|e| (e, e as isize - r as isize))
        .collect::<Vec<_>>()
    {
        let value = 1.0 + e as f64 / 10.0;
        let s = shift.rem_euclid(n as isize) as usize;
        let tap = e as u32;
        // Output points 0..n-s read s..n, then n-s..n read 0..s.
        runs.push(Run {
            tap,
            out: 0,
            src: s as u32,
            len: (n - s) as u32,
            value,
        });
        if s > 0 {
            runs.push(Run {
                tap,
                out: (n - s) as u32,
                src: 0,
                len: s as u32,
                value,
            });
        }
    }
    (runs, 2 * r + 1)
}

/// The gathered copies `z[q, e, i]` of `x` under `runs`, then `y = W z`.
fn gathered(s: &Shape, runs: &[Run], w: &[f64], x: &[f64]) -> Vec<f64> {
    let (k, m) = (s.taps, s.out_points);
    let mut z = vec![0.0; s.in_channels * k * m];
    for r in runs {
        for q in 0..s.in_channels {
            for t in 0..r.len as usize {
                z[(q * k + r.tap as usize) * m + r.out as usize + t] +=
                    r.value * x[q * s.in_points + r.src as usize + t];
            }
        }
    }
    let cols = s.in_channels * k;
    let mut y = vec![0.0; s.out_channels * m];
    for p in 0..s.out_channels {
        for c in 0..cols {
            for i in 0..m {
                y[p * m + i] += w[p * cols + c] * z[c * m + i];
            }
        }
    }
    y
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[track_caller]
fn close(a: &[f64], b: &[f64], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= 1e-12 * (1.0 + y.abs()),
            "{what}: entry {i}: {x} against {y}"
        );
    }
}

/// Ring sizes below, at and past the kernel's window of 16, odd and even,
/// with several channel counts: `forward` is the gather and product,
/// `input_grad` and `weight_grad` its adjoints.
#[test]
fn ring_convolutions_equal_the_gathered_product_and_its_adjoints() {
    let mut rng = Numbers(7);
    for (n, r, c, d) in [
        (5, 1, 1, 1),
        (16, 2, 3, 2),
        (17, 2, 2, 5),
        (40, 3, 4, 3),
        (128, 2, 8, 7),
    ] {
        let (runs, taps) = ring_runs(n, r);
        let s = Shape {
            out_channels: d,
            in_channels: c,
            taps,
            in_points: n,
            out_points: n,
        };
        assert_eq!(runs_reach(&runs), [taps, n, n]);
        let cols = c * taps;
        let (w, x, dy) = (rng.vec(d * cols), rng.vec(c * n), rng.vec(d * n));
        let weights = Weights {
            data: &w,
            rs: cols,
            cs: 1,
        };
        let mut y = vec![f64::NAN; d * n];
        forward(&s, &runs, weights, &x, &mut y).expect("shapes");
        close(&y, &gathered(&s, &runs, &w, &x), "forward");
        // ⟨dy, W ⋆ x⟩ = ⟨Wᵀ ⋆ dy, x⟩ = ⟨dy ⋆ x, W⟩.
        let mut dx = vec![f64::NAN; c * n];
        input_grad(&s, &runs, weights, &dy, &mut dx).expect("shapes");
        let mut dw = vec![0.0; d * cols];
        weight_grad(&s, &runs, &x, &dy, &mut dw, (cols, 1)).expect("shapes");
        let want = dot(&dy, &y);
        for (got, what) in [(dot(&dx, &x), "input_grad"), (dot(&dw, &w), "weight_grad")] {
            assert!(
                (got - want).abs() <= 1e-12 * (1.0 + want.abs()),
                "{what}: {got} against {want}"
            );
        }
        // Each gradient entry on its own: the weight gradient is the
        // derivative of ⟨dy, W ⋆ x⟩ in each weight, the product linear.
        for col in [0, cols - 1] {
            let mut unit = vec![0.0; d * cols];
            unit[col] = 1.0;
            let mut yu = vec![0.0; d * n];
            forward(
                &s,
                &runs,
                Weights {
                    data: &unit,
                    rs: cols,
                    cs: 1,
                },
                &x,
                &mut yu,
            )
            .expect("shapes");
            let want = dot(&dy, &yu);
            assert!(
                (dw[col] - want).abs() <= 1e-12 * (1.0 + want.abs()),
                "weight {col}"
            );
        }
    }
}

/// Transposed weights (`rs` 1, `cs` the output channels) read the same
/// numbers, and f32 agrees with f64 to its precision.
#[test]
fn strided_weights_and_f32_agree() {
    let mut rng = Numbers(11);
    let (n, c, d) = (23, 3, 4);
    let (runs, taps) = ring_runs(n, 1);
    let s = Shape {
        out_channels: d,
        in_channels: c,
        taps,
        in_points: n,
        out_points: n,
    };
    let cols = c * taps;
    let (w, x) = (rng.vec(d * cols), rng.vec(c * n));
    let mut wt = vec![0.0; d * cols];
    for p in 0..d {
        for col in 0..cols {
            wt[col * d + p] = w[p * cols + col];
        }
    }
    let mut y = vec![0.0; d * n];
    forward(
        &s,
        &runs,
        Weights {
            data: &w,
            rs: cols,
            cs: 1,
        },
        &x,
        &mut y,
    )
    .expect("shapes");
    let mut yt = vec![0.0; d * n];
    forward(
        &s,
        &runs,
        Weights {
            data: &wt,
            rs: 1,
            cs: d,
        },
        &x,
        &mut yt,
    )
    .expect("shapes");
    close(&y, &yt, "transposed weights");
    let (w32, x32): (Vec<f32>, Vec<f32>) = (
        w.iter().map(|&v| v as f32).collect(),
        x.iter().map(|&v| v as f32).collect(),
    );
    let mut y32 = vec![0.0f32; d * n];
    forward(
        &s,
        &runs,
        Weights {
            data: &w32,
            rs: cols,
            cs: 1,
        },
        &x32,
        &mut y32,
    )
    .expect("shapes");
    for (a, b) in y32.iter().zip(&y) {
        assert!((f64::from(*a) - b).abs() < 1e-5, "{a} against {b}");
    }
}

/// The largest tap and points the runs reach.
#[test]
fn runs_reach_their_largest_tap_and_points() {
    let runs = [
        Run {
            tap: 2,
            out: 3,
            src: 0,
            len: 4,
            value: 1.0,
        },
        Run {
            tap: 0,
            out: 0,
            src: 5,
            len: 2,
            value: -1.0,
        },
    ];
    assert_eq!(runs_reach(&runs), [3, 7, 7]);
    assert_eq!(runs_reach(&[]), [0, 0, 0]);
}
