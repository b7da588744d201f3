//! `cdlc fmt`: the canonical layout of a CDL program.
//!
//! `format` is a pure function from source text to formatted text. It works
//! on the token stream with its comments, not on the syntax tree, so that
//! every comment stays where it was written and no construct can be
//! dropped: the output holds exactly the input's tokens, in order, with the
//! same spelling. What changes is the space between them (`layout.rs` and
//! `spacing.rs` give the rules). The author's line breaks are kept, as
//! `gofmt` keeps them (except inside a `{ … }` spanning several lines, whose
//! contents get lines of their own), and a line wider than 100 columns is
//! broken after `>>` or between arguments and tuple fields (`breaking.rs`);
//! two programs that differ only in spacing, indentation or alignment
//! format to the same text.
//!
//! A file with syntax errors is refused: its tree is not known, so the
//! formatter cannot promise to keep it. Every result is checked before it is
//! returned: the output must parse to the same tree (positions aside) as the
//! input, or `format` refuses with `FormatError::TreeChanged` instead of
//! returning a program with another meaning.

mod breaking;
mod layout;
pub mod pieces;
mod spacing;
mod tree;

pub use breaking::WIDTH;
pub use tree::same_tree;

use cdlc_grammar::{FileId, SyntaxError};

/// Why a program could not be formatted.
#[derive(Clone, Debug, PartialEq)]
pub enum FormatError {
    /// The program does not parse; its syntax errors, in source order.
    Syntax(Vec<SyntaxError>),
    /// The formatted text would parse to another tree. This is a bug in the
    /// formatter, reported instead of returning the changed program.
    TreeChanged,
}

/// Formats a whole program, or refuses (see the module documentation).
pub fn format(src: &str) -> Result<String, FormatError> {
    let (before, errors) = cdlc_grammar::parse(FileId(0), src);
    if !errors.is_empty() {
        return Err(FormatError::Syntax(errors));
    }
    let out = layout::layout(src, &pieces::pieces(src));
    let (after, errors) = cdlc_grammar::parse(FileId(0), &out);
    if !errors.is_empty() || !same_tree(&before, &after) {
        return Err(FormatError::TreeChanged);
    }
    Ok(out)
}
