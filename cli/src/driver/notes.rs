//! The one-line progress notes of `cdlc data`, `cdlc bench` and the JAX
//! exporter on standard error: a line of text for people, or, under
//! `--message-format json`, one JSON object with a `"kind"` field, as
//! training's progress (`progress.rs`), so that every line of standard
//! error parses.

use std::path::Path;

use serde_json::{Value, json};

use super::report;
use crate::MessageFormat;

/// One note of a command other than training.
pub enum Note<'a> {
    /// `cdlc data` wrote a train block's examples.
    DataWritten {
        /// How many examples.
        examples: usize,
        /// The train block's model.
        model: &'a str,
        /// The file written.
        out: &'a Path,
    },
    /// `cdlc bench` starts measuring.
    Bench {
        /// The train block's model.
        model: &'a str,
        /// Examples per step.
        examples: usize,
        /// Parameters in all slots.
        parameters: usize,
        /// Parameter slots.
        slots: usize,
        /// The optimizer, as the train block writes it.
        optim: String,
        /// The backend (`jit`, `interp`).
        backend: String,
    },
    /// `--emit jax --out` wrote the module, its data and initial weights.
    Exported {
        /// The Python module.
        module: &'a Path,
        /// How many examples were written beside it.
        examples: usize,
        /// The examples' file.
        data: &'a Path,
        /// The initial weights' file.
        weights: &'a Path,
    },
}

impl Note<'_> {
    /// The line printed for people.
    pub fn text(&self) -> String {
        match self {
            Note::DataWritten {
                examples,
                model,
                out,
            } => format!(
                "wrote {examples} examples of `{model}` to {}",
                out.display()
            ),
            Note::Bench {
                model,
                examples,
                parameters,
                slots,
                optim,
                backend,
            } => format!(
                "bench `{model}`: {examples} examples per step, {parameters} parameters in \
                 {slots} slots, {optim}, {backend} backend"
            ),
            Note::Exported {
                module,
                examples,
                data,
                weights,
            } => format!(
                "wrote {} (with {examples} examples in {} and initial weights in {})",
                module.display(),
                data.display(),
                weights.display()
            ),
        }
    }

    /// The JSON object printed under `--message-format json`.
    pub fn json(&self) -> Value {
        match self {
            Note::DataWritten {
                examples,
                model,
                out,
            } => json!({
                "kind": "data_written",
                "model": model,
                "examples": examples,
                "out": out.display().to_string(),
            }),
            Note::Bench {
                model,
                examples,
                parameters,
                slots,
                optim,
                backend,
            } => json!({
                "kind": "bench",
                "model": model,
                "examples": examples,
                "parameters": parameters,
                "slots": slots,
                "optim": optim,
                "backend": backend,
            }),
            Note::Exported {
                module,
                examples,
                data,
                weights,
            } => json!({
                "kind": "exported",
                "module": module.display().to_string(),
                "examples": examples,
                "data": data.display().to_string(),
                "weights": weights.display().to_string(),
            }),
        }
    }
}

/// Prints a note on standard error in the run's message format.
pub fn emit(note: &Note) {
    match report::format() {
        MessageFormat::Human => eprintln!("{}", note.text()),
        MessageFormat::Json => eprintln!("{}", note.json()),
    }
}
