//! Robustness of training and running end to end: non-finite numbers in
//! data, in training and in weights are coded errors, checkpoints store the
//! documented dtype, and weights without a source hash are refused.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn cdlc(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cdlc"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A fresh, empty folder for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cdlc-robust-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    dir
}

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
    assert!(err.contains("error[E0607]") && err.contains("NaN"), "{err}");
    assert!(r.stdout.is_empty());

    // Weights that do not say which program trained them are refused.
    let (mut header, data) = safetensors_header(&dir.join("o-f32/weights.safetensors"));
    header.as_object_mut().unwrap().remove("__metadata__");
    write_safetensors(&dir.join("anon.safetensors"), &header, &data);
    let r = run("anon.safetensors");
    let err = stderr(&r);
    assert_eq!(r.status.code(), Some(1), "{err}");
    assert!(
        err.contains("error[E0607]") && err.contains("source_sha256"),
        "{err}"
    );
}
