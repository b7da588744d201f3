//! Copying and comparing deep values.

use super::*;
use crate::value::Tensor;

/// A tree whose spine runs `depth` levels down the right children.
fn spine(depth: usize) -> Value {
    let leaf = |x: f64| Value::leaf(Value::Tensor(Tensor::scalar(x)));
    let mut v = leaf(depth as f64);
    for i in (0..depth).rev() {
        v = Value::node(leaf(i as f64), v);
    }
    v
}

#[test]
fn a_tree_200_000_levels_deep_is_copied_and_compared_without_recursion() {
    let v = spine(200_000);
    let copy = v.clone();
    assert!(copy == v);
    let other = spine(199_999);
    assert!(copy != other);
    let tuple = Value::Tuple(vec![
        v,
        Value::list(vec![Value::Tensor(Tensor::scalar(1.0))]),
    ]);
    assert_eq!(tuple.clone(), tuple);
}

#[test]
fn copies_keep_constructors_fields_and_numbers() {
    let t = |x: f64| Value::Tensor(Tensor::new(vec![2], vec![x, -x]));
    let v = Value::Tuple(vec![
        Value::node(Value::leaf(t(1.0)), Value::leaf(t(2.0))),
        Value::list(vec![t(3.0), t(4.0)]),
    ]);
    let c = v.clone();
    assert_eq!(c, v);
    let Value::Tuple(parts) = &c else {
        panic!("a tuple")
    };
    assert_eq!(parts[1].as_list().map(|l| l.len()), Some(2));
    assert_ne!(c, Value::Tuple(vec![t(1.0)]));
    assert_ne!(t(1.0), t(2.0));
    assert_ne!(Value::leaf(t(1.0)), Value::node(t(1.0), t(1.0)));
}
