//! The built-in `synthetic.*` data sets of the language's training section.
//!
//! Each data set is a real generator of its task, deterministic in the
//! run's seed: the same name, arguments and seed always give the same
//! examples, in every version (the generator is a fixed SplitMix64 stream,
//! see `rng.rs`). Arguments are validated by name and value before anything
//! is drawn, and `signature` gives the input and target types without
//! generating anything, so a model can be checked against a data set first.
//!
//! Where the specification leaves a choice, the generators do this:
//! tree shapes split `n` leaves into `(j, n - j)` with `j` uniform in
//! `1..=n-1`, recursively, drawing the split before building the left and
//! then the right subtree; `set_mode` redraws an example whose most frequent
//! digit is tied; `triangles` draws G(n, p) graphs; inputs of `ring_smooth`,
//! `causal_filter` and `vector_pairs` are standard normal; `spirals` has
//! `classes` arms, radius `r` uniform in [0, 1] and angle
//! `2 pi c / classes + 4 r + 0.2 N(0, 1)`; `rotated_patterns` draws its
//! `classes` standard-normal patterns first, then per example a class, a
//! rotation by a multiple of 90 degrees, a circular translation and noise
//! of standard deviation 0.1; `labelled_trees` (a nested data type) draws
//! each node's edges, labels and subtrees depth first.

use std::f64::consts::PI;

use super::{DataError, Dataset, Signature, TargetType};
use crate::rng::Rng;
use crate::value::{DataType, Example, Target, Tensor, Value};

#[cfg(test)]
mod tests;

/// The most numbers a generated data set may hold (inputs and targets
/// together), so that a typo in `samples` fails with a message instead of
/// exhausting memory.
pub const MAX_NUMBERS: u64 = 1 << 28;

/// How often `set_mode` redraws a tied example before giving up.
const MAX_SET_MODE_DRAWS: usize = 10_000;

/// The standard deviation of the angle noise of `spirals`.
const SPIRAL_ANGLE_NOISE: f64 = 0.2;

/// How far (in radians) each spiral arm turns from radius 0 to radius 1.
const SPIRAL_TURN: f64 = 4.0;

/// The standard deviation of the noise of `rotated_patterns`.
const PATTERN_NOISE: f64 = 0.1;

/// What values an argument may take.
#[derive(Clone, Copy, Debug)]
enum Kind {
    /// An integer in `min..=max`.
    Count { min: usize, max: usize },
    /// A real number in [0, 1].
    Probability,
}

/// One argument of a data set.
struct Param {
    name: &'static str,
    kind: Kind,
}

const fn count(name: &'static str, min: usize, max: usize) -> Param {
    Param {
        name,
        kind: Kind::Count { min, max },
    }
}

const SAMPLES: Param = count("samples", 1, 10_000_000);
const BIG: usize = 100_000;

/// Every data set, its arguments in order.
const SPECS: &[(&str, &[Param])] = &[
    ("spirals", &[count("classes", 2, BIG), SAMPLES]),
    (
        "parity",
        &[
            count("min_length", 0, BIG),
            count("max_length", 1, BIG),
            SAMPLES,
        ],
    ),
    (
        "running_parity",
        &[
            count("min_length", 0, BIG),
            count("max_length", 1, BIG),
            SAMPLES,
        ],
    ),
    (
        "sum_trees",
        &[
            count("modulus", 2, 1000),
            count("min_leaves", 1, BIG),
            count("max_leaves", 1, BIG),
            SAMPLES,
        ],
    ),
    (
        "counting",
        &[count("digits", 2, BIG), count("steps", 1, BIG), SAMPLES],
    ),
    (
        "set_mode",
        &[count("points", 1, BIG), count("digits", 2, 1000), SAMPLES],
    ),
    (
        "triangles",
        &[
            count("nodes", 3, 512),
            Param {
                name: "edge_prob",
                kind: Kind::Probability,
            },
            SAMPLES,
        ],
    ),
    ("ring_smooth", &[count("points", 3, BIG), SAMPLES]),
    ("causal_filter", &[count("length", 1, BIG), SAMPLES]),
    (
        "rotated_patterns",
        &[count("size", 1, 1024), count("classes", 2, 1000), SAMPLES],
    ),
    ("vector_pairs", &[SAMPLES]),
    ("labelled_trees", &[count("max_depth", 1, 8), SAMPLES]),
];

/// The names of the built-in data sets, in the specification's order.
pub fn names() -> Vec<&'static str> {
    SPECS.iter().map(|(n, _)| *n).collect()
}

/// The argument names of a data set, in order, or `None` for an unknown name.
pub fn arguments(name: &str) -> Option<Vec<&'static str>> {
    SPECS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, ps)| ps.iter().map(|p| p.name).collect())
}

/// The input and target types of `synthetic.name(args)`, after validating
/// the arguments exactly as `generate` does.
pub fn signature(name: &str, args: &[(String, f64)]) -> Result<Signature, DataError> {
    Ok(Generator::parse(name, args)?.signature())
}

/// How many examples `synthetic.name(args)` holds, after validating the
/// arguments exactly as `generate` does.
pub fn samples(name: &str, args: &[(String, f64)]) -> Result<usize, DataError> {
    Ok(Generator::parse(name, args)?.samples())
}

/// The lengths a data set's lists can have, known without generating it:
/// each a range `(shortest, longest)`, `None` where the input (or the
/// target) is not a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lengths {
    /// The lengths of the input lists.
    pub input: Option<(usize, usize)>,
    /// The lengths of the target lists (one target per output position).
    pub target: Option<(usize, usize)>,
}

/// The lengths of the lists of `synthetic.name(args)`, after validating
/// the arguments exactly as `generate` does.
pub fn lengths(name: &str, args: &[(String, f64)]) -> Result<Lengths, DataError> {
    Ok(Generator::parse(name, args)?.lengths())
}

/// Generates `synthetic.name(args)` from `seed`.
pub fn generate(name: &str, args: &[(String, f64)], seed: u64) -> Result<Dataset, DataError> {
    generate_until(name, args, seed, &|| false)
}

/// Generates `synthetic.name(args)` from `seed`, asking `stop` every 1024
/// examples whether to give up (Ctrl-C); giving up is
/// `DataError::Interrupted`.
pub fn generate_until(
    name: &str,
    args: &[(String, f64)],
    seed: u64,
    stop: &dyn Fn() -> bool,
) -> Result<Dataset, DataError> {
    let g = Generator::parse(name, args)?;
    let signature = g.signature();
    let mut rng = Rng::new(seed);
    let examples = g.generate(&mut rng, stop)?;
    if stop() {
        return Err(DataError::Interrupted);
    }
    Ok(Dataset {
        signature,
        examples,
        origins: super::Origins::Synthetic,
    })
}

/// `0..n`, cut short when `stop` says so (asked every 1024 items).
fn counted(n: usize, stop: &dyn Fn() -> bool) -> impl Iterator<Item = usize> + '_ {
    (0..n).take_while(move |i| i % 1024 != 0 || !stop())
}

/// A validated data set request.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Generator {
    Spirals {
        classes: usize,
        samples: usize,
    },
    Parity {
        min_length: usize,
        max_length: usize,
        samples: usize,
        running: bool,
    },
    SumTrees {
        modulus: usize,
        min_leaves: usize,
        max_leaves: usize,
        samples: usize,
    },
    Counting {
        digits: usize,
        steps: usize,
        samples: usize,
    },
    SetMode {
        points: usize,
        digits: usize,
        samples: usize,
    },
    Triangles {
        nodes: usize,
        edge_prob: f64,
        samples: usize,
    },
    RingSmooth {
        points: usize,
        samples: usize,
    },
    CausalFilter {
        length: usize,
        samples: usize,
    },
    RotatedPatterns {
        size: usize,
        classes: usize,
        samples: usize,
    },
    VectorPairs {
        samples: usize,
    },
    LabelledTrees {
        max_depth: usize,
        samples: usize,
    },
}

/// Arguments matched to a data set's parameters, in parameter order.
struct Args {
    dataset: &'static str,
    values: Vec<f64>,
}

impl Args {
    /// Matches `args` to the parameters of `name`: every parameter exactly
    /// once, nothing else, each value of its kind.
    fn match_params(name: &str, args: &[(String, f64)]) -> Result<Args, DataError> {
        let Some((dataset, params)) = SPECS.iter().find(|(n, _)| *n == name) else {
            return Err(DataError::UnknownDataset {
                name: name.to_string(),
                known: names(),
            });
        };
        let expected = || params.iter().map(|p| p.name).collect::<Vec<_>>();
        let mut values: Vec<Option<f64>> = vec![None; params.len()];
        for (arg, value) in args {
            let slot = params.iter().position(|p| p.name == arg);
            match slot {
                Some(i) if values[i].is_none() => values[i] = Some(*value),
                _ => {
                    return Err(DataError::UnexpectedArgument {
                        dataset: dataset.to_string(),
                        arg: arg.clone(),
                        expected: expected(),
                    });
                }
            }
        }
        let mut out = Vec::with_capacity(params.len());
        for (p, v) in params.iter().zip(values) {
            let Some(v) = v else {
                return Err(DataError::MissingArgument {
                    dataset: dataset.to_string(),
                    arg: p.name,
                    expected: expected(),
                });
            };
            check_kind(dataset, p, v)?;
            out.push(v);
        }
        Ok(Args {
            dataset,
            values: out,
        })
    }

    fn count(&self, i: usize) -> usize {
        // Validated by `check_kind` as an integer in a `usize` range.
        self.values[i] as usize
    }

    /// Checks that the count at `hi` is at least the one at `lo`.
    fn ordered(&self, lo: usize, hi: usize) -> Result<(), DataError> {
        if self.count(hi) >= self.count(lo) {
            return Ok(());
        }
        let params = SPECS
            .iter()
            .find(|(n, _)| *n == self.dataset)
            .map(|(_, ps)| *ps)
            .expect("Args are built from a known data set");
        Err(DataError::InvalidArgument {
            dataset: self.dataset.to_string(),
            arg: params[hi].name,
            value: self.values[hi],
            requirement: format!("at least {} = {}", params[lo].name, self.count(lo)),
        })
    }
}

fn check_kind(dataset: &str, p: &Param, v: f64) -> Result<(), DataError> {
    let requirement = match p.kind {
        Kind::Count { min, max } => {
            let ok = v.is_finite() && v.fract() == 0.0 && v >= min as f64 && v <= max as f64;
            if ok {
                return Ok(());
            }
            format!("an integer from {min} to {max}")
        }
        Kind::Probability => {
            if (0.0..=1.0).contains(&v) {
                return Ok(());
            }
            "a probability in [0, 1]".to_string()
        }
    };
    Err(DataError::InvalidArgument {
        dataset: dataset.to_string(),
        arg: p.name,
        value: v,
        requirement,
    })
}

impl Generator {
    fn parse(name: &str, args: &[(String, f64)]) -> Result<Generator, DataError> {
        let a = Args::match_params(name, args)?;
        let g = match a.dataset {
            "spirals" => Generator::Spirals {
                classes: a.count(0),
                samples: a.count(1),
            },
            "parity" | "running_parity" => {
                a.ordered(0, 1)?;
                Generator::Parity {
                    min_length: a.count(0),
                    max_length: a.count(1),
                    samples: a.count(2),
                    running: a.dataset == "running_parity",
                }
            }
            "sum_trees" => {
                a.ordered(1, 2)?;
                Generator::SumTrees {
                    modulus: a.count(0),
                    min_leaves: a.count(1),
                    max_leaves: a.count(2),
                    samples: a.count(3),
                }
            }
            "counting" => Generator::Counting {
                digits: a.count(0),
                steps: a.count(1),
                samples: a.count(2),
            },
            "set_mode" => Generator::SetMode {
                points: a.count(0),
                digits: a.count(1),
                samples: a.count(2),
            },
            "triangles" => Generator::Triangles {
                nodes: a.count(0),
                edge_prob: a.values[1],
                samples: a.count(2),
            },
            "ring_smooth" => Generator::RingSmooth {
                points: a.count(0),
                samples: a.count(1),
            },
            "causal_filter" => Generator::CausalFilter {
                length: a.count(0),
                samples: a.count(1),
            },
            "rotated_patterns" => Generator::RotatedPatterns {
                size: a.count(0),
                classes: a.count(1),
                samples: a.count(2),
            },
            "vector_pairs" => Generator::VectorPairs {
                samples: a.count(0),
            },
            "labelled_trees" => Generator::LabelledTrees {
                max_depth: a.count(0),
                samples: a.count(1),
            },
            other => unreachable!("data set `{other}` is in SPECS but has no generator"),
        };
        let numbers = g.numbers_bound();
        if numbers > MAX_NUMBERS {
            return Err(DataError::InvalidArgument {
                dataset: a.dataset.to_string(),
                arg: "samples",
                value: g.samples() as f64,
                requirement: format!(
                    "small enough that the data set holds at most {MAX_NUMBERS} numbers \
                     (these arguments allow up to {numbers})"
                ),
            });
        }
        Ok(g)
    }

    fn samples(&self) -> usize {
        match *self {
            Generator::Spirals { samples, .. }
            | Generator::Parity { samples, .. }
            | Generator::SumTrees { samples, .. }
            | Generator::Counting { samples, .. }
            | Generator::SetMode { samples, .. }
            | Generator::Triangles { samples, .. }
            | Generator::RingSmooth { samples, .. }
            | Generator::CausalFilter { samples, .. }
            | Generator::RotatedPatterns { samples, .. }
            | Generator::VectorPairs { samples }
            | Generator::LabelledTrees { samples, .. } => samples,
        }
    }

    /// The ranges of the list lengths of an example: `parity` draws its
    /// length between the two bounds (and `running_parity` gives one target
    /// per element), `counting` gives `steps` targets.
    fn lengths(&self) -> Lengths {
        match *self {
            Generator::Parity {
                min_length,
                max_length,
                running,
                ..
            } => Lengths {
                input: Some((min_length, max_length)),
                target: running.then_some((min_length, max_length)),
            },
            Generator::Counting { steps, .. } => Lengths {
                input: None,
                target: Some((steps, steps)),
            },
            _ => Lengths {
                input: None,
                target: None,
            },
        }
    }

    /// An upper bound on the numbers one example holds, times `samples`.
    fn numbers_bound(&self) -> u64 {
        let per_example: u64 = match *self {
            Generator::Spirals { .. } => 3,
            Generator::Parity { max_length, .. } => 3 * max_length as u64 + 1,
            Generator::SumTrees {
                modulus,
                max_leaves,
                ..
            } => (modulus as u64 + 1) * max_leaves as u64 + 1,
            Generator::Counting { digits, steps, .. } => (digits + steps) as u64,
            Generator::SetMode { points, digits, .. } => (points * digits) as u64 + 1,
            Generator::Triangles { nodes, .. } => (nodes * nodes) as u64 + 1,
            Generator::RingSmooth { points, .. } => 2 * points as u64,
            Generator::CausalFilter { length, .. } => 2 * length as u64,
            Generator::RotatedPatterns { size, .. } => (size * size) as u64 + 1,
            Generator::VectorPairs { .. } => 7,
            // At most two edges a node: 2^(depth + 1) nodes of 4 numbers.
            Generator::LabelledTrees { max_depth, .. } => (4u64 << (max_depth + 1)) + 1,
        };
        per_example.saturating_mul(self.samples() as u64)
    }

    fn signature(&self) -> Signature {
        let (x, y) = match *self {
            Generator::Spirals { classes, .. } => {
                (DataType::Tensor(vec![2]), TargetType::Class(classes))
            }
            Generator::Parity { running, .. } => {
                let x = DataType::list(DataType::Tensor(vec![2]));
                let y = if running {
                    TargetType::Seq(Box::new(TargetType::Class(2)))
                } else {
                    TargetType::Class(2)
                };
                (x, y)
            }
            Generator::SumTrees { modulus, .. } => (
                DataType::tree(DataType::Tensor(vec![modulus])),
                TargetType::Class(modulus),
            ),
            Generator::Counting { digits, .. } => (
                DataType::Tensor(vec![digits]),
                TargetType::Seq(Box::new(TargetType::Class(digits))),
            ),
            Generator::SetMode { points, digits, .. } => (
                DataType::Tensor(vec![digits, points]),
                TargetType::Class(digits),
            ),
            Generator::Triangles { nodes, .. } => {
                (DataType::Tensor(vec![nodes, nodes]), TargetType::Class(4))
            }
            Generator::RingSmooth { points, .. } => (
                DataType::Tensor(vec![points]),
                TargetType::Tensor(vec![points]),
            ),
            Generator::CausalFilter { length, .. } => (
                DataType::Tensor(vec![length]),
                TargetType::Tensor(vec![length]),
            ),
            Generator::RotatedPatterns { size, classes, .. } => (
                DataType::Tensor(vec![size, size]),
                TargetType::Class(classes),
            ),
            Generator::VectorPairs { .. } => {
                (DataType::Tensor(vec![2, 3]), TargetType::Tensor(vec![1]))
            }
            Generator::LabelledTrees { .. } => (labelled_type(), TargetType::Class(2)),
        };
        Signature { x, y }
    }

    fn generate(&self, rng: &mut Rng, stop: &dyn Fn() -> bool) -> Result<Vec<Example>, DataError> {
        let n = self.samples();
        let mut out = Vec::with_capacity(n);
        match *self {
            Generator::Spirals { classes, .. } => {
                out.extend(counted(n, stop).map(|_| spiral(rng, classes)))
            }
            Generator::Parity {
                min_length,
                max_length,
                running,
                ..
            } => out.extend(counted(n, stop).map(|_| parity(rng, min_length, max_length, running))),
            Generator::SumTrees {
                modulus,
                min_leaves,
                max_leaves,
                ..
            } => {
                out.extend(counted(n, stop).map(|_| sum_tree(rng, modulus, min_leaves, max_leaves)))
            }
            Generator::Counting { digits, steps, .. } => {
                out.extend(counted(n, stop).map(|_| counting(rng, digits, steps)))
            }
            Generator::SetMode { points, digits, .. } => {
                for _ in counted(n, stop) {
                    out.push(set_mode(rng, points, digits)?);
                }
            }
            Generator::Triangles {
                nodes, edge_prob, ..
            } => out.extend(counted(n, stop).map(|_| triangles(rng, nodes, edge_prob))),
            Generator::RingSmooth { points, .. } => {
                out.extend(counted(n, stop).map(|_| ring_smooth(rng, points)))
            }
            Generator::CausalFilter { length, .. } => {
                out.extend(counted(n, stop).map(|_| causal_filter(rng, length)))
            }
            Generator::RotatedPatterns { size, classes, .. } => {
                let patterns = patterns(rng, size, classes);
                out.extend(counted(n, stop).map(|_| rotated_pattern(rng, &patterns, size)))
            }
            Generator::VectorPairs { .. } => out.extend(counted(n, stop).map(|_| vector_pair(rng))),
            Generator::LabelledTrees { max_depth, .. } => {
                out.extend(counted(n, stop).map(|_| labelled_tree(rng, max_depth)))
            }
        }
        Ok(out)
    }
}

/// The one-hot vector of length `n` with a 1 at `i`.
fn one_hot(n: usize, i: usize) -> Tensor {
    let mut t = Tensor::zeros(vec![n]);
    t.data[i] = 1.0;
    t
}

/// `n` standard normal numbers.
fn normals(rng: &mut Rng, n: usize) -> Vec<f64> {
    (0..n).map(|_| rng.normal()).collect()
}

/// A point on arm `c` of `classes` spiral arms:
/// `r ~ U[0, 1]`, `theta = 2 pi c / classes + 4 r + 0.2 N(0, 1)`,
/// `x = (r cos theta, r sin theta)`.
fn spiral(rng: &mut Rng, classes: usize) -> Example {
    let c = rng.below(classes);
    let r = rng.uniform();
    let theta =
        2.0 * PI * c as f64 / classes as f64 + SPIRAL_TURN * r + SPIRAL_ANGLE_NOISE * rng.normal();
    Example {
        x: Value::Tensor(Tensor::new(vec![2], vec![r * theta.cos(), r * theta.sin()])),
        y: Target::Class(c),
    }
}

/// A random bit string as a list of one-hot `R[2]`, with its parity (or the
/// parity of every prefix when `running`).
fn parity(rng: &mut Rng, min_length: usize, max_length: usize, running: bool) -> Example {
    let len = rng.between(min_length, max_length);
    let bits: Vec<usize> = (0..len).map(|_| rng.below(2)).collect();
    let x = Value::list(bits.iter().map(|&b| Value::Tensor(one_hot(2, b))).collect());
    let y = if running {
        let mut p = 0;
        Target::Seq(
            bits.iter()
                .map(|&b| {
                    p ^= b;
                    Target::Class(p)
                })
                .collect(),
        )
    } else {
        Target::Class(bits.iter().fold(0, |p, &b| p ^ b))
    };
    Example { x, y }
}

/// A tree with `n` leaves, `n` uniform in `min..=max`, one-hot digit leaves;
/// the label is the sum of the digits mod `modulus`.
fn sum_tree(rng: &mut Rng, modulus: usize, min_leaves: usize, max_leaves: usize) -> Example {
    let n = rng.between(min_leaves, max_leaves);
    let mut sum = 0;
    let x = random_tree(rng, n, &mut |rng| {
        let d = rng.below(modulus);
        sum = (sum + d) % modulus;
        Value::Tensor(one_hot(modulus, d))
    });
    Example {
        x,
        y: Target::Class(sum),
    }
}

/// A random binary tree with `n >= 1` leaves: `n` splits into `(j, n - j)`
/// with `j` uniform in `1..=n-1`; the split is drawn before the left subtree
/// is built, and leaves are drawn left to right.
///
/// Recursion depth is the tree's height, which is logarithmic in `n` with
/// overwhelming probability for these uniform splits (`n` is at most 10^5).
fn random_tree(rng: &mut Rng, n: usize, leaf: &mut impl FnMut(&mut Rng) -> Value) -> Value {
    if n <= 1 {
        return Value::leaf(leaf(rng));
    }
    let j = rng.between(1, n - 1);
    let l = random_tree(rng, j, leaf);
    let r = random_tree(rng, n - j, leaf);
    Value::node(l, r)
}

/// A one-hot start digit `s`; the targets are `s + 1, ..., s + steps`
/// mod `digits`.
fn counting(rng: &mut Rng, digits: usize, steps: usize) -> Example {
    let s = rng.below(digits);
    Example {
        x: Value::Tensor(one_hot(digits, s)),
        y: Target::Seq(
            (1..=steps)
                .map(|k| Target::Class((s + k) % digits))
                .collect(),
        ),
    }
}

/// `points` random digits as the columns of a one-hot `R[digits, points]`;
/// the label is the most frequent digit, and tied draws are redrawn.
fn set_mode(rng: &mut Rng, points: usize, digits: usize) -> Result<Example, DataError> {
    let mut counts = vec![0usize; digits];
    let mut drawn = vec![0usize; points];
    for _ in 0..MAX_SET_MODE_DRAWS {
        counts.fill(0);
        for d in drawn.iter_mut() {
            *d = rng.below(digits);
            counts[*d] += 1;
        }
        let Some(mode) = unique_argmax(&counts) else {
            continue;
        };
        let mut x = Tensor::zeros(vec![digits, points]);
        for (p, &d) in drawn.iter().enumerate() {
            x.data[d * points + p] = 1.0;
        }
        return Ok(Example {
            x: Value::Tensor(x),
            y: Target::Class(mode),
        });
    }
    Err(DataError::Generation {
        dataset: "set_mode".into(),
        reason: format!(
            "{MAX_SET_MODE_DRAWS} draws of {points} points over {digits} digits all had a tied mode; \
             use more points or fewer digits"
        ),
    })
}

/// The index of the largest count, or `None` if it is tied.
fn unique_argmax(counts: &[usize]) -> Option<usize> {
    let max = *counts.iter().max()?;
    let mut at = counts.iter().enumerate().filter(|(_, c)| **c == max);
    let (i, _) = at.next()?;
    at.next().is_none().then_some(i)
}

/// A G(n, p) graph as a symmetric 0/1 adjacency with zero diagonal; the
/// label is its number of triangles, capped at 3.
fn triangles(rng: &mut Rng, n: usize, p: f64) -> Example {
    let mut a = Tensor::zeros(vec![n, n]);
    for i in 0..n {
        for j in i + 1..n {
            if rng.uniform() < p {
                a.data[i * n + j] = 1.0;
                a.data[j * n + i] = 1.0;
            }
        }
    }
    let label = count_triangles(&a.data, n).min(3);
    Example {
        x: Value::Tensor(a),
        y: Target::Class(label),
    }
}

/// The number of triangles `{i < j < k}` of an `n x n` 0/1 adjacency matrix.
fn count_triangles(a: &[f64], n: usize) -> usize {
    let edge = |i: usize, j: usize| a[i * n + j] != 0.0;
    let mut count = 0;
    for i in 0..n {
        for j in i + 1..n {
            if !edge(i, j) {
                continue;
            }
            count += (j + 1..n).filter(|&k| edge(i, k) && edge(j, k)).count();
        }
    }
    count
}

/// Standard normal `x`; `y[i] = (x[i-1] + x[i] + x[i+1]) / 3`, indices
/// modulo `points`.
fn ring_smooth(rng: &mut Rng, points: usize) -> Example {
    let x = normals(rng, points);
    let y = (0..points)
        .map(|i| (x[(i + points - 1) % points] + x[i] + x[(i + 1) % points]) / 3.0)
        .collect();
    Example {
        x: Value::Tensor(Tensor::new(vec![points], x)),
        y: Target::Tensor(Tensor::new(vec![points], y)),
    }
}

/// Standard normal `x`; `y[t] = x[t] + 0.5 x[t-1] - 0.25 x[t-2]`, with
/// `x[t] = 0` for `t < 0`.
fn causal_filter(rng: &mut Rng, length: usize) -> Example {
    let x = normals(rng, length);
    let at = |t: usize, back: usize| if t >= back { x[t - back] } else { 0.0 };
    let y = (0..length)
        .map(|t| at(t, 0) + 0.5 * at(t, 1) - 0.25 * at(t, 2))
        .collect();
    Example {
        x: Value::Tensor(Tensor::new(vec![length], x.clone())),
        y: Target::Tensor(Tensor::new(vec![length], y)),
    }
}

/// The `classes` fixed standard-normal `size x size` patterns, row-major.
fn patterns(rng: &mut Rng, size: usize, classes: usize) -> Vec<Vec<f64>> {
    (0..classes).map(|_| normals(rng, size * size)).collect()
}

/// `pattern` rotated counter-clockwise by `quarter_turns * 90` degrees (as
/// numpy's `rot90`), then shifted circularly by `(dy, dx)`:
/// `out[(i + dy) % n][(j + dx) % n] = rot(pattern)[i][j]`.
fn transform(pattern: &[f64], n: usize, quarter_turns: usize, dy: usize, dx: usize) -> Vec<f64> {
    let mut out = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            // rot90: r[i][j] = p[j][n-1-i]; applied `quarter_turns` times.
            let (si, sj) = match quarter_turns % 4 {
                0 => (i, j),
                1 => (j, n - 1 - i),
                2 => (n - 1 - i, n - 1 - j),
                _ => (n - 1 - j, i),
            };
            out[((i + dy) % n) * n + (j + dx) % n] = pattern[si * n + sj];
        }
    }
    out
}

/// One of the fixed patterns, rotated, translated and with noise added.
fn rotated_pattern(rng: &mut Rng, patterns: &[Vec<f64>], size: usize) -> Example {
    let c = rng.below(patterns.len());
    let k = rng.below(4);
    let dy = rng.below(size);
    let dx = rng.below(size);
    let mut x = transform(&patterns[c], size, k, dy, dx);
    for v in x.iter_mut() {
        *v += PATTERN_NOISE * rng.normal();
    }
    Example {
        x: Value::Tensor(Tensor::new(vec![size, size], x)),
        y: Target::Class(c),
    }
}

/// Two standard-normal vectors `a`, `b` in R^3 as the rows of `R[2, 3]`;
/// `y = a . b + |a|^2`.
fn vector_pair(rng: &mut Rng) -> Example {
    let x = normals(rng, 6);
    let (a, b) = x.split_at(3);
    let y = a.iter().zip(b).map(|(a, b)| a * b).sum::<f64>() + a.iter().map(|a| a * a).sum::<f64>();
    Example {
        x: Value::Tensor(Tensor::new(vec![2, 3], x)),
        y: Target::Tensor(Tensor::new(vec![1], vec![y])),
    }
}

/// The input type of `labelled_trees`: `Labelled(R[2])` for
/// `functor LabelledF(A) = tip(A) | node(A, List(R[2] * X))` and
/// `data Labelled(A) = fix LabelledF(A)`: a tree whose nodes hold a list of
/// (label, subtree) pairs.
fn labelled_type() -> DataType {
    use crate::value::{CtorDecl, DataDecl};
    let a = DataType::Tensor(vec![2]);
    let edges = DataType::list(DataType::Tuple(vec![a.clone(), DataType::Rec(0)]));
    DataType::Data(std::sync::Arc::new(DataDecl {
        name: "Labelled(R[2])".into(),
        ctors: vec![
            CtorDecl {
                name: "tip".into(),
                fields: vec![a.clone()],
            },
            CtorDecl {
                name: "node".into(),
                fields: vec![a, edges],
            },
        ],
    }))
}

/// A tree of `Labelled(R[2])` at most `max_depth` edges deep: a node below
/// the limit has 0 to 2 labelled edges (a tip otherwise, and with chance
/// 1/4 before the limit); node values are standard normal, each label is
/// `[1, 0]` or `[0, 1]` with equal chances. The class is the parity of the
/// number of `[0, 1]` labels in the whole tree.
fn labelled_tree(rng: &mut Rng, max_depth: usize) -> Example {
    fn tree(rng: &mut Rng, depth: usize, odd: &mut usize) -> Value {
        let a = Value::Tensor(Tensor::new(vec![2], normals(rng, 2)));
        if depth == 0 || rng.below(4) == 0 {
            return Value::Node {
                ctor: 0,
                fields: vec![a],
            };
        }
        let edges = (0..rng.below(3))
            .map(|_| {
                let label = rng.below(2);
                *odd += label;
                let sub = tree(rng, depth - 1, odd);
                Value::Tuple(vec![Value::Tensor(one_hot(2, label)), sub])
            })
            .collect();
        Value::Node {
            ctor: 1,
            fields: vec![a, Value::list(edges)],
        }
    }
    let mut odd = 0;
    let x = tree(rng, max_depth, &mut odd);
    Example {
        x,
        y: Target::Class(odd % 2),
    }
}
