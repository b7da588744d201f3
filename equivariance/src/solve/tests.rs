//! Property tests: for random generator sets, the solver's basis satisfies
//! every constraint exactly, has full rank, and has the dimension that a
//! plain rational elimination of the whole constraint system gives.

use super::exact::{ExactVector, rational_nullspace_for_tests};
use crate::LinMap;
use crate::number::Rational;
use crate::{Group, Number, Space, action, equivariant};
use num_traits::Zero;
use proptest::prelude::*;

/// The whole system `ρ_B(g) W − W ρ_A(g) = 0`, one dense rational row per
/// generator and entry, over the `m·n` unknowns.
fn constraint_rows(a: &Space, b: &Space) -> (Vec<ExactVector>, usize) {
    let (m, n) = (b.dim(), a.dim());
    let mut rows = Vec::new();
    let pairs = a
        .discrete_maps()
        .iter()
        .zip(b.discrete_maps())
        .chain(a.lie_maps().iter().zip(b.lie_maps()));
    for (x, y) in pairs {
        let (x, y) = (x.to_exact().unwrap(), y.to_exact().unwrap());
        let xt = x.transpose();
        for i in 0..m {
            for j in 0..n {
                let mut dense = vec![Rational::zero(); m * n];
                for (l, v) in &y.rows[i] {
                    dense[*l as usize * n + j] += v;
                }
                for (k, v) in &xt.rows[j] {
                    dense[i * n + *k as usize] -= v;
                }
                let row: ExactVector = dense
                    .into_iter()
                    .enumerate()
                    .filter(|(_, v)| !v.is_zero())
                    .map(|(u, v)| (u as u32, v))
                    .collect();
                if !row.is_empty() {
                    rows.push(row);
                }
            }
        }
    }
    (rows, m * n)
}

/// Checks the solver against the brute-force elimination.
fn check(a: &Space, b: &Space) -> Result<(), TestCaseError> {
    let basis = equivariant(a, b, None).unwrap();
    let (rows, unknowns) = constraint_rows(a, b);
    let brute = rational_nullspace_for_tests(&rows, unknowns);
    prop_assert_eq!(basis.free(), brute.len());
    // Every basis element satisfies every constraint exactly.
    for k in 0..basis.pattern().count() {
        let e = basis.pattern().exact_element(k).expect("exact solve");
        let lookup: std::collections::HashMap<u32, Rational> = e.into_iter().collect();
        for row in &rows {
            let s: Rational = row
                .iter()
                .filter_map(|(u, v)| lookup.get(u).map(|x| x * v))
                .sum();
            prop_assert!(s.is_zero(), "constraint violated");
        }
    }
    // Full rank: the inner basis restricted to its pivot entries is independent
    // (checked through the brute-force basis: both span spaces of equal
    // dimension and the solver's lies in the null space, so it suffices that
    // its elements are independent).
    let count = basis.pattern().count();
    let mut dense: Vec<Vec<Rational>> = (0..count)
        .map(|k| {
            let mut r = vec![Rational::zero(); unknowns];
            for (u, v) in basis.pattern().exact_element(k).unwrap() {
                r[u as usize] = v;
            }
            r
        })
        .collect();
    let mut rank = 0;
    for c in 0..unknowns {
        let Some(p) = (rank..count).find(|&r| !dense[r][c].is_zero()) else {
            continue;
        };
        dense.swap(rank, p);
        let pivot = dense[rank].clone();
        for row in dense.iter_mut().skip(rank + 1) {
            let f = &row[c] / &pivot[c];
            for (x, y) in row.iter_mut().zip(&pivot) {
                *x -= &f * y;
            }
        }
        rank += 1;
    }
    prop_assert_eq!(rank, count);
    Ok(())
}

/// Cycle notation of a permutation given as an image vector.
fn cycles(image: &[usize]) -> Vec<Vec<usize>> {
    let mut seen = vec![false; image.len()];
    let mut out = Vec::new();
    for start in 0..image.len() {
        if seen[start] {
            continue;
        }
        let mut cycle = vec![];
        let mut p = start;
        while !seen[p] {
            seen[p] = true;
            cycle.push(p);
            p = image[p];
        }
        if cycle.len() > 1 {
            out.push(cycle);
        }
    }
    out
}

fn permutation(n: usize) -> impl Strategy<Value = Vec<usize>> {
    Just((0..n).collect::<Vec<usize>>()).prop_shuffle()
}

fn int_matrix(d: usize) -> impl Strategy<Value = Vec<Vec<i64>>> {
    prop::collection::vec(prop::collection::vec(-2i64..=2, d), d)
}

/// A signed partial permutation: each row reads one column with a sign, or none.
fn signed_partial(d: usize) -> impl Strategy<Value = Vec<Vec<i64>>> {
    prop::collection::vec((0..=d, prop::bool::ANY), d).prop_map(move |rows| {
        rows.into_iter()
            .map(|(c, neg)| {
                (0..d)
                    .map(|j| if j == c { if neg { -1 } else { 1 } } else { 0 })
                    .collect()
            })
            .collect()
    })
}

fn matrix_monoid(d: usize, gens: Vec<Vec<Vec<i64>>>) -> Space {
    let gens = gens
        .into_iter()
        .enumerate()
        .map(|(k, m)| {
            (
                format!("g{k}"),
                m.into_iter()
                    .map(|r| r.into_iter().map(Number::int).collect())
                    .collect(),
            )
        })
        .collect();
    let g = Group::matrices(d, gens, true).unwrap();
    action(&g, "defining", &[d]).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn random_permutation_groups(
        (n, gens) in (2usize..=5).prop_flat_map(|n| (Just(n), prop::collection::vec(permutation(n), 1..=3)))
    ) {
        let gens = gens.iter().enumerate().map(|(k, p)| (format!("p{k}"), cycles(p))).collect();
        let g = Group::perms(n, gens).unwrap();
        let v = action(&g, "defining", &[n]).unwrap();
        check(&v, &v)?;
        check(&v, &v.tensor(&v))?;
        check(&v.tensor(&v), &Space::scalar(Some(&g)))?;
    }

    #[test]
    fn random_integer_matrix_monoids(
        (d, gens) in (2usize..=3).prop_flat_map(|d| (Just(d), prop::collection::vec(int_matrix(d), 1..=2)))
    ) {
        let v = matrix_monoid(d, gens);
        check(&v, &v)?;
        check(&v, &v.tensor(&v))?;
    }

    #[test]
    fn random_signed_partial_permutations(
        (d, gens) in (2usize..=4).prop_flat_map(|d| (Just(d), prop::collection::vec(signed_partial(d), 1..=2)))
    ) {
        let v = matrix_monoid(d, gens);
        check(&v, &v)?;
        check(&v.tensor(&v), &v)?;
    }
}

#[test]
fn modular_and_rational_elimination_agree_on_lie_algebras() {
    let g = Group::so3();
    let v = action(&g, "rotate", &[3]).unwrap();
    let t2 = v.tensor(&v);
    let (rows, unknowns) = constraint_rows(&t2, &t2);
    let brute = rational_nullspace_for_tests(&rows, unknowns);
    let fast = super::exact::nullspace(&rows, unknowns);
    assert_eq!(brute, fast, "both give the reduced row echelon basis");
    assert_eq!(fast.len(), 3);
}

/// Tensor products of spaces under different groups are solved factor by
/// factor, and agree with the elimination of the whole system; a product
/// whose factors are in different orders on the two sides is solved as one.
#[test]
fn products_of_different_groups_are_solved_factor_by_factor() {
    let s3 = Group::symmetric(3).unwrap();
    let c4 = Group::cyclic(4).unwrap();
    let sh = Group::shifts(3).unwrap();
    let flip = Group::matrices(
        2,
        vec![(
            "f".to_string(),
            vec![
                vec![Number::int(0), Number::int(-1)],
                vec![Number::int(1), Number::int(0)],
            ],
        )],
        false,
    )
    .unwrap();
    let pts = action(&s3, "permute", &[3]).unwrap();
    let ring = action(&c4, "shift", &[4]).unwrap();
    let seq = action(&sh, "shift_zero", &[3]).unwrap();
    let turn = action(&flip, "defining", &[2]).unwrap();
    let cases = [
        (pts.tensor(&ring), pts.tensor(&ring)),
        (pts.tensor(&seq), pts.tensor(&seq)),
        (turn.tensor(&pts), turn.tensor(&pts.tensor(&pts))),
        (pts.tensor(&pts).tensor(&ring), pts.tensor(&ring)),
    ];
    for (a, b) in &cases {
        let a = a.lift(b.group());
        let factored = super::factors::solve_factored(&a, b).expect("the spaces split");
        check(&a, b).unwrap();
        let (rows, unknowns) = constraint_rows(&a, b);
        assert_eq!(
            factored.pattern.count(),
            rational_nullspace_for_tests(&rows, unknowns).len()
        );
    }
    // Ring ⊗ Pts against Pts ⊗ Ring: the groups sit on opposite sides.
    let a = pts.tensor(&ring);
    let b = ring.lift(a.group()).tensor(&pts.lift(a.group()));
    assert!(super::factors::solve_factored(&a, &b).is_none());
    check(&a, &b).unwrap();
}

/// Products with a matrix action (a rotation with rational entries, SO(3)
/// and SO(2) rotations, Lorentz boosts) split factor by factor too: the
/// dimensions are the products of the factors' (the commutant of each
/// factor: 2 for a plane rotation, 1 for SO(3) and Lorentz vectors, 2, 4
/// and 5 for the permutation actions), equal to the whole system's null
/// space, every element satisfies every constraint exactly,
/// and `W ρ_A(g) x = ρ_B(g) W x` numerically for random group elements.
#[test]
fn products_with_a_matrix_action_are_solved_factor_by_factor() {
    let s3 = Group::symmetric(3).unwrap();
    let c4 = Group::cyclic(4).unwrap();
    let pts = action(&s3, "permute", &[3]).unwrap();
    let ring = action(&c4, "shift", &[4]).unwrap();
    let vec3 = action(&Group::so3(), "rotate", &[3]).unwrap();
    let plane = action(&Group::so2(), "rotate", &[2]).unwrap();
    let boost = action(&Group::lorentz(), "lorentz", &[4]).unwrap();
    // A rotation with rational entries (3/5, 4/5) is a matrix, not a
    // signed permutation: its commutant on R[2] is {a I + b J}.
    let r = |n| Number::ratio(n, 5);
    let tilt = Group::matrices(
        2,
        vec![("t".to_string(), vec![vec![r(3), r(-4)], vec![r(4), r(3)]])],
        false,
    )
    .unwrap();
    let tilted = action(&tilt, "defining", &[2]).unwrap();
    assert!(matches!(tilted.discrete[0], LinMap::Exact(_)));
    let cases = [
        (tilted.tensor(&pts), tilted.tensor(&pts), 2 * 2),
        (tilted.tensor(&ring), tilted.tensor(&ring), 2 * 4),
        (pts.tensor(&tilted), pts.tensor(&pts).tensor(&tilted), 5 * 2),
        (vec3.tensor(&tilted), vec3.tensor(&tilted), 2),
        (vec3.tensor(&pts), vec3.tensor(&pts), 2),
        (boost.tensor(&ring), boost.tensor(&ring), 4),
        (plane.tensor(&pts), plane.tensor(&pts.tensor(&pts)), 2 * 5),
    ];
    let mut rng = crate::Rng::new(7);
    for (a, b, dim) in &cases {
        let a = a.lift(b.group());
        let factored = super::factors::solve_factored(&a, b).expect("the spaces split");
        assert_eq!(factored.pattern.count(), *dim, "{a:?}");
        check(&a, b).unwrap();
        let (rows, unknowns) = constraint_rows(&a, b);
        assert_eq!(*dim, rational_nullspace_for_tests(&rows, unknowns).len());
        let basis = equivariant(&a, b, None).unwrap();
        for _ in 0..3 {
            let g = crate::Element::random(b.group().expect("a group"), &mut rng, 3);
            let x: Vec<f64> = (0..a.dim()).map(|_| rng.normal()).collect();
            for k in 0..basis.free() {
                let w = basis.element(k);
                let apply = |v: &[f64]| {
                    let mut y = vec![0.0; b.dim()];
                    for &(u, c) in &w {
                        let (i, j) = (u / a.dim(), u % a.dim());
                        y[i] += c * v[j];
                    }
                    y
                };
                let lhs = apply(&a.act(&g, &x));
                let rhs = b.act(&g, &apply(&x));
                for (l, r) in lhs.iter().zip(&rhs) {
                    assert!((l - r).abs() <= 1e-9 * (1.0 + r.abs()), "{l} against {r}");
                }
            }
        }
    }
    // One group on both factors of R[2] ⊗ R[2] is not a product: the
    // generator acts on both sides at once and the space does not split.
    let both = tilted.tensor(&tilted);
    assert!(super::factors::solve_factored(&both, &both).is_none());
    check(&both, &both).unwrap();
}
