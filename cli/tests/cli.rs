//! The `cdlc` command line end to end: exit codes, JSON diagnostics,
//! training output files, running trained weights, refusing bad data and
//! foreign weights, gradient checks, rose trees on the interpreter, two
//! threads.
//!
//! These run the built binary on small programs in a fresh temporary folder
//! each; every run is seeded, so results are exact.

use std::process::{Command, Output};

#[macro_use]
mod common;
use common::{cdlc, scratch, stderr, stdout};

const SPIRALS: &str = "import std.layers

model spiral = dense[2, 16] >> relu >> dense[16, 3]

train spiral {
  data   = synthetic.spirals(classes = 3, samples = 300)
  loss   = cross_entropy
  optim  = adam(lr = 0.01)
  epochs = 3
  batch  = 32
  seed   = 5
}
";

#[test]
fn check_exit_codes_and_json() {
    let dir = scratch("check");
    std::fs::write(dir.join("ok.cdl"), SPIRALS).unwrap();
    std::fs::write(
        dir.join("bad.cdl"),
        "layer f(x: R[3]) -> R[4] {\n  relu(x)\n}\n",
    )
    .unwrap();
    assert_eq!(cdlc(&["check", "ok.cdl"], &dir).status.code(), Some(0));
    let bad = cdlc(&["check", "--message-format", "json", "bad.cdl"], &dir);
    assert_eq!(bad.status.code(), Some(1));
    let line = stdout(&bad);
    let v: serde_json::Value =
        serde_json::from_str(line.lines().next().expect("one diagnostic")).unwrap();
    assert_eq!(v["code"], "E0301");
    assert_eq!(v["severity"], "error");
    assert_eq!(v["line"], 2);
    assert_eq!(v["column"], 3);
    assert_eq!(v["file"], "bad.cdl");
    for field in ["message", "end_line", "end_column", "labels", "help"] {
        assert!(v.get(field).is_some(), "missing {field}: {v}");
    }
    assert_eq!(cdlc(&["check"], &dir).status.code(), Some(2));
    assert_eq!(cdlc(&["check", "missing.cdl"], &dir).status.code(), Some(2));
}

#[test]
fn training_writes_metrics_weights_and_plot_and_run_uses_them() {
    let dir = scratch("train");
    std::fs::write(dir.join("spiral.cdl"), SPIRALS).unwrap();
    let t = cdlc(&["spiral.cdl", "--emit", "jit", "--out", "run1"], &dir);
    assert!(t.status.success(), "{}", stderr(&t));
    let metrics = std::fs::read_to_string(dir.join("run1/metrics.csv")).unwrap();
    let mut lines = metrics.lines();
    assert_eq!(lines.next(), Some("epoch,train_loss,val_loss,val_accuracy"));
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 3);
    let svg = std::fs::read_to_string(dir.join("run1/loss.svg")).unwrap();
    assert!(
        svg.starts_with("<svg") || svg.starts_with("<?xml"),
        "{}",
        &svg[..40.min(svg.len())]
    );
    assert!(dir.join("run1/weights.safetensors").exists());
    // No temporary files are left behind: the three files are links into
    // `current`, the one epoch folder.
    let mut names: Vec<String> = std::fs::read_dir(dir.join("run1"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 5, "{names:?}");
    assert!(names[0].starts_with(".epoch-3-"), "{names:?}");
    assert_eq!(
        names[1..],
        ["current", "loss.svg", "metrics.csv", "weights.safetensors"]
    );

    // The same seed gives the same metrics.
    let t2 = cdlc(&["spiral.cdl", "--emit", "jit", "--out", "run2"], &dir);
    assert!(t2.status.success());
    assert_eq!(
        metrics,
        std::fs::read_to_string(dir.join("run2/metrics.csv")).unwrap()
    );

    std::fs::write(
        dir.join("in.jsonl"),
        "{\"x\": [0.1, 0.2]}\n{\"x\": [-0.5, 0.9]}\n",
    )
    .unwrap();
    let r = cdlc(
        &[
            "run",
            "spiral.cdl",
            "--weights",
            "run1/weights.safetensors",
            "--input",
            "in.jsonl",
        ],
        &dir,
    );
    assert!(r.status.success(), "{}", stderr(&r));
    let outs: Vec<serde_json::Value> = stdout(&r)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(outs.len(), 2);
    assert_eq!(outs[0].as_array().map(|a| a.len()), Some(3));

    // Weights trained from another source are refused.
    std::fs::write(
        dir.join("other.cdl"),
        SPIRALS.replace("seed   = 5", "seed   = 6"),
    )
    .unwrap();
    let refused = cdlc(
        &[
            "run",
            "other.cdl",
            "--weights",
            "run1/weights.safetensors",
            "--input",
            "in.jsonl",
        ],
        &dir,
    );
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains("different version"),
        "{}",
        stderr(&refused)
    );
}

#[test]
fn bad_data_is_refused_before_training_with_its_line() {
    let dir = scratch("data");
    let prog = "import std.layers\n\nmodel net = dense[2, 3]\n\ntrain net {\n  data = jsonl(\"train.jsonl\")\n  loss = cross_entropy\n  epochs = 1\n}\n";
    std::fs::write(dir.join("net.cdl"), prog).unwrap();
    std::fs::write(
        dir.join("train.jsonl"),
        "{\"x\": [1, 2], \"y\": 0}\n{\"x\": [1, 2, 3], \"y\": 1}\n",
    )
    .unwrap();
    let t = cdlc(&["net.cdl", "--emit", "jit", "--out", "o"], &dir);
    assert_eq!(t.status.code(), Some(1));
    let err = stderr(&t);
    assert!(err.contains("E0603"), "{err}");
    assert!(err.contains("line 2"), "{err}");
    assert!(!dir.join("o").exists(), "nothing may be written");
}

#[test]
fn gradcheck_passes_on_a_fold_with_both_backends() {
    let dir = scratch("grad");
    let prog = "import std.layers\n\nmodel m(xs: List(R[2])) -> R[3] {\n  dense[4, 3](fold elman[2, 4] (xs))\n}\n";
    std::fs::write(dir.join("m.cdl"), prog).unwrap();
    for backend in ["interp", "jit"] {
        let g = cdlc(&["gradcheck", "m.cdl", "--backend", backend], &dir);
        assert!(
            g.status.success(),
            "{backend}: {}{}",
            stdout(&g),
            stderr(&g)
        );
        assert!(stdout(&g).contains("max relative error"), "{}", stdout(&g));
    }
}

/// A rose-tree model: each node's case folds its children's states with an
/// Elman cell of its own.
const ROSE: &str = rose_program!(
    "
train m {
  data   = jsonl(\"trees.jsonl\")
  loss   = cross_entropy
  optim  = adam(lr = 0.01)
  epochs = 2
  batch  = 4
  seed   = 3
}
"
);

/// Twelve rose trees of different shapes as JSON lines; the class is the
/// parity of the number of nodes.
fn rose_jsonl() -> String {
    fn tree(i: usize, depth: usize, nodes: &mut usize) -> String {
        *nodes += 1;
        let k = *nodes as f64 + i as f64;
        let kids: Vec<String> = (0..(i + depth) % 3)
            .filter(|_| depth < 3)
            .map(|_| tree(i, depth + 1, nodes))
            .collect();
        format!(
            "{{\"rose\": [[{:.3}, {:.3}], [{}]]}}",
            k.sin(),
            k.cos(),
            kids.join(", ")
        )
    }
    (0..12)
        .map(|i| {
            let mut nodes = 0;
            let x = tree(i, 0, &mut nodes);
            format!("{{\"x\": {x}, \"y\": {}}}\n", nodes % 2)
        })
        .collect()
}

#[test]
fn rose_trees_get_ir_gradcheck_and_train_on_the_jit() {
    let dir = scratch("rose");
    std::fs::write(dir.join("rose.cdl"), ROSE).unwrap();
    std::fs::write(dir.join("trees.jsonl"), rose_jsonl()).unwrap();
    let ir = cdlc(&["rose.cdl", "--emit", "ir"], &dir);
    assert!(ir.status.success(), "{}", stderr(&ir));
    let text = stdout(&ir);
    assert!(
        text.contains("rose(") && text.contains("Seq(R[4])"),
        "{text}"
    );

    for args in [
        &["gradcheck", "rose.cdl"][..],
        &["gradcheck", "rose.cdl", "--backend", "interp"],
    ] {
        let g = cdlc(args, &dir);
        assert!(g.status.success(), "{}{}", stdout(&g), stderr(&g));
        assert!(stdout(&g).contains("cell.elman.W"), "{}", stdout(&g));
    }

    // The JIT compiles rose trees: training runs on it, without W0901, and
    // the interpreter runs when asked for.
    let t = cdlc(&["rose.cdl", "--emit", "jit", "--out", "run"], &dir);
    assert!(t.status.success(), "{}", stderr(&t));
    let err = stderr(&t);
    assert!(!err.contains("W0901"), "{err}");
    assert!(
        err.contains("training `m` (") && !err.contains("training `m` (interpreter)"),
        "{err}"
    );
    let i = cdlc(
        &[
            "rose.cdl",
            "--emit",
            "jit",
            "--out",
            "run_i",
            "--backend",
            "interp",
        ],
        &dir,
    );
    assert!(i.status.success(), "{}", stderr(&i));
    assert!(
        stderr(&i).contains("training `m` (interpreter)"),
        "{}",
        stderr(&i)
    );
    let metrics = std::fs::read_to_string(dir.join("run/metrics.csv")).unwrap();
    assert_eq!(metrics.lines().count(), 3, "{metrics}");
    let r = cdlc(
        &[
            "run",
            "rose.cdl",
            "--weights",
            "run/weights.safetensors",
            "--input",
            "trees.jsonl",
        ],
        &dir,
    );
    assert!(r.status.success(), "{}", stderr(&r));
    assert_eq!(stdout(&r).lines().count(), 12);
}

#[test]
fn a_construct_not_lowered_yet_is_a_clear_error_not_a_panic() {
    let dir = scratch("treeofkids");
    // Checks clean, then `--emit ir` fails with a located "not supported
    // yet" at `at`, without a panic.
    let not_lowered = |file: &str, prog: &str, at: &str| {
        std::fs::write(dir.join(file), prog).unwrap();
        assert_eq!(cdlc(&["check", file], &dir).status.code(), Some(0));
        let ir = cdlc(&[file, "--emit", "ir"], &dir);
        assert_eq!(ir.status.code(), Some(1));
        let err = stderr(&ir);
        assert!(
            err.contains("not supported yet") && err.contains(&format!("{file}:{at}:")),
            "{err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    };
    // `X` under a data type other than a list of children (here a tree of
    // children) is lowered: the field is a nested one.
    std::fs::write(
        dir.join("kids.cdl"),
        "functor KidsF(A) = kids(A, Tree(X))\ndata Kids(A) = fix KidsF(A)\n\nalgebra first : KidsF(R[2]) -> R[2] {\n  kids(a, ks) => a\n}\n\nmodel m(t: Kids(R[2])) -> R[2] { fold first (t) }\n",
    )
    .unwrap();
    let ir = cdlc(&["kids.cdl", "--emit", "ir"], &dir);
    assert!(ir.status.success(), "{}", stderr(&ir));
    assert!(
        stdout(&ir).contains("kids(R[2], nested {Tree(X) = leaf(X1) | node(X, X)})"),
        "{}",
        stdout(&ir)
    );
    // A fold whose carrier is a list (each node's result a computed
    // sequence) is not lowered yet; it panicked in the IR builder.
    not_lowered(
        "streams.cdl",
        "import std.layers\n\nalgebra streams[h] : ListF(R[2]) -> List(R[h]) {\n  param s0: R[h] = normal(0.1)\n  nil => unfold emit[h, h] from s0 take 3\n  cons(x, s) => s\n}\n\nmodel m(xs: List(R[2])) -> List(R[4]) { fold streams[4] (xs) }\n",
        "9",
    );
    // A hylomorphism by halves over a rose node's children is lowered: a
    // fold split by halves over the children's `Seq`.
    std::fs::write(
        dir.join("halves.cdl"),
        "import std.layers\nfunctor RoseF(A) = rose(A, List(X))\ndata Rose(A) = fix RoseF(A)\n\nalgebra cell[d, h] : RoseF(R[d]) -> R[h] {\n  param U: R[h, d] = glorot\n  rose(a, ks) => tanh(U @ a + hylo treenn[h, h] by halves (ks))\n}\n\nmodel m(t: Rose(R[2])) -> R[3] { fold cell[2, 3] (t) }\n",
    )
    .unwrap();
    let ir = cdlc(&["halves.cdl", "--emit", "ir"], &dir);
    assert!(ir.status.success(), "{}", stderr(&ir));
    assert!(stdout(&ir).contains("hylo_halves"), "{}", stdout(&ir));
}

/// A message of the language server protocol, framed.
fn frame(body: &serde_json::Value) -> Vec<u8> {
    let text = body.to_string();
    format!("Content-Length: {}\r\n\r\n{text}", text.len()).into_bytes()
}

#[test]
fn language_server_publishes_diagnostics_hovers_and_finds_definitions() {
    use std::io::Write;
    let uri = "file:///project/m.cdl";
    let broken =
        "import std.layers\n\n/// Doc of m.\nmodel m(x: R[4]) -> R[2] {\n  dens[4, 2](x)\n}\n";
    let fixed = "import std.layers\n\n/// Doc of m.\nmodel m(x: R[4]) -> R[2] {\n  dense[4, 2](x)\n}\nmodel n(x: R[4]) -> R[2] { m(x) }\n";
    let messages = [
        serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}}),
        serde_json::json!({"jsonrpc": "2.0", "method": "initialized", "params": {}}),
        serde_json::json!({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {"uri": uri, "languageId": "cdl", "version": 1, "text": broken}}}),
        serde_json::json!({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": fixed}]}}),
        serde_json::json!({"jsonrpc": "2.0", "id": 2, "method": "textDocument/hover", "params": {"textDocument": {"uri": uri}, "position": {"line": 4, "character": 4}}}),
        serde_json::json!({"jsonrpc": "2.0", "id": 3, "method": "textDocument/definition", "params": {"textDocument": {"uri": uri}, "position": {"line": 6, "character": 28}}}),
        serde_json::json!({"jsonrpc": "2.0", "id": 4, "method": "shutdown"}),
        serde_json::json!({"jsonrpc": "2.0", "method": "exit"}),
    ];
    let mut child = Command::new(env!("CARGO_BIN_EXE_cdlc"))
        .arg("lsp")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("the server starts");
    let mut stdin = child.stdin.take().expect("piped");
    for m in &messages {
        stdin.write_all(&frame(m)).unwrap();
    }
    drop(stdin);
    let out = child.wait_with_output().expect("the server exits");
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let bodies: Vec<serde_json::Value> = text
        .split("Content-Length: ")
        .filter_map(|chunk| chunk.split_once("\r\n\r\n"))
        .map(|(_, body)| serde_json::from_str(body).expect("a JSON body"))
        .collect();
    let published: Vec<&serde_json::Value> = bodies
        .iter()
        .filter(|b| b["method"] == "textDocument/publishDiagnostics")
        .collect();
    assert_eq!(published.len(), 2, "{bodies:#?}");
    let first = &published[0]["params"]["diagnostics"][0];
    assert_eq!(first["code"], "E0201");
    assert_eq!(first["range"]["start"]["line"], 4);
    assert!(
        first["message"]
            .as_str()
            .unwrap()
            .contains("did you mean `dense`?")
    );
    assert_eq!(
        published[1]["params"]["diagnostics"]
            .as_array()
            .map(Vec::len),
        Some(0)
    );
    let hover = bodies
        .iter()
        .find(|b| b["id"] == 2)
        .expect("a hover answer");
    let shown = hover["result"]["contents"]["value"].as_str().unwrap();
    assert!(
        shown.contains("layer dense[n, m] : R[n] -> R[m]"),
        "{shown}"
    );
    assert!(shown.contains("A fully connected layer"), "{shown}");
    let definition = bodies
        .iter()
        .find(|b| b["id"] == 3)
        .expect("a definition answer");
    assert_eq!(definition["result"]["uri"], uri);
    assert_eq!(definition["result"]["range"]["start"]["line"], 3);
}

/// `--threads 2` and `--threads auto` are accepted by every command and
/// split large products between two threads without changing a single
/// digit: the halves sum in the same order as one product. Under `auto`
/// the run is long enough for one whole measurement (two warm-up steps and
/// six a arm: `--steps 13` after the first step), whose steps split
/// every large product in half of the steps whichever choice wins; the
/// report names each kind's choice, and a forced N is kept for every kind.
#[test]
fn two_threads_and_auto_give_the_same_numbers() {
    let dir = scratch("threads");
    std::fs::write(
        dir.join("wide.cdl"),
        "import std.layers\n\nmodel wide = dense[512, 256] >> relu >> dense[256, 4]\n\n\
         train wide {\n  data   = jsonl(\"wide.jsonl\")\n  loss   = cross_entropy\n  \
         optim  = sgd(lr = 0.1)\n  epochs = 1\n  batch  = 32\n  split  = 1.0\n}\n",
    )
    .unwrap();
    // 32 examples of 512 numbers: [32, 512] x [512, 256] is past the
    // split, and its B is too large for the AVX-512 kernel while each half
    // of its columns is not (the halves must keep the whole's kernel).
    let lines: Vec<String> = (0..32)
        .map(|i| {
            let x: Vec<String> = (0..512)
                .map(|j| format!("{:.3}", ((i * 512 + j) as f64 * 0.37).sin()))
                .collect();
            format!("{{\"x\": [{}], \"y\": {}}}", x.join(", "), i % 4)
        })
        .collect();
    std::fs::write(dir.join("wide.jsonl"), lines.join("\n") + "\n").unwrap();
    let run = |threads: &str| {
        let out = cdlc(
            &[
                "bench",
                "wide.cdl",
                "--threads",
                threads,
                "--steps",
                "13",
                "--warmup",
                "0",
                "--min-time",
                "0",
            ],
            &dir,
        );
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let text = stdout(&out);
        let get = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("{key}: ")))
                .unwrap_or_else(|| panic!("no `{key}` in\n{text}"))
                .to_string()
        };
        let kinds = ["products", "elementwise", "rows"].map(|k| get(&format!("threads_{k}")));
        assert_eq!(get("threads"), threads);
        (
            (get("first_loss"), get("last_loss")),
            kinds,
            get("threads_measurements"),
        )
    };
    let (one, two, auto) = (run("1"), run("2"), run("auto"));
    assert_eq!(one.0, two.0);
    assert_eq!(one.0, auto.0);
    assert_eq!(one.1, ["1", "1", "1"].map(String::from));
    assert_eq!(two.1, ["2", "2", "2"].map(String::from));
    assert!(auto.1.iter().all(|k| k == "1" || k == "2"), "{:?}", auto.1);
    assert_eq!((one.2.as_str(), two.2.as_str()), ("0", "0"));
    // With one processor `auto` never starts a second thread.
    let processors = std::thread::available_parallelism().map_or(1, |n| n.get());
    let measured = if processors >= 2 { "1" } else { "0" };
    assert_eq!(auto.2, measured, "one measurement in 14 steps");
}

/// A thread count that is neither `auto` nor a positive number is refused
/// before anything runs.
#[test]
fn a_bad_thread_count_is_refused() {
    let dir = scratch("bad_threads");
    let out = cdlc(&["check", "missing.cdl", "--threads", "0"], &dir);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("expected `auto` or a number of threads of at least 1, found `0`"),
        "{}",
        stderr(&out)
    );
}

/// `cdlc bench` counts the multiply-adds of the products one step runs:
/// for `dense[12, 8] >> relu >> dense[8, 3]` on 5 examples, the forward
/// products `5·12·8` and `5·8·3`, the weight gradients `8·5·12` and `3·5·8`
/// and the hidden layer's cotangent `5·3·8` (the input's is not formed),
/// and reports them per median step as GFLOP/s.
#[test]
fn bench_counts_the_multiply_adds_of_a_step() {
    let dir = scratch("bench_madds");
    std::fs::write(
        dir.join("small.cdl"),
        "import std.layers\n\nmodel small = dense[12, 8] >> relu >> dense[8, 3]\n\n\
         train small {\n  data   = jsonl(\"small.jsonl\")\n  loss   = cross_entropy\n  \
         optim  = sgd(lr = 0.1)\n  epochs = 1\n  batch  = 5\n  split  = 1.0\n}\n",
    )
    .unwrap();
    let lines: Vec<String> = (0..5)
        .map(|i| {
            let x: Vec<String> = (0..12)
                .map(|j| format!("{:.3}", ((i * 12 + j) as f64 * 0.41).cos()))
                .collect();
            format!("{{\"x\": [{}], \"y\": {}}}", x.join(", "), i % 3)
        })
        .collect();
    std::fs::write(dir.join("small.jsonl"), lines.join("\n") + "\n").unwrap();
    let args = [
        "bench",
        "small.cdl",
        "--steps",
        "3",
        "--warmup",
        "0",
        "--min-time",
        "0",
    ];
    let out = cdlc(&args, &dir);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let get = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}: ")))
            .unwrap_or_else(|| panic!("no `{key}` in\n{text}"))
            .to_string()
    };
    let madds = 2 * 5 * 12 * 8 + 3 * 5 * 8 * 3;
    assert_eq!(get("product_madds"), madds.to_string());
    let step_s: f64 = get("step_us").parse::<f64>().unwrap() * 1e-6;
    let gflops: f64 = get("gflops").parse().unwrap();
    let expected = 2.0 * madds as f64 / step_s * 1e-9;
    assert!(
        (gflops - expected).abs() <= 0.01 + 1e-3 * expected,
        "{gflops} against {expected}"
    );
}

/// The `N of M entries compared` counts of a gradcheck report, per slot.
fn compared_counts(report: &str) -> Vec<(usize, usize)> {
    report
        .lines()
        .filter_map(|l| {
            let counts = l.split_once('(')?.1;
            let (compared, rest) = counts.split_once(" of ")?;
            let total = rest.split_once(' ')?.0;
            Some((compared.parse().ok()?, total.parse().ok()?))
        })
        .collect()
}

#[test]
fn gradcheck_of_a_single_output_without_a_train_block_compares_a_nonzero_gradient() {
    // Cross-entropy over one logit is constant, with a zero gradient; the
    // default loss for an `R[1]` output is mean squared error, and a zero
    // gradient would fail the check.
    let dir = scratch("grad-r1");
    let prog = "import std.layers\n\nmodel m = dense[3, 4] >> tanh >> dense[4, 1]\n";
    std::fs::write(dir.join("m.cdl"), prog).unwrap();
    let g = cdlc(&["gradcheck", "m.cdl"], &dir);
    let out = stdout(&g);
    assert!(g.status.success(), "{out}{}", stderr(&g));
    assert_eq!(
        compared_counts(&out),
        vec![(12, 12), (4, 4), (4, 4), (1, 1)]
    );
    assert!(!out.contains("FAILED"), "{out}");
}

#[test]
fn gradcheck_fails_when_the_gradient_is_zero_everywhere() {
    let dir = scratch("grad-zero");
    let prog = "import std.layers\n\nmodel m(x: R[3]) -> R[2] {\n  let d = dense[3, 2] in\n  d(x) - d(x)\n}\n";
    std::fs::write(dir.join("m.cdl"), prog).unwrap();
    for backend in ["interp", "jit"] {
        let g = cdlc(&["gradcheck", "m.cdl", "--backend", backend], &dir);
        let out = stdout(&g);
        assert_eq!(g.status.code(), Some(1), "{backend}: {out}");
        assert!(
            out.contains("FAILED: the gradient is zero in every entry"),
            "{backend}: {out}"
        );
    }
}

#[test]
fn gradcheck_compares_at_most_the_requested_number_of_entries() {
    let dir = scratch("grad-coords");
    let prog = "import std.layers\n\nmodel m = dense[20, 30] >> tanh >> dense[30, 4]\n";
    std::fs::write(dir.join("m.cdl"), prog).unwrap();
    let g = cdlc(&["gradcheck", "m.cdl", "--coords", "6"], &dir);
    let out = stdout(&g);
    assert!(g.status.success(), "{out}{}", stderr(&g));
    let counts = compared_counts(&out);
    assert_eq!(
        counts.iter().map(|c| c.1).collect::<Vec<_>>(),
        vec![600, 30, 120, 4]
    );
    assert!(
        counts.iter().all(|c| c.0 >= 1),
        "every slot is sampled: {out}"
    );
    assert!(counts.iter().map(|c| c.0).sum::<usize>() <= 6, "{out}");
    assert!(out.contains("(random directions)"), "{out}");
    assert!(out.contains("(4 compared"), "{out}");
}

#[test]
fn printing_into_a_closed_pipe_ends_quietly() {
    use std::io::Read;
    use std::process::Stdio;
    // Enough items that every printed stage is far larger than a pipe's
    // buffer, so the reader closes the pipe while cdlc is still writing.
    let dir = scratch("pipe");
    let mut prog = String::from("import std.layers\n\n");
    for i in 0..400 {
        prog += &format!(
            "model m{i} = dense[2, {}] >> relu >> dense[{}, 3]\n",
            i + 1,
            i + 1
        );
    }
    std::fs::write(dir.join("big.cdl"), prog).unwrap();
    for emit in ["ast", "types"] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_cdlc"))
            .args(["big.cdl", "--emit", emit])
            .current_dir(&dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary runs");
        let mut first = [0u8; 64];
        child
            .stdout
            .take()
            .expect("piped")
            .read_exact(&mut first)
            .expect("some output");
        // The read end is dropped here, as `head` does after its lines.
        let out = child.wait_with_output().expect("cdlc ends");
        assert_eq!(out.status.code(), Some(0), "{emit}: {}", stderr(&out));
        assert!(stderr(&out).is_empty(), "{emit}: {}", stderr(&out));
    }
}

#[test]
fn run_names_the_model_a_checkpoint_was_trained_for() {
    let dir = scratch("other-model");
    let prog = SPIRALS.replace(
        "model spiral",
        "model other = dense[2, 16] >> tanh >> dense[16, 3]\nmodel spiral",
    );
    std::fs::write(dir.join("two.cdl"), prog).unwrap();
    let t = cdlc(
        &["two.cdl", "--emit", "jit", "--epochs", "1", "--out", "w"],
        &dir,
    );
    assert!(t.status.success(), "{}", stderr(&t));
    std::fs::write(dir.join("in.jsonl"), "{\"x\": [0.1, 0.2]}\n").unwrap();
    // The two models have parameters of the same names and shapes: only the
    // checkpoint's record of its model tells them apart.
    let r = cdlc(
        &[
            "run",
            "two.cdl",
            "--entry",
            "other",
            "--weights",
            "w/weights.safetensors",
            "--input",
            "in.jsonl",
        ],
        &dir,
    );
    assert_eq!(r.status.code(), Some(1), "{}", stdout(&r));
    assert!(
        stderr(&r).contains("holds the weights of model `spiral`, not `other`"),
        "{}",
        stderr(&r)
    );
    assert!(stdout(&r).is_empty());
}

#[test]
fn emit_tying_says_when_nothing_is_tied() {
    let dir = scratch("no-tying");
    std::fs::write(dir.join("mlp.cdl"), SPIRALS).unwrap();
    let t = cdlc(&["mlp.cdl", "--emit", "tying"], &dir);
    assert!(t.status.success(), "{}", stderr(&t));
    assert_eq!(
        stdout(&t),
        "no parameter is declared `equivariant` or `invariant`: there is no weight tying to derive\n"
    );
}

/// `--emit hir` prints the checked bodies: the point-free model's
/// composition with each instance, its sizes and its checked type.
#[test]
fn emit_hir_prints_the_resolved_typed_bodies() {
    let dir = scratch("emit-hir");
    std::fs::write(dir.join("mlp.cdl"), SPIRALS).unwrap();
    let t = cdlc(&["mlp.cdl", "--emit", "hir"], &dir);
    assert!(t.status.success(), "{}", stderr(&t));
    assert_eq!(
        stdout(&t),
        "spiral (Ok)
  %0 = dense[2, 16] : R[2] -> R[16]
  %1 = relu : R[16] -> R[16]
  %2 = %0 >> %1 : R[2] -> R[16]
  %3 = dense[16, 3] : R[16] -> R[3]
  %4 = %2 >> %3 : R[2] -> R[3]
  body = %4
"
    );
}

const SETS: &str = "const n = 4
group S = symmetric(n)
space Pts = R[n] under S by permute
space In  = R[3] * Pts
space Hid = R[8] * Pts
space Out = R[3] under S by trivial

layer phi(x: In) -> Hid equivariant S {
  param W: equivariant In -> Hid = glorot
  param b: invariant Hid = zeros
  relu(W @ x + b)
}
layer pool(h: Hid) -> Out equivariant S {
  param W: equivariant Hid -> Out = glorot
  W @ h
}
model deep = phi >> pool

model mixed(x: In) -> Out {
  param A: R[4, 4] = glorot
  param V: R[3, 3] = glorot
  V @ sum(A @ x^T, axis = 0)
}

train deep {
  data   = synthetic.set_mode(points = n, digits = 3, samples = 64)
  loss   = cross_entropy
  epochs = 1
  seed   = 2
}
train mixed {
  data   = synthetic.set_mode(points = n, digits = 3, samples = 64)
  loss   = cross_entropy
  epochs = 1
  seed   = 2
}
";

#[test]
fn measure_reports_learned_and_built_in_equivariance() {
    let dir = scratch("measure");
    std::fs::write(dir.join("sets.cdl"), SETS).unwrap();
    for name in ["deep", "mixed"] {
        let t = cdlc(
            &["sets.cdl", "--emit", "jit", "--train", name, "--out", name],
            &dir,
        );
        assert!(t.status.success(), "{}", stderr(&t));
    }
    let measure = |entry: &str, extra: &[&str]| {
        let weights = format!("{entry}/weights.safetensors");
        let mut args = vec![
            "measure",
            "sets.cdl",
            "--weights",
            &weights,
            "--entry",
            entry,
        ];
        args.extend_from_slice(extra);
        cdlc(&args, &dir)
    };
    let max_error = |o: &Output| -> f64 {
        assert!(o.status.success(), "{}", stderr(o));
        let v: serde_json::Value = serde_json::from_str(stdout(o).trim()).unwrap();
        v["whole"]["discrete"]["max"].as_f64().unwrap()
    };
    let built_in = measure("deep", &["--message-format", "json", "--per-layer"]);
    assert!(max_error(&built_in) <= 1e-6);
    let v: serde_json::Value = serde_json::from_str(stdout(&built_in).trim()).unwrap();
    assert_eq!(v["layers"].as_array().map(Vec::len), Some(2), "{v}");
    let learned = measure("mixed", &["--message-format", "json"]);
    assert!(max_error(&learned) > 1e-3);
    let human = measure("mixed", &[]);
    assert!(
        stdout(&human).contains("mixed under S, 13 inputs:"),
        "{}",
        stdout(&human)
    );
    let refused = measure("deep", &["--group", "Nope"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains("[E0610] Error"),
        "{}",
        stderr(&refused)
    );
    let augmented = cdlc(
        &[
            "sets.cdl",
            "--emit",
            "jit",
            "--train",
            "mixed",
            "--augment",
            "S",
            "--out",
            "aug",
        ],
        &dir,
    );
    assert!(augmented.status.success(), "{}", stderr(&augmented));
    assert!(
        max_error(&cdlc(
            &[
                "measure",
                "sets.cdl",
                "--weights",
                "aug/weights.safetensors",
                "--entry",
                "mixed",
                "--message-format",
                "json"
            ],
            &dir
        )) > 0.0
    );
    let no_group = cdlc(
        &[
            "sets.cdl",
            "--emit",
            "jit",
            "--train",
            "mixed",
            "--augment",
            "T",
        ],
        &dir,
    );
    assert_eq!(no_group.status.code(), Some(1));
    assert!(stderr(&no_group).contains("E0610"), "{}", stderr(&no_group));
    let wrong = cdlc(
        &[
            "measure",
            "sets.cdl",
            "--weights",
            "mixed/weights.safetensors",
            "--entry",
            "deep",
        ],
        &dir,
    );
    assert_eq!(wrong.status.code(), Some(1));
    assert!(
        stderr(&wrong).contains("[E0612] Error"),
        "{}",
        stderr(&wrong)
    );
}

/// A DeepSets layer whose map is applied per channel pair: its slot is
/// `[4, 3, 2]`, its stored shape `[24]` (the `--emit tying` count).
const SET_LAYER: &str = "const n = 5
group S = symmetric(n)
space Pts = R[n] under S by permute
space In  = R[3] * Pts
space Hid = R[4] * Pts

layer phi(x: In) -> Hid equivariant S {
  param W: equivariant In -> Hid = glorot
  W @ x
}

model m = phi

train m {
  data   = jsonl(\"sets.jsonl\")
  loss   = mse
  optim  = adam(lr = 0.01)
  epochs = 1
  batch  = 4
}
";

#[test]
fn an_equivariant_parameter_is_stored_as_its_coefficients() {
    let dir = scratch("stored");
    std::fs::write(dir.join("set.cdl"), SET_LAYER).unwrap();
    let row = |k: usize, rows: usize| {
        let r: Vec<String> = (0..rows)
            .map(|i| {
                let v: Vec<String> = (0..5)
                    .map(|j| format!("{:.3}", ((k * 31 + i * 7 + j) as f64).sin()))
                    .collect();
                format!("[{}]", v.join(", "))
            })
            .collect();
        format!("[{}]", r.join(", "))
    };
    let data: String = (0..8)
        .map(|k| format!("{{\"x\": {}, \"y\": {}}}\n", row(k, 3), row(k + 100, 4)))
        .collect();
    std::fs::write(dir.join("sets.jsonl"), &data).unwrap();
    let tying = cdlc(&["set.cdl", "--emit", "tying"], &dir);
    assert!(
        stdout(&tying).contains("phi.W: 24 free"),
        "{}",
        stdout(&tying)
    );
    let t = cdlc(&["set.cdl", "--emit", "jit", "--out", "run"], &dir);
    assert!(t.status.success(), "{}", stderr(&t));
    let stored = cdlc_runtime::checkpoint::read(&dir.join("run/weights.safetensors")).unwrap();
    let w = stored.params.iter().find(|p| p.name == "phi.W").unwrap();
    assert_eq!(w.shape, [24], "{:?}", stored.params);
    // `cdlc run` reads the stored coefficients back into the model's slot.
    let inputs: String = (0..3)
        .map(|k| format!("{{\"x\": {}}}\n", row(k, 3)))
        .collect();
    std::fs::write(dir.join("inputs.jsonl"), inputs).unwrap();
    let r = cdlc(
        &[
            "run",
            "set.cdl",
            "--weights",
            "run/weights.safetensors",
            "--input",
            "inputs.jsonl",
        ],
        &dir,
    );
    assert!(r.status.success(), "{}", stderr(&r));
    assert_eq!(stdout(&r).lines().count(), 3, "{}", stdout(&r));
}

#[test]
fn a_list_of_lists_trains_on_the_jit() {
    let dir = scratch("lol");
    let prog = "import std.layers

algebra nest[h] : ListF(List(R[2])) -> R[h] {
  param z: R[h] = zeros
  nil           => z
  cons(xs, acc) => fold elman[2, h] (xs) + acc
}

model m(xss: List(List(R[2]))) -> R[2] { dense[4, 2](fold nest[4] (xss)) }

train m {
  data   = jsonl(\"lol.jsonl\")
  loss   = cross_entropy
  optim  = adam(lr = 0.01)
  epochs = 1
  batch  = 4
}
";
    std::fs::write(dir.join("lol.cdl"), prog).unwrap();
    let data: String = (0..8)
        .map(|i| {
            let inner: Vec<String> = (0..1 + i % 3)
                .map(|j| {
                    let xs: Vec<String> = (0..1 + (i + j) % 2)
                        .map(|k| format!("[{}, {}]", (i + k) % 3, j % 2))
                        .collect();
                    format!("[{}]", xs.join(", "))
                })
                .collect();
            format!("{{\"x\": [{}], \"y\": {}}}\n", inner.join(", "), i % 2)
        })
        .collect();
    std::fs::write(dir.join("lol.jsonl"), data).unwrap();
    // The inner lists are laid out per level group of the outer fold, so
    // the JIT compiles it: no W0901, and training runs on the JIT.
    let t = cdlc(&["lol.cdl", "--emit", "jit", "--out", "run"], &dir);
    assert!(t.status.success(), "{}", stderr(&t));
    let err = stderr(&t);
    assert!(!err.contains("W0901"), "{err}");
    assert!(
        err.contains("training `m` (") && !err.contains("training `m` (interpreter)"),
        "{err}"
    );
    let metrics = std::fs::read_to_string(dir.join("run/metrics.csv")).unwrap();
    assert_eq!(metrics.lines().count(), 2, "{metrics}");
}

/// A model that splits an unfold's outputs `by halves`, trained from JSON
/// lines.
const HALVED: &str = "import std.layers

model m(xs: List(R[2])) -> R[2] {
  param s0: R[4] = normal(0.5)
  dense[4, 2](hylo treenn[4, 4] by halves (unfold mealy[2, 4, 4] from s0 over xs))
}

train m {
  data   = jsonl(\"lists.jsonl\")
  loss   = cross_entropy
  epochs = 2
  batch  = 3
  split  = 1
}
";

#[test]
fn halves_of_a_computed_list_train_on_the_jit_and_on_the_interpreter() {
    let dir = scratch("halved");
    std::fs::write(dir.join("h.cdl"), HALVED).unwrap();
    let data: String = (0..7)
        .map(|i| {
            let xs: Vec<String> = (0..1 + i % 4)
                .map(|k| format!("[{}, {}]", (i + k) % 2, k % 3))
                .collect();
            format!("{{\"x\": [{}], \"y\": {}}}\n", xs.join(", "), i % 2)
        })
        .collect();
    std::fs::write(dir.join("lists.jsonl"), data).unwrap();
    let ir = cdlc(&["h.cdl", "--emit", "ir"], &dir);
    assert!(ir.status.success(), "{}", stderr(&ir));
    assert!(stdout(&ir).contains("hylo_halves"), "{}", stdout(&ir));
    // The JIT compiles it (the halving trees built from the unfold's
    // lengths): no W0901, and training runs on the JIT.
    let j = cdlc(&["h.cdl", "--emit", "jit", "--out", "run_j"], &dir);
    let err = stderr(&j);
    assert!(j.status.success(), "{err}");
    assert!(!err.contains("W0901"), "{err}");
    assert!(
        err.contains("training `m` (") && !err.contains("training `m` (interpreter)"),
        "{err}"
    );
    let i = cdlc(
        &[
            "h.cdl",
            "--emit",
            "jit",
            "--out",
            "run_i",
            "--backend",
            "interp",
        ],
        &dir,
    );
    assert!(i.status.success(), "{}", stderr(&i));
    assert!(!stderr(&i).contains("W0901"), "{}", stderr(&i));
    let metrics = |run: &str| std::fs::read_to_string(dir.join(run).join("metrics.csv")).unwrap();
    assert_eq!(metrics("run_j").lines().count(), 3, "{}", metrics("run_j"));
    assert_eq!(metrics("run_i").lines().count(), 3, "{}", metrics("run_i"));
    // The exporter writes it (its loss and gradients equal `cdlc grad`'s:
    // `tests/python/test_nested_data.py`).
    let x = cdlc(&["h.cdl", "--emit", "jax", "--out", "m.py"], &dir);
    assert!(x.status.success(), "{}", stderr(&x));
    let module = std::fs::read_to_string(dir.join("m.py")).unwrap();
    assert!(module.contains("fold_halves("));
    // The split list is as long as the input list, which `encode` checks
    // (tests/python/test_halves.py runs it).
    assert!(module.contains("NONEMPTY = [\n    (0, ()),\n]"), "{module}");
    // An empty list reaches the split as an empty computed list: E0603
    // naming the example.
    std::fs::write(
        dir.join("lists.jsonl"),
        "{\"x\": [[1, 0]], \"y\": 1}\n{\"x\": [[0, 1], [1, 1]], \"y\": 0}\n{\"x\": [], \"y\": 1}\n",
    )
    .unwrap();
    let e = cdlc(
        &[
            "h.cdl",
            "--emit",
            "jit",
            "--out",
            "run_e",
            "--backend",
            "interp",
        ],
        &dir,
    );
    let err = stderr(&e);
    assert_eq!(e.status.code(), Some(1), "{err}");
    assert!(
        err.contains("[E0603]")
            && err.contains("the example on line 3 of lists.jsonl")
            && err.contains("empty list"),
        "{err}"
    );
    // The JIT refuses it too, with E0603.
    let e = cdlc(&["h.cdl", "--emit", "jit", "--out", "run_f"], &dir);
    let err = stderr(&e);
    assert_eq!(e.status.code(), Some(1), "{err}");
    assert!(
        err.contains("[E0603]") && err.contains("empty list"),
        "{err}"
    );
}

/// A tree whose nodes hold a list of (label, subtree) pairs: `X` under a
/// list, inside a pair.
const LABELLED: &str = "functor LabelledF(A) = tip(A) | node(A, List(R[2] * X))
data Labelled(A) = fix LabelledF(A)

algebra edges[h] : ListF(R[2] * R[h]) -> R[h] {
  param s: R[h] = zeros
  param L: R[h, 2] = glorot
  param W: R[h, h] = glorot
  nil => s
  cons(e, acc) => let (label, c) = e in tanh(L @ label + W @ c + acc)
}

algebra cell[d, h] : LabelledF(R[d]) -> R[h] {
  param E: R[h, d] = glorot
  param U: R[h, d] = glorot
  tip(a) => tanh(E @ a)
  node(a, es) => tanh(U @ a + fold edges[h] (es))
}

model m(t: Labelled(R[2])) -> R[2] { fold cell[2, 2] (t) }

train m {
  data   = jsonl(\"trees.jsonl\")
  loss   = cross_entropy
  epochs = 2
  batch  = 3
  split  = 1
}
";

#[test]
fn nested_data_trains_on_the_jit_and_the_interpreter() {
    let dir = scratch("labelled");
    std::fs::write(dir.join("n.cdl"), LABELLED).unwrap();
    let data: String = (0..7)
        .map(|i| {
            let edges: Vec<String> = (0..i % 3)
                .map(|k| {
                    format!(
                        "[[{k}, 1], {{\"node\": [[0.5, {i}], [[[1, 0], {{\"tip\": [[{k}, 0.25]]}}]]]}}]"
                    )
                })
                .collect();
            format!(
                "{{\"x\": {{\"node\": [[{i}, 0.5], [{}]]}}, \"y\": {}}}\n",
                edges.join(", "),
                i % 2
            )
        })
        .collect();
    std::fs::write(dir.join("trees.jsonl"), data).unwrap();
    // The JIT compiles the nested field: no W0901, and in f64 the
    // interpreter's losses (`nested_jit.rs` compares them digit by digit).
    let j = cdlc(
        &["n.cdl", "--emit", "jit", "--out", "run_j", "--dtype", "f64"],
        &dir,
    );
    let err = stderr(&j);
    assert!(j.status.success(), "{err}");
    assert!(!err.contains("W0901"), "{err}");
    assert!(!err.contains("(interpreter)"), "{err}");
    let i = cdlc(
        &[
            "n.cdl",
            "--emit",
            "jit",
            "--out",
            "run_i",
            "--backend",
            "interp",
            "--dtype",
            "f64",
        ],
        &dir,
    );
    assert!(i.status.success(), "{}", stderr(&i));
    let metrics = |run: &str| std::fs::read_to_string(dir.join(run).join("metrics.csv")).unwrap();
    assert_eq!(metrics("run_j").lines().count(), 3, "{}", metrics("run_j"));
    assert_eq!(metrics("run_i").lines().count(), 3, "{}", metrics("run_i"));
    // The exporter lays the nested field out (tests/python compares it).
    let x = cdlc(&["n.cdl", "--emit", "jax", "--out", "m.py"], &dir);
    assert!(x.status.success(), "{}", stderr(&x));
    let module = std::fs::read_to_string(dir.join("m.py")).unwrap();
    assert!(
        module.contains("(\"nested\", (\"seqof\", (\"tuple\", [(\"tensor\", (2,)), (\"ref\",)])))"),
        "{module}"
    );
    // A subtree where a (label, subtree) pair belongs: E0603 with the line.
    std::fs::write(
        dir.join("trees.jsonl"),
        "{\"x\": {\"tip\": [[1, 0]]}, \"y\": 1}\n{\"x\": {\"node\": [[0, 1], [{\"tip\": [[1, 0]]}]]}, \"y\": 0}\n",
    )
    .unwrap();
    let e = cdlc(&["n.cdl", "--emit", "jit", "--out", "run_e"], &dir);
    assert_eq!(e.status.code(), Some(1), "{}", stderr(&e));
    assert!(
        stderr(&e).contains("E0603") && stderr(&e).contains("line 2"),
        "{}",
        stderr(&e)
    );
}
