//! Reading trained weights for a model (`cdlc run`, `cdlc measure`,
//! `--init` of `cdlc grad` and `cdlc bench`), and E0607, the refusals, as
//! data: `WeightsError` and the one function that words them.

use cdlc::diagnostics::Diagnostic;
use cdlc::instantiate::Instantiated;
use cdlc_runtime::checkpoint::{self, CheckpointError};
use cdlc_runtime::optim::first_non_finite;
use cdlc_runtime::value::Tensor;
use std::path::{Path, PathBuf};

/// Why a weights file is refused.
#[derive(Debug)]
pub enum WeightsError {
    /// The file cannot be read, is not a checkpoint, or its parameter
    /// names or shapes do not fit the model (the runtime's reader says
    /// which).
    Checkpoint(CheckpointError),
    /// The file records that it holds another model's weights.
    OtherModel {
        /// The file.
        path: PathBuf,
        /// The model it was trained for.
        trained: String,
        /// The model asked for.
        model: String,
    },
    /// The file does not record the program it was trained from.
    NoSourceHash {
        /// The file.
        path: PathBuf,
    },
    /// The file was trained from another version of the program.
    OtherSource {
        /// The file.
        path: PathBuf,
        /// The source hash it records.
        trained: String,
        /// The hash of this program.
        this: String,
    },
    /// A parameter holds NaN or infinity.
    NonFinite {
        /// The file.
        path: PathBuf,
        /// The parameter.
        name: String,
        /// The first entry that is not finite.
        index: usize,
        /// Its value.
        value: f64,
    },
}

impl WeightsError {
    /// The one-line description; `cdlc measure` reports it under its own
    /// code (E0612).
    pub fn message(&self) -> String {
        match self {
            WeightsError::Checkpoint(e) => e.to_string(),
            WeightsError::OtherModel {
                path,
                trained,
                model,
            } => format!(
                "{} holds the weights of model `{trained}`, not `{model}`",
                path.display()
            ),
            WeightsError::NoSourceHash { path } => format!(
                "{} does not record which program it was trained from (no `source_sha256` in its metadata)",
                path.display()
            ),
            WeightsError::OtherSource {
                path,
                trained,
                this,
            } => format!(
                "{} was trained from a different version of this program (source hash {}…, this file {}…)",
                path.display(),
                &trained[..trained.len().min(12)],
                &this[..this.len().min(12)]
            ),
            WeightsError::NonFinite {
                path,
                name,
                index,
                value,
            } => format!(
                "{}: parameter `{name}` holds {value} at index {index}",
                path.display()
            ),
        }
    }

    /// What the user can do.
    pub fn help(&self) -> String {
        match self {
            WeightsError::Checkpoint(CheckpointError::Io { .. }) => {
                "check the path given to `--weights` (or `--init`)".to_string()
            }
            WeightsError::Checkpoint(_) => {
                "pass the weights written by training this model (`weights.safetensors` in its output folder)".to_string()
            }
            WeightsError::OtherModel { trained, model, .. } => format!(
                "run it with `--entry {trained}`, or pass the weights trained for `{model}`"
            ),
            WeightsError::NoSourceHash { .. } => {
                "retrain the model with this version of cdlc".to_string()
            }
            WeightsError::OtherSource { .. } => {
                "retrain, or run the weights with the program they were trained from".to_string()
            }
            WeightsError::NonFinite { .. } => {
                "these weights cannot give finite outputs: retrain them".to_string()
            }
        }
    }

    /// The error as E0607.
    pub fn to_diagnostic(&self) -> Diagnostic {
        Diagnostic::error_without_span("E0607", format!("weights refused: {}", self.message()))
            .with_help(self.help())
    }
}

/// Loads weights for `inst`, refusing a checkpoint trained for another
/// model, whose names or shapes do not fit the model, that holds NaN or
/// infinity, or (with `source_hash`) that was trained from another
/// version of the program or does not say which program it was trained
/// from.
pub fn load(
    path: &Path,
    inst: &Instantiated,
    source_hash: Option<&str>,
) -> Result<Vec<Tensor>, WeightsError> {
    let model = &inst.module.functions[inst.func].name;
    let whole = checkpoint::read(path).map_err(WeightsError::Checkpoint)?;
    if let Some(trained) = whole.metadata.get("model")
        && trained != model
    {
        return Err(WeightsError::OtherModel {
            path: path.to_path_buf(),
            trained: trained.clone(),
            model: model.clone(),
        });
    }
    let expected: Vec<(&str, &[usize])> = inst
        .slots
        .iter()
        .map(|s| (s.name.as_str(), s.stored_shape.as_slice()))
        .collect();
    let ck = checkpoint::load(path, &expected).map_err(WeightsError::Checkpoint)?;
    if let Some(this) = source_hash {
        match ck.metadata.get("source_sha256") {
            None => {
                return Err(WeightsError::NoSourceHash {
                    path: path.to_path_buf(),
                });
            }
            Some(trained) if trained != this => {
                return Err(WeightsError::OtherSource {
                    path: path.to_path_buf(),
                    trained: trained.clone(),
                    this: this.to_string(),
                });
            }
            Some(_) => {}
        }
    }
    let params: Vec<Tensor> = ck
        .params
        .iter()
        .zip(&inst.slots)
        .map(|(p, s)| Tensor::new(s.shape.clone(), p.data.to_f64()))
        .collect();
    for (p, s) in params.iter().zip(&inst.slots) {
        if let Some(index) = first_non_finite(&p.data) {
            return Err(WeightsError::NonFinite {
                path: path.to_path_buf(),
                name: s.name.clone(),
                index,
                value: p.data[index],
            });
        }
    }
    Ok(params)
}
