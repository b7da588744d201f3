//! Loading a train block's data, checked against the model before anything
//! is trained or written (E0603): every problem with a data file (it cannot
//! be read, a line is malformed, a value has the wrong type or is not a
//! finite number) is E0603 at the `data` option.

use cdlc::check::DataSpec;
use cdlc::diagnostics::Diagnostic;
use cdlc_grammar::Span;
use cdlc_runtime::data::{self, DataError, Dataset, Signature, synthetic};
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
    match spec {
        DataSpec::Synthetic { name, args } => {
            let sig = synthetic::signature(name, args)
                .map_err(|e| Diagnostic::error("E0604", e.to_string(), span, "not a data set"))?;
            if sig.x != want.x {
                return Err(mismatch(
                    span,
                    format!(
                        "`synthetic.{name}` gives inputs of type {}, but the model takes {}",
                        sig.x, want.x
                    ),
                    format!("inputs of type {}", sig.x),
                ));
            }
            if sig.y != want.y {
                return Err(mismatch(
                    span,
                    format!(
                        "`synthetic.{name}` gives targets that are {}, but the loss needs {}",
                        sig.y, want.y
                    ),
                    format!("targets: {}", sig.y),
                ));
            }
            synthetic::generate(name, args, seed)
                .map_err(|e| mismatch(span, e.to_string(), "this data set".to_string()))
        }
        DataSpec::Jsonl(p) => file(
            data::jsonl::load(&base.join(p), &want.x, &want.y),
            want,
            span,
        ),
        DataSpec::Csv { path, label } => file(
            data::csv::load(&base.join(path), label, &want.x, &want.y),
            want,
            span,
        ),
        DataSpec::Npy(x, y) => file(
            data::npy::load(&base.join(x), &base.join(y), &want.x, &want.y),
            want,
            span,
        ),
    }
}

fn file(
    r: Result<Vec<cdlc_runtime::value::Example>, DataError>,
    want: &Signature,
    span: Span,
) -> Result<Dataset, Diagnostic> {
    match r {
        Ok(examples) => Ok(Dataset {
            signature: want.clone(),
            examples,
        }),
        Err(DataError::Mismatch {
            path,
            at,
            mismatch: m,
        }) => Err(self::mismatch(
            span,
            format!(
                "the data does not match the model: {}, {at}: {m}",
                path.display()
            ),
            format!("{at} of this data: expected {}", m.expected),
        )),
        Err(e) => {
            let label = match &e {
                DataError::Syntax { at, .. } => format!("{at} of this data cannot be read"),
                DataError::Io { .. } => "this data cannot be read".to_string(),
                _ => "this data does not fit the model".to_string(),
            };
            Err(self::mismatch(span, e.to_string(), label))
        }
    }
}

fn mismatch(span: Span, message: String, label: String) -> Diagnostic {
    Diagnostic::error("E0603", message, span, label).with_help(
        "give data whose examples have the model's input type and the loss's target type",
    )
}
