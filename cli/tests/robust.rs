//! Robustness of training and running end to end: non-finite numbers in
//! data, in training and in weights are coded errors, checkpoints store the
//! documented dtype, and weights without a source hash are refused.

use std::path::Path;
use std::process::Command;

mod common;
use common::{cdlc, scratch, stderr};

/// A classifier of 2-vectors trained on `data` with `optim`.
fn program(data: &str, optim: &str, extra: &str) -> String {
    format!(
        "import std.layers\n\nmodel net = dense[2, 8] >> relu >> dense[8, 3]\n\ntrain net {{\n  \
         data = {data}\n  loss = cross_entropy\n  optim = {optim}\n  epochs = 2\n  batch = 8\n{extra}}}\n"
    )
}

const SPIRALS: &str = "synthetic.spirals(classes = 3, samples = 60)";

/// The header of a safetensors file, as JSON.
fn safetensors_header(path: &Path) -> (serde_json::Value, Vec<u8>) {
    let bytes = std::fs::read(path).expect("the weights file");
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header = serde_json::from_slice(&bytes[8..8 + n]).expect("a JSON header");
    (header, bytes[8 + n..].to_vec())
}

/// Writes a safetensors file from a header and its data.
fn write_safetensors(path: &Path, header: &serde_json::Value, data: &[u8]) {
    let h = serde_json::to_vec(header).unwrap();
    let mut out = (h.len() as u64).to_le_bytes().to_vec();
    out.extend(&h);
    out.extend(data);
    std::fs::write(path, out).unwrap();
}

#[test]
fn non_finite_training_stops_with_e0606_and_writes_nothing_bad() {
    let dir = scratch("diverge");
    std::fs::write(dir.join("net.cdl"), program(SPIRALS, "sgd(lr = 1e36)", "")).unwrap();
    for backend in ["jit", "interp"] {
        let out = format!("o-{backend}");
        let t = cdlc(
            &[
                "net.cdl",
                "--emit",
                "jit",
                "--backend",
                backend,
                "--out",
                &out,
            ],
            &dir,
        );
        let err = stderr(&t);
        assert_eq!(t.status.code(), Some(1), "{err}");
        assert!(err.contains("[E0606]"), "{err}");
        assert!(err.contains("NaN or infinity"), "{err}");
        assert!(
            !dir.join(&out).join("weights.safetensors").exists(),
            "{err}"
        );
    }
}

#[test]
fn non_finite_or_huge_data_is_e0603_with_its_line() {
    let dir = scratch("nonfinite-data");
    std::fs::write(dir.join("j.cdl"), program("jsonl(\"d.jsonl\")", "adam", "")).unwrap();
    std::fs::write(
        dir.join("d.jsonl"),
        "{\"x\": [1, 2], \"y\": 0}\n{\"x\": [1e300, 2], \"y\": 1}\n",
    )
    .unwrap();
    let t = cdlc(&["j.cdl", "--emit", "jit", "--out", "o"], &dir);
    let err = stderr(&t);
    assert_eq!(t.status.code(), Some(1), "{err}");
    assert!(
        err.contains("[E0603]") && err.contains("line 2") && err.contains("x[0]"),
        "{err}"
    );
    std::fs::write(
        dir.join("c.cdl"),
        program("csv(\"d.csv\", label = \"y\")", "adam", ""),
    )
    .unwrap();
    let long = "9".repeat(100_000);
    std::fs::write(
        dir.join("d.csv"),
        format!("a,b,y\n1,2,0\n3,NaN,1\n5,{long}x,2\n"),
    )
    .unwrap();
    let t = cdlc(&["c.cdl", "--emit", "jit", "--out", "o"], &dir);
    let err = stderr(&t);
    assert_eq!(t.status.code(), Some(1), "{err}");
    assert!(
        err.contains("[E0603]") && err.contains("line 3") && err.contains("NaN"),
        "{err}"
    );
    // A huge bad field is not echoed back whole.
    std::fs::write(dir.join("d.csv"), format!("a,b,y\n1,2,0\n5,{long}x,2\n")).unwrap();
    let t = cdlc(&["c.cdl", "--emit", "jit", "--out", "o"], &dir);
    let err = stderr(&t);
    assert!(
        err.contains("[E0603]") && err.contains("100001 bytes"),
        "{err}"
    );
    assert!(err.len() < 2_000, "{} bytes of error", err.len());
    assert!(!dir.join("o").exists());
}

#[test]
fn a_split_leaving_no_training_example_is_e0609() {
    let dir = scratch("split");
    std::fs::write(
        dir.join("j.cdl"),
        program("jsonl(\"d.jsonl\")", "adam", "  split = 0.1\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join("d.jsonl"),
        "{\"x\": [1, 2], \"y\": 0}\n{\"x\": [3, 2], \"y\": 1}\n",
    )
    .unwrap();
    let t = cdlc(&["j.cdl", "--emit", "jit", "--out", "o"], &dir);
    let err = stderr(&t);
    assert_eq!(t.status.code(), Some(1), "{err}");
    assert!(
        err.contains("[E0609]") && err.contains("no example to train on"),
        "{err}"
    );
    assert!(!dir.join("o").exists());
}

#[test]
fn checkpoints_store_the_documented_dtype_and_run_refuses_bad_weights() {
    let dir = scratch("weights");
    std::fs::write(dir.join("net.cdl"), program(SPIRALS, "adam", "")).unwrap();
    for (dtype, stored) in [("f32", "F32"), ("f64", "F64")] {
        let out = format!("o-{dtype}");
        let t = cdlc(
            &["net.cdl", "--emit", "jit", "--dtype", dtype, "--out", &out],
            &dir,
        );
        assert!(t.status.success(), "{}", stderr(&t));
        let (header, _) = safetensors_header(&dir.join(&out).join("weights.safetensors"));
        let dtypes: Vec<&str> = header
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| *k != "__metadata__")
            .map(|(_, v)| v["dtype"].as_str().unwrap())
            .collect();
        assert!(
            !dtypes.is_empty() && dtypes.iter().all(|d| *d == stored),
            "{dtypes:?}"
        );
    }
    std::fs::write(dir.join("in.jsonl"), "{\"x\": [0.1, 0.2]}\n").unwrap();
    let run = |weights: &str| {
        cdlc(
            &[
                "run",
                "net.cdl",
                "--weights",
                weights,
                "--input",
                "in.jsonl",
            ],
            &dir,
        )
    };
    assert!(run("o-f32/weights.safetensors").status.success());

    // A NaN in the weights is refused.
    let (header, mut data) = safetensors_header(&dir.join("o-f32/weights.safetensors"));
    data[..4].copy_from_slice(&f32::NAN.to_le_bytes());
    write_safetensors(&dir.join("nan.safetensors"), &header, &data);
    let r = run("nan.safetensors");
    let err = stderr(&r);
    assert_eq!(r.status.code(), Some(1), "{err}");
    assert!(
        err.contains("[E0607] Error") && err.contains("NaN"),
        "{err}"
    );
    assert!(r.stdout.is_empty());

    // Weights that do not say which program trained them are refused.
    let (mut header, data) = safetensors_header(&dir.join("o-f32/weights.safetensors"));
    header.as_object_mut().unwrap().remove("__metadata__");
    write_safetensors(&dir.join("anon.safetensors"), &header, &data);
    let r = run("anon.safetensors");
    let err = stderr(&r);
    assert_eq!(r.status.code(), Some(1), "{err}");
    assert!(
        err.contains("[E0607] Error") && err.contains("source_sha256"),
        "{err}"
    );
}

/// The rows of a `metrics.csv`.
fn parse_metrics(text: &str) -> Vec<cdlc_runtime::report::EpochMetrics> {
    let opt = |s: &str| (!s.is_empty()).then(|| s.parse::<f64>().expect("a number"));
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            cdlc_runtime::report::EpochMetrics {
                epoch: f[0].parse().expect("an epoch"),
                train_loss: f[1].parse().expect("a loss"),
                val_loss: opt(f[2]),
                val_accuracy: opt(f[3]),
            }
        })
        .collect()
}

/// Asserts that the three files of `dir` are one epoch's: the weights say
/// which epoch they are, the metrics end there, and the plot is the plot of
/// exactly those metrics. Returns that epoch (0 when nothing is written yet).
fn consistent_epoch(dir: &Path) -> usize {
    let metrics = dir.join("metrics.csv");
    if !metrics.exists() {
        assert!(!dir.join("weights.safetensors").exists() && !dir.join("loss.svg").exists());
        return 0;
    }
    let rows = parse_metrics(&std::fs::read_to_string(&metrics).unwrap());
    let (header, _) = safetensors_header(&dir.join("weights.safetensors"));
    let epoch: usize = header["__metadata__"]["epoch"]
        .as_str()
        .expect("the epoch in the metadata")
        .parse()
        .unwrap();
    assert_eq!(
        rows.len(),
        epoch,
        "metrics.csv and weights.safetensors differ"
    );
    let svg = std::fs::read_to_string(dir.join("loss.svg")).unwrap();
    assert_eq!(
        svg,
        cdlc_runtime::report::loss_svg(&rows, "net").unwrap(),
        "loss.svg is not the plot of metrics.csv (epoch {epoch})"
    );
    epoch
}

#[test]
fn a_sigkill_at_any_instant_leaves_one_epochs_files_and_the_next_run_cleans_up() {
    let dir = scratch("kill");
    let data = "synthetic.spirals(classes = 3, samples = 400)";
    std::fs::write(dir.join("net.cdl"), program(data, "adam", "")).unwrap();
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut epochs_seen = Vec::new();
    for _ in 0..12 {
        // Kill instants spread over the first ~1.5 s of a long run.
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let delay = 150 + (state >> 33) % 1_400;
        let mut child = Command::new(env!("CARGO_BIN_EXE_cdlc"))
            .args([
                "net.cdl", "--emit", "jit", "--epochs", "100000", "--out", "o",
            ])
            .current_dir(&dir)
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("the binary runs");
        std::thread::sleep(std::time::Duration::from_millis(delay));
        child.kill().expect("SIGKILL");
        child.wait().unwrap();
        epochs_seen.push(consistent_epoch(&dir.join("o")));
    }
    assert!(
        epochs_seen.iter().any(|&e| e > 0),
        "no kill came after an epoch: {epochs_seen:?}"
    );
    // A new run removes what the killed ones left half made.
    let t = cdlc(
        &["net.cdl", "--emit", "jit", "--epochs", "1", "--out", "o"],
        &dir,
    );
    assert!(t.status.success(), "{}", stderr(&t));
    assert_eq!(consistent_epoch(&dir.join("o")), 1);
    let mut names: Vec<String> = std::fs::read_dir(dir.join("o"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 5, "{names:?}");
    assert!(names[0].starts_with(".epoch-1-"), "{names:?}");
}

#[test]
fn an_unwritable_output_folder_is_e0608_before_training_and_epochs_0_writes_nothing() {
    let dir = scratch("unwritable");
    std::fs::write(dir.join("net.cdl"), program(SPIRALS, "adam", "")).unwrap();
    std::fs::write(dir.join("file"), "a file, not a folder").unwrap();
    let t = cdlc(&["net.cdl", "--emit", "jit", "--out", "file/o"], &dir);
    let err = stderr(&t);
    assert_eq!(t.status.code(), Some(1), "{err}");
    assert!(
        err.contains("[E0608]") && !err.contains("epoch   1"),
        "{err}"
    );
    let t = cdlc(
        &["net.cdl", "--emit", "jit", "--epochs", "0", "--out", "o"],
        &dir,
    );
    let err = stderr(&t);
    assert!(t.status.success(), "{err}");
    assert!(
        err.contains("nothing was written") && !err.contains("wrote"),
        "{err}"
    );
    assert!(!dir.join("o").exists());
}

#[test]
fn a_model_too_large_for_memory_is_e0704_with_the_estimate_before_allocating() {
    let dir = scratch("huge");
    let prog = "import std.layers\nmodel net = dense[2, 100000] >> dense[100000, 100000] >> dense[100000, 3]\n\
                train net {\n  data = synthetic.spirals(classes = 3, samples = 60)\n  loss = cross_entropy\n}\n";
    std::fs::write(dir.join("net.cdl"), prog).unwrap();
    let t = cdlc(&["net.cdl", "--emit", "jit", "--out", "o"], &dir);
    let err = stderr(&t);
    assert_eq!(t.status.code(), Some(1), "{err}");
    assert!(err.contains("[E0704]") && err.contains("GiB"), "{err}");
    assert!(!dir.join("o").exists());
}

#[test]
fn data_errors_found_while_running_are_e0603_naming_the_example_or_line() {
    let dir = scratch("rundata");
    let prog = "import std.layers\n\nmodel parity(xs: List(R[2])) -> R[2] {\n  \
                dense[32, 2](hylo treenn[2, 32] by halves (xs))\n}\n\ntrain parity {\n  \
                data = jsonl(\"h.jsonl\")\n  loss = cross_entropy\n  epochs = 1\n  batch = 2\n  split = 1\n}\n";
    std::fs::write(dir.join("h.cdl"), prog).unwrap();
    std::fs::write(
        dir.join("h.jsonl"),
        "{\"x\": [[1,0]], \"y\": 1}\n{\"x\": [[1,0],[0,1]], \"y\": 0}\n{\"x\": [], \"y\": 0}\n{\"x\": [[1,0]], \"y\": 1}\n",
    )
    .unwrap();
    for backend in ["jit", "interp"] {
        let t = cdlc(
            &["h.cdl", "--emit", "jit", "--backend", backend, "--out", "o"],
            &dir,
        );
        let err = stderr(&t);
        assert_eq!(t.status.code(), Some(1), "{err}");
        assert!(
            err.contains("[E0603]") && err.contains("the example on line 3 of h.jsonl"),
            "{err}"
        );
        assert!(err.contains("empty list"), "{err}");
    }
    // A CSV row with a field too many names its line.
    std::fs::write(
        dir.join("c.cdl"),
        program("csv(\"d.csv\", label = \"y\")", "adam", ""),
    )
    .unwrap();
    std::fs::write(dir.join("d.csv"), "a,b,y\n1,2,0\n1,2,3,1\n").unwrap();
    let t = cdlc(&["c.cdl", "--emit", "jit", "--out", "o"], &dir);
    let err = stderr(&t);
    assert_eq!(t.status.code(), Some(1), "{err}");
    assert!(
        err.contains("[E0603]") && err.contains("line 3") && err.contains("fields"),
        "{err}"
    );
    assert!(!dir.join("o/weights.safetensors").exists());
}

#[test]
fn ctrl_c_while_a_data_set_is_generated_is_e0618_and_writes_nothing() {
    use std::io::{BufRead, BufReader, Read};
    let dir = scratch("interrupt");
    // Ten million examples take seconds to generate, even in a release
    // build; the interrupt is sent as soon as training announces itself,
    // which is before the data set is generated.
    let data = "synthetic.spirals(classes = 3, samples = 10000000)";
    std::fs::write(dir.join("net.cdl"), program(data, "adam", "")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_cdlc"))
        .args(["net.cdl", "--emit", "jit", "--out", "o"])
        .current_dir(&dir)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let mut err = BufReader::new(child.stderr.take().expect("piped"));
    let mut first = String::new();
    err.read_line(&mut first).expect("a first line");
    assert!(first.starts_with("training `net`"), "{first}");
    let pid = libc::pid_t::try_from(child.id()).expect("a pid");
    // SAFETY: `kill` only sends a signal, to a child this test owns and
    // has not yet waited for, so the pid cannot have been reused.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0, "SIGINT sent");
    let mut rest = String::new();
    err.read_to_string(&mut rest).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1), "{first}{rest}");
    assert!(rest.contains("[E0618]"), "{rest}");
    assert!(rest.contains("generating this data set"), "{rest}");
    assert!(!dir.join("o").exists(), "an output folder was made");
}
