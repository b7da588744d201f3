//! The JIT against the interpreter on rose trees
//! (`tests/cases/grad/rose.cdl`): a node's children folded by a list
//! algebra of their own (once, twice, or not at all), a list of children
//! beside a recursive field, on batches whose trees differ in shape (a
//! leaf, deep chains, wide nodes), so that the nodes of one level have
//! different numbers of children. The interpreter's reverse derivatives of
//! these models are checked against finite differences in `grad.rs`; here
//! the JIT's loss, gradients (f64 and f32) and outputs must agree with it.

use crate::grad::{Roses, rose_examples, rose_model};
use crate::jit::{forward_agrees, training_agrees};
use cdlc_runtime::value::Value;

/// Trees of every shape the executor treats apart: a leaf, a node of
/// leaves, a chain, a wide node and mixed depths.
fn forest(d: usize) -> Vec<Value> {
    let mut t = Roses::new(d);
    vec![
        t.mixed(),
        t.leaf(),
        t.deep(4),
        t.wide(),
        t.node_of_leaves(3),
        t.mixed(),
    ]
}

#[track_caller]
fn check(model: &str, d: usize) {
    let (p, params) = rose_model(model);
    let batch = rose_examples(&p, forest(d));
    training_agrees(model, &p, &params, &batch);
    forward_agrees(model, &p, &params, &batch);
}

#[test]
fn children_folded_by_their_own_elman_cell() {
    check("elman_tree", 2);
}

#[test]
fn children_folded_twice() {
    check("two_views_tree", 2);
}

#[test]
fn children_ignored() {
    check("own_value_tree", 2);
}

#[test]
fn a_batch_of_many_trees() {
    // Sixty trees: the levels' groups hold nodes of many examples, with
    // zero to seven children each.
    let (p, params) = rose_model("elman_tree");
    let trees = (0..10).flat_map(|_| forest(2)).collect();
    let batch = rose_examples(&p, trees);
    training_agrees("elman_tree", &p, &params, &batch);
}

#[test]
fn a_list_of_children_beside_a_recursive_field() {
    let (p, params) = rose_model("list_and_one_tree");
    let batch = rose_examples(&p, crate::grad::list_and_one_trees());
    training_agrees("list_and_one_tree", &p, &params, &batch);
    forward_agrees("list_and_one_tree", &p, &params, &batch);
}

#[test]
fn a_pair_carrier_over_the_children() {
    // The simplified child-sum Tree-LSTM: the carrier is (hidden, cell),
    // so the children are laid out as two sequences and their cotangents
    // come back as two.
    check("treelstm_tree", 2);
}

#[test]
fn a_child_sum_tree_lstm() {
    // Forget gates per child, read from each child's hidden state inside
    // the list fold over the pairs.
    check("childsum_tree", 2);
    let (p, params) = rose_model("childsum_tree");
    let trees = (0..10).flat_map(|_| forest(2)).collect();
    let batch = rose_examples(&p, trees);
    training_agrees("childsum_tree", &p, &params, &batch);
}

#[test]
fn a_mealy_machine_over_the_children() {
    // The unfold runs inside the node's region, one step per child
    // position over the nodes of the group (each as long as its list of
    // children), and the Elman fold over its outputs with the same ragged
    // schedule; backward, its element cotangents are the children's.
    check("mealy_tree", 2);
    let (p, params) = rose_model("mealy_tree");
    let trees = (0..10).flat_map(|_| forest(2)).collect();
    let batch = rose_examples(&p, trees);
    training_agrees("mealy_tree", &p, &params, &batch);
}
