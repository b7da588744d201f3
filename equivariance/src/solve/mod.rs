//! The solver for `Hom_G(A, B)` (`equivariant A -> B`) and `invariant B`.
//!
//! For every discrete generator `g` the unknown `W: A → B` must satisfy the
//! Sylvester equation `ρ_B(g) W = W ρ_A(g)`, and for every Lie generator `ξ`
//! `dρ_B(ξ) W = W dρ_A(ξ)`. No generator is ever inverted, so monoids work:
//! under the truncating shift the solutions are the lower-triangular
//! Toeplitz matrices, not the circulants.
//!
//! The work is split so the expensive part stays small:
//!
//! 1. channels are factored out: `Hom(R[c] ⊗ S, R[d] ⊗ T) = R[d, c] ⊗ Hom(S, T)`;
//! 2. direct sums are split into blocks: `Hom(A₁ ⊕ A₂, B) = Hom(A₁, B) ⊕ Hom(A₂, B)`;
//! 3. the remaining problem is solved by the cheapest exact method that
//!    applies: orbits of index pairs (permutation actions), signed orbits
//!    with zeros (monomial actions such as signed or partial permutations),
//!    or the exact rational solver; floating point only when some generator
//!    has no exact value.
//!
//! `local(r)` keeps only the unknowns `W[i, j]` whose points are at distance
//! at most `r`; the others are fixed to zero before solving.

pub(crate) mod exact;
mod factors;
pub(crate) mod float;
pub(crate) mod orbits;
mod support;

#[cfg(test)]
mod tests;

use crate::basis::{Basis, Method, Pattern, SingularGap};
use crate::group::Group;
use crate::linmap::{LinMap, NONE};
use crate::space::{Metric, Space, show_shape};
use orbits::Dsu;
use std::fmt;

/// A problem the solver cannot set up.
#[derive(Clone, Debug, PartialEq)]
pub enum SolveError {
    /// The domain and codomain are under different groups (E0503).
    DifferentGroups {
        /// The group of the domain.
        input: String,
        /// The group of the codomain.
        output: String,
    },
    /// `local(r)` needs the point axes of both sides to match one to one.
    LocalMismatch {
        /// The point axes of the domain: size and metric.
        input: Vec<(usize, Metric)>,
        /// The point axes of the codomain.
        output: Vec<(usize, Metric)>,
    },
    /// `local(r)` on a space with a direct-sum axis, where distance is not
    /// defined.
    LocalAcrossSum,
    /// The problem is beyond the limits: a side with more than
    /// `MAX_POINTS` points, or an inner problem (after channels are
    /// factored out) with more than `MAX_PAIRS` pairs of points.
    TooLarge {
        /// The points of the output and the input side that are solved for.
        points: (u128, u128),
        /// What was over the limit, in words.
        limit: String,
    },
}

impl fmt::Display for SolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SolveError::DifferentGroups { input, output } => {
                write!(
                    f,
                    "a map from a space under {input} to a space under {output}"
                )
            }
            SolveError::LocalMismatch { input, output } => write!(
                f,
                "local(r) needs matching point axes; the domain has {} and the codomain {}",
                show_points(input),
                show_points(output)
            ),
            SolveError::LocalAcrossSum => write!(f, "local(r) is not defined on a direct sum"),
            SolveError::TooLarge { points, limit } => write!(
                f,
                "the equivariant maps from {} to {} points are too many to solve for: {limit}",
                points.1, points.0
            ),
        }
    }
}

impl std::error::Error for SolveError {}

fn show_points(points: &[(usize, Metric)]) -> String {
    if points.is_empty() {
        return "no point axes".to_string();
    }
    let sizes: Vec<usize> = points.iter().map(|p| p.0).collect();
    format!("point axes {}", show_shape(&sizes))
}

/// The basis of `Hom_G(input, output)`: the equivariant linear maps, with
/// `local(r)` applied when given.
pub fn equivariant(
    input: &Space,
    output: &Space,
    local: Option<usize>,
) -> Result<Basis, SolveError> {
    let group = match (input.group(), output.group()) {
        (None, None) => None,
        (Some(g), None) | (None, Some(g)) => Some(g.clone()),
        (Some(g), Some(h)) if g == h => Some(g.clone()),
        (Some(g), Some(h)) => {
            return Err(SolveError::DifferentGroups {
                input: g.to_string(),
                output: h.to_string(),
            });
        }
    };
    let side = |s: &Space| crate::limits::points(s.shape()).map_or(u128::MAX, |n| n as u128);
    if !(crate::limits::fits(input.shape()) && crate::limits::fits(output.shape())) {
        return Err(SolveError::TooLarge {
            points: (side(output), side(input)),
            limit: format!(
                "each side may have up to {} points",
                crate::limits::MAX_POINTS
            ),
        });
    }
    let a = input.lift(group.as_ref());
    let b = output.lift(group.as_ref());
    let (c, ai) = a.split_channels();
    let (d, bi) = b.split_channels();
    if let Some(solved) = local.and_then(|r| support::solve(ai, bi, r)) {
        return Ok(assemble(
            group.as_ref(),
            input,
            output,
            (c, ai),
            (d, bi),
            solved?,
        ));
    }
    let (pi, po) = (side(ai), side(bi));
    if pi.saturating_mul(po) > crate::limits::MAX_PAIRS {
        return Err(SolveError::TooLarge {
            points: (po, pi),
            limit: format!(
                "the solver handles up to {} pairs of points after channels are factored out",
                crate::limits::MAX_PAIRS
            ),
        });
    }
    let mask = match local {
        Some(r) => Some(local_mask(ai, bi, r)?),
        None => None,
    };
    let solution = solve_inner(ai, bi, mask.as_deref());
    Ok(assemble(
        group.as_ref(),
        input,
        output,
        (c, ai),
        (d, bi),
        solution,
    ))
}

/// The basis of `Hom(R[c] ⊗ ai, R[d] ⊗ bi)` from the inner solution.
fn assemble(
    group: Option<&Group>,
    input: &Space,
    output: &Space,
    (c, ai): (usize, &Space),
    (d, bi): (usize, &Space),
    solution: Solution,
) -> Basis {
    Basis {
        group: group.map_or_else(|| "trivial".to_string(), Group::to_string),
        out_shape: output.shape().to_vec(),
        in_shape: input.shape().to_vec(),
        out_channels: d,
        in_channels: c,
        inner_out_shape: bi.shape().to_vec(),
        inner_in_shape: ai.shape().to_vec(),
        scales: Basis::row_scales(&solution.pattern, ai.shape().iter().product()),
        pattern: solution.pattern,
        method: solution.method,
        gap: solution.gap,
    }
}

/// The basis of the invariant vectors of `space` (its fixed points):
/// `Hom_G(R[], space)`, printed and expanded with the shape of `space`.
pub fn invariant(space: &Space) -> Result<Basis, SolveError> {
    equivariant(&Space::scalar(space.group()), space, None)
}

/// The result of one inner problem.
struct Solution {
    pattern: Pattern,
    method: Method,
    gap: Option<SingularGap>,
}

fn solve_inner(a: &Space, b: &Space, mask: Option<&[bool]>) -> Solution {
    if mask.is_none() && (!a.summands.is_empty() || !b.summands.is_empty()) {
        return solve_blocks(a, b);
    }
    if mask.is_none()
        && let Some(s) = factors::solve_factored(a, b)
    {
        return s;
    }
    let (m, n) = (b.dim(), a.dim());
    // Generator pairs that act trivially on both sides impose nothing.
    let pairs: Vec<(&LinMap, &LinMap)> = a
        .discrete
        .iter()
        .zip(&b.discrete)
        .filter(|(x, y)| !(x.is_identity() && y.is_identity()))
        .chain(
            a.lie
                .iter()
                .zip(&b.lie)
                .filter(|(x, y)| !(x.is_zero() && y.is_zero())),
        )
        .map(|(x, y)| (y, x))
        .collect();
    let is_perm = |g: &LinMap| match g {
        LinMap::Monomial(mm) => {
            mm.src.iter().all(|&s| s != NONE) && mm.sign.iter().all(|&s| s == 1) && {
                let mut hit = vec![false; mm.src.len()];
                mm.src
                    .iter()
                    .all(|&s| !std::mem::replace(&mut hit[s as usize], true))
            }
        }
        _ => false,
    };
    // A Lie generator acting by a permutation gives the same equation as a
    // discrete one, so only the form of the maps matters here.
    if pairs.iter().all(|(y, x)| is_perm(x) && is_perm(y)) {
        let (labels, count) = permutation_orbits(m, n, &pairs, mask);
        return Solution {
            pattern: Pattern::Labels { labels, count },
            method: Method::Orbits,
            gap: None,
        };
    }
    if let Some((labels, count)) = monomial_orbits(m, n, &pairs, mask) {
        return Solution {
            pattern: Pattern::Labels { labels, count },
            method: Method::SignedOrbits,
            gap: None,
        };
    }
    if pairs.iter().all(|(y, x)| x.is_exact() && y.is_exact()) {
        let gens: Vec<exact::ExactGenerator> = pairs
            .iter()
            .map(|(y, x)| exact::ExactGenerator {
                out_rows: y.to_exact().expect("exact map"),
                in_cols: x.to_exact().expect("exact map").transpose(),
            })
            .collect();
        let pattern = match exact::solve(m, n, &gens, mask) {
            exact::ExactSolution::Labels(labels, count) => Pattern::Labels { labels, count },
            exact::ExactSolution::Vectors(v) => Pattern::exact_vectors(v),
        };
        return Solution {
            pattern,
            method: Method::Rational,
            gap: None,
        };
    }
    let gens: Vec<float::FloatGenerator> = pairs
        .iter()
        .map(|(y, x)| float::FloatGenerator {
            out_rows: y.to_float(),
            in_cols: x.to_float().transpose(),
        })
        .collect();
    let (vectors, gap) = float::solve(m, n, &gens, mask);
    Solution {
        pattern: Pattern::Vectors {
            float: vectors,
            exact: None,
        },
        method: Method::Float,
        gap: Some(gap),
    }
}

/// `Hom(⊕ A_k, ⊕ B_l)` block by block.
fn solve_blocks(a: &Space, b: &Space) -> Solution {
    let a_parts: Vec<&Space> = if a.summands.is_empty() {
        vec![a]
    } else {
        a.summands.iter().collect()
    };
    let b_parts: Vec<&Space> = if b.summands.is_empty() {
        vec![b]
    } else {
        b.summands.iter().collect()
    };
    let n = a.dim();
    let mut blocks = Vec::new();
    let mut row0 = 0;
    for bp in &b_parts {
        let mut col0 = 0;
        for ap in &a_parts {
            let s = solve_inner(ap, bp, None);
            blocks.push((row0, col0, ap.dim(), s));
            col0 += ap.dim();
        }
        row0 += bp.dim();
    }
    let method = blocks
        .iter()
        .map(|b| b.3.method)
        .max()
        .unwrap_or(Method::Orbits);
    let gap = blocks
        .iter()
        .filter_map(|b| b.3.gap)
        .reduce(SingularGap::worst);
    let placed: Vec<(usize, usize, usize, Pattern)> = blocks
        .into_iter()
        .map(|(r, c, w, s)| (r, c, w, s.pattern))
        .collect();
    Solution {
        pattern: Pattern::place_blocks(b.dim(), n, placed),
        method,
        gap,
    }
}

/// Orbits of index pairs when every generator permutes coordinates:
/// `W[σ_B(i), σ_A(k)] = W[i, k]`, one union per generator and entry.
fn permutation_orbits(
    m: usize,
    n: usize,
    pairs: &[(&LinMap, &LinMap)],
    mask: Option<&[bool]>,
) -> (Vec<i32>, usize) {
    let mut dsu = Dsu::new(m * n);
    for (y, x) in pairs {
        let (LinMap::Monomial(yb), LinMap::Monomial(xa)) = (y, x) else {
            unreachable!("checked to be permutations")
        };
        for i in 0..m {
            let row = yb.src[i] as usize * n;
            for k in 0..n {
                dsu.union((i * n + k) as u32, (row + xa.src[k] as usize) as u32, 1);
            }
        }
    }
    apply_mask(&mut dsu, mask);
    dsu.labels()
}

/// Signed orbits with zeros, when every generator is monomial and each one
/// acting on the domain reads each input coordinate at most once. Then the
/// equation at `(i, j)`,
/// `s_B(i)·W[src_B(i), j] = s_A(k)·W[i, k]` with `src_A(k) = j`,
/// has at most two terms (a missing side makes the other zero).
fn monomial_orbits(
    m: usize,
    n: usize,
    pairs: &[(&LinMap, &LinMap)],
    mask: Option<&[bool]>,
) -> Option<(Vec<i32>, usize)> {
    let mut inverses = Vec::with_capacity(pairs.len());
    for (y, x) in pairs {
        let (LinMap::Monomial(_), LinMap::Monomial(xa)) = (y, x) else {
            return None;
        };
        let mut inv = vec![NONE; n];
        for (k, &s) in xa.src.iter().enumerate() {
            if s != NONE {
                if inv[s as usize] != NONE {
                    return None;
                }
                inv[s as usize] = k as u32;
            }
        }
        inverses.push(inv);
    }
    let mut dsu = Dsu::new(m * n);
    for ((y, x), inv) in pairs.iter().zip(&inverses) {
        let (LinMap::Monomial(yb), LinMap::Monomial(xa)) = (y, x) else {
            unreachable!("checked above")
        };
        for i in 0..m {
            for (j, &k) in inv.iter().enumerate() {
                let left = yb.src[i];
                let lu = (left != NONE).then(|| left * n as u32 + j as u32);
                let ru = (k != NONE).then(|| (i * n) as u32 + k);
                match (lu, ru) {
                    (Some(l), Some(r)) => dsu.union(l, r, yb.sign[i] * xa.sign[k as usize]),
                    (Some(l), None) => dsu.set_zero(l),
                    (None, Some(r)) => dsu.set_zero(r),
                    (None, None) => {}
                }
            }
        }
    }
    apply_mask(&mut dsu, mask);
    Some(dsu.labels())
}

fn apply_mask(dsu: &mut Dsu, mask: Option<&[bool]>) {
    if let Some(mask) = mask {
        for (u, &keep) in mask.iter().enumerate() {
            if !keep {
                dsu.set_zero(u as u32);
            }
        }
    }
}

/// `mask[i·n + j]` is true when the points of output coordinate `i` and
/// input coordinate `j` are within `r`: `max_axes d(i_axis, j_axis) ≤ r`
/// (Chebyshev distance over paired point axes). Used by the general solver;
/// monomial actions are solved on the kept entries alone (`support.rs`).
fn local_mask(a: &Space, b: &Space, r: usize) -> Result<Vec<bool>, SolveError> {
    let (pa, pb) = support::paired_axes(a, b)?;
    let coords = |s: &Space, axes: &[(usize, usize, Metric)]| -> Vec<Vec<usize>> {
        let shape = s.shape();
        (0..s.dim())
            .map(|mut flat| {
                let mut idx = vec![0; shape.len()];
                for k in (0..shape.len()).rev() {
                    idx[k] = flat % shape[k];
                    flat /= shape[k];
                }
                axes.iter().map(|p| idx[p.0]).collect()
            })
            .collect()
    };
    let ca = coords(a, &pa);
    let cb = coords(b, &pb);
    let mut mask = Vec::with_capacity(cb.len() * ca.len());
    for i in &cb {
        for j in &ca {
            let d = i
                .iter()
                .zip(j)
                .zip(&pb)
                .map(|((x, y), p)| p.2.distance(*x, *y))
                .max()
                .unwrap_or(0);
            mask.push(d <= r);
        }
    }
    Ok(mask)
}
