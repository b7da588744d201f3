//! The arithmetic of each tensor op, on `Array`s, written for clarity.
//!
//! Shapes were checked by the verifier, so the kernels index freely.

use crate::infer::broadcast;
use crate::ir::{BinOp, LossKind, ReduceOp, UnOp};

use super::scalar::{Array, Scalar};

const GELU_C: f64 = 0.044_715;

/// √(2/π), the constant of the tanh approximation of gelu.
fn gelu_k<T: Scalar>() -> T {
    T::from_f64((2.0 / std::f64::consts::PI).sqrt())
}

/// `1 / (1 + e^-x)`, without overflow for large |x|.
pub fn sigmoid<T: Scalar>(x: T) -> T {
    if x >= T::zero() {
        T::one() / (T::one() + (-x).exp())
    } else {
        let e = x.exp();
        e / (T::one() + e)
    }
}

/// `ln(1 + e^x) = max(x, 0) + ln(1 + e^-|x|)`.
pub fn softplus<T: Scalar>(x: T) -> T {
    let m = if x > T::zero() { x } else { T::zero() };
    m + (-x.abs()).exp().ln_1p()
}

/// One pointwise op on one number.
pub fn unary<T: Scalar>(op: UnOp, x: T) -> T {
    let zero = T::zero();
    let half = T::from_f64(0.5);
    match op {
        UnOp::Neg => -x,
        UnOp::Relu => {
            if x > zero {
                x
            } else {
                zero
            }
        }
        UnOp::Tanh => x.tanh(),
        UnOp::Sigmoid => sigmoid(x),
        UnOp::Exp => x.exp(),
        UnOp::Log => x.ln(),
        UnOp::Softplus => softplus(x),
        UnOp::Gelu => {
            let u = gelu_k::<T>() * (x + T::from_f64(GELU_C) * x * x * x);
            half * x * (T::one() + u.tanh())
        }
        UnOp::Abs => x.abs(),
        UnOp::Sqrt => x.sqrt(),
        UnOp::Step => {
            if x > zero {
                T::one()
            } else {
                zero
            }
        }
        UnOp::Sign => {
            if x > zero {
                T::one()
            } else if x < zero {
                -T::one()
            } else {
                zero
            }
        }
        UnOp::GeluDeriv => {
            // d/dx [½ x (1 + tanh u)] = ½ (1 + tanh u) + ½ x (1 − tanh² u) u',
            // with u = k (x + c x³) and u' = k (1 + 3 c x²).
            let k = gelu_k::<T>();
            let c = T::from_f64(GELU_C);
            let t = (k * (x + c * x * x * x)).tanh();
            let du = k * (T::one() + T::from_f64(3.0) * c * x * x);
            half * (T::one() + t) + half * x * (T::one() - t * t) * du
        }
    }
}

/// An elementwise binary op with prefix broadcasting.
pub fn binary<T: Scalar>(op: BinOp, a: &Array<T>, b: &Array<T>) -> Array<T> {
    let shape = broadcast(&a.shape, &b.shape).expect("verified: shapes broadcast");
    let n: usize = shape.iter().product();
    if n == 0 {
        return Array::zeros(&shape);
    }
    // The shorter operand is a prefix, so entry i of the result reads entry
    // i / (n / len) of each operand.
    let (ra, rb) = (n / a.data.len(), n / b.data.len());
    let data = (0..n)
        .map(|i| {
            let (x, y) = (a.data[i / ra], b.data[i / rb]);
            match op {
                BinOp::Add => x + y,
                BinOp::Sub => x - y,
                BinOp::Mul => x * y,
                BinOp::Div => x / y,
            }
        })
        .collect();
    Array::new(shape, data)
}

/// Tensordot: the last `k` axes of `a` with the first `k` of `b`.
pub fn contract<T: Scalar>(a: &Array<T>, b: &Array<T>, k: usize) -> Array<T> {
    let split = a.shape.len() - k;
    let m: usize = a.shape[..split].iter().product();
    let kk: usize = a.shape[split..].iter().product();
    let n: usize = b.shape[k..].iter().product();
    let mut shape = a.shape[..split].to_vec();
    shape.extend_from_slice(&b.shape[k..]);
    let mut data = vec![T::zero(); m * n];
    for i in 0..m {
        for l in 0..kk {
            let x = a.data[i * kk + l];
            for j in 0..n {
                data[i * n + j] = data[i * n + j] + x * b.data[l * n + j];
            }
        }
    }
    Array::new(shape, data)
}

fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// Result axis `i` is axis `perm[i]` of `x`. The result is written in
/// order while the source position follows along: the result's index is
/// advanced like an odometer (last axis fastest), and each step moves the
/// source by the stride of the axis that turned, with no division per
/// element.
pub fn permute<T: Scalar>(x: &Array<T>, perm: &[u32]) -> Array<T> {
    let in_strides = strides(&x.shape);
    let shape: Vec<usize> = perm.iter().map(|&p| x.shape[p as usize]).collect();
    let step: Vec<usize> = perm.iter().map(|&p| in_strides[p as usize]).collect();
    let n = x.data.len();
    let mut data = Vec::with_capacity(n);
    let mut index = vec![0usize; shape.len()];
    let mut src = 0usize;
    for _ in 0..n {
        data.push(x.data[src]);
        for d in (0..shape.len()).rev() {
            index[d] += 1;
            src += step[d];
            if index[d] < shape[d] {
                break;
            }
            src -= step[d] * shape[d];
            index[d] = 0;
        }
    }
    Array::new(shape, data)
}

/// Splits a shape around `axis` into (before, extent, after) sizes.
fn around(shape: &[usize], axis: usize) -> (usize, usize, usize) {
    (
        shape[..axis].iter().product(),
        shape[axis],
        shape[axis + 1..].iter().product(),
    )
}

/// A reduction over all axes or one.
pub fn reduce<T: Scalar>(op: ReduceOp, x: &Array<T>, axis: Option<u32>) -> Array<T> {
    let fold = |xs: &mut dyn Iterator<Item = T>, n: usize| -> T {
        match op {
            ReduceOp::Sum => xs.fold(T::zero(), |s, v| s + v),
            ReduceOp::Mean => xs.fold(T::zero(), |s, v| s + v) / T::from_f64(n as f64),
            ReduceOp::Max => xs
                .reduce(|m, v| if v > m { v } else { m })
                .expect("max of an empty tensor is rejected by the shapes"),
        }
    };
    match axis {
        None => Array::scalar(fold(&mut x.data.iter().copied(), x.data.len())),
        Some(a) => {
            let (pre, n, post) = around(&x.shape, a as usize);
            let mut shape = x.shape.clone();
            shape.remove(a as usize);
            let data = (0..pre * post)
                .map(|o| {
                    let (p, q) = (o / post, o % post);
                    fold(&mut (0..n).map(|j| x.data[(p * n + j) * post + q]), n)
                })
                .collect();
            Array::new(shape, data)
        }
    }
}

/// Inserts an axis of extent `n` at `axis`, repeating `x`.
pub fn expand<T: Scalar>(x: &Array<T>, axis: usize, n: usize) -> Array<T> {
    let mut shape = x.shape.clone();
    shape.insert(axis, n);
    let (pre, _, post) = around(&shape, axis);
    let mut data = Vec::with_capacity(pre * n * post);
    for p in 0..pre {
        for _ in 0..n {
            data.extend_from_slice(&x.data[p * post..(p + 1) * post]);
        }
    }
    Array::new(shape, data)
}

/// Repeats each entry over trailing axes up to `shape`.
pub fn broadcast_to<T: Scalar>(x: &Array<T>, shape: &[usize]) -> Array<T> {
    let n: usize = shape.iter().product();
    let r = if x.data.is_empty() {
        0
    } else {
        n / x.data.len()
    };
    let data = x
        .data
        .iter()
        .flat_map(|&v| std::iter::repeat_n(v, r))
        .collect();
    Array::new(shape.to_vec(), data)
}

/// Sums trailing axes away, leaving `shape`.
pub fn sum_to<T: Scalar>(x: &Array<T>, shape: &[usize]) -> Array<T> {
    let m: usize = shape.iter().product();
    let r = x.data.len().checked_div(m).unwrap_or(0);
    let data = (0..m)
        .map(|i| {
            x.data[i * r..(i + 1) * r]
                .iter()
                .fold(T::zero(), |s, &v| s + v)
        })
        .collect();
    Array::new(shape.to_vec(), data)
}

/// `softmax` of a vector, shifted by the maximum for stability.
pub fn softmax<T: Scalar>(x: &Array<T>) -> Array<T> {
    let ls = log_softmax(x);
    ls.map(Scalar::exp)
}

/// `x − logsumexp(x)` of a vector.
pub fn log_softmax<T: Scalar>(x: &Array<T>) -> Array<T> {
    let lse = logsumexp(&x.data);
    x.map(|v| v - lse)
}

fn logsumexp<T: Scalar>(xs: &[T]) -> T {
    let m = xs
        .iter()
        .copied()
        .reduce(|m, v| if v > m { v } else { m })
        .unwrap_or_else(T::zero);
    m + xs.iter().fold(T::zero(), |s, &v| s + (v - m).exp()).ln()
}

/// The Euclidean norm over all but the first `keep` axes.
pub fn norm<T: Scalar>(x: &Array<T>, keep: usize) -> Array<T> {
    let shape = x.shape[..keep].to_vec();
    let sq = binary(BinOp::Mul, x, x);
    sum_to(&sq, &shape).map(Scalar::sqrt)
}

/// `g x / y` broadcast over the normed axes; 0 where `y = 0`.
pub fn norm_grad<T: Scalar>(x: &Array<T>, y: &Array<T>, g: &Array<T>) -> Array<T> {
    let ratio = Array::new(
        y.shape.clone(),
        y.data
            .iter()
            .zip(&g.data)
            .map(|(&y, &g)| if y > T::zero() { g / y } else { T::zero() })
            .collect(),
    );
    binary(BinOp::Mul, x, &ratio)
}

/// `g` placed at the first maximal entry (over all axes or along one).
pub fn max_grad<T: Scalar>(x: &Array<T>, g: &Array<T>, axis: Option<u32>) -> Array<T> {
    let mut out = Array::zeros(&x.shape);
    let first_max = |idx: &mut dyn Iterator<Item = usize>| -> usize {
        idx.reduce(|m, i| if x.data[i] > x.data[m] { i } else { m })
            .expect("max of an empty tensor is rejected by the shapes")
    };
    match axis {
        None => {
            let i = first_max(&mut (0..x.data.len()));
            out.data[i] = g.data[0];
        }
        Some(a) => {
            let (pre, n, post) = around(&x.shape, a as usize);
            for o in 0..pre * post {
                let (p, q) = (o / post, o % post);
                let i = first_max(&mut (0..n).map(|j| (p * n + j) * post + q));
                out.data[i] = g.data[o];
            }
        }
    }
    out
}

/// `Σ_k c_k B_k` into a tensor of `shape`.
pub fn basis_expand<T: Scalar>(
    c: &Array<T>,
    elements: &[Vec<(u32, f64)>],
    shape: &[usize],
) -> Array<T> {
    let mut out = Array::zeros(shape);
    for (ck, element) in c.data.iter().zip(elements) {
        for &(i, v) in element {
            out.data[i as usize] = out.data[i as usize] + *ck * T::from_f64(v);
        }
    }
    out
}

/// `c_k = Σ_idx x[idx] B_k[idx]`, as a tensor of `shape` (the basis's
/// coefficient shape, `[k]` or an activation's).
pub fn basis_project<T: Scalar>(
    x: &Array<T>,
    elements: &[Vec<(u32, f64)>],
    shape: &[usize],
) -> Array<T> {
    let data = elements
        .iter()
        .map(|e| {
            e.iter().fold(T::zero(), |s, &(i, v)| {
                s + x.data[i as usize] * T::from_f64(v)
            })
        })
        .collect();
    Array::new(shape.to_vec(), data)
}

/// What a loss compares an output with, for one position.
pub enum TargetRef<'a, T> {
    /// A class index.
    Class(usize),
    /// A tensor of the output's shape.
    Tensor(&'a Array<T>),
}

/// One position's loss and its gradient with respect to `out`.
pub fn loss<T: Scalar>(kind: LossKind, out: &Array<T>, target: TargetRef<'_, T>) -> (T, Array<T>) {
    let n = T::from_f64(out.data.len() as f64);
    match (kind, target) {
        // logsumexp(z) − z[c]; gradient softmax(z) − onehot(c).
        (LossKind::CrossEntropy, TargetRef::Class(c)) => {
            let ls = log_softmax(out);
            let mut grad = ls.map(Scalar::exp);
            grad.data[c] = grad.data[c] - T::one();
            (-ls.data[c], grad)
        }
        // mean(softplus(z) − t z); gradient (σ(z) − t) / n.
        (LossKind::BinaryCrossEntropy, TargetRef::Tensor(t)) => {
            let l = out
                .data
                .iter()
                .zip(&t.data)
                .fold(T::zero(), |s, (&z, &t)| s + softplus(z) - t * z);
            let g = out
                .data
                .iter()
                .zip(&t.data)
                .map(|(&z, &t)| (sigmoid(z) - t) / n)
                .collect();
            (l / n, Array::new(out.shape.clone(), g))
        }
        // mean((o − t)²); gradient 2 (o − t) / n.
        (LossKind::Mse, TargetRef::Tensor(t)) => {
            let l = out
                .data
                .iter()
                .zip(&t.data)
                .fold(T::zero(), |s, (&o, &t)| s + (o - t) * (o - t));
            let g = out
                .data
                .iter()
                .zip(&t.data)
                .map(|(&o, &t)| T::from_f64(2.0) * (o - t) / n)
                .collect();
            (l / n, Array::new(out.shape.clone(), g))
        }
        _ => unreachable!("verified: the target type fits the loss"),
    }
}
