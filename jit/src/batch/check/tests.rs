//! The batch checker on prepared batches of trees and on list and halving
//! schedules: each passes as prepared, and each corrupted index gets its
//! code.

use cdlc_ir::testmodels::{random_batch, random_params, train_fn, tree_model};
use cdlc_runtime::rng::Rng;
use cdlc_runtime::value::{Target, Value};

use super::*;
use crate::batch::{halves_schedule, list_schedule, prepare};
use crate::plan::PlanError;

/// The training plan of `fold treenn (t) >> dense` and a prepared batch
/// of six random trees.
fn trees() -> (Plan, Batch<f64>) {
    let mut m = tree_model();
    let train = train_fn(&mut m);
    let plan = crate::lower::lower(&m.module, train, true).expect("the tree model lowers");
    let mut rng = Rng::new(7);
    let params = random_params(&m.module.functions[m.forward], &mut rng);
    let examples = random_batch(&m, &params, 6, &mut rng);
    let xs: Vec<&Value> = examples.iter().map(|e| &e.x).collect();
    let ys: Vec<&Target> = examples.iter().map(|e| &e.y).collect();
    let batch = prepare::<f64>(&plan, &xs, Some(&ys)).expect("the batch fits");
    (plan, batch)
}

/// The code of the check `corrupt` makes fail on the prepared trees.
fn code_after(corrupt: impl FnOnce(&mut FoldData<f64>)) -> PlanError {
    let (plan, mut batch) = trees();
    check(&plan, &batch).expect("the prepared batch passes");
    corrupt(&mut batch.folds[0]);
    check(&plan, &batch).expect_err("the corrupted batch fails")
}

/// The first group above the leaves.
fn inner(fd: &mut FoldData<f64>) -> &mut GroupData<f64> {
    fd.levels
        .iter_mut()
        .skip(1)
        .flatten()
        .find(|g| !g.children.is_empty())
        .expect("random trees have inner nodes")
}

#[test]
fn prepared_batches_pass() {
    let (plan, batch) = trees();
    check(&plan, &batch).expect("as prepared");
    let fd = &batch.folds[0];
    assert!(fd.levels.len() > 1, "the trees have more than one level");
}

#[test]
fn a_child_past_the_nodes_is_p011() {
    let e = code_after(|fd| {
        let n = fd.num_nodes as u32;
        inner(fd).children[0] = n;
    });
    assert_eq!(e.code(), "P011", "{e}");
    assert!(e.to_string().contains("child"), "{e}");
}

#[test]
fn an_example_past_the_rows_is_p011() {
    let e = code_after(|fd| fd.levels[0][0].examples[0] = 6);
    assert_eq!(e.code(), "P011", "{e}");
}

#[test]
fn a_node_in_two_groups_is_p012() {
    let e = code_after(|fd| {
        let first = fd.levels[0][0].first;
        inner(fd).first = first;
    });
    assert_eq!(e.code(), "P012", "{e}");
    assert!(e.to_string().contains("more than one group"), "{e}");
}

#[test]
fn a_node_in_no_group_is_p012() {
    let e = code_after(|fd| fd.num_nodes += 1);
    assert_eq!(e.code(), "P012", "{e}");
    assert!(e.to_string().contains("in no group"), "{e}");
}

#[test]
fn a_child_at_its_parents_level_is_p013() {
    let e = code_after(|fd| {
        let g = inner(fd);
        g.children[0] = g.first as u32;
    });
    assert_eq!(e.code(), "P013", "{e}");
}

#[test]
fn a_short_table_is_p014() {
    let e = code_after(|fd| {
        inner(fd).children.pop();
    });
    assert_eq!(e.code(), "P014", "{e}");
    let e = code_after(|fd| {
        fd.levels[0][0].fields[0].pop();
    });
    assert_eq!(e.code(), "P014", "{e}");
}

#[test]
fn a_root_of_another_example_is_p015() {
    let e = code_after(|fd| fd.roots.swap(0, 1));
    assert_eq!(e.code(), "P015", "{e}");
    assert!(e.to_string().contains("root"), "{e}");
}

#[test]
fn list_and_halving_schedules_pass_and_an_element_of_another_row_is_p015() {
    let site = Site(vec![]);
    let lens = [3, 0, 5, 1];
    let list: FoldData<f32> = list_schedule(&lens);
    check_fold(&site, &list, 4, &Ctors::list(), Some(5)).expect("the list schedule");
    let halves: FoldData<f32> = halves_schedule(&[3, 2, 5, 1]).expect("non-empty");
    check_fold(&site, &halves, 4, &Ctors::halves(), Some(5)).expect("the halving trees");
    let mut bad = list_schedule::<f32>(&lens);
    bad.levels[1][0].elems[0] += 1;
    let e = check_fold(&site, &bad, 4, &Ctors::list(), Some(5)).expect_err("another row");
    assert_eq!(e.code(), "P015", "{e}");
    let mut past = halves_schedule::<f32>(&[3, 2, 5, 1]).expect("non-empty");
    past.levels[0][0].elems[0] = 20;
    let e = check_fold(&site, &past, 4, &Ctors::halves(), Some(5)).expect_err("past the rows");
    assert_eq!(e.code(), "P011", "{e}");
}

mod labels;
