//! The checks of structures held in a nested structure's nodes, on a
//! batch prepared for a real plan: a node holding a list of binary trees
//! whose leaves are the node's children (`List(Tree(X))`). The batch
//! passes as prepared, and each corruption of a tree's schedule (a leaf
//! reading past the pool, a leaf reading another node's pool row, a
//! missing schedule, a node counted twice) fails with its code.

use cdlc_runtime::value::{Tensor, Value};

use crate::batch::{Batch, FoldData, prepare};
use crate::plan::{Plan, PlanError};

fn grove_plan() -> Plan {
    let (module, func) = crate::fixtures::grove(false);
    crate::lower::lower(&module, func, false).expect("the JIT lowers the grove")
}

fn tip(x: f64) -> Value {
    Value::Node {
        ctor: 0,
        fields: vec![Value::Tensor(Tensor::new(vec![2], vec![x, -x]))],
    }
}

fn node(x: f64, trees: Vec<Value>) -> Value {
    Value::Node {
        ctor: 1,
        fields: vec![
            Value::Tensor(Tensor::new(vec![2], vec![x, x])),
            Value::list(trees),
        ],
    }
}

/// Two groves: one tree of two leaves, and two one-leaf trees; each
/// node's pool holds its two tips.
fn grove_batch(plan: &Plan) -> Batch<f64> {
    let a = node(
        1.0,
        vec![Value::node(Value::leaf(tip(2.0)), Value::leaf(tip(3.0)))],
    );
    let b = node(4.0, vec![Value::leaf(tip(5.0)), Value::leaf(tip(6.0))]);
    prepare(plan, &[&a, &b], None).expect("the groves prepare")
}

/// The trees' schedule held in the first `cons` group of the lists of
/// the group of grove nodes.
fn trees(batch: &mut Batch<f64>) -> &mut FoldData<f64> {
    batch.folds[0]
        .levels
        .iter_mut()
        .flatten()
        .flat_map(|g| g.nested_fields.iter_mut())
        .flat_map(|n| n.fold.levels.iter_mut().flatten())
        .find(|g| !g.held.is_empty())
        .map(|g| &mut g.held[0].1)
        .expect("a schedule of trees held in a list node")
}

/// The error of the batch after `corrupt`, which must make it fail.
fn after(corrupt: impl FnOnce(&mut Batch<f64>)) -> PlanError {
    let plan = grove_plan();
    let mut batch = grove_batch(&plan);
    super::super::check(&plan, &batch).expect("the groves as prepared");
    corrupt(&mut batch);
    super::super::check(&plan, &batch).expect_err("a corrupted schedule of trees")
}

#[track_caller]
fn assert_code(e: &PlanError, code: &str, words: &str) {
    assert_eq!(e.code(), code, "{e}");
    assert!(e.to_string().contains(words), "{e}");
}

/// The first group of leaves of the trees' schedule.
fn leaves(t: &mut FoldData<f64>) -> &mut crate::batch::GroupData<f64> {
    t.levels[0]
        .iter_mut()
        .find(|g| !g.elems.is_empty())
        .expect("a group of leaves")
}

#[test]
fn a_leaf_reading_past_the_pool_is_p011() {
    let e = after(|b| leaves(trees(b)).elems[0] = 4);
    assert_code(&e, "P011", "element row");
}

#[test]
fn a_leaf_reading_another_nodes_child_is_p015() {
    // Pool row `t * 2 + i` belongs to grove node `i`: flipping the row's
    // node moves the leaf to the other grove's children.
    let e = after(|b| {
        let g = leaves(trees(b));
        g.elems[0] ^= 1;
    });
    assert_code(&e, "P015", "element row");
}

#[test]
fn a_missing_schedule_of_trees_is_p014() {
    let e = after(|b| {
        let list = batch_lists(b);
        list.held.clear();
    });
    assert_code(
        &e,
        "P014",
        "schedules of structures a nested structure holds",
    );
}

#[test]
fn a_tree_node_counted_twice_is_p012() {
    let e = after(|b| {
        let t = trees(b);
        let g = leaves(t);
        g.first += 1;
    });
    assert_eq!(e.code(), "P012", "{e}");
}

/// The first `cons` group of the lists, which holds the trees' schedule.
fn batch_lists(batch: &mut Batch<f64>) -> &mut crate::batch::GroupData<f64> {
    batch.folds[0]
        .levels
        .iter_mut()
        .flatten()
        .flat_map(|g| g.nested_fields.iter_mut())
        .flat_map(|n| n.fold.levels.iter_mut().flatten())
        .find(|g| !g.held.is_empty())
        .expect("a list group holding trees")
}
