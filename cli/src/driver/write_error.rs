//! Why a training run's files could not be written, by the part that
//! failed: the weights' serialization, the loss curve, or the files
//! themselves. `TrainError::EpochWrite` carries one, and
//! `train_error.rs` words it.

use cdlc_runtime::checkpoint::CheckpointError;
use cdlc_runtime::report::ReportError;

/// Why an epoch's files could not be written.
#[derive(Debug)]
pub enum WriteError {
    /// The weights could not be laid out as a safetensors file (a slot
    /// whose values do not fill its stored shape, or a name used twice),
    /// boxed to keep the run's error small.
    Weights(Box<CheckpointError>),
    /// The loss curve could not be drawn.
    Plot(ReportError),
    /// The files could not be written or moved into place.
    Files(std::io::Error),
}

impl WriteError {
    /// The reason, as the message after "cannot write epoch N into DIR: ".
    pub fn reason(&self) -> String {
        match self {
            WriteError::Weights(e) => e.to_string(),
            WriteError::Plot(e) => e.to_string(),
            WriteError::Files(e) => e.to_string(),
        }
    }

    /// Whether the file system refused (rather than the run's own
    /// weights or plot, which no other folder would fix).
    pub fn is_file_system(&self) -> bool {
        matches!(self, WriteError::Files(_))
    }
}
