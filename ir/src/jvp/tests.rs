//! Tests of `jvp`'s API: a fold is refused with a reason. Every forward
//! rule is checked against central finite differences by the case files
//! under `tests/cases/ir/jvp/` (the `cdlc-tests` crate's `ir_cases`
//! runner, `; jvp: fd`).

use crate::jvp::{JvpError, jvp};
use crate::testmodels::elman_model;

#[test]
fn folds_are_refused_with_a_reason() {
    let mut m = elman_model();
    match jvp(&mut m.module, m.forward) {
        Err(JvpError::Unsupported { message, .. }) => {
            assert!(
                message.contains("data structure") || message.contains("regions"),
                "{message}"
            );
        }
        other => panic!("a fold is not followed, got {other:?}"),
    }
}
