//! Loading a train block's data, checked against the model before anything
//! is trained or written (E0603).

use cdlc::check::DataSpec;
use cdlc::diagnostics::Diagnostic;
use cdlc_grammar::Span;
use cdlc_runtime::data::{self, DataError, Dataset, Signature, synthetic};
use std::path::Path;

/// Loads the data of `spec` (paths relative to `base`), checked against
/// `want`; a mismatch is E0603 at `span`.
pub fn load(
    spec: &DataSpec,
    base: &Path,
    want: &Signature,
    seed: u64,
    span: Span,
) -> Result<Dataset, LoadError> {
    match spec {
        DataSpec::Synthetic { name, args } => {
            let sig =
                synthetic::signature(name, args).map_err(|e| LoadError::Data(e.to_string()))?;
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
            synthetic::generate(name, args, seed).map_err(|e| LoadError::Data(e.to_string()))
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
) -> Result<Dataset, LoadError> {
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
        Err(e) => Err(LoadError::Data(e.to_string())),
    }
}

fn mismatch(span: Span, message: String, label: String) -> LoadError {
    LoadError::Mismatch(Diagnostic::error("E0603", message, span, label).with_help(
        "give data whose examples have the model's input type and the loss's target type",
    ))
}

/// Why data could not be loaded.
pub enum LoadError {
    /// The data does not fit the model: a diagnostic at the `data` option.
    Mismatch(Diagnostic),
    /// The data could not be read or generated.
    Data(String),
}
