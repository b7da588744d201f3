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
//! must agree with it.

use crate::grad::{LIST_SHAPES, grad_case, lists_of_lists, trees_of_lists};
use crate::jit::{forward_agrees, training_agrees};
use cdlc_runtime::value::Example;

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
