//! The cdlc runtime: what compiled kernels and the training driver call into.
//!
//! It knows nothing of the compiler or the grammar and is tested alone.
//!
//! - `value`: examples, their values and the types that describe them.
//! - `data`: the built-in synthetic data sets and the jsonl, csv and npy
//!   readers, all checked against the model's types; the benchmark's
//!   SplitMix64 generator.
//! - `loss`, `optim`: losses with their gradients, and optimizers, in f32
//!   and f64 (`float`).
//! - `gemm`: matrix products with a C ABI for JIT code.
//! - `threads`: the second thread a training step may split its work with.
//! - `init`: parameter initialisers drawn from the run's seed.
//! - `schedule`: level schedules for batched folds over lists and trees.
//! - `checkpoint`, `report`: safetensors weights, `metrics.csv` and
//!   `loss.svg`, all written atomically.
#![warn(missing_docs)]

pub mod checkpoint;
pub mod data;
pub mod float;
pub mod gemm;
pub mod init;
pub mod loss;
pub mod optim;
pub mod report;
pub mod rng;
pub mod schedule;
pub mod threads;
pub mod value;
