//! `--emit ir-hoisted`: the forward IR after the hoisting pass, on an
//! example tree model (snapshot) and on a rose-tree model, while `--emit ir`
//! still prints the function as written; training, `cdlc run` and `cdlc
//! bench` with `--hoist` give the numbers the model as written gives.

#[macro_use]
mod common;
use common::{cdlc, scratch, stderr, stdout};

/// The example's path from the test's working folder.
fn example(name: &str) -> String {
    format!("{}/../examples/{name}.cdl", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn a_tree_model_s_leaf_embedding_is_shown_as_a_map() {
    let dir = scratch("hoist_tree");
    let out = cdlc(&[&example("tree_sum"), "--emit", "ir-hoisted"], &dir);
    assert!(out.status.success(), "{}", stderr(&out));
    insta::assert_snapshot!("tree_sum_ir_hoisted", stdout(&out));
}

#[test]
fn a_rose_node_s_own_projection_is_hoisted_and_emit_ir_is_unchanged() {
    let dir = scratch("hoist_rose");
    std::fs::write(dir.join("rose.cdl"), rose_program!("")).unwrap();
    let hoisted = cdlc(&["rose.cdl", "--emit", "ir-hoisted"], &dir);
    assert!(hoisted.status.success(), "{}", stderr(&hoisted));
    let text = stdout(&hoisted);
    assert!(
        text.starts_with("# element-only work hoisted out of 1 fold\n"),
        "{text}"
    );
    assert!(text.contains("= map Rose(R[2]) %"), "{text}");
    assert!(
        text.contains("= fold Mapped(Rose(R[2]); (R[4])) %"),
        "{text}"
    );
    let plain = cdlc(&["rose.cdl", "--emit", "ir"], &dir);
    assert!(plain.status.success(), "{}", stderr(&plain));
    assert!(!stdout(&plain).contains("map"), "{}", stdout(&plain));
}

/// An Elman RNN over short lists, trained briefly.
const ELMAN: &str = "import std.layers

model parity(xs: List(R[2])) -> R[2] {
  dense[8, 2](fold elman[2, 8] (xs))
}

train parity {
  data   = synthetic.parity(min_length = 2, max_length = 6, samples = 64)
  loss   = cross_entropy
  optim  = adam(lr = 0.01)
  epochs = 2
  batch  = 16
  seed   = 3
}
";

/// The numbers of a metrics file or of `cdlc run`'s output, in order.
fn numbers(text: &str) -> Vec<f64> {
    text.split(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '-' | 'e' | 'E')))
        .filter_map(|w| w.parse().ok())
        .collect()
}

#[track_caller]
fn assert_close(a: &[f64], b: &[f64], tol: f64) {
    assert_eq!(a.len(), b.len(), "{a:?} against {b:?}");
    for (x, y) in a.iter().zip(b) {
        let e = (x - y).abs() / x.abs().max(y.abs()).max(1e-3);
        assert!(e <= tol, "{x} against {y} ({a:?} against {b:?})");
    }
}

#[test]
fn training_and_run_with_hoist_give_the_numbers_of_the_model_as_written() {
    let dir = scratch("hoist_train");
    std::fs::write(dir.join("elman.cdl"), ELMAN).unwrap();
    let mut metrics = Vec::new();
    for (out, extra) in [("hoisted", Some("--hoist")), ("plain", None)] {
        let mut args = vec!["elman.cdl", "--emit", "jit", "--dtype", "f64", "--out", out];
        args.extend(extra);
        let t = cdlc(&args, &dir);
        assert!(t.status.success(), "{}", stderr(&t));
        let text = std::fs::read_to_string(dir.join(out).join("metrics.csv")).unwrap();
        metrics.push(numbers(&text));
    }
    assert!(metrics[0].len() >= 8, "{:?}", metrics[0]);
    assert_close(&metrics[0], &metrics[1], 1e-9);

    std::fs::write(
        dir.join("in.jsonl"),
        "{\"x\": [[0.1, 0.2], [0.5, -1.0]]}\n{\"x\": [[-0.5, 0.9], [1.0, 0.0], [0.3, 0.3]]}\n",
    )
    .unwrap();
    let mut outs = Vec::new();
    for extra in [Some("--hoist"), None] {
        let mut args = vec![
            "run",
            "elman.cdl",
            "--weights",
            "hoisted/weights.safetensors",
            "--input",
            "in.jsonl",
        ];
        args.extend(extra);
        let r = cdlc(&args, &dir);
        assert!(r.status.success(), "{}", stderr(&r));
        outs.push(numbers(&stdout(&r)));
    }
    assert_eq!(outs[0].len(), 4, "{:?}", outs[0]);
    assert_close(&outs[0], &outs[1], 1e-5);
}

#[test]
fn bench_with_hoist_has_the_first_loss_of_the_model_as_written() {
    let dir = scratch("hoist_bench");
    std::fs::write(dir.join("elman.cdl"), ELMAN).unwrap();
    let mut losses = Vec::new();
    for extra in [Some("--hoist"), None] {
        let mut args = vec![
            "bench",
            "elman.cdl",
            "--steps",
            "2",
            "--warmup",
            "0",
            "--min-time",
            "0",
        ];
        args.extend(extra);
        let b = cdlc(&args, &dir);
        assert!(b.status.success(), "{}", stderr(&b));
        let text = stdout(&b);
        let line = text
            .lines()
            .find(|l| l.starts_with("first_loss: "))
            .unwrap_or_else(|| panic!("{text}"));
        losses.push(numbers(line));
    }
    assert_close(&losses[0], &losses[1], 1e-5);
}
