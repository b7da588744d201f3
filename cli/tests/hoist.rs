//! `--emit ir-hoisted`: the forward IR after the hoisting pass, on an
//! example tree model (snapshot) and on a rose-tree model, while `--emit ir`
//! still prints the function as written; training, `cdlc run` and `cdlc
//! bench` with `--hoist lists` give the numbers the model as written
//! (`--hoist off`, the default) gives; `--emit plan` shows the plan that
//! runs.

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
fn training_and_run_hoisted_give_the_numbers_of_the_model_as_written() {
    let dir = scratch("hoist_train");
    std::fs::write(dir.join("elman.cdl"), ELMAN).unwrap();
    let mut metrics = Vec::new();
    for (out, extra) in [("hoisted", &["--hoist", "lists"][..]), ("plain", &[][..])] {
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
    for extra in [&["--hoist", "lists"][..], &["--hoist", "off"][..]] {
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
fn bench_hoisted_has_the_first_loss_of_the_model_as_written() {
    let dir = scratch("hoist_bench");
    std::fs::write(dir.join("elman.cdl"), ELMAN).unwrap();
    let mut losses = Vec::new();
    for extra in [&["--hoist", "lists"][..], &["--hoist", "off"][..]] {
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

#[test]
fn emit_plan_shows_the_map_when_hoisting_and_not_by_default() {
    let dir = scratch("hoist_plan");
    std::fs::write(dir.join("elman.cdl"), ELMAN).unwrap();
    let has_map = |extra: &[&str]| {
        let mut args = vec!["elman.cdl", "--emit", "plan"];
        args.extend(extra);
        let p = cdlc(&args, &dir);
        assert!(p.status.success(), "{}", stderr(&p));
        let text = stdout(&p);
        text.contains("map over f") && text.contains("map_backward over f")
    };
    assert!(has_map(&["--hoist", "lists"]));
    assert!(!has_map(&[]));
    assert!(!has_map(&["--hoist", "off"]));
    // A fold over a tree is hoisted under `all` only.
    let tree = |extra: &[&str]| {
        let mut args = vec![example("tree_sum"), "--emit".into(), "plan".into()];
        args.extend(extra.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let p = cdlc(&args, &dir);
        assert!(p.status.success(), "{}", stderr(&p));
        stdout(&p).contains("map over f")
    };
    assert!(!tree(&["--hoist", "lists"]));
    assert!(tree(&["--hoist", "all"]));
}

#[test]
fn a_mealy_machine_s_output_head_is_shown_mapped_after_the_unfold() {
    let dir = scratch("hoist_mealy");
    let out = cdlc(&[&example("mealy_parity"), "--emit", "ir-hoisted"], &dir);
    assert!(out.status.success(), "{}", stderr(&out));
    insta::assert_snapshot!("mealy_parity_ir_hoisted", stdout(&out));
}

#[test]
fn a_stream_s_output_head_is_shown_mapped_after_the_unfold() {
    let dir = scratch("hoist_stream");
    let out = cdlc(&[&example("stream_count"), "--emit", "ir-hoisted"], &dir);
    assert!(out.status.success(), "{}", stderr(&out));
    insta::assert_snapshot!("stream_count_ir_hoisted", stdout(&out));
}
