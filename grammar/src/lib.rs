//! Lexer, grammar and syntax tree of CDL.
#![warn(missing_docs)]

pub mod ast;
pub mod span;
