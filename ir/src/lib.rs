//! The typed tensor IR: one function per model, written for one example.
//!
//! - `ir`: the data (modules, functions, blocks, values, ops, types);
//! - `builder`: `FunctionBuilder`, how front ends and passes build functions;
//! - `infer`: each op's typing rule;
//! - `print`: the stable text form; `parse`: its reader;
//! - `verify`: the verifier every stage's output must pass;
//! - `autodiff`: reverse derivatives, forward function → training function;
//! - `interp`: the reference interpreter (f64 and f32), the JIT's oracle;
//! - `passes`: module transformations (`passes::hoist`); `live`: which ops
//!   of a block its result depends on (`Function::live_insts`);
//!   `recomputed`: which values of a backward region recompute its forward
//!   region's (`Function::recomputed`);
//! - `gradcheck`: reverse derivatives against finite differences;
//! - `entity`: typed `u32` handles, arenas and side tables; `rng`: a seeded
//!   generator for checks and tests.
//!
//! `docs/ir.md` describes the ops, the recursion-scheme regions and the
//! builder API.
#![warn(missing_docs)]

pub mod autodiff;
pub mod builder;
pub mod entity;
pub mod example_error;
pub mod gradcheck;
pub mod infer;
pub mod interp;
pub mod ir;
pub mod jvp;
mod live;
mod nested;
pub mod parse;
pub mod passes;
pub mod print;
mod recomputed;
pub mod rng;
pub mod verify;

#[cfg(any(test, feature = "test-models"))]
pub mod testmodels;

pub use builder::FunctionBuilder;
pub use ir::*;
