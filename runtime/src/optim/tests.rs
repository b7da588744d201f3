//! Each optimizer over a few steps, against arithmetic done by hand.
//!
//! Every test starts from p = [1, -2] with lr = 0.1 and the gradients
//! g1 = [0.5, -1], g2 = [1, 2], g3 = [-0.5, 0.25].

use super::*;

const G: [[f64; 2]; 3] = [[0.5, -1.0], [1.0, 2.0], [-0.5, 0.25]];

/// The parameters after each of `steps` steps.
fn run(config: OptimConfig, steps: usize) -> Vec<[f64; 2]> {
    let mut p = [1.0, -2.0];
    let mut opt = Optimizer::<f64>::new(config, 2);
    let mut out = Vec::new();
    for g in G.iter().take(steps) {
        opt.step(&mut p, g);
        out.push(p);
    }
    assert_eq!(opt.steps(), steps as u64);
    out
}

#[track_caller]
fn close(got: [f64; 2], want: [f64; 2], tol: f64) {
    assert!(
        (got[0] - want[0]).abs() <= tol && (got[1] - want[1]).abs() <= tol,
        "got {got:?}, want {want:?}"
    );
}

#[test]
fn sgd_by_hand() {
    let ps = run(OptimConfig::Sgd { lr: 0.1 }, 2);
    // p1 = [1 - 0.1 * 0.5, -2 - 0.1 * -1] = [0.95, -1.9]
    close(ps[0], [0.95, -1.9], 1e-12);
    // p2 = [0.95 - 0.1 * 1, -1.9 - 0.1 * 2] = [0.85, -2.1]
    close(ps[1], [0.85, -2.1], 1e-12);
}

#[test]
fn momentum_by_hand() {
    let ps = run(OptimConfig::Momentum { lr: 0.1, beta: 0.9 }, 3);
    // b1 = g1 = [0.5, -1]; p1 = [1 - 0.05, -2 + 0.1] = [0.95, -1.9]
    close(ps[0], [0.95, -1.9], 1e-12);
    // b2 = 0.9 b1 + g2 = [0.45 + 1, -0.9 + 2] = [1.45, 1.1];
    // p2 = [0.95 - 0.145, -1.9 - 0.11] = [0.805, -2.01]
    close(ps[1], [0.805, -2.01], 1e-12);
    // b3 = 0.9 b2 + g3 = [1.305 - 0.5, 0.99 + 0.25] = [0.805, 1.24];
    // p3 = [0.805 - 0.0805, -2.01 - 0.124] = [0.7245, -2.134]
    close(ps[2], [0.7245, -2.134], 1e-12);
}

#[test]
fn nesterov_by_hand() {
    let ps = run(OptimConfig::Nesterov { lr: 0.1, beta: 0.9 }, 2);
    // b1 = [0.5, -1]; step g1 + 0.9 b1 = [0.95, -1.9];
    // p1 = [1 - 0.095, -2 + 0.19] = [0.905, -1.81]
    close(ps[0], [0.905, -1.81], 1e-12);
    // b2 = [1.45, 1.1]; step g2 + 0.9 b2 = [2.305, 2.99];
    // p2 = [0.905 - 0.2305, -1.81 - 0.299] = [0.6745, -2.109]
    close(ps[1], [0.6745, -2.109], 1e-12);
}

#[test]
fn adagrad_by_hand() {
    let ps = run(
        OptimConfig::Adagrad {
            lr: 0.1,
            eps: 1e-10,
        },
        2,
    );
    // s1 = [0.25, 1]; p1 = [1 - 0.1 * 0.5 / 0.5, -2 - 0.1 * -1 / 1] = [0.9, -1.9]
    // (eps moves the result by ~1e-11).
    close(ps[0], [0.9, -1.9], 1e-9);
    // s2 = [1.25, 5]; sqrt = [1.1180339887, 2.2360679775];
    // p2 = [0.9 - 0.1 / 1.1180339887, -1.9 - 0.2 / 2.2360679775]
    //    = [0.9 - 0.0894427191, -1.9 - 0.0894427191] = [0.8105572809, -1.9894427191]
    close(ps[1], [0.810_557_280_9, -1.989_442_719_1], 1e-9);
}

#[test]
fn adam_by_hand() {
    let ps = run(OptimConfig::default_with_lr(0.1), 2);
    // m1 = 0.1 g1 = [0.05, -0.1]; v1 = 0.001 g1^2 = [0.00025, 0.001];
    // bias corrections 1 - 0.9 = 0.1 and 1 - 0.999 = 0.001, so
    // m1 / 0.1 = [0.5, -1], sqrt(v1 / 0.001) = [0.5, 1];
    // p1 = [1 - 0.1 * 0.5 / 0.5, -2 + 0.1 * 1 / 1] = [0.9, -1.9] (eps: ~1e-9).
    close(ps[0], [0.9, -1.9], 1e-8);
    // m2 = 0.9 m1 + 0.1 g2 = [0.145, 0.11];
    // v2 = 0.999 v1 + 0.001 g2^2 = [0.00124975, 0.004999];
    // bias corrections 1 - 0.81 = 0.19 and 1 - 0.998001 = 0.001999;
    // m2 / 0.19 = [0.7631578947, 0.5789473684];
    // sqrt(v2 / 0.001999) = [sqrt(0.6251875938), sqrt(2.5007503752)]
    //                     = [0.7906880509, 1.5813760954];
    // ratios [0.9651819936, 0.3661034722];
    // p2 = [0.9 - 0.0965181994, -1.9 - 0.0366103472] = [0.8034818006, -1.9366103472]
    close(ps[1], [0.803_481_800_6, -1.936_610_347_2], 1e-8);
}

impl OptimConfig {
    fn default_with_lr(lr: f64) -> OptimConfig {
        match OptimConfig::default() {
            OptimConfig::Adam {
                beta1, beta2, eps, ..
            } => OptimConfig::Adam {
                lr,
                beta1,
                beta2,
                eps,
            },
            other => other,
        }
    }
}

#[test]
fn f32_follows_f64() {
    let config = OptimConfig::default_with_lr(0.01);
    let mut p64 = [1.0f64, -2.0];
    let mut p32 = [1.0f32, -2.0];
    let mut o64 = Optimizer::new(config, 2);
    let mut o32 = Optimizer::new(config, 2);
    for g in G {
        o64.step(&mut p64, &g);
        o32.step(&mut p32, &g.map(|v| v as f32));
    }
    assert!((f64::from(p32[0]) - p64[0]).abs() < 1e-6 && (f64::from(p32[1]) - p64[1]).abs() < 1e-6);
}

#[test]
fn calls_are_validated_and_defaults_filled() {
    let a = |pairs: &[(&str, f64)]| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        OptimConfig::from_call("adam", &[]),
        Ok(OptimConfig::default())
    );
    assert_eq!(
        OptimConfig::from_call("momentum", &a(&[("lr", 0.5)])),
        Ok(OptimConfig::Momentum { lr: 0.5, beta: 0.9 })
    );
    assert_eq!(
        OptimConfig::from_call("adagrad", &a(&[("lr", 0.5)])),
        Ok(OptimConfig::Adagrad {
            lr: 0.5,
            eps: 1e-10
        })
    );
    assert!(matches!(
        OptimConfig::from_call("sgd", &[]),
        Err(OptimError::MissingArgument { arg: "lr", .. })
    ));
    assert!(matches!(
        OptimConfig::from_call("sgd", &a(&[("lr", 0.1), ("beta", 0.9)])),
        Err(OptimError::UnexpectedArgument { .. })
    ));
    assert!(matches!(
        OptimConfig::from_call("nesterov", &a(&[("lr", 0.1), ("beta", 1.0)])),
        Err(OptimError::InvalidArgument { arg: "beta", .. })
    ));
    assert!(matches!(
        OptimConfig::from_call("sgd", &a(&[("lr", -1.0)])),
        Err(OptimError::InvalidArgument { arg: "lr", .. })
    ));
    assert!(matches!(
        OptimConfig::from_call("rmsprop", &[]),
        Err(OptimError::Unknown { .. })
    ));
    assert_eq!(OptimConfig::Sgd { lr: 0.1 }.to_string(), "sgd(lr = 0.1)");
}

#[test]
fn non_finite_entries_are_found_in_both_types() {
    assert_eq!(first_non_finite::<f64>(&[1.0, -2.0, 1e300]), None);
    assert_eq!(first_non_finite::<f64>(&[]), None);
    assert_eq!(
        first_non_finite(&[1.0f64, f64::NAN, f64::INFINITY]),
        Some(1)
    );
    assert_eq!(first_non_finite(&[0.0f32, 3.0, f32::NEG_INFINITY]), Some(2));
    assert_eq!(first_non_finite(&[f32::MAX, f32::MAX]), None);
}

#[test]
fn sgd_on_a_long_buffer_rounds_each_element_as_the_scalar_formula() {
    // 1003 elements (whole vectors and a ragged end), in both types: each
    // element is `p - lr * g` rounded twice, a multiply and a subtraction
    // never fused into one, however the loop is vectorised.
    let g: Vec<f32> = crate::data::splitmix::uniform(5, &[1003], 1.0);
    let p0: Vec<f32> = crate::data::splitmix::uniform(6, &[1003], 1.0);
    let mut p = p0.clone();
    Optimizer::<f32>::new(OptimConfig::Sgd { lr: 0.01 }, p.len()).step(&mut p, &g);
    let lr = 0.01f32;
    for ((&got, &x), &d) in p.iter().zip(&p0).zip(&g) {
        assert_eq!(got.to_bits(), (x - lr * d).to_bits());
    }
    let g64: Vec<f64> = g.iter().map(|&x| f64::from(x)).collect();
    let mut p64: Vec<f64> = p0.iter().map(|&x| f64::from(x)).collect();
    Optimizer::<f64>::new(OptimConfig::Sgd { lr: 0.01 }, p64.len()).step(&mut p64, &g64);
    for ((&got, &x), &d) in p64.iter().zip(&p0).zip(&g64) {
        assert_eq!(got.to_bits(), (f64::from(x) - 0.01 * d).to_bits());
    }
}
