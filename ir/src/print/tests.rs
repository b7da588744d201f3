use crate::print::print_module;
use crate::testmodels::{dense_model, elman_model, mealy_model, tree_model};

#[test]
fn dense_forward() {
    insta::assert_snapshot!(print_module(&dense_model().module));
}

#[test]
fn elman_forward() {
    insta::assert_snapshot!(print_module(&elman_model().module));
}

#[test]
fn tree_forward() {
    insta::assert_snapshot!(print_module(&tree_model().module));
}

#[test]
fn mealy_forward() {
    insta::assert_snapshot!(print_module(&mealy_model().module));
}

#[test]
fn printing_is_deterministic() {
    let a = print_module(&elman_model().module);
    let b = print_module(&elman_model().module);
    assert_eq!(a, b);
}
