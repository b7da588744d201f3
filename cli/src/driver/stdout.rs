//! Printing to standard output that ends quietly when the reader goes away.
//!
//! `print!` panics when standard output is a pipe whose reader has closed
//! it (`cdlc --emit ir f.cdl | head`). Everything the command line prints to
//! standard output goes through `print` instead: a closed pipe ends the
//! process at once with status 0, as nothing more can be delivered; any
//! other write error is reported on standard error with status 1.

use std::fmt;
use std::io::{ErrorKind, Write};

/// Writes formatted text to standard output (see the module comment).
pub fn print(args: fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.flush()) {
        if e.kind() == ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to standard output: {e}");
        std::process::exit(1);
    }
}
