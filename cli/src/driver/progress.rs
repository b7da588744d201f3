//! Training's progress on standard error: a line of text per event for
//! people, or, under `--message-format json`, one JSON object per event
//! with a `"kind"` field (`docs/errors.md`, "JSON output"), so that a
//! reader of standard error parses every line.

use std::io::IsTerminal;
use std::path::Path;

use cdlc_runtime::report::EpochMetrics;
use serde_json::{Value, json};

use super::report;
use super::train::Summary;
use crate::MessageFormat;

/// One event of a training run.
pub enum Event<'a> {
    /// Training starts: the model, the backend and the parameter count.
    Start {
        /// The model's name.
        model: &'a str,
        /// The backend's name (`jit`, `interpreter`).
        backend: &'a str,
        /// Parameters in all slots.
        parameters: usize,
        /// Parameter slots.
        slots: usize,
    },
    /// An epoch completed.
    Epoch {
        /// Its metrics.
        row: &'a EpochMetrics,
        /// The epochs of the run.
        epochs: usize,
        /// Training examples per second in this epoch.
        rate: f64,
    },
    /// The run ended: all epochs, or an interruption.
    Finished(&'a Summary),
}

impl Event<'_> {
    /// The line printed for people.
    pub fn text(&self) -> String {
        match self {
            Event::Start {
                model,
                backend,
                parameters,
                slots,
            } => {
                format!("training `{model}` ({backend}): {parameters} parameters in {slots} slots")
            }
            Event::Epoch { row, epochs, rate } => epoch_text(row, *epochs, *rate),
            Event::Finished(s) if s.interrupted => format!(
                "interrupted: kept the {} completed epoch(s) in {}",
                s.rows.len(),
                s.out.display()
            ),
            Event::Finished(s) if s.rows.is_empty() => {
                "no epoch ran; nothing was written".to_string()
            }
            Event::Finished(s) => {
                format!("trained in {:.1} s; wrote {}", s.seconds, s.out.display())
            }
        }
    }

    /// The JSON object printed under `--message-format json`.
    pub fn json(&self) -> Value {
        match self {
            Event::Start {
                model,
                backend,
                parameters,
                slots,
            } => json!({
                "kind": "training",
                "model": model,
                "backend": backend,
                "parameters": parameters,
                "slots": slots,
            }),
            Event::Epoch { row, epochs, rate } => json!({
                "kind": "epoch",
                "epoch": row.epoch,
                "epochs": epochs,
                "train_loss": row.train_loss,
                "val_loss": row.val_loss,
                "val_accuracy": row.val_accuracy,
                "examples_per_second": rate,
            }),
            Event::Finished(s) => json!({
                "kind": "finished",
                "epochs": s.rows.len(),
                "interrupted": s.interrupted,
                // Tenths of a second, as the text prints them.
                "seconds": (s.seconds * 10.0).round() / 10.0,
                "out": (!s.rows.is_empty()).then(|| path_text(&s.out)),
            }),
        }
    }

    /// The event as the chosen format prints it: a line without its
    /// newline.
    pub fn line(&self) -> String {
        match report::format() {
            MessageFormat::Human => self.text(),
            MessageFormat::Json => self.json().to_string(),
        }
    }
}

/// Prints an event on standard error.
pub fn emit(event: &Event) {
    eprintln!("{}", event.line());
}

/// Whether training draws a progress bar: on a terminal, for people.
pub fn bar_wanted() -> bool {
    std::io::stderr().is_terminal() && report::format() == MessageFormat::Human
}

/// `epoch   3/10  train_loss 0.12345  val_loss ...  1234 ex/s`.
fn epoch_text(r: &EpochMetrics, epochs: usize, rate: f64) -> String {
    let mut s = format!(
        "epoch {:>3}/{epochs}  train_loss {:.5}",
        r.epoch, r.train_loss
    );
    if let Some(v) = r.val_loss {
        s += &format!("  val_loss {v:.5}");
    }
    if let Some(a) = r.val_accuracy {
        s += &format!("  val_accuracy {:.2}%", 100.0 * a);
    }
    s + &format!("  {rate:.0} ex/s")
}

fn path_text(p: &Path) -> String {
    p.display().to_string()
}
