//! Loading a train block's data, checked against the model before anything
//! is trained or written (E0603): every problem with a data file (it cannot
//! be read, a line is malformed, a value has the wrong type or is not a
//! finite number) is E0603 at the `data` option.

use cdlc::check::DataSpec;
use cdlc::diagnostics::Diagnostic;
use cdlc_grammar::Span;
use cdlc_runtime::data::{self, DataError, Dataset, Origins, Signature, synthetic};
use cdlc_runtime::value::Example;
use std::path::Path;

/// Loads the data of `spec` (paths relative to `base`), checked against
/// `want`; a mismatch is E0603 at `span`.
///
/// Every failure is a diagnostic at `span`: E0603 for the data, E0604 for
/// a synthetic data set's arguments.
pub fn load(
    spec: &DataSpec,
    base: &Path,
    want: &Signature,
    seed: u64,
    span: Span,
) -> Result<Dataset, Diagnostic> {
    match load_spec(spec, base, want, seed, span, &|| false) {
        Ok(d) => Ok(d),
        Err(Stopped::Diagnostic(d)) => Err(d),
        Err(Stopped::Interrupted) => unreachable!("a load never asked to stop was stopped"),
    }
}

/// `load`, giving up a synthetic data set's generation when `stop` says so
/// (Ctrl-C): that is `Ok(None)`.
pub fn load_until(
    spec: &DataSpec,
    base: &Path,
    want: &Signature,
    seed: u64,
    span: Span,
    stop: &dyn Fn() -> bool,
) -> Result<Option<Dataset>, Diagnostic> {
    match load_spec(spec, base, want, seed, span, stop) {
        Err(Stopped::Interrupted) => Ok(None),
        Err(Stopped::Diagnostic(d)) => Err(d),
        Ok(d) => Ok(Some(d)),
    }
}

/// Why loading stopped.
enum Stopped {
    Interrupted,
    Diagnostic(Diagnostic),
}

impl From<Diagnostic> for Stopped {
    fn from(d: Diagnostic) -> Stopped {
        Stopped::Diagnostic(d)
    }
}

fn load_spec(
    spec: &DataSpec,
    base: &Path,
    want: &Signature,
    seed: u64,
    span: Span,
    stop: &dyn Fn() -> bool,
) -> Result<Dataset, Stopped> {
    Ok(match spec {
        DataSpec::Synthetic { name, args } => {
            let sig = synthetic::signature(name, args)
                .map_err(|e| Diagnostic::error("E0604", e.to_string(), span, "not a data set"))?;
            if sig.x != want.x {
                return Err(Stopped::Diagnostic(mismatch(
                    span,
                    format!(
                        "`synthetic.{name}` gives inputs of type {}, but the model takes {}",
                        sig.x, want.x
                    ),
                    format!("inputs of type {}", sig.x),
                )));
            }
            if sig.y != want.y {
                return Err(Stopped::Diagnostic(mismatch(
                    span,
                    format!(
                        "`synthetic.{name}` gives targets that are {}, but the loss needs {}",
                        sig.y, want.y
                    ),
                    format!("targets: {}", sig.y),
                )));
            }
            match synthetic::generate_until(name, args, seed, stop) {
                Ok(d) => d,
                Err(DataError::Interrupted) => return Err(Stopped::Interrupted),
                Err(e) => return Err(mismatch(span, e.to_string(), "this data set".into()).into()),
            }
        }
        DataSpec::Jsonl(p) => {
            let path = base.join(p);
            let (examples, lines) = data::jsonl::load(&path, &want.x, &want.y)
                .map_err(|e| diagnostic(&e, Some(span)))?;
            file(examples, Origins::Lines { path, lines }, want)
        }
        DataSpec::Csv { path, label } => {
            let path = base.join(path);
            let (examples, lines) = data::csv::load(&path, label, &want.x, &want.y)
                .map_err(|e| diagnostic(&e, Some(span)))?;
            file(examples, Origins::Lines { path, lines }, want)
        }
        DataSpec::Npy(x, y) => {
            let path = base.join(x);
            let examples = data::npy::load(&path, &base.join(y), &want.x, &want.y)
                .map_err(|e| diagnostic(&e, Some(span)))?;
            file(examples, Origins::Rows { path }, want)
        }
    })
}

fn file(examples: Vec<Example>, origins: Origins, want: &Signature) -> Dataset {
    Dataset {
        signature: want.clone(),
        examples,
        origins,
    }
}

/// E0603 for a data file that cannot be read or does not fit the model,
/// labelled at `span` (the train block's `data` option) when the file is
/// the train block's data, and without a label for a file given on the
/// command line alone (`cdlc run --input`, `cdlc measure --data`). The
/// message names the file and the line (or example) of the problem. This
/// is the one place data errors are worded.
pub fn diagnostic(e: &DataError, span: Option<Span>) -> Diagnostic {
    let (message, label) = match e {
        DataError::Mismatch {
            path,
            at,
            mismatch: m,
        } => (
            format!(
                "the data does not match the model: {}, {at}: {m}",
                path.display()
            ),
            format!("{at} of this data: expected {}", m.expected),
        ),
        DataError::Syntax { at, .. } => {
            (e.to_string(), format!("{at} of this data cannot be read"))
        }
        DataError::Io { .. } => (e.to_string(), "this data cannot be read".to_string()),
        _ => (
            e.to_string(),
            "this data does not fit the model".to_string(),
        ),
    };
    match span {
        Some(span) => mismatch(span, message, label),
        None => Diagnostic::error_without_span("E0603", message).with_help(
            "give inputs of the model's input type, one JSON object `{\"x\": ...}` per line",
        ),
    }
}

/// E0609: a data set without a single example where a command needs at
/// least one; `what` names it (a file, or "the train block's data").
pub fn empty(what: &str, span: Option<Span>) -> Diagnostic {
    let message = format!("{what} holds no example; expected at least one");
    let help = "give a data file with at least one example";
    match span {
        Some(span) => Diagnostic::error("E0609", message, span, "this data has no example"),
        None => Diagnostic::error_without_span("E0609", message),
    }
    .with_help(help)
}

fn mismatch(span: Span, message: String, label: String) -> Diagnostic {
    Diagnostic::error("E0603", message, span, label).with_help(
        "give data whose examples have the model's input type and the loss's target type",
    )
}
