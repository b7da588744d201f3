//! The example types of the test models, and what their check reports.

use cdlc_runtime::value::{DataType, Target, Tensor, Value};

use super::{ExampleError, ExampleTypes};
use crate::testmodels::{dense_model, elman_model};

fn vector(xs: &[f64]) -> Value {
    Value::Tensor(Tensor::new(vec![xs.len()], xs.to_vec()))
}

#[test]
fn a_forward_function_takes_its_input_type_and_no_target() {
    let m = dense_model();
    let types = ExampleTypes::of(&m.module, m.forward, false).expect("data types");
    let DataType::Tensor(shape) = &types.x else {
        panic!("{types:?}");
    };
    assert_eq!(types.y, None);
    let good = vector(&vec![0.5; shape.iter().product()]);
    assert_eq!(types.check(&good, None), Ok(()));
    // A target given to a function that takes none is not looked at.
    assert_eq!(types.check(&good, Some(&Target::Class(7))), Ok(()));
}

#[test]
fn a_list_whose_cell_lacks_its_tail_is_an_input_error_at_the_cell() {
    let m = elman_model();
    let types = ExampleTypes::of(&m.module, m.forward, false).expect("data types");
    let cell = |x: Value, tail: Value| Value::Node {
        ctor: 1,
        fields: vec![x, tail],
    };
    let nil = Value::Node {
        ctor: 0,
        fields: Vec::new(),
    };
    let good = cell(vector(&[1.0, 2.0]), cell(vector(&[3.0, 4.0]), nil.clone()));
    assert_eq!(types.check(&good, None), Ok(()));
    let bad = cell(
        vector(&[1.0, 2.0]),
        Value::Node {
            ctor: 1,
            fields: vec![vector(&[1.0, 2.0])],
        },
    );
    let Err(ExampleError::Input(m)) = types.check(&bad, None) else {
        panic!("no input error");
    };
    assert_eq!(
        (m.path.as_str(), m.expected.as_str(), m.found.as_str()),
        ("x[1]", "cons with 2 fields", "1 fields")
    );
}

#[test]
fn a_training_function_takes_its_target_type() {
    let mut m = elman_model();
    let train =
        crate::autodiff::differentiate(&mut m.module, m.forward, m.loss).expect("the model trains");
    let types = ExampleTypes::of(&m.module, train, true).expect("data types");
    let nil = Value::Node {
        ctor: 0,
        fields: Vec::new(),
    };
    assert_eq!(types.check(&nil, Some(&Target::Class(1))), Ok(()));
    let Err(ExampleError::Target(m)) = types.check(&nil, Some(&Target::Class(2))) else {
        panic!("no target error");
    };
    assert_eq!((m.path.as_str(), m.found.as_str()), ("y", "class 2"));
}
