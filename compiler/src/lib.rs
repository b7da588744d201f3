//! The CDL compiler as a library: text in, checked program and diagnostics out.
//!
//! The library does no IO; the `cdlc` binary (`main.rs`) reads files, prints
//! and calls the runtime to train.
#![warn(missing_docs)]
