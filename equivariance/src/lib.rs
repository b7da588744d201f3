//! Groups and monoids given by generators, their actions on tensor spaces,
//! and the solver that derives the basis of equivariant linear maps.
//!
//! The crate knows nothing of CDL syntax: it takes groups and spaces as plain
//! data and returns a `Tying`.
#![warn(missing_docs)]
