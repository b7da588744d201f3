//! `cdlc run`: prints the model's output for every input line (the
//! weights are read by `weights`), and `RunError`, what stops it once the
//! inputs have been read.

use super::refusal::{self, Refusal, Which};
use super::trainer::Trainer;
use cdlc::diagnostics::Diagnostic;
use cdlc_runtime::data::{Location, Origin};
use cdlc_runtime::value::Value;
use std::path::{Path, PathBuf};

/// An input the model cannot run on (an empty list split `by halves`).
#[derive(Debug)]
pub struct RunError {
    /// The inputs file.
    pub path: PathBuf,
    /// The input's line in the file (from 1), when one input alone fails.
    pub input: Option<usize>,
    /// Why, as the backend reports it.
    pub problem: Refusal,
}

impl RunError {
    /// The error as E0603, the code of data that does not fit the model.
    pub fn to_diagnostic(&self) -> Diagnostic {
        let file = self.path.display().to_string();
        let which = match self.input {
            Some(line) => Which::Input(Origin {
                file: Some(self.path.clone()),
                at: Location::Line(line),
            }),
            None => Which::InputBatch(&file),
        };
        refusal::diagnostic(which, &self.problem, None)
    }
}

/// A model output as JSON: a tensor as nested arrays, a list as an array.
pub fn to_json(v: &Value) -> serde_json::Value {
    match v {
        Value::Tensor(t) => tensor_json(&t.shape, &t.data),
        Value::Tuple(vs) => serde_json::Value::Array(vs.iter().map(to_json).collect()),
        other => match other.as_list() {
            Some(items) => serde_json::Value::Array(items.into_iter().map(to_json).collect()),
            None => serde_json::Value::Null,
        },
    }
}

fn tensor_json(shape: &[usize], data: &[f64]) -> serde_json::Value {
    match shape {
        [] => serde_json::json!(data[0]),
        [_] => serde_json::json!(data),
        [n, rest @ ..] => {
            let k: usize = rest.iter().product();
            serde_json::Value::Array(
                (0..*n)
                    .map(|i| tensor_json(rest, &data[i * k..(i + 1) * k]))
                    .collect(),
            )
        }
    }
}

/// Runs the model on every example of `inputs` (read from `path`, input
/// `i` from line `lines[i]`) and prints one JSON line each. When a batch
/// fails, its inputs are run one by one to name the first that fails.
pub fn run(
    trainer: &mut dyn Trainer,
    inputs: &[Value],
    lines: &[usize],
    path: &Path,
) -> Result<(), RunError> {
    const CHUNK: usize = 256;
    for (k, chunk) in inputs.chunks(CHUNK).enumerate() {
        let xs: Vec<&Value> = chunk.iter().collect();
        let ys = trainer.forward(&xs).map_err(|batch| {
            let alone = chunk
                .iter()
                .enumerate()
                .find_map(|(i, x)| trainer.forward(&[x]).err().map(|m| (i, m)));
            let (input, problem) = match alone {
                Some((i, m)) => (Some(lines[k * CHUNK + i]), m),
                None => (None, batch),
            };
            RunError {
                path: path.to_path_buf(),
                input,
                problem,
            }
        })?;
        for y in ys {
            super::stdout::print(format_args!("{}\n", to_json(&y)));
        }
    }
    Ok(())
}
