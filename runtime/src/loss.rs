//! Losses, their gradients with respect to the model's output, and accuracy.
//!
//! Each loss takes one example's output and target, returns the loss, and
//! writes d(loss)/d(output) into a gradient buffer of the output's length.
//! Reductions follow PyTorch's `reduction = "mean"`: the mean over the
//! output's elements for `mse` and `binary_cross_entropy`; `cross_entropy`
//! is per example. A `Seq` target (a `List` output) is scored position by
//! position and averaged over positions; the trainer then averages over the
//! examples of a batch. `cross_entropy` and `binary_cross_entropy` take
//! logits and are computed in the numerically stable forms written above
//! each function.

use crate::float::Float;
use crate::value::Target;

#[cfg(test)]
mod tests;

/// A loss named in a `train` block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loss {
    /// Mean squared error against a tensor target.
    Mse,
    /// Softmax cross-entropy of logits against a class index.
    CrossEntropy,
    /// Sigmoid cross-entropy of logits against a tensor of 0/1 targets.
    BinaryCrossEntropy,
}

/// A target that does not fit the output or the loss.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LossError {
    /// The output and the target have different numbers of elements.
    #[error("`{loss}` got an output of {output} numbers for a target of {target}")]
    Length {
        /// The loss's name.
        loss: &'static str,
        /// The output's length.
        output: usize,
        /// The target's length.
        target: usize,
    },
    /// A class index beyond the logits.
    #[error("class {class} is out of range for {classes} logits")]
    ClassOutOfRange {
        /// The class index.
        class: usize,
        /// The number of logits.
        classes: usize,
    },
    /// A target of the wrong kind for this loss (a class for `mse`, ...).
    #[error("`{loss}` cannot score a target of kind {found}")]
    WrongTarget {
        /// The loss's name.
        loss: &'static str,
        /// `class`, `tensor` or `list`.
        found: &'static str,
    },
}

impl Loss {
    /// The loss called `name` in a `train` block.
    pub fn from_name(name: &str) -> Option<Loss> {
        match name {
            "mse" => Some(Loss::Mse),
            "cross_entropy" => Some(Loss::CrossEntropy),
            "binary_cross_entropy" => Some(Loss::BinaryCrossEntropy),
            _ => None,
        }
    }

    /// The name a `train` block uses.
    pub fn name(self) -> &'static str {
        match self {
            Loss::Mse => "mse",
            Loss::CrossEntropy => "cross_entropy",
            Loss::BinaryCrossEntropy => "binary_cross_entropy",
        }
    }

    /// Whether accuracy is meaningful (classification losses).
    pub fn has_accuracy(self) -> bool {
        !matches!(self, Loss::Mse)
    }

    /// The loss of `out` against `y`; writes the gradient into `grad`
    /// (`grad.len() == out.len()`, overwritten).
    ///
    /// For a `Seq` target, `out` holds the positions' outputs back to back,
    /// all of one width; the loss and gradient are the mean over positions.
    ///
    /// Panics if `grad` and `out` differ in length (a caller's bug).
    pub fn eval<F: Float>(self, out: &[F], y: &Target, grad: &mut [F]) -> Result<F, LossError> {
        assert_eq!(
            out.len(),
            grad.len(),
            "the gradient buffer must match the output"
        );
        match y {
            Target::Seq(ys) => {
                if ys.is_empty() {
                    return if out.is_empty() {
                        Ok(F::ZERO)
                    } else {
                        Err(self.length(out.len(), 0))
                    };
                }
                if !out.len().is_multiple_of(ys.len()) {
                    return Err(self.length(out.len(), ys.len()));
                }
                let width = out.len() / ys.len();
                let scale = F::from_f64(1.0 / ys.len() as f64);
                let mut total = F::ZERO;
                for ((o, g), y) in out.chunks(width).zip(grad.chunks_mut(width)).zip(ys) {
                    if matches!(y, Target::Seq(_)) {
                        return Err(LossError::WrongTarget {
                            loss: self.name(),
                            found: "list of lists",
                        });
                    }
                    total += self.eval(o, y, g)?;
                    for gi in g.iter_mut() {
                        *gi *= scale;
                    }
                }
                Ok(total * scale)
            }
            Target::Class(c) => match self {
                Loss::CrossEntropy if *c < out.len() => Ok(cross_entropy(out, *c, grad)),
                Loss::CrossEntropy => Err(LossError::ClassOutOfRange {
                    class: *c,
                    classes: out.len(),
                }),
                _ => Err(LossError::WrongTarget {
                    loss: self.name(),
                    found: "class",
                }),
            },
            Target::Tensor(t) => {
                if t.data.len() != out.len() {
                    return Err(self.length(out.len(), t.data.len()));
                }
                let target = |i: usize| F::from_f64(t.data[i]);
                match self {
                    Loss::Mse => Ok(mse_with(out, target, grad)),
                    Loss::BinaryCrossEntropy => Ok(binary_cross_entropy_with(out, target, grad)),
                    Loss::CrossEntropy => Err(LossError::WrongTarget {
                        loss: self.name(),
                        found: "tensor",
                    }),
                }
            }
        }
    }

    fn length(self, output: usize, target: usize) -> LossError {
        LossError::Length {
            loss: self.name(),
            output,
            target,
        }
    }

    /// How many predictions of `out` are right, out of how many, or `None`
    /// for `mse`. A class is right when it is the argmax of the logits; a
    /// binary target when the logit's sign agrees with `t >= 0.5`; a `Seq`
    /// target counts each position.
    pub fn correct<F: Float>(self, out: &[F], y: &Target) -> Option<(usize, usize)> {
        if !self.has_accuracy() {
            return None;
        }
        match y {
            Target::Class(c) => Some((usize::from(argmax(out) == Some(*c)), 1)),
            Target::Tensor(t) => {
                let right = out
                    .iter()
                    .zip(&t.data)
                    .filter(|(z, t)| (z.to_f64() > 0.0) == (**t >= 0.5))
                    .count();
                Some((right, t.data.len()))
            }
            Target::Seq(ys) if ys.is_empty() => Some((0, 0)),
            Target::Seq(ys) => {
                let width = out.len() / ys.len();
                if width == 0 {
                    return Some((0, ys.len()));
                }
                let mut acc = (0, 0);
                for (o, y) in out.chunks(width).zip(ys) {
                    let (r, n) = self.correct(o, y)?;
                    acc = (acc.0 + r, acc.1 + n);
                }
                Some(acc)
            }
        }
    }
}

/// The index of the largest element (the first on ties, NaNs skipped), or
/// `None` for an empty or all-NaN slice.
pub fn argmax<F: Float>(xs: &[F]) -> Option<usize> {
    let mut best: Option<(usize, F)> = None;
    for (i, &x) in xs.iter().enumerate() {
        if x.partial_cmp(&x).is_none() {
            continue;
        }
        match best {
            Some((_, b)) if x <= b => {}
            _ => best = Some((i, x)),
        }
    }
    best.map(|(i, _)| i)
}

/// Mean squared error: `L = (1/n) sum (o_i - t_i)^2`,
/// `dL/do_i = 2 (o_i - t_i) / n`.
pub fn mse<F: Float>(out: &[F], target: &[F], grad: &mut [F]) -> F {
    assert_eq!(
        out.len(),
        target.len(),
        "mse: output and target lengths differ"
    );
    mse_with(out, |i| target[i], grad)
}

fn mse_with<F: Float>(out: &[F], target: impl Fn(usize) -> F, grad: &mut [F]) -> F {
    if out.is_empty() {
        return F::ZERO;
    }
    let inv_n = F::from_f64(1.0 / out.len() as f64);
    let two = F::from_f64(2.0);
    let mut sum = F::ZERO;
    for (i, (o, g)) in out.iter().zip(grad.iter_mut()).enumerate() {
        let d = *o - target(i);
        sum += d * d;
        *g = two * d * inv_n;
    }
    sum * inv_n
}

/// `out[i] = z_i - m - ln(sum_j exp(z_j - m))` with `m = max_j z_j`, which
/// never overflows; returns the log-sum-exp `m + ln(sum_j exp(z_j - m))`.
pub fn log_softmax<F: Float>(logits: &[F], out: &mut [F]) -> F {
    assert_eq!(
        logits.len(),
        out.len(),
        "log_softmax: buffer lengths differ"
    );
    let m = logits
        .iter()
        .fold(F::from_f64(f64::NEG_INFINITY), |a, &b| a.max(b));
    let mut sum = F::ZERO;
    for &z in logits {
        sum += (z - m).exp();
    }
    let lse = m + sum.ln();
    for (o, &z) in out.iter_mut().zip(logits) {
        *o = z - lse;
    }
    lse
}

/// Softmax cross-entropy from logits: `L = lse(z) - z_c`,
/// `dL/dz_i = softmax(z)_i - [i = c]`.
///
/// Panics if `class >= logits.len()` (checked by `Loss::eval`).
pub fn cross_entropy<F: Float>(logits: &[F], class: usize, grad: &mut [F]) -> F {
    assert!(class < logits.len(), "cross_entropy: class out of range");
    let lse = log_softmax(logits, grad);
    for g in grad.iter_mut() {
        *g = g.exp();
    }
    grad[class] -= F::ONE;
    lse - logits[class]
}

/// Sigmoid cross-entropy from logits, the mean over elements:
/// `L = (1/n) sum max(z, 0) - z t + ln(1 + exp(-|z|))`,
/// `dL/dz_i = (sigmoid(z_i) - t_i) / n`.
pub fn binary_cross_entropy<F: Float>(logits: &[F], target: &[F], grad: &mut [F]) -> F {
    assert_eq!(
        logits.len(),
        target.len(),
        "binary_cross_entropy: lengths differ"
    );
    binary_cross_entropy_with(logits, |i| target[i], grad)
}

fn binary_cross_entropy_with<F: Float>(
    logits: &[F],
    target: impl Fn(usize) -> F,
    grad: &mut [F],
) -> F {
    if logits.is_empty() {
        return F::ZERO;
    }
    let inv_n = F::from_f64(1.0 / logits.len() as f64);
    let mut sum = F::ZERO;
    for (i, (&z, g)) in logits.iter().zip(grad.iter_mut()).enumerate() {
        let t = target(i);
        sum += z.max(F::ZERO) - z * t + (-z.abs()).exp().ln_1p();
        *g = (sigmoid(z) - t) * inv_n;
    }
    sum * inv_n
}

/// `1 / (1 + exp(-z))`, evaluated so that `exp` never overflows.
pub fn sigmoid<F: Float>(z: F) -> F {
    if z >= F::ZERO {
        F::ONE / (F::ONE + (-z).exp())
    } else {
        let e = z.exp();
        e / (F::ONE + e)
    }
}
