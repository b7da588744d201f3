//! The exact solver for constraint systems with rational coefficients.
//!
//! First every equation with at most two terms and coefficients of equal
//! size (`a·W[u] + b·W[v] = 0`, `|a| = |b|`) goes into the signed union-find
//! of `orbits.rs`; only the remaining ("hard") equations are rewritten over
//! the components and solved by elimination.
//!
//! The elimination runs modulo a 31-bit prime and the result is lifted back
//! to the rationals by rational reconstruction, then *verified exactly*
//! against every hard equation. That check makes the answer exact whatever
//! happened mod p: if `k` independent rational vectors satisfy the system,
//! then `nullity_Q ≥ k = nullity_p ≥ nullity_Q`. When reconstruction or the
//! check fails for three primes, a fraction-exact elimination over the
//! rationals (big integers) gives the answer instead.
//!
//! Columns are eliminated from the last to the first. By matroid duality
//! the free columns are then the pivot columns of the reduced row echelon
//! form of the null space itself, so the vectors read off (1 at their free
//! column, 0 at every other free column) are that canonical basis.

use super::orbits::Dsu;
use crate::linmap::Sparse;
use crate::number::Rational;
use num_bigint::BigInt;
use num_integer::Integer;
use num_traits::{One, Signed, ToPrimitive, Zero};

/// A sparse vector over unknowns.
pub(crate) type ExactVector = Vec<(u32, Rational)>;

/// The solution of an exact system.
pub(crate) enum ExactSolution {
    /// Every entry is `±` one coefficient or zero: the labels of `orbits.rs`.
    Labels(Vec<i32>, usize),
    /// The basis vectors, in reduced row echelon form.
    Vectors(Vec<ExactVector>),
}

/// One generator's constraint: the rows of `ρ_B(g)` and the columns of
/// `ρ_A(g)` (the rows of its transpose).
pub(crate) struct ExactGenerator {
    pub(crate) out_rows: Sparse<Rational>,
    pub(crate) in_cols: Sparse<Rational>,
}

/// Solves `ρ_B(g) W = W ρ_A(g)` for every generator, with `W` an `m × n`
/// matrix whose entries outside `mask` are zero.
pub(crate) fn solve(
    m: usize,
    n: usize,
    gens: &[ExactGenerator],
    mask: Option<&[bool]>,
) -> ExactSolution {
    let mut dsu = Dsu::new(m * n);
    if let Some(mask) = mask {
        for (u, &keep) in mask.iter().enumerate() {
            if !keep {
                dsu.set_zero(u as u32);
            }
        }
    }
    let allowed = |u: u32| mask.is_none_or(|m| m[u as usize]);
    let mut hard: Vec<ExactVector> = Vec::new();
    let mut terms: Vec<(u32, Rational)> = Vec::new();
    for g in gens {
        for i in 0..m {
            for j in 0..n {
                // (ρ_B W)[i,j] − (W ρ_A)[i,j] = Σ_l ρ_B[i,l] W[l,j] − Σ_k W[i,k] ρ_A[k,j].
                terms.clear();
                for (l, v) in &g.out_rows.rows[i] {
                    terms.push((*l * n as u32 + j as u32, v.clone()));
                }
                for (k, v) in &g.in_cols.rows[j] {
                    terms.push(((i * n) as u32 + *k, -v.clone()));
                }
                let row = normalise(&mut terms, &allowed);
                match row.as_slice() {
                    [] => {}
                    [(u, _)] => dsu.set_zero(*u),
                    [(u, a), (v, b)] if a.abs() == b.abs() => {
                        // a·W[u] + b·W[v] = 0, so W[u] = −(b/a)·W[v].
                        let s = if a == b { -1 } else { 1 };
                        dsu.union(*u, *v, s);
                    }
                    _ => hard.push(row),
                }
            }
        }
    }
    let (labels, count) = dsu.labels();
    if hard.is_empty() {
        return ExactSolution::Labels(labels, count);
    }
    // Rewrite the hard rows over components: W[u] = sign(u) · c[label(u)].
    let reduced: Vec<ExactVector> = hard
        .iter()
        .map(|row| {
            let mut t: Vec<(u32, Rational)> = row
                .iter()
                .filter(|(u, _)| labels[*u as usize] != 0)
                .map(|(u, v)| {
                    let l = labels[*u as usize];
                    let v = if l < 0 { -v.clone() } else { v.clone() };
                    (l.unsigned_abs() - 1, v)
                })
                .collect();
            normalise(&mut t, &|_| true)
        })
        .filter(|r| !r.is_empty())
        .collect();
    let null = nullspace(&reduced, count);
    // Expand each vector over components back to the unknowns.
    let mut members: Vec<Vec<(u32, bool)>> = vec![Vec::new(); count];
    for (u, &l) in labels.iter().enumerate() {
        if l != 0 {
            members[l.unsigned_abs() as usize - 1].push((u as u32, l < 0));
        }
    }
    let vectors = null
        .into_iter()
        .map(|v| {
            let mut out: ExactVector = Vec::new();
            for (c, x) in v {
                for &(u, neg) in &members[c as usize] {
                    out.push((u, if neg { -x.clone() } else { x.clone() }));
                }
            }
            out.sort_by_key(|e| e.0);
            out
        })
        .collect();
    ExactSolution::Vectors(vectors)
}

/// Sorts terms, adds those on the same unknown, drops zeros and unknowns
/// outside the mask (they are zero).
fn normalise(terms: &mut [(u32, Rational)], allowed: &dyn Fn(u32) -> bool) -> ExactVector {
    terms.sort_by_key(|t| t.0);
    let mut out: ExactVector = Vec::with_capacity(terms.len());
    for (u, v) in terms.iter() {
        if !allowed(*u) {
            continue;
        }
        match out.last_mut() {
            Some((w, x)) if w == u => *x += v,
            _ => out.push((*u, v.clone())),
        }
    }
    out.retain(|(_, v)| !v.is_zero());
    out
}

const PRIMES: [u64; 3] = [2_147_483_647, 2_147_483_629, 2_147_483_587];

/// The null space of `rows` (over `ncols` columns) in reduced row echelon
/// form, exactly.
pub(crate) fn nullspace(rows: &[ExactVector], ncols: usize) -> Vec<ExactVector> {
    for (attempt, &p) in PRIMES.iter().enumerate() {
        if let Some(v) = modular_nullspace(rows, ncols, p, attempt as u64) {
            return v;
        }
    }
    rational_nullspace(rows, ncols)
}

fn pow_mod(mut b: u64, mut e: u64, p: u64) -> u64 {
    let mut r = 1;
    b %= p;
    while e > 0 {
        if e & 1 == 1 {
            r = r * b % p;
        }
        b = b * b % p;
        e >>= 1;
    }
    r
}

fn to_mod(q: &Rational, p: u64) -> Option<u64> {
    let pb = BigInt::from(p);
    let num = q.numer().mod_floor(&pb).to_u64()?;
    let den = q.denom().mod_floor(&pb).to_u64()?;
    if den == 0 {
        return None;
    }
    Some(num * pow_mod(den, p - 2, p) % p)
}

/// A small deterministic generator for the random sketch.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

fn modular_nullspace(
    rows: &[ExactVector],
    ncols: usize,
    p: u64,
    seed: u64,
) -> Option<Vec<ExactVector>> {
    let mut sparse: Vec<Vec<(u32, u64)>> = Vec::with_capacity(rows.len());
    for r in rows {
        let mut out = Vec::with_capacity(r.len());
        for (c, v) in r {
            out.push((*c, to_mod(v, p)?));
        }
        sparse.push(out);
    }
    // More rows than columns: compress to ncols random combinations, which
    // keep the rank with high probability (and the exact check below
    // catches the rare case when they do not).
    let mut dense: Vec<Vec<u64>>;
    if sparse.len() > ncols {
        let mut rng = SplitMix(0x5EED ^ seed);
        dense = vec![vec![0u64; ncols]; ncols];
        for r in &sparse {
            for target in dense.iter_mut() {
                let coef = rng.next() % p;
                for &(c, v) in r {
                    let x = &mut target[c as usize];
                    *x = (*x + coef * v) % p;
                }
            }
        }
    } else {
        dense = sparse
            .iter()
            .map(|r| {
                let mut d = vec![0u64; ncols];
                for &(c, v) in r {
                    d[c as usize] = v;
                }
                d
            })
            .collect();
    }
    let pivots = rref_mod(&mut dense, ncols, p);
    let mut is_pivot = vec![false; ncols];
    for &(_, c) in &pivots {
        is_pivot[c] = true;
    }
    let mut basis = Vec::new();
    for f in (0..ncols).filter(|&f| !is_pivot[f]) {
        let mut v: ExactVector = vec![(f as u32, Rational::one())];
        for &(r, c) in &pivots {
            let x = dense[r][f];
            if x != 0 {
                v.push((c as u32, reconstruct((p - x) % p, p)?));
            }
        }
        v.sort_by_key(|e| e.0);
        basis.push(v);
    }
    if basis.iter().all(|v| satisfies(rows, v)) {
        Some(basis)
    } else {
        None
    }
}

/// Gauss–Jordan elimination mod p, columns from last to first. Returns the
/// pivots as (row, column).
fn rref_mod(m: &mut [Vec<u64>], ncols: usize, p: u64) -> Vec<(usize, usize)> {
    let mut pivots = Vec::new();
    let mut rank = 0;
    for c in (0..ncols).rev() {
        let Some(r) = (rank..m.len()).find(|&r| m[r][c] != 0) else {
            continue;
        };
        m.swap(rank, r);
        let inv = pow_mod(m[rank][c], p - 2, p);
        let nz: Vec<usize> = (0..ncols).filter(|&k| m[rank][k] != 0).collect();
        for &k in &nz {
            m[rank][k] = m[rank][k] * inv % p;
        }
        let (before, rest) = m.split_at_mut(rank);
        let (pivot, after) = rest.split_first_mut().expect("pivot row exists");
        for row in before.iter_mut().chain(after.iter_mut()) {
            let f = row[c];
            if f == 0 {
                continue;
            }
            for &k in &nz {
                row[k] = (row[k] + (p - f) * pivot[k]) % p;
            }
        }
        pivots.push((rank, c));
        rank += 1;
    }
    pivots
}

/// The fraction `r/s ≡ a (mod p)` with `|r|, s ≤ √(p/2)`, if there is one.
fn reconstruct(a: u64, p: u64) -> Option<Rational> {
    let bound = ((p / 2) as f64).sqrt() as i128;
    let (mut r0, mut r1) = (p as i128, a as i128);
    let (mut t0, mut t1) = (0i128, 1i128);
    while r1 > bound {
        let q = r0 / r1;
        (r0, r1) = (r1, r0 - q * r1);
        (t0, t1) = (t1, t0 - q * t1);
    }
    if t1 == 0 || t1.abs() > bound {
        return None;
    }
    let (num, den) = if t1 < 0 { (-r1, -t1) } else { (r1, t1) };
    Some(Rational::new(BigInt::from(num), BigInt::from(den)))
}

/// True when `v` satisfies every row exactly.
fn satisfies(rows: &[ExactVector], v: &ExactVector) -> bool {
    let lookup: std::collections::HashMap<u32, &Rational> =
        v.iter().map(|(c, x)| (*c, x)).collect();
    rows.iter().all(|r| {
        let mut sum = Rational::zero();
        for (c, a) in r {
            if let Some(x) = lookup.get(c) {
                sum += a * *x;
            }
        }
        sum.is_zero()
    })
}

/// Gauss–Jordan over the rationals, columns from last to first.
fn rational_nullspace(rows: &[ExactVector], ncols: usize) -> Vec<ExactVector> {
    let mut m: Vec<Vec<Rational>> = rows
        .iter()
        .map(|r| {
            let mut d = vec![Rational::zero(); ncols];
            for (c, v) in r {
                d[*c as usize] = v.clone();
            }
            d
        })
        .collect();
    let mut pivots = Vec::new();
    let mut rank = 0;
    for c in (0..ncols).rev() {
        let Some(r) = (rank..m.len()).find(|&r| !m[r][c].is_zero()) else {
            continue;
        };
        m.swap(rank, r);
        let inv = m[rank][c].recip();
        for x in m[rank].iter_mut() {
            *x *= &inv;
        }
        let pivot = m[rank].clone();
        for (i, row) in m.iter_mut().enumerate() {
            if i == rank || row[c].is_zero() {
                continue;
            }
            let f = row[c].clone();
            for (x, y) in row.iter_mut().zip(&pivot) {
                if !y.is_zero() {
                    *x -= &f * y;
                }
            }
        }
        pivots.push((rank, c));
        rank += 1;
    }
    let mut is_pivot = vec![false; ncols];
    for &(_, c) in &pivots {
        is_pivot[c] = true;
    }
    (0..ncols)
        .filter(|&f| !is_pivot[f])
        .map(|f| {
            let mut v: ExactVector = vec![(f as u32, Rational::one())];
            for &(r, c) in &pivots {
                if !m[r][f].is_zero() {
                    v.push((c as u32, -m[r][f].clone()));
                }
            }
            v.sort_by_key(|e| e.0);
            v
        })
        .collect()
}

#[cfg(test)]
pub(crate) fn rational_nullspace_for_tests(rows: &[ExactVector], ncols: usize) -> Vec<ExactVector> {
    rational_nullspace(rows, ncols)
}
