//! The cdlc runtime: what compiled kernels and the training driver call into.
//!
//! It knows nothing of the compiler or the grammar and is tested alone.
#![warn(missing_docs)]

pub mod checkpoint;
pub mod data;
pub mod float;
pub mod gemm;
pub mod loss;
pub mod optim;
pub mod report;
pub mod schedule;
pub mod value;
