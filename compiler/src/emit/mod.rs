//! Printers for the stages a user can look at with `--emit`.

pub mod ast;
pub mod types;
