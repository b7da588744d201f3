//! `cdlc measure`'s library function on known answers: an equivariant
//! model at rounding level, a learned positional encoding and a plain
//! dense layer at errors computed by hand, Lie derivatives of linear maps
//! in closed form, and the layer-by-layer attribution of a chain.

use cdlc::equivariance::measure::{MeasureError, MeasureSetup, Measurement, measure};
use cdlc_runtime::value::{Tensor, Value};

/// Compiles `src` (which must check cleanly) and measures model `name`
/// with the given weights (in slot order) on the given inputs.
#[track_caller]
fn check_measure(
    src: &str,
    name: &str,
    weights: Option<Vec<Tensor>>,
    data: Option<Vec<Value>>,
    group: Option<&str>,
    per_layer: bool,
) -> Result<Measurement, MeasureError> {
    let c = cdlc::compile("measure.cdl", src);
    assert!(!c.has_errors(), "the program checks");
    let model = cdlc::entry_model(&c, Some(name)).expect("a model");
    let inst = cdlc::instantiate::instantiate_with(&c.program, &c.checked, &c.tyings, model)
        .expect("instantiable");
    let params = weights.unwrap_or_else(|| {
        inst.slots
            .iter()
            .enumerate()
            .map(|(i, s)| s.initial_values(11 + i as u64))
            .collect()
    });
    let setup = MeasureSetup {
        group,
        data: data.as_deref(),
        samples: 8,
        words: 4,
        seed: 3,
        per_layer,
    };
    measure(&c, model, &inst, &params, &setup)
}

fn vector(xs: &[f64]) -> Tensor {
    Tensor::new(vec![xs.len()], xs.to_vec())
}

const SETS: &str = "import std.attention
const n = 3
group S = symmetric(n)
space Pts = R[n] under S by permute
space Feat = R[4] * Pts

layer centred(x: Feat) -> Feat equivariant S {
  param W: equivariant Feat -> Feat = glorot
  param b: invariant Feat = normal(1.0)
  let y = W @ x + b
  tanh(y - mean(y, axis = 1))
}
layer attend(x: Feat) -> Feat { transformer_block[4, 2, 8, n](x) }
model chain = centred >> attend >> centred
layer position(x: Feat) -> Feat {
  param P: R[4, n] = normal(1.0)
  x + P
}
model leaky = centred >> position >> centred

model resid(x: Feat) -> Feat {
  let h = centred(x)
  let p = position(h)
  h + centred(p)
}

model fork(x: Feat) -> Feat { centred(x) + position(x) }

layer silence(x: Feat) -> Feat { 0 * x }
layer weigh(x: Feat) -> Feat {
  param D: R[4, n] = normal(1.0)
  D * x
}

model muted(x: Feat) -> Feat {
  let h = silence(x)
  weigh(x) + weigh(h)
}

layer moved[k](x: Feat) -> Feat {
  param P: R[4, n] = normal(1.0)
  param u: R[k] = normal(1.0)
  x + sum(u) * P
}

model sized(x: Feat) -> Feat {
  let h = centred(x)
  centred(moved[4](h))
}

model shifted(x: Pts) -> Pts {
  param P: R[n] = zeros
  x + P
}

model mixer(x: Pts) -> Pts {
  param W: R[n, n] = zeros
  W @ x
}
";

#[test]
fn an_equivariant_model_measures_at_rounding_level() {
    let m = check_measure(SETS, "chain", None, None, None, false).unwrap();
    assert_eq!(m.group, "S");
    let d = m.whole.discrete.expect("S has discrete generators");
    assert!(d.max <= 1e-6, "max relative error {:e}", d.max);
    assert!(m.whole.lie.is_empty());
}

#[test]
fn a_positional_encoding_measures_its_hand_computed_error() {
    // f(x) = x + P with P = (1, 0, 0), at x = 0: f(x) = P, ‖f(x)‖ = 1. Both
    // generators of S3 (the transposition (0 1) and the cycle (0 1 2)) move
    // P to (0, 1, 0), so ‖f(g·x) − g·f(x)‖ = ‖P − g·P‖ = √2 for each.
    let data = vec![Value::Tensor(vector(&[0.0, 0.0, 0.0]))];
    let c = cdlc::compile("measure.cdl", SETS);
    let model = cdlc::entry_model(&c, Some("shifted")).unwrap();
    let inst =
        cdlc::instantiate::instantiate_with(&c.program, &c.checked, &c.tyings, model).unwrap();
    let m = measure(
        &c,
        model,
        &inst,
        &[vector(&[1.0, 0.0, 0.0])],
        &MeasureSetup {
            group: Some("S"),
            data: Some(&data),
            samples: 1,
            words: 0,
            seed: 0,
            per_layer: false,
        },
    )
    .unwrap();
    let d = m.whole.discrete.unwrap();
    let root2 = 2f64.sqrt();
    assert!(
        (d.mean - root2).abs() < 1e-12 && (d.max - root2).abs() < 1e-12,
        "{d:?}"
    );
}

#[test]
fn a_dense_layer_measures_its_hand_computed_error() {
    // f(x) = W x with W = diag(1, 2, 3) at x = (1, 1, 1): f(x) = (1, 2, 3),
    // ‖f(x)‖ = √14, and g·x = x. The transposition gives g·f(x) = (2, 1, 3),
    // an error √2/√14 = 1/√7; the cycle gives (3, 1, 2), an error √6/√14.
    let c = cdlc::compile("measure.cdl", SETS);
    let model = cdlc::entry_model(&c, Some("mixer")).unwrap();
    let inst =
        cdlc::instantiate::instantiate_with(&c.program, &c.checked, &c.tyings, model).unwrap();
    let w = Tensor::new(
        vec![3, 3],
        vec![1.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 3.0],
    );
    let data = vec![Value::Tensor(vector(&[1.0, 1.0, 1.0]))];
    let m = measure(
        &c,
        model,
        &inst,
        &[w],
        &MeasureSetup {
            group: Some("S"),
            data: Some(&data),
            samples: 1,
            words: 0,
            seed: 0,
            per_layer: false,
        },
    )
    .unwrap();
    let d = m.whole.discrete.unwrap();
    let (a, b) = ((1.0f64 / 7.0).sqrt(), (3.0f64 / 7.0).sqrt());
    assert!((d.mean - (a + b) / 2.0).abs() < 1e-12, "{d:?}");
    assert!((d.max - b).abs() < 1e-12, "{d:?}");
}

const PLANE: &str = "group Rot = SO(2)
space V = R[2] under Rot by rotate

model linear(x: V) -> V {
  param W: R[2, 2] = zeros
  W @ x
}

model squash(x: V) -> V {
  param W: R[2, 2] = zeros
  tanh(W @ x)
}
";

#[test]
fn lie_derivatives_of_linear_maps_are_commutators() {
    // L_J f(x) = W J x − J W x = [W, J] x. With W = diag(1, 2): at
    // x = (1, 0), W x = (1, 0) and [W, J] x = (0, 2) − (0, 1) = (0, 1), a
    // relative derivative of 1; at x = (0, 1), W x = (0, 2) and
    // [W, J] x = (−1, 0) − (−2, 0) = (1, 0), a relative derivative of 1/2.
    let data = vec![
        Value::Tensor(vector(&[1.0, 0.0])),
        Value::Tensor(vector(&[0.0, 1.0])),
    ];
    let diag = Tensor::new(vec![2, 2], vec![1.0, 0.0, 0.0, 2.0]);
    let m = check_measure(
        PLANE,
        "linear",
        Some(vec![diag]),
        Some(data.clone()),
        None,
        false,
    )
    .unwrap();
    assert!(
        m.whole.discrete.is_none(),
        "SO(2) has no discrete generators"
    );
    let (name, s) = &m.whole.lie[0];
    assert_eq!(name, "J");
    assert!(
        (s.mean - 0.75).abs() < 1e-12 && (s.max - 1.0).abs() < 1e-12,
        "{s:?}"
    );
    // W = a I + b J commutes with J: the derivative vanishes.
    let rot = Tensor::new(vec![2, 2], vec![0.5, -0.25, 0.25, 0.5]);
    let m = check_measure(
        PLANE,
        "linear",
        Some(vec![rot.clone()]),
        Some(data.clone()),
        None,
        false,
    )
    .unwrap();
    assert!(m.whole.lie[0].1.max <= 1e-12, "{:?}", m.whole.lie);
    // A pointwise function after it does not commute with rotations:
    // L_J f(x) = tanh'(W x) ⊙ (W J x) − J tanh(W x). At x = (1, 0):
    // W x = (0.5, 0.25), W J x = W (0, 1) = (−0.25, 0.5), and with
    // (u, v) = tanh(W x), J (u, v) = (−v, u).
    let one = vec![data[0].clone()];
    let m = check_measure(PLANE, "squash", Some(vec![rot]), Some(one), None, false).unwrap();
    let (u, v) = (0.5f64.tanh(), 0.25f64.tanh());
    let l = [-0.25 * (1.0 - u * u) + v, 0.5 * (1.0 - v * v) - u];
    let want = (l[0] * l[0] + l[1] * l[1]).sqrt() / (u * u + v * v).sqrt();
    let s = m.whole.lie[0].1;
    assert!(
        (s.max - want).abs() < 1e-12 && (s.mean - want).abs() < 1e-12,
        "{s:?} against {want}"
    );
}

#[test]
fn per_layer_attributes_the_error_of_a_chain() {
    let m = check_measure(SETS, "chain", None, None, None, true).unwrap();
    let names: Vec<&str> = m.layers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["centred", "attend", "centred"]);
    for (n, r) in &m.layers {
        let d = r
            .as_ref()
            .unwrap_or_else(|e| panic!("{n}: {e}"))
            .discrete
            .unwrap();
        assert!(d.max <= 1e-6, "{n}: {d:?}");
    }
    // A learned positional encoding in the middle: only its stage
    // introduces an error; the last stage is equivariant on what it sees.
    let m = check_measure(SETS, "leaky", None, None, None, true).unwrap();
    let max = |k: usize| m.layers[k].1.as_ref().unwrap().discrete.unwrap().max;
    assert!(m.whole.discrete.unwrap().max > 1e-2, "{:?}", m.whole);
    assert!(
        max(0) <= 1e-6 && max(1) > 1e-2 && max(2) <= 1e-6,
        "{:?}",
        m.layers
    );
    let e = check_measure(SETS, "shifted", None, None, None, true).unwrap_err();
    assert_eq!(e.code(), "E0611");
    assert!(e.message().contains("applies none"), "{}", e.message());
}

/// A block body with let bindings, a residual connection and a branch:
/// every named layer applied in it is measured with its instance's
/// weights; the positional encoding carries the error, the two instances of
/// the equivariant layer stay at rounding level.
#[test]
fn per_layer_attributes_the_error_of_a_block_body() {
    let m = check_measure(SETS, "resid", None, None, None, true).unwrap();
    assert!(m.whole.discrete.unwrap().max > 1e-2, "{:?}", m.whole);
    let names: Vec<&str> = m.layers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["centred", "position", "centred#2"]);
    let max = |m: &Measurement, k: usize| {
        let r = m.layers[k].1.as_ref().unwrap_or_else(|e| panic!("{e}"));
        r.discrete.unwrap().max
    };
    assert!(
        max(&m, 0) <= 1e-6 && max(&m, 1) > 1e-2 && max(&m, 2) <= 1e-6,
        "{:?}",
        m.layers
    );
    // Two branches on the model's input, measured on its inputs.
    let m = check_measure(SETS, "fork", None, None, None, true).unwrap();
    let names: Vec<&str> = m.layers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["centred", "position"]);
    assert!(max(&m, 0) <= 1e-6 && max(&m, 1) > 1e-2, "{:?}", m.layers);
    // A layer applied to an intermediate value is measured on the values
    // it receives there: `weigh` breaks the symmetry on the model's
    // inputs, but its second instance only ever receives zeros, where it
    // is exactly equivariant (0 = g · 0). Random inputs would measure it
    // as large as the first.
    let m = check_measure(SETS, "muted", None, None, None, true).unwrap();
    let names: Vec<&str> = m.layers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["silence", "weigh", "weigh#2"]);
    assert!(
        max(&m, 0) <= 1e-6 && max(&m, 1) > 1e-2 && max(&m, 2) <= 1e-6,
        "{:?}",
        m.layers
    );
    // A layer applied with sizes is instantiated at them.
    let m = check_measure(SETS, "sized", None, None, None, true).unwrap();
    let names: Vec<&str> = m.layers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["centred", "moved", "centred#2"]);
    assert!(
        max(&m, 0) <= 1e-6 && max(&m, 1) > 1e-2 && max(&m, 2) <= 1e-6,
        "{:?}",
        m.layers
    );
}

#[test]
fn groups_that_do_not_act_are_refused() {
    let e = check_measure(SETS, "chain", None, None, Some("T"), false).unwrap_err();
    assert_eq!(e.code(), "E0610");
    assert!(e.message().contains("declares `S`"), "{}", e.message());
    let e = check_measure(PLANE, "linear", None, None, Some("S"), false).unwrap_err();
    assert!(e.message().contains("declares `Rot`"), "{}", e.message());
    let e =
        check_measure(SETS, "chain", Some(vec![vector(&[1.0])]), None, None, false).unwrap_err();
    assert_eq!(e.code(), "E0612");
}

const WALK: &str = "group Rot = SO(2)
space V = R[2] under Rot by rotate

algebra turn : ListF(V) -> V {
  param W: R[2, 2] = zeros
  param z: R[2] = zeros
  nil          => z
  cons(x, acc) => W @ x + tanh(sum(acc * acc)) * acc
}

model walk(xs: List(V)) -> V { fold turn (xs) }
";

#[test]
fn lie_derivatives_of_a_fold_over_a_list() {
    let two = |a: [f64; 2], b: [f64; 2]| {
        Value::list(vec![Value::Tensor(vector(&a)), Value::Tensor(vector(&b))])
    };
    let data = vec![two([1.0, 0.0], [0.0, 1.0]), two([0.3, -0.7], [1.1, 0.4])];
    let zero = vector(&[0.0, 0.0]);
    // W = a I + b J commutes with rotations and z = 0 is fixed by them:
    // every step is equivariant, so the fold is.
    let rot = Tensor::new(vec![2, 2], vec![0.5, -0.25, 0.25, 0.5]);
    let m = check_measure(
        WALK,
        "walk",
        Some(vec![rot, zero.clone()]),
        Some(data.clone()),
        None,
        false,
    )
    .unwrap();
    assert!(m.whole.lie[0].1.max <= 1e-6, "{:?}", m.whole.lie);
    // W = diag(1, 2) on xs = [(1, 0), (0, 1)]: the inner step gives
    // a = W (0, 1) = (0, 2) and the outer f = W (1, 0) + t a = (1, 2t) with
    // t = tanh(|a|²) = tanh 4. Moving each element along J x_i
    // (J (1, 0) = (0, 1), J (0, 1) = (−1, 0)): ȧ = W (−1, 0) = (−1, 0),
    // d|a|² = 2 a·ȧ = 0, so ḟ = W (0, 1) + t ȧ = (−t, 2), and
    // L f = ḟ − J f = (−t, 2) − (−2t, 1) = (t, 1), relative to |f|.
    let diag = Tensor::new(vec![2, 2], vec![1.0, 0.0, 0.0, 2.0]);
    let one = vec![data[0].clone()];
    let m = check_measure(WALK, "walk", Some(vec![diag, zero]), Some(one), None, false).unwrap();
    let t = 4.0f64.tanh();
    let want = (t * t + 1.0).sqrt() / (1.0 + 4.0 * t * t).sqrt();
    let s = m.whole.lie[0].1;
    assert!(
        (s.max - want).abs() < 1e-12 && (s.mean - want).abs() < 1e-12,
        "{s:?} against {want}"
    );
}

/// Trees and a nested structure of `cyclic(4)` vectors: the group acts on
/// every `Ring` of the structure, not on the `R[2]` labels beside them.
const TREES: &str = "group C = cyclic(4)
space Ring = R[4] under C by shift

algebra plain_sum : TreeF(Ring) -> Ring {
  param W: R[4, 4] = zeros
  leaf(x)    => W @ x
  node(l, r) => l + r
}
model plain(t: Tree(Ring)) -> Ring { fold plain_sum (t) }

algebra equi_sum : TreeF(Ring) -> Ring {
  param K: equivariant Ring -> Ring = glorot
  leaf(x)    => tanh(K @ x)
  node(l, r) => tanh(l + r)
}
model equi(t: Tree(Ring)) -> Ring { fold equi_sum (t) }

functor LabF(A) = tip(A) | node(A, List(R[2] * X))
data Lab(A) = fix LabF(A)

algebra edges : ListF(R[2] * Ring) -> Ring {
  param z: invariant Ring = normal(1.0)
  nil          => z
  cons(e, acc) => let (label, c) = e in tanh(c * sum(label) + acc)
}
algebra lab_alg : LabF(Ring) -> Ring {
  param K: equivariant Ring -> Ring = glorot
  tip(a)      => tanh(K @ a)
  node(a, es) => tanh(K @ a + fold edges (es))
}
model lab(t: Lab(Ring)) -> Ring { fold lab_alg (t) }
";

fn leaf(xs: &[f64]) -> Value {
    Value::Node {
        ctor: 0,
        fields: vec![Value::Tensor(vector(xs))],
    }
}

fn node(l: Value, r: Value) -> Value {
    Value::Node {
        ctor: 1,
        fields: vec![l, r],
    }
}

#[test]
fn a_tree_input_is_moved_at_every_leaf() {
    // `plain` is W Σ leaves. With W = e0 e0ᵀ and leaves e0 and 0, f(x) = e0
    // and f(g x) = W (e1 + 0) = 0 for the shift g, so the error of every
    // element that is not the identity is ‖g e0‖ / ‖e0‖ = 1.
    let tree = node(leaf(&[1.0, 0.0, 0.0, 0.0]), leaf(&[0.0; 4]));
    let mut w = vec![0.0; 16];
    w[0] = 1.0;
    let m = check_measure(
        TREES,
        "plain",
        Some(vec![Tensor::new(vec![4, 4], w)]),
        Some(vec![tree.clone()]),
        None,
        false,
    )
    .unwrap();
    let d = m.whole.discrete.expect("cyclic(4) has a generator");
    assert!((d.max - 1.0).abs() < 1e-12, "{d:?}");
    // An equivariant algebra folds to an equivariant model.
    let deep = node(tree, node(leaf(&[0.3, -1.0, 2.0, 0.5]), leaf(&[1.0; 4])));
    let m = check_measure(TREES, "equi", None, Some(vec![deep]), None, false).unwrap();
    let d = m.whole.discrete.expect("a generator");
    assert!(d.max <= 1e-12, "{d:?}");
}

#[test]
fn a_nested_structure_is_moved_at_its_spaces_and_not_its_labels() {
    // node(a, [(label, tip(b)), (label', node(c, []))])
    let list = |items: Vec<Value>| Value::list(items);
    let pair = |label: &[f64], kid: Value| Value::Tuple(vec![Value::Tensor(vector(label)), kid]);
    let tip = |xs: &[f64]| leaf(xs);
    let with = |xs: &[f64], es: Vec<Value>| Value::Node {
        ctor: 1,
        fields: vec![Value::Tensor(vector(xs)), list(es)],
    };
    let x = with(
        &[0.5, -0.2, 1.0, 0.1],
        vec![
            pair(&[1.0, 2.0], tip(&[0.3, 0.0, -0.7, 1.2])),
            pair(&[-0.5, 0.25], with(&[1.0, 0.0, 0.0, 2.0], vec![])),
        ],
    );
    let m = check_measure(TREES, "lab", None, Some(vec![x]), None, false).unwrap();
    let d = m.whole.discrete.expect("a generator");
    assert!(d.max <= 1e-12, "{d:?}");
}

#[test]
fn a_structure_input_needs_inputs_to_measure_on() {
    let e = check_measure(TREES, "equi", None, None, None, false).unwrap_err();
    assert_eq!(e.code(), "E0611");
    assert!(
        e.message().contains("no random structures"),
        "{}",
        e.message()
    );
}

const PLANE_TREES: &str = "group Rot = SO(2)
space V = R[2] under Rot by rotate

algebra total : TreeF(V) -> V {
  param W: R[2, 2] = zeros
  leaf(x)    => W @ x
  node(l, r) => l + r
}
model linear_tree(t: Tree(V)) -> V { fold total (t) }
";

#[test]
fn lie_derivatives_follow_a_tree_to_its_leaves() {
    // f(t) = W Σ leaves, so L_J f = [W, J] Σ leaves: with W = diag(1, 2)
    // and leaves summing to (1, 0), [W, J] (1, 0) = (0, 1) against
    // f = (1, 0), a relative derivative of 1; W = a I + b J commutes with J.
    let half = |x: f64, y: f64| Value::Tensor(vector(&[x, y]));
    let tree = |a: Value, b: Value| Value::Node {
        ctor: 1,
        fields: vec![
            Value::Node {
                ctor: 0,
                fields: vec![a],
            },
            Value::Node {
                ctor: 0,
                fields: vec![b],
            },
        ],
    };
    let data = vec![tree(half(0.25, 0.5), half(0.75, -0.5))];
    let diag = Tensor::new(vec![2, 2], vec![1.0, 0.0, 0.0, 2.0]);
    let m = check_measure(
        PLANE_TREES,
        "linear_tree",
        Some(vec![diag]),
        Some(data.clone()),
        None,
        false,
    )
    .unwrap();
    let s = m.whole.lie[0].1;
    assert!((s.max - 1.0).abs() < 1e-12, "{s:?}");
    let rot = Tensor::new(vec![2, 2], vec![0.5, -0.25, 0.25, 0.5]);
    let m = check_measure(
        PLANE_TREES,
        "linear_tree",
        Some(vec![rot]),
        Some(data),
        None,
        false,
    )
    .unwrap();
    assert!(m.whole.lie[0].1.max <= 1e-12, "{:?}", m.whole.lie);
}
