//! The parts of the `cdlc` command line that touch files, the terminal and
//! the runtime: training, running and gradient checking.

pub mod bench;
pub mod data;
pub mod export;
pub mod fallback;
pub mod files;
pub mod fmt;
pub mod grad;
pub mod gradcheck;
pub mod hoist;
pub mod internal;
pub mod measure;
pub mod memory;
pub mod notes;
pub mod plan;
pub mod progress;
pub mod refusal;
pub mod report;
pub mod run;
pub mod stdout;
pub mod train;
pub mod train_error;
pub mod trainer;
pub mod usage;
pub mod weights;
pub mod write_data;
pub mod write_error;

/// The SHA-256 of a program's text, in hex: checkpoints record it, and
/// `cdlc run` refuses weights trained from another source.
pub fn source_hash(text: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
