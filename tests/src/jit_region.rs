//! The JIT against the interpreter on recursion schemes nested inside a
//! fold region over lists that a structure's fields hold
//! (`tests/cases/grad/region_lists.cdl`): a list of lists folded by an
//! Elman cell or run through a Mealy machine started from the outer
//! fold's state, and a tree whose leaves hold lists, on batches whose inner
//! lists have different lengths (empty ones among them). The inner lists
//! of a level group are laid out as one ragged sequence, so the nested
//! op's steps run over the group's rows. The interpreter's reverse
//! derivatives of these models are checked against finite differences in
//! `grad.rs`; here the JIT's loss, gradients (f64 and f32) and outputs
//! must agree with it. Also `hylo ... by halves` over computed sequences:
//! an unfold's outputs (`halves.cdl`) and inner lists split inside the
//! outer fold's region (`nested_lists.cdl`), whose halving trees the
//! executor builds from the sequences' lengths.

use crate::grad::{LIST_SHAPES, grad_case, list_examples, lists_of_lists, trees_of_lists};
use crate::jit::{forward_agrees, training_agrees};
use cdlc_runtime::value::{Example, Value};

#[track_caller]
fn check(model: &str, batch: Vec<Example>) {
    let (p, params) = grad_case("region_lists", model);
    training_agrees(model, &p, &params, &batch);
    forward_agrees(model, &p, &params, &batch);
}

#[test]
fn a_list_of_lists() {
    check("lists", lists_of_lists(LIST_SHAPES));
}

#[test]
fn a_list_of_lists_through_a_mealy_machine() {
    check("mealy_lists", lists_of_lists(LIST_SHAPES));
}

#[test]
fn a_tree_whose_leaves_hold_lists() {
    check("tree_of_lists", trees_of_lists());
}

#[test]
fn many_lists_of_lists_in_one_batch() {
    // Forty examples: a level's group holds inner lists of many examples.
    let shapes: Vec<&[usize]> = (0..8).flat_map(|_| LIST_SHAPES.iter().copied()).collect();
    let (p, params) = grad_case("region_lists", "mealy_lists");
    training_agrees("mealy_lists", &p, &params, &lists_of_lists(&shapes));
}

#[test]
fn halves_of_an_unfolds_output() {
    // Lists of one, two, three and six outputs: a leaf alone, and trees
    // whose halves are uneven.
    let (p, params) = grad_case("halves", "halved");
    let batch = list_examples(&[1, 3, 2, 6, 5]);
    training_agrees("halved", &p, &params, &batch);
    forward_agrees("halved", &p, &params, &batch);
}

#[test]
fn halves_of_lists_a_list_holds() {
    let (p, params) = grad_case("nested_lists", "split_inner");
    let batch = lists_of_lists(&[&[3, 1], &[2, 5, 1], &[4], &[1, 1, 2], &[]]);
    training_agrees("split_inner", &p, &params, &batch);
    forward_agrees("split_inner", &p, &params, &batch);
}

#[test]
fn halves_of_an_empty_computed_list_is_a_data_error() {
    // At the top level (an unfold's outputs) and inside a region (an inner
    // list), like the interpreter's refusal.
    let opts = |n| cdlc_jit::Options {
        dtype: cdlc_jit::Dtype::F64,
        batch: n,
    };
    for (file, model, batch) in [
        ("halves", "halved", list_examples(&[2, 0])),
        (
            "nested_lists",
            "split_inner",
            lists_of_lists(&[&[2], &[1, 0]]),
        ),
    ] {
        let (p, params) = grad_case(file, model);
        let mut k = cdlc_jit::compile_train(&p.inst.module, p.train, &opts(batch.len()))
            .unwrap_or_else(|e| panic!("{model}: {e}"));
        let ps: Vec<f64> = params.iter().flat_map(|t| t.data.iter().copied()).collect();
        let mut g = vec![0.0; ps.len()];
        let e = k
            .step_examples(&ps, &batch, &mut g)
            .expect_err("an empty list");
        assert!(
            e == cdlc_jit::JitError::Data(cdlc_ir::example_error::ExampleError::EmptyHalves),
            "{model}: {e}"
        );
    }
}

#[test]
fn three_levels_of_lists() {
    let (p, params) = grad_case("region_structures", "deep_lists");
    let batch = crate::grad::deep_lists();
    training_agrees("deep_lists", &p, &params, &batch);
    forward_agrees("deep_lists", &p, &params, &batch);
}

#[test]
fn a_list_of_binary_trees() {
    let (p, params) = grad_case("region_structures", "list_of_trees");
    let batch = crate::grad::lists_of_trees();
    training_agrees("list_of_trees", &p, &params, &batch);
    forward_agrees("list_of_trees", &p, &params, &batch);
}

#[test]
fn a_tree_whose_leaves_hold_lists_of_lists() {
    let (p, params) = grad_case("region_structures", "tree_of_deep_lists");
    let batch = crate::grad::trees_of_deep_lists();
    training_agrees("tree_of_deep_lists", &p, &params, &batch);
    forward_agrees("tree_of_deep_lists", &p, &params, &batch);
}

#[test]
fn a_list_of_rose_trees() {
    let (p, params) = grad_case("rose", "forest_of_trees");
    let mut t = crate::grad::Roses::new(2);
    let xs = vec![
        Value::list(vec![t.mixed(), t.leaf(), t.wide()]),
        Value::list(vec![t.deep(3)]),
        Value::list(vec![]),
        Value::list(vec![t.mixed(), t.deep(2)]),
    ];
    let batch = crate::grad::rose_examples(&p, xs);
    training_agrees("forest_of_trees", &p, &params, &batch);
    forward_agrees("forest_of_trees", &p, &params, &batch);
}

#[test]
fn many_lists_of_trees_in_one_batch() {
    // Forty examples: a group of the list's nodes holds trees of many
    // examples, scheduled together.
    let (p, params) = grad_case("region_structures", "list_of_trees");
    let batch: Vec<Example> = (0..10)
        .flat_map(|_| crate::grad::lists_of_trees())
        .collect();
    training_agrees("list_of_trees", &p, &params, &batch);
}

#[test]
fn streams_started_in_a_trees_leaves() {
    let (p, params) = grad_case("region_streams", "stream_leaves");
    let batch = crate::grad::vector_trees();
    training_agrees("stream_leaves", &p, &params, &batch);
    forward_agrees("stream_leaves", &p, &params, &batch);
}

#[test]
fn streams_started_in_a_lists_region() {
    let (p, params) = grad_case("region_streams", "stream_list");
    let batch = list_examples(&[3, 0, 1, 4, 2]);
    training_agrees("stream_list", &p, &params, &batch);
    forward_agrees("stream_list", &p, &params, &batch);
}

#[test]
fn a_mealy_machine_over_pairs_a_list_holds() {
    let (p, params) = grad_case("region_pairs", "lists_of_pairs");
    let batch = crate::grad::lists_of_pairs(&[&[3, 1], &[0, 2], &[], &[4], &[1, 5, 2]]);
    training_agrees("lists_of_pairs", &p, &params, &batch);
    forward_agrees("lists_of_pairs", &p, &params, &batch);
}

#[test]
fn a_mealy_machine_over_pairs_of_children() {
    let (p, params) = grad_case("region_pairs", "pair_children");
    let mut t = crate::grad::Roses::new(2);
    let trees = vec![t.mixed(), t.wide(), t.leaf(), t.deep(3), t.mixed()];
    let batch = crate::grad::rose_examples(&p, trees);
    training_agrees("pair_children", &p, &params, &batch);
    forward_agrees("pair_children", &p, &params, &batch);
}
