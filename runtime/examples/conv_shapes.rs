//! GFLOP/s of the blocked f32 convolutions (`gemm::conv::blocked`) on
//! the shapes of convolutions derived from groups: the forward
//! convolution, the transposed one (the input gradient) and the weight
//! gradient, per example, against this core's FMA peak as `gemm_shapes`
//! measures it; and the weight gradient as products with its columns
//! (`gemm::conv::columns`), which the executor runs for 32 or more output
//! channels.
//!
//! ```sh
//! cargo run --release -p cdlc-runtime --example conv_shapes -- [--min-time S] [SHAPE ...]
//! ```
//!
//! A shape is `ring:D:C:N:R` (a `cyclic(N)` convolution with `local(R)`,
//! `C` → `D` channels) or `p4:D:C:S:R` (a p4 group convolution on `S × S`
//! images, `C` → `D` channels of 4 orientations, taps `[-R, R]²`), or
//! `lift:D:S:R` (the p4 lifting convolution from one channel). Without
//! shapes, W8's and W9's layers run. Each figure is the fastest of many
//! short calls, so that it misses the moments another process holds the
//! core.

use std::time::Instant;

use cdlc_runtime::data::splitmix::uniform;
use cdlc_runtime::gemm::conv::blocked::{self, Bank};
use cdlc_runtime::gemm::conv::strips::Strips;
use cdlc_runtime::gemm::conv::{Run, Shape, Weights, columns};

/// Appends point `out` reading `src` to the last run when it continues it.
fn push(runs: &mut Vec<Run>, tap: usize, out: usize, src: usize) {
    if let Some(last) = runs.last_mut()
        && last.tap as usize == tap
        && (last.out + last.len) as usize == out
        && (last.src + last.len) as usize == src
    {
        last.len += 1;
        return;
    }
    runs.push(Run {
        tap: tap as u32,
        out: out as u32,
        src: src as u32,
        len: 1,
        value: 1.0,
    });
}

/// A `cyclic(n)` convolution's runs with taps at shifts `-r..=r`.
fn ring(n: usize, r: usize) -> (Vec<Run>, usize, usize, usize) {
    let mut runs = Vec::new();
    for e in 0..=2 * r {
        for i in 0..n {
            let src = (i as isize + e as isize - r as isize).rem_euclid(n as isize) as usize;
            push(&mut runs, e, i, src);
        }
    }
    (runs, 2 * r + 1, n, n)
}

/// A p4 convolution's runs on `s × s` tori: output orientation `o`'s tap
/// `(t, a, b)` reads orientation `(o + t) mod 4` (or the single input
/// orientation when `lift`) at the offset rotated `o` quarter turns.
fn p4(s: usize, r: usize, lift: bool) -> (Vec<Run>, usize, usize, usize) {
    let side = 2 * r + 1;
    let turns = if lift { 1 } else { 4 };
    let taps = turns * side * side;
    let mut runs = Vec::new();
    for o in 0..4 {
        for e in 0..taps {
            let (t, a, b) = (e / (side * side), (e / side) % side, e % side);
            let (mut dy, mut dx) = (a as isize - r as isize, b as isize - r as isize);
            for _ in 0..o {
                (dy, dx) = (dx, -dy);
            }
            let src_o = if lift { 0 } else { (o + t) % 4 };
            for y in 0..s {
                let sy = (y as isize + dy).rem_euclid(s as isize) as usize;
                for x in 0..s {
                    let sx = (x as isize + dx).rem_euclid(s as isize) as usize;
                    push(&mut runs, e, (o * s + y) * s + x, (src_o * s + sy) * s + sx);
                }
            }
        }
    }
    let sort = |r: &Run| (r.tap, r.out);
    runs.sort_by_key(sort);
    (runs, taps, turns * s * s, 4 * s * s)
}

/// The fastest of at least 200 calls of `f` over at least `min_time`
/// seconds.
fn fastest(min_time: f64, mut f: impl FnMut()) -> f64 {
    f();
    let (mut best, mut calls) = (f64::INFINITY, 0);
    let start = Instant::now();
    while calls < 200 || start.elapsed().as_secs_f64() < min_time {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed().as_secs_f64());
        calls += 1;
    }
    best
}

/// The three kernels on one shape; prints GFLOP/s of each.
fn measure(
    name: &str,
    d: usize,
    c: usize,
    (runs, taps, n, m): (Vec<Run>, usize, usize, usize),
    min_time: f64,
) {
    let s = Shape {
        out_channels: d,
        in_channels: c,
        taps,
        in_points: n,
        out_points: m,
    };
    let rows = 8;
    let x = uniform(1, &[rows * c * n], 1.0);
    let dy = uniform(2, &[rows * d * m], 1.0);
    let w = uniform(3, &[d * c * taps], 1.0);
    let weights = Weights {
        data: &w,
        rs: c * taps,
        cs: 1,
    };
    let st = Strips::<f32>::new(&s, &runs).expect("a ring's or torus' runs cut into strips");
    // A lifting convolution reads each input point once per output
    // orientation: its transposed runs do not cut into strips.
    let back = Strips::<f32>::transposed(&s, &runs);
    let bank = Bank::of(weights, taps);
    let madds = (d * c * runs.iter().map(|r| r.len as usize).sum::<usize>()) as f64;
    let (mut y, mut dx, mut dw) = (vec![0.0; d * m], vec![0.0; c * n], vec![0.0; d * c * taps]);
    let t_fwd = fastest(min_time, || {
        blocked::forward(&st, bank, &x[..c * n], &mut y).expect("fits")
    });
    let t_back = back.map(|back| {
        fastest(min_time, || {
            blocked::forward(&back, bank.transposed(), &dy[..d * m], &mut dx).expect("fits")
        })
    });
    let t_wg = fastest(min_time, || {
        blocked::weight_grad(&st, &x, &dy, rows, 0..d, &mut dw).expect("fits")
    }) / rows as f64;
    let c_wg = fastest(min_time, || {
        columns::weight_grad(&s, &runs, (&x, &dy), rows, 0..d, &mut dw).expect("fits")
    }) / rows as f64;
    let g = |t: f64| 2.0 * madds / t / 1e9;
    println!(
        "{name:<18} direct:  forward {:6.1}  input grad {:>6}  weight grad {:6.1} GFLOP/s",
        g(t_fwd),
        t_back.map_or("-".into(), |t| format!("{:.1}", g(t))),
        g(t_wg)
    );
    println!(
        "{:<18} columns:                                     weight grad {:6.1} GFLOP/s",
        "",
        g(c_wg)
    );
}

fn main() {
    let mut min_time = 1.0;
    let mut shapes = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--min-time" => min_time = args.next().and_then(|x| x.parse().ok()).unwrap_or(1.0),
            s => shapes.push(s.to_string()),
        }
    }
    if shapes.is_empty() {
        shapes = [
            "ring:32:8:128:2",
            "ring:32:32:128:2",
            "lift:8:16:1",
            "p4:8:8:16:1",
        ]
        .map(String::from)
        .to_vec();
    }
    for s in &shapes {
        let f: Vec<&str> = s.split(':').collect();
        let num = |i: usize| f.get(i).and_then(|v| v.parse::<usize>().ok());
        match (f[0], num(1), num(2), num(3), num(4)) {
            ("ring", Some(d), Some(c), Some(n), Some(r)) => measure(s, d, c, ring(n, r), min_time),
            ("p4", Some(d), Some(c), Some(side), Some(r)) => {
                measure(s, d, c, p4(side, r, false), min_time)
            }
            ("lift", Some(d), Some(side), Some(r), None) => {
                measure(s, d, 1, p4(side, r, true), min_time)
            }
            _ => {
                eprintln!("expected ring:D:C:N:R, p4:D:C:S:R or lift:D:S:R, found `{s}`");
                std::process::exit(2);
            }
        }
    }
}
