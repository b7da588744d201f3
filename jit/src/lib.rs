//! The Cranelift JIT: batched kernels for the forward function, the
//! training step (forward, backward, update) of a model.
#![warn(missing_docs)]
