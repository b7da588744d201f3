//! The blocked convolutions against the tap-by-tap kernels (themselves
//! checked against the gathered product) in f64, on rings, tori with and
//! without wrapping, and p4-like layers whose taps rotate with the output
//! orientation; and the AVX-512 f32 kernels against the loops over lanes
//! to the bit.

use super::super::tests::{Numbers, ring_runs};
use super::super::{
    Run, Shape, Weights, forward as taps_forward, input_grad, weight_grad as taps_wg,
};
use super::*;

/// The runs of a `h × w` grid convolution with taps at offsets
/// `[-r, r]²`, on `orientations` copies of the grid: output orientation
/// `o`'s tap `(t, a, b)` reads orientation `(o + t) mod orientations` at
/// the offset rotated `o` quarter turns (a p4 group convolution's shape
/// when `orientations` is 4, a plain 2-d convolution when it is 1).
/// Offsets past the border wrap (a torus) or read nothing (zero padding).
pub(in crate::gemm::conv) fn grid_runs(
    h: usize,
    w: usize,
    r: usize,
    orientations: usize,
    wrap: bool,
) -> (Vec<Run>, usize) {
    let side = 2 * r + 1;
    let taps = orientations * side * side;
    let mut runs = Vec::new();
    for o in 0..orientations {
        for e in 0..taps {
            let (t, a, b) = (e / (side * side), (e / side) % side, e % side);
            let (mut dy, mut dx) = (a as isize - r as isize, b as isize - r as isize);
            for _ in 0..o % 4 {
                (dy, dx) = (dx, -dy);
            }
            let src_o = (o + t) % orientations;
            let value = 1.0 + (e % 3) as f64 / 4.0;
            for y in 0..h {
                let sy = y as isize + dy;
                if !wrap && !(0..h as isize).contains(&sy) {
                    continue;
                }
                let sy = sy.rem_euclid(h as isize) as usize;
                for x in 0..w {
                    let sx = x as isize + dx;
                    if !wrap && !(0..w as isize).contains(&sx) {
                        continue;
                    }
                    let sx = sx.rem_euclid(w as isize) as usize;
                    let (out, src) = ((o * h + y) * w + x, (src_o * h + sy) * w + sx);
                    push(&mut runs, e, out, src, value);
                }
            }
        }
    }
    (runs, taps)
}

/// Adds point `out` reading `src` to the last run when it continues it.
fn push(runs: &mut Vec<Run>, tap: usize, out: usize, src: usize, value: f64) {
    if let Some(last) = runs.last_mut()
        && last.tap as usize == tap
        && (last.out + last.len) as usize == out
        && (last.src + last.len) as usize == src
        && last.value == value
    {
        last.len += 1;
        return;
    }
    runs.push(Run {
        tap: tap as u32,
        out: out as u32,
        src: src as u32,
        len: 1,
        value,
    });
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

/// The layers the tests run: rings of odd and even sizes below, at and
/// past a strip, tori, zero-padded grids and p4-like layers, each with
/// its output and input channel counts.
pub(in crate::gemm::conv) fn layers() -> Vec<(&'static str, Vec<Run>, Shape)> {
    let mut out = Vec::new();
    let mut add = |name, (runs, taps): (Vec<Run>, usize), points: usize, d: usize, c: usize| {
        out.push((
            name,
            runs,
            Shape {
                out_channels: d,
                in_channels: c,
                taps,
                in_points: points,
                out_points: points,
            },
        ));
    };
    add("ring 5 r1", ring_runs(5, 1), 5, 1, 1);
    add("ring 16 r2", ring_runs(16, 2), 16, 3, 2);
    add("ring 17 r2", ring_runs(17, 2), 17, 9, 3);
    add("ring 41 r3", ring_runs(41, 3), 41, 10, 5);
    add("ring 128 r2", ring_runs(128, 2), 128, 8, 7);
    add("torus 7x5 r1", grid_runs(7, 5, 1, 1, true), 35, 4, 3);
    add("padded 9x6 r2", grid_runs(9, 6, 2, 1, false), 54, 5, 2);
    add("p4 6x6 r1", grid_runs(6, 6, 1, 4, true), 144, 8, 3);
    add("p4 5x7 r1 padded", grid_runs(5, 7, 1, 4, false), 140, 3, 2);
    // Channel blocks of 8, 8 and 1, strips in blocks of 3 and 1, columns
    // in blocks of 3 and 1; unit values (the AVX-512 kernel's unscaled
    // loads) on a ring and a p4 torus.
    add("ring 50 r2", ring_runs(50, 2), 50, 17, 2);
    add("ring 50 r2 unit", unit(ring_runs(50, 2)), 50, 17, 2);
    add(
        "p4 4x4 r1 unit",
        unit(grid_runs(4, 4, 1, 4, true)),
        64,
        8,
        3,
    );
    out
}

/// The same runs, every value one.
fn unit((runs, taps): (Vec<Run>, usize)) -> (Vec<Run>, usize) {
    let runs = runs.into_iter().map(|r| Run { value: 1.0, ..r }).collect();
    (runs, taps)
}

/// Forward, transposed and weight-gradient convolutions, blocked and tap
/// by tap, agree in f64 on every layer, with weights laid out both ways
/// and the weight gradient's channels shared between two calls.
#[test]
fn blocked_convolutions_equal_the_tap_by_tap_kernels() {
    let mut rng = Numbers(23);
    for (name, runs, s) in layers() {
        let (d, c, k, n, m) = (
            s.out_channels,
            s.in_channels,
            s.taps,
            s.in_points,
            s.out_points,
        );
        let cols = c * k;
        let w = rng.vec(d * cols);
        let mut wt = vec![0.0; d * cols];
        for p in 0..d {
            for col in 0..cols {
                wt[col * d + p] = w[p * cols + col];
            }
        }
        let rows = 3;
        let (xs, dys) = (rng.vec(rows * c * n), rng.vec(rows * d * m));
        let st = Strips::<f64>::new(&s, &runs).expect("strips");
        let back = Strips::<f64>::transposed(&s, &runs).expect("transposed strips");
        for (weights, layout) in [
            (
                Weights {
                    data: &w,
                    rs: cols,
                    cs: 1,
                },
                "row-major",
            ),
            (
                Weights {
                    data: &wt,
                    rs: 1,
                    cs: d,
                },
                "transposed",
            ),
        ] {
            let bank = Bank::of(weights, k);
            for row in 0..rows {
                let x = &xs[row * c * n..(row + 1) * c * n];
                let dy = &dys[row * d * m..(row + 1) * d * m];
                let (mut y, mut want) = (vec![f64::NAN; d * m], vec![0.0; d * m]);
                forward(&st, bank, x, &mut y).expect("forward");
                taps_forward(&s, &runs, weights, x, &mut want).expect("forward");
                close(&y, &want, &format!("{name} {layout}: forward"));
                let (mut dx, mut want) = (vec![f64::NAN; c * n], vec![0.0; c * n]);
                forward(&back, bank.transposed(), dy, &mut dx).expect("input gradient");
                input_grad(&s, &runs, weights, dy, &mut want).expect("input gradient");
                close(&dx, &want, &format!("{name} {layout}: input gradient"));
            }
        }
        let mut want = vec![0.0; d * cols];
        for row in 0..rows {
            let x = &xs[row * c * n..(row + 1) * c * n];
            let dy = &dys[row * d * m..(row + 1) * d * m];
            taps_wg(&s, &runs, x, dy, &mut want, (cols, 1)).expect("weight gradient");
        }
        let mut dw = vec![0.0; d * cols];
        weight_grad(&st, &xs, &dys, rows, 0..d, &mut dw).expect("weight gradient");
        close(&dw, &want, &format!("{name}: weight gradient"));
        let h = d / 2;
        let mut halves = vec![0.0; d * cols];
        let (first, second) = halves.split_at_mut(h * cols);
        weight_grad(&st, &xs, &dys, rows, 0..h, first).expect("first half");
        weight_grad(&st, &xs, &dys, rows, h..d, second).expect("second half");
        assert_eq!(halves, dw, "{name}: channels shared between two calls");
    }
}

/// With AVX-512F, the f32 kernels equal the loops over arrays of lanes to
/// the bit (the same fused multiply-adds in the same order); without it
/// there is nothing to compare and the test says so by returning early.
#[test]
fn avx512_kernels_equal_the_loops_over_lanes() {
    if !avx512::<f32>() {
        return;
    }
    let mut rng = Numbers(29);
    let f32s = |v: Vec<f64>| -> Vec<f32> { v.into_iter().map(|x| x as f32).collect() };
    for (name, runs, s) in layers() {
        let (d, c, k, n, m) = (
            s.out_channels,
            s.in_channels,
            s.taps,
            s.in_points,
            s.out_points,
        );
        let cols = c * k;
        // More examples than the weight gradient's chunk of rows, and not
        // a multiple of it.
        let rows = 11;
        let (w, xs, dys) = (
            f32s(rng.vec(d * cols)),
            f32s(rng.vec(rows * c * n)),
            f32s(rng.vec(rows * d * m)),
        );
        let st = Strips::<f32>::new(&s, &runs).expect("strips");
        let back = Strips::<f32>::transposed(&s, &runs).expect("transposed strips");
        let bank = Bank::of(
            Weights {
                data: &w,
                rs: cols,
                cs: 1,
            },
            k,
        );
        let (mut y, mut want) = (vec![f32::NAN; d * m], vec![f32::NAN; d * m]);
        forward(&st, bank, &xs[..c * n], &mut y).expect("forward");
        forward_lanes(&st, bank, &xs[..c * n], &mut want);
        assert_eq!(y, want, "{name}: forward");
        let (mut dx, mut want) = (vec![f32::NAN; c * n], vec![f32::NAN; c * n]);
        forward(&back, bank.transposed(), &dys[..d * m], &mut dx).expect("input gradient");
        forward_lanes(&back, bank.transposed(), &dys[..d * m], &mut want);
        assert_eq!(dx, want, "{name}: input gradient");
        let mut acc = vec![0.0f32; d * cols * LANES];
        let mut lanes = acc.clone();
        // SAFETY: the processor has AVX-512F (checked above); the sizes
        // are the shape's.
        unsafe { super::super::avx512::weight_grad(&st, &xs, &dys, rows, 0..d, &mut acc) };
        weight_grad_lanes(&st, &xs, &dys, rows, 0..d, &mut lanes);
        assert_eq!(acc, lanes, "{name}: weight gradient's lane sums");
    }
}

/// Runs that write one output point twice under one tap have no strips;
/// a tap reading one input point twice has no transposed strips; a run
/// past the shape has neither.
#[test]
fn overlapping_or_outlying_runs_have_no_strips() {
    let s = Shape {
        out_channels: 1,
        in_channels: 1,
        taps: 1,
        in_points: 8,
        out_points: 8,
    };
    let run = |out, src, len| Run {
        tap: 0,
        out,
        src,
        len,
        value: 1.0,
    };
    let twice_out = [run(0, 0, 4), run(2, 4, 2)];
    assert!(Strips::<f64>::new(&s, &twice_out).is_none());
    let twice_in = [run(0, 0, 4), run(4, 2, 2)];
    assert!(Strips::<f64>::new(&s, &twice_in).is_some());
    assert!(Strips::<f64>::transposed(&s, &twice_in).is_none());
    let past = [run(6, 0, 4)];
    assert!(Strips::<f64>::new(&s, &past).is_none());
    assert!(Strips::<f64>::transposed(&s, &past).is_none());
}
