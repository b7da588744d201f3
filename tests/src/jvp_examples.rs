//! Forward derivatives of every example whose model folds or unfolds,
//! against central finite differences in f64: at points of the example's
//! own data (lists, trees, streams), along seeded standard normal
//! directions, with the example's initial weights.

use crate::example_case;
use crate::ir_cases::jvp::{Tangent, compare, direction};
use cdlc_ir::rng::Rng;
use cdlc_runtime::value::Value;

/// Checks `name`'s forward derivative at its first `samples` examples.
#[track_caller]
fn check_example(name: &str, samples: usize) {
    let (p, params, batch) = example_case(name, samples);
    let mut module = p.inst.module.clone();
    let jvp = cdlc_ir::jvp::jvp(&mut module, p.inst.func)
        .unwrap_or_else(|e| panic!("{name}: no forward derivative: {e}"));
    let m = Tangent {
        name: name.to_string(),
        forward: p.inst.func,
        jvp,
    };
    let mut rng = Rng::new(5);
    let inputs = module.functions[p.inst.func].inputs.len();
    for (k, ex) in batch.iter().enumerate() {
        let x: Vec<Value> = match (&ex.x, inputs) {
            (x, 1) => vec![x.clone()],
            (Value::Tuple(xs), _) => xs.clone(),
            (other, n) => panic!("{name}: an example of {n} inputs is {other:?}"),
        };
        let t: Vec<Value> = x.iter().map(|x| direction(x, &mut rng)).collect();
        let largest = compare(&module, &m, &params, &x, &t)
            .unwrap_or_else(|e| panic!("{name}, example {k}: {e}"));
        // The comparison is not vacuous: the output moves along `t`.
        assert!(largest > 1e-8, "{name}, example {k}: the tangent is zero");
    }
}

#[test]
fn rnn_parity() {
    check_example("rnn_parity", 3);
}

#[test]
fn gru_parity() {
    check_example("gru_parity", 2);
}

#[test]
fn tree_sum() {
    check_example("tree_sum", 3);
}

#[test]
fn hylo_parity() {
    check_example("hylo_parity", 3);
}

#[test]
fn mealy_parity() {
    check_example("mealy_parity", 3);
}

#[test]
fn stream_count() {
    check_example("stream_count", 3);
}
