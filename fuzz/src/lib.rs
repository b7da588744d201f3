//! A structure-aware mutation fuzzer for `cdlc`, on the stable toolchain.
//!
//! Each target feeds bytes to one reader or stage that takes untrusted
//! input (the lexer, the parser, the checker, the equivariance solver, the
//! data readers, the safetensors reader, the language server's message
//! loop) and fails if it panics. Inputs start from a corpus kept in the
//! repository (`fuzz/corpus/TARGET/`, plus the examples for the `.cdl`
//! targets) and are mutated byte-wise and, for
//! program text, token-wise: tokens of the language are inserted, runs are
//! repeated to build deep nesting, and inputs are spliced together.
//!
//! `run` is the loop; `smoke` runs every target for a bounded number of
//! inputs and is part of the test suite; the `cdlc-fuzz` binary runs long
//! campaigns and keeps every input that fails in `fuzz/crashes/`.

pub mod lsp;
pub mod mutate;
pub mod targets;

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use targets::{TARGETS, Target};

/// The largest input a mutation produces, in bytes.
pub const MAX_INPUT: usize = 1 << 16;

/// The repository's corpus folder.
pub fn corpus_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus")
}

/// The seed inputs of `target`: its corpus folder, in name order, and for
/// program targets the examples.
pub fn seeds(target: Target) -> Vec<Vec<u8>> {
    let mut dirs = vec![corpus_root().join(target.corpus())];
    if target.corpus() == "cdl" {
        dirs.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples"));
    }
    let mut files: Vec<PathBuf> = dirs
        .iter()
        .filter_map(|d| std::fs::read_dir(d).ok())
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    let mut out: Vec<Vec<u8>> = files.iter().filter_map(|p| std::fs::read(p).ok()).collect();
    if out.is_empty() {
        out.push(Vec::new());
    }
    out
}

/// One input that made a target panic.
#[derive(Clone, Debug)]
pub struct Failure {
    /// The input.
    pub input: Vec<u8>,
    /// The panic's message.
    pub message: String,
}

/// What a run did.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Inputs tried.
    pub runs: u64,
    /// Inputs that panicked (the first of each distinct message).
    pub failures: Vec<Failure>,
}

/// How a run mutates and how long it goes on.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    /// At most this many inputs.
    pub runs: u64,
    /// At most this long.
    pub time: Duration,
    /// Nesting mutations go at most this deep.
    pub max_depth: usize,
}

/// The stack each input runs on: the main thread's usual 8 MiB, so that
/// what fits here fits in the `cdlc` binary.
pub const STACK: usize = 8 << 20;

/// Runs `target` on mutated inputs from `seed` within `budget`, catching
/// panics. `before` sees each input before it runs (a campaign writes it
/// to a file, to keep it if the process aborts).
pub fn run(target: Target, seed: u64, budget: Budget, before: &mut dyn FnMut(&[u8])) -> Report {
    let started = Instant::now();
    let mut pool = seeds(target);
    let mut rng = mutate::Rng::new(seed ^ target.corpus().len() as u64);
    let mut report = Report::default();
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    while report.runs < budget.runs && started.elapsed() < budget.time {
        let input = mutate::mutate(&pool, target.is_text(), budget.max_depth, &mut rng);
        report.runs += 1;
        before(&input);
        if let Err(message) = check_one(target, &input) {
            if !report.failures.iter().any(|f| f.message == message) {
                report.failures.push(Failure {
                    input: input.clone(),
                    message,
                });
            }
        } else if pool.len() < 256 && rng.below(16) == 0 {
            // Keep some mutants as material for later mutations.
            pool.push(input);
        }
    }
    std::panic::set_hook(hook);
    report
}

/// Runs `target` on one input, on a thread with a `STACK`-sized stack;
/// the panic message if it panicked.
pub fn check_one(target: Target, input: &[u8]) -> Result<(), String> {
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .stack_size(STACK)
            .spawn_scoped(s, || {
                std::panic::catch_unwind(AssertUnwindSafe(|| target.run(input)))
            })
            .expect("a thread for the input")
            .join()
            .unwrap_or_else(Err)
    })
    .map_err(|e| {
        e.downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "a panic without a message".to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bounded pass the test suite runs: every target, up to 5000
    /// inputs or 7 seconds each (about a minute in all).
    #[test]
    fn smoke_pass_finds_no_panic_in_any_target() {
        let mut failed = Vec::new();
        for &target in TARGETS {
            let budget = Budget {
                runs: 5000,
                time: Duration::from_secs(7),
                max_depth: 100,
            };
            let r = run(target, 0x5eed, budget, &mut |_| {});
            assert!(r.runs > 0, "{}: no input was tried", target.name());
            for f in r.failures {
                failed.push(format!(
                    "{}: {} on {:?}",
                    target.name(),
                    f.message,
                    String::from_utf8_lossy(&f.input[..f.input.len().min(200)])
                ));
            }
        }
        assert!(failed.is_empty(), "{}", failed.join("\n"));
    }

    #[test]
    fn every_regression_input_passes_its_target() {
        let dir = corpus_root().join("regressions");
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
            .expect("the regressions folder")
            .map(|e| e.expect("an entry").path())
            .collect();
        entries.sort();
        assert!(!entries.is_empty());
        for path in entries {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let target_name = name.split('-').next().unwrap();
            let target = TARGETS
                .iter()
                .copied()
                .find(|t| t.name() == target_name)
                .unwrap_or_else(|| panic!("{name}: no target `{target_name}`"));
            let input = std::fs::read(&path).unwrap();
            assert_eq!(check_one(target, &input), Ok(()), "{name}");
        }
    }
}
