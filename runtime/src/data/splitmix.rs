//! The counter-based SplitMix64 generator of the benchmark workloads.
//!
//! Benchmark inputs, labels and initial weights are functions of a stream
//! number and a row-major element index, so that every framework measured
//! on a workload sees exactly the same numbers:
//!
//! ```text
//! mix64(z):  z += 0x9E3779B97F4A7C15
//!            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
//!            z = (z ^ (z >> 27)) * 0x94D049BB133111EB
//!            return z ^ (z >> 31)                       (all mod 2^64)
//! raw(stream, i)      = mix64((stream << 32) | i)
//! uniform(stream, shape, a)[i] = (2 * ((raw(stream, i) >> 40) * 2^-24) - 1) * a
//! labels(stream, n, C)[i] = raw(stream, i) mod C
//! weight(stream, out, in) = uniform(stream, [out, in], 1 / sqrt(in))
//! ```
//!
//! The W4 tree shapes come from the same counters (`make_tree`).

use crate::value::{Tensor, Value};

#[cfg(test)]
mod tests;

/// The golden-ratio increment of SplitMix64.
pub const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;
const MUL1: u64 = 0xBF58_476D_1CE4_E5B9;
const MUL2: u64 = 0x94D0_49BB_1331_11EB;

/// The SplitMix64 step: add the golden increment, then the finaliser.
pub fn mix64(z: u64) -> u64 {
    let mut z = z.wrapping_add(GOLDEN);
    z = (z ^ (z >> 30)).wrapping_mul(MUL1);
    z = (z ^ (z >> 27)).wrapping_mul(MUL2);
    z ^ (z >> 31)
}

/// The `i`-th raw 64-bit value of `stream`: `mix64((stream << 32) | i)`.
pub fn raw(stream: u64, i: u64) -> u64 {
    mix64((stream << 32) | i)
}

/// One element of `uniform(stream, ., a)`, in f64 before rounding.
pub fn uniform_f64(stream: u64, i: u64, a: f64) -> f64 {
    let u = (raw(stream, i) >> 40) as f64 * (1.0 / (1u64 << 24) as f64);
    (2.0 * u - 1.0) * a
}

/// `shape.iter().product()` values uniform in `[-a, a)`, row-major,
/// computed in f64 and rounded to f32.
pub fn uniform(stream: u64, shape: &[usize], a: f64) -> Vec<f32> {
    let n: usize = shape.iter().product();
    (0..n as u64)
        .map(|i| uniform_f64(stream, i, a) as f32)
        .collect()
}

/// `n` labels in `0..classes`: `raw(stream, i) mod classes`.
pub fn labels(stream: u64, n: usize, classes: usize) -> Vec<usize> {
    (0..n as u64)
        .map(|i| (raw(stream, i) % classes as u64) as usize)
        .collect()
}

/// A weight matrix stored `[fan_out, fan_in]`, uniform in
/// `[-1/sqrt(fan_in), 1/sqrt(fan_in))`.
pub fn weight(stream: u64, fan_out: usize, fan_in: usize) -> Vec<f32> {
    uniform(stream, &[fan_out, fan_in], 1.0 / (fan_in as f64).sqrt())
}

/// The shape of a binary tree whose leaves are numbered left to right.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TreeShape {
    /// A leaf and its number.
    Leaf(usize),
    /// An internal node with its left and right subtrees.
    Node(Box<TreeShape>, Box<TreeShape>),
}

impl TreeShape {
    /// The height: 0 for a leaf, 1 + the larger child's height otherwise.
    pub fn height(&self) -> usize {
        match self {
            TreeShape::Leaf(_) => 0,
            TreeShape::Node(l, r) => 1 + l.height().max(r.height()),
        }
    }

    /// The number of leaves.
    pub fn leaves(&self) -> usize {
        match self {
            TreeShape::Leaf(_) => 1,
            TreeShape::Node(l, r) => l.leaves() + r.leaves(),
        }
    }

    /// The tree as a `Tree` value whose leaf `i` holds `leaf(i)`.
    pub fn to_value(&self, leaf: &mut impl FnMut(usize) -> Tensor) -> Value {
        match self {
            TreeShape::Leaf(i) => Value::leaf(Value::Tensor(leaf(*i))),
            TreeShape::Node(l, r) => Value::node(l.to_value(leaf), r.to_value(leaf)),
        }
    }
}

/// The shape of W4's tree `t` with `n_leaves` leaves (at least one).
///
/// The counter over stream `1000 + t` is consumed in pre-order: a node with
/// `n > 1` leaves takes the next value `x` and puts `k = 1 + (x mod (n - 1))`
/// leaves in its left subtree and `n - k` in its right, building the left
/// subtree first.
pub fn make_tree(t: u64, n_leaves: usize) -> TreeShape {
    struct Builder {
        stream: u64,
        counter: u64,
        next_leaf: usize,
    }
    impl Builder {
        fn build(&mut self, n: usize) -> TreeShape {
            if n <= 1 {
                let i = self.next_leaf;
                self.next_leaf += 1;
                return TreeShape::Leaf(i);
            }
            let x = raw(self.stream, self.counter);
            self.counter += 1;
            let k = 1 + (x % (n as u64 - 1)) as usize;
            let left = self.build(k);
            let right = self.build(n - k);
            TreeShape::Node(Box::new(left), Box::new(right))
        }
    }
    Builder {
        stream: 1000 + t,
        counter: 0,
        next_leaf: 0,
    }
    .build(n_leaves)
}
