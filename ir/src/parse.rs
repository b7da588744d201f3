//! The reader of the IR's text form: what `print::print_module` writes,
//! read back into a `Module`.
//!
//! The text is line-structured: data-type declarations (`data0 ...`), then
//! bases (`basis0 ...` with one line per element), then functions. Blank
//! lines and lines starting with `;` are skipped, so test files can carry
//! comments and headers. Values keep their printed numbers, which makes
//! `print_module(&module(&print_module(m))?)` equal `print_module(m)` for
//! every verified module. Every function read is put through the verifier;
//! a text that does not verify is refused like a malformed one.
//!
//! A function printed alone (`print_function`, `cdlc FILE --emit ir`) is a
//! module text without declarations, so it reads back when it names no
//! data type and no basis.
//!
//! Errors give the line and column and say what was expected and what was
//! found.

use std::fmt;

use crate::ir::Module;

mod cursor;
mod decls;
mod function;
mod ops;

use cursor::Line;

/// A malformed text: where, and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// The 1-based line.
    pub line: usize,
    /// The 1-based column (in characters, indentation included).
    pub column: usize,
    /// What was expected and what was found.
    pub message: String,
}

impl ParseError {
    fn new(line: usize, column: usize, message: impl Into<String>) -> ParseError {
        ParseError {
            line,
            column,
            message: message.into(),
        }
    }

    fn expected(line: usize, column: usize, expected: &str, found: &str) -> ParseError {
        ParseError::new(line, column, format!("expected {expected}, found {found}"))
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.message
        )
    }
}

impl std::error::Error for ParseError {}

/// Reads a module from its text form.
pub fn module(text: &str) -> Result<Module, ParseError> {
    let lines = lines(text);
    let mut module = Module::new();
    let mut names = decls::DataNames::default();
    let mut i = 0;
    while let Some(line) = lines.get(i) {
        if line.text.starts_with("data") {
            decls::read_data(*line, &mut module, &mut names)?;
            i += 1;
        } else if line.text.starts_with("basis") {
            i += decls::read_basis(&lines[i..], &mut module, &names)?;
        } else {
            break;
        }
    }
    while i < lines.len() {
        let (func, used) = function::read_function(&lines[i..], &module, &names)?;
        module.functions.push(func);
        i += used;
    }
    Ok(module)
}

/// The lines that carry text, with their numbers and indentation.
fn lines(text: &str) -> Vec<Line<'_>> {
    text.lines()
        .enumerate()
        .filter_map(|(i, raw)| {
            let trimmed = raw.trim_start();
            let text = trimmed.trim_end();
            if text.is_empty() || text.starts_with(';') {
                return None;
            }
            Some(Line {
                no: i + 1,
                indent: raw[..raw.len() - trimmed.len()].chars().count(),
                text,
            })
        })
        .collect()
}

/// A shape as the text writes a tensor type.
fn shape_text(shape: &[usize]) -> String {
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    if dims.is_empty() {
        "R".to_string()
    } else {
        format!("R[{}]", dims.join(", "))
    }
}

#[cfg(test)]
mod tests;
