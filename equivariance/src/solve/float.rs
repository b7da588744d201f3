//! The floating-point solver, for generators with no exact value.
//!
//! The constraint matrix `C` (one row per generator and entry `(i, j)`, one
//! column per free unknown) is reduced to a square triangle by Householder
//! QR, whose right singular vectors are those of `C`; one-sided Jacobi then
//! gives the singular values and vectors. A singular value at most
//! `TOLERANCE · σ_max` counts as zero, and the largest such value and the
//! smallest nonzero one are reported as the gap. The null space is then put
//! in reduced row echelon form (largest pivot per column) and entries within
//! 1e-9 of a fraction with denominator at most 12 are snapped to it, so the
//! printed basis is readable and does not depend on the rotations Jacobi
//! happened to take.

use crate::basis::SingularGap;
use crate::linmap::Sparse;

/// Relative threshold below which a singular value is zero.
pub(crate) const TOLERANCE: f64 = 1e-8;

/// One generator's constraint in floats.
pub(crate) struct FloatGenerator {
    pub(crate) out_rows: Sparse<f64>,
    pub(crate) in_cols: Sparse<f64>,
}

/// Solves `ρ_B(g) W = W ρ_A(g)` in floating point; returns the basis as
/// sparse vectors over the `m·n` unknowns and the singular-value gap.
pub(crate) fn solve(
    m: usize,
    n: usize,
    gens: &[FloatGenerator],
    mask: Option<&[bool]>,
) -> (Vec<Vec<(u32, f64)>>, SingularGap) {
    let active: Vec<usize> = (0..m * n).filter(|&u| mask.is_none_or(|k| k[u])).collect();
    let mut column = vec![usize::MAX; m * n];
    for (c, &u) in active.iter().enumerate() {
        column[u] = c;
    }
    let nc = active.len();
    // The constraint rows, dense over the active unknowns.
    let mut rows: Vec<Vec<f64>> = Vec::new();
    for g in gens {
        for i in 0..m {
            for j in 0..n {
                let mut row = vec![0.0; nc];
                let mut any = false;
                for &(l, v) in &g.out_rows.rows[i] {
                    let c = column[l as usize * n + j];
                    if c != usize::MAX {
                        row[c] += v;
                        any = true;
                    }
                }
                for &(k, v) in &g.in_cols.rows[j] {
                    let c = column[i * n + k as usize];
                    if c != usize::MAX {
                        row[c] -= v;
                        any = true;
                    }
                }
                if any && row.iter().any(|x| *x != 0.0) {
                    rows.push(row);
                }
            }
        }
    }
    let (sigma, v) = right_singular(rows, nc);
    let smax = sigma.iter().cloned().fold(0.0, f64::max);
    let scale = if smax > 0.0 { smax } else { 1.0 };
    let mut zero_max: f64 = 0.0;
    let mut nonzero_min = f64::INFINITY;
    let mut null: Vec<Vec<f64>> = Vec::new();
    for (k, &s) in sigma.iter().enumerate() {
        if s <= TOLERANCE * scale {
            zero_max = zero_max.max(s / scale);
            null.push((0..nc).map(|r| v[r * nc + k]).collect());
        } else {
            nonzero_min = nonzero_min.min(s / scale);
        }
    }
    let canon = canonicalise(null, nc);
    let basis = canon
        .into_iter()
        .map(|row| {
            row.iter()
                .enumerate()
                .filter(|(_, x)| **x != 0.0)
                .map(|(c, x)| (active[c] as u32, *x))
                .collect()
        })
        .collect();
    let gap = SingularGap {
        largest_zero: zero_max,
        smallest_nonzero: if nonzero_min.is_finite() {
            nonzero_min
        } else {
            1.0
        },
        tolerance: TOLERANCE,
    };
    (basis, gap)
}

/// Singular values and right singular vectors (`v[r·n + k]` is entry `r` of
/// vector `k`) of the matrix with the given rows and `n` columns.
fn right_singular(mut rows: Vec<Vec<f64>>, n: usize) -> (Vec<f64>, Vec<f64>) {
    // Householder QR: afterwards the first min(rows, n) rows hold R.
    let nr = rows.len();
    for k in 0..n.min(nr) {
        let norm: f64 = (k..nr).map(|r| rows[r][k] * rows[r][k]).sum::<f64>().sqrt();
        if norm == 0.0 {
            continue;
        }
        let alpha = if rows[k][k] > 0.0 { -norm } else { norm };
        let mut h: Vec<f64> = (k..nr).map(|r| rows[r][k]).collect();
        h[0] -= alpha;
        let hn: f64 = h.iter().map(|x| x * x).sum();
        if hn == 0.0 {
            continue;
        }
        for c in k..n {
            let dot: f64 = (k..nr).map(|r| h[r - k] * rows[r][c]).sum();
            let f = 2.0 * dot / hn;
            for (row, hv) in rows[k..].iter_mut().zip(&h) {
                row[c] -= f * hv;
            }
        }
    }
    rows.truncate(n.min(nr));
    // One-sided Jacobi on the columns of R (stored column-major).
    let mut a: Vec<Vec<f64>> = (0..n)
        .map(|c| rows.iter().map(|r| r[c]).collect())
        .collect();
    let mut v = vec![0.0; n * n];
    for k in 0..n {
        v[k * n + k] = 1.0;
    }
    for _sweep in 0..60 {
        let mut rotated = false;
        for p in 0..n {
            for q in p + 1..n {
                let alpha: f64 = a[p].iter().map(|x| x * x).sum();
                let beta: f64 = a[q].iter().map(|x| x * x).sum();
                let gamma: f64 = a[p].iter().zip(&a[q]).map(|(x, y)| x * y).sum();
                if gamma.abs() <= 1e-15 * (alpha * beta).sqrt() || gamma == 0.0 {
                    continue;
                }
                rotated = true;
                let zeta = (beta - alpha) / (2.0 * gamma);
                let t = zeta.signum() / (zeta.abs() + (1.0 + zeta * zeta).sqrt());
                let c = 1.0 / (1.0 + t * t).sqrt();
                let s = c * t;
                let (ap, aq) = two_mut(&mut a, p, q);
                for (x, y) in ap.iter_mut().zip(aq.iter_mut()) {
                    let (xp, xq) = (*x, *y);
                    *x = c * xp - s * xq;
                    *y = s * xp + c * xq;
                }
                for r in 0..n {
                    let (xp, xq) = (v[r * n + p], v[r * n + q]);
                    v[r * n + p] = c * xp - s * xq;
                    v[r * n + q] = s * xp + c * xq;
                }
            }
        }
        if !rotated {
            break;
        }
    }
    let sigma = a
        .iter()
        .map(|col| col.iter().map(|x| x * x).sum::<f64>().sqrt())
        .collect();
    (sigma, v)
}

fn two_mut<T>(v: &mut [T], p: usize, q: usize) -> (&mut T, &mut T) {
    let (lo, hi) = v.split_at_mut(q);
    (&mut lo[p], &mut hi[0])
}

/// Reduced row echelon form of the rows (partial pivoting), then snapping.
fn canonicalise(mut k: Vec<Vec<f64>>, n: usize) -> Vec<Vec<f64>> {
    let mut rank = 0;
    for c in 0..n {
        if rank == k.len() {
            break;
        }
        let best = (rank..k.len())
            .max_by(|&a, &b| k[a][c].abs().total_cmp(&k[b][c].abs()))
            .unwrap();
        if k[best][c].abs() <= 1e-9 {
            continue;
        }
        k.swap(rank, best);
        let p = k[rank][c];
        for x in k[rank].iter_mut() {
            *x /= p;
        }
        let pivot = k[rank].clone();
        for (i, row) in k.iter_mut().enumerate() {
            if i != rank && row[c] != 0.0 {
                let f = row[c];
                for (x, y) in row.iter_mut().zip(&pivot) {
                    *x -= f * y;
                }
            }
        }
        rank += 1;
    }
    for row in k.iter_mut() {
        for x in row.iter_mut() {
            *x = snap(*x);
        }
    }
    k
}

/// `x` rounded to a fraction `p/q` with `q ≤ 12` when within 1e-9 of one,
/// and to 0 when below 1e-10.
pub(crate) fn snap(x: f64) -> f64 {
    if x.abs() < 1e-10 {
        return 0.0;
    }
    for q in 1..=12 {
        let p = (x * q as f64).round();
        if (x - p / q as f64).abs() < 1e-9 {
            return p / q as f64;
        }
    }
    x
}
