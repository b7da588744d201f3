//! `examples/labelled_trees.cdl` (a nested field, `List(R[2] * X)`)
//! trains on the JIT, without the interpreter fallback (W0901), and in
//! f64 reports the interpreter's losses and accuracies.

mod common;
use common::{jit_trains_like_the_interpreter, scratch};

/// The example's path.
fn example(name: &str) -> String {
    format!("{}/../examples/{name}.cdl", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn labelled_trees_train_on_the_jit_with_the_interpreters_losses() {
    let dir = scratch("nested_jit");
    jit_trains_like_the_interpreter(&dir, &example("labelled_trees"), 1);
}
