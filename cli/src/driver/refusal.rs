//! Why a backend would not run a batch (`Refusal`), and the one function
//! that words a refused example as E0603 for training, `cdlc grad`,
//! `cdlc bench` and `cdlc run` alike (`diagnostic`).
//!
//! The interpreter and the JIT report a refused example as the same
//! `ExampleError` (both check examples with the runtime's data checker
//! first, and name what only running shows, an empty list split `by
//! halves` or targets of another length, by the same variants), so the
//! diagnostic depends on the example and not on the backend.

use cdlc::diagnostics::Diagnostic;
use cdlc_grammar::Span;
use cdlc_ir::example_error::ExampleError;
use cdlc_ir::interp::InterpError;
use cdlc_jit::JitError;
use cdlc_runtime::data::{Location, Origin};
use cdlc_runtime::loss::LossError;
use cdlc_runtime::schedule::ScheduleError;

/// Why a batch could not be run or scored.
#[derive(Clone, Debug, PartialEq)]
pub enum Refusal {
    /// An example does not fit the model or cannot be run.
    Example(ExampleError),
    /// The loss refused an output of the model (found when outputs are
    /// scored outside a training step: validation).
    Loss(LossError),
    /// A failure of the backend itself, in its words: a bug.
    Internal(String),
}

impl From<JitError> for Refusal {
    fn from(e: JitError) -> Refusal {
        match e {
            JitError::Data(e) => Refusal::Example(e),
            other => Refusal::Internal(other.to_string()),
        }
    }
}

impl From<InterpError> for Refusal {
    fn from(e: InterpError) -> Refusal {
        match e {
            InterpError::Example(e) => Refusal::Example(e),
            InterpError::Internal(m) => Refusal::Internal(m),
        }
    }
}

impl From<ScheduleError> for Refusal {
    /// The runtime's refusal to schedule checked examples: too many nodes
    /// is the batch's problem, anything else a bug (as in the JIT).
    fn from(e: ScheduleError) -> Refusal {
        match e {
            ScheduleError::TooLarge => Refusal::Example(ExampleError::TooManyNodes),
            other => Refusal::Internal(other.to_string()),
        }
    }
}

/// Which examples a refusal is about, for the message.
pub enum Which<'a> {
    /// One example of the train block's data, named where it came from.
    Example(Origin),
    /// A batch of the train block's data, when no example alone fails.
    Batch,
    /// One input of an inputs file, named by its line.
    Input(Origin),
    /// A batch of an inputs file.
    InputBatch(&'a str),
}

impl Which<'_> {
    fn subject(&self) -> String {
        match self {
            Which::Example(o) => named("example", o),
            Which::Batch => "a batch of the data".to_string(),
            Which::Input(o) => named("input", o),
            Which::InputBatch(file) => format!("a batch of the inputs of {file}"),
        }
    }

    fn counting(&self) -> &'static str {
        match self {
            Which::Example(o) | Which::Input(o) => o.counting(),
            Which::Batch => "examples are counted from 0 in the order of the data",
            Which::InputBatch(_) => "inputs are counted from 1; blank lines are not inputs",
        }
    }
}

/// `the example on line 7 of d.jsonl`, `example 3 of x.npy`, `synthetic
/// example 3` (and `input` for `example` in an inputs file).
fn named(what: &str, o: &Origin) -> String {
    match (&o.file, o.at) {
        (Some(_), Location::Line(_)) => format!("the {what} on {o}"),
        _ => o.to_string(),
    }
}

/// The refusal as a diagnostic: E0603 for the data, at `span` (the train
/// block's `data` option) when there is one, or E0619 for a bug.
pub fn diagnostic(which: Which<'_>, problem: &Refusal, span: Option<Span>) -> Diagnostic {
    let e = match problem {
        Refusal::Internal(m) => return super::internal::diagnostic(m),
        Refusal::Loss(l) => return worded(&which, l.to_string(), None, HELP, span),
        Refusal::Example(e) => e,
    };
    let (short, help) = match e {
        ExampleError::Input(m) => (
            Some(format!("expected {} at {}", m.expected, m.path)),
            format!(
                "correct the input at `{}`, or change the model's input type",
                m.path
            ),
        ),
        ExampleError::Target(m) => (
            Some(format!("expected {} at {}", m.expected, m.path)),
            format!("correct the target at `{}`, or choose another loss", m.path),
        ),
        ExampleError::EmptyHalves => (
            Some("an empty list split `by halves`".to_string()),
            "give a list of at least one element, or fold lists that may be empty \
             without `by halves`"
                .to_string(),
        ),
        ExampleError::TargetLength { outputs, targets } => (
            Some(format!("{targets} targets for {outputs} outputs")),
            "give as many targets as the model's `unfold ... take k` gives outputs, \
             or change `k`"
                .to_string(),
        ),
        ExampleError::TooManyNodes => (
            None,
            "train with a smaller `batch`, or on smaller structures".to_string(),
        ),
    };
    worded(&which, e.to_string(), short, &help, span)
}

/// The general help for a refused example.
const HELP: &str = "remove or correct the example, or change the model so that it accepts it";

/// E0603: `which` cannot be used because of `reason`, labelled at `span`
/// with `short` when there is a span.
fn worded(
    which: &Which<'_>,
    reason: String,
    short: Option<String>,
    help: &str,
    span: Option<Span>,
) -> Diagnostic {
    let subject = which.subject();
    let message = format!("{subject} cannot be used: {reason}");
    let d = match span {
        Some(span) => {
            // The label sits at the data option: its place in that data.
            let place = match which {
                Which::Example(o) => format!("{} of this data", o.at),
                _ => subject.clone(),
            };
            let label = match short {
                Some(s) => format!("{place}: {s}"),
                None => place,
            };
            Diagnostic::error("E0603", message, span, label)
        }
        None => Diagnostic::error_without_span("E0603", message),
    };
    d.with_note(which.counting()).with_help(help)
}

#[cfg(test)]
mod tests;
