//! The checks of a rose tree inside a nested field, on a batch prepared
//! for a real plan: a bush node holding a rose tree whose nodes hold the
//! bush's children and lists of their own children (`Rose(X)`). The batch
//! passes as prepared, and each corruption of a rose node's list of
//! children (a child not scheduled below its parent, a child of another
//! example, a table of the wrong length) fails with its code.

use cdlc_runtime::value::{Tensor, Value};

use crate::batch::{Batch, FoldData, GroupData, prepare};
use crate::plan::{Plan, PlanError};

fn bush_plan() -> Plan {
    let (module, func) = crate::fixtures::bush(false);
    crate::lower::lower(&module, func, false).expect("the JIT lowers the bush")
}

fn tip(x: f64) -> Value {
    Value::Node {
        ctor: 0,
        fields: vec![Value::Tensor(Tensor::new(vec![2], vec![x, -x]))],
    }
}

fn node(x: f64, rose: Value) -> Value {
    Value::Node {
        ctor: 1,
        fields: vec![Value::Tensor(Tensor::new(vec![2], vec![x, x])), rose],
    }
}

/// A rose node holding the bush `held` and these children.
fn rose(held: Value, kids: Vec<Value>) -> Value {
    Value::Node {
        ctor: 0,
        fields: vec![held, Value::list(kids)],
    }
}

/// Two bushes: a rose tree of four nodes three levels deep, and one of
/// two nodes.
fn bush_batch(plan: &Plan) -> Batch<f64> {
    let a = node(
        1.0,
        rose(
            tip(2.0),
            vec![
                rose(tip(3.0), vec![]),
                rose(tip(4.0), vec![rose(tip(5.0), vec![])]),
            ],
        ),
    );
    let b = node(6.0, rose(tip(7.0), vec![rose(tip(8.0), vec![])]));
    prepare(plan, &[&a, &b], None).expect("the bushes prepare")
}

/// The schedule of the rose trees the group of bush nodes holds.
fn roses(batch: &mut Batch<f64>) -> &mut FoldData<f64> {
    batch.folds[0]
        .levels
        .iter_mut()
        .flatten()
        .flat_map(|g| g.nested_fields.iter_mut())
        .map(|n| &mut n.fold)
        .next()
        .expect("a schedule of rose trees")
}

/// The error of the batch after `corrupt`, which must make it fail.
fn after(corrupt: impl FnOnce(&mut FoldData<f64>)) -> PlanError {
    let plan = bush_plan();
    let mut batch = bush_batch(&plan);
    super::super::check(&plan, &batch).expect("the bushes as prepared");
    corrupt(roses(&mut batch));
    super::super::check(&plan, &batch).expect_err("a corrupted list of children")
}

/// The first group of rose nodes whose first node has children.
fn parents(t: &mut FoldData<f64>) -> &mut GroupData<f64> {
    t.levels
        .iter_mut()
        .flatten()
        .find(|g| g.list_offsets.get(1).is_some_and(|&n| n > 0))
        .expect("a rose node with children")
}

#[test]
fn the_prepared_roses_list_their_children() {
    let plan = bush_plan();
    let mut batch = bush_batch(&plan);
    let t = roses(&mut batch);
    assert_eq!(t.roots.len(), 2, "one rose tree per bush node");
    assert_eq!(t.num_nodes, 6);
    let lists: usize = t
        .levels
        .iter()
        .flatten()
        .map(|g| g.list_children.len())
        .sum();
    assert_eq!(lists, 4, "every rose node but the roots is a list child");
}

#[test]
fn a_list_child_not_below_its_parent_is_p013() {
    let e = after(|t| {
        let g = parents(t);
        g.list_children[0] = g.first as u32;
    });
    assert_eq!(e.code(), "P013", "{e}");
}

#[test]
fn a_list_child_of_another_example_is_p015() {
    let e = after(|t| {
        let leaves: Vec<(u32, u32)> = t.levels[0]
            .iter()
            .flat_map(|g| (0..g.len).map(move |i| ((g.first + i) as u32, g.examples[i])))
            .collect();
        let g = parents(t);
        let other = leaves
            .iter()
            .find(|(_, e)| *e != g.examples[0])
            .expect("a childless rose node of the other bush");
        let first = g.list_offsets[0] as usize;
        g.list_children[first] = other.0;
    });
    assert_eq!(e.code(), "P015", "{e}");
}

#[test]
fn list_offsets_of_the_wrong_length_are_p014() {
    let e = after(|t| {
        let g = parents(t);
        g.list_offsets.pop();
    });
    assert_eq!(e.code(), "P014", "{e}");
}
