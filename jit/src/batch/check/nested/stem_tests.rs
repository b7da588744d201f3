//! The checks of a nested field inside a nested field, on a batch
//! prepared for a real plan: a bush node holding a stem whose nodes hold
//! the bush's children and (`stem`) a binary tree of their own children.
//! The batch passes as prepared, and each corruption of a stem group's
//! own pool (a child that is no stem node, offsets of the wrong length, a
//! tree leaf reading a row past the pool) fails with its code.

use cdlc_runtime::value::{Tensor, Value};

use crate::batch::{Batch, GroupData, prepare};
use crate::plan::{Plan, PlanError};

fn stem_plan() -> Plan {
    let (module, func) = crate::fixtures::stem_bush(false);
    crate::lower::lower(&module, func, false).expect("the JIT lowers the stem bush")
}

fn vec2(x: f64) -> Value {
    Value::Tensor(Tensor::new(vec![2], vec![x, -x]))
}

fn tip(x: f64) -> Value {
    Value::Node {
        ctor: 0,
        fields: vec![vec2(x)],
    }
}

/// `stop(held)`, or `stem(held, tree)` with the stems `kids` at the
/// tree's leaves.
fn stem(held: Value, kids: Vec<Value>) -> Value {
    if kids.is_empty() {
        return Value::Node {
            ctor: 0,
            fields: vec![held],
        };
    }
    let mut leaves: Vec<Value> = kids.into_iter().map(Value::leaf).collect();
    let mut tree = leaves.pop().expect("a leaf");
    while let Some(l) = leaves.pop() {
        tree = Value::node(l, tree);
    }
    Value::Node {
        ctor: 1,
        fields: vec![held, tree],
    }
}

fn node(x: f64, s: Value) -> Value {
    Value::Node {
        ctor: 1,
        fields: vec![vec2(x), s],
    }
}

/// Two bushes: a stem of two levels holding three stems, and one holding
/// one stem.
fn stem_batch(plan: &Plan) -> Batch<f64> {
    let a = node(
        1.0,
        stem(
            tip(2.0),
            vec![
                stem(tip(3.0), vec![]),
                stem(tip(4.0), vec![stem(tip(5.0), vec![])]),
                stem(tip(6.0), vec![]),
            ],
        ),
    );
    let b = node(7.0, stem(tip(8.0), vec![stem(tip(9.0), vec![])]));
    prepare(plan, &[&a, &b], None).expect("the bushes prepare")
}

/// The first group of stem nodes holding trees of stems.
fn stems(batch: &mut Batch<f64>) -> &mut GroupData<f64> {
    batch.folds[0]
        .levels
        .iter_mut()
        .flatten()
        .flat_map(|g| g.nested_fields.iter_mut())
        .flat_map(|n| n.fold.levels.iter_mut().flatten())
        .find(|g| !g.nested_fields.is_empty())
        .expect("a group of stems holding trees")
}

/// The error of the batch after `corrupt`, which must make it fail.
fn after(corrupt: impl FnOnce(&mut GroupData<f64>)) -> PlanError {
    let plan = stem_plan();
    let mut batch = stem_batch(&plan);
    super::super::check(&plan, &batch).expect("the bushes as prepared");
    corrupt(stems(&mut batch));
    super::super::check(&plan, &batch).expect_err("a corrupted pool of stems")
}

#[test]
fn the_prepared_stems_pool_their_own_children() {
    let plan = stem_plan();
    let mut batch = stem_batch(&plan);
    let g = stems(&mut batch);
    // The stems holding trees are the two roots of the first level that
    // holds any (heights: the second bush's root has one child).
    let pool = &g.nested_fields[0];
    assert_eq!(pool.offsets.len(), g.len + 1);
    assert_eq!(pool.fold.roots.len(), g.len, "one tree per stem node");
}

#[test]
fn a_pool_child_that_is_no_stem_node_is_p011() {
    let e = after(|g| g.nested_fields[0].children[0] = 1000);
    assert_eq!(e.code(), "P011", "{e}");
}

#[test]
fn pool_offsets_of_the_wrong_length_are_p014() {
    let e = after(|g| {
        g.nested_fields[0].offsets.pop();
    });
    assert_eq!(e.code(), "P014", "{e}");
}

#[test]
fn a_tree_leaf_reading_past_the_pool_is_p011() {
    let e = after(|g| {
        let leaves = g.nested_fields[0]
            .fold
            .levels
            .iter_mut()
            .flatten()
            .find(|t| !t.elems.is_empty())
            .expect("a group of tree leaves");
        leaves.elems[0] = 1000;
    });
    assert_eq!(e.code(), "P011", "{e}");
}
