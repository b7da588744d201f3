//! Parameter initialisers (§4.1), drawn from the run's seed.
//!
//! A plain parameter `W: R[d1, ..., dk]` is applied with `@`, which
//! contracts its last axis: its fan-in is `dk` and its fan-out the product
//! of the other axes (for a vector, both are its length).
//!
//! - `glorot` (Xavier uniform): U(−a, a) with a = √(6 / (fan_in + fan_out));
//! - `he` (Kaiming normal): N(0, 2 / fan_in);
//! - `orthogonal`: the Q factor of a standard-normal matrix
//!   `fan_out × fan_in` (Gram–Schmidt with sign correction), so rows or
//!   columns are orthonormal; for a vector it falls back to `glorot`;
//! - `normal(std)`, `uniform(lo, hi)`, `zeros`, `ones`.

use crate::rng::Rng;
use crate::value::Tensor;

/// An initialiser with its arguments.
#[derive(Clone, Debug, PartialEq)]
pub enum Init {
    /// All zeros.
    Zeros,
    /// All ones.
    Ones,
    /// N(0, std²).
    Normal(f64),
    /// U(lo, hi).
    Uniform(f64, f64),
    /// Xavier uniform.
    Glorot,
    /// Kaiming normal.
    He,
    /// An orthogonal matrix.
    Orthogonal,
}

impl Init {
    /// The initialiser named `name` with numeric arguments `args`, if the
    /// name and the number of arguments fit.
    pub fn from_call(name: &str, args: &[f64]) -> Option<Init> {
        Some(match (name, args) {
            ("zeros", []) => Init::Zeros,
            ("ones", []) => Init::Ones,
            ("normal", [s]) => Init::Normal(*s),
            ("uniform", [lo, hi]) => Init::Uniform(*lo, *hi),
            ("glorot", []) => Init::Glorot,
            ("he", []) => Init::He,
            ("orthogonal", []) => Init::Orthogonal,
            _ => return None,
        })
    }
}

/// `(fan_in, fan_out)` of a parameter of this shape.
pub fn fans(shape: &[usize]) -> (usize, usize) {
    match shape {
        [] => (1, 1),
        [n] => (*n, *n),
        [rest @ .., last] => (*last, rest.iter().product()),
    }
}

/// A tensor of `shape` drawn from `init` with the generator seeded by `seed`.
pub fn init_tensor(init: &Init, shape: &[usize], seed: u64) -> Tensor {
    let n: usize = shape.iter().product();
    let mut rng = Rng::new(seed);
    let (fan_in, fan_out) = fans(shape);
    let data = match init {
        Init::Zeros => vec![0.0; n],
        Init::Ones => vec![1.0; n],
        Init::Normal(std) => (0..n).map(|_| std * rng.normal()).collect(),
        Init::Uniform(lo, hi) => (0..n).map(|_| lo + (hi - lo) * rng.uniform()).collect(),
        Init::Glorot => glorot(n, fan_in, fan_out, &mut rng),
        Init::He => {
            let std = (2.0 / fan_in.max(1) as f64).sqrt();
            (0..n).map(|_| std * rng.normal()).collect()
        }
        Init::Orthogonal if shape.len() >= 2 => orthogonal(fan_out, fan_in, &mut rng),
        Init::Orthogonal => glorot(n, fan_in, fan_out, &mut rng),
    };
    Tensor::new(shape.to_vec(), data)
}

fn glorot(n: usize, fan_in: usize, fan_out: usize, rng: &mut Rng) -> Vec<f64> {
    let a = (6.0 / (fan_in + fan_out).max(1) as f64).sqrt();
    (0..n).map(|_| a * (2.0 * rng.uniform() - 1.0)).collect()
}

/// A `rows × cols` matrix with orthonormal rows (rows ≤ cols) or columns
/// (rows > cols): Gram–Schmidt on the shorter side of a normal matrix.
fn orthogonal(rows: usize, cols: usize, rng: &mut Rng) -> Vec<f64> {
    let (k, len) = if rows <= cols {
        (rows, cols)
    } else {
        (cols, rows)
    };
    // k orthonormal vectors of length `len`.
    let mut vs: Vec<Vec<f64>> = Vec::with_capacity(k);
    while vs.len() < k {
        let mut v: Vec<f64> = (0..len).map(|_| rng.normal()).collect();
        for u in &vs {
            let d: f64 = v.iter().zip(u).map(|(a, b)| a * b).sum();
            v.iter_mut().zip(u).for_each(|(a, b)| *a -= d * b);
        }
        let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        // A draw (numerically) in the span of the others is drawn again.
        if norm > 1e-8 {
            v.iter_mut().for_each(|x| *x /= norm);
            vs.push(v);
        }
    }
    let mut out = vec![0.0; rows * cols];
    for (i, v) in vs.iter().enumerate() {
        for (j, x) in v.iter().enumerate() {
            if rows <= cols {
                out[i * cols + j] = *x;
            } else {
                out[j * cols + i] = *x;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
