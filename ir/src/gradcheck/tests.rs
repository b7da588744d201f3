//! Tests of the gradient check itself: it fails when it compared nothing or
//! when the gradient is zero, and a sampled check stays within its budget
//! and still finds a wrong gradient. Reverse derivatives of programs are
//! checked against finite differences by the case files under
//! `tests/cases/ir/grad/` and `tests/cases/ir/jit/` (the `cdlc-tests`
//! crate's `ir_cases` runner).

use cdlc_runtime::value::Tensor;

use crate::rng::Rng;

/// `loss = Σ scale_i · relu(p_i)` over one slot, with its gradient.
fn relu_loss(p: &[Tensor], scale: f64) -> Result<(f64, Vec<Tensor>), ()> {
    let t = &p[0];
    let loss = t.data.iter().map(|x| scale * x.max(0.0)).sum();
    let grad = t
        .data
        .iter()
        .map(|x| if *x > 0.0 { scale } else { 0.0 })
        .collect();
    Ok((loss, vec![Tensor::new(t.shape.clone(), grad)]))
}

#[test]
fn a_check_that_skipped_everything_fails() {
    use crate::gradcheck::{EPS, Sampling, check};
    // Every entry sits just past a ReLU kink: within EPS but not EPS / 2,
    // so the two differences disagree and every entry is skipped.
    let params = vec![Tensor::new(vec![4], vec![0.7 * EPS; 4])];
    let sampling = Sampling {
        directions: 0,
        ..Sampling::FULL
    };
    let r = check(&["P".to_string()], &params, 1, sampling, |p| {
        relu_loss(p, 1.0)
    })
    .unwrap();
    assert_eq!(r.params[0].skipped, 4, "{r:#?}");
    assert_eq!(r.compared(), 0);
    assert_eq!(r.max_rel_error(), 0.0);
    assert!(!r.passed(), "a check that compared nothing must fail");
}

#[test]
fn a_kink_exactly_at_the_point_is_skipped() {
    use crate::gradcheck::{Sampling, check};
    // Entries at exactly zero, where `relu' = 0` by convention: the
    // differences at EPS and EPS / 2 both straddle the kink symmetrically
    // and agree with each other (on 1/2), so only the one-sided slopes,
    // 0 behind and 1 ahead at every step, show that the loss is not smooth.
    let params = vec![Tensor::new(vec![2], vec![0.0, 1.0])];
    let sampling = Sampling {
        directions: 0,
        ..Sampling::FULL
    };
    let r = check(&["P".to_string()], &params, 1, sampling, |p| {
        relu_loss(p, 1.0)
    })
    .unwrap();
    assert_eq!(
        (r.params[0].compared, r.params[0].skipped),
        (1, 1),
        "{r:#?}"
    );
    assert!(r.passed(), "{r:#?}");
}

#[test]
fn a_wrong_derivative_on_a_curved_loss_is_not_taken_for_a_kink() {
    use crate::gradcheck::{Sampling, check};
    // `L = 1000 p²` at p = 1 with a gradient 1% off: the one-sided slopes
    // differ by `h L''`, which halves with the step, so this is compared
    // and fails; a linear loss with a wrong gradient fails the same way.
    let params = vec![Tensor::new(vec![1], vec![1.0])];
    let sampling = Sampling {
        directions: 1,
        ..Sampling::FULL
    };
    let curved = check(&["P".to_string()], &params, 1, sampling, |p| {
        let x = p[0].data[0];
        Ok::<_, ()>((1000.0 * x * x, vec![Tensor::new(vec![1], vec![2020.0 * x])]))
    })
    .unwrap();
    assert_eq!(curved.params[0].compared, 1, "{curved:#?}");
    assert_eq!(curved.directions_compared, 1, "{curved:#?}");
    assert!(!curved.passed(), "{curved:#?}");
    let linear = check(&["P".to_string()], &params, 1, sampling, |p| {
        relu_loss(p, 3.0).map(|(l, g)| (l, vec![Tensor::new(vec![1], vec![g[0].data[0] * 1.01])]))
    })
    .unwrap();
    assert_eq!(linear.params[0].compared, 1, "{linear:#?}");
    assert!(!linear.passed(), "{linear:#?}");
}

#[test]
fn a_zero_gradient_does_not_pass() {
    use crate::gradcheck::{Sampling, check};
    // A loss that does not depend on the parameter: its finite differences
    // agree with the zero gradient, which proves nothing.
    let params = vec![Tensor::new(vec![3], vec![-1.0, -2.0, -3.0])];
    let r = check(&["P".to_string()], &params, 1, Sampling::FULL, |p| {
        relu_loss(p, 1.0)
    })
    .unwrap();
    assert!(r.compared() > 0);
    assert!(r.zero_gradient);
    assert!(!r.passed());
}

#[test]
fn a_sampled_check_is_bounded_and_reaches_every_slot() {
    use crate::gradcheck::{Coords, Sampling, check};
    let mut rng = Rng::new(9);
    let shapes = [vec![1000], vec![3], vec![1]];
    let params: Vec<Tensor> = shapes
        .iter()
        .map(|s| Tensor::new(s.clone(), (0..s[0]).map(|_| rng.normal()).collect()))
        .collect();
    let names: Vec<String> = ["W", "b", "c"].iter().map(|s| s.to_string()).collect();
    // loss = Σ_slots Σ_i (slot + 1) · p_i², gradient 2 (slot + 1) p.
    let quadratic = |p: &[Tensor], wrong_slot: Option<usize>| {
        let mut loss = 0.0;
        let mut grads = Vec::new();
        for (s, t) in p.iter().enumerate() {
            let k = (s + 1) as f64;
            loss += t.data.iter().map(|x| k * x * x).sum::<f64>();
            let off = if wrong_slot == Some(s) { 1.5 } else { 1.0 };
            let g = t.data.iter().map(|x| off * 2.0 * k * x).collect();
            grads.push(Tensor::new(t.shape.clone(), g));
        }
        Ok::<_, ()>((loss, grads))
    };
    let sampling = Sampling {
        coords: Coords::Sample(10),
        directions: 2,
    };
    let mut evaluations = 0;
    let r = check(&names, &params, 4, sampling, |p| {
        evaluations += 1;
        quadratic(p, None)
    })
    .unwrap();
    assert!(r.passed(), "{r:#?}");
    let picked: Vec<usize> = r.params.iter().map(|p| p.compared + p.skipped).collect();
    assert!(
        picked.iter().all(|&n| n >= 1),
        "every slot is sampled: {picked:?}"
    );
    assert!(picked.iter().sum::<usize>() <= 10, "{picked:?}");
    assert_eq!(r.directions_compared, 2);
    // One gradient, and two evaluations per entry and per direction: on a
    // quadratic the difference at EPS agrees with the gradient at once.
    assert_eq!(evaluations, 1 + 2 * picked.iter().sum::<usize>() + 2 * 2);
    // A wrong gradient in the one-entry slot is found by its sampled entry
    // and by the directions.
    let r = check(&names, &params, 4, sampling, |p| quadratic(p, Some(2))).unwrap();
    assert!(!r.passed());
    assert!(r.params[2].max_rel_error > 0.1, "{r:#?}");
    assert!(r.direction_rel_error > 0.0);
}
