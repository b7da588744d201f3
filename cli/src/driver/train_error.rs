//! Everything that stops a training run, as data, and the one function
//! that words it (`TrainError::to_diagnostic`): E0602, E0603, E0606,
//! E0608, E0609, E0610 and E0618, each at the train block (a refused
//! example is worded by `refusal::diagnostic`, which `cdlc run` shares).

use super::refusal::{self, Refusal, Which};
use super::write_error::WriteError;
use cdlc::check::TrainSetup;
use cdlc::diagnostics::Diagnostic;
use cdlc::equivariance::measure::MeasureError;
use cdlc_grammar::Span;
use cdlc_runtime::data::Origin;
use std::path::{Path, PathBuf};

/// Why a run stopped.
#[derive(Debug)]
pub enum TrainError {
    /// The data stage's diagnostic (the data cannot be read, or does not
    /// fit the model).
    Data(Diagnostic),
    /// The loss gives no target type for the model's output (the checker
    /// reports E0602 first, so only a program it let through gets here).
    LossUnfit,
    /// Ctrl-C while a synthetic data set was being generated.
    Interrupted,
    /// `split` leaves one side empty.
    Split {
        /// Why, as `cdlc::training::split_problem` words it.
        problem: String,
    },
    /// `--augment G` names no group acting on the model's inputs.
    Augment(MeasureError),
    /// The output folder cannot be created or written.
    OutputFolder {
        /// The folder.
        path: PathBuf,
        /// The system's reason.
        error: std::io::Error,
    },
    /// An epoch's files cannot be written.
    EpochWrite {
        /// The epoch, from 1.
        epoch: usize,
        /// The folder.
        path: PathBuf,
        /// Which part failed, and why.
        error: WriteError,
    },
    /// A loss, gradient or weight became NaN or infinite.
    NonFinite {
        /// The epoch, from 1.
        epoch: usize,
        /// What became non-finite, in words.
        what: String,
        /// The folder and the last epoch it keeps, if one completed.
        kept: Option<(PathBuf, usize)>,
    },
    /// An example the model cannot run or the loss cannot score.
    Example {
        /// Where it came from (its file and line, its row of an array, or
        /// its number among generated examples), when one example alone
        /// fails.
        origin: Option<Origin>,
        /// Why, as the backend reports it.
        problem: Refusal,
    },
}

impl TrainError {
    /// The error as a diagnostic at `setup`'s train block.
    pub fn to_diagnostic(&self, setup: &TrainSetup) -> Diagnostic {
        let model = setup.model_span;
        match self {
            TrainError::Data(d) => d.clone(),
            TrainError::LossUnfit => Diagnostic::error(
                "E0602",
                format!(
                    "`{}` does not fit the output of `{}`: it gives no target type",
                    setup.loss.name(),
                    setup.model_name
                ),
                model,
                "training this model",
            )
            .with_help("choose a loss that fits the model's output"),
            TrainError::Interrupted => Diagnostic::error(
                "E0618",
                "interrupted while the data set was being generated; nothing was trained or written",
                setup.data_span,
                "generating this data set",
            )
            .with_help("run again and let the data set be generated, or give a smaller one"),
            TrainError::Split { problem } => {
                Diagnostic::error("E0609", problem.as_str(), setup.data_span, "this data")
                    .with_help("give more examples, or a `split` that leaves some on both sides")
            }
            TrainError::Augment(e) => e.to_diagnostic(model),
            TrainError::OutputFolder { path, error } => Diagnostic::error(
                "E0608",
                format!("cannot write the output folder {}: {error}", path.display()),
                model,
                "training this model",
            )
            .with_help("choose another folder with `--out DIR`, or make this one writable"),
            TrainError::EpochWrite { epoch, path, error } => {
                epoch_write(*epoch, path, error, model)
            }
            TrainError::NonFinite { epoch, what, kept } => non_finite(*epoch, what, kept, setup),
            TrainError::Example { origin, problem } => {
                let which = origin.clone().map_or(Which::Batch, Which::Example);
                refusal::diagnostic(which, problem, Some(setup.data_span))
            }
        }
    }
}

/// E0608: an epoch's files could not be written. The file system's
/// refusals are met by free space or another folder; the weights or the
/// plot failing is the run's own fault, which no folder fixes.
fn epoch_write(epoch: usize, path: &Path, error: &WriteError, model: Span) -> Diagnostic {
    let d = Diagnostic::error(
        "E0608",
        format!(
            "cannot write epoch {epoch} into {}: {}",
            path.display(),
            error.reason()
        ),
        model,
        "training this model",
    )
    .with_note("the folder keeps the last epoch that was written completely");
    if error.is_file_system() {
        d.with_help("free space or choose another folder with `--out DIR`, then train again")
    } else {
        d.with_help(
            "this is not a file system problem: report it with the program, \
             since another folder would fail the same way",
        )
    }
}

/// E0606: training stopped on NaN or infinity.
fn non_finite(
    epoch: usize,
    what: &str,
    kept: &Option<(PathBuf, usize)>,
    setup: &TrainSetup,
) -> Diagnostic {
    let kept = match kept {
        Some((out, last)) => format!(
            "{} keeps epoch {last}, the last with finite weights",
            out.display()
        ),
        None => "no epoch completed, so nothing was written".to_string(),
    };
    Diagnostic::error(
        "E0606",
        format!("training stopped in epoch {epoch}: {what}"),
        setup.model_span,
        "training this model",
    )
    .with_note(kept)
    .with_help(format!(
        "lower the learning rate (this run used {}), or look for huge values in the data",
        setup.optim
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cdlc_runtime::checkpoint::CheckpointError;
    use cdlc_runtime::report::ReportError;

    fn worded(error: WriteError) -> Diagnostic {
        let span = Span::new(cdlc_grammar::FileId(0), 0, 1);
        epoch_write(3, Path::new("out/net"), &error, span)
    }

    #[test]
    fn a_refused_file_asks_for_space_or_another_folder() {
        let d = worded(WriteError::Files(std::io::Error::new(
            std::io::ErrorKind::StorageFull,
            "no space left on device",
        )));
        assert_eq!(d.code, "E0608");
        assert_eq!(
            d.message,
            "cannot write epoch 3 into out/net: no space left on device"
        );
        assert!(d.help.as_deref().unwrap().contains("--out DIR"), "{d:?}");
    }

    #[test]
    fn the_weights_or_the_plot_failing_is_not_blamed_on_the_folder() {
        let weights = worded(WriteError::Weights(Box::new(
            CheckpointError::InvalidParam {
                name: "dense.W".to_string(),
                message: "6 values for shape [2, 2]".to_string(),
            },
        )));
        assert_eq!(
            weights.message,
            "cannot write epoch 3 into out/net: cannot write parameter `dense.W`: \
             6 values for shape [2, 2]"
        );
        let plot = worded(WriteError::Plot(ReportError::Plot("no data".to_string())));
        assert_eq!(
            plot.message,
            "cannot write epoch 3 into out/net: cannot draw the loss curve: no data"
        );
        for d in [weights, plot] {
            let help = d.help.as_deref().unwrap();
            assert!(
                help.contains("not a file system problem") && !help.contains("--out"),
                "{help}"
            );
        }
    }
}
