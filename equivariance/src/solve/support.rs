//! `local(r)` problems under monomial actions, solved on the entries the
//! radius keeps instead of on every pair of points.
//!
//! `local(r)` fixes `W[i, j] = 0` wherever the points of `i` and `j` are
//! farther apart than `r`. Under a translation (`cyclic(n)` by `shift`, the
//! truncating shift of `shifts(n)`, the translations of `p4(s)`) that leaves
//! `O(n·r)` entries of the `n²`, and the orbit of a kept entry `(i, j)` is
//! its offset `j − i` (with the rotations of `p4`, its offset up to
//! rotation, and its orientations). The general solver labels all `m·n`
//! entries with a union-find and then zeroes the masked ones; this one
//! builds only the kept entries (the *support*, row by row) and unions each
//! with its neighbours under every generator, so time and memory grow with
//! the support, and the answer is the same basis in the same order:
//!
//! - For a generator pair `(Y, X)` acting on the codomain and the domain,
//!   the Sylvester equation `Y W = W X` at entry `(i, j)` reads
//!   `s_Y(i)·W[src_Y(i), j] = s_X(k)·W[i, k]` with `src_X(k) = j` (at most
//!   two terms when `X` reads each coordinate once; a missing term makes the
//!   other zero). A kept entry `(p, q)` is a term of at most these
//!   equations: the left term of equation `(i, q)` for each `i` with
//!   `src_Y(i) = p`, and the right term of equation `(p, src_X(q))`.
//! - Visiting exactly those, a kept entry is unioned with the other term
//!   when that is kept too, and forced to zero when the other term is
//!   missing or masked (a masked entry is zero). An orbit of the full
//!   problem that holds only kept entries is then one component here with
//!   the same signs; one that reaches a masked entry does so along some
//!   equation from a kept entry, and is zero in both.
//! - Labels are numbered in order of the first kept entry, row-major, and
//!   the general solver numbers orbits in order of their first entry, with
//!   masked entries skipped: the same numbers and signs.
//!
//! The support is counted before it is built, and refused past
//! `MAX_KEPT` entries (E0703).

use super::{Solution, SolveError};
use crate::basis::{Method, Pattern};
use crate::linmap::{LinMap, Monomial, NONE};
use crate::space::{Axis, Metric, Space};

use super::orbits::Dsu;
use crate::limits::MAX_KEPT;

/// The point axes of a space: (axis index, size, metric).
pub(super) type PointAxes = Vec<(usize, usize, Metric)>;

/// The point axes of the domain and the codomain that `local(r)` pairs,
/// after checking that they match one to one.
pub(super) fn paired_axes(a: &Space, b: &Space) -> Result<(PointAxes, PointAxes), SolveError> {
    let pa = point_axes(a)?;
    let pb = point_axes(b)?;
    let same = pa.len() == pb.len() && pa.iter().zip(&pb).all(|(x, y)| x.1 == y.1 && x.2 == y.2);
    if !same || pa.is_empty() {
        return Err(SolveError::LocalMismatch {
            input: pa.iter().map(|p| (p.1, p.2)).collect(),
            output: pb.iter().map(|p| (p.1, p.2)).collect(),
        });
    }
    Ok((pa, pb))
}

fn point_axes(s: &Space) -> Result<PointAxes, SolveError> {
    let mut out = Vec::new();
    for (k, axis) in s.axes().iter().enumerate() {
        match axis {
            Axis::Point(metric) => out.push((k, s.shape()[k], *metric)),
            Axis::Sum => return Err(SolveError::LocalAcrossSum),
            Axis::Channel | Axis::Component => {}
        }
    }
    Ok(out)
}

/// The solution of `Hom(a, b)` under `local(r)`, when every generator pair
/// that constrains anything is monomial and reads each domain coordinate
/// at most once (the general solver's orbit methods); `None` otherwise,
/// for the general solver.
pub(super) fn solve(a: &Space, b: &Space, r: usize) -> Option<Result<Solution, SolveError>> {
    let pairs = monomial_pairs(a, b)?;
    Some(solve_monomial(a, b, r, &pairs))
}

/// A generator pair `(Y, X)` on the codomain and the domain, with the
/// inverse of `X` and the rows of `Y` grouped by the coordinate they read.
struct Pair<'s> {
    y: &'s Monomial,
    x: &'s Monomial,
    /// `inv_x[j] = k` when `src_X(k) = j`, else `NONE`.
    inv_x: Vec<u32>,
    /// The rows `i` with `src_Y(i) = p`: `readers[reader_starts[p]..reader_starts[p + 1]]`.
    reader_starts: Vec<usize>,
    readers: Vec<u32>,
}

/// The generator pairs that constrain anything, when all are monomial and
/// each `X` is injective.
fn monomial_pairs<'s>(a: &'s Space, b: &'s Space) -> Option<Vec<Pair<'s>>> {
    let discrete = a
        .discrete
        .iter()
        .zip(&b.discrete)
        .filter(|(x, y)| !(x.is_identity() && y.is_identity()));
    let lie = a
        .lie
        .iter()
        .zip(&b.lie)
        .filter(|(x, y)| !(x.is_zero() && y.is_zero()));
    let mut pairs = Vec::new();
    for (x, y) in discrete.chain(lie) {
        let (LinMap::Monomial(x), LinMap::Monomial(y)) = (x, y) else {
            return None;
        };
        let mut inv_x = vec![NONE; x.src.len()];
        for (k, &s) in x.src.iter().enumerate() {
            if s != NONE {
                if inv_x[s as usize] != NONE {
                    return None;
                }
                inv_x[s as usize] = k as u32;
            }
        }
        let (reader_starts, readers) = group_by_source(&y.src);
        pairs.push(Pair {
            y,
            x,
            inv_x,
            reader_starts,
            readers,
        });
    }
    Some(pairs)
}

/// The rows of a monomial map grouped by the coordinate they read (a
/// counting sort): rows reading `p` are `rows[starts[p]..starts[p + 1]]`.
fn group_by_source(src: &[u32]) -> (Vec<usize>, Vec<u32>) {
    let n = src.len();
    let mut starts = vec![0usize; n + 1];
    for &s in src.iter().filter(|&&s| s != NONE) {
        starts[s as usize + 1] += 1;
    }
    for p in 0..n {
        starts[p + 1] += starts[p];
    }
    let mut next = starts.clone();
    let mut rows = vec![0u32; starts[n]];
    for (i, &s) in src.iter().enumerate().filter(|(_, s)| **s != NONE) {
        rows[next[s as usize]] = i as u32;
        next[s as usize] += 1;
    }
    (starts, rows)
}

fn solve_monomial(a: &Space, b: &Space, r: usize, pairs: &[Pair]) -> Result<Solution, SolveError> {
    let (pa, pb) = paired_axes(a, b)?;
    let near = Near {
        a_shape: a.shape(),
        b_shape: b.shape(),
        pa: &pa,
        pb: &pb,
        r,
    };
    let kept = near.count();
    if kept > MAX_KEPT {
        return Err(SolveError::TooLarge {
            points: (b.dim() as u128, a.dim() as u128),
            limit: format!(
                "local({r}) keeps {kept} pairs of points, and the solver handles up to {MAX_KEPT} kept pairs"
            ),
        });
    }
    let support = near.support();
    let mut dsu = Dsu::new(support.cols.len());
    for pair in pairs {
        union_along(&mut dsu, &support, pair);
    }
    let (labels, count) = dsu.labels();
    let all_perms = pairs
        .iter()
        .all(|p| is_permutation(p.x) && is_permutation(p.y));
    Ok(Solution {
        pattern: support.into_pattern(&labels, a.dim(), count),
        method: if all_perms {
            Method::Orbits
        } else {
            Method::SignedOrbits
        },
        gap: None,
    })
}

fn is_permutation(m: &Monomial) -> bool {
    let mut hit = vec![false; m.src.len()];
    m.src
        .iter()
        .zip(&m.sign)
        .all(|(&s, &g)| s != NONE && g == 1 && !std::mem::replace(&mut hit[s as usize], true))
}

/// Unions every kept entry with the other term of each equation of `pair`
/// it appears in, or forces it to zero.
fn union_along(dsu: &mut Dsu, support: &Support, pair: &Pair) {
    for p in 0..support.rows() {
        for s in support.starts[p]..support.starts[p + 1] {
            let q = support.cols[s] as usize;
            // As the left term of equation (i, q), for each i reading p.
            for &i in &pair.readers[pair.reader_starts[p]..pair.reader_starts[p + 1]] {
                let k = pair.inv_x[q];
                let other = (k != NONE).then_some((i as usize, k as usize));
                let sign = if k == NONE {
                    1
                } else {
                    pair.y.sign[i as usize] * pair.x.sign[k as usize]
                };
                relate(dsu, support, s, other, sign);
            }
            // As the right term of equation (p, src_X(q)).
            let j = pair.x.src[q];
            if j != NONE {
                let left = pair.y.src[p];
                let other = (left != NONE).then_some((left as usize, j as usize));
                let sign = pair.y.sign[p] * pair.x.sign[q];
                relate(dsu, support, s, other, sign);
            }
        }
    }
}

/// `W[s] = sign · W[other]`, where a missing or masked `other` is zero.
fn relate(dsu: &mut Dsu, support: &Support, s: usize, other: Option<(usize, usize)>, sign: i8) {
    match other.and_then(|(i, j)| support.find(i, j)) {
        Some(t) => dsu.union(s as u32, t as u32, sign),
        None => dsu.set_zero(s as u32),
    }
}

/// The kept entries, row by row, columns ascending.
struct Support {
    starts: Vec<usize>,
    cols: Vec<u32>,
}

impl Support {
    fn rows(&self) -> usize {
        self.starts.len() - 1
    }

    /// The index of entry `(i, j)` if it is kept.
    fn find(&self, i: usize, j: usize) -> Option<usize> {
        let (lo, hi) = (self.starts[i], self.starts[i + 1]);
        let j = u32::try_from(j).ok()?;
        self.cols[lo..hi].binary_search(&j).ok().map(|s| lo + s)
    }

    /// The label pattern of the kept entries whose labels are not zero.
    fn into_pattern(self, labels: &[i32], width: usize, count: usize) -> Pattern {
        let mut starts = Vec::with_capacity(self.starts.len());
        let mut cols = Vec::new();
        let mut kept = Vec::new();
        starts.push(0);
        for row in self.starts.windows(2) {
            let entries = self.cols[row[0]..row[1]]
                .iter()
                .zip(&labels[row[0]..row[1]]);
            for (&col, &label) in entries.filter(|(_, l)| **l != 0) {
                cols.push(col);
                kept.push(label);
            }
            starts.push(cols.len());
        }
        Pattern::Sparse {
            starts,
            cols,
            labels: kept,
            width,
            count,
        }
    }
}

/// Which input coordinates are within `r` of each output coordinate.
struct Near<'s> {
    a_shape: &'s [usize],
    b_shape: &'s [usize],
    pa: &'s [(usize, usize, Metric)],
    pb: &'s [(usize, usize, Metric)],
    r: usize,
}

impl Near<'_> {
    /// The point coordinates of output coordinate `i`, one per paired axis.
    fn points_of(&self, mut i: usize) -> Vec<usize> {
        let mut idx = vec![0; self.b_shape.len()];
        for k in (0..self.b_shape.len()).rev() {
            idx[k] = i % self.b_shape[k];
            i /= self.b_shape[k];
        }
        self.pb.iter().map(|p| idx[p.0]).collect()
    }

    /// The values each input axis may take for output coordinate `i`:
    /// those within `r` on a paired point axis, all on the others.
    fn allowed(&self, i: usize) -> Vec<Vec<usize>> {
        let points = self.points_of(i);
        (0..self.a_shape.len())
            .map(|k| match self.pa.iter().position(|p| p.0 == k) {
                Some(t) => {
                    let (_, size, metric) = self.pa[t];
                    within(points[t], size, metric, self.r)
                }
                None => (0..self.a_shape[k]).collect(),
            })
            .collect()
    }

    /// The number of kept entries, counted without building them.
    fn count(&self) -> u128 {
        let rows: usize = self.b_shape.iter().product();
        let others: u128 = self
            .a_shape
            .iter()
            .enumerate()
            .filter(|(k, _)| !self.pa.iter().any(|p| p.0 == *k))
            .map(|(_, &d)| d as u128)
            .product();
        (0..rows)
            .map(|i| {
                let points = self.points_of(i);
                self.pa
                    .iter()
                    .zip(points)
                    .map(|(&(_, size, metric), c)| within_count(c, size, metric, self.r) as u128)
                    .product::<u128>()
                    * others
            })
            .sum()
    }

    /// The kept entries: row `i` lists, ascending, every input coordinate
    /// whose values are allowed on every axis (row-major over the allowed
    /// values, which is ascending since each axis' values are).
    fn support(&self) -> Support {
        let rows: usize = self.b_shape.iter().product();
        let mut starts = Vec::with_capacity(rows + 1);
        let mut cols = Vec::new();
        starts.push(0);
        for i in 0..rows {
            let allowed = self.allowed(i);
            let mut pos = vec![0usize; allowed.len()];
            if allowed.iter().all(|v| !v.is_empty()) {
                loop {
                    let flat = allowed
                        .iter()
                        .zip(&pos)
                        .zip(self.a_shape)
                        .fold(0usize, |acc, ((v, &p), &d)| acc * d + v[p]);
                    cols.push(flat as u32);
                    if !advance(&mut pos, &allowed) {
                        break;
                    }
                }
            }
            starts.push(cols.len());
        }
        Support { starts, cols }
    }
}

/// Steps a row-major odometer over the allowed values; false at the end.
fn advance(pos: &mut [usize], allowed: &[Vec<usize>]) -> bool {
    for k in (0..pos.len()).rev() {
        pos[k] += 1;
        if pos[k] < allowed[k].len() {
            return true;
        }
        pos[k] = 0;
    }
    false
}

/// The points of an axis of `size` within `r` of `c`, ascending.
fn within(c: usize, size: usize, metric: Metric, r: usize) -> Vec<usize> {
    if size == 0 {
        return Vec::new();
    }
    match metric {
        Metric::Circular(_) if r.saturating_mul(2).saturating_add(1) < size => {
            let mut v: Vec<usize> = (0..=2 * r).map(|d| (c + size - r + d) % size).collect();
            v.sort_unstable();
            v
        }
        Metric::Circular(_) => (0..size).collect(),
        Metric::Linear => (c.saturating_sub(r)..=c.saturating_add(r).min(size - 1)).collect(),
        Metric::Discrete if r >= 1 => (0..size).collect(),
        Metric::Discrete => vec![c],
    }
}

/// How many points `within` lists.
fn within_count(c: usize, size: usize, metric: Metric, r: usize) -> usize {
    if size == 0 {
        return 0;
    }
    match metric {
        Metric::Circular(_) => r.saturating_mul(2).saturating_add(1).min(size),
        Metric::Linear => c.saturating_add(r).min(size - 1) + 1 - c.saturating_sub(r),
        Metric::Discrete if r >= 1 => size,
        Metric::Discrete => 1,
    }
}

#[cfg(test)]
mod tests;
