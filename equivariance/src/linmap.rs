//! Linear maps of a flattened space to itself: how one generator acts.
//!
//! A space of shape `[n0, n1, …]` is flattened row-major. Most generators
//! move coordinates around, so they are stored as *monomial* maps,
//! `(g·x)[i] = sign[i] · x[src[i]]`, with `src[i] = NONE` for a row of zeros
//! (a partial permutation such as the truncating shift). Everything else is
//! a sparse matrix of exact rationals, or of `f64` when some generator has no
//! exact value.

use crate::number::{Number, Rational, is_unit, rat, rational_to_f64};
use num_traits::{One, Signed, Zero};

/// Marks a zero row of a [`Monomial`] map.
pub const NONE: u32 = u32::MAX;

/// `(g·x)[i] = sign[i] · x[src[i]]`, and `0` where `src[i] == NONE`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Monomial {
    /// The input coordinate each output coordinate reads, or [`NONE`].
    pub src: Vec<u32>,
    /// `+1` or `-1` for each output coordinate (ignored where `src` is `NONE`).
    pub sign: Vec<i8>,
}

/// A square sparse matrix stored by rows: `rows[i]` lists `(column, value)`
/// with distinct columns in increasing order and no zero values.
#[derive(Clone, Debug, PartialEq)]
pub struct Sparse<T> {
    /// The rows.
    pub rows: Vec<Vec<(u32, T)>>,
}

/// How one generator acts on a flattened space.
#[derive(Clone, Debug, PartialEq)]
pub enum LinMap {
    /// A (signed, possibly partial) permutation of coordinates.
    Monomial(Monomial),
    /// A sparse matrix of exact rationals.
    Exact(Sparse<Rational>),
    /// A sparse matrix of floats (some entry had no exact value).
    Float(Sparse<f64>),
}

impl LinMap {
    /// The identity on `n` coordinates.
    pub fn identity(n: usize) -> LinMap {
        LinMap::Monomial(Monomial {
            src: (0..n as u32).collect(),
            sign: vec![1; n],
        })
    }

    /// The zero map on `n` coordinates (how a Lie generator acts trivially).
    pub fn zero(n: usize) -> LinMap {
        LinMap::Monomial(Monomial {
            src: vec![NONE; n],
            sign: vec![1; n],
        })
    }

    /// The permutation matrix of a point map: point `p` goes to `to[p]`, so
    /// `(g·x)[to[p]] = x[p]`.
    pub fn from_point_map(to: &[usize]) -> LinMap {
        let mut src = vec![NONE; to.len()];
        for (p, &q) in to.iter().enumerate() {
            src[q] = p as u32;
        }
        LinMap::Monomial(Monomial {
            src,
            sign: vec![1; to.len()],
        })
    }

    /// A matrix given by rows; stored as monomial, exact or float as it allows.
    pub fn from_matrix(rows: &[Vec<Number>]) -> LinMap {
        if rows.iter().flatten().all(|x| x.as_exact().is_some()) {
            let exact: Vec<Vec<Rational>> = rows
                .iter()
                .map(|r| r.iter().map(|x| x.as_exact().unwrap().clone()).collect())
                .collect();
            LinMap::Exact(Sparse::from_dense(&exact, |q| q.is_zero())).simplify()
        } else {
            let float: Vec<Vec<f64>> = rows
                .iter()
                .map(|r| r.iter().map(Number::to_f64).collect())
                .collect();
            LinMap::Float(Sparse::from_dense(&float, |x| *x == 0.0))
        }
    }

    /// A matrix of small integers, given by rows.
    pub fn from_integers(rows: &[&[i64]]) -> LinMap {
        let rows: Vec<Vec<Number>> = rows
            .iter()
            .map(|r| r.iter().map(|&x| Number::int(x)).collect())
            .collect();
        LinMap::from_matrix(&rows)
    }

    /// The number of coordinates.
    pub fn dim(&self) -> usize {
        match self {
            LinMap::Monomial(m) => m.src.len(),
            LinMap::Exact(s) => s.rows.len(),
            LinMap::Float(s) => s.rows.len(),
        }
    }

    /// True when every entry is exact.
    pub fn is_exact(&self) -> bool {
        !matches!(self, LinMap::Float(_))
    }

    /// True when this is the identity.
    pub fn is_identity(&self) -> bool {
        match self {
            LinMap::Monomial(m) => m
                .src
                .iter()
                .zip(&m.sign)
                .enumerate()
                .all(|(i, (&s, &g))| s == i as u32 && g == 1),
            _ => false,
        }
    }

    /// True when this is the zero map.
    pub fn is_zero(&self) -> bool {
        match self {
            LinMap::Monomial(m) => m.src.iter().all(|&s| s == NONE),
            LinMap::Exact(s) => s.rows.iter().all(Vec::is_empty),
            LinMap::Float(s) => s.rows.iter().all(Vec::is_empty),
        }
    }

    /// Rewrites an exact matrix with one `±1` per row as a monomial map.
    pub fn simplify(self) -> LinMap {
        if let LinMap::Exact(s) = &self {
            let monomial = s
                .rows
                .iter()
                .all(|r| r.len() <= 1 && r.iter().all(|(_, v)| is_unit(v)));
            if monomial {
                let src = s
                    .rows
                    .iter()
                    .map(|r| r.first().map_or(NONE, |e| e.0))
                    .collect();
                let sign = s
                    .rows
                    .iter()
                    .map(|r| {
                        r.first()
                            .map_or(1, |e| if e.1.is_negative() { -1 } else { 1 })
                    })
                    .collect();
                return LinMap::Monomial(Monomial { src, sign });
            }
        }
        self
    }

    /// The exact sparse form, or `None` for a float map.
    pub fn to_exact(&self) -> Option<Sparse<Rational>> {
        match self {
            LinMap::Monomial(m) => Some(Sparse {
                rows: m
                    .src
                    .iter()
                    .zip(&m.sign)
                    .map(|(&s, &g)| {
                        if s == NONE {
                            vec![]
                        } else {
                            vec![(s, rat(g as i64))]
                        }
                    })
                    .collect(),
            }),
            LinMap::Exact(s) => Some(s.clone()),
            LinMap::Float(_) => None,
        }
    }

    /// The sparse `f64` form.
    pub fn to_float(&self) -> Sparse<f64> {
        match self {
            LinMap::Float(s) => s.clone(),
            other => {
                let exact = other.to_exact().expect("non-float map has an exact form");
                Sparse {
                    rows: exact
                        .rows
                        .iter()
                        .map(|r| r.iter().map(|(c, v)| (*c, rational_to_f64(v))).collect())
                        .collect(),
                }
            }
        }
    }

    /// `y = g · x`.
    pub fn apply(&self, x: &[f64]) -> Vec<f64> {
        match self {
            LinMap::Monomial(m) => m
                .src
                .iter()
                .zip(&m.sign)
                .map(|(&s, &g)| {
                    if s == NONE {
                        0.0
                    } else {
                        g as f64 * x[s as usize]
                    }
                })
                .collect(),
            LinMap::Exact(_) => self.to_float().apply(x),
            LinMap::Float(s) => s.apply(x),
        }
    }

    /// The Kronecker product `a ⊗ b` (how a discrete generator acts on a
    /// tensor product): `(a⊗b)[(i,k),(j,l)] = a[i,j]·b[k,l]`.
    pub fn kron(a: &LinMap, b: &LinMap) -> LinMap {
        match (a, b) {
            (LinMap::Monomial(x), LinMap::Monomial(y)) => {
                let nb = y.src.len() as u32;
                let mut src = Vec::with_capacity(x.src.len() * y.src.len());
                let mut sign = Vec::with_capacity(src.capacity());
                for (&s1, &g1) in x.src.iter().zip(&x.sign) {
                    for (&s2, &g2) in y.src.iter().zip(&y.sign) {
                        let defined = s1 != NONE && s2 != NONE;
                        src.push(if defined { s1 * nb + s2 } else { NONE });
                        sign.push(g1 * g2);
                    }
                }
                LinMap::Monomial(Monomial { src, sign })
            }
            _ => match (a.to_exact(), b.to_exact()) {
                (Some(x), Some(y)) => LinMap::Exact(x.kron(&y)).simplify(),
                _ => LinMap::Float(a.to_float().kron(&b.to_float())),
            },
        }
    }

    /// `a ⊗ I + I ⊗ b` (how a Lie-algebra generator acts on a tensor product).
    pub fn kron_sum(a: &LinMap, b: &LinMap) -> LinMap {
        let (na, nb) = (a.dim(), b.dim());
        if b.is_zero() {
            return LinMap::kron(a, &LinMap::identity(nb));
        }
        if a.is_zero() {
            return LinMap::kron(&LinMap::identity(na), b);
        }
        let left = LinMap::kron(a, &LinMap::identity(nb));
        let right = LinMap::kron(&LinMap::identity(na), b);
        match (left.to_exact(), right.to_exact()) {
            (Some(x), Some(y)) => LinMap::Exact(x.add(&y)).simplify(),
            _ => LinMap::Float(left.to_float().add(&right.to_float())),
        }
    }

    /// The block-diagonal map `a ⊕ b`.
    pub fn block_diag(a: &LinMap, b: &LinMap) -> LinMap {
        match (a, b) {
            (LinMap::Monomial(x), LinMap::Monomial(y)) => {
                let off = x.src.len() as u32;
                let src = x
                    .src
                    .iter()
                    .copied()
                    .chain(
                        y.src
                            .iter()
                            .map(|&s| if s == NONE { NONE } else { s + off }),
                    )
                    .collect();
                let sign = x.sign.iter().chain(&y.sign).copied().collect();
                LinMap::Monomial(Monomial { src, sign })
            }
            _ => match (a.to_exact(), b.to_exact()) {
                (Some(x), Some(y)) => LinMap::Exact(x.block_diag(&y)),
                _ => LinMap::Float(a.to_float().block_diag(&b.to_float())),
            },
        }
    }

    /// The dense matrix (row-major, `f64`).
    pub fn to_dense(&self) -> Vec<f64> {
        let n = self.dim();
        let mut d = vec![0.0; n * n];
        for (i, row) in self.to_float().rows.iter().enumerate() {
            for &(c, v) in row {
                d[i * n + c as usize] = v;
            }
        }
        d
    }
}

/// The arithmetic a sparse matrix needs.
pub trait Scalar: Clone + PartialEq {
    /// True when zero.
    fn is_zero_value(&self) -> bool;
    /// `self · other`.
    fn times(&self, other: &Self) -> Self;
    /// `self + other`.
    fn plus(&self, other: &Self) -> Self;
}

impl Scalar for Rational {
    fn is_zero_value(&self) -> bool {
        self.is_zero()
    }
    fn times(&self, other: &Self) -> Self {
        self * other
    }
    fn plus(&self, other: &Self) -> Self {
        self + other
    }
}

impl Scalar for f64 {
    fn is_zero_value(&self) -> bool {
        *self == 0.0
    }
    fn times(&self, other: &Self) -> Self {
        self * other
    }
    fn plus(&self, other: &Self) -> Self {
        self + other
    }
}

impl<T: Scalar> Sparse<T> {
    /// Builds from dense rows, dropping zeros.
    pub fn from_dense(rows: &[Vec<T>], zero: impl Fn(&T) -> bool) -> Sparse<T> {
        Sparse {
            rows: rows
                .iter()
                .map(|r| {
                    r.iter()
                        .enumerate()
                        .filter(|(_, v)| !zero(v))
                        .map(|(c, v)| (c as u32, v.clone()))
                        .collect()
                })
                .collect(),
        }
    }

    /// `self ⊗ other`.
    pub fn kron(&self, other: &Sparse<T>) -> Sparse<T> {
        let nb = other.rows.len() as u32;
        let mut rows = Vec::with_capacity(self.rows.len() * other.rows.len());
        for ra in &self.rows {
            for rb in &other.rows {
                let mut row = Vec::with_capacity(ra.len() * rb.len());
                for (ca, va) in ra {
                    for (cb, vb) in rb {
                        row.push((ca * nb + cb, va.times(vb)));
                    }
                }
                rows.push(row);
            }
        }
        Sparse { rows }
    }

    /// `self + other` (same size).
    pub fn add(&self, other: &Sparse<T>) -> Sparse<T> {
        let rows = self
            .rows
            .iter()
            .zip(&other.rows)
            .map(|(a, b)| {
                let mut out: Vec<(u32, T)> = Vec::with_capacity(a.len() + b.len());
                let (mut i, mut j) = (0, 0);
                while i < a.len() || j < b.len() {
                    let take_a = j >= b.len() || (i < a.len() && a[i].0 < b[j].0);
                    let take_b = i >= a.len() || (j < b.len() && b[j].0 < a[i].0);
                    if take_a {
                        out.push(a[i].clone());
                        i += 1;
                    } else if take_b {
                        out.push(b[j].clone());
                        j += 1;
                    } else {
                        let v = a[i].1.plus(&b[j].1);
                        if !v.is_zero_value() {
                            out.push((a[i].0, v));
                        }
                        i += 1;
                        j += 1;
                    }
                }
                out
            })
            .collect();
        Sparse { rows }
    }

    /// `self ⊕ other`.
    pub fn block_diag(&self, other: &Sparse<T>) -> Sparse<T> {
        let off = self.rows.len() as u32;
        let mut rows = self.rows.clone();
        rows.extend(
            other
                .rows
                .iter()
                .map(|r| r.iter().map(|(c, v)| (c + off, v.clone())).collect()),
        );
        Sparse { rows }
    }

    /// The transpose, as rows of the transpose (that is, the columns).
    pub fn transpose(&self) -> Sparse<T> {
        let mut rows: Vec<Vec<(u32, T)>> = vec![Vec::new(); self.rows.len()];
        for (i, row) in self.rows.iter().enumerate() {
            for (c, v) in row {
                rows[*c as usize].push((i as u32, v.clone()));
            }
        }
        Sparse { rows }
    }
}

impl Sparse<f64> {
    /// `y = A x`.
    pub fn apply(&self, x: &[f64]) -> Vec<f64> {
        self.rows
            .iter()
            .map(|r| r.iter().map(|&(c, v)| v * x[c as usize]).sum())
            .collect()
    }
}

impl Sparse<Rational> {
    /// True when `A Aᵀ = I`, computed sparsely: row `i` of `A Aᵀ` is
    /// `Σ_c A[i,c] · (column c of A)ᵀ`.
    pub fn is_orthogonal(&self) -> bool {
        let columns = self.transpose();
        let mut acc: std::collections::BTreeMap<u32, Rational> = Default::default();
        for (i, row) in self.rows.iter().enumerate() {
            acc.clear();
            for (c, v) in row {
                for (j, w) in &columns.rows[*c as usize] {
                    *acc.entry(*j).or_insert_with(Rational::zero) += v * w;
                }
            }
            let ok = acc.iter().all(|(j, v)| {
                if *j as usize == i {
                    v.is_one()
                } else {
                    v.is_zero()
                }
            });
            if !ok || !acc.get(&(i as u32)).is_some_and(|v| v.is_one()) {
                return false;
            }
        }
        true
    }

    /// True when `A = −Aᵀ`.
    pub fn is_antisymmetric(&self) -> bool {
        let t = self.transpose();
        self.rows.iter().zip(&t.rows).all(|(a, b)| {
            a.len() == b.len()
                && a.iter()
                    .zip(b)
                    .all(|(x, y)| x.0 == y.0 && x.1 == -y.1.clone())
        })
    }
}
