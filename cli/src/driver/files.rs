//! E0616: a file the command line reads or writes (a program, an output
//! file, a standard stream) that cannot be read or written. Data files
//! (E0603), weights (E0607) and the training output folder (E0608) have
//! codes of their own. The wording lives here.

use cdlc::diagnostics::Diagnostic;
use std::path::{Path, PathBuf};

/// A file or stream that could not be used.
#[derive(Debug)]
pub enum FileError {
    /// A program or folder of programs that cannot be read.
    Read {
        /// The path, as given.
        path: PathBuf,
        /// The system's reason.
        error: String,
    },
    /// An output file that cannot be written.
    Write {
        /// The path, as given.
        path: PathBuf,
        /// The system's reason.
        error: String,
    },
    /// A standard stream that cannot be used (`standard output`, or the
    /// language server's connection).
    Stream {
        /// Which stream, in words.
        what: &'static str,
        /// The system's reason.
        error: String,
        /// What to do about it.
        help: &'static str,
    },
}

impl FileError {
    /// A file that cannot be read.
    pub fn read(path: &Path, error: impl ToString) -> FileError {
        FileError::Read {
            path: path.to_path_buf(),
            error: error.to_string(),
        }
    }

    /// A file that cannot be written.
    pub fn write(path: &Path, error: impl ToString) -> FileError {
        FileError::Write {
            path: path.to_path_buf(),
            error: error.to_string(),
        }
    }

    /// The error as E0616.
    pub fn to_diagnostic(&self) -> Diagnostic {
        match self {
            FileError::Read { path, error } => Diagnostic::error_without_span(
                "E0616",
                format!("cannot read {}: {error}", path.display()),
            )
            .with_help("check the path, and that the file exists and is readable"),
            FileError::Write { path, error } => Diagnostic::error_without_span(
                "E0616",
                format!("cannot write {}: {error}", path.display()),
            )
            .with_help("choose another path, or create its folder and make it writable"),
            FileError::Stream { what, error, help } => {
                Diagnostic::error_without_span("E0616", format!("cannot use {what}: {error}"))
                    .with_help(*help)
            }
        }
    }
}
