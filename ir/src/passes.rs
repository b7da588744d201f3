//! Transformations of whole modules that keep every function's values.
//!
//! - `hoist`: a fold's element-only work moved out of its algebra into a
//!   `map` over the structure, by `fold(alg ∘ F(f, id)) = fold(alg) ∘ map f`.

pub mod hoist;
