//! Printing to standard output that ends quietly when the reader goes away.
//!
//! `print!` panics when standard output is a pipe whose reader has closed
//! it (`cdlc --emit ir f.cdl | head`). Everything the command line prints to
//! standard output goes through `print` instead: a closed pipe ends the
//! process at once with status 0, as nothing more can be delivered; any
//! other write error is reported (E0616) on standard error with status 1.

use std::fmt;
use std::io::{ErrorKind, Write};

/// Writes formatted text to standard output (see the module comment).
pub fn print(args: fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.flush()) {
        if e.kind() == ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        drop(out);
        let d = super::files::FileError::Stream {
            what: "standard output",
            error: e.to_string(),
            help: "write the output to a file or a pipe that has room for it",
        };
        super::report::print_on_stderr(&[d.to_diagnostic()], &cdlc::source::Sources::new());
        std::process::exit(1);
    }
}
