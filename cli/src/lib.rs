//! The parts of the `cdlc` command line that other crates drive in-process:
//! the language server's message loop, which the fuzzer feeds arbitrary
//! input through its reader and writer.

pub mod lsp;
