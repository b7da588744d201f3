//! The CDL compiler as a library: text in, checked program and diagnostics
//! out.
//!
//! The library does no IO; the `cdlc` binary (`main.rs`) reads files,
//! prints, and calls the runtime to train. The pipeline reads top to bottom
//! in `compile`.
#![warn(missing_docs)]

pub mod builtins;
pub mod check;
pub mod diagnostics;
pub mod emit;
pub mod equivariance;
pub mod export;
pub mod format;
pub mod hir;
pub mod inlining;
pub mod instantiate;
pub mod resolve;
pub mod source;
pub mod training;

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
    /// The derived weight tying of every equivariant and invariant parameter.
    pub tyings: equivariance::Tyings,
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
    inlining::check(file, sources.text(file), &mut diags);
    let tyings = equivariance::analyse(&program, &checked, &sources, &mut diags);
    diags.sort_by_key(|d| (d.span().file != file, d.span().file, d.span().start));
    diagnostics::cap(&mut diags);
    Compilation {
        sources,
        file,
        program,
        checked,
        tyings,
        diagnostics: diags,
    }
}

/// The train block `--train NAME` selects (by its model's name), or the
/// first one; `None` when there is no such block.
pub fn train_block<'c>(c: &'c Compilation, name: Option<&str>) -> Option<&'c check::TrainSetup> {
    match name {
        Some(name) => c.checked.trains.iter().find(|t| t.model_name == name),
        None => c.checked.trains.first(),
    }
}

/// The model a command works on: `--entry NAME`, else the first train
/// block's model, else the only model.
pub fn entry_model(c: &Compilation, entry: Option<&str>) -> Result<resolve::ItemId, String> {
    use cdlc_grammar::ast::{DefKind, ItemKind};
    let is_model = |id: resolve::ItemId| matches!(&c.program.item(id).kind, ItemKind::Def(d) if d.kind == DefKind::Model);
    if let Some(name) = entry {
        return c
            .program
            .lookup(name)
            .filter(|id| is_model(*id) && c.checked.defs.contains_key(id))
            .ok_or_else(|| format!("`{name}` is not a model of this program"));
    }
    if let Some(t) = c.checked.trains.first() {
        return Ok(t.model);
    }
    let models: Vec<resolve::ItemId> = c
        .program
        .item_ids()
        .filter(|id| c.program.is_user_item(*id) && is_model(*id))
        .collect();
    match models.as_slice() {
        [one] => Ok(*one),
        [] => Err("this program declares no model".to_string()),
        _ => Err(
            "this program declares several models and no train block: name one with `--entry NAME`"
                .to_string(),
        ),
    }
}
