//! Data of any depth end to end: trees 100 000 levels deep in JSON lines
//! load, train an epoch on the JIT, run and are written back by
//! `cdlc data` unchanged; the interpreter trains on 20 000-level trees to
//! the JIT's losses (100 000 levels take it about 30 s in a debug build,
//! measured in `docs/reliability.md`), and so do rose trees whose child
//! lists nest 10 000 deep; deep malformed or mistyped lines are E0603
//! naming the line and the path, all on the binary's 8 MiB main thread.

#[macro_use]
mod common;
use common::{cdlc, scratch, stderr, stdout};
use std::path::Path;

/// A tree model folded over `Tree(R[2])`, trained on `d.jsonl`.
const PROGRAM: &str = "import std.layers

model m(t: Tree(R[2])) -> R[2] {
  dense[4, 2](fold treenn[2, 4] (t))
}

train m {
  data   = jsonl(\"d.jsonl\")
  loss   = cross_entropy
  optim  = sgd(lr = 0.01)
  epochs = 1
  batch  = 2
  split  = 0.5
}
";

/// One example: a tree `depth` levels deep whose spine runs down the left
/// (or right) children, each node's other child a leaf, written in the
/// compact form `cdlc data` writes (numbers as their shortest f64 text).
fn tree_line(depth: usize, left: bool, class: usize) -> String {
    let leaf = |i: usize| format!("{{\"leaf\":[[{}.5,-1.0]]}}", i % 3);
    let mut line = String::from("{\"x\":");
    for i in 0..depth {
        line += "{\"node\":[";
        if !left {
            line += &leaf(i);
            line += ",";
        }
    }
    line += &leaf(depth);
    for i in (0..depth).rev() {
        if left {
            line += ",";
            line += &leaf(i);
        }
        line += "]}";
    }
    line + &format!(",\"y\":{class}}}\n")
}

/// Four examples, two of them `depth` levels deep.
fn data(depth: usize) -> String {
    tree_line(depth, true, 0)
        + &tree_line(depth / 2, false, 1)
        + &tree_line(3, true, 1)
        + &tree_line(depth, false, 0)
}

/// A folder with the program and `depth`-level data.
fn folder(name: &str, depth: usize) -> common::Scratch {
    let dir = scratch(name);
    std::fs::write(dir.join("m.cdl"), PROGRAM).unwrap();
    std::fs::write(dir.join("d.jsonl"), data(depth)).unwrap();
    dir
}

/// Trains one epoch with `backend` into `out` and returns the losses of
/// `metrics.csv`'s epoch line.
fn train(dir: &Path, backend: &str, out: &str) -> Vec<f64> {
    let o = cdlc(
        &["m.cdl", "--emit", "jit", "--backend", backend, "--out", out],
        dir,
    );
    assert!(o.status.success(), "{backend}: {}", stderr(&o));
    let metrics = std::fs::read_to_string(dir.join(out).join("metrics.csv")).unwrap();
    let line = metrics.lines().nth(1).expect("one epoch");
    let losses: Vec<f64> = line
        .split(',')
        .skip(1)
        .map(|x| x.parse().unwrap())
        .collect();
    assert!(losses.iter().all(|x| x.is_finite()), "{metrics}");
    losses
}

#[test]
fn trees_100_000_levels_deep_train_on_the_jit_run_and_are_written_back_unchanged() {
    let dir = folder("jit", 100_000);
    train(&dir, "jit", "o");
    let o = cdlc(
        &[
            "run",
            "m.cdl",
            "--weights",
            "o/weights.safetensors",
            "--input",
            "d.jsonl",
        ],
        &dir,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let outputs: Vec<Vec<f64>> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).expect("an output vector"))
        .collect();
    assert_eq!(outputs.len(), 4);
    assert!(
        outputs
            .iter()
            .all(|v| v.len() == 2 && v.iter().all(|x| x.is_finite()))
    );
    // The two trees of the same depth and leaves but mirrored spines are
    // different inputs, and the model tells them apart.
    assert_ne!(outputs[0], outputs[3]);
    let o = cdlc(&["data", "m.cdl", "--out", "back.jsonl"], &dir);
    assert!(o.status.success(), "{}", stderr(&o));
    let back = std::fs::read(dir.join("back.jsonl")).unwrap();
    assert!(
        back == std::fs::read(dir.join("d.jsonl")).unwrap(),
        "cdlc data wrote the examples back differently"
    );
}

#[test]
fn the_interpreter_trains_20_000_level_trees_to_the_jits_losses() {
    let dir = folder("interp", 20_000);
    let jit = train(&dir, "jit", "o-jit");
    let interp = train(&dir, "interp", "o-interp");
    for (j, i) in jit.iter().zip(&interp) {
        assert!(
            (j - i).abs() <= 1e-5 * (1.0 + i.abs()),
            "{jit:?} {interp:?}"
        );
    }
}

#[test]
fn deep_malformed_lines_are_e0603_with_their_line() {
    let dir = folder("malformed", 3);
    let unterminated = format!("{{\"x\":{}\n", "{\"node\":[".repeat(100_000));
    std::fs::write(dir.join("d.jsonl"), tree_line(2, true, 0) + &unterminated).unwrap();
    let o = cdlc(&["m.cdl", "--emit", "jit", "--out", "o"], &dir);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("[E0603]") && err.contains("line 2: invalid JSON"),
        "{err}"
    );
    assert!(
        err.contains("found the end of the line at column 900006"),
        "{err}"
    );
    assert!(!dir.join("o").exists(), "nothing is trained");
}

#[test]
fn a_mismatch_deep_in_a_tree_is_e0603_with_its_path_shortened() {
    let dir = folder("mismatch", 3);
    // The deepest leaf of a 100 000-level spine holds one number, not two.
    let good = tree_line(100_000, true, 0);
    let bad = good.replacen("{\"leaf\":[[0.5,-1.0]]}", "{\"leaf\":[[0.5]]}", 1);
    assert_ne!(good, bad);
    std::fs::write(dir.join("d.jsonl"), tree_line(2, true, 1) + &bad).unwrap();
    let o = cdlc(&["m.cdl", "--emit", "jit", "--out", "o"], &dir);
    assert_eq!(o.status.code(), Some(1));
    insta::assert_snapshot!(stderr(&o));
}

/// A rose-tree model: each node's value with its children folded by an
/// Elman cell.
const ROSE: &str = rose_program!(
    "
train m {
  data   = jsonl(\"d.jsonl\")
  loss   = cross_entropy
  optim  = sgd(lr = 0.01)
  epochs = 1
  batch  = 2
  split  = 0.5
}
"
);

/// A rose tree `depth` levels deep: each rose's children are the next
/// rose and `extra` leaves after it, so the child lists nest as deep as the
/// tree.
fn rose_line(depth: usize, extra: usize, class: usize) -> String {
    let mut line = String::from("{\"x\":");
    for i in 0..depth {
        line += &format!("{{\"rose\":[[{}.5,1.0],[", i % 3);
    }
    line += "{\"rose\":[[0.0,0.0],[]]}";
    for _ in 0..depth {
        line += &",{\"rose\":[[1.0,2.0],[]]}".repeat(extra);
        line += "]]}";
    }
    line + &format!(",\"y\":{class}}}\n")
}

#[test]
fn rose_trees_10_000_levels_deep_train_on_both_backends_to_the_same_losses() {
    let dir = scratch("rose");
    std::fs::write(dir.join("m.cdl"), ROSE).unwrap();
    let depth = 10_000;
    let text = rose_line(depth, 0, 0)
        + &rose_line(depth / 2, 1, 1)
        + &rose_line(3, 2, 1)
        + &rose_line(depth, 1, 0);
    std::fs::write(dir.join("d.jsonl"), &text).unwrap();
    let jit = train(&dir, "jit", "o-jit");
    let interp = train(&dir, "interp", "o-interp");
    for (j, i) in jit.iter().zip(&interp) {
        assert!(
            (j - i).abs() <= 1e-5 * (1.0 + i.abs()),
            "{jit:?} {interp:?}"
        );
    }
    let o = cdlc(&["data", "m.cdl", "--out", "back.jsonl"], &dir);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(std::fs::read_to_string(dir.join("back.jsonl")).unwrap() == text);
}
