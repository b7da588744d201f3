//! The support solver against the general one: on every built-in action
//! `local(r)` applies to, on random permutation groups and on random signed
//! partial permutations, both give the same labels, signs, method, scales
//! and fans (or the same error), and a large problem is solved in time and
//! memory that follow the kept entries.

use super::super::{Solution, assemble, local_mask, solve_inner};
use crate::linmap::{LinMap, Monomial, NONE};
use crate::space::{Axis, Metric};
use crate::{Basis, Group, Number, SolveError, Space, action, equivariant};
use proptest::prelude::*;

/// The nonzero labels of a label pattern, row-major.
fn labels(s: &Solution) -> Vec<(u64, i32)> {
    let mut out = Vec::new();
    assert!(s.pattern.visit_labels(|u, l| out.push((u, l))));
    out
}

/// The basis of `Hom(a, b)` under `local(r)` both ways: through the
/// support, and through the general solver on the dense mask.
fn both(
    a: &Space,
    b: &Space,
    r: usize,
) -> Option<(Result<Basis, SolveError>, Result<Basis, SolveError>)> {
    let group = b.group().or(a.group()).cloned();
    let (la, lb) = (a.lift(group.as_ref()), b.lift(group.as_ref()));
    let (c, ai) = la.split_channels();
    let (d, bi) = lb.split_channels();
    let fast = super::solve(ai, bi, r)?;
    let general = local_mask(ai, bi, r).map(|mask| solve_inner(ai, bi, Some(&mask)));
    let build = |s: Result<Solution, SolveError>| -> Result<Basis, SolveError> {
        let s = s?;
        Ok(assemble(group.as_ref(), a, b, (c, ai), (d, bi), s))
    };
    if let (Ok(f), Ok(g)) = (&fast, &general) {
        assert_eq!(labels(f), labels(g), "labels and signs");
        assert_eq!(f.pattern.count(), g.pattern.count());
        assert_eq!(f.method, g.method);
    }
    Some((build(fast), build(general)))
}

/// Checks that both ways agree on everything a user or a later stage sees.
#[track_caller]
fn same(a: &Space, b: &Space, r: usize) {
    let Some((fast, general)) = both(a, b, r) else {
        panic!("the support solver applies to monomial actions");
    };
    match (fast, general) {
        (Ok(f), Ok(g)) => {
            assert_eq!(f.render("W"), g.render("W"));
            assert_eq!(f.scales, g.scales);
            assert_eq!(f.fans(), g.fans());
            assert_eq!(f.inner_elements(), g.inner_elements());
            assert!(matches!(f.pattern, crate::Pattern::Sparse { .. }));
        }
        (Err(f), Err(g)) => assert_eq!(f, g),
        (f, g) => panic!("one way failed: {f:?} against {g:?}"),
    }
}

#[test]
fn translations_and_their_monoids_agree_with_the_general_solver() {
    for n in 1..=9 {
        let c = Group::cyclic(n).unwrap();
        let ring = action(&c, "shift", &[n]).unwrap();
        let d = Group::dihedral(n).unwrap();
        let mirror = action(&d, "permute", &[n]).unwrap();
        let m = Group::shifts(n).unwrap();
        let line = action(&m, "shift_zero", &[n]).unwrap();
        let s = Group::symmetric(n).unwrap();
        let set = action(&s, "permute", &[n]).unwrap();
        for r in 0..=4 {
            same(&ring, &ring, r);
            same(
                &Space::bare(&[3]).tensor(&ring),
                &Space::bare(&[2]).tensor(&ring),
                r,
            );
            same(&mirror, &mirror, r);
            same(&line, &line, r);
            same(&set, &set, r);
            same(&set.tensor(&set), &set.tensor(&set), r);
        }
    }
}

#[test]
fn two_dimensional_translations_agree_with_the_general_solver() {
    for (n1, n2) in [(3, 4), (5, 2), (4, 4), (1, 3)] {
        let g1 = Group::cyclic(n1).unwrap();
        let g2 = Group::cyclic(n2).unwrap();
        let a = action(&g1, "shift", &[n1]).unwrap();
        let b = action(&g2, "shift", &[n2]).unwrap();
        let grid = a.tensor(&b);
        for r in 0..=2 {
            same(&grid, &grid, r);
        }
    }
}

#[test]
fn rotations_with_translations_agree_with_the_general_solver() {
    for s in 1..=5 {
        let p4 = Group::p4(s).unwrap();
        let img = action(&p4, "rotate_translate", &[s, s]).unwrap();
        let ori = action(&p4, "regular", &[4]).unwrap();
        let lift = Space::bare(&[2]).tensor(&ori).tensor(&img);
        let p4m = Group::p4m(s).unwrap();
        let img_m = action(&p4m, "rotate_flip_translate", &[s, s]).unwrap();
        let lift_m = action(&p4m, "regular", &[8]).unwrap().tensor(&img_m);
        for r in 0..=2 {
            same(&img, &img, r);
            same(&img, &lift, r);
            same(&lift, &lift, r);
            same(&lift, &img, r);
            same(&lift_m, &lift_m, r);
        }
        let c4 = Group::cyclic(4).unwrap();
        let rotated = action(&c4, "rotate", &[s, s]).unwrap();
        let d4 = Group::dihedral(4).unwrap();
        let flipped = action(&d4, "rotate_flip", &[s, s]).unwrap();
        for r in 0..=2 {
            same(&rotated, &rotated, r);
            same(&flipped, &flipped, r);
        }
    }
}

#[test]
fn spaces_without_matching_points_fail_alike() {
    let c = Group::cyclic(5).unwrap();
    let ring = action(&c, "shift", &[5]).unwrap();
    same(&ring, &ring.tensor(&ring), 1);
    same(&Space::scalar(Some(&c)), &ring, 1);
}

fn cycles(image: &[usize]) -> Vec<Vec<usize>> {
    let mut seen = vec![false; image.len()];
    let mut out = Vec::new();
    for start in 0..image.len() {
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

/// A signed partial permutation of `d` points: each row reads one point
/// with a sign, or none.
fn signed_partial(d: usize) -> impl Strategy<Value = LinMap> {
    prop::collection::vec((0..=d, prop::bool::ANY), d).prop_map(move |rows| {
        LinMap::Monomial(Monomial {
            src: rows
                .iter()
                .map(|&(c, _)| if c == d { NONE } else { c as u32 })
                .collect(),
            sign: rows
                .iter()
                .map(|&(_, neg)| if neg { -1 } else { 1 })
                .collect(),
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_permutation_groups_agree(
        (n, gens, r) in (2usize..=6).prop_flat_map(|n| (
            Just(n),
            prop::collection::vec(Just((0..n).collect::<Vec<usize>>()).prop_shuffle(), 1..=3),
            0usize..=2,
        ))
    ) {
        let gens = gens.iter().enumerate().map(|(k, p)| (format!("p{k}"), cycles(p))).collect();
        let g = Group::perms(n, gens).unwrap();
        let v = action(&g, "permute", &[n]).unwrap();
        same(&v, &v, r);
        same(&v.tensor(&v), &v, r);
    }

    #[test]
    fn random_signed_partial_permutations_agree(
        (d, gens, metric, r) in (2usize..=6).prop_flat_map(|d| (
            Just(d),
            prop::collection::vec(signed_partial(d), 1..=2),
            prop::sample::select(vec![Metric::Linear, Metric::Circular(d), Metric::Discrete]),
            0usize..=2,
        ))
    ) {
        // A monoid with one made-up generator per map, acting on a line of points.
        let names = gens
            .iter()
            .enumerate()
            .map(|(k, _)| (format!("g{k}"), vec![vec![Number::int(1)]]))
            .collect();
        let g = Group::matrices(1, names, true).unwrap();
        let v = Space::atom(&[d], Some(g), gens, vec![], vec![Axis::Point(metric)]);
        // Only maps that read each point at most once take the orbit path.
        if let Some((fast, general)) = both(&v, &v, r) {
            prop_assert_eq!(fast.map(|b| b.render("W")), general.map(|b| b.render("W")));
        }
    }
}

#[test]
fn a_long_ring_keeps_only_its_taps() {
    let n = 100_000;
    let c = Group::cyclic(n).unwrap();
    let ring = action(&c, "shift", &[n]).unwrap();
    let basis = equivariant(&ring, &ring, Some(2)).unwrap();
    assert_eq!(basis.free(), 5);
    assert_eq!(basis.dense(), n * n);
    let crate::Pattern::Sparse { cols, .. } = basis.pattern() else {
        panic!("a sparse pattern");
    };
    assert_eq!(cols.len(), 5 * n);
    // Entry (i, j) carries the label of its offset j − i mod n, in the
    // order the offsets first occur in row 0: 0, 1, 2, n − 2, n − 1.
    let offsets = [0, 1, 2, n - 2, n - 1];
    for (e, element) in basis.inner_elements().iter().enumerate() {
        assert_eq!(element.len(), n);
        for &(u, v) in element {
            let (i, j) = (u as usize / n, u as usize % n);
            assert_eq!((j + n - i) % n, offsets[e]);
            assert_eq!(v, 1.0);
        }
    }
    assert_eq!(basis.fans(), (5.0, 5.0));
}

#[test]
fn a_kernel_keeping_too_many_pairs_is_refused_with_its_count() {
    let n = 1 << 20;
    let c = Group::cyclic(n).unwrap();
    let ring = action(&c, "shift", &[n]).unwrap();
    let Err(SolveError::TooLarge { points, limit }) = equivariant(&ring, &ring, Some(20)) else {
        panic!("refused");
    };
    assert_eq!(points, (n as u128, n as u128));
    assert!(limit.contains(&format!("keeps {}", 41 * n)), "{limit}");
}
