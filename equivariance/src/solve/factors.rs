//! Tensor products of spaces under different groups, solved factor by
//! factor.
//!
//! Under `product(G, H)`, a space `A_1 ⊗ A_2` with `A_1` under `G` and
//! `A_2` under `H` has every generator of `G` acting by `X ⊗ I` and every
//! generator of `H` by `I ⊗ Y`. If `B = B_1 ⊗ B_2` splits the same way, the
//! constraints of `W ∈ Hom(A, B)` are `(X_B ⊗ I) W = W (X_A ⊗ I)` and
//! `(I ⊗ Y_B) W = W (I ⊗ Y_A)`, whose solutions are exactly
//! `Hom_G(A_1, B_1) ⊗ Hom_H(A_2, B_2)` (the kernel of `M ⊗ I` is
//! `ker M ⊗ V`, and intersecting `ker M ⊗ V` with `U ⊗ ker N` gives
//! `ker M ⊗ ker N`). So each factor is solved alone and the basis is the
//! Kronecker products of the two bases: `K_1 · K_2` elements instead of one
//! problem on `|A| · |B|` unknowns.
//!
//! The split is found from the generators themselves: an axis boundary of
//! each space at which every generator acts on the coordinates of one side
//! only, as `X ⊗ I` or `I ⊗ Y`, each generator on the same side for both
//! spaces. A generator may be monomial (a signed permutation) or a matrix
//! (SO(3)'s rotations, Lorentz boosts, any matrix group): a sparse matrix
//! is `X ⊗ I_{n2}` when each of its rows `(i1, i2)` holds exactly the
//! entries of row `i1` of `X` at columns `(j1, i2)`, and `I_{n1} ⊗ Y` when
//! it holds those of row `i2` of `Y` at columns `(i1, j2)`; the factors are
//! read off the first block and every row is compared exactly. Spaces that
//! do not split (a generator that mixes the two sides) are solved as one
//! problem.

use super::{Solution, solve_inner};
use crate::basis::{Pattern, SingularGap};
use crate::linmap::{LinMap, Monomial, NONE, Scalar, Sparse};
use crate::number::Rational;
use crate::space::Space;

/// Which side of a split a generator acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    /// Acts as the identity (or zero, for a Lie generator) on both.
    Neither,
    /// `X ⊗ I`.
    Left,
    /// `I ⊗ Y`.
    Right,
}

/// A space cut into two factors at an axis boundary.
struct Cut {
    left: Space,
    right: Space,
    sides: Vec<Side>,
}

/// `Hom(A_1 ⊗ A_2, B_1 ⊗ B_2)` factor by factor, when both spaces split
/// with every generator on one common side and each side has a generator.
pub(super) fn solve_factored(a: &Space, b: &Space) -> Option<Solution> {
    if !a.summands.is_empty() || !b.summands.is_empty() || a.group != b.group {
        return None;
    }
    for ka in 1..a.shape.len() {
        let Some(ca) = cut(a, ka) else { continue };
        for kb in 1..b.shape.len() {
            let Some(cb) = cut(b, kb) else { continue };
            let agree = ca
                .sides
                .iter()
                .zip(&cb.sides)
                .all(|(x, y)| *x == Side::Neither || *y == Side::Neither || x == y);
            let used = |s: Side| ca.sides.iter().chain(&cb.sides).any(|x| *x == s);
            if agree && used(Side::Left) && used(Side::Right) {
                let first = solve_inner(&ca.left, &cb.left, None);
                let second = solve_inner(&ca.right, &cb.right, None);
                let dims = Dims {
                    m2: cb.right.dim(),
                    n1: ca.left.dim(),
                    n2: ca.right.dim(),
                };
                return Some(kronecker(first, second, dims));
            }
        }
    }
    None
}

/// Splits `s` after axis `k` if every generator moves coordinates on one
/// side only; each factor keeps every generator (the identity, or zero, on
/// the side it does not act on).
fn cut(s: &Space, k: usize) -> Option<Cut> {
    let n1: usize = s.shape[..k].iter().product();
    let n2: usize = s.shape[k..].iter().product();
    let mut sides = Vec::new();
    let (mut l_disc, mut r_disc, mut l_lie, mut r_lie) = (vec![], vec![], vec![], vec![]);
    for g in &s.discrete {
        let (side, x, y) = split_map(g, n1, n2, false)?;
        sides.push(side);
        l_disc.push(x);
        r_disc.push(y);
    }
    for g in &s.lie {
        let (side, x, y) = split_map(g, n1, n2, true)?;
        sides.push(side);
        l_lie.push(x);
        r_lie.push(y);
    }
    let left = Space::atom(
        &s.shape[..k],
        s.group.clone(),
        l_disc,
        l_lie,
        s.axes[..k].to_vec(),
    );
    let right = Space::atom(
        &s.shape[k..],
        s.group.clone(),
        r_disc,
        r_lie,
        s.axes[k..].to_vec(),
    );
    Some(Cut { left, right, sides })
}

/// A monomial map on `n1 · n2` coordinates as `X ⊗ I` or `I ⊗ Y` (a Lie
/// generator as `X ⊗ I + I ⊗ 0` or `0 ⊗ I + I ⊗ Y`), with the map of each
/// factor; `None` if it is neither.
fn split_map(g: &LinMap, n1: usize, n2: usize, lie: bool) -> Option<(Side, LinMap, LinMap)> {
    let rest = |n: usize| {
        if lie {
            LinMap::zero(n)
        } else {
            LinMap::identity(n)
        }
    };
    if (lie && g.is_zero()) || (!lie && g.is_identity()) {
        return Some((Side::Neither, rest(n1), rest(n2)));
    }
    let (left, right) = match g {
        LinMap::Monomial(m) => (left_factor(m, n1, n2), right_factor(m, n1, n2)),
        LinMap::Exact(m) => (
            sparse_left(m, n1, n2).map(LinMap::Exact),
            sparse_right(m, n1, n2).map(LinMap::Exact),
        ),
        LinMap::Float(m) => (
            sparse_left(m, n1, n2).map(LinMap::Float),
            sparse_right(m, n1, n2).map(LinMap::Float),
        ),
    };
    if let Some(x) = left {
        return Some((Side::Left, x, rest(n2)));
    }
    right.map(|y| (Side::Right, rest(n1), y))
}

/// The entries of a sparse row sorted by column.
fn sorted<T: Scalar>(row: &[(u32, T)]) -> Vec<(u32, T)> {
    let mut r = row.to_vec();
    r.sort_by_key(|(c, _)| *c);
    r
}

/// `X` if the matrix `m` is `X ⊗ I_{n2}`: row `(i1, i2)` of `m` holds row
/// `i1` of `X` at columns `(j1, i2)`.
fn sparse_left<T: Scalar>(m: &Sparse<T>, n1: usize, n2: usize) -> Option<Sparse<T>> {
    if m.rows.len() != n1 * n2 {
        return None;
    }
    let mut x = Vec::with_capacity(n1);
    for i1 in 0..n1 {
        let first = sorted(&m.rows[i1 * n2]);
        if first.iter().any(|(c, _)| !(*c as usize).is_multiple_of(n2)) {
            return None;
        }
        let row: Vec<(u32, T)> = first.into_iter().map(|(c, v)| (c / n2 as u32, v)).collect();
        for i2 in 0..n2 {
            let want: Vec<(u32, T)> = row
                .iter()
                .map(|(c, v)| (c * n2 as u32 + i2 as u32, v.clone()))
                .collect();
            if sorted(&m.rows[i1 * n2 + i2]) != want {
                return None;
            }
        }
        x.push(row);
    }
    Some(Sparse { rows: x })
}

/// `Y` if the matrix `m` is `I_{n1} ⊗ Y`: row `(i1, i2)` of `m` holds row
/// `i2` of `Y` at columns `(i1, j2)`.
fn sparse_right<T: Scalar>(m: &Sparse<T>, n1: usize, n2: usize) -> Option<Sparse<T>> {
    if m.rows.len() != n1 * n2 {
        return None;
    }
    let y: Vec<Vec<(u32, T)>> = m.rows[..n2].iter().map(|r| sorted(r)).collect();
    if y.iter().flatten().any(|(c, _)| *c as usize >= n2) {
        return None;
    }
    for i1 in 0..n1 {
        for (i2, row) in y.iter().enumerate() {
            let want: Vec<(u32, T)> = row
                .iter()
                .map(|(c, v)| ((i1 * n2) as u32 + c, v.clone()))
                .collect();
            if sorted(&m.rows[i1 * n2 + i2]) != want {
                return None;
            }
        }
    }
    Some(Sparse { rows: y })
}

/// `X` if `m = X ⊗ I_{n2}`.
fn left_factor(m: &Monomial, n1: usize, n2: usize) -> Option<LinMap> {
    let (mut src, mut sign) = (Vec::with_capacity(n1), Vec::with_capacity(n1));
    for i1 in 0..n1 {
        let s = m.src[i1 * n2];
        let g = m.sign[i1 * n2];
        for i2 in 0..n2 {
            let u = i1 * n2 + i2;
            let ok = if s == NONE {
                m.src[u] == NONE
            } else {
                m.src[u] as usize == (s as usize / n2) * n2 + i2
                    && (s as usize).is_multiple_of(n2)
                    && m.sign[u] == g
            };
            if !ok {
                return None;
            }
        }
        src.push(if s == NONE { NONE } else { s / n2 as u32 });
        sign.push(g);
    }
    Some(LinMap::Monomial(Monomial { src, sign }))
}

/// `Y` if `m = I_{n1} ⊗ Y`.
fn right_factor(m: &Monomial, n1: usize, n2: usize) -> Option<LinMap> {
    let (src, sign) = (m.src[..n2].to_vec(), m.sign[..n2].to_vec());
    if src.iter().any(|&s| s != NONE && s as usize >= n2) {
        return None;
    }
    for i1 in 0..n1 {
        for i2 in 0..n2 {
            let u = i1 * n2 + i2;
            let ok = if src[i2] == NONE {
                m.src[u] == NONE
            } else {
                m.src[u] as usize == i1 * n2 + src[i2] as usize && m.sign[u] == sign[i2]
            };
            if !ok {
                return None;
            }
        }
    }
    Some(LinMap::Monomial(Monomial { src, sign }))
}

/// The sizes that place an entry of the product: `B_2` has `m2`
/// coordinates, `A_1` and `A_2` have `n1` and `n2`.
#[derive(Clone, Copy)]
struct Dims {
    m2: usize,
    n1: usize,
    n2: usize,
}

impl Dims {
    /// The entry `((i1, i2), (j1, j2))` of `W` from entry `(i1, j1)` of the
    /// first factor and `(i2, j2)` of the second.
    fn entry(self, u1: u32, u2: u32) -> u32 {
        let (i1, j1) = (u1 as usize / self.n1, u1 as usize % self.n1);
        let (i2, j2) = (u2 as usize / self.n2, u2 as usize % self.n2);
        let (i, j) = (i1 * self.m2 + i2, j1 * self.n2 + j2);
        (i * (self.n1 * self.n2) + j) as u32
    }
}

/// The Kronecker products `E1_k ⊗ E2_l`, coefficient `k · K2 + l`.
fn kronecker(first: Solution, second: Solution, d: Dims) -> Solution {
    let method = first.method.max(second.method);
    let gap = match (first.gap, second.gap) {
        (Some(x), Some(y)) => Some(SingularGap::worst(x, y)),
        (x, y) => x.or(y),
    };
    let (p, q) = (&first.pattern, &second.pattern);
    let (k1, k2) = (p.count(), q.count());
    let pattern = match (p, q) {
        (Pattern::Labels { labels: a, .. }, Pattern::Labels { labels: b, .. }) => {
            let mut labels = vec![0i32; a.len() * b.len()];
            for (u1, &x) in a.iter().enumerate() {
                for (u2, &y) in b.iter().enumerate() {
                    if x != 0 && y != 0 {
                        let k = (x.unsigned_abs() as usize - 1) * k2 + y.unsigned_abs() as usize;
                        labels[d.entry(u1 as u32, u2 as u32) as usize] =
                            x.signum() * y.signum() * k as i32;
                    }
                }
            }
            Pattern::Labels {
                labels,
                count: k1 * k2,
            }
        }
        _ if p.is_exact() && q.is_exact() => {
            let mut vectors = Vec::with_capacity(k1 * k2);
            for k in 0..k1 {
                let e = p.exact_element(k).expect("exact");
                for l in 0..k2 {
                    let f = q.exact_element(l).expect("exact");
                    vectors.push(product_exact(&e, &f, d));
                }
            }
            Pattern::exact_vectors(vectors)
        }
        _ => {
            let mut float = Vec::with_capacity(k1 * k2);
            for k in 0..k1 {
                let e = p.element(k);
                for l in 0..k2 {
                    let f = q.element(l);
                    let mut v: Vec<(u32, f64)> = e
                        .iter()
                        .flat_map(|(u1, x)| {
                            f.iter()
                                .map(move |(u2, y)| (d.entry(*u1 as u32, *u2 as u32), x * y))
                        })
                        .collect();
                    v.sort_by_key(|(u, _)| *u);
                    float.push(v);
                }
            }
            Pattern::Vectors { float, exact: None }
        }
    };
    Solution {
        pattern,
        method,
        gap,
    }
}

fn product_exact(e: &[(u32, Rational)], f: &[(u32, Rational)], d: Dims) -> Vec<(u32, Rational)> {
    let mut v: Vec<(u32, Rational)> = e
        .iter()
        .flat_map(|(u1, x)| f.iter().map(move |(u2, y)| (d.entry(*u1, *u2), x * y)))
        .collect();
    v.sort_by_key(|(u, _)| *u);
    v
}
