//! Gradient checking: the reverse derivative against central finite
//! differences, in f64.
//!
//! Entries of the parameter slots are compared one by one: the numerical
//! derivative of the mean loss over a batch, `(L(p + ε e) − L(p − ε e)) / 2ε`,
//! against the reverse derivative's gradient. As JAX's `check_vjp` does, the
//! whole gradient is also checked along random directions `t`:
//! `(L(p + ε t) − L(p − ε t)) / 2ε` against `⟨∇L, t⟩`; one direction tests
//! every entry at once, for the price of two to four evaluations. Errors are
//! relative, `|a − n| / max(|a|, |n|, FLOOR)`; the floor keeps gradients
//! that are zero up to rounding from reporting huge relative errors.
//!
//! Which entries are compared one by one is a `Coords`: all of them, an
//! evenly spaced handful per slot, or a seeded random sample of a fixed
//! total size, so that a model with millions of weights is checked in a
//! bounded number of evaluations.
//!
//! A finite difference is only meaningful where the loss is smooth within
//! `ε` of the point. Where a ReLU, `abs` or `max` switches branch inside
//! that interval, the two-sided difference mixes both sides and disagrees
//! with any derivative. So a difference at `ε` that agrees with the
//! gradient settles the comparison (two evaluations); one that disagrees is
//! taken again at `ε/2`. If the two differences disagree with each other
//! (on a smooth function they agree to `O(ε²)`), the entry (or direction)
//! is counted as skipped rather than compared. A wrong derivative on a
//! smooth stretch still shows: there the two differences agree with each
//! other and not with it.
//!
//! A kink exactly at the point (a ReLU whose input is exactly zero, common
//! with zero-initialised biases and one-hot data) fools that test: both
//! differences straddle it symmetrically and agree with each other, on the
//! mean of the two one-sided slopes. So a disagreeing difference is also
//! split into its one-sided halves: on a smooth function the gap between the
//! forward and the backward slope is `ε f''` and halves with `ε`; at a kink
//! it is the jump in slope and does not. A gap that stays as `ε` halves, and
//! is large enough to explain the disagreement, marks the entry as skipped.
//!
//! A check never passes vacuously: one that compared nothing (every entry
//! and direction skipped), or whose gradient is zero in every entry (so that
//! agreement says nothing, as for a loss that does not depend on the
//! parameters), does not pass.

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
/// How many random directions are drawn for each one wanted, at most, when
/// directions cross points where the loss is not smooth.
const TRIES_PER_DIRECTION: usize = 3;

/// Which entries are compared one by one with finite differences.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Coords {
    /// Every entry of every slot.
    All,
    /// At most this many entries of each slot, evenly spaced, first and last
    /// included.
    PerSlot(usize),
    /// This many entries in all, drawn at random (from the check's seed):
    /// one from each slot while the budget lasts, the rest in proportion to
    /// the slots' sizes.
    Sample(usize),
}

/// How much a check compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sampling {
    /// The entries compared one by one.
    pub coords: Coords,
    /// How many random directions of all parameters are compared.
    pub directions: usize,
}

impl Sampling {
    /// Every entry, and one random direction.
    pub const FULL: Sampling = Sampling {
        coords: Coords::All,
        directions: 1,
    };
}

/// The result for one parameter slot.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamCheck {
    /// The slot's qualified name.
    pub name: String,
    /// The largest relative error over the slot's compared entries.
    pub max_rel_error: f64,
    /// How many entries the slot has.
    pub entries: usize,
    /// Entries compared with finite differences.
    pub compared: usize,
    /// Entries picked but skipped because the loss is not smooth within
    /// `EPS` of them.
    pub skipped: usize,
}

/// The result of a gradient check.
#[derive(Clone, Debug, PartialEq)]
pub struct GradCheck {
    /// One entry per parameter slot, in slot order.
    pub params: Vec<ParamCheck>,
    /// The largest relative error along the compared random directions.
    pub direction_rel_error: f64,
    /// Random directions compared.
    pub directions_compared: usize,
    /// Random directions skipped because the loss is not smooth along them.
    pub directions_skipped: usize,
    /// Whether every entry of the gradient is exactly zero.
    pub zero_gradient: bool,
}

impl GradCheck {
    /// The largest relative error of the whole check.
    pub fn max_rel_error(&self) -> f64 {
        self.params
            .iter()
            .map(|p| p.max_rel_error)
            .fold(self.direction_rel_error, f64::max)
    }

    /// How many entries and directions were compared in all.
    pub fn compared(&self) -> usize {
        self.params.iter().map(|p| p.compared).sum::<usize>() + self.directions_compared
    }

    /// Whether every error is within `TOLERANCE`, something was compared,
    /// and the gradient is not zero everywhere.
    pub fn passed(&self) -> bool {
        self.max_rel_error() <= TOLERANCE && self.compared() > 0 && !self.zero_gradient
    }
}

/// `|a − n| / max(|a|, |n|, FLOOR)`.
pub fn rel_error(analytic: f64, numeric: f64) -> f64 {
    (analytic - numeric).abs() / analytic.abs().max(numeric.abs()).max(FLOOR)
}

/// Checks the training function `train` (from `autodiff::differentiate`) at
/// `params` on `batch` with the reference interpreter, every entry and one
/// random direction (drawn from `seed`).
pub fn gradcheck(
    module: &Module,
    train: FuncId,
    params: &[Tensor],
    batch: &[Example],
    seed: u64,
) -> Result<GradCheck, InterpError> {
    gradcheck_sampled(module, train, params, batch, seed, Sampling::FULL)
}

/// `gradcheck`, comparing what `sampling` says.
pub fn gradcheck_sampled(
    module: &Module,
    train: FuncId,
    params: &[Tensor],
    batch: &[Example],
    seed: u64,
    sampling: Sampling,
) -> Result<GradCheck, InterpError> {
    let names: Vec<String> = module.functions[train]
        .params
        .iter()
        .map(|(_, d)| d.name.clone())
        .collect();
    check(&names, params, seed, sampling, |p| {
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
    check(names, params, seed, Sampling::FULL, loss_and_grad)
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
    loss_and_grad: impl FnMut(&[Tensor]) -> Result<(f64, Vec<Tensor>), E>,
) -> Result<GradCheck, E> {
    let sampling = Sampling {
        coords: Coords::PerSlot(per_slot),
        directions: 1,
    };
    check(names, params, seed, sampling, loss_and_grad)
}

/// The general check: the entries `sampling.coords` picks, one by one, and
/// `sampling.directions` random directions, with `loss_and_grad`.
pub fn check<E>(
    names: &[String],
    params: &[Tensor],
    seed: u64,
    sampling: Sampling,
    mut loss_and_grad: impl FnMut(&[Tensor]) -> Result<(f64, Vec<Tensor>), E>,
) -> Result<GradCheck, E> {
    let (center, grads) = loss_and_grad(params)?;
    let mut loss = |p: &[Tensor]| loss_and_grad(p).map(|(l, _)| l);
    let mut rng = Rng::new(seed);
    let picks = pick_entries(params, sampling.coords, &mut rng);
    let mut checks = Vec::with_capacity(params.len());
    let mut shifted = params.to_vec();
    for (slot, (name, grad)) in names.iter().zip(&grads).enumerate() {
        let mut c = ParamCheck {
            name: name.clone(),
            max_rel_error: 0.0,
            entries: params[slot].data.len(),
            compared: 0,
            skipped: 0,
        };
        for &i in &picks[slot] {
            let x = params[slot].data[i];
            let mut sides = |h: f64| -> Result<(f64, f64), E> {
                shifted[slot].data[i] = x + h;
                let up = loss(&shifted)?;
                shifted[slot].data[i] = x - h;
                let down = loss(&shifted)?;
                shifted[slot].data[i] = x;
                Ok((up, down))
            };
            match compare(grad.data[i], center, &mut sides)? {
                Some(e) => {
                    c.compared += 1;
                    c.max_rel_error = c.max_rel_error.max(e);
                }
                None => c.skipped += 1,
            }
        }
        checks.push(c);
    }
    let mut r = GradCheck {
        params: checks,
        direction_rel_error: 0.0,
        directions_compared: 0,
        directions_skipped: 0,
        zero_gradient: grads.iter().all(|g| g.data.iter().all(|&x| x == 0.0)),
    };
    let directions = sampling.directions;
    check_directions(&mut r, params, &grads, center, directions, &mut rng, loss)?;
    Ok(r)
}

/// Compares the gradient along random directions until `wanted` were
/// compared or `TRIES_PER_DIRECTION` times as many were drawn; directions
/// along which the loss is not smooth are skipped.
fn check_directions<E>(
    r: &mut GradCheck,
    params: &[Tensor],
    grads: &[Tensor],
    center: f64,
    wanted: usize,
    rng: &mut Rng,
    mut loss: impl FnMut(&[Tensor]) -> Result<f64, E>,
) -> Result<(), E> {
    for _ in 0..wanted * TRIES_PER_DIRECTION {
        if r.directions_compared == wanted {
            break;
        }
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
        let analytic: f64 = grads
            .iter()
            .zip(&direction)
            .map(|(g, t)| g.data.iter().zip(t).map(|(g, t)| g * t).sum::<f64>())
            .sum();
        let mut sides =
            |h: f64| -> Result<(f64, f64), E> { Ok((loss(&along(h))?, loss(&along(-h))?)) };
        match compare(analytic, center, &mut sides)? {
            Some(e) => {
                r.directions_compared += 1;
                r.direction_rel_error = r.direction_rel_error.max(e);
            }
            None => r.directions_skipped += 1,
        }
    }
    Ok(())
}

/// The relative error of `analytic` against the central difference built
/// from `sides(h) = (L(p + h), L(p − h))`, or `None` when the loss is not
/// smooth within `EPS`; `center` is `L(p)`. A difference at `EPS` that
/// agrees with `analytic` settles it in two evaluations; otherwise the
/// difference at `EPS / 2` tells a point where the loss is not smooth (the
/// two differences disagree, or the one-sided slopes differ by a jump that
/// does not shrink with the step) from a wrong derivative (the differences
/// agree with each other and not with it).
fn compare<E>(
    analytic: f64,
    center: f64,
    sides: &mut impl FnMut(f64) -> Result<(f64, f64), E>,
) -> Result<Option<f64>, E> {
    let wide = Difference::at(EPS, center, sides(EPS)?);
    if rel_error(analytic, wide.central) <= TOLERANCE {
        return Ok(Some(rel_error(analytic, wide.central)));
    }
    let narrow = Difference::at(EPS / 2.0, center, sides(EPS / 2.0)?);
    if rel_error(wide.central, narrow.central) > TOLERANCE {
        return Ok(None);
    }
    if kink_at_the_point(&wide, &narrow, analytic) {
        return Ok(None);
    }
    Ok(Some(rel_error(analytic, narrow.central)))
}

/// The finite differences at one step.
struct Difference {
    /// `(L(p + h) − L(p − h)) / 2h`.
    central: f64,
    /// The forward slope minus the backward one, `(L(p + h) − 2 L(p) +
    /// L(p − h)) / h`: `h L''(p)` where the loss is smooth, the jump in slope
    /// where it has a kink at `p`.
    gap: f64,
}

impl Difference {
    fn at(h: f64, center: f64, (up, down): (f64, f64)) -> Difference {
        Difference {
            central: (up - down) / (2.0 * h),
            gap: (up - 2.0 * center + down) / h,
        }
    }
}

/// Whether the one-sided slopes differ by a jump at the point itself: the
/// gap did not halve with the step (a smooth loss's does), and it is large
/// enough to explain the disagreement with `analytic` (rounding's is not).
fn kink_at_the_point(wide: &Difference, narrow: &Difference, analytic: f64) -> bool {
    let scale = analytic.abs().max(wide.central.abs()).max(FLOOR);
    let significant = wide.gap.abs() > TOLERANCE * scale;
    let steady = (narrow.gap - wide.gap).abs() < 0.25 * wide.gap.abs();
    significant && steady
}

/// The entries of each slot to compare one by one, in increasing order.
fn pick_entries(params: &[Tensor], coords: Coords, rng: &mut Rng) -> Vec<Vec<usize>> {
    let lens: Vec<usize> = params.iter().map(|p| p.data.len()).collect();
    match coords {
        Coords::All => lens.iter().map(|&n| (0..n).collect()).collect(),
        Coords::PerSlot(k) => lens.iter().map(|&n| evenly_spaced(n, k)).collect(),
        Coords::Sample(total) => quotas(&lens, total)
            .into_iter()
            .zip(&lens)
            .map(|(q, &n)| sample(n, q, rng))
            .collect(),
    }
}

/// At most `k` of `0..n`, evenly spaced, first and last included.
fn evenly_spaced(n: usize, k: usize) -> Vec<usize> {
    if n <= k {
        return (0..n).collect();
    }
    let k = k.max(2);
    let mut v: Vec<usize> = (0..k).map(|t| t * (n - 1) / (k - 1)).collect();
    v.dedup();
    v
}

/// How many entries of each slot a budget of `total` compares: every
/// entry when the budget covers them all; otherwise one per slot (in slot
/// order while the budget lasts), and the rest in proportion to the slots'
/// sizes.
fn quotas(lens: &[usize], total: usize) -> Vec<usize> {
    let all: usize = lens.iter().sum();
    if all <= total {
        return lens.to_vec();
    }
    let mut left = total;
    let mut q: Vec<usize> = lens
        .iter()
        .map(|&n| {
            let one = usize::from(n > 0 && left > 0);
            left -= one;
            one
        })
        .collect();
    let spare = left;
    for (qi, &n) in q.iter_mut().zip(lens) {
        let share = (spare as u128 * n as u128 / all as u128) as usize;
        *qi = (*qi + share).min(n);
    }
    q
}

/// `k` distinct entries of `0..n`, drawn with `rng`, in increasing order
/// (a partial Fisher–Yates shuffle).
fn sample(n: usize, k: usize, rng: &mut Rng) -> Vec<usize> {
    if k >= n {
        return (0..n).collect();
    }
    let mut all: Vec<usize> = (0..n).collect();
    for i in 0..k {
        let j = i + (rng.uniform() * (n - i) as f64) as usize % (n - i);
        all.swap(i, j);
    }
    let mut picked = all[..k].to_vec();
    picked.sort_unstable();
    picked
}

#[cfg(test)]
mod tests;
