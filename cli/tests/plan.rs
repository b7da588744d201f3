//! `cdlc FILE --emit plan`: the JIT's plan of a model's training function,
//! verified, in its text form; a model the JIT cannot lower is refused with
//! the construct it stops at.

#[macro_use]
mod common;
use common::{cdlc, scratch, stderr, stdout};

const MLP: &str = "import std.layers

model net = dense[2, 8] >> relu >> dense[8, 3]

train net {
  data   = synthetic.spirals(classes = 3, samples = 30)
  loss   = cross_entropy
  optim  = sgd(lr = 0.1)
  epochs = 1
  batch  = 8
  seed   = 1
}
";

/// A nested field whose structure's own nested field holds the enclosing
/// fold's children too (`Stem(X)` with `stem(Tree(A * X))`), which the
/// JIT does not lower.
const FALLBACK: &str = fallback_program!("");

#[test]
fn emit_plan_prints_the_verified_plan() {
    let dir = scratch("plan");
    std::fs::write(dir.join("net.cdl"), MLP).unwrap();
    let out = cdlc(&["net.cdl", "--emit", "plan"], &dir);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
    insta::assert_snapshot!("emit_plan_mlp", stdout(&out));
}

#[test]
fn emit_plan_of_a_model_the_jit_cannot_lower_is_an_error() {
    let dir = scratch("plan-fallback");
    std::fs::write(dir.join("fallback.cdl"), FALLBACK).unwrap();
    let check = cdlc(&["check", "fallback.cdl"], &dir);
    assert!(check.status.success(), "{}", stderr(&check));
    let out = cdlc(&["fallback.cdl", "--emit", "plan"], &dir);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "");
    let err = stderr(&out);
    assert!(
        err.contains("E0617") && err.contains("own nested field holds more"),
        "{err}"
    );
}
