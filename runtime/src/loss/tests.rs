//! Losses against hand-computed values and central finite differences.

use super::*;
use crate::value::Tensor;

const TOL: f64 = 1e-6;

#[track_caller]
fn close(got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() <= tol, "got {got:?}, want {want:?}");
    }
}

fn tensor(xs: &[f64]) -> Target {
    Target::Tensor(Tensor::new(vec![xs.len()], xs.to_vec()))
}

#[test]
fn mse_by_hand() {
    // ((1 - 0)^2 + (2 - 4)^2) / 2 = 2.5; gradient 2 (o - t) / 2 = [1, -2].
    let mut g = [0.0; 2];
    let l = mse(&[1.0, 2.0], &[0.0, 4.0], &mut g);
    assert_eq!(l, 2.5);
    assert_eq!(g, [1.0, -2.0]);
}

#[test]
fn cross_entropy_by_hand() {
    // lse(1, 2, 3) = 3 + ln(1 + e^-1 + e^-2) = 3.4076059644;
    // L = lse - z_0 = 2.4076059644;
    // softmax = [0.0900305732, 0.2447284711, 0.6652409558], minus one-hot at 0.
    let mut g = [0.0; 3];
    let l = cross_entropy(&[1.0, 2.0, 3.0], 0, &mut g);
    close(&[l], &[2.407_605_964_4], 1e-9);
    close(
        &g,
        &[0.090_030_573_2 - 1.0, 0.244_728_471_1, 0.665_240_955_8],
        1e-9,
    );
}

#[test]
fn cross_entropy_is_stable_for_huge_logits() {
    // lse(1000, 0) = 1000 + ln(1 + e^-1000) = 1000; L = lse - z_1 = 1000.
    let mut g = [0.0f32; 2];
    let l = cross_entropy(&[1000.0f32, 0.0], 1, &mut g);
    assert_eq!(l, 1000.0);
    assert_eq!(g, [1.0, -1.0]);
    let l = cross_entropy(&[-1000.0f32, 0.0], 1, &mut g);
    assert_eq!(l, 0.0);
    assert!(g.iter().all(|x| x.is_finite()));
}

#[test]
fn binary_cross_entropy_by_hand() {
    // z = 0, t = 1: ln 2; gradient sigmoid(0) - 1 = -0.5.
    let mut g = [0.0; 1];
    close(
        &[binary_cross_entropy(&[0.0], &[1.0], &mut g)],
        &[std::f64::consts::LN_2],
        1e-12,
    );
    assert_eq!(g, [-0.5]);
    // z = [2, -1], t = [1, 0]:
    //   ln(1 + e^-2) = 0.1269280110, max(-1, 0) + ln(1 + e^-1) = 0.3132616875;
    //   mean 0.2200948493; gradient [(0.8807970780 - 1) / 2, 0.2689414214 / 2].
    let mut g = [0.0; 2];
    let l = binary_cross_entropy(&[2.0, -1.0], &[1.0, 0.0], &mut g);
    close(&[l], &[0.220_094_849_3], 1e-9);
    close(&g, &[-0.059_601_461_0, 0.134_470_710_7], 1e-9);
    // Huge logits stay finite: z = 1000, t = 0 costs 1000.
    let mut g = [0.0f32; 1];
    assert_eq!(binary_cross_entropy(&[1000.0f32], &[0.0], &mut g), 1000.0);
    assert_eq!(g, [1.0]);
}

/// Checks `grad` against central differences of `f` at `x`.
#[track_caller]
fn check_gradient(x: &[f64], f: impl Fn(&[f64], &mut [f64]) -> f64) {
    let mut grad = vec![0.0; x.len()];
    f(x, &mut grad);
    let eps = 1e-6;
    let mut scratch = vec![0.0; x.len()];
    for i in 0..x.len() {
        let mut p = x.to_vec();
        p[i] += eps;
        let up = f(&p, &mut scratch);
        p[i] -= 2.0 * eps;
        let down = f(&p, &mut scratch);
        let numeric = (up - down) / (2.0 * eps);
        assert!(
            (numeric - grad[i]).abs() < TOL,
            "component {i}: {numeric} vs {}",
            grad[i]
        );
    }
}

#[test]
fn gradients_match_finite_differences() {
    let z = [0.3, -1.2, 2.5, 0.0, -0.7];
    check_gradient(&z, |x, g| mse(x, &[1.0, 0.5, -2.0, 0.0, 3.0], g));
    check_gradient(&z, |x, g| cross_entropy(x, 2, g));
    check_gradient(&z, |x, g| {
        binary_cross_entropy(x, &[1.0, 0.0, 1.0, 0.5, 0.0], g)
    });
    let ys = Target::Seq(vec![Target::Class(1), Target::Class(0), Target::Class(2)]);
    let z9 = [0.1, 0.2, -0.3, 1.0, -1.0, 0.5, 2.0, 0.0, -2.0];
    check_gradient(&z9, |x, g| {
        Loss::CrossEntropy.eval(x, &ys, g).expect("valid target")
    });
}

#[test]
fn sequences_average_over_positions() {
    // Two positions of width 2: mse([1, 2], [0, 4]) = 2.5 and
    // mse([3, 5], [3, 5]) = 0, mean 1.25; each position's gradient halved.
    let ys = Target::Seq(vec![tensor(&[0.0, 4.0]), tensor(&[3.0, 5.0])]);
    let mut g = [0.0; 4];
    let l = Loss::Mse
        .eval(&[1.0, 2.0, 3.0, 5.0], &ys, &mut g)
        .expect("valid target");
    assert_eq!(l, 1.25);
    assert_eq!(g, [0.5, -1.0, 0.0, 0.0]);
    // An empty list costs nothing.
    assert_eq!(
        Loss::CrossEntropy.eval::<f64>(&[], &Target::Seq(vec![]), &mut []),
        Ok(0.0)
    );
}

#[test]
fn f32_and_f64_agree() {
    let z = [0.3, -1.2, 2.5];
    let mut g64 = [0.0f64; 3];
    let mut g32 = [0.0f32; 3];
    let l64 = Loss::CrossEntropy
        .eval(&z, &Target::Class(1), &mut g64)
        .expect("valid");
    let l32 = Loss::CrossEntropy
        .eval(&z.map(|v| v as f32), &Target::Class(1), &mut g32)
        .expect("valid");
    assert!((l64 - f64::from(l32)).abs() < 1e-6);
    close(&g32.map(f64::from), &g64, 1e-6);
}

#[test]
fn mismatched_targets_are_errors() {
    let mut g = [0.0; 3];
    assert_eq!(
        Loss::CrossEntropy.eval(&[0.0, 0.0, 0.0], &Target::Class(3), &mut g),
        Err(LossError::ClassOutOfRange {
            class: 3,
            classes: 3
        })
    );
    assert!(matches!(
        Loss::Mse.eval(&[0.0, 0.0, 0.0], &tensor(&[1.0]), &mut g),
        Err(LossError::Length {
            output: 3,
            target: 1,
            ..
        })
    ));
    assert!(matches!(
        Loss::Mse.eval(&[0.0, 0.0, 0.0], &Target::Class(0), &mut g),
        Err(LossError::WrongTarget { found: "class", .. })
    ));
    let ys = Target::Seq(vec![Target::Class(0), Target::Class(0)]);
    assert!(matches!(
        Loss::CrossEntropy.eval(&[0.0, 0.0, 0.0], &ys, &mut g),
        Err(LossError::Length { .. })
    ));
}

#[test]
fn accuracy_counts() {
    assert_eq!(argmax(&[0.1, 3.0, 3.0, -1.0]), Some(1));
    assert_eq!(argmax(&[f64::NAN, -1.0]), Some(1));
    assert_eq!(argmax::<f32>(&[]), None);
    let l = Loss::CrossEntropy;
    assert_eq!(l.correct(&[0.1, 0.9], &Target::Class(1)), Some((1, 1)));
    assert_eq!(l.correct(&[0.1, 0.9], &Target::Class(0)), Some((0, 1)));
    let ys = Target::Seq(vec![Target::Class(1), Target::Class(1), Target::Class(0)]);
    assert_eq!(
        l.correct(&[0.0, 1.0, 2.0, 1.0, 5.0, 0.0], &ys),
        Some((2, 3))
    );
    let b = Loss::BinaryCrossEntropy;
    assert_eq!(
        b.correct(&[2.0, -1.0, 0.5], &tensor(&[1.0, 1.0, 1.0])),
        Some((2, 3))
    );
    assert_eq!(Loss::Mse.correct(&[1.0], &tensor(&[1.0])), None);
    assert_eq!(Loss::from_name("cross_entropy"), Some(Loss::CrossEntropy));
    assert_eq!(Loss::from_name("hinge"), None);
}
