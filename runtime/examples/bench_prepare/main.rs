//! Writes the fixed batch and the initial weights of a benchmark workload.
//!
//! ```text
//! cargo run --release -p cdlc-runtime --example bench_prepare -- W1 bench/data
//! ```
//!
//! writes `bench/data/w1.jsonl` (the workload's whole batch, one example per
//! line, in the format `cdlc` reads for the model's input type) and
//! `bench/data/w1.safetensors` (the initial value of every parameter of the
//! model in `bench/w1_mlp.cdl`, under `cdlc`'s qualified names). Every
//! number comes from the counter-based SplitMix64 generator exactly as the
//! peer scripts define it (`cdlc_runtime::data::splitmix`): inputs from
//! stream 1, labels from stream 2, weight matrices `[out, in]` from their
//! own streams, biases zero.
//!
//! Numbers are written as the shortest decimal that reads back as the same
//! f64, and every value is an f32 widened to f64, so both `--dtype f32` and
//! `--dtype f64` see exactly the generated f32 values.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use cdlc_runtime::checkpoint::{self, ParamSlice, ParamView};

mod unseen;
use cdlc_runtime::data::splitmix::{TreeShape, labels, make_tree, uniform, weight};

/// A parameter to write: its qualified name, shape and values.
struct Param {
    name: &'static str,
    shape: Vec<usize>,
    data: Vec<f32>,
}

fn param(name: &'static str, shape: &[usize], data: Vec<f32>) -> Param {
    assert_eq!(shape.iter().product::<usize>(), data.len(), "{name}");
    Param {
        name,
        shape: shape.to_vec(),
        data,
    }
}

fn zeros(name: &'static str, n: usize) -> Param {
    param(name, &[n], vec![0.0; n])
}

/// A workload's batch (as JSON lines) and initial parameters.
struct Workload {
    lines: Vec<String>,
    params: Vec<Param>,
}

/// Appends a number as the shortest decimal that reads back as the same
/// f64 (an f32 widened to f64 is exact).
fn num(out: &mut String, v: f32) {
    let v = f64::from(v);
    if v == v.trunc() && v.abs() < 1e15 {
        // `{}` would print `1` for 1.0; both parse, keep it explicit.
        let _ = write!(out, "{v:.1}");
    } else {
        let _ = write!(out, "{v}");
    }
}

/// Appends `[v0, v1, ...]`.
fn vector(out: &mut String, vs: &[f32]) {
    out.push('[');
    for (i, &v) in vs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        num(out, v);
    }
    out.push(']');
}

fn line(x: &str, y: usize) -> String {
    format!("{{\"x\":{x},\"y\":{y}}}")
}

/// W1: `dense[784, 256] >> relu >> dense[256, 10]`, batch 128.
fn w1() -> Workload {
    let (b, d, h, c) = (128, 784, 256, 10);
    let x = uniform(1, &[b, d], 1.0);
    let y = labels(2, b, c);
    let lines = (0..b)
        .map(|i| {
            let mut s = String::new();
            vector(&mut s, &x[i * d..(i + 1) * d]);
            line(&s, y[i])
        })
        .collect();
    Workload {
        lines,
        params: vec![
            param("dense.W", &[h, d], weight(11, h, d)),
            zeros("dense.b", h),
            param("dense#2.W", &[c, h], weight(12, c, h)),
            zeros("dense#2.b", c),
        ],
    }
}

/// W2 and W3: an Elman fold over `t` steps of `R[d]`, hidden `h`, batch `b`,
/// then `dense[h, 10]`.
///
/// The peers' input is time-major `[t, b, d]`. A fold consumes its list from
/// the end, so example `i`'s sequence `x[0, i], ..., x[t-1, i]` is written as
/// the list `[x[t-1, i], ..., x[0, i]]`.
fn rnn(d: usize, h: usize, t: usize, b: usize) -> Workload {
    let c = 10;
    let x = uniform(1, &[t, b, d], 1.0);
    let y = labels(2, b, c);
    let lines = (0..b)
        .map(|i| {
            let mut s = String::from("[");
            for (k, step) in (0..t).rev().enumerate() {
                if k > 0 {
                    s.push(',');
                }
                let at = (step * b + i) * d;
                vector(&mut s, &x[at..at + d]);
            }
            s.push(']');
            line(&s, y[i])
        })
        .collect();
    Workload {
        lines,
        params: vec![
            param("elman.W", &[h, h], weight(11, h, h)),
            param("elman.U", &[h, d], weight(12, h, d)),
            zeros("elman.b", h),
            zeros("elman.h0", h),
            param("dense.W", &[c, h], weight(13, c, h)),
            zeros("dense.b", c),
        ],
    }
}

/// Appends a binary tree as JSON: `{"leaf":[..]}` or `{"node":[l, r]}`,
/// leaf `i` holding `leaf(i)`.
fn tree_json<'a>(out: &mut String, shape: &TreeShape, leaf: &dyn Fn(usize) -> &'a [f32]) {
    match shape {
        TreeShape::Leaf(i) => {
            out.push_str("{\"leaf\":[");
            vector(out, leaf(*i));
            out.push_str("]}");
        }
        TreeShape::Node(l, r) => {
            out.push_str("{\"node\":[");
            tree_json(out, l, leaf);
            out.push(',');
            tree_json(out, r, leaf);
            out.push_str("]}");
        }
    }
}

/// W4: `treenn[16, 64]` folded over 16 trees of 32 leaves, then
/// `dense[64, 5]`.
fn w4() -> Workload {
    let (f, h, c) = (16, 64, 5);
    Workload {
        lines: w4_trees(f, c),
        params: vec![
            param("treenn.E", &[h, f], weight(11, h, f)),
            zeros("treenn.c", h),
            param("treenn.L", &[h, h], weight(12, h, h)),
            param("treenn.M", &[h, h], weight(13, h, h)),
            zeros("treenn.b", h),
            param("dense.W", &[c, h], weight(14, c, h)),
            zeros("dense.b", c),
        ],
    }
}

/// W4's batch, which W7 shares: 16 random binary trees of 32 leaves with
/// `f` features each (stream 1) and labels among `c` classes (stream 2).
fn w4_trees(f: usize, c: usize) -> Vec<String> {
    let (trees, leaves) = (16, 32);
    let x = uniform(1, &[trees, leaves, f], 1.0);
    let y = labels(2, trees, c);
    (0..trees)
        .map(|t| {
            let shape = make_tree(t as u64, leaves);
            let mut s = String::new();
            let leaf = |i: usize| {
                let at = (t * leaves + i) * f;
                &x[at..at + f]
            };
            tree_json(&mut s, &shape, &leaf);
            line(&s, y[t])
        })
        .collect()
}

/// W5: three permutation-equivariant layers on sets of 64 points with 32
/// input channels and 64 hidden channels (`phi`, `psi`, `psi#2`), sum
/// pooling and `dense[64, 10]` (`pool.dense`).
///
/// The peers' layer is `X Λ + (1/n) 1 1ᵀ X Γ + b` with `Λ, Γ` stored
/// `[in, out]`. In `bench/w5_deepsets.cdl` an equivariant map between
/// `R[i] * Pts` and `R[o] * Pts` is `Σ_k c_k B_k` over the normalised
/// orbit basis of `symmetric(n)` acting on channel pairs and point pairs:
/// for each `(out, in)` channel pair, row-major, first the point-pair orbit
/// `p = q` (the identity), then `p ≠ q` divided by `√(n − 1)` (unit row
/// norm)
/// (`cdlc bench/w5_deepsets.cdl --emit tying` prints this basis). The
/// peers' map has `Λ + Γ/n` on the diagonal and `Γ/n` off it, so the
/// slot holds the coefficients `c[o, i, 0] = Λ[i, o] + Γ[i, o] / n` and
/// `c[o, i, 1] = Γ[i, o] √(n − 1) / n` in that order, as one `[free]` vector,
/// computed in f64 and rounded once.
/// The input `x[set, point, channel]` is written channels first, `[32, 64]`
/// per set, as the space `R[32] * Pts` lays it out.
fn w5() -> Workload {
    let (b, n, d, k, c) = (64, 64, 32, 64, 10);
    let x = uniform(1, &[b, n, d], 1.0);
    let y = labels(2, b, c);
    let lines = (0..b)
        .map(|s| {
            let mut out = String::from("[");
            for ch in 0..d {
                if ch > 0 {
                    out.push(',');
                }
                let row: Vec<f32> = (0..n).map(|p| x[(s * n + p) * d + ch]).collect();
                vector(&mut out, &row);
            }
            out.push(']');
            line(&out, y[s])
        })
        .collect();
    const NAMES: [(&str, &str); 3] = [
        ("phi.W", "phi.b"),
        ("psi.W", "psi.b"),
        ("psi#2.W", "psi#2.b"),
    ];
    let mut params = Vec::new();
    for (i, (din, dout)) in [(d, k), (k, k), (k, k)].into_iter().enumerate() {
        let a = 1.0 / ((2 * din) as f64).sqrt();
        let lam = uniform_f64(20 + 3 * i as u64, din * dout, a);
        let gam = uniform_f64(21 + 3 * i as u64, din * dout, a);
        let mut coef = Vec::with_capacity(2 * din * dout);
        for o in 0..dout {
            for j in 0..din {
                let (l, g) = (lam[j * dout + o], gam[j * dout + o]);
                coef.push((l + g / n as f64) as f32);
                coef.push((g * ((n - 1) as f64).sqrt() / n as f64) as f32);
            }
        }
        // Laid out (out channel, in channel, basis element): the basis
        // order, in which an equivariant slot is stored as its `[free]`
        // coefficients (`docs/runtime.md`).
        params.push(param(NAMES[i].0, &[2 * din * dout], coef));
        params.push(zeros(NAMES[i].1, dout));
    }
    params.push(param("pool.dense.W", &[c, k], weight(40, c, k)));
    params.push(zeros("pool.dense.b", c));
    Workload { lines, params }
}

/// `uniform(stream, [len], a)` as the f32 values the peers hold, widened to
/// f64 for exact arithmetic on them.
fn uniform_f64(stream: u64, len: usize, a: f64) -> Vec<f64> {
    uniform(stream, &[len], a)
        .into_iter()
        .map(f64::from)
        .collect()
}

fn workload(name: &str) -> Option<Workload> {
    Some(match name {
        "W1" => w1(),
        "W2" => rnn(32, 128, 64, 32),
        "W3" => rnn(4, 16, 20, 1),
        "W4" => w4(),
        "W5" => w5(),
        "W6" => unseen::w6(),
        "W7" => unseen::w7(),
        "W8" => unseen::w8(),
        "W9" => unseen::w9(),
        "W10" => unseen::w10(),
        _ => return None,
    })
}

fn write(dir: &Path, name: &str, w: &Workload) -> Result<(PathBuf, PathBuf), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let stem = name.to_lowercase();
    let data = dir.join(format!("{stem}.jsonl"));
    let mut text = w.lines.join("\n");
    text.push('\n');
    checkpoint::write_atomic(&data, text.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", data.display()))?;
    let weights = dir.join(format!("{stem}.safetensors"));
    let views: Vec<ParamView<'_>> = w
        .params
        .iter()
        .map(|p| ParamView {
            name: p.name,
            shape: &p.shape,
            data: ParamSlice::F32(&p.data),
        })
        .collect();
    let mut meta = BTreeMap::new();
    meta.insert("workload".to_string(), name.to_string());
    meta.insert("generator".to_string(), "splitmix64".to_string());
    checkpoint::save(&weights, &views, &meta).map_err(|e| e.to_string())?;
    Ok((data, weights))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [name, dir] = args.as_slice() else {
        eprintln!("usage: bench_prepare W1|...|W10 OUTDIR");
        return ExitCode::from(2);
    };
    let name = name.to_uppercase();
    let Some(w) = workload(&name) else {
        eprintln!("error: unknown workload `{name}`; expected one of W1 ... W10");
        return ExitCode::from(2);
    };
    match write(Path::new(dir), &name, &w) {
        Ok((data, weights)) => {
            println!(
                "{name}: {} examples in {}, {} parameters in {}",
                w.lines.len(),
                data.display(),
                w.params.iter().map(|p| p.data.len()).sum::<usize>(),
                weights.display()
            );
            ExitCode::SUCCESS
        }
        Err(m) => {
            eprintln!("error: {m}");
            ExitCode::FAILURE
        }
    }
}
