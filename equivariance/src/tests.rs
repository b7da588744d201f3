//! Known dimensions of equivariant bases, each computed from generators and
//! checked against its constraints; errors; expand/project; sampling.

use super::*;

fn space(g: &Group, name: &str, shape: &[usize]) -> Space {
    action(g, name, shape).unwrap()
}

/// Solves, then checks every basis element against the constraints and the
/// basis for full rank, and returns the number of free coefficients.
fn solve(a: &Space, b: &Space, local: Option<usize>) -> Basis {
    let basis = equivariant(a, b, local).unwrap();
    let residual = basis.max_residual(a, b);
    assert!(
        residual < 1e-9,
        "basis violates the constraints by {residual}"
    );
    assert_eq!(
        rank(&basis),
        basis.pattern().count(),
        "basis is not of full rank"
    );
    basis
}

/// The rank of the inner basis, by Gaussian elimination with partial pivoting.
fn rank(basis: &Basis) -> usize {
    let (m, n) = basis.inner_shapes();
    let cols = m.iter().product::<usize>() * n.iter().product::<usize>();
    let p = basis.pattern();
    if let Pattern::Labels { labels, count } = p {
        // Disjoint signed indicators are independent iff none is empty.
        let mut seen = vec![false; *count];
        for l in labels.iter().filter(|l| **l != 0) {
            seen[l.unsigned_abs() as usize - 1] = true;
        }
        return seen.iter().filter(|s| **s).count();
    }
    let mut rows: Vec<Vec<f64>> = (0..p.count())
        .map(|k| {
            let mut r = vec![0.0; cols];
            for (u, v) in p.element(k) {
                r[u as usize] = v;
            }
            r
        })
        .collect();
    let mut rank = 0;
    for c in 0..cols {
        let Some(best) =
            (rank..rows.len()).max_by(|&a, &b| rows[a][c].abs().total_cmp(&rows[b][c].abs()))
        else {
            break;
        };
        if rows[best][c].abs() < 1e-9 {
            continue;
        }
        rows.swap(rank, best);
        let pivot = rows[rank].clone();
        for row in rows.iter_mut().skip(rank + 1) {
            let f = row[c] / pivot[c];
            for (x, y) in row.iter_mut().zip(&pivot) {
                *x -= f * y;
            }
        }
        rank += 1;
    }
    rank
}

/// The Bell numbers by the Bell triangle.
fn bell(k: usize) -> usize {
    let mut row = vec![1usize];
    for _ in 0..k {
        let mut next = vec![*row.last().unwrap()];
        for x in &row {
            next.push(next.last().unwrap() + x);
        }
        row = next;
    }
    row[0]
}

fn tensor_power(v: &Space, k: usize) -> Space {
    if k == 0 {
        Space::scalar(v.group())
    } else {
        v.power(k).unwrap()
    }
}

#[test]
fn symmetric_group_gives_bell_numbers_when_n_is_large_enough() {
    for (k, l) in [
        (1, 1),
        (1, 2),
        (2, 1),
        (2, 2),
        (0, 1),
        (0, 2),
        (1, 3),
        (0, 4),
    ] {
        let n = (k + l).max(2);
        let g = Group::symmetric(n).unwrap();
        let v = space(&g, "permute", &[n]);
        let b = solve(&tensor_power(&v, k), &tensor_power(&v, l), None);
        assert_eq!(b.free(), bell(k + l), "S_{n} on {k} -> {l}");
        assert_eq!(b.method(), Method::Orbits);
    }
}

#[test]
fn bell_numbers_in_the_listed_cases() {
    let g = Group::symmetric(5).unwrap();
    let v = space(&g, "permute", &[5]);
    let t2 = v.tensor(&v);
    assert_eq!(solve(&v, &v, None).free(), 2);
    assert_eq!(solve(&v, &t2, None).free(), 5);
    assert_eq!(solve(&t2, &v, None).free(), 5);
    assert_eq!(solve(&t2, &t2, None).free(), 15);
}

#[test]
fn symmetric_3_on_two_tensors_is_not_bell() {
    let g = Group::symmetric(3).unwrap();
    let v = space(&g, "permute", &[3]);
    let t2 = v.power(2).unwrap();
    assert_eq!(solve(&t2, &t2, None).free(), 14);
}

#[test]
fn cyclic_shift_gives_circulants() {
    for n in 1..=9 {
        let g = Group::cyclic(n).unwrap();
        let v = space(&g, "shift", &[n]);
        let b = solve(&v, &v, None);
        assert_eq!(b.free(), n);
        // A circulant: the label of W[i, j] depends on (i − j) mod n only.
        let Pattern::Labels { labels, .. } = b.pattern() else {
            panic!("orbits")
        };
        for i in 0..n {
            for j in 0..n {
                assert_eq!(labels[i * n + j], labels[((i + 1) % n) * n + (j + 1) % n]);
            }
        }
    }
}

#[test]
fn dihedral_gives_half_n_plus_one() {
    for n in 1..=10 {
        let g = Group::dihedral(n).unwrap();
        let v = space(&g, "permute", &[n]);
        assert_eq!(solve(&v, &v, None).free(), n / 2 + 1, "D_{n}");
    }
}

#[test]
fn so3_cross_product_and_its_parity() {
    let so3 = Group::so3();
    let v = space(&so3, "rotate", &[3]);
    let t2 = v.tensor(&v);
    let b = solve(&t2, &v, None);
    assert_eq!(b.free(), 1);
    assert!(b.is_exact());
    // The one basis element is the Levi-Civita symbol, up to scale.
    let w = b.expand_f64(&[1.0]);
    let eps = |i: usize, j: usize, k: usize| -> f64 {
        let p = [i, j, k];
        if p[0] == p[1] || p[1] == p[2] || p[0] == p[2] {
            return 0.0;
        }
        let inversions = (0..3)
            .flat_map(|a| (a + 1..3).map(move |b| (a, b)))
            .filter(|&(a, b)| p[a] > p[b])
            .count();
        if inversions % 2 == 0 { 1.0 } else { -1.0 }
    };
    let scale = w[5]; // W[0, (1, 2)]
    assert!(scale != 0.0);
    for i in 0..3 {
        for j in 0..3 {
            for k in 0..3 {
                assert_eq!(w[i * 9 + j * 3 + k], scale * eps(i, j, k));
            }
        }
    }
    let o3 = Group::o3();
    let v = space(&o3, "rotate", &[3]);
    assert_eq!(solve(&v.tensor(&v), &v, None).free(), 0);
}

#[test]
fn so3_on_vectors_and_two_tensors() {
    let g = Group::so3();
    let v = space(&g, "rotate", &[3]);
    assert_eq!(solve(&v, &v, None).free(), 1);
    let t2 = v.power(2).unwrap();
    assert_eq!(solve(&t2, &t2, None).free(), 3);
    let t3 = v.power(3).unwrap();
    assert_eq!(solve(&t3, &t3, None).free(), 15);
}

#[test]
fn so2_and_o2_on_the_plane() {
    let v = space(&Group::so2(), "rotate", &[2]);
    assert_eq!(solve(&v, &v, None).free(), 2);
    let v = space(&Group::o2(), "rotate", &[2]);
    assert_eq!(solve(&v, &v, None).free(), 1);
}

#[test]
fn shifts_give_lower_triangular_toeplitz() {
    for n in 1..=8 {
        let g = Group::shifts(n).unwrap();
        let v = space(&g, "shift_zero", &[n]);
        let b = solve(&v, &v, None);
        assert_eq!(b.free(), n);
        let Pattern::Labels { labels, .. } = b.pattern() else {
            panic!("signed orbits")
        };
        for i in 0..n {
            for j in 0..n {
                let l = labels[i * n + j];
                if j > i {
                    assert_eq!(l, 0, "upper triangle is zero");
                } else {
                    assert_eq!(l, labels[(i - j) * n], "Toeplitz: W[i,j] = W[i−j, 0]");
                    assert!(l > 0);
                }
            }
        }
    }
}

#[test]
fn causal_convolution_with_local_keeps_taps() {
    let g = Group::shifts(12).unwrap();
    let v = space(&g, "shift_zero", &[12]);
    let v8 = Space::bare(&[8]).tensor(&v);
    assert_eq!(solve(&v, &v, Some(2)).free(), 3);
    let b = solve(&v, &v8, Some(2));
    assert_eq!((b.free(), b.dense()), (24, 8 * 12 * 12));
}

#[test]
fn lorentz_on_two_tensors() {
    let g = Group::lorentz();
    let v = space(&g, "lorentz", &[4]);
    let t2 = v.power(2).unwrap();
    assert_eq!(solve(&t2, &t2, None).free(), 3);
    assert_eq!(solve(&v, &v, None).free(), 1);
}

#[test]
fn c4_rotations_of_an_image() {
    let g = Group::cyclic(4).unwrap();
    let img = space(&g, "rotate", &[8, 8]);
    let b = solve(&img, &img, None);
    assert_eq!((b.free(), b.dense()), (1024, 4096));
}

#[test]
fn p4_lifting_with_local_gives_one_kernel_per_channel_pair() {
    let g = Group::p4(8).unwrap();
    let img = space(&g, "rotate_translate", &[8, 8]);
    let ori = space(&g, "regular", &[4]);
    let lift = ori.tensor(&img);
    assert_eq!(solve(&img, &lift, Some(1)).free(), 9);
    let lift6 = Space::bare(&[6]).tensor(&lift);
    let b = solve(&img, &lift6, Some(1));
    assert_eq!(b.free(), 54);
    assert_eq!(b.dense_shape(), vec![6, 4, 8, 8, 8, 8]);
    // Group convolution on the lifted space: 4 orientations × 9 taps.
    assert_eq!(solve(&lift, &lift, Some(1)).free(), 36);
    // The invariant read-out sums over orientations and positions.
    let out = space(&g, "trivial", &[4]);
    assert_eq!(solve(&lift6, &out, None).free(), 24);
}

#[test]
fn p4m_lifting_with_local() {
    let g = Group::p4m(6).unwrap();
    let img = space(&g, "rotate_flip_translate", &[6, 6]);
    let ori = space(&g, "regular", &[8]);
    assert_eq!(solve(&img, &ori.tensor(&img), Some(1)).free(), 9);
    // Without translations, a 3×3 kernel symmetric under D4 has 3 values.
    let d4 = Group::dihedral(4).unwrap();
    let tile = space(&d4, "rotate_flip", &[3, 3]);
    assert_eq!(solve(&Space::scalar(Some(&d4)), &tile, None).free(), 3);
}

#[test]
fn deepsets_channels_are_factored_out() {
    let g = Group::symmetric(10).unwrap();
    let pts = space(&g, "permute", &[10]);
    let input = Space::bare(&[10]).tensor(&pts);
    let hidden = Space::bare(&[32]).tensor(&pts);
    let b = solve(&input, &hidden, None);
    assert_eq!((b.free(), b.dense()), (640, 32000));
    assert_eq!(b.channels(), (32, 10));
    let inv = invariant(&hidden).unwrap();
    assert_eq!((inv.free(), inv.dense()), (32, 320));
    let out = space(&g, "trivial", &[10]);
    assert_eq!(solve(&hidden, &out, None).free(), 320);
}

#[test]
fn nothing_is_invariant_under_the_truncating_shift() {
    let g = Group::shifts(8).unwrap();
    let seq = space(&g, "shift_zero", &[8]);
    assert_eq!(invariant(&seq).unwrap().free(), 0);
    assert_eq!(
        invariant(&Space::bare(&[8]).tensor(&seq)).unwrap().free(),
        0
    );
}

#[test]
fn ring_convolution_with_local() {
    let g = Group::cyclic(8).unwrap();
    let ring = space(&g, "shift", &[8]);
    assert_eq!(solve(&ring, &ring, Some(1)).free(), 3);
    let ring4 = Space::bare(&[4]).tensor(&ring);
    assert_eq!(solve(&ring, &ring4, Some(1)).free(), 12);
    // A Chebyshev ball of radius 1 around an index pair of a 2-torus.
    let p4 = Group::p4(5).unwrap();
    let img = space(&p4, "rotate_translate", &[5, 5]);
    let b = equivariant(&img, &img, Some(1)).unwrap();
    // Translations tie all positions; rotation ties the 8 neighbours in
    // two orbits (edges, corners) plus the centre.
    assert_eq!(b.free(), 3);
}

#[test]
fn product_groups_multiply_dimensions() {
    let s = Group::symmetric(5).unwrap();
    let c = Group::cyclic(8).unwrap();
    let a = space(&s, "permute", &[5]);
    let b = space(&c, "shift", &[8]);
    let ab = a.tensor(&b);
    assert_eq!(
        ab.group().unwrap().to_string(),
        "product(symmetric(5), cyclic(8))"
    );
    assert_eq!(solve(&ab, &ab, None).free(), 16);
}

#[test]
fn direct_sums_are_solved_in_blocks() {
    let so3 = Group::so3();
    let v = space(&so3, "rotate", &[3]);
    let pair = v.direct_sum(&v).unwrap();
    assert_eq!(pair.shape(), &[6]);
    assert_eq!(solve(&pair, &pair, None).free(), 4);
    let s = Group::symmetric(4).unwrap();
    let p = space(&s, "permute", &[4]);
    let with_scalar = p.direct_sum(&Space::bare(&[1])).unwrap();
    // Hom(V ⊕ 1, V ⊕ 1) = Hom(V,V) ⊕ Hom(1,V) ⊕ Hom(V,1) ⊕ Hom(1,1) = 2+1+1+1.
    assert_eq!(solve(&with_scalar, &with_scalar, None).free(), 5);
}

#[test]
fn user_groups_by_cycles_and_matrices() {
    let cu = Group::perms(
        5,
        vec![
            ("a".into(), vec![vec![0, 1, 2]]),
            ("b".into(), vec![vec![3, 4]]),
        ],
    )
    .unwrap();
    let v = space(&cu, "defining", &[5]);
    // Orbits {0,1,2} and {3,4}: Hom = C3-circulants (3) + 2 (Z2 commutant) + 1 + 1.
    assert_eq!(solve(&v, &v, None).free(), 7);
    let mx = Group::matrices(
        2,
        vec![(
            "r".into(),
            vec![vec![0.into(), (-1).into()], vec![1.into(), 0.into()]],
        )],
        false,
    )
    .unwrap();
    let v = space(&mx, "defining", &[2]);
    assert_eq!(solve(&v, &v, None).free(), 2);
    // A nilpotent shift: its commutant is the polynomials in it.
    let s = |a: i64| Number::int(a);
    let rows = vec![
        vec![s(0), s(0), s(0)],
        vec![s(1), s(0), s(0)],
        vec![s(0), s(1), s(0)],
    ];
    let mm = Group::matrices(3, vec![("s".into(), rows)], true).unwrap();
    let v = space(&mm, "defining", &[3]);
    assert_eq!(solve(&v, &v, None).free(), 3);
    // A non-monomial rational matrix goes through exact elimination.
    let half = Number::parse_exact("0.5").unwrap();
    let rows = vec![vec![half.clone(), s(1)], vec![s(0), s(2)]];
    let g = Group::matrices(2, vec![("m".into(), rows)], false).unwrap();
    let v = space(&g, "defining", &[2]);
    let b = solve(&v, &v.tensor(&v), None);
    assert!(b.is_exact());
}

#[test]
fn floats_are_solved_with_a_reported_gap() {
    let (c, s) = (1f64.cos(), 1f64.sin());
    let rows = vec![
        vec![Number::Float(c), Number::Float(-s)],
        vec![Number::Float(s), Number::Float(c)],
    ];
    let g = Group::matrices(2, vec![("r".into(), rows)], false).unwrap();
    let v = space(&g, "defining", &[2]);
    let b = solve(&v, &v, None);
    assert_eq!(b.free(), 2);
    assert_eq!(b.method(), Method::Float);
    let gap = b.gap().unwrap();
    assert!(
        gap.largest_zero < 1e-12 && gap.smallest_nonzero > 1e-3,
        "{gap:?}"
    );
    // Rotation by an irrational angle: invariants of V⊗V are I and J.
    assert_eq!(invariant(&v.tensor(&v)).unwrap().free(), 2);
    // The canonical form is the reduced row echelon form: [[1,0],[0,1]] and [[0,-1],[1,0]].
    let w = b.expand_f64(&[1.0, 0.0]);
    assert_eq!(w, vec![1.0, 0.0, 0.0, 1.0]);
}

#[test]
fn action_errors_say_what_would_work() {
    let c4 = Group::cyclic(4).unwrap();
    let err = action(&c4, "rotate", &[6, 7]).unwrap_err();
    assert!(
        matches!(&err, ActionError::WrongShape { expected, .. } if expected.contains("square"))
    );
    let err = action(&Group::so3(), "permute", &[3]).unwrap_err();
    assert!(matches!(err, ActionError::NotForGroup { .. }));
    let err = action(&Group::symmetric(5).unwrap(), "permute", &[4]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "action `permute` of symmetric(5) does not fit R[4]; it acts on R[5]"
    );
    assert!(matches!(
        action(&c4, "spin", &[4]),
        Err(ActionError::Unknown { .. })
    ));
}

#[test]
fn group_and_space_errors() {
    let err = Group::perms(5, vec![("a".into(), vec![vec![0, 5]])]).unwrap_err();
    assert_eq!(
        err,
        GroupError::PointOutOfRange {
            generator: "a".into(),
            point: 5,
            n: 5
        }
    );
    let err = Group::matrices(
        2,
        vec![("m".into(), vec![vec![1.into()], vec![0.into(), 1.into()]])],
        false,
    );
    assert!(matches!(
        err,
        Err(GroupError::WrongRowLength { row: 0, len: 1, .. })
    ));
    let singular = vec![
        vec![Number::int(0), Number::int(0)],
        vec![Number::int(1), Number::int(0)],
    ];
    let err = Group::matrices(2, vec![("s".into(), singular.clone())], false);
    assert!(matches!(err, Err(GroupError::SingularGenerator { .. })));
    assert!(
        Group::matrices(2, vec![("s".into(), singular)], true)
            .unwrap()
            .is_monoid()
    );
    let a = space(&Group::symmetric(8).unwrap(), "permute", &[8]);
    let b = space(&Group::cyclic(8).unwrap(), "shift", &[8]);
    assert!(matches!(
        a.direct_sum(&b),
        Err(SpaceError::DifferentGroups { .. })
    ));
    assert!(matches!(
        a.tensor(&a).direct_sum(&a),
        Err(SpaceError::SumNotRankOne { .. })
    ));
    assert!(matches!(
        equivariant(&a, &b, None),
        Err(SolveError::DifferentGroups { .. })
    ));
    let p4 = Group::p4(4).unwrap();
    let img = space(&p4, "rotate_translate", &[4, 4]);
    let out = space(&p4, "trivial", &[4]);
    assert!(matches!(
        equivariant(&img, &out, Some(1)),
        Err(SolveError::LocalMismatch { .. })
    ));
}

#[test]
fn classification_for_the_static_rules() {
    let perm = space(&Group::symmetric(4).unwrap(), "permute", &[4]).classify();
    assert_eq!(
        perm,
        ActionClass {
            discrete: DiscreteClass::Permutation,
            lie_zero: true,
            orthogonal: true
        }
    );
    let causal = space(&Group::shifts(4).unwrap(), "shift_zero", &[4]).classify();
    assert_eq!(causal.discrete, DiscreteClass::PartialPermutation);
    assert!(!causal.orthogonal);
    let o3 = space(&Group::o3(), "rotate", &[3]).classify();
    assert_eq!(o3.discrete, DiscreteClass::SignedPermutation);
    assert!(!o3.lie_zero && o3.orthogonal);
    let lorentz = space(&Group::lorentz(), "lorentz", &[4]).classify();
    assert!(
        !lorentz.orthogonal,
        "boosts are symmetric, not antisymmetric"
    );
    let s = |a: i64| Number::int(a);
    let g = Group::matrices(
        2,
        vec![("m".into(), vec![vec![s(1), s(1)], vec![s(0), s(1)]])],
        false,
    )
    .unwrap();
    assert_eq!(
        space(&g, "defining", &[2]).classify().discrete,
        DiscreteClass::General
    );
}

#[test]
fn expand_and_project_are_adjoint() {
    let mut rng = Rng::new(7);
    let g = Group::so3();
    let v = space(&g, "rotate", &[3]);
    let hid = Space::bare(&[4]).tensor(&v);
    let two = Space::bare(&[2]).tensor(&v.tensor(&v));
    let p = Group::p4(4).unwrap();
    let img = space(&p, "rotate_translate", &[4, 4]);
    for b in [
        equivariant(&two, &hid, None).unwrap(),
        equivariant(&img, &Space::bare(&[3]).tensor(&img), Some(1)).unwrap(),
    ] {
        let c: Vec<f64> = (0..b.free()).map(|_| rng.normal()).collect();
        let gw: Vec<f64> = (0..b.dense()).map(|_| rng.normal()).collect();
        let w = b.expand_f64(&c);
        let lhs: f64 = w.iter().zip(&gw).map(|(x, y)| x * y).sum();
        let rhs: f64 = c.iter().zip(b.project_f64(&gw)).map(|(x, y)| x * y).sum();
        assert!((lhs - rhs).abs() < 1e-9 * lhs.abs().max(1.0));
        let w32 = b.expand_f32(&c.iter().map(|&x| x as f32).collect::<Vec<_>>());
        assert!(
            w32.iter()
                .zip(&w)
                .all(|(a, b)| (*a as f64 - b).abs() < 1e-5)
        );
    }
}

#[test]
fn expanded_maps_commute_with_random_group_elements() {
    let mut rng = Rng::new(11);
    let cases: Vec<(Space, Space)> = {
        let so3 = Group::so3();
        let v = space(&so3, "rotate", &[3]);
        let lor = Group::lorentz();
        let l = space(&lor, "lorentz", &[4]);
        let sh = Group::shifts(6).unwrap();
        let seq = space(&sh, "shift_zero", &[6]);
        let p4 = Group::p4(4).unwrap();
        let img = space(&p4, "rotate_translate", &[4, 4]);
        let ori = space(&p4, "regular", &[4]);
        vec![
            (v.tensor(&v), Space::bare(&[2]).tensor(&v)),
            (l.power(2).unwrap(), l.power(2).unwrap()),
            (seq.clone(), Space::bare(&[3]).tensor(&seq)),
            (img.clone(), ori.tensor(&img)),
        ]
    };
    for (a, b) in &cases {
        let basis = equivariant(a, b, None).unwrap();
        let c: Vec<f64> = (0..basis.free()).map(|_| rng.normal()).collect();
        let w = basis.expand_f64(&c);
        let (m, n) = (b.dim(), a.dim());
        let apply = |x: &[f64]| -> Vec<f64> {
            (0..m)
                .map(|i| (0..n).map(|j| w[i * n + j] * x[j]).sum())
                .collect()
        };
        for _ in 0..5 {
            let g = Element::random(a.group().unwrap(), &mut rng, 6);
            let x: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
            let lhs = apply(&a.act(&g, &x));
            let rhs = b.act(&g, &apply(&x));
            let err = lhs
                .iter()
                .zip(&rhs)
                .map(|(p, q)| (p - q).abs())
                .fold(0.0, f64::max);
            let scale = rhs.iter().map(|v| v.abs()).fold(1.0, f64::max);
            assert!(err < 1e-9 * scale, "equivariance error {err}");
        }
    }
}

#[test]
fn rotations_sampled_by_exp_are_orthogonal() {
    let mut rng = Rng::new(3);
    let v = space(&Group::so3(), "rotate", &[3]);
    for _ in 0..10 {
        let g = Element::random(&Group::so3(), &mut rng, 3);
        let x = [rng.normal(), rng.normal(), rng.normal()];
        let y = v.act(&g, &x);
        let norm = |z: &[f64]| z.iter().map(|t| t * t).sum::<f64>();
        assert!((norm(&x) - norm(&y)).abs() < 1e-10 * norm(&x));
        assert!(
            x.iter().zip(&y).any(|(p, q)| (p - q).abs() > 1e-6),
            "a random rotation moves x"
        );
    }
}

#[test]
fn init_scales_match_a_dense_initialiser() {
    let g = Group::cyclic(8).unwrap();
    let ring = space(&g, "shift", &[8]);
    let b = equivariant(&ring, &Space::bare(&[4]).tensor(&ring), Some(1)).unwrap();
    // A 3-tap convolution: each output sees 3 inputs; each input feeds 4·3 outputs.
    assert_eq!(b.fans(), (3.0, 12.0));
    let std = b.init_std(DenseInit::He);
    assert!(std.iter().all(|s| (s * s - 2.0 / 3.0).abs() < 1e-12));
}

#[test]
fn basis_elements_are_normalised_to_average() {
    // DeepSets: the identity and the sum over the other points, scaled to
    // unit row norm.
    let n = 6;
    let g = Group::symmetric(n).unwrap();
    let pts = space(&g, "permute", &[n]);
    let b = equivariant(
        &Space::bare(&[3]).tensor(&pts),
        &Space::bare(&[5]).tensor(&pts),
        None,
    )
    .unwrap();
    assert_eq!(b.pattern().count(), 2);
    let mut values: Vec<Vec<f64>> = (0..2)
        .map(|e| {
            let mut dense = vec![0.0; n * n];
            for (u, v) in b.inner_element(e) {
                dense[u as usize] = v;
            }
            dense
        })
        .collect();
    values.sort_by(|x, y| x[1].total_cmp(&y[1]));
    let (identity, mean) = (&values[0], &values[1]);
    for u in 0..n * n {
        let diagonal = u / n == u % n;
        assert_eq!(identity[u], if diagonal { 1.0 } else { 0.0 });
        let want = if diagonal {
            0.0
        } else {
            1.0 / ((n - 1) as f64).sqrt()
        };
        assert!((mean[u] - want).abs() < 1e-15);
    }
    // Each coefficient weighs one unit-variance input per channel: fans 2c, 2d,
    // and every coefficient gets the dense initialiser's variance there.
    assert_eq!(b.fans(), (6.0, 10.0));
    let std = b.init_std(DenseInit::Glorot);
    assert_eq!(std.len(), b.free());
    assert!(std.iter().all(|s| (s * s - 2.0 / 16.0).abs() < 1e-12));
    // Expansion applies the normalised elements.
    let coeffs: Vec<f64> = (0..b.free()).map(|k| k as f64 + 1.0).collect();
    let dense = b.expand_f64(&coeffs);
    for k in 0..b.free() {
        for (i, v) in b.element(k) {
            assert!(v.abs() == 1.0 || (v - 1.0 / ((n - 1) as f64).sqrt()).abs() < 1e-15);
            assert!(dense[i] != 0.0);
        }
    }
}

#[test]
fn tying_report_starts_with_the_summary_line() {
    let g = Group::symmetric(10).unwrap();
    let pts = space(&g, "permute", &[10]);
    let b = equivariant(
        &Space::bare(&[10]).tensor(&pts),
        &Space::bare(&[32]).tensor(&pts),
        None,
    )
    .unwrap();
    let text = b.render("phi.W");
    assert_eq!(text.lines().next().unwrap(), "phi.W: 640 free of 32000");
    assert!(text.contains("group: symmetric(10)"));
    assert_eq!(text, b.render("phi.W"), "deterministic");
    let v = space(&Group::so3(), "rotate", &[3]);
    let text = equivariant(&v.tensor(&v), &v, None)
        .unwrap()
        .render("proj.W");
    assert!(text.starts_with("proj.W: 1 free of 27\n"));
    assert!(text.contains("B1:"));
}

#[test]
fn decimal_literals_are_exact() {
    assert_eq!(Number::parse_exact("0.25"), Some(Number::ratio(1, 4)));
    assert_eq!(Number::parse_exact("-1.5e1"), Some(Number::int(-15)));
    assert_eq!(Number::parse_exact("2/3"), Some(Number::ratio(2, 3)));
    assert_eq!(Number::parse_exact("x"), None);
}

#[test]
fn only_the_zero_map_from_vectors_to_scalars() {
    let g = Group::so3();
    let vec3 = space(&g, "rotate", &[3]);
    let scal = space(&g, "trivial", &[1]);
    let b = solve(&vec3, &scal, None);
    assert_eq!((b.free(), b.dense()), (0, 3));
}

/// The two speed targets; run with `cargo test --release -- --ignored`.
#[test]
#[ignore]
fn large_cases_solve_in_well_under_a_second() {
    let t = std::time::Instant::now();
    let g = Group::symmetric(50).unwrap();
    let node = space(&g, "permute", &[50]);
    let edge = node.tensor(&node);
    assert_eq!(equivariant(&edge, &edge, None).unwrap().free(), 15);
    let c4 = Group::cyclic(4).unwrap();
    let img = space(&c4, "rotate", &[12, 12]);
    assert_eq!(equivariant(&img, &img, None).unwrap().free(), 5184);
    let elapsed = t.elapsed().as_secs_f64();
    assert!(elapsed < 1.0, "took {elapsed} s");
}

#[test]
fn constant_vectors_are_fixed_by_permutations_only() {
    let s = Group::symmetric(5).unwrap();
    assert!(space(&s, "permute", &[5]).fixes_ones());
    let pts = space(&s, "permute", &[5]);
    assert!(pts.tensor(&pts).fixes_ones());
    let sh = Group::shifts(5).unwrap();
    assert!(!space(&sh, "shift_zero", &[5]).fixes_ones());
    assert!(!space(&Group::so3(), "rotate", &[3]).fixes_ones());
    assert!(!space(&Group::so2(), "rotate", &[2]).fixes_ones());
}

#[test]
fn elementwise_products_carry_the_product_of_the_signs() {
    let minus = vec![vec![Number::int(-1)]];
    let flip = Group::matrices(1, vec![("f".to_string(), minus)], false).unwrap();
    let odd = space(&flip, "defining", &[1]);
    assert!(!odd.is_trivial_action());
    let square = odd.hadamard(&odd).expect("monomial, same sources");
    assert!(
        square.is_trivial_action(),
        "x * x of an odd value is invariant"
    );
    let s = Group::symmetric(4).unwrap();
    let pts = space(&s, "permute", &[4]);
    assert_eq!(pts.hadamard(&pts).as_ref(), Some(&pts));
    let v = space(&Group::so3(), "rotate", &[3]);
    assert_eq!(v.hadamard(&v), None, "rotations are not monomial");
    assert_eq!(pts.hadamard(&space(&s, "trivial", &[4])), None);
}

#[test]
fn tensor_products_of_monomial_actions_split_into_their_factors() {
    let s = Group::symmetric(4).unwrap();
    let pts = space(&s, "permute", &[4]);
    let edge = pts.tensor(&pts);
    let (l, r) = edge.split_axes(1).expect("P ⊗ P splits");
    assert_eq!((&l, &r), (&pts, &pts));
    assert_eq!(l.tensor(&r), edge);
    let v = space(&Group::so3(), "rotate", &[3]);
    assert!(
        v.tensor(&v).split_axes(1).is_none(),
        "rotations are matrices"
    );
    let p4 = Group::p4(4).unwrap();
    let img = space(&p4, "rotate_translate", &[4, 4]);
    assert!(img.split_axes(1).is_none(), "a rotation mixes the two axes");
}
