//! Every stage's failures reach the user as coded diagnostics through one
//! printer: for each stage, one failure of the binary rendered for people
//! and as JSON lines (`--message-format json`), snapshotted with its
//! command and exit code. And no ad-hoc `error:` line can come back into
//! the command line's source.

#[macro_use]
mod common;

use common::{cdlc, scratch, stderr};
use std::path::Path;

/// A small classifier whose data file is named by the test.
const NET: &str = "import std.layers
model net = dense[2, 3]
train net {
  data  = jsonl(\"train.jsonl\")
  loss  = cross_entropy
  optim = sgd(lr = 0.1)
}
";

/// Two examples that fit `NET`.
const GOOD: &str = "{\"x\": [0.1, 0.2], \"y\": 0}\n{\"x\": [0.3, 0.4], \"y\": 1}\n";

/// Runs `args` in `dir` for people and for editors, checks that both
/// report `code` and exit alike, and returns the text to snapshot: the
/// command, the exit code, the human report and the JSON lines (every one
/// of which must parse).
#[track_caller]
fn both(dir: &Path, args: &[&str], code: &str) -> String {
    let human = cdlc(args, dir);
    let mut json_args = args.to_vec();
    json_args.extend(["--message-format", "json"]);
    let json = cdlc(&json_args, dir);
    assert_eq!(human.status.code(), json.status.code());
    assert!(!human.status.success(), "{}", stderr(&human));
    let (human_err, json_err) = (stderr(&human), stderr(&json));
    assert!(human_err.contains(&format!("[{code}] ")), "{human_err}");
    let objects: Vec<serde_json::Value> = json_err
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).expect("every JSON line parses"))
        .collect();
    assert!(
        objects.iter().any(|o| o["code"] == code),
        "no {code} in\n{json_err}"
    );
    format!(
        "----- COMMAND\ncdlc {}\n----- EXIT\n{}\n----- HUMAN (stderr)\n{human_err}----- JSON (stderr)\n{json_err}",
        args.join(" "),
        human
            .status
            .code()
            .map_or("none".to_string(), |c| c.to_string()),
    )
}

/// A fresh folder holding `files`.
fn folder(name: &str, files: &[(&str, &str)]) -> common::Scratch {
    let dir = scratch(name);
    for (file, text) in files {
        std::fs::write(dir.join(file), text).expect("a test file");
    }
    dir
}

#[test]
fn an_argument_out_of_range_is_e0613() {
    let dir = folder("steps", &[("net.cdl", NET), ("train.jsonl", GOOD)]);
    insta::assert_snapshot!(both(&dir, &["bench", "net.cdl", "--steps", "0"], "E0613"));
}

#[test]
fn an_argument_clap_refuses_is_e0613() {
    let dir = folder("flag", &[("net.cdl", NET)]);
    insta::assert_snapshot!(both(&dir, &["bench", "net.cdl", "--stepz", "3"], "E0613"));
}

#[test]
fn a_train_block_that_does_not_exist_is_e0614_at_the_first_block() {
    let dir = folder("block", &[("net.cdl", NET), ("train.jsonl", GOOD)]);
    insta::assert_snapshot!(both(
        &dir,
        &["net.cdl", "--emit", "jit", "--train", "nett"],
        "E0614"
    ));
}

#[test]
fn a_model_that_does_not_exist_is_e0615() {
    let dir = folder("entry", &[("net.cdl", NET)]);
    insta::assert_snapshot!(both(
        &dir,
        &["net.cdl", "--emit", "ir", "--entry", "nope"],
        "E0615"
    ));
}

#[test]
fn a_program_that_cannot_be_read_is_e0616() {
    let dir = folder("missing", &[]);
    insta::assert_snapshot!(both(&dir, &["missing.cdl", "--emit", "ir"], "E0616"));
}

#[test]
fn a_bad_line_of_training_data_is_e0603_with_its_line() {
    let bad = "{\"x\": [0.1, 0.2], \"y\": 0}\n{\"x\": [0.3], \"y\": 1}\n";
    let dir = folder("badline", &[("net.cdl", NET), ("train.jsonl", bad)]);
    insta::assert_snapshot!(both(&dir, &["net.cdl", "--emit", "jit"], "E0603"));
}

/// A tree whose nodes hold lists of (label, subtree) pairs: `X` nested
/// under a list and a pair.
const LABELLED: &str = "import std.layers
functor LabelledF(A) = tip(A) | node(A, List(R[2] * X))
data Labelled(A) = fix LabelledF(A)
algebra edges : ListF(R[2] * R[2]) -> R[2] {
  param s: R[2] = zeros
  nil          => s
  cons(e, acc) => let (label, c) = e in label + c + acc
}
algebra labelled : LabelledF(R[2]) -> R[2] {
  tip(a)      => a
  node(a, es) => a + fold edges (es)
}
model net(t: Labelled(R[2])) -> R[2] { fold labelled (t) }
train net {
  data  = jsonl(\"train.jsonl\")
  loss  = cross_entropy
  optim = sgd(lr = 0.1)
}
";

#[test]
fn a_bad_line_of_nested_data_is_e0603_naming_the_enclosing_type() {
    // A subtree where a (label, subtree) pair belongs: the pair's type
    // names the tree, not its recursive position.
    let bad = "{\"x\": {\"tip\": [[1, 0]]}, \"y\": 1}\n\
               {\"x\": {\"node\": [[0, 1], [{\"tip\": [[1, 0]]}]]}, \"y\": 0}\n";
    let dir = folder("nestedline", &[("net.cdl", LABELLED), ("train.jsonl", bad)]);
    let args = ["net.cdl", "--emit", "jit", "--backend", "interp"];
    let shown = both(&dir, &args, "E0603");
    assert!(shown.contains("R[2] * Labelled(R[2])"), "{shown}");
    insta::assert_snapshot!(shown);
}

#[test]
fn an_optimizer_out_of_range_is_e0604_at_the_optimizer() {
    let prog = NET.replace("sgd(lr = 0.1)", "sgd(lr = -1)");
    let dir = folder("optim", &[("net.cdl", &prog), ("train.jsonl", GOOD)]);
    insta::assert_snapshot!(both(&dir, &["net.cdl", "--emit", "jit"], "E0604"));
}

#[test]
fn a_split_that_leaves_nothing_to_train_on_is_e0609() {
    let prog = NET.replace(
        "loss  = cross_entropy",
        "loss  = cross_entropy\n  split = 0.1",
    );
    let dir = folder("split", &[("net.cdl", &prog), ("train.jsonl", GOOD)]);
    insta::assert_snapshot!(both(&dir, &["net.cdl", "--emit", "jit"], "E0609"));
}

/// A folder with `NET`, its data and the initial weights the JAX export
/// writes beside its module (they record the model and the source hash,
/// as trained weights do).
fn with_weights(name: &str) -> common::Scratch {
    let dir = folder(name, &[("net.cdl", NET), ("train.jsonl", GOOD)]);
    let o = cdlc(&["net.cdl", "--emit", "jax", "--out", "m.py"], &dir);
    assert!(o.status.success(), "{}", stderr(&o));
    dir
}

#[test]
fn a_bad_line_of_run_inputs_is_e0603_with_its_line() {
    let dir = with_weights("runinput");
    std::fs::write(
        dir.join("in.jsonl"),
        "{\"x\": [1, 2]}\n\n{\"x\": [1, 2, 3]}\n",
    )
    .unwrap();
    let args = [
        "run",
        "net.cdl",
        "--weights",
        "m.init.safetensors",
        "--input",
        "in.jsonl",
    ];
    insta::assert_snapshot!(both(&dir, &args, "E0603"));
}

#[test]
fn weights_of_another_model_are_e0607() {
    let dir = with_weights("othermodel");
    let two = format!("{NET}model other = dense[2, 3]\n");
    std::fs::write(dir.join("two.cdl"), two).unwrap();
    std::fs::write(dir.join("in.jsonl"), "{\"x\": [1, 2]}\n").unwrap();
    let run = [
        "run",
        "two.cdl",
        "--entry",
        "other",
        "--weights",
        "m.init.safetensors",
        "--input",
        "in.jsonl",
    ];
    insta::assert_snapshot!(both(&dir, &run, "E0607"));
}

/// A model that splits its input list by halves, which an empty list
/// cannot be.
const PARITY: &str = "import std.layers

model parity(xs: List(R[2])) -> R[2] {
  dense[8, 2](hylo treenn[2, 8] by halves (xs))
}

train parity {
  data = jsonl(\"h.jsonl\")
  loss = cross_entropy
}
";

#[test]
fn an_input_the_model_cannot_run_on_is_e0603_naming_the_input() {
    let data = "{\"x\": [[1, 0]], \"y\": 1}\n{\"x\": [[1, 0], [0, 1]], \"y\": 0}\n";
    let dir = folder("runinput2", &[("h.cdl", PARITY), ("h.jsonl", data)]);
    let o = cdlc(&["h.cdl", "--emit", "jax", "--out", "m.py"], &dir);
    assert!(o.status.success(), "{}", stderr(&o));
    // The empty list is the second input, on line 3 after a blank line.
    std::fs::write(dir.join("in.jsonl"), "{\"x\": [[1, 0]]}\n\n{\"x\": []}\n").unwrap();
    let args = [
        "run",
        "h.cdl",
        "--weights",
        "m.init.safetensors",
        "--input",
        "in.jsonl",
    ];
    let report = both(&dir, &args, "E0603");
    assert!(
        report.contains("the input on line 3 of in.jsonl"),
        "{report}"
    );
    insta::assert_snapshot!(report);
}

/// A fold whose carrier is a list (each node's result a computed
/// sequence), which instantiation does not lower yet.
const STREAMS: &str = "import std.layers

algebra streams[h] : ListF(R[2]) -> List(R[h]) {
  param s0: R[h] = normal(0.1)
  nil => unfold emit[h, h] from s0 take 3
  cons(x, s) => s
}

model m(xs: List(R[2])) -> List(R[4]) { fold streams[4] (xs) }
";

#[test]
fn a_construct_not_lowered_yet_is_e0617_at_the_construct() {
    let dir = folder("streams", &[("streams.cdl", STREAMS)]);
    insta::assert_snapshot!(both(&dir, &["streams.cdl", "--emit", "ir"], "E0617"));
}

/// A nested field whose structure's own nested field holds the enclosing
/// fold's children too (`Stem(X)` with `stem(Tree(A * X))`), which the
/// JIT does not compile.
const FALLBACK: &str = fallback_program!(
    "
train m {
  data   = jsonl(\"fallback.jsonl\")
  loss   = cross_entropy
}
"
);

/// Five small bushes: lone tips, a stem that stops, stems whose trees
/// hold one (bush, stem) pair and two.
const FALLBACK_DATA: &str = r#"{"x": {"tip": [[1, 2]]}, "y": 0}
{"x": {"node": [[0, 1], {"stop": [{"tip": [[1, 0]]}]}]}, "y": 1}
{"x": {"node": [[2, 1], {"stem": [{"leaf": [[{"tip": [[0, 1]]}, {"stop": [{"tip": [[1, 1]]}]}]]}]}]}, "y": 1}
{"x": {"tip": [[1, 1]]}, "y": 0}
{"x": {"node": [[0, 0], {"stem": [{"node": [{"leaf": [[{"tip": [[1, 0]]}, {"stop": [{"tip": [[0, 1]]}]}]]}, {"leaf": [[{"tip": [[2, 1]]}, {"stem": [{"leaf": [[{"tip": [[1, 1]]}, {"stop": [{"tip": [[2, 2]]}]}]]}]}]]}]}]}]}, "y": 0}
"#;

#[test]
fn a_model_the_jit_does_not_compile_is_e0617_where_the_jit_is_needed() {
    let dir = folder(
        "clif",
        &[
            ("fallback.cdl", FALLBACK),
            ("fallback.jsonl", FALLBACK_DATA),
        ],
    );
    insta::assert_snapshot!(both(&dir, &["fallback.cdl", "--emit", "clif"], "E0617"));
}

#[test]
fn the_interpreter_fallback_is_w0901_in_both_formats() {
    let dir = folder(
        "fallback",
        &[
            ("fallback.cdl", FALLBACK),
            ("fallback.jsonl", FALLBACK_DATA),
        ],
    );
    // No epoch runs: the warning is printed when the trainer is built, and
    // nothing after it depends on the clock.
    let args = ["fallback.cdl", "--emit", "jit", "--epochs", "0"];
    let human = cdlc(&args, &dir);
    let json = cdlc(&[&args[..], &["--message-format", "json"]].concat(), &dir);
    assert!(human.status.success() && json.status.success());
    let line = stderr(&json)
        .lines()
        .find(|l| l.starts_with('{'))
        .expect("the warning as a JSON line")
        .to_string();
    let v: serde_json::Value = serde_json::from_str(&line).expect("a JSON object");
    assert_eq!(
        (v["code"].as_str(), v["severity"].as_str()),
        (Some("W0901"), Some("warning"))
    );
    insta::assert_snapshot!(format!(
        "----- HUMAN (stderr)\n{}----- JSON (stderr)\n{}",
        stderr(&human),
        stderr(&json)
    ));
}

/// The program the JIT leaves to the interpreter trains there, with
/// gradients that agree with finite differences: the W0901 note's "the
/// same results" holds for it (the stem's tree, whose leaves hold a bush
/// child beside a stem child, is walked to both folds' children).
#[test]
fn the_program_that_falls_back_trains_on_the_interpreter_and_its_gradients_check() {
    let dir = folder(
        "fallback_trains",
        &[
            ("fallback.cdl", FALLBACK),
            ("fallback.jsonl", FALLBACK_DATA),
        ],
    );
    let train = cdlc(&["fallback.cdl", "--emit", "jit", "--epochs", "2"], &dir);
    let err = stderr(&train);
    assert!(train.status.success(), "{err}");
    assert!(
        err.contains("W0901") && err.contains("epoch   2/2"),
        "{err}"
    );
    let grad = cdlc(&["gradcheck", "fallback.cdl"], &dir);
    assert!(
        grad.status.success(),
        "{}{}",
        String::from_utf8_lossy(&grad.stdout),
        stderr(&grad)
    );
}

#[test]
fn a_gradient_check_on_the_jit_of_a_model_it_does_not_compile_is_e0617() {
    let dir = folder(
        "gradjit",
        &[
            ("fallback.cdl", FALLBACK),
            ("fallback.jsonl", FALLBACK_DATA),
        ],
    );
    let args = ["gradcheck", "fallback.cdl", "--backend", "jit"];
    insta::assert_snapshot!(both(&dir, &args, "E0617"));
}

#[test]
fn an_output_that_cannot_be_written_is_e0616() {
    let dir = folder("nowrite", &[("net.cdl", NET), ("train.jsonl", GOOD)]);
    let args = ["data", "net.cdl", "--out", "no/such/folder/x.jsonl"];
    insta::assert_snapshot!(both(&dir, &args, "E0616"));
}

/// The lines of `text` that print an ad-hoc error message: a print macro
/// whose text starts with `error` (spaces ignored).
fn ad_hoc_errors(text: &str) -> Vec<(usize, String)> {
    let macros = ["eprintln!(", "eprint!(", "println!(", "print!("];
    text.lines()
        .enumerate()
        .filter(|(_, line)| {
            let squeezed = line.replace(' ', "");
            macros
                .iter()
                .any(|m| squeezed.contains(&format!("{m}\"error")))
        })
        .map(|(i, line)| (i + 1, line.trim().to_string()))
        .collect()
}

#[test]
fn the_source_scan_finds_an_ad_hoc_error_line() {
    let sample = ["fn f() {\n    eprintln!(", "\"error: {m}\");\n}\n"].concat();
    assert_eq!(ad_hoc_errors(&sample).len(), 1);
    let clean = "fn f() {\n    report::fail(d, &sources, 1);\n}\n";
    assert!(ad_hoc_errors(clean).is_empty());
}

#[test]
fn no_ad_hoc_error_line_is_left_in_the_command_line() {
    // Every failure goes through `driver::report`; a message printed with
    // `eprintln!("error…` would bypass the codes and `--message-format`.
    let mut offenders = Vec::new();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut stack = vec![src];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("the source folder") {
            let path = entry.expect("a folder entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("a source file");
                for (line, code) in ad_hoc_errors(&text) {
                    offenders.push(format!("{}:{line}: {code}", path.display()));
                }
            }
        }
    }
    assert!(offenders.is_empty(), "{}", offenders.join("\n"));
}

/// The diagnostic codes written as string literals in `text` (`"E0603"`).
fn codes_in(text: &str) -> Vec<String> {
    let bytes = text.as_bytes();
    (0..bytes.len().saturating_sub(6))
        .filter(|&i| {
            bytes[i] == b'"'
                && matches!(bytes[i + 1], b'E' | b'W')
                && bytes[i + 2..i + 6].iter().all(u8::is_ascii_digit)
                && bytes.get(i + 6) == Some(&b'"')
        })
        .map(|i| text[i + 1..i + 6].to_string())
        .collect()
}

/// Every `.rs` file under `dir`.
fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a source folder") {
        let path = entry.expect("a folder entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_code_the_sources_report_is_documented() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let docs = std::fs::read_to_string(root.join("docs/errors.md")).expect("docs/errors.md");
    let mut files = Vec::new();
    for crate_dir in ["cli/src", "compiler/src", "runtime/src", "jit/src"] {
        sources(&root.join(crate_dir), &mut files);
    }
    let mut missing: Vec<String> = files
        .iter()
        .flat_map(|f| codes_in(&std::fs::read_to_string(f).expect("a source file")))
        .filter(|code| !docs.contains(&format!("### {code}:")))
        .collect();
    missing.sort();
    missing.dedup();
    assert!(missing.is_empty(), "not in docs/errors.md: {missing:?}");
    assert_eq!(
        codes_in("d(\"E0616\", x) \"W0901\" \"E061\""),
        ["E0616", "W0901"]
    );
}

#[test]
fn an_unusable_thread_variable_is_e0613_not_ignored() {
    let dir = folder(
        "threads-variable",
        &[("net.cdl", NET), ("train.jsonl", GOOD)],
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cdlc"))
        .args(["bench", "net.cdl", "--steps", "1"])
        .env("CDLC_THREADS", "two")
        .current_dir(&dir)
        .output()
        .expect("the binary runs");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("[E0613]") && err.contains("CDLC_THREADS") && err.contains("`two`"),
        "{err}"
    );
}

/// The diagnostics of a report, without what else standard error holds
/// (progress lines, which name the backend): the human report from the
/// first coded error on, or the JSON lines of errors.
fn diagnostics_only(report: &str) -> String {
    if let Some(i) = report.find("----- JSON") {
        let (human, json) = report.split_at(i);
        let start = human.find("[E0").unwrap_or(human.len());
        let errors: Vec<&str> = json
            .lines()
            .filter(|l| l.contains("\"severity\":\"error\""))
            .collect();
        return format!("{}{}", &human[start..], errors.join("\n"));
    }
    report.to_string()
}

/// `both` for a training command on the JIT and on the interpreter: the
/// two must report the same diagnostics. Returns the JIT's report.
#[track_caller]
fn on_both_backends(dir: &Path, args: &[&str], code: &str) -> String {
    let jit = both(dir, &[args, &["--backend", "jit"]].concat(), code);
    let interp = both(dir, &[args, &["--backend", "interp"]].concat(), code);
    assert_eq!(diagnostics_only(&jit), diagnostics_only(&interp));
    jit
}

/// `PARITY`'s data with an empty list as example 2, on line 5: blank lines
/// make a line of the file and an index in the data differ.
const PARITY_DATA: &str = "{\"x\": [[1, 0]], \"y\": 1}\n\n{\"x\": [[1, 0], [0, 1]], \"y\": 0}\n\n{\"x\": [], \"y\": 0}\n{\"x\": [[0, 1]], \"y\": 1}\n";

#[test]
fn an_empty_list_split_by_halves_in_training_is_e0603_naming_its_line_on_both_backends() {
    let dir = folder("halves", &[("h.cdl", PARITY), ("h.jsonl", PARITY_DATA)]);
    let args = ["h.cdl", "--emit", "jit", "--out", "o"];
    let report = on_both_backends(&dir, &args, "E0603");
    assert!(
        report.contains("the example on line 5 of h.jsonl"),
        "{report}"
    );
    insta::assert_snapshot!(report);
    assert!(
        !dir.join("o/current/weights.safetensors").exists(),
        "no weights are written"
    );
}

/// `PARITY` split in two, on data whose empty list is example 5 of 8 but on
/// line 8 of the file: shuffled into one side or the other, it is still
/// named by its line.
#[test]
fn a_refused_example_after_a_split_is_named_by_its_line_on_both_backends() {
    let program = PARITY.replace(
        "loss = cross_entropy",
        "loss = cross_entropy\n  split = 0.5\n  batch = 2",
    );
    let good = "{\"x\": [[1, 0]], \"y\": 1}\n";
    let data = [
        good,
        "\n",
        good,
        good,
        "\n",
        good,
        good,
        "{\"x\": [], \"y\": 0}\n",
        good,
        good,
    ]
    .concat();
    let dir = folder("splitline", &[("h.cdl", &program), ("h.jsonl", &data)]);
    let args = ["h.cdl", "--emit", "jit", "--out", "o"];
    let report = on_both_backends(&dir, &args, "E0603");
    assert!(
        report.contains("the example on line 8 of h.jsonl"),
        "{report}"
    );
    insta::assert_snapshot!(report);
}

/// `both`, with the test's folder (which `--data` makes part of a path in
/// the messages) written `DIR`.
#[track_caller]
fn both_in(dir: &Path, args: &[&str], code: &str) -> String {
    let mut report = both(dir, args, code);
    for d in [dir.to_path_buf(), dir.canonicalize().expect("the folder")] {
        report = report.replace(&d.display().to_string(), "DIR");
    }
    report
}

#[test]
fn cdlc_grad_names_a_refused_example_by_its_line_on_both_backends() {
    let dir = folder("gradline", &[("h.cdl", PARITY), ("h.jsonl", PARITY_DATA)]);
    let args = [
        "grad",
        "h.cdl",
        "--data",
        "h.jsonl",
        "--out",
        "g.safetensors",
    ];
    let jit = both_in(&dir, &[&args[..], &["--backend", "jit"]].concat(), "E0603");
    let interp = both_in(
        &dir,
        &[&args[..], &["--backend", "interp"]].concat(),
        "E0603",
    );
    assert_eq!(diagnostics_only(&jit), diagnostics_only(&interp));
    assert!(
        jit.contains("the example on line 5 of DIR/h.jsonl"),
        "{jit}"
    );
    insta::assert_snapshot!(jit);
}

#[test]
fn cdlc_bench_names_a_refused_example_by_its_line_on_both_backends() {
    let dir = folder("benchline", &[("h.cdl", PARITY), ("h.jsonl", PARITY_DATA)]);
    let args = [
        "bench",
        "h.cdl",
        "--steps",
        "1",
        "--warmup",
        "0",
        "--min-time",
        "0",
    ];
    let report = on_both_backends(&dir, &args, "E0603");
    assert!(
        report.contains("the example on line 5 of h.jsonl"),
        "{report}"
    );
    insta::assert_snapshot!(report);
}

/// A stream of `take 3` outputs scored position by position.
const STREAM: &str = "import std.layers

model stream(z: R[2]) -> List(R[3]) {
  unfold emit[3, 4] from tanh(dense[2, 4](z)) take 3
}

train stream {
  data = jsonl(\"s.jsonl\")
  loss = cross_entropy
}
";

#[test]
fn targets_of_another_length_than_the_take_are_e0603_with_both_lengths_on_both_backends() {
    let data = "{\"x\": [1, 0], \"y\": [0, 1, 2]}\n{\"x\": [0, 1], \"y\": [2, 1, 0]}\n{\"x\": [1, 1], \"y\": [1, 1, 1]}\n{\"x\": [0, 0], \"y\": [2, 1]}\n{\"x\": [1, 0], \"y\": [0, 0, 0]}\n";
    let dir = folder("take", &[("s.cdl", STREAM), ("s.jsonl", data)]);
    let args = ["s.cdl", "--emit", "jit", "--out", "o"];
    insta::assert_snapshot!(on_both_backends(&dir, &args, "E0603"));
}

#[test]
fn a_csv_row_with_another_number_of_fields_is_e0603_with_its_line_on_both_backends() {
    let program = "import std.layers
model net = dense[2, 3]
train net {
  data = csv(\"d.csv\", label = \"y\")
  loss = cross_entropy
}
";
    let data = "a,b,y\n0.1,0.2,0\n0.3,0.4,0.5,1\n";
    let dir = folder("csvrow", &[("net.cdl", program), ("d.csv", data)]);
    let args = ["net.cdl", "--emit", "jit", "--out", "o"];
    insta::assert_snapshot!(on_both_backends(&dir, &args, "E0603"));
}
