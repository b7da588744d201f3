//! Initialisers: statistics, orthogonality and reproducibility.

use super::*;

fn stats(t: &Tensor) -> (f64, f64) {
    let n = t.data.len() as f64;
    let mean = t.data.iter().sum::<f64>() / n;
    let var = t.data.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
    (mean, var)
}

#[test]
fn fans_follow_the_contracted_axis() {
    assert_eq!(fans(&[64, 32]), (32, 64));
    assert_eq!(fans(&[7]), (7, 7));
    assert_eq!(fans(&[6, 4, 9]), (9, 24));
}

#[test]
fn glorot_has_the_xavier_variance() {
    let t = init_tensor(&Init::Glorot, &[200, 300], 1);
    let (mean, var) = stats(&t);
    let a2 = 6.0 / 500.0;
    assert!(mean.abs() < 0.01, "{mean}");
    assert!((var - a2 / 3.0).abs() < 0.05 * a2 / 3.0, "{var}");
    assert!(t.data.iter().all(|x| x.abs() <= a2.sqrt()));
}

#[test]
fn he_has_variance_two_over_fan_in() {
    let t = init_tensor(&Init::He, &[300, 100], 2);
    let (_, var) = stats(&t);
    assert!((var - 0.02).abs() < 0.002, "{var}");
}

#[test]
fn orthogonal_rows_and_columns() {
    for (r, c) in [(8, 8), (4, 10), (10, 4)] {
        let t = init_tensor(&Init::Orthogonal, &[r, c], 3);
        let m = |i: usize, j: usize| t.data[i * c + j];
        // The shorter side is orthonormal: M Mᵀ = I (r ≤ c) or Mᵀ M = I.
        let k = r.min(c);
        for a in 0..k {
            for b in 0..k {
                let dot: f64 = if r <= c {
                    (0..c).map(|j| m(a, j) * m(b, j)).sum()
                } else {
                    (0..r).map(|i| m(i, a) * m(i, b)).sum()
                };
                let want = if a == b { 1.0 } else { 0.0 };
                assert!((dot - want).abs() < 1e-9, "{r}x{c}: <{a},{b}> = {dot}");
            }
        }
    }
}

#[test]
fn same_seed_same_values_other_seed_other_values() {
    let a = init_tensor(&Init::Normal(0.5), &[10], 7);
    let b = init_tensor(&Init::Normal(0.5), &[10], 7);
    let c = init_tensor(&Init::Normal(0.5), &[10], 8);
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn constants_and_uniform_ranges() {
    assert!(
        init_tensor(&Init::Zeros, &[3, 2], 0)
            .data
            .iter()
            .all(|x| *x == 0.0)
    );
    assert!(
        init_tensor(&Init::Ones, &[4], 0)
            .data
            .iter()
            .all(|x| *x == 1.0)
    );
    let u = init_tensor(&Init::Uniform(-0.2, 0.3), &[1000], 5);
    assert!(u.data.iter().all(|x| (-0.2..0.3).contains(x)));
    assert_eq!(
        Init::from_call("uniform", &[-1.0, 1.0]),
        Some(Init::Uniform(-1.0, 1.0))
    );
    assert_eq!(Init::from_call("normal", &[]), None);
}
