//! What every end-to-end test of the binary needs: running `cdlc` in a
//! folder, reading its output, and a fresh folder per test.
//!
//! Each test file is its own crate and uses only some of these.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs the built `cdlc` with `args` in `dir`.
pub fn cdlc(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cdlc"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the binary runs")
}

/// What a run printed on standard error.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// What a run printed on standard output.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A fresh, empty folder for one test, named after the test file, the
/// test and the process, so that no two tests share one. It is removed
/// when the test passes and kept, to be looked at, when it fails.
pub fn scratch(name: &str) -> Scratch {
    let dir = std::env::temp_dir().join(format!(
        "cdlc-{}-{name}-{}",
        env!("CARGO_CRATE_NAME"),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    Scratch(dir)
}

/// A test's folder (`scratch`); it reads as the `Path` it is.
pub struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<std::ffi::OsStr> for Scratch {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.0.as_os_str()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// The text of a program that folds rose trees (`rose(A, List(X))`, each
/// node's children folded by an Elman cell of its own), followed by
/// `$rest` (a train block, or nothing).
#[allow(unused_macros)]
macro_rules! rose_program {
    ($rest:literal) => {
        concat!(
            "import std.layers

functor RoseF(A) = rose(A, List(X))
data Rose(A) = fix RoseF(A)

algebra cell[d, h] : RoseF(R[d]) -> R[h] {
  param U: R[h, d] = glorot
  param b: R[h]    = zeros
  rose(a, ks) => tanh(U @ a + fold elman[h, h] (ks) + b)
}

model m(t: Rose(R[2])) -> R[2] { dense[4, 2](fold cell[2, 4] (t)) }
",
            $rest
        )
    };
}

/// The text of a program the JIT does not compile (a nested field whose
/// structure's own nested field holds the enclosing fold's children too:
/// `Stem(X)` with `stem(Tree(A * X))`, whose tree leaves hold a bush child
/// beside a stem child, which `docs/status.md` lists as not built),
/// followed by `$rest` (a train block, or nothing). Its inputs are
/// `Bush(R[2])` values.
#[allow(unused_macros)]
macro_rules! fallback_program {
    ($rest:literal) => {
        concat!(
            "import std.layers

functor StemF(A) = stop(A) | stem(Tree(A * X))
data Stem(A) = fix StemF(A)

functor BushF(A) = tip(A) | node(A, Stem(X))
data Bush(A) = fix BushF(A)

algebra pair_sum[h] : TreeF(R[h] * R[h]) -> R[h] {
  param M: R[h, h] = glorot
  leaf(p)    => let (c, s) = p in c * s
  node(l, r) => tanh(M @ (l + r))
}

algebra stems[h] : StemF(R[h]) -> R[h] {
  param W: R[h, h] = glorot
  stop(c) => c
  stem(t) => tanh(W @ fold pair_sum[h] (t))
}

algebra bush[d, h] : BushF(R[d]) -> R[h] {
  param E: R[h, d] = glorot
  param U: R[h, d] = glorot
  param V: R[h, h] = glorot
  tip(a)     => tanh(E @ a)
  node(a, r) => tanh(U @ a + V @ fold stems[h] (r))
}

model m(x: Bush(R[2])) -> R[2] { fold bush[2, 2] (x) }
",
            $rest
        )
    };
}

/// A vector `R[2]` drawn from `k`, as JSON.
pub fn vec2(k: usize) -> String {
    let k = k as f64;
    format!("[{:.3}, {:.3}]", (0.7 * k).sin(), (1.3 * k).cos())
}

/// Eleven examples as JSON lines: the `i`-th input made by `make(i, &mut
/// k)`, one counter `k` running through all of them (so that no two
/// vectors repeat), its class `i % classes`.
pub fn eleven_examples(
    classes: usize,
    mut make: impl FnMut(usize, &mut usize) -> String,
) -> String {
    let mut k = 0;
    (0..11)
        .map(|i| format!("{{\"x\": {}, \"y\": {}}}\n", make(i, &mut k), i % classes))
        .collect()
}

/// A binary tree (`Tree`) whose leaves hold these values (at least one),
/// split in halves, as JSON.
pub fn tree(leaves: &[String]) -> String {
    match leaves {
        [one] => format!("{{\"leaf\": [{one}]}}"),
        _ => {
            let (l, r) = leaves.split_at(leaves.len() / 2);
            format!("{{\"node\": [{}, {}]}}", tree(l), tree(r))
        }
    }
}

/// Trains `program` (a path relative to `dir`, or absolute) for `epochs`
/// epochs in f64 with `--backend jit` and with `--backend interp`, each
/// without the interpreter fallback's W0901 and on the backend asked for,
/// and asserts that both runs' metrics (epoch, losses, accuracy) agree to
/// 1e-9.
pub fn jit_trains_like_the_interpreter(dir: &Path, program: &str, epochs: usize) {
    let train = |backend: &str, out: &str| -> Vec<Vec<f64>> {
        let epochs = epochs.to_string();
        let o = cdlc(
            &[
                program,
                "--emit",
                "jit",
                "--out",
                out,
                "--dtype",
                "f64",
                "--epochs",
                &epochs,
                "--backend",
                backend,
            ],
            dir,
        );
        let err = stderr(&o);
        assert!(o.status.success(), "{err}");
        assert!(!err.contains("W0901"), "{backend}: {err}");
        assert_eq!(err.contains("(interpreter)"), backend == "interp", "{err}");
        let metrics =
            std::fs::read_to_string(dir.join(out).join("metrics.csv")).expect("metrics written");
        metrics
            .lines()
            .skip(1)
            .map(|l| l.split(',').map(|x| x.parse().expect("a number")).collect())
            .collect()
    };
    let jit = train("jit", "run_j");
    let interp = train("interp", "run_i");
    assert_eq!(jit.len(), epochs, "one line per epoch");
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
