//! Shared harness for the end-to-end tests: every suite calls the API under
//! test through one `check_*` function here.
//!
//! Test inputs are `.cdl` files under `tests/cases/<kind>/`; expectations
//! sit in comments in the files themselves (`// expect: E0301 line 5`).

use cdlc::diagnostics::{Severity, render_human};
use std::path::{Path, PathBuf};

#[cfg(test)]
mod check;
#[cfg(test)]
mod chunks;
#[cfg(test)]
mod conv;
#[cfg(test)]
mod epilogue;
#[cfg(test)]
mod equivariance;
#[cfg(test)]
mod errors;
#[cfg(test)]
mod example_errors;
#[cfg(test)]
mod export;
#[cfg(test)]
mod format;
#[cfg(test)]
mod format_gen;
#[cfg(test)]
mod grad;
#[cfg(test)]
mod hoist;
#[cfg(test)]
mod hoist_unfold;
#[cfg(test)]
mod in_place;
#[cfg(test)]
mod ir;
#[cfg(test)]
mod ir_cases;
#[cfg(test)]
mod jit;
#[cfg(test)]
mod jit_fallback;
#[cfg(test)]
mod jit_inputs;
#[cfg(test)]
mod jit_nested;
#[cfg(test)]
mod jit_pair_unfold;
#[cfg(test)]
mod jit_region;
#[cfg(test)]
mod jit_rose;
#[cfg(test)]
mod jvp_examples;
#[cfg(test)]
mod measure;
#[cfg(test)]
mod nested;
#[cfg(test)]
mod nested_jvp;
#[cfg(test)]
mod own;
#[cfg(test)]
mod parse;
#[cfg(test)]
mod passes;
#[cfg(test)]
mod plan;
#[cfg(test)]
mod random_folds;
#[cfg(test)]
mod random_unfolds;
#[cfg(test)]
mod repeat;
#[cfg(test)]
mod reverse_sites;
#[cfg(test)]
mod robust;
#[cfg(test)]
mod roundtrip;
#[cfg(test)]
mod stored_shape;
#[cfg(test)]
mod straight;
#[cfg(test)]
mod structured;
#[cfg(test)]
mod unsupported;
#[cfg(test)]
mod wide;

/// A case's or example's name: its file name without the extension.
pub fn case_name(path: &std::path::Path) -> String {
    path.file_stem()
        .expect("a name")
        .to_string_lossy()
        .to_string()
}

/// The folder of test cases of one kind.
pub fn cases_dir(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("cases")
        .join(kind)
}

/// The project's shipped examples.
pub fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

/// Every `.cdl` file in a folder, sorted.
pub fn cdl_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.expect("readable directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "cdl"))
        .collect();
    files.sort();
    files
}

/// One expected diagnostic: its code and the line of its primary span.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Expected {
    /// `E0301`, `W0501`.
    pub code: String,
    /// 1-based line.
    pub line: usize,
}

/// The `// expect: CODE line N` lines at the top of a case.
pub fn expectations(src: &str) -> Vec<Expected> {
    src.lines()
        .filter_map(|l| l.trim().strip_prefix("// expect:"))
        .map(|rest| {
            let words: Vec<&str> = rest.split_whitespace().collect();
            assert!(
                words.len() >= 3 && words[1] == "line",
                "malformed expectation `{rest}`: write `// expect: E0301 line 5`"
            );
            Expected {
                code: words[0].to_string(),
                line: words[2].parse().expect("a line number"),
            }
        })
        .collect()
}

/// Compiles a program and returns its diagnostics as (code, line) pairs in
/// the user's file, and the rendered human output.
pub fn diagnose(name: &str, src: &str) -> (Vec<Expected>, String, bool) {
    let c = cdlc::compile(name, src);
    let found = c
        .diagnostics
        .iter()
        .map(|d| Expected {
            code: d.code.to_string(),
            line: c.sources.line_col(d.span().file, d.span().start).0,
        })
        .collect();
    let errors = c.diagnostics.iter().any(|d| d.severity == Severity::Error);
    (
        found,
        render_human(&c.diagnostics, &c.sources, false),
        errors,
    )
}

/// Checks an error case: exactly the expected diagnostics, and returns
/// the snapshot text (source, then rendered diagnostics).
#[track_caller]
pub fn check_error_case(path: &Path) -> String {
    let src = std::fs::read_to_string(path).expect("readable case");
    let name = format!(
        "{}",
        path.file_name().expect("a file name").to_string_lossy()
    );
    let mut expected = expectations(&src);
    assert!(
        !expected.is_empty(),
        "{name}: an error case needs `// expect:` lines"
    );
    let (mut found, rendered, has_errors) = diagnose(&name, &src);
    expected.sort();
    found.sort();
    assert_eq!(
        found, expected,
        "{name}: diagnostics differ from the expectations\n{rendered}"
    );
    let only_warnings = expected.iter().all(|e| e.code.starts_with('W'));
    assert_eq!(
        has_errors, !only_warnings,
        "{name}: exit status would be wrong"
    );
    format!("----- SOURCE\n{src}----- DIAGNOSTICS\n{rendered}")
}

/// Checks that a program has no diagnostics at all.
#[track_caller]
pub fn check_clean(path: &Path) -> cdlc::Compilation {
    let src = std::fs::read_to_string(path).expect("readable program");
    let c = cdlc::compile(&path.display().to_string(), &src);
    assert!(
        c.diagnostics.is_empty(),
        "{} should check clean:\n{}",
        path.display(),
        render_human(&c.diagnostics, &c.sources, false)
    );
    c
}

/// An example program's model and data for one train block: the model
/// prepared for training, its initial parameters and the first `samples`
/// examples of its own (built-in) data after the run's seeded shuffle.
pub struct TrainCase {
    /// The example's file name without `.cdl`, followed by `/MODEL` when
    /// the example has more than one train block.
    pub name: String,
    /// The model, instantiated and differentiated.
    pub prepared: cdlc::training::Prepared,
    /// The parameters as the train block initialises them.
    pub params: Vec<cdlc_runtime::value::Tensor>,
    /// The first examples of the train block's data.
    pub batch: Vec<cdlc_runtime::value::Example>,
}

/// Every train block of every shipped example, each with `samples`
/// examples of its data. Asserts that each data set fits its model.
pub fn train_cases(samples: usize) -> Vec<TrainCase> {
    cdl_files(&examples_dir())
        .iter()
        .flat_map(|path| {
            let c = check_clean(path);
            let stem = path.file_stem().expect("a name").to_string_lossy();
            let several = c.checked.trains.len() > 1;
            (0..c.checked.trains.len())
                .map(|t| {
                    let name = match several {
                        true => format!("{stem}/{}", c.checked.trains[t].model_name),
                        false => stem.to_string(),
                    };
                    train_case(&c, t, name, samples)
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The first train block of the example `name`, as `train_cases` has it.
#[track_caller]
pub fn example_case(
    name: &str,
    samples: usize,
) -> (
    cdlc::training::Prepared,
    Vec<cdlc_runtime::value::Tensor>,
    Vec<cdlc_runtime::value::Example>,
) {
    let c = check_clean(&examples_dir().join(format!("{name}.cdl")));
    let case = train_case(&c, 0, name.to_string(), samples);
    (case.prepared, case.params, case.batch)
}

/// Train block `index` of a checked example.
#[track_caller]
fn train_case(c: &cdlc::Compilation, index: usize, name: String, samples: usize) -> TrainCase {
    use cdlc::training::{expected_signature, init_params, prepare, split};
    let setup = c
        .checked
        .trains
        .get(index)
        .expect("the example has a train block");
    let p = prepare(c, setup.model, setup.loss).unwrap_or_else(|e| panic!("{name}: {e:?}"));
    let cdlc::check::DataSpec::Synthetic { name: data, args } = &setup.data else {
        panic!("{name}: the examples train on built-in data");
    };
    let dataset = cdlc_runtime::data::synthetic::generate(data, args, setup.seed)
        .expect("the data set generates");
    assert_eq!(
        Some(dataset.signature.clone()),
        expected_signature(&p),
        "{name}: data and model disagree"
    );
    let (train, _) = split(dataset.examples, 1.0, setup.seed);
    let batch = train.into_iter().take(samples).collect();
    let params = init_params(&p.inst, setup.seed);
    TrainCase {
        name,
        prepared: p,
        params,
        batch,
    }
}
