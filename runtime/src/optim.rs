//! Optimizers, defined exactly as PyTorch defines them.
//!
//! One `Optimizer` owns the state (momentum buffers, squared-gradient
//! sums, moment estimates) of one flat parameter buffer and updates it in
//! place from a gradient buffer of the same length. With `g` the gradient,
//! `p` the parameter and `t` the 1-based step count:
//!
//! ```text
//! sgd(lr):              p -= lr g
//! momentum(lr, beta):   b = beta b + g              (b = g at t = 1)
//!                       p -= lr b
//! nesterov(lr, beta):   b = beta b + g              (b = g at t = 1)
//!                       p -= lr (g + beta b)
//! adagrad(lr, eps):     s += g^2
//!                       p -= lr g / (sqrt(s) + eps)
//! adam(lr, beta1, beta2, eps):
//!                       m = m + (1 - beta1) (g - m)
//!                       v = beta2 v + (1 - beta2) g^2
//!                       p -= (lr / (1 - beta1^t)) m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
//! ```
//!
//! These are `torch.optim.SGD` (dampening 0, no weight decay), with
//! `nesterov=True` for `nesterov`, `torch.optim.Adagrad` (no learning-rate
//! decay, initial accumulator 0) and `torch.optim.Adam` (no AMSGrad). As in
//! PyTorch, the scalar factors are computed in f64 and the buffers are kept
//! in the parameters' own type.

use std::fmt;

use crate::float::Float;

#[cfg(test)]
mod tests;

/// An optimizer and its hyper-parameters, as a `train` block names them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum OptimConfig {
    /// Plain stochastic gradient descent.
    Sgd {
        /// The learning rate.
        lr: f64,
    },
    /// SGD with (heavy-ball) momentum.
    Momentum {
        /// The learning rate.
        lr: f64,
        /// The momentum factor.
        beta: f64,
    },
    /// SGD with Nesterov momentum.
    Nesterov {
        /// The learning rate.
        lr: f64,
        /// The momentum factor.
        beta: f64,
    },
    /// Adagrad.
    Adagrad {
        /// The learning rate.
        lr: f64,
        /// Added to the root of the squared-gradient sum.
        eps: f64,
    },
    /// Adam with bias correction.
    Adam {
        /// The learning rate.
        lr: f64,
        /// The decay of the first-moment estimate.
        beta1: f64,
        /// The decay of the second-moment estimate.
        beta2: f64,
        /// Added to the root of the second moment.
        eps: f64,
    },
}

impl Default for OptimConfig {
    /// `adam(lr = 0.001)`, the default of a `train` block.
    fn default() -> OptimConfig {
        OptimConfig::Adam {
            lr: 0.001,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }
}

/// A bad optimizer call in a `train` block.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum OptimError {
    /// Not one of the optimizers.
    #[error(
        "unknown optimizer `{name}`; the optimizers are sgd, momentum, nesterov, adagrad, adam"
    )]
    Unknown {
        /// The name used.
        name: String,
    },
    /// A required argument is missing.
    #[error("`{optim}` needs the argument `{arg}` (it takes {})", .expected.join(", "))]
    MissingArgument {
        /// The optimizer.
        optim: &'static str,
        /// The missing argument.
        arg: &'static str,
        /// Every argument it takes.
        expected: Vec<&'static str>,
    },
    /// An argument it does not take, or one given twice.
    #[error("`{optim}` has no argument `{arg}`, or it was given twice (it takes {})", .expected.join(", "))]
    UnexpectedArgument {
        /// The optimizer.
        optim: &'static str,
        /// The argument used.
        arg: String,
        /// Every argument it takes.
        expected: Vec<&'static str>,
    },
    /// A value out of range.
    #[error("argument `{arg}` of `{optim}` is {value}, but it must be {requirement}")]
    InvalidArgument {
        /// The optimizer.
        optim: &'static str,
        /// The argument.
        arg: &'static str,
        /// The value given.
        value: f64,
        /// What it must be.
        requirement: &'static str,
    },
}

/// The range an argument must lie in.
#[derive(Clone, Copy)]
enum Range {
    /// Finite and > 0.
    Positive,
    /// In [0, 1).
    Decay,
    /// Finite and >= 0.
    NonNegative,
}

impl Range {
    fn contains(self, v: f64) -> bool {
        match self {
            Range::Positive => v.is_finite() && v > 0.0,
            Range::Decay => (0.0..1.0).contains(&v),
            Range::NonNegative => v.is_finite() && v >= 0.0,
        }
    }

    fn requirement(self) -> &'static str {
        match self {
            Range::Positive => "a positive number",
            Range::Decay => "in [0, 1)",
            Range::NonNegative => "a non-negative number",
        }
    }
}

/// One argument: its name, its default (`None` when required) and range.
type ArgSpec = (&'static str, Option<f64>, Range);

const SPECS: &[(&str, &[ArgSpec])] = &[
    ("sgd", &[("lr", None, Range::Positive)]),
    (
        "momentum",
        &[
            ("lr", None, Range::Positive),
            ("beta", Some(0.9), Range::Decay),
        ],
    ),
    (
        "nesterov",
        &[
            ("lr", None, Range::Positive),
            ("beta", Some(0.9), Range::Decay),
        ],
    ),
    (
        "adagrad",
        &[
            ("lr", None, Range::Positive),
            ("eps", Some(1e-10), Range::NonNegative),
        ],
    ),
    (
        "adam",
        &[
            ("lr", Some(0.001), Range::Positive),
            ("beta1", Some(0.9), Range::Decay),
            ("beta2", Some(0.999), Range::Decay),
            ("eps", Some(1e-8), Range::NonNegative),
        ],
    ),
];

/// The optimizers' names, in the order the language lists them.
pub fn names() -> Vec<&'static str> {
    SPECS.iter().map(|(n, _)| *n).collect()
}

/// The argument names of optimizer `name`, in positional order, or `None`
/// for an unknown name.
pub fn arguments(name: &str) -> Option<Vec<&'static str>> {
    SPECS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, specs)| specs.iter().map(|s| s.0).collect())
}

impl OptimConfig {
    /// The optimizer of a `train` block's `optim = name(args)`, with the
    /// defaults filled in: `beta = 0.9` for `momentum` and `nesterov`,
    /// `eps = 1e-10` for `adagrad`, and `lr = 0.001, beta1 = 0.9,
    /// beta2 = 0.999, eps = 1e-8` for `adam`. Every other `lr` is required.
    pub fn from_call(name: &str, args: &[(String, f64)]) -> Result<OptimConfig, OptimError> {
        let Some((optim, specs)) = SPECS.iter().find(|(n, _)| *n == name) else {
            return Err(OptimError::Unknown {
                name: name.to_string(),
            });
        };
        let expected = || specs.iter().map(|s| s.0).collect::<Vec<_>>();
        let mut given: Vec<Option<f64>> = vec![None; specs.len()];
        for (arg, v) in args {
            match specs.iter().position(|s| s.0 == arg) {
                Some(i) if given[i].is_none() => given[i] = Some(*v),
                _ => {
                    return Err(OptimError::UnexpectedArgument {
                        optim,
                        arg: arg.clone(),
                        expected: expected(),
                    });
                }
            }
        }
        let mut v = Vec::with_capacity(specs.len());
        for (&(arg, default, range), given) in specs.iter().zip(given) {
            let Some(value) = given.or(default) else {
                return Err(OptimError::MissingArgument {
                    optim,
                    arg,
                    expected: expected(),
                });
            };
            if !range.contains(value) {
                return Err(OptimError::InvalidArgument {
                    optim,
                    arg,
                    value,
                    requirement: range.requirement(),
                });
            }
            v.push(value);
        }
        Ok(match *optim {
            "sgd" => OptimConfig::Sgd { lr: v[0] },
            "momentum" => OptimConfig::Momentum {
                lr: v[0],
                beta: v[1],
            },
            "nesterov" => OptimConfig::Nesterov {
                lr: v[0],
                beta: v[1],
            },
            "adagrad" => OptimConfig::Adagrad {
                lr: v[0],
                eps: v[1],
            },
            _ => OptimConfig::Adam {
                lr: v[0],
                beta1: v[1],
                beta2: v[2],
                eps: v[3],
            },
        })
    }

    /// The name a `train` block uses.
    pub fn name(&self) -> &'static str {
        match self {
            OptimConfig::Sgd { .. } => "sgd",
            OptimConfig::Momentum { .. } => "momentum",
            OptimConfig::Nesterov { .. } => "nesterov",
            OptimConfig::Adagrad { .. } => "adagrad",
            OptimConfig::Adam { .. } => "adam",
        }
    }

    /// How many state buffers (each as long as the parameters) it keeps.
    fn buffers(&self) -> usize {
        match self {
            OptimConfig::Sgd { .. } => 0,
            OptimConfig::Momentum { .. }
            | OptimConfig::Nesterov { .. }
            | OptimConfig::Adagrad { .. } => 1,
            OptimConfig::Adam { .. } => 2,
        }
    }
}

impl fmt::Display for OptimConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            OptimConfig::Sgd { lr } => write!(f, "sgd(lr = {lr})"),
            OptimConfig::Momentum { lr, beta } => write!(f, "momentum(lr = {lr}, beta = {beta})"),
            OptimConfig::Nesterov { lr, beta } => write!(f, "nesterov(lr = {lr}, beta = {beta})"),
            OptimConfig::Adagrad { lr, eps } => write!(f, "adagrad(lr = {lr}, eps = {eps})"),
            OptimConfig::Adam {
                lr,
                beta1,
                beta2,
                eps,
            } => write!(
                f,
                "adam(lr = {lr}, beta1 = {beta1}, beta2 = {beta2}, eps = {eps})"
            ),
        }
    }
}

/// The index of the first NaN or infinite entry of `xs`, if any.
///
/// Training calls this on every step's gradient and parameters, so it
/// first runs a branch-free pass (`x * 0` is 0 for every finite `x`, and
/// NaN otherwise) that the compiler vectorises, and only searches when
/// that pass finds something.
pub fn first_non_finite<F: Float>(xs: &[F]) -> Option<usize> {
    let probe = xs.iter().fold(F::ZERO, |acc, &x| acc + x * F::ZERO);
    if probe == F::ZERO {
        return None;
    }
    xs.iter().position(|x| !x.to_f64().is_finite())
}

/// An optimizer with its state for one flat parameter buffer.
#[derive(Clone, Debug)]
pub struct Optimizer<F> {
    config: OptimConfig,
    steps: u64,
    /// The momentum buffer, the squared-gradient sum, or Adam's first moment.
    first: Vec<F>,
    /// Adam's second moment.
    second: Vec<F>,
}

impl<F: Float> Optimizer<F> {
    /// A fresh optimizer (zero state, no step taken) for `len` parameters.
    pub fn new(config: OptimConfig, len: usize) -> Optimizer<F> {
        let n = config.buffers();
        Optimizer {
            config,
            steps: 0,
            first: if n >= 1 {
                vec![F::ZERO; len]
            } else {
                Vec::new()
            },
            second: if n >= 2 {
                vec![F::ZERO; len]
            } else {
                Vec::new()
            },
        }
    }

    /// The configuration.
    pub fn config(&self) -> &OptimConfig {
        &self.config
    }

    /// How many steps have been taken.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Updates `params` in place from `grads`.
    ///
    /// Panics if the buffers' lengths differ from each other or from the
    /// length the optimizer was made for: the parameter layout is fixed by
    /// the compiled model, so a mismatch is a bug, not a user error.
    pub fn step(&mut self, params: &mut [F], grads: &[F]) {
        assert_eq!(
            params.len(),
            grads.len(),
            "parameter and gradient buffers differ in length"
        );
        if self.config.buffers() > 0 {
            assert_eq!(
                params.len(),
                self.first.len(),
                "optimizer state was made for another length"
            );
        }
        self.steps += 1;
        match self.config {
            OptimConfig::Sgd { lr } => {
                let lr = F::from_f64(lr);
                for (p, &g) in params.iter_mut().zip(grads) {
                    *p -= lr * g;
                }
            }
            OptimConfig::Momentum { lr, beta } => self.momentum(params, grads, lr, beta, false),
            OptimConfig::Nesterov { lr, beta } => self.momentum(params, grads, lr, beta, true),
            OptimConfig::Adagrad { lr, eps } => {
                let (lr, eps) = (F::from_f64(lr), F::from_f64(eps));
                for ((p, &g), s) in params.iter_mut().zip(grads).zip(&mut self.first) {
                    *s += g * g;
                    *p -= lr * g / (s.sqrt() + eps);
                }
            }
            OptimConfig::Adam {
                lr,
                beta1,
                beta2,
                eps,
            } => {
                let t = self.steps as f64;
                let bias1 = 1.0 - beta1.powf(t);
                let bias2_sqrt = F::from_f64((1.0 - beta2.powf(t)).sqrt());
                let step_size = F::from_f64(lr / bias1);
                let (w1, b2, w2, eps) = (
                    F::from_f64(1.0 - beta1),
                    F::from_f64(beta2),
                    F::from_f64(1.0 - beta2),
                    F::from_f64(eps),
                );
                let state = self.first.iter_mut().zip(self.second.iter_mut());
                for ((p, &g), (m, v)) in params.iter_mut().zip(grads).zip(state) {
                    *m += w1 * (g - *m);
                    *v = b2 * *v + w2 * g * g;
                    *p -= step_size * *m / (v.sqrt() / bias2_sqrt + eps);
                }
            }
        }
    }

    fn momentum(&mut self, params: &mut [F], grads: &[F], lr: f64, beta: f64, nesterov: bool) {
        let (lr, beta) = (F::from_f64(lr), F::from_f64(beta));
        let first = self.steps == 1;
        for ((p, &g), b) in params.iter_mut().zip(grads).zip(&mut self.first) {
            *b = if first { g } else { beta * *b + g };
            let update = if nesterov { g + beta * *b } else { *b };
            *p -= lr * update;
        }
    }
}
