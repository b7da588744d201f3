//! IR programs as test data: every `.ir` file under `tests/cases/ir/` (any
//! depth) is a module in the IR's text form with `;` header lines saying
//! what to check (`header.rs`; `docs/testing.md` shows how to write one).
//! One test runs them all; a failure names its file and the line of the
//! check that failed.
//!
//! Each file is also read back: its module printed, read and printed again
//! gives the same text.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::cases_dir;

pub mod checks;
pub mod header;
pub mod jvp;
pub mod literal;
pub mod random;

use header::Check;

/// One failed check: where, and what went wrong.
#[derive(Clone, Debug, PartialEq)]
pub struct Failure {
    /// The file, relative to the tests crate.
    pub file: String,
    /// The 1-based line of the check (or of the text's error).
    pub line: usize,
    /// What went wrong.
    pub message: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

/// Every `.ir` file under `dir`, at any depth, sorted.
pub fn ir_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in
            std::fs::read_dir(&d).unwrap_or_else(|e| panic!("cannot read {}: {e}", d.display()))
        {
            let path = entry.expect("readable directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "ir") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// Runs every check of one case file.
pub fn run_file(path: &Path) -> Vec<Failure> {
    let file = path
        .strip_prefix(env!("CARGO_MANIFEST_DIR"))
        .unwrap_or(path)
        .display()
        .to_string();
    let fail = |line: usize, message: String| Failure {
        file: file.clone(),
        line,
        message,
    };
    let text = std::fs::read_to_string(path).expect("a readable case file");
    let header = match header::read(&text) {
        Ok(h) => h,
        Err((line, m)) => return vec![fail(line, m)],
    };
    let mut module = match cdlc_ir::parse::module(&text) {
        Ok(m) => m,
        Err(e) => return vec![fail(e.line, format!("column {}: {}", e.column, e.message))],
    };
    if let Err(m) = reads_back(&module) {
        return vec![fail(1, m)];
    }
    if let Some(n) = header.threads {
        cdlc_runtime::threads::set_threads(n);
    }
    let built = build(&mut module, &header);
    header
        .checks
        .iter()
        .filter_map(|d| {
            run_check(&module, &header, &built, &d.check)
                .err()
                .map(|m| fail(d.line, m))
        })
        .collect()
}

/// What the runner builds before the checks: the models with their
/// training functions, and their forward-derivative functions, or why it
/// could not.
struct Built {
    models: Result<Vec<checks::Model>, String>,
    tangents: Result<Vec<jvp::Tangent>, String>,
}

/// Builds what the file's checks need.
fn build(module: &mut cdlc_ir::Module, header: &header::Header) -> Built {
    // A call may name a training function the runner builds (`f.train`
    // when the file holds only `f`), to check exact gradients.
    let needs_models = header.checks.iter().any(|d| match &d.check {
        Check::JitAgainstInterpreter | Check::FiniteDifferences => true,
        Check::Call { function, .. } => built_train(module, function),
        Check::ForwardDifferences => false,
    });
    let needs_tangents = header
        .checks
        .iter()
        .any(|d| d.check == Check::ForwardDifferences);
    Built {
        tangents: if needs_tangents {
            jvp::prepare(module, header)
        } else {
            Ok(Vec::new())
        },
        models: if needs_models {
            checks::models(module, header)
        } else {
            Ok(Vec::new())
        },
    }
}

/// Whether `function` is a training function the runner must build.
fn built_train(module: &cdlc_ir::Module, function: &str) -> bool {
    function.ends_with(".train") && module.function_by_name(function).is_none()
}

/// Runs one check.
fn run_check(
    module: &cdlc_ir::Module,
    header: &header::Header,
    built: &Built,
    check: &Check,
) -> Result<(), String> {
    match check {
        Check::Call {
            function,
            args,
            want,
        } => {
            if let Err(m) = &built.models
                && built_train(module, function)
            {
                return Err(m.clone());
            }
            checks::call(module, header, function, args, want)
        }
        Check::ForwardDifferences => {
            let tangents = built.tangents.as_ref().map_err(Clone::clone)?;
            tangents.iter().try_for_each(|t| {
                header
                    .seeds
                    .iter()
                    .try_for_each(|&seed| jvp::check(module, header, t, seed))
            })
        }
        Check::JitAgainstInterpreter | Check::FiniteDifferences => {
            let models = built.models.as_ref().map_err(Clone::clone)?;
            random_checks(module, header, check, models)
        }
    }
}

/// A random check on every model at every seed; the first failure.
fn random_checks(
    module: &cdlc_ir::Module,
    header: &header::Header,
    check: &Check,
    models: &[checks::Model],
) -> Result<(), String> {
    for m in models {
        for &seed in &header.seeds {
            match check {
                Check::JitAgainstInterpreter => {
                    checks::jit_against_interpreter(module, m, header.batch, seed)?
                }
                Check::FiniteDifferences => {
                    checks::finite_differences(module, m, header.batch, seed)?
                }
                Check::Call { .. } | Check::ForwardDifferences => {
                    unreachable!("not a check on a training function")
                }
            }
        }
    }
    Ok(())
}

/// Whether the module's text reads back to the same text.
fn reads_back(module: &cdlc_ir::Module) -> Result<(), String> {
    let text = cdlc_ir::print::print_module(module);
    let back = cdlc_ir::parse::module(&text)
        .map_err(|e| format!("the printed module does not read back: {e}"))?;
    if cdlc_ir::print::print_module(&back) == text {
        Ok(())
    } else {
        Err("the printed module reads back to a different text".to_string())
    }
}

#[test]
fn every_ir_case_passes() {
    let files = ir_files(&cases_dir("ir"));
    assert!(!files.is_empty(), "no .ir case files found");
    let failures: Vec<String> = files
        .iter()
        .flat_map(|f| run_file(f))
        .map(|f| f.to_string())
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} case files' checks failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

/// The runner can fail: the cases under `tests/cases/ir_failing/` are wrong
/// on purpose (a wrong expected value, a wrong hand-written gradient, a
/// misspelt directive, a malformed op line), and each `; fails: WORDS` line,
/// right after the line at fault, says that the runner reports that line
/// with a message containing `WORDS`.
#[test]
fn failing_cases_are_reported_at_their_line() {
    let files = ir_files(&cases_dir("ir_failing"));
    assert!(!files.is_empty(), "no failing case files found");
    for path in files {
        let text = std::fs::read_to_string(&path).expect("readable");
        let expected: Vec<(usize, String)> = text
            .lines()
            .enumerate()
            .filter_map(|(i, l)| {
                l.trim()
                    .strip_prefix("; fails:")
                    .map(|m| (i + 1, m.trim().to_string()))
            })
            .collect();
        assert!(
            !expected.is_empty(),
            "{}: no `; fails:` line",
            path.display()
        );
        let found = run_file(&path);
        let name = path.display().to_string();
        assert_eq!(found.len(), expected.len(), "{name}: {found:#?}");
        for (f, (line, words)) in found.iter().zip(&expected) {
            // The `; fails:` line follows the line it is about.
            assert_eq!(f.line + 1, *line, "{name}: {f}");
            assert!(
                f.message.contains(words.as_str()),
                "{name}: the failure `{f}` does not say `{words}`"
            );
            assert!(
                f.file
                    .ends_with(path.file_name().expect("a name").to_str().expect("utf-8"))
            );
        }
    }
}
