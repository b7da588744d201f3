//! The CDL compiler as a library: text in, checked program and diagnostics
//! out.
//!
//! The library does no IO; the `cdlc` binary (`main.rs`) reads files,
//! prints, and calls the runtime to train. The pipeline reads top to bottom
//! in `compile`.
#![warn(missing_docs)]

pub mod check;
pub mod diagnostics;
pub mod emit;
pub mod resolve;
pub mod source;

use cdlc_grammar::FileId;
use diagnostics::{Diagnostic, Severity};
use source::Sources;

/// Everything one compilation produced.
#[derive(Debug)]
pub struct Compilation {
    /// The source texts (the user's file first, then library modules).
    pub sources: Sources,
    /// The user's file.
    pub file: FileId,
    /// The parsed and named program.
    pub program: resolve::Program,
    /// The checked program.
    pub checked: check::Checked,
    /// Every problem found, in source order.
    pub diagnostics: Vec<Diagnostic>,
}

impl Compilation {
    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error)
    }
}

/// Parses, names and checks one program.
pub fn compile(name: &str, text: &str) -> Compilation {
    let mut sources = Sources::new();
    let file = sources.add(name, text);
    let mut diags = Vec::new();
    let program = resolve::resolve(&mut sources, file, &mut diags);
    let checked = check::check(&program, &mut diags);
    diags.sort_by_key(|d| (d.span().file != file, d.span().file, d.span().start));
    Compilation {
        sources,
        file,
        program,
        checked,
        diagnostics: diags,
    }
}
