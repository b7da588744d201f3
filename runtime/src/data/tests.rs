//! Type checking of values and targets.

use std::sync::Arc;

use super::*;
use crate::value::{CtorDecl, DataDecl, Tensor};

fn r(shape: &[usize]) -> Value {
    Value::Tensor(Tensor::zeros(shape.to_vec()))
}

/// `functor RoseF(A) = rose(A, List(X))`, `data Rose(A) = fix RoseF(A)`.
fn rose_type(a: DataType) -> DataType {
    DataType::Data(Arc::new(DataDecl {
        name: format!("Rose({a})"),
        ctors: vec![CtorDecl {
            name: "rose".into(),
            fields: vec![a, DataType::list(DataType::Rec(0))],
        }],
    }))
}

fn rose(a: Value, kids: Vec<Value>) -> Value {
    Value::Node {
        ctor: 0,
        fields: vec![a, Value::list(kids)],
    }
}

#[test]
fn lists_and_trees_check() {
    let ty = DataType::list(DataType::Tensor(vec![2]));
    assert_eq!(
        check_value(&Value::list(vec![r(&[2]), r(&[2])]), &ty),
        Ok(())
    );
    assert_eq!(check_value(&Value::list(vec![]), &ty), Ok(()));
    let err =
        check_value(&Value::list(vec![r(&[2]), r(&[2]), r(&[3])]), &ty).expect_err("bad element");
    assert_eq!(err.path, "x[2]");
    assert_eq!(err.expected, "R[2]");
    assert_eq!(err.found, "R[3]");

    let tree = DataType::tree(DataType::Tensor(vec![]));
    let t = Value::node(
        Value::leaf(r(&[])),
        Value::node(Value::leaf(r(&[])), Value::leaf(r(&[1]))),
    );
    let err = check_value(&t, &tree).expect_err("bad leaf");
    assert_eq!(err.path, "x.node[1].node[1].leaf[0]");
    assert_eq!(err.expected, "R");
}

#[test]
fn nested_recursion_names_the_right_data_type() {
    let ty = rose_type(DataType::Tensor(vec![]));
    // The list inside a rose node holds roses (Rec(1) from inside the list).
    let DataType::Data(d) = &ty else {
        unreachable!()
    };
    let DataType::Data(list) = &d.ctors[0].fields[1] else {
        panic!("a rose's second field is a list")
    };
    assert_eq!(list.ctors[1].fields[0], DataType::Rec(1));
    assert_eq!(list.name, "List(X)");

    let good = rose(
        r(&[]),
        vec![
            rose(r(&[]), vec![]),
            rose(r(&[]), vec![rose(r(&[]), vec![])]),
        ],
    );
    assert_eq!(check_value(&good, &ty), Ok(()));
    let bad = rose(
        r(&[]),
        vec![rose(r(&[]), vec![]), rose(r(&[]), vec![r(&[])])],
    );
    let err = check_value(&bad, &ty).expect_err("a tensor where a rose belongs");
    assert_eq!(err.path, "x.rose[1][1].rose[1][0]");
    assert_eq!(err.expected, "Rose(R)");
}

#[test]
fn long_lists_do_not_overflow_the_stack() {
    let ty = DataType::list(DataType::Tensor(vec![]));
    let v = Value::list((0..1_000_000).map(|_| r(&[])).collect());
    assert_eq!(check_value(&v, &ty), Ok(()));
}

#[test]
fn tuples_and_bad_constructors() {
    let ty = DataType::Tuple(vec![
        DataType::Tensor(vec![2]),
        DataType::list(DataType::Tensor(vec![])),
    ]);
    let v = Value::Tuple(vec![
        r(&[2]),
        Value::Node {
            ctor: 7,
            fields: vec![],
        },
    ]);
    let err = check_value(&v, &ty).expect_err("no constructor 7");
    assert_eq!(err.path, "x[1]");
    assert_eq!(err.found, "constructor #7");
    let v = Value::Tuple(vec![r(&[2])]);
    assert_eq!(
        check_value(&v, &ty).expect_err("short tuple").found,
        "a tuple of 1"
    );
}

#[test]
fn targets_check() {
    assert_eq!(
        check_target(&Target::Class(2), &TargetType::Class(3)),
        Ok(())
    );
    assert_eq!(
        check_target(&Target::Class(3), &TargetType::Class(3))
            .expect_err("out of range")
            .expected,
        "a class in 0..3"
    );
    let seq = TargetType::Seq(Box::new(TargetType::Class(2)));
    let err = check_target(&Target::Seq(vec![Target::Class(1), Target::Class(5)]), &seq)
        .expect_err("bad");
    assert_eq!(err.path, "y[1]");
    let t = Target::Tensor(Tensor::zeros(vec![1]));
    assert_eq!(check_target(&t, &TargetType::Tensor(vec![1])), Ok(()));
    assert_eq!(
        check_target(&t, &TargetType::Class(2))
            .expect_err("tensor")
            .found,
        "R[1]"
    );
}

#[test]
fn shifting_moves_only_free_positions() {
    let inner = DataType::list(DataType::Rec(0));
    // Inside the list, the element X is one level further out.
    let shifted = inner.shifted(1, 0);
    let DataType::Data(d) = &shifted else {
        unreachable!()
    };
    assert_eq!(d.ctors[1].fields, vec![DataType::Rec(2), DataType::Rec(0)]);
    // A closed type is unchanged.
    let closed = DataType::list(DataType::Tensor(vec![2]));
    assert_eq!(closed.shifted(3, 0), closed);
}

#[test]
fn trees_200_000_levels_deep_are_checked_without_recursion() {
    let tree = DataType::tree(DataType::Tensor(vec![]));
    let depth = 200_000;
    let build = |bottom: Value| {
        let mut v = bottom;
        for _ in 0..depth {
            v = Value::node(v, Value::leaf(r(&[])));
        }
        v
    };
    assert_eq!(check_value(&build(Value::leaf(r(&[]))), &tree), Ok(()));
    let err = check_value(&build(Value::leaf(r(&[2]))), &tree).expect_err("bad deepest leaf");
    let expected = format!(
        "x{}<{} more>{}.leaf[0]",
        ".node[0]".repeat(6),
        depth - 11,
        ".node[0]".repeat(5)
    );
    assert_eq!(err.path, expected);
    assert_eq!((err.expected.as_str(), err.found.as_str()), ("R", "R[2]"));
}

#[test]
fn the_first_mismatch_in_order_is_reported_in_a_list() {
    // A bad element before a bad cell: the element is named.
    let ty = DataType::list(DataType::Tensor(vec![]));
    let mut v = Value::Node {
        ctor: 7,
        fields: vec![],
    };
    for x in [r(&[]), r(&[3]), r(&[])] {
        v = Value::Node {
            ctor: 1,
            fields: vec![x, v],
        };
    }
    let err = check_value(&v, &ty).expect_err("two problems");
    assert_eq!((err.path.as_str(), err.found.as_str()), ("x[1]", "R[3]"));
}
