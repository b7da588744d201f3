//! The typed tensor IR: one function per model, written for one example.
#![warn(missing_docs)]
