//! GFLOP/s of f32 products at given shapes and layouts, through the
//! runtime's `gemm` (which picks its kernel by shape) against
//! matrixmultiply's `sgemm` on the same operands, interleaved, and this
//! core's FMA peak (a loop of twelve independent AVX-512 multiply-add
//! chains).
//!
//! ```sh
//! cargo run --release -p cdlc-runtime --example gemm_shapes -- [--min-time S] [MxKxN[:ab] ...]
//! ```
//!
//! A shape's optional `:ab` says how A and B are stored, `r` for
//! row-major and `c` for column-major (a transposed row-major matrix);
//! the default is `rr`. Without shapes, W1's two large products run: the
//! forward `[128, 784] × [784, 256]` against the stored `[256, 784]`
//! weights (`rc`) and the weight gradient `dYᵀ X`, `[256, 128] × [128, 784]`
//! (`cr`), then squares of 128, 256 and 512.

use std::time::Instant;

use cdlc_runtime::data::splitmix::uniform;
use cdlc_runtime::gemm::{Mat, MatMut, gemm};

/// One shape: sizes and whether A and B are column-major.
struct Shape {
    m: usize,
    k: usize,
    n: usize,
    a_columns: bool,
    b_columns: bool,
}

fn parse(s: &str) -> Option<Shape> {
    let (dims, layout) = s.split_once(':').unwrap_or((s, "rr"));
    let d: Vec<usize> = dims
        .split('x')
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    let l: Vec<char> = layout.chars().collect();
    match (d.as_slice(), l.as_slice()) {
        (&[m, k, n], &[a, b]) => Some(Shape {
            m,
            k,
            n,
            a_columns: a == 'c',
            b_columns: b == 'c',
        }),
        _ => None,
    }
}

/// The median seconds per call of `f`, called for at least `min_time`
/// seconds (and at least 10 times) after a warm-up call.
fn time(min_time: f64, mut f: impl FnMut()) -> f64 {
    f();
    let mut runs = Vec::new();
    let start = Instant::now();
    while runs.len() < 10 || start.elapsed().as_secs_f64() < min_time {
        let t = Instant::now();
        f();
        runs.push(t.elapsed().as_secs_f64());
    }
    runs.sort_by(f64::total_cmp);
    runs[runs.len() / 2]
}

/// A view of `data` as a `rows x cols` matrix, row- or column-major.
fn view(data: &[f32], rows: usize, cols: usize, columns: bool) -> Mat<'_, f32> {
    if columns {
        Mat::row_major(data, cols, rows).t()
    } else {
        Mat::row_major(data, rows, cols)
    }
}

/// `gemm` and `sgemm` on one shape, `rounds` times alternately; prints
/// GFLOP/s per round.
fn measure(s: &Shape, min_time: f64, rounds: usize) {
    let (m, k, n) = (s.m, s.k, s.n);
    let a = uniform(1, &[m * k], 1.0);
    let b = uniform(2, &[k * n], 1.0);
    let mut c = vec![0.0f32; m * n];
    let flops = 2.0 * (m * k * n) as f64;
    let ours = |c: &mut Vec<f32>| {
        let (av, bv) = (view(&a, m, k, s.a_columns), view(&b, k, n, s.b_columns));
        gemm(1.0, av, bv, 0.0, MatMut::row_major(c, m, n)).expect("shapes agree");
    };
    let theirs = |c: &mut Vec<f32>| {
        let (av, bv) = (view(&a, m, k, s.a_columns), view(&b, k, n, s.b_columns));
        // SAFETY: the views cover the vectors exactly.
        unsafe {
            matrixmultiply::sgemm(
                m,
                k,
                n,
                1.0,
                av.data.as_ptr(),
                av.row_stride,
                av.col_stride,
                bv.data.as_ptr(),
                bv.row_stride,
                bv.col_stride,
                0.0,
                c.as_mut_ptr(),
                n as isize,
                1,
            )
        }
    };
    let layout = |x: bool| if x { 'c' } else { 'r' };
    let name = format!("{m}x{k}x{n}:{}{}", layout(s.a_columns), layout(s.b_columns));
    for round in 1..=rounds {
        let t_ours = time(min_time, || ours(&mut c));
        let t_theirs = time(min_time, || theirs(&mut c));
        println!(
            "{name:<18} round {round}: gemm {:6.1} GFLOP/s, matrixmultiply {:6.1} GFLOP/s",
            flops / t_ours / 1e9,
            flops / t_theirs / 1e9
        );
    }
}

/// GFLOP/s of twelve independent chains of AVX-512 multiply-adds.
#[cfg(target_arch = "x86_64")]
fn peak(min_time: f64) -> Option<f64> {
    use std::arch::x86_64::*;
    #[target_feature(enable = "avx512f")]
    fn chains(steps: usize) -> f32 {
        let mut acc = [_mm512_set1_ps(0.0); 12];
        let x = _mm512_set1_ps(0.999_999);
        let y = _mm512_set1_ps(1e-7);
        for _ in 0..steps {
            for v in acc.iter_mut() {
                *v = _mm512_fmadd_ps(*v, x, y);
            }
        }
        let sum = acc
            .iter()
            .fold(_mm512_set1_ps(0.0), |s, &v| _mm512_add_ps(s, v));
        _mm512_reduce_add_ps(sum)
    }
    if !std::arch::is_x86_feature_detected!("avx512f") {
        return None;
    }
    // Short calls (about 50 µs), so that the median misses the moments
    // another process holds the core.
    let steps = 1 << 14;
    // SAFETY: AVX-512F was detected.
    let t = time(min_time, || {
        std::hint::black_box(unsafe { chains(std::hint::black_box(steps)) });
    });
    Some((steps * 12 * 16 * 2) as f64 / t / 1e9)
}

#[cfg(not(target_arch = "x86_64"))]
fn peak(_: f64) -> Option<f64> {
    None
}

fn main() {
    let mut min_time = 1.0;
    let mut rounds = 3;
    let mut shapes = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--min-time" => min_time = args.next().and_then(|x| x.parse().ok()).unwrap_or(1.0),
            "--rounds" => rounds = args.next().and_then(|x| x.parse().ok()).unwrap_or(3),
            s => match parse(s) {
                Some(shape) => shapes.push(shape),
                None => {
                    eprintln!("expected a shape MxKxN[:ab] (a, b: r or c), found `{s}`");
                    std::process::exit(2);
                }
            },
        }
    }
    if shapes.is_empty() {
        let defaults = [
            "128x784x256:rc",
            "256x128x784:cr",
            "128x128x128",
            "256x256x256",
            "512x512x512",
        ];
        shapes = defaults.iter().filter_map(|s| parse(s)).collect();
    }
    match peak(min_time) {
        Some(p) => println!("peak: {p:.1} GFLOP/s (12 chains of 16-lane multiply-adds, one core)"),
        None => println!("peak: no AVX-512 on this processor"),
    }
    for s in &shapes {
        measure(s, min_time, rounds);
    }
}
