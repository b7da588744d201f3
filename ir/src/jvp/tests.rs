//! Tests of `jvp`'s API: the dual of a structure input, and what is
//! refused with a reason. Every forward rule, the recursion ops' included,
//! is checked against central finite differences by the case files under
//! `tests/cases/ir/jvp/` (the `cdlc-tests` crate's `ir_cases` runner,
//! `; jvp: fd`).

use cdlc_runtime::value::{Tensor, Value as Data};

use crate::ir::Type;
use crate::jvp::{JvpError, dual_value, jvp};
use crate::testmodels::elman_model;

fn vector(v: &[f64]) -> Data {
    Data::Tensor(Tensor::new(vec![v.len()], v.to_vec()))
}

#[test]
fn a_fold_over_a_list_takes_the_dual_list() {
    let mut m = elman_model();
    let f = jvp(&mut m.module, m.forward).expect("a fold is followed");
    let inputs = &m.module.functions[f].inputs;
    // The dual list is the only input: a list has no separate tangent.
    let [Type::Data(d)] = inputs.as_slice() else {
        panic!("expected one structure input, got {inputs:?}");
    };
    assert_eq!(m.module.data[*d].decl.name, "Dual(List(R[2]))");
    let x = Data::list(vec![vector(&[1.0, 2.0]), vector(&[3.0, 4.0])]);
    let t = Data::list(vec![vector(&[0.5, 0.0]), vector(&[0.0, -1.0])]);
    let list = match &m.module.functions[m.forward].inputs[0] {
        Type::Data(l) => *l,
        other => panic!("the model takes a list, not {other:?}"),
    };
    let dual = dual_value(&m.module, list, &x, &t).expect("same shape");
    let items = dual.as_list().expect("a list");
    assert_eq!(
        items[1],
        &Data::Tuple(vec![vector(&[3.0, 4.0]), vector(&[0.0, -1.0])])
    );
}

#[test]
fn a_tangent_of_another_shape_is_refused() {
    let m = elman_model();
    let Type::Data(list) = m.module.functions[m.forward].inputs[0] else {
        panic!("the model takes a list");
    };
    let x = Data::list(vec![vector(&[1.0, 2.0]), vector(&[3.0, 4.0])]);
    let t = Data::list(vec![vector(&[0.5, 0.0])]);
    let err = dual_value(&m.module, list, &x, &t).expect_err("lengths differ");
    assert!(err.contains("cons"), "{err}");
}

#[test]
fn a_training_function_is_refused_with_a_reason() {
    let mut m = elman_model();
    let train =
        crate::autodiff::differentiate(&mut m.module, m.forward, m.loss).expect("the model trains");
    match jvp(&mut m.module, train) {
        Err(JvpError::Unsupported { message, .. }) => {
            assert!(message.contains("has no tangent"), "{message}");
        }
        other => panic!("a training function has no forward derivative, got {other:?}"),
    }
}
