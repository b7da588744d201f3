//! Groups and monoids given by generators, their actions on tensor spaces,
//! and the solver that derives the basis of equivariant linear maps.
//!
//! The crate knows nothing of CDL syntax: it takes groups and spaces as plain
//! data and returns a [`Basis`] (the `Tying` of a parameter). The compiler
//! resolves names, then calls, in order:
//!
//! 1. [`Group`] constructors (`Group::symmetric(5)`, `Group::perms(…)`, …);
//! 2. [`action`] for each `space NAME = R[…] under G by ACTION`, and
//!    [`Space::tensor`], [`Space::direct_sum`], [`Space::power`] for `*`, `+`, `^k`;
//! 3. [`equivariant`] and [`invariant`] for each parameter, then
//!    [`Basis::expand_f32`] / [`Basis::project_f32`] to move between
//!    coefficients and dense weights, [`Basis::init_std`] to initialise and
//!    [`Basis::render`] for `--emit tying`;
//! 4. [`Space::classify`] for the static rules of §5.4, and [`Element::random`]
//!    with [`Space::act`] for `check --numeric`.
//!
//! Nothing here enumerates group elements, inverts a generator, or looks an
//! answer up: every basis is computed from the generators.
#![warn(missing_docs)]

mod action;
mod basis;
mod elementwise;
mod group;
mod limits;
mod linmap;
mod number;
mod print;
mod sample;
mod solve;
mod space;

#[cfg(test)]
mod tests;

pub use action::{ACTIONS, ActionError, action};
pub use basis::{Basis, DenseInit, Method, Pattern, SingularGap};
pub use group::{Group, GroupError, GroupKind, MatrixGenerator, PermGenerator};
pub use limits::{MAX_KEPT, MAX_PAIRS, MAX_POINTS};
pub use linmap::{LinMap, Monomial, NONE, Sparse};
pub use number::{Number, Rational};
pub use sample::{Element, Rng, Step};
pub use solve::{SolveError, equivariant, invariant};
pub use space::{ActionClass, Axis, DiscreteClass, Metric, Space, SpaceError, show_shape};
