//! Each generator's defining property, its types, and determinism.

use super::*;
use crate::data::{DataError, check_examples};

fn args(pairs: &[(&str, f64)]) -> Vec<(String, f64)> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

#[track_caller]
fn make(name: &str, pairs: &[(&str, f64)], seed: u64) -> Dataset {
    let a = args(pairs);
    let d = generate(name, &a, seed).expect("valid arguments");
    assert_eq!(d.signature, signature(name, &a).expect("valid arguments"));
    assert_eq!(
        d.examples.len(),
        a.iter()
            .find(|(k, _)| k == "samples")
            .map_or(0, |(_, v)| *v as usize)
    );
    if let Err((i, m)) = check_examples(&d.examples, &d.signature) {
        panic!("example {i} of {name} does not match its signature: {m}");
    }
    // Determinism: the same seed gives the same data, another seed other data.
    assert_eq!(generate(name, &a, seed).expect("valid arguments"), d);
    assert_ne!(
        generate(name, &a, seed + 1)
            .expect("valid arguments")
            .examples,
        d.examples
    );
    d
}

fn tensor(v: &Value) -> &Tensor {
    v.as_tensor().expect("a tensor input")
}

fn class(y: &Target) -> usize {
    match y {
        Target::Class(c) => *c,
        other => panic!("expected a class, found {other:?}"),
    }
}

fn one_hot_index(t: &Tensor) -> usize {
    assert_eq!(
        t.data.iter().filter(|v| **v == 1.0).count(),
        1,
        "one-hot: {t:?}"
    );
    assert_eq!(
        t.data.iter().filter(|v| **v == 0.0).count(),
        t.data.len() - 1
    );
    t.data
        .iter()
        .position(|v| *v == 1.0)
        .expect("checked above")
}

fn mean_std(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let m = xs.iter().sum::<f64>() / n;
    let v = xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n;
    (m, v.sqrt())
}

#[test]
fn spirals_lie_on_their_arm() {
    let d = make("spirals", &[("classes", 3.0), ("samples", 600.0)], 1);
    let mut seen = [0; 3];
    for e in &d.examples {
        let c = class(&e.y);
        seen[c] += 1;
        let p = tensor(&e.x);
        let r = p.data[0].hypot(p.data[1]);
        assert!(r <= 1.0);
        // The angle minus the arm's own angle is the noise, std 0.2; wrap it
        // into (-pi, pi] and allow 6 standard deviations.
        let arm = 2.0 * PI * c as f64 / 3.0 + SPIRAL_TURN * r;
        let mut noise = p.data[1].atan2(p.data[0]) - arm;
        noise = (noise + PI).rem_euclid(2.0 * PI) - PI;
        assert!(
            noise.abs() < 6.0 * SPIRAL_ANGLE_NOISE,
            "noise {noise} on arm {c}"
        );
    }
    assert!(
        seen.iter().all(|&n| n > 150),
        "classes are drawn uniformly: {seen:?}"
    );
}

fn bits(x: &Value) -> Vec<usize> {
    x.as_list()
        .expect("a list input")
        .into_iter()
        .map(|v| one_hot_index(tensor(v)))
        .collect()
}

#[test]
fn parity_labels_are_the_parity_of_the_ones() {
    let d = make(
        "parity",
        &[("min_length", 2.0), ("max_length", 9.0), ("samples", 400.0)],
        7,
    );
    let mut lengths = std::collections::BTreeSet::new();
    let mut labels = [0; 2];
    for e in &d.examples {
        let b = bits(&e.x);
        lengths.insert(b.len());
        let ones = b.iter().filter(|&&b| b == 1).count();
        assert_eq!(class(&e.y), ones % 2);
        labels[ones % 2] += 1;
    }
    assert_eq!(lengths, (2..=9).collect(), "every length in range is drawn");
    assert!(labels.iter().all(|&n| n > 120), "{labels:?}");
}

#[test]
fn running_parity_labels_every_prefix() {
    let d = make(
        "running_parity",
        &[("min_length", 0.0), ("max_length", 6.0), ("samples", 200.0)],
        3,
    );
    assert!(
        d.examples.iter().any(|e| bits(&e.x).is_empty()),
        "length 0 is allowed"
    );
    for e in &d.examples {
        let b = bits(&e.x);
        let Target::Seq(ys) = &e.y else {
            panic!("expected a sequence target")
        };
        assert_eq!(ys.len(), b.len());
        for (i, y) in ys.iter().enumerate() {
            assert_eq!(class(y), b[..=i].iter().sum::<usize>() % 2);
        }
    }
}

/// The digits at the leaves, left to right, and the tree's height.
fn leaves(v: &Value, out: &mut Vec<usize>) -> usize {
    match v {
        Value::Node { ctor: 0, fields } => {
            out.push(one_hot_index(tensor(&fields[0])));
            0
        }
        Value::Node { ctor: 1, fields } => 1 + leaves(&fields[0], out).max(leaves(&fields[1], out)),
        other => panic!("not a tree: {other:?}"),
    }
}

#[test]
fn sum_trees_label_the_sum_of_leaves() {
    let d = make(
        "sum_trees",
        &[
            ("modulus", 5.0),
            ("min_leaves", 1.0),
            ("max_leaves", 12.0),
            ("samples", 300.0),
        ],
        11,
    );
    let mut heights = std::collections::BTreeSet::new();
    let mut sizes = std::collections::BTreeSet::new();
    for e in &d.examples {
        let mut ds = Vec::new();
        heights.insert(leaves(&e.x, &mut ds));
        sizes.insert(ds.len());
        assert_eq!(class(&e.y), ds.iter().sum::<usize>() % 5);
    }
    assert_eq!(sizes, (1..=12).collect());
    // Random shapes: both balanced-ish and deep trees occur.
    assert!(heights.len() >= 6, "{heights:?}");
}

#[test]
fn random_tree_split_sizes_are_uniform() {
    // The root split of a 5-leaf tree puts j = 1..=4 leaves on the left,
    // each with probability 1/4.
    let mut rng = Rng::new(5);
    let mut counts = [0usize; 5];
    for _ in 0..4000 {
        let t = random_tree(&mut rng, 5, &mut |_| Value::Tensor(Tensor::scalar(0.0)));
        let Value::Node { ctor: 1, fields } = &t else {
            panic!("a 5-leaf tree has a node at the root")
        };
        let mut l = Vec::new();
        count_leaves(&fields[0], &mut l);
        counts[l.len()] += 1;
    }
    assert_eq!(counts[0], 0);
    for &c in &counts[1..] {
        assert!((850..1150).contains(&c), "{counts:?}");
    }
}

fn count_leaves(v: &Value, out: &mut Vec<()>) {
    match v {
        Value::Node { ctor: 0, .. } => out.push(()),
        Value::Node { fields, .. } => {
            count_leaves(&fields[0], out);
            count_leaves(&fields[1], out);
        }
        other => panic!("not a tree: {other:?}"),
    }
}

#[test]
fn counting_continues_from_the_start_digit() {
    let d = make(
        "counting",
        &[("digits", 7.0), ("steps", 9.0), ("samples", 50.0)],
        2,
    );
    for e in &d.examples {
        let s = one_hot_index(tensor(&e.x));
        let Target::Seq(ys) = &e.y else {
            panic!("expected a sequence target")
        };
        let got: Vec<usize> = ys.iter().map(class).collect();
        let want: Vec<usize> = (1..=9).map(|k| (s + k) % 7).collect();
        assert_eq!(got, want);
    }
}

#[test]
fn set_mode_labels_the_unique_mode() {
    let d = make(
        "set_mode",
        &[("points", 6.0), ("digits", 4.0), ("samples", 300.0)],
        9,
    );
    for e in &d.examples {
        let x = tensor(&e.x);
        assert_eq!(x.shape, vec![4, 6]);
        let mut counts = [0usize; 4];
        for p in 0..6 {
            // Column p is the one-hot digit of point p.
            let column: Vec<f64> = (0..4).map(|d| x.data[d * 6 + p]).collect();
            counts[one_hot_index(&Tensor::new(vec![4], column))] += 1;
        }
        let mode = class(&e.y);
        for (d, &c) in counts.iter().enumerate() {
            if d != mode {
                assert!(c < counts[mode], "mode {mode} is not unique in {counts:?}");
            }
        }
    }
}

#[test]
fn unique_argmax_rejects_ties() {
    assert_eq!(unique_argmax(&[1, 3, 2]), Some(1));
    assert_eq!(unique_argmax(&[3, 1, 3]), None);
    assert_eq!(unique_argmax(&[0, 0]), None);
    assert_eq!(unique_argmax(&[5]), Some(0));
}

#[test]
fn triangles_label_the_capped_triangle_count() {
    let d = make(
        "triangles",
        &[("nodes", 7.0), ("edge_prob", 0.35), ("samples", 300.0)],
        4,
    );
    let mut labels = [0; 4];
    for e in &d.examples {
        let a = tensor(&e.x);
        let n = 7;
        let mut brute = 0;
        for i in 0..n {
            assert_eq!(a.data[i * n + i], 0.0, "zero diagonal");
            for j in 0..n {
                assert_eq!(a.data[i * n + j], a.data[j * n + i], "symmetric");
                assert!(a.data[i * n + j] == 0.0 || a.data[i * n + j] == 1.0);
                for k in 0..n {
                    brute += (a.data[i * n + j] * a.data[j * n + k] * a.data[k * n + i]) as usize;
                }
            }
        }
        // trace(A^3) counts each triangle 6 times.
        assert_eq!(class(&e.y), (brute / 6).min(3));
        labels[class(&e.y)] += 1;
    }
    assert!(
        labels.iter().all(|&n| n > 10),
        "all four labels occur: {labels:?}"
    );
}

#[test]
fn triangles_edge_density_matches_p() {
    let d = make(
        "triangles",
        &[("nodes", 20.0), ("edge_prob", 0.2), ("samples", 100.0)],
        5,
    );
    let edges: f64 = d
        .examples
        .iter()
        .map(|e| tensor(&e.x).data.iter().sum::<f64>() / 2.0)
        .sum();
    let pairs = 100.0 * 190.0;
    assert!(
        (edges / pairs - 0.2).abs() < 0.01,
        "density {}",
        edges / pairs
    );
}

fn target_tensor(y: &Target) -> &Tensor {
    match y {
        Target::Tensor(t) => t,
        other => panic!("expected a tensor target, found {other:?}"),
    }
}

#[test]
fn ring_smooth_is_a_circular_moving_average() {
    let d = make("ring_smooth", &[("points", 5.0), ("samples", 400.0)], 8);
    let mut all = Vec::new();
    for e in &d.examples {
        let x = &tensor(&e.x).data;
        let y = &target_tensor(&e.y).data;
        assert!((y[0] - (x[4] + x[0] + x[1]) / 3.0).abs() < 1e-12);
        assert!((y[2] - (x[1] + x[2] + x[3]) / 3.0).abs() < 1e-12);
        assert!((y[4] - (x[3] + x[4] + x[0]) / 3.0).abs() < 1e-12);
        all.extend_from_slice(x);
    }
    let (m, s) = mean_std(&all);
    assert!(
        m.abs() < 0.1 && (s - 1.0).abs() < 0.1,
        "standard normal inputs: {m} {s}"
    );
}

#[test]
fn causal_filter_applies_the_filter() {
    let d = make("causal_filter", &[("length", 6.0), ("samples", 300.0)], 8);
    let mut all = Vec::new();
    for e in &d.examples {
        let x = &tensor(&e.x).data;
        let y = &target_tensor(&e.y).data;
        assert!((y[0] - x[0]).abs() < 1e-12);
        assert!((y[1] - (x[1] + 0.5 * x[0])).abs() < 1e-12);
        for t in 2..6 {
            assert!((y[t] - (x[t] + 0.5 * x[t - 1] - 0.25 * x[t - 2])).abs() < 1e-12);
        }
        all.extend_from_slice(x);
    }
    let (m, s) = mean_std(&all);
    assert!(
        m.abs() < 0.1 && (s - 1.0).abs() < 0.1,
        "standard normal inputs: {m} {s}"
    );
}

#[test]
fn transform_matches_numpy_rot90_and_roll() {
    // p = [[0, 1], [2, 3]]; np.rot90(p) = [[1, 3], [0, 2]];
    // np.roll(np.rot90(p), (1, 0), axis=(0, 1)) = [[0, 2], [1, 3]].
    let p = [0.0, 1.0, 2.0, 3.0];
    assert_eq!(transform(&p, 2, 0, 0, 0), p.to_vec());
    assert_eq!(transform(&p, 2, 1, 0, 0), vec![1.0, 3.0, 0.0, 2.0]);
    assert_eq!(transform(&p, 2, 2, 0, 0), vec![3.0, 2.0, 1.0, 0.0]);
    assert_eq!(transform(&p, 2, 3, 0, 0), vec![2.0, 0.0, 3.0, 1.0]);
    assert_eq!(transform(&p, 2, 1, 1, 0), vec![0.0, 2.0, 1.0, 3.0]);
    // A quarter turn four times is the identity, on a 3 x 3 pattern too.
    let q: Vec<f64> = (0..9).map(f64::from).collect();
    let mut r = q.clone();
    for _ in 0..4 {
        r = transform(&r, 3, 1, 0, 0);
    }
    assert_eq!(r, q);
}

#[test]
fn rotated_patterns_are_a_transformed_pattern_plus_small_noise() {
    let (size, classes) = (5, 3);
    let d = make(
        "rotated_patterns",
        &[("size", 5.0), ("classes", 3.0), ("samples", 100.0)],
        12,
    );
    // The generator draws the patterns first from the seeded stream.
    let pats = patterns(&mut Rng::new(12), size, classes);
    let mut residuals = Vec::new();
    for e in &d.examples {
        let x = &tensor(&e.x).data;
        // Recover the class as the nearest transformed pattern.
        let mut best = (f64::INFINITY, 0, Vec::new());
        for (c, p) in pats.iter().enumerate() {
            for k in 0..4 {
                for dy in 0..size {
                    for dx in 0..size {
                        let t = transform(p, size, k, dy, dx);
                        let dist: f64 = t.iter().zip(x).map(|(a, b)| (a - b) * (a - b)).sum();
                        if dist < best.0 {
                            best = (dist, c, t.iter().zip(x).map(|(a, b)| b - a).collect());
                        }
                    }
                }
            }
        }
        assert_eq!(best.1, class(&e.y));
        residuals.extend(best.2);
    }
    let (_, s) = mean_std(&residuals);
    assert!((s - PATTERN_NOISE).abs() < 0.02, "noise std {s}");
}

#[test]
fn vector_pairs_target_is_dot_plus_square_norm() {
    let d = make("vector_pairs", &[("samples", 100.0)], 6);
    for e in &d.examples {
        let x = &tensor(&e.x).data;
        let (a, b) = (&x[..3], &x[3..]);
        let want =
            a[0] * b[0] + a[1] * b[1] + a[2] * b[2] + a[0] * a[0] + a[1] * a[1] + a[2] * a[2];
        assert!((target_tensor(&e.y).data[0] - want).abs() < 1e-12);
    }
}

#[test]
fn signature_types_print_as_the_language_writes_them() {
    let s = signature(
        "parity",
        &args(&[("min_length", 1.0), ("max_length", 3.0), ("samples", 1.0)]),
    )
    .expect("valid arguments");
    assert_eq!(s.x.to_string(), "List(R[2])");
    assert_eq!(s.y, TargetType::Class(2));
    let s = signature(
        "sum_trees",
        &args(&[
            ("modulus", 4.0),
            ("min_leaves", 1.0),
            ("max_leaves", 3.0),
            ("samples", 1.0),
        ]),
    )
    .expect("valid arguments");
    assert_eq!(s.x.to_string(), "Tree(R[4])");
    let s = signature(
        "counting",
        &args(&[("digits", 4.0), ("steps", 3.0), ("samples", 1.0)]),
    )
    .expect("valid arguments");
    assert_eq!(s.y, TargetType::Seq(Box::new(TargetType::Class(4))));
}

#[test]
fn bad_arguments_are_errors_that_say_what_was_expected() {
    let e = generate("spiral", &[], 0).expect_err("unknown name");
    assert!(matches!(&e, DataError::UnknownDataset { known, .. } if known.len() == 12));
    assert!(e.to_string().contains("spirals"), "{e}");

    let e = generate("spirals", &args(&[("classes", 3.0)]), 0).expect_err("missing samples");
    assert_eq!(
        e,
        DataError::MissingArgument {
            dataset: "spirals".into(),
            arg: "samples",
            expected: vec!["classes", "samples"]
        }
    );

    let e = generate(
        "spirals",
        &args(&[("classes", 3.0), ("samples", 9.0), ("noise", 0.1)]),
        0,
    )
    .expect_err("extra argument");
    assert!(
        matches!(&e, DataError::UnexpectedArgument { arg, expected, .. }
        if arg == "noise" && expected == &vec!["classes", "samples"])
    );

    let e = generate(
        "spirals",
        &args(&[("classes", 3.0), ("classes", 3.0), ("samples", 9.0)]),
        0,
    )
    .expect_err("duplicate argument");
    assert!(matches!(&e, DataError::UnexpectedArgument { arg, .. } if arg == "classes"));

    for bad in [2.5, -1.0, f64::NAN, 0.0] {
        let e = generate("vector_pairs", &args(&[("samples", bad)]), 0).expect_err("bad count");
        assert!(
            matches!(&e, DataError::InvalidArgument { arg: "samples", .. }),
            "{e}"
        );
    }
    let e = generate(
        "triangles",
        &args(&[("nodes", 5.0), ("edge_prob", 1.5), ("samples", 9.0)]),
        0,
    )
    .expect_err("bad probability");
    assert!(
        matches!(
            &e,
            DataError::InvalidArgument {
                arg: "edge_prob",
                ..
            }
        ),
        "{e}"
    );

    let e = generate(
        "parity",
        &args(&[("min_length", 5.0), ("max_length", 3.0), ("samples", 9.0)]),
        0,
    )
    .expect_err("min above max");
    assert!(
        matches!(
            &e,
            DataError::InvalidArgument {
                arg: "max_length",
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("at least min_length = 5"), "{e}");

    let e = generate(
        "ring_smooth",
        &args(&[("points", 100000.0), ("samples", 10000000.0)]),
        0,
    )
    .expect_err("too large");
    assert!(
        matches!(&e, DataError::InvalidArgument { arg: "samples", .. }),
        "{e}"
    );
}

#[test]
fn every_named_data_set_has_a_generator() {
    for name in names() {
        let a: Vec<(String, f64)> = arguments(name)
            .expect("a listed name")
            .into_iter()
            .map(|p| {
                let v = match p {
                    "edge_prob" => 0.5,
                    "samples" => 3.0,
                    _ => 4.0,
                };
                (p.to_string(), v)
            })
            .collect();
        let d = generate(name, &a, 1).expect("valid arguments");
        assert_eq!(d.examples.len(), 3, "{name}");
    }
}

/// The shortest and longest list among `lengths`, or `None` for no list.
fn range(lengths: impl Iterator<Item = Option<usize>>) -> Option<(usize, usize)> {
    let all: Vec<usize> = lengths.collect::<Option<_>>()?;
    Some((*all.iter().min()?, *all.iter().max()?))
}

#[test]
fn lengths_are_the_ranges_the_generated_lists_reach() {
    let cases: [(&str, &[(&str, f64)]); 4] = [
        (
            "parity",
            &[("min_length", 0.0), ("max_length", 5.0), ("samples", 300.0)],
        ),
        (
            "running_parity",
            &[("min_length", 2.0), ("max_length", 4.0), ("samples", 300.0)],
        ),
        (
            "counting",
            &[("digits", 5.0), ("steps", 3.0), ("samples", 50.0)],
        ),
        ("spirals", &[("classes", 3.0), ("samples", 50.0)]),
    ];
    for (name, pairs) in cases {
        let d = make(name, pairs, 11);
        let l = lengths(name, &args(pairs)).expect("valid arguments");
        let input = range(d.examples.iter().map(|e| e.x.as_list().map(|xs| xs.len())));
        let target = range(d.examples.iter().map(|e| match &e.y {
            Target::Seq(ys) => Some(ys.len()),
            _ => None,
        }));
        assert_eq!((l.input, l.target), (input, target), "{name}");
    }
    assert_eq!(
        lengths("parity", &args(&[("min_length", 3.0), ("max_length", 1.0)])),
        Err(signature("parity", &args(&[("min_length", 3.0), ("max_length", 1.0)])).unwrap_err()),
        "invalid arguments are refused as by `signature`"
    );
}

#[test]
fn labelled_trees_label_the_parity_of_their_second_labels() {
    let args = vec![
        ("max_depth".to_string(), 3.0),
        ("samples".to_string(), 200.0),
    ];
    let data = generate("labelled_trees", &args, 5).expect("valid arguments");
    // Counts the `[0, 1]` labels of a tree, checking its shape on the way.
    fn odd(v: &Value, depth: usize) -> usize {
        let Value::Node { ctor, fields } = v else {
            panic!("a node")
        };
        match (*ctor, fields.as_slice()) {
            (0, [_]) => 0,
            (1, [_, edges]) => {
                assert!(depth > 0, "a node below the depth limit");
                let edges = edges.as_list().expect("a list of edges");
                assert!(edges.len() <= 2);
                edges
                    .iter()
                    .map(|e| {
                        let Value::Tuple(p) = e else { panic!("a pair") };
                        let Value::Tensor(label) = &p[0] else {
                            panic!("a label")
                        };
                        label.data[1] as usize + odd(&p[1], depth - 1)
                    })
                    .sum()
            }
            _ => panic!("a tip or a node"),
        }
    }
    let mut classes = [0; 2];
    for ex in &data.examples {
        crate::data::check_value(&ex.x, &data.signature.x).expect("fits its type");
        let Target::Class(c) = ex.y else {
            panic!("a class")
        };
        assert_eq!(c, odd(&ex.x, 3) % 2);
        classes[c] += 1;
    }
    assert!(classes[0] > 0 && classes[1] > 0, "{classes:?}");
}
