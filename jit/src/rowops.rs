//! Per-row operations the executor runs in Rust: the ops that are neither
//! products nor elementwise (permutations, reductions, softmax, norms,
//! bases), and the losses. Each works on one row (one example's tensor).

use cdlc_ir::{LossKind, ReduceOp};
use cdlc_runtime::float::Float;

use crate::plan::{BasisTable, RowOp};

fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// The source index of every output entry of `permute(x, perm)` for `x` of
/// `shape`, in output order (computed once, when lowering).
pub(crate) fn permute_map(shape: &[usize], perm: &[u32]) -> Vec<u32> {
    let is = strides(shape);
    let oshape: Vec<usize> = perm.iter().map(|&p| shape[p as usize]).collect();
    let ostr: Vec<usize> = perm.iter().map(|&p| is[p as usize]).collect();
    let n: usize = oshape.iter().product();
    let mut map = Vec::with_capacity(n);
    // An odometer over the output indices, tracking the source offset.
    let mut idx = vec![0usize; oshape.len()];
    let mut src = 0usize;
    for _ in 0..n {
        map.push(src as u32);
        for d in (0..oshape.len()).rev() {
            idx[d] += 1;
            src += ostr[d];
            if idx[d] < oshape[d] {
                break;
            }
            src -= ostr[d] * oshape[d];
            idx[d] = 0;
        }
    }
    map
}

fn around(shape: &[usize], axis: usize) -> (usize, usize, usize) {
    (
        shape[..axis].iter().product(),
        shape[axis],
        shape[axis + 1..].iter().product(),
    )
}

/// The sum of a contiguous run, in eight independent lanes so that the
/// compiler can keep them in one vector register.
fn sum<T: Float>(xs: &[T]) -> T {
    let mut lanes = [T::ZERO; 8];
    let mut chunks = xs.chunks_exact(8);
    for c in &mut chunks {
        for (l, &v) in lanes.iter_mut().zip(c) {
            *l += v;
        }
    }
    let tail = chunks.remainder().iter().fold(T::ZERO, |s, &v| s + v);
    lanes.iter().fold(tail, |s, &v| s + v)
}

/// `acc += s x`, in the widest vectors the processor has: a fold adds
/// every level's share of a weight gradient to its running sum this way.
pub(crate) fn add_scaled<T: Float>(acc: &mut [T], x: &[T], s: T) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the feature was detected.
        return unsafe { add_scaled_avx512(acc, x, s) };
    }
    add_scaled_loop(acc, x, s)
}

/// `add_scaled_loop` compiled for AVX-512.
///
/// # Safety
///
/// The processor has AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn add_scaled_avx512<T: Float>(acc: &mut [T], x: &[T], s: T) {
    add_scaled_loop(acc, x, s)
}

#[inline(always)]
fn add_scaled_loop<T: Float>(acc: &mut [T], x: &[T], s: T) {
    for (a, &v) in acc.iter_mut().zip(x) {
        *a += s * v;
    }
}

/// `logsumexp` of a row.
pub(crate) fn logsumexp<T: Float>(xs: &[T]) -> T {
    let m = xs
        .iter()
        .copied()
        .reduce(|m, v| if v > m { v } else { m })
        .unwrap_or(T::ZERO);
    let mut s = T::ZERO;
    for &v in xs {
        s += (v - m).exp();
    }
    m + s.ln()
}

/// Runs `op` on one row: inputs `ins`, output `out`.
pub(crate) fn row<T: Float>(op: &RowOp, ins: &[&[T]], out: &mut [T]) {
    let x = ins[0];
    match op {
        RowOp::Permute { map } => {
            for (o, &i) in out.iter_mut().zip(map.iter()) {
                *o = x[i as usize];
            }
        }
        RowOp::Reduce { op, shape, axis } => match axis {
            None => {
                out[0] = match op {
                    ReduceOp::Sum => x.iter().fold(T::ZERO, |s, &v| s + v),
                    ReduceOp::Mean => {
                        x.iter().fold(T::ZERO, |s, &v| s + v) / T::from_f64(x.len() as f64)
                    }
                    ReduceOp::Max => x
                        .iter()
                        .copied()
                        .reduce(|m, v| if v > m { v } else { m })
                        .unwrap_or(T::ZERO),
                }
            }
            Some(a) => {
                let (pre, n, post) = around(shape, *a as usize);
                if n == 0 {
                    out.fill(T::ZERO);
                    return;
                }
                if post == 1 {
                    // Over the last axis: each output reduces a contiguous run.
                    for (o, run) in out.iter_mut().zip(x.chunks_exact(n)) {
                        *o = match op {
                            ReduceOp::Sum => sum(run),
                            ReduceOp::Mean => sum(run) / T::from_f64(n as f64),
                            ReduceOp::Max => run
                                .iter()
                                .copied()
                                .reduce(|m, v| if v > m { v } else { m })
                                .unwrap_or(T::ZERO),
                        };
                    }
                    return;
                }
                for (p, o) in out.chunks_exact_mut(post).take(pre).enumerate() {
                    let block = &x[p * n * post..(p + 1) * n * post];
                    o.copy_from_slice(&block[..post]);
                    for src in block.chunks_exact(post).skip(1) {
                        match op {
                            ReduceOp::Sum | ReduceOp::Mean => {
                                for (s, &v) in o.iter_mut().zip(src) {
                                    *s += v;
                                }
                            }
                            ReduceOp::Max => {
                                for (m, &v) in o.iter_mut().zip(src) {
                                    if v > *m {
                                        *m = v;
                                    }
                                }
                            }
                        }
                    }
                    if *op == ReduceOp::Mean {
                        let inv = T::from_f64(n as f64);
                        for s in o.iter_mut() {
                            *s = *s / inv;
                        }
                    }
                }
            }
        },
        RowOp::Expand { shape, axis, n } => {
            let (pre, _, post) = around(shape, *axis);
            if post == 1 {
                // Along the last axis: each input entry fills a contiguous run.
                for (run, &v) in out.chunks_exact_mut(*n).zip(x) {
                    run.fill(v);
                }
                return;
            }
            for p in 0..pre {
                for j in 0..*n {
                    out[(p * n + j) * post..(p * n + j + 1) * post]
                        .copy_from_slice(&x[p * post..(p + 1) * post]);
                }
            }
        }
        RowOp::BroadcastTo { out: n } => {
            let r = n / x.len().max(1);
            for (i, &v) in x.iter().enumerate() {
                out[i * r..(i + 1) * r].fill(v);
            }
        }
        RowOp::SumTo { out: m } => {
            let r = x.len() / (*m).max(1);
            for (i, o) in out.iter_mut().enumerate() {
                *o = x[i * r..(i + 1) * r].iter().fold(T::ZERO, |s, &v| s + v);
            }
        }
        RowOp::Softmax | RowOp::LogSoftmax => {
            let lse = logsumexp(x);
            for (o, &v) in out.iter_mut().zip(x) {
                *o = if matches!(op, RowOp::Softmax) {
                    (v - lse).exp()
                } else {
                    v - lse
                };
            }
        }
        RowOp::Norm { keep_size } => {
            let r = x.len() / (*keep_size).max(1);
            for (i, o) in out.iter_mut().enumerate() {
                *o = x[i * r..(i + 1) * r]
                    .iter()
                    .fold(T::ZERO, |s, &v| s + v * v)
                    .sqrt();
            }
        }
        RowOp::NormGrad => {
            let (y, g) = (ins[1], ins[2]);
            let r = x.len() / y.len().max(1);
            for (i, o) in out.iter_mut().enumerate() {
                let c = i / r;
                let ratio = if y[c] > T::ZERO { g[c] / y[c] } else { T::ZERO };
                *o = x[i] * ratio;
            }
        }
        RowOp::MaxGrad { shape, axis } => {
            let g = ins[1];
            out.fill(T::ZERO);
            let first_max = |it: &mut dyn Iterator<Item = usize>| -> usize {
                it.reduce(|m, i| if x[i] > x[m] { i } else { m })
                    .unwrap_or(0)
            };
            match axis {
                None => out[first_max(&mut (0..x.len()))] = g[0],
                Some(a) => {
                    let (pre, n, post) = around(shape, *a as usize);
                    for (o, &go) in g.iter().enumerate().take(pre * post) {
                        let (p, q) = (o / post, o % post);
                        let i = first_max(&mut (0..n).map(|j| (p * n + j) * post + q));
                        out[i] = go;
                    }
                }
            }
        }
        RowOp::Concat => {
            let (a, b) = (ins[0], ins[1]);
            out[..a.len()].copy_from_slice(a);
            out[a.len()..].copy_from_slice(b);
        }
        RowOp::Slice { start, len } => out.copy_from_slice(&x[*start..start + len]),
        RowOp::BasisExpand { table } => basis_expand(table, x, out),
        RowOp::BasisProject { table } => basis_project(table, x, out),
    }
}

/// `out = Σ_e x_e B_e`, walking the entries in index order, block by block
/// (every block reads the one table with its offsets added).
fn basis_expand<T: Float>(t: &BasisTable, x: &[T], out: &mut [T]) {
    if !t.dense || t.value.is_some() {
        out.fill(T::ZERO);
    }
    for r in 0..t.blocks {
        let (at, from) = (r * t.block_size, r * t.block_elements);
        match (&t.value, t.dense) {
            (None, true) => {
                let (o, x) = (&mut out[at..at + t.block_size], &x[from..]);
                for (o, &e) in o.iter_mut().zip(&t.element) {
                    *o = x[e as usize];
                }
            }
            (None, false) => {
                for (&i, &e) in t.index.iter().zip(&t.element) {
                    out[at + i as usize] += x[from + e as usize];
                }
            }
            (Some(vals), _) => {
                for ((&i, &e), &v) in t.index.iter().zip(&t.element).zip(vals) {
                    out[at + i as usize] += x[from + e as usize] * T::from_f64(v);
                }
            }
        }
    }
}

/// `out_e = ⟨B_e, x⟩`: a scatter-add over the entries in index order,
/// block by block.
fn basis_project<T: Float>(t: &BasisTable, x: &[T], out: &mut [T]) {
    out.fill(T::ZERO);
    for r in 0..t.blocks {
        let (at, to) = (r * t.block_size, r * t.block_elements);
        match &t.value {
            None => {
                for (&i, &e) in t.index.iter().zip(&t.element) {
                    out[to + e as usize] += x[at + i as usize];
                }
            }
            Some(vals) => {
                for ((&i, &e), &v) in t.index.iter().zip(&t.element).zip(vals) {
                    out[to + e as usize] += x[at + i as usize] * T::from_f64(v);
                }
            }
        }
    }
}

fn sigmoid<T: Float>(x: T) -> T {
    if x >= T::ZERO {
        T::ONE / (T::ONE + (-x).exp())
    } else {
        let e = x.exp();
        e / (T::ONE + e)
    }
}

fn softplus<T: Float>(x: T) -> T {
    let m = if x > T::ZERO { x } else { T::ZERO };
    m + (-x.abs()).exp().ln_1p()
}

/// What one row's loss compares with.
pub(crate) enum RowTarget<'a, T> {
    Class(usize),
    Tensor(&'a [T]),
}

/// One row's loss; with `grad`, also `scale · ∂loss/∂out` into it.
pub(crate) fn loss<T: Float>(
    kind: LossKind,
    out: &[T],
    target: RowTarget<'_, T>,
    grad: Option<(&mut [T], T)>,
) -> T {
    let n = T::from_f64(out.len() as f64);
    match (kind, target) {
        (LossKind::CrossEntropy, RowTarget::Class(c)) => {
            let lse = logsumexp(out);
            if let Some((g, s)) = grad {
                for (gi, &z) in g.iter_mut().zip(out) {
                    *gi = (z - lse).exp() * s;
                }
                g[c] -= s;
            }
            lse - out[c]
        }
        (LossKind::BinaryCrossEntropy, RowTarget::Tensor(t)) => {
            let mut l = T::ZERO;
            for (&z, &y) in out.iter().zip(t) {
                l += softplus(z) - y * z;
            }
            if let Some((g, s)) = grad {
                for ((gi, &z), &y) in g.iter_mut().zip(out).zip(t) {
                    *gi = (sigmoid(z) - y) / n * s;
                }
            }
            l / n
        }
        (LossKind::Mse, RowTarget::Tensor(t)) => {
            let mut l = T::ZERO;
            for (&o, &y) in out.iter().zip(t) {
                l += (o - y) * (o - y);
            }
            if let Some((g, s)) = grad {
                for ((gi, &o), &y) in g.iter_mut().zip(out).zip(t) {
                    *gi = T::from_f64(2.0) * (o - y) / n * s;
                }
            }
            l / n
        }
        _ => T::ZERO,
    }
}

/// The index of the first largest entry.
pub(crate) fn argmax<T: Float>(xs: &[T]) -> usize {
    let mut best = 0;
    for (i, &v) in xs.iter().enumerate() {
        if v > xs[best] {
            best = i;
        }
    }
    best
}
