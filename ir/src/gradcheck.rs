//! Gradient checking: the reverse derivative against central finite
//! differences, in f64.
//!
//! For every entry of every parameter slot, the numerical derivative of the
//! mean loss over a batch, `(L(p + ε e) − L(p − ε e)) / 2ε`, is compared with
//! the reverse derivative's gradient; and, as JAX's `check_vjp` does, the
//! whole gradient is also checked along one random direction `t`:
//! `(L(p + ε t) − L(p − ε t)) / 2ε` against `⟨∇L, t⟩`. Errors are relative,
//! `|a − n| / max(|a|, |n|, FLOOR)`; the floor keeps gradients that are zero
//! up to rounding from reporting huge relative errors.
//!
//! A finite difference is only meaningful where the loss is smooth within
//! `ε` of the point. Where a ReLU, `abs` or `max` switches branch inside
//! that interval, the two-sided difference mixes both sides and disagrees
//! with any derivative. Such entries are recognised because the differences
//! at steps `ε` and `ε/2` disagree with each other (on a smooth function they
//! agree to `O(ε²)`); they are counted as skipped rather than compared. A
//! wrong derivative on a smooth stretch still shows: there the two
//! differences agree with each other and not with it.

use cdlc_runtime::value::{Example, Tensor};

use crate::interp::{InterpError, loss_and_grad};
use crate::ir::{FuncId, Module};
use crate::rng::Rng;

/// The finite-difference step.
pub const EPS: f64 = 1e-5;
/// The smallest denominator of a relative error.
pub const FLOOR: f64 = 1e-3;
/// The largest relative error a correct derivative shows in f64 with these
/// settings (truncation ~ε², rounding ~1e-16/ε, both far below it).
pub const TOLERANCE: f64 = 1e-6;
/// How many random directions are tried before the last one is reported
/// even if the loss is not smooth along it.
const DIRECTIONS: usize = 3;

/// The result for one parameter slot.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamCheck {
    /// The slot's qualified name.
    pub name: String,
    /// The largest relative error over the slot's entries.
    pub max_rel_error: f64,
    /// Entries skipped because the loss is not smooth within `EPS` of them.
    pub skipped: usize,
}

/// The result of a gradient check.
#[derive(Clone, Debug, PartialEq)]
pub struct GradCheck {
    /// One entry per parameter slot, in slot order.
    pub params: Vec<ParamCheck>,
    /// The relative error along one random direction of all parameters.
    pub direction_rel_error: f64,
}

impl GradCheck {
    /// The largest relative error of the whole check.
    pub fn max_rel_error(&self) -> f64 {
        self.params
            .iter()
            .map(|p| p.max_rel_error)
            .fold(self.direction_rel_error, f64::max)
    }

    /// Whether every error is within `TOLERANCE`.
    pub fn passed(&self) -> bool {
        self.max_rel_error() <= TOLERANCE
    }
}

/// `|a − n| / max(|a|, |n|, FLOOR)`.
pub fn rel_error(analytic: f64, numeric: f64) -> f64 {
    (analytic - numeric).abs() / analytic.abs().max(numeric.abs()).max(FLOOR)
}

/// Checks the training function `train` (from `autodiff::differentiate`) at
/// `params` on `batch` with the reference interpreter; `seed` draws the
/// random direction.
pub fn gradcheck(
    module: &Module,
    train: FuncId,
    params: &[Tensor],
    batch: &[Example],
    seed: u64,
) -> Result<GradCheck, InterpError> {
    let names: Vec<String> = module.functions[train]
        .params
        .iter()
        .map(|(_, d)| d.name.clone())
        .collect();
    gradcheck_with(&names, params, seed, |p| {
        loss_and_grad(module, train, p, batch)
    })
}

/// Checks any implementation of a loss and its gradient, `loss_and_grad`
/// (the reference interpreter, or compiled kernels), at `params`: every
/// entry of every slot against central differences of the same loss, and
/// one random direction of all of them (`seed`). `names` names the slots.
pub fn gradcheck_with<E>(
    names: &[String],
    params: &[Tensor],
    seed: u64,
    loss_and_grad: impl FnMut(&[Tensor]) -> Result<(f64, Vec<Tensor>), E>,
) -> Result<GradCheck, E> {
    gradcheck_entries(names, params, seed, usize::MAX, loss_and_grad)
}

/// `gradcheck_with`, comparing at most `per_slot` entries of each slot
/// (evenly spaced, first and last included) with finite differences; the
/// random direction still covers every entry. For large models, where a
/// finite difference per entry costs two full evaluations each.
pub fn gradcheck_entries<E>(
    names: &[String],
    params: &[Tensor],
    seed: u64,
    per_slot: usize,
    mut loss_and_grad: impl FnMut(&[Tensor]) -> Result<(f64, Vec<Tensor>), E>,
) -> Result<GradCheck, E> {
    let (_, grads) = loss_and_grad(params)?;
    let mut loss = |p: &[Tensor]| loss_and_grad(p).map(|(l, _)| l);
    let mut checks = Vec::with_capacity(params.len());
    let mut shifted = params.to_vec();
    for (slot, (name, grad)) in names.iter().zip(&grads).enumerate() {
        let (mut worst, mut skipped) = (0.0f64, 0);
        let len = params[slot].data.len();
        let picked: Vec<usize> = if len <= per_slot {
            (0..len).collect()
        } else {
            let k = per_slot.max(2);
            let mut v: Vec<usize> = (0..k).map(|t| t * (len - 1) / (k - 1)).collect();
            v.dedup();
            v
        };
        for i in picked {
            let x = params[slot].data[i];
            let mut difference = |h: f64| -> Result<f64, E> {
                shifted[slot].data[i] = x + h;
                let up = loss(&shifted)?;
                shifted[slot].data[i] = x - h;
                let down = loss(&shifted)?;
                shifted[slot].data[i] = x;
                Ok((up - down) / (2.0 * h))
            };
            let (wide, narrow) = (difference(EPS)?, difference(EPS / 2.0)?);
            if rel_error(wide, narrow) > TOLERANCE {
                skipped += 1;
            } else {
                worst = worst.max(rel_error(grad.data[i], narrow));
            }
        }
        checks.push(ParamCheck {
            name: name.clone(),
            max_rel_error: worst,
            skipped,
        });
    }
    // A random direction; a few are drawn if one crosses a kink.
    let mut rng = Rng::new(seed);
    let mut direction_rel_error = 0.0;
    for _ in 0..DIRECTIONS {
        let direction: Vec<Vec<f64>> = params
            .iter()
            .map(|p| p.data.iter().map(|_| rng.normal()).collect())
            .collect();
        let along = |step: f64| -> Vec<Tensor> {
            params
                .iter()
                .zip(&direction)
                .map(|(p, t)| {
                    let data = p.data.iter().zip(t).map(|(x, t)| x + step * t).collect();
                    Tensor::new(p.shape.clone(), data)
                })
                .collect()
        };
        let wide = (loss(&along(EPS))? - loss(&along(-EPS))?) / (2.0 * EPS);
        let narrow = (loss(&along(EPS / 2.0))? - loss(&along(-EPS / 2.0))?) / EPS;
        let analytic: f64 = grads
            .iter()
            .zip(&direction)
            .map(|(g, t)| g.data.iter().zip(t).map(|(g, t)| g * t).sum::<f64>())
            .sum();
        direction_rel_error = rel_error(analytic, narrow);
        if rel_error(wide, narrow) <= TOLERANCE {
            break;
        }
    }
    Ok(GradCheck {
        params: checks,
        direction_rel_error,
    })
}

#[cfg(test)]
mod tests;
