//! Training's progress on standard error: plain lines for people, one JSON
//! object per event (with a `"kind"`) under `--message-format json`, so
//! that every line of standard error parses.

#[macro_use]
mod common;

use common::{cdlc, scratch, stderr};

/// A small classifier with a validation split, trained for three epochs.
const NET: &str = "import std.layers
model net = dense[2, 3]
train net {
  data       = jsonl(\"train.jsonl\")
  loss       = cross_entropy
  optim      = sgd(lr = 0.1)
  epochs     = 3
  batch      = 2
  split      = 0.75
}
";

/// Eight examples of three classes.
fn examples() -> String {
    (0..8)
        .map(|i| {
            format!(
                "{{\"x\": [{}, {}], \"y\": {}}}\n",
                i as f64 * 0.1,
                1.0 - i as f64 * 0.2,
                i % 3
            )
        })
        .collect()
}

/// Trains `NET` in a fresh folder with extra arguments; the folder is
/// returned with the command's output.
fn train(name: &str, extra: &[&str]) -> (common::Scratch, std::process::Output) {
    let dir = scratch(name);
    std::fs::write(dir.join("net.cdl"), NET).unwrap();
    std::fs::write(dir.join("train.jsonl"), examples()).unwrap();
    let mut args = vec![
        "net.cdl",
        "--emit",
        "jit",
        "--backend",
        "interp",
        "--out",
        "run",
    ];
    args.extend(extra);
    let o = cdlc(&args, &dir);
    (dir, o)
}

#[test]
fn progress_is_json_lines_under_message_format_json() {
    let (dir, o) = train("progress_json", &["--message-format", "json"]);
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    let events: Vec<serde_json::Value> = err
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line: {l:?} ({e})")))
        .collect();
    let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["training", "epoch", "epoch", "epoch", "finished"],
        "{err}"
    );
    assert_eq!(events[0]["model"], "net");
    assert_eq!(events[0]["backend"], "interpreter");
    // dense[2, 3]: a 3×2 matrix and a bias of 3, in two slots.
    assert_eq!(events[0]["parameters"], 9);
    assert_eq!(events[0]["slots"], 2);
    for (k, e) in events[1..4].iter().enumerate() {
        assert_eq!(e["epoch"], k + 1);
        assert_eq!(e["epochs"], 3);
        assert!(e["train_loss"].as_f64().unwrap() > 0.0, "{e}");
        assert!(e["val_loss"].as_f64().unwrap() > 0.0, "{e}");
        let acc = e["val_accuracy"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&acc), "{e}");
        assert!(e["examples_per_second"].as_f64().unwrap() > 0.0, "{e}");
    }
    let last = &events[4];
    assert_eq!(last["epochs"], 3);
    assert_eq!(last["interrupted"], false);
    assert_eq!(last["out"], "run");
    // The epochs' losses are those written to metrics.csv.
    let csv = std::fs::read_to_string(dir.join("run").join("metrics.csv")).unwrap();
    let first: Vec<&str> = csv.lines().nth(1).unwrap().split(',').collect();
    let logged = events[1]["train_loss"].as_f64().unwrap();
    let written: f64 = first[1].parse().unwrap();
    assert!(
        (logged - written).abs() <= 1e-6 * written.abs(),
        "{logged} against {csv}"
    );
}

#[test]
fn progress_is_plain_text_for_people() {
    let (_dir, o) = train("progress_text", &[]);
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 5, "{err}");
    assert_eq!(
        lines[0],
        "training `net` (interpreter): 9 parameters in 2 slots"
    );
    for (k, l) in lines[1..4].iter().enumerate() {
        assert!(
            l.starts_with(&format!("epoch {:>3}/3  train_loss ", k + 1))
                && l.contains("  val_loss ")
                && l.contains("  val_accuracy ")
                && l.ends_with(" ex/s"),
            "{l}"
        );
    }
    assert!(
        lines[4].starts_with("trained in ") && lines[4].ends_with(" s; wrote run"),
        "{}",
        lines[4]
    );
    assert!(!err.contains('{'), "{err}");
}

/// Runs `cdlc ARGS --message-format json` on `NET` and its data in a
/// fresh folder: every line of standard error is a JSON object, and the
/// kinds are returned with the objects.
fn json_notes(name: &str, args: &[&str]) -> Vec<serde_json::Value> {
    let dir = scratch(name);
    std::fs::write(dir.join("net.cdl"), NET).unwrap();
    std::fs::write(dir.join("train.jsonl"), examples()).unwrap();
    let mut all = args.to_vec();
    all.extend(["--message-format", "json"]);
    let o = cdlc(&all, &dir);
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    err.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line: {l:?} ({e})")))
        .collect()
}

#[test]
fn data_bench_and_the_exporter_write_json_notes_under_message_format_json() {
    let data = json_notes("notes_data", &["data", "net.cdl", "--out", "x.jsonl"]);
    assert_eq!(data.len(), 1, "{data:?}");
    assert_eq!(data[0]["kind"], "data_written");
    assert_eq!(data[0]["model"], "net");
    assert_eq!(data[0]["examples"], 8);
    assert_eq!(data[0]["out"], "x.jsonl");

    let bench = json_notes(
        "notes_bench",
        &[
            "bench",
            "net.cdl",
            "--backend",
            "interp",
            "--steps",
            "1",
            "--warmup",
            "0",
            "--min-time",
            "0",
        ],
    );
    let start: Vec<_> = bench.iter().filter(|e| e["kind"] == "bench").collect();
    assert_eq!(start.len(), 1, "{bench:?}");
    assert_eq!(start[0]["model"], "net");
    assert_eq!(start[0]["examples"], 2);
    assert_eq!(start[0]["parameters"], 9);
    assert_eq!(start[0]["slots"], 2);
    assert_eq!(start[0]["backend"], "interp");
    assert!(bench.iter().all(|e| e["kind"].is_string()), "{bench:?}");

    let export = json_notes(
        "notes_export",
        &["net.cdl", "--emit", "jax", "--out", "m.py"],
    );
    assert_eq!(export.len(), 1, "{export:?}");
    assert_eq!(export[0]["kind"], "exported");
    assert_eq!(export[0]["module"], "m.py");
    assert_eq!(export[0]["examples"], 8);
    assert_eq!(export[0]["data"], "m.jsonl");
    assert_eq!(export[0]["weights"], "m.init.safetensors");
}

#[test]
fn data_and_the_exporter_write_plain_notes_for_people() {
    let dir = scratch("notes_text");
    std::fs::write(dir.join("net.cdl"), NET).unwrap();
    std::fs::write(dir.join("train.jsonl"), examples()).unwrap();
    let o = cdlc(&["data", "net.cdl", "--out", "x.jsonl"], &dir);
    assert_eq!(stderr(&o), "wrote 8 examples of `net` to x.jsonl\n");
    let o = cdlc(&["net.cdl", "--emit", "jax", "--out", "m.py"], &dir);
    assert_eq!(
        stderr(&o),
        "wrote m.py (with 8 examples in m.jsonl and initial weights in m.init.safetensors)\n"
    );
}
