//! The JIT against the interpreter on unfolds whose outputs are tuples
//! (`tests/cases/grad/pair_unfolds.cdl`): streams and Mealy machines
//! emitting pairs and nested pairs, at the top level and inside a fold's
//! region, read by list folds, Mealy machines and `hylo ... by halves`.
//! A step's output is kept as one sequence per tensor of the tuple, and
//! its cotangent as one view per tensor. Loss and gradients must agree in
//! f64 and f32, outputs in f64, on batches whose lists (and streams
//! started per node) differ in length; `grad.rs` checks the same models'
//! reverse derivatives against finite differences. A model whose output
//! is the sequence of tuples itself is read back as a list of tuples.

use crate::grad::{
    LIST_SHAPES, Roses, grad_case, list_examples, lists_of_lists, rose_examples, vector_trees,
};
use crate::jit::{forward_agrees, training_agrees};
use cdlc_jit::{Dtype, Options};
use cdlc_runtime::value::{Example, Target, Tensor, Value};

/// The case file's name.
const FILE: &str = "pair_unfolds";

/// Every model of the case file with a batch of differently shaped
/// examples (lists of different lengths, empty ones where the model takes
/// them, trees of different shapes).
pub(crate) fn cases() -> Vec<(&'static str, Vec<Example>)> {
    let lists = || list_examples(&[3, 0, 1, 4, 2]);
    // `by halves` cannot split an empty list.
    let full_lists = || list_examples(&[1, 3, 2, 6, 5]);
    let full_inner: &[&[usize]] = &[&[3, 1], &[2, 5, 1], &[4], &[1, 1, 2], &[]];
    let mut t = Roses::new(2);
    let trees = vec![
        t.mixed(),
        t.wide(),
        t.leaf(),
        t.deep(3),
        t.node_of_leaves(4),
    ];
    let roses = rose_examples(&grad_case(FILE, "rose_pairs").0, trees);
    vec![
        ("stream_pairs", vectors(5)),
        ("mealy_pairs", lists()),
        ("mealy_nested", lists()),
        ("chained_pairs", lists()),
        ("stream_mealy", vectors(4)),
        ("halved_pairs", full_lists()),
        ("twice_pairs", full_lists()),
        ("list_stream_pairs", lists()),
        ("tree_stream_pairs", vector_trees()),
        ("rose_pairs", roses),
        ("lists_pair_out", lists_of_lists(LIST_SHAPES)),
        ("lists_nest_out", lists_of_lists(LIST_SHAPES)),
        ("lists_halve_pairs", lists_of_lists(full_inner)),
    ]
}

/// `n` examples of an `R[2]` input, classed round-robin among three.
fn vectors(n: usize) -> Vec<Example> {
    (0..n)
        .map(|i| {
            let k = i as f64;
            Example {
                x: Value::Tensor(Tensor::new(vec![2], vec![(0.9 * k).sin(), (1.4 * k).cos()])),
                y: Target::Class(i % 3),
            }
        })
        .collect()
}

#[track_caller]
fn check(model: &str) {
    let (_, batch) = cases()
        .into_iter()
        .find(|(m, _)| *m == model)
        .unwrap_or_else(|| panic!("no batch for `{model}`"));
    let (p, params) = grad_case(FILE, model);
    training_agrees(model, &p, &params, &batch);
    forward_agrees(model, &p, &params, &batch);
}

#[test]
fn a_stream_of_pairs_folded() {
    check("stream_pairs");
}

#[test]
fn a_mealy_machines_pairs_folded() {
    check("mealy_pairs");
}

#[test]
fn a_mealy_machines_nested_pairs_folded() {
    check("mealy_nested");
}

#[test]
fn a_mealy_machine_over_another_machines_pairs() {
    check("chained_pairs");
}

#[test]
fn a_mealy_machine_over_a_streams_pairs() {
    check("stream_mealy");
}

#[test]
fn a_mealy_machines_pairs_split_by_halves() {
    check("halved_pairs");
}

#[test]
fn one_sequence_of_pairs_read_twice() {
    check("twice_pairs");
}

#[test]
fn streams_of_pairs_started_in_a_lists_region() {
    check("list_stream_pairs");
}

#[test]
fn streams_of_pairs_started_in_a_trees_leaves() {
    check("tree_stream_pairs");
}

#[test]
fn a_mealy_machine_over_rose_children_emitting_pairs() {
    check("rose_pairs");
}

#[test]
fn a_mealy_machine_over_inner_lists_emitting_pairs() {
    check("lists_pair_out");
}

#[test]
fn a_mealy_machine_over_inner_lists_emitting_nested_pairs() {
    check("lists_nest_out");
}

#[test]
fn inner_lists_pairs_split_by_halves_in_a_region() {
    check("lists_halve_pairs");
}

#[test]
fn many_streams_of_pairs_in_one_batch() {
    // Forty lists: a level's group holds the streams of many examples.
    let (p, params) = grad_case(FILE, "list_stream_pairs");
    let lens: Vec<usize> = (0..40).map(|i| (i * 7) % 6).collect();
    training_agrees("list_stream_pairs", &p, &params, &list_examples(&lens));
}

/// Models whose outputs are the sequences of tuples themselves (no loss
/// applies to them, so they are only run forward), after the case file's
/// coalgebras.
const OUTPUTS: &str = "
model emits(xs: List(R[2])) -> List(R[3] * R[2]) {
  param s0: R[4] = normal(0.5)
  unfold pair_out[2, 3, 4] from s0 over xs
}

model emits_nested(x: R[2], xs: List(R[2])) -> R[3] * List(R[3] * (R[2] * R[1])) {
  param E: R[3, 2] = glorot
  let s = tanh(E @ x) in (s, unfold nest_out[2, 3] from s over xs)
}

model streams(x: R[2]) -> List(R[4] * R[4]) {
  param E: R[4, 2] = glorot
  unfold twin_stream[4] from tanh(E @ x) take 3
}
";

/// Whether `a` and `b` have the same structure (lists of the same
/// lengths, tuples of the same arity, tensors of the same shape) and
/// numbers within `tol` of each other, relative to the larger (at least 1).
fn same(a: &Value, b: &Value, tol: f64) -> bool {
    match (a, b) {
        (Value::Tensor(x), Value::Tensor(y)) => {
            x.shape == y.shape
                && x.data
                    .iter()
                    .zip(&y.data)
                    .all(|(p, q)| (p - q).abs() <= tol * p.abs().max(q.abs()).max(1.0))
        }
        (Value::Tuple(xs), Value::Tuple(ys)) => {
            xs.len() == ys.len() && xs.iter().zip(ys).all(|(x, y)| same(x, y, tol))
        }
        (
            Value::Node { ctor, fields },
            Value::Node {
                ctor: c2,
                fields: f2,
            },
        ) => {
            ctor == c2
                && fields.len() == f2.len()
                && fields.iter().zip(f2).all(|(x, y)| same(x, y, tol))
        }
        _ => false,
    }
}

#[test]
fn a_sequence_of_tuples_as_the_output_is_a_list_of_tuples() {
    let path = crate::cases_dir("grad").join(format!("{FILE}.cdl"));
    let src = std::fs::read_to_string(&path).expect("the case file") + OUTPUTS;
    let c = cdlc::compile("outputs.cdl", &src);
    assert!(c.diagnostics.is_empty(), "{:?}", c.diagnostics);
    let lists: Vec<Value> = list_examples(&[3, 0, 1, 4])
        .into_iter()
        .map(|e| e.x)
        .collect();
    let vecs: Vec<Value> = vectors(4).into_iter().map(|e| e.x).collect();
    let pairs: Vec<Value> = vecs
        .iter()
        .zip(&lists)
        .map(|(v, l)| Value::Tuple(vec![v.clone(), l.clone()]))
        .collect();
    for (name, xs, steps) in [
        ("emits", lists.clone(), vec![3, 0, 1, 4]),
        ("emits_nested", pairs, vec![3, 0, 1, 4]),
        ("streams", vecs, vec![3; 4]),
    ] {
        let model = cdlc::entry_model(&c, Some(name)).expect("the model");
        let inst = cdlc::instantiate::instantiate(&c.program, &c.checked, model)
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let params = cdlc::training::init_params(&inst, 3);
        let opts = Options {
            dtype: Dtype::F64,
            batch: xs.len(),
        };
        let mut k = cdlc_jit::compile_forward(&inst.module, inst.func, &opts)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let ps: Vec<f64> = params.iter().flat_map(|t| t.data.iter().copied()).collect();
        let outs = k.run(&ps, &xs).expect("the kernel runs");
        for ((x, out), &n) in xs.iter().zip(&outs).zip(&steps) {
            let want = cdlc_ir::interp::forward(&inst.module, inst.func, &params, x)
                .expect("the interpreter runs");
            assert!(same(out, &want, 1e-9), "{name}: {out:?}\nagainst {want:?}");
            let list = match out {
                Value::Tuple(vs) => &vs[1],
                v => v,
            };
            let items = list.as_list().expect("a list");
            assert_eq!(items.len(), n, "{name}: one output per step");
            assert!(
                items.iter().all(|v| matches!(v, Value::Tuple(_))),
                "{name}: {out:?}"
            );
        }
    }
}
