//! Elementwise facts about an action, for the static proofs of §5.4.
//!
//! Two questions the prover asks of a space besides its class:
//!
//! - does every generator fix the constant vectors (`ρ(g) 1 = 1` for the
//!   discrete generators, `dρ(ξ) 1 = 0` for the Lie generators)? Then a
//!   value that does not vary along the space's axes may be broadcast over
//!   them and added to a value of the space: `g·(x + c·1) = g·x + c·1`.
//!   Permutations fix `1`; the truncating shift and rotations do not.
//! - if two spaces act by monomial maps that move coordinates alike,
//!   which action do elementwise products `a ⊙ b` carry? With
//!   `(g·a)[i] = s[i] a[π(i)]` and `(g·b)[i] = t[i] b[π(i)]`,
//!   `(g·a ⊙ g·b)[i] = s[i] t[i] (a ⊙ b)[π(i)]`: the monomial map with the
//!   product of the signs (the *product representation*). `x ⊙ x` of a
//!   value whose generators only flip signs is then invariant.

use crate::linmap::{LinMap, Monomial, NONE};
use crate::space::Space;

impl Space {
    /// True when every discrete generator maps the all-ones vector to
    /// itself and every Lie generator maps it to zero.
    pub fn fixes_ones(&self) -> bool {
        let ones = vec![1.0; self.dim()];
        let fixed = self
            .discrete
            .iter()
            .all(|g| g.apply(&ones).iter().all(|v| (v - 1.0).abs() <= 1e-12));
        fixed
            && self
                .lie
                .iter()
                .all(|l| l.apply(&ones).iter().all(|v| v.abs() <= 1e-12))
    }

    /// The action on elementwise products `a ⊙ b` of `a` in `self` and `b`
    /// in `other`, when both are under one group and of one shape, every
    /// Lie generator acts by 0 on both, and each discrete generator is
    /// monomial on both with the same source coordinates (so the product of
    /// the transformed values is the transformed product). `None` otherwise.
    pub fn hadamard(&self, other: &Space) -> Option<Space> {
        if self.group != other.group || self.shape != other.shape {
            return None;
        }
        if !self.lie.iter().chain(&other.lie).all(LinMap::is_zero) {
            return None;
        }
        let discrete = self
            .discrete
            .iter()
            .zip(&other.discrete)
            .map(|(a, b)| product_map(a, b))
            .collect::<Option<Vec<_>>>()?;
        Some(Space::atom(
            &self.shape,
            self.group.clone(),
            discrete,
            self.lie.clone(),
            self.axes.clone(),
        ))
    }
}

/// `s[i] t[i]` on the common sources of two monomial maps.
fn product_map(a: &LinMap, b: &LinMap) -> Option<LinMap> {
    let (LinMap::Monomial(a), LinMap::Monomial(b)) = (a, b) else {
        return None;
    };
    if a.src != b.src {
        return None;
    }
    let sign = a
        .src
        .iter()
        .zip(a.sign.iter().zip(&b.sign))
        .map(|(&s, (&x, &y))| if s == NONE { 1 } else { x * y })
        .collect();
    Some(LinMap::Monomial(Monomial {
        src: a.src.clone(),
        sign,
    }))
}
