//! `examples/labelled_trees.cdl` (a nested field, `List(R[2] * X)`)
//! trains on the JIT, without the interpreter fallback (W0901), and in
//! f64 reports the interpreter's losses and accuracies.

use std::path::Path;

mod common;
use common::{cdlc, scratch, stderr};

/// The example's path.
fn example(name: &str) -> String {
    format!("{}/../examples/{name}.cdl", env!("CARGO_MANIFEST_DIR"))
}

/// Trains the example for one epoch in f64 on `backend` into `dir/out`
/// and returns the run's metrics.
fn train(dir: &Path, backend: &str, out: &str) -> String {
    let file = example("labelled_trees");
    let o = cdlc(
        &[
            &file,
            "--emit",
            "jit",
            "--out",
            out,
            "--dtype",
            "f64",
            "--epochs",
            "1",
            "--backend",
            backend,
        ],
        dir,
    );
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(!err.contains("W0901"), "{backend}: {err}");
    let interpreter = err.contains("(interpreter)");
    assert_eq!(interpreter, backend == "interp", "{err}");
    std::fs::read_to_string(dir.join(out).join("metrics.csv")).expect("metrics written")
}

/// The numbers of a metrics file, line by line (the header dropped).
fn numbers(metrics: &str) -> Vec<Vec<f64>> {
    metrics
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(|x| x.parse().expect("a number")).collect())
        .collect()
}

#[test]
fn labelled_trees_train_on_the_jit_with_the_interpreters_losses() {
    let dir = scratch("nested_jit");
    let jit = numbers(&train(&dir, "jit", "run_j"));
    let interp = numbers(&train(&dir, "interp", "run_i"));
    assert_eq!(jit.len(), 1, "one epoch");
    assert_eq!(jit.len(), interp.len());
    for (a, b) in jit.iter().zip(&interp) {
        assert_eq!(a.len(), 4, "epoch, losses and accuracy: {a:?}");
        for (x, y) in a.iter().zip(b) {
            assert!(
                (x - y).abs() <= 1e-9 * y.abs().max(1.0),
                "jit {a:?} against interpreter {b:?}"
            );
        }
    }
}
