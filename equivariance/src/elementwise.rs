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

impl Space {
    /// The space as `L ⊗ R`, cut after axis `k`, when every discrete
    /// generator is a monomial map of the form `X ⊗ Y` (a permutation of
    /// the pairs `(i, j)` that moves `i` and `j` separately, with a sign
    /// that is the product of a sign for `i` and one for `j`) and every Lie
    /// generator acts by 0: `Pts * Pts` gives `(Pts, Pts)`. `None` otherwise.
    pub fn split_axes(&self, k: usize) -> Option<(Space, Space)> {
        if k == 0 || k >= self.shape.len() || !self.summands.is_empty() {
            return None;
        }
        if !self.lie.iter().all(LinMap::is_zero) {
            return None;
        }
        let n1: usize = self.shape[..k].iter().product();
        let n2: usize = self.shape[k..].iter().product();
        let mut left = Vec::new();
        let mut right = Vec::new();
        for g in &self.discrete {
            let LinMap::Monomial(m) = g else {
                return None;
            };
            let (x, y) = kron_parts(m, n1, n2)?;
            left.push(x);
            right.push(y);
        }
        let lie = |n: usize| vec![LinMap::zero(n); self.lie.len()];
        Some((
            Space::atom(
                &self.shape[..k],
                self.group.clone(),
                left,
                lie(n1),
                self.axes[..k].to_vec(),
            ),
            Space::atom(
                &self.shape[k..],
                self.group.clone(),
                right,
                lie(n2),
                self.axes[k..].to_vec(),
            ),
        ))
    }
}

/// `(X, Y)` with `m = X ⊗ Y`, for a monomial `m` without zero rows on
/// `n1 · n2` coordinates.
fn kron_parts(m: &Monomial, n1: usize, n2: usize) -> Option<(LinMap, LinMap)> {
    if m.src.contains(&NONE) {
        return None;
    }
    let at = |i1: usize, i2: usize| i1 * n2 + i2;
    let split = |s: u32| (s as usize / n2, s as usize % n2);
    // Y from the row i1 = 0, X from the column i2 = 0; signs normalised so
    // that the sign of Y at 0 is +1.
    let y_src: Vec<u32> = (0..n2).map(|i2| split(m.src[at(0, i2)]).1 as u32).collect();
    let x_src: Vec<u32> = (0..n1).map(|i1| split(m.src[at(i1, 0)]).0 as u32).collect();
    let s00 = m.sign[0];
    let y_sign: Vec<i8> = (0..n2).map(|i2| m.sign[at(0, i2)] * s00).collect();
    let x_sign: Vec<i8> = (0..n1).map(|i1| m.sign[at(i1, 0)] * s00).collect();
    for i1 in 0..n1 {
        for i2 in 0..n2 {
            let want = x_src[i1] as usize * n2 + y_src[i2] as usize;
            let sign = x_sign[i1] * y_sign[i2] * s00;
            if m.src[at(i1, i2)] as usize != want || m.sign[at(i1, i2)] != sign {
                return None;
            }
        }
    }
    let x_sign: Vec<i8> = x_sign.iter().map(|s| s * s00).collect();
    Some((
        LinMap::Monomial(Monomial {
            src: x_src,
            sign: x_sign,
        }),
        LinMap::Monomial(Monomial {
            src: y_src,
            sign: y_sign,
        }),
    ))
}
