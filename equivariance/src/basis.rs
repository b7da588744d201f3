//! The solver's answer: a basis of equivariant maps, i.e. a weight tying.
//!
//! A parameter `W: equivariant A -> B` is stored as coefficients `c`, and
//! `W = Σ_k c_k B_k`. With channels factored out
//! (`A = R[c] ⊗ A'`, `B = R[d] ⊗ B'`) the basis is
//! `{ e_p e_qᵀ ⊗ E_k }` for channel pairs `(p, q)` and the basis `E_k` of
//! `Hom_G(A', B')`, and the coefficient of `(p, q, k)` sits at index
//! `(p·c + q)·K + k` (`K` inner basis elements). The dense `W` is row-major
//! over `B.shape ++ A.shape`, so
//! `W[(p, i), (q, j)] = Σ_k c[(p·c + q)·K + k] · E_k[i, j]`.

use crate::number::{Rational, rational_to_f64};
use crate::solve::exact::ExactVector;
use crate::space::Space;
use num_traits::Float;
use std::collections::HashMap;

/// How a basis was computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Method {
    /// Orbits of index pairs under permutations (exact).
    Orbits,
    /// Signed orbits with zeros under monomial maps (exact).
    SignedOrbits,
    /// Exact rational elimination.
    Rational,
    /// Floating point with a singular-value tolerance.
    Float,
}

/// The singular values around the cut of a floating-point solve, relative
/// to the largest singular value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SingularGap {
    /// The largest singular value counted as zero (0 if none).
    pub largest_zero: f64,
    /// The smallest singular value counted as nonzero (1 if none).
    pub smallest_nonzero: f64,
    /// The relative threshold used.
    pub tolerance: f64,
}

impl SingularGap {
    /// The narrower of two gaps (for a problem solved in blocks).
    pub fn worst(a: SingularGap, b: SingularGap) -> SingularGap {
        SingularGap {
            largest_zero: a.largest_zero.max(b.largest_zero),
            smallest_nonzero: a.smallest_nonzero.min(b.smallest_nonzero),
            tolerance: a.tolerance,
        }
    }
}

/// The basis of the inner problem `Hom_G(A', B')`, over its `m·n` entries
/// (row-major, `u = i·n + j`).
#[derive(Clone, Debug, PartialEq)]
pub enum Pattern {
    /// Every entry is `±` one coefficient or zero: `labels[u] = 0` for an
    /// entry that is always zero, `±(k+1)` for `±c_k`. Basis element `k` is
    /// the signed indicator of the entries labelled `±(k+1)`.
    Labels {
        /// One label per entry.
        labels: Vec<i32>,
        /// The number of basis elements.
        count: usize,
    },
    /// As `Labels`, holding only the entries that are not always zero, row
    /// by row (what `local(r)` keeps of a large problem): row `i` holds the
    /// entries `(i, cols[s])` labelled `labels[s]` (never 0) for `s` in
    /// `starts[i]..starts[i + 1]`, columns ascending.
    Sparse {
        /// Where each row's entries start, and one past the last row's end.
        starts: Vec<usize>,
        /// The column of each entry.
        cols: Vec<u32>,
        /// The label of each entry, `±(k+1)`.
        labels: Vec<i32>,
        /// The number of columns, `n`.
        width: usize,
        /// The number of basis elements.
        count: usize,
    },
    /// General basis vectors, each a sparse list of `(entry, value)`.
    Vectors {
        /// The values as floats.
        float: Vec<Vec<(u32, f64)>>,
        /// The exact values, when the solve was exact.
        exact: Option<Vec<ExactVector>>,
    },
}

impl Pattern {
    pub(crate) fn exact_vectors(v: Vec<ExactVector>) -> Pattern {
        let float = v
            .iter()
            .map(|e| e.iter().map(|(u, x)| (*u, rational_to_f64(x))).collect())
            .collect();
        Pattern::Vectors {
            float,
            exact: Some(v),
        }
    }

    /// The number of basis elements.
    pub fn count(&self) -> usize {
        match self {
            Pattern::Labels { count, .. } | Pattern::Sparse { count, .. } => *count,
            Pattern::Vectors { float, .. } => float.len(),
        }
    }

    /// True when the values are exact.
    pub fn is_exact(&self) -> bool {
        match self {
            Pattern::Labels { .. } | Pattern::Sparse { .. } => true,
            Pattern::Vectors { exact, .. } => exact.is_some(),
        }
    }

    /// Calls `visit(entry, label)` for every entry with a nonzero label, in
    /// row-major order, and returns true; returns false (visiting nothing)
    /// for a pattern of general vectors.
    pub fn visit_labels(&self, mut visit: impl FnMut(u64, i32)) -> bool {
        match self {
            Pattern::Labels { labels, .. } => {
                for (u, &l) in labels.iter().enumerate() {
                    if l != 0 {
                        visit(u as u64, l);
                    }
                }
                true
            }
            Pattern::Sparse {
                starts,
                cols,
                labels,
                width,
                ..
            } => {
                for (i, row) in starts.windows(2).enumerate() {
                    let base = (i * width) as u64;
                    for s in row[0]..row[1] {
                        visit(base + u64::from(cols[s]), labels[s]);
                    }
                }
                true
            }
            Pattern::Vectors { .. } => false,
        }
    }

    /// The label of entry `(i, j)` of a label pattern (0 when always zero),
    /// or `None` for general vectors.
    pub fn label_at(&self, i: usize, j: usize, width: usize) -> Option<i32> {
        match self {
            Pattern::Labels { labels, .. } => Some(labels[i * width + j]),
            Pattern::Sparse {
                starts,
                cols,
                labels,
                ..
            } => {
                let (lo, hi) = (starts[i], starts[i + 1]);
                let found = u32::try_from(j)
                    .ok()
                    .and_then(|j| cols[lo..hi].binary_search(&j).ok());
                Some(found.map_or(0, |s| labels[lo + s]))
            }
            Pattern::Vectors { .. } => None,
        }
    }

    /// Basis element `k` as sparse `(entry, value)` pairs.
    pub fn element(&self, k: usize) -> Vec<(u64, f64)> {
        match self {
            Pattern::Vectors { float, .. } => {
                float[k].iter().map(|&(u, v)| (u64::from(u), v)).collect()
            }
            labelled => {
                let mut out = Vec::new();
                labelled.visit_labels(|u, l| {
                    if l.unsigned_abs() as usize == k + 1 {
                        out.push((u, f64::from(l.signum())));
                    }
                });
                out
            }
        }
    }

    /// Basis element `k` exactly, when the pattern is exact. Entries are
    /// numbered as `u32`: only problems within `MAX_PAIRS` are combined
    /// exactly (products and direct sums, which are solved without
    /// `local(r)`).
    pub fn exact_element(&self, k: usize) -> Option<Vec<(u32, Rational)>> {
        match self {
            Pattern::Vectors { exact, .. } => exact.as_ref().map(|e| e[k].clone()),
            labelled => Some(
                labelled
                    .element(k)
                    .into_iter()
                    .map(|(u, v)| {
                        let u = u32::try_from(u).expect("a problem within MAX_PAIRS");
                        (u, crate::number::rat(v as i64))
                    })
                    .collect(),
            ),
        }
    }

    /// Places block patterns `(row0, col0, width, pattern)` into an `m × n`
    /// matrix; the blocks' coefficients follow one another in order.
    pub(crate) fn place_blocks(
        m: usize,
        n: usize,
        blocks: Vec<(usize, usize, usize, Pattern)>,
    ) -> Pattern {
        let to_global = |r0: usize, c0: usize, w: usize, u: u64| -> u32 {
            let (i, j) = (u as usize / w, u as usize % w);
            ((r0 + i) * n + c0 + j) as u32
        };
        if blocks.iter().all(|b| matches!(b.3, Pattern::Labels { .. })) {
            let mut labels = vec![0i32; m * n];
            let mut offset = 0i32;
            for (r0, c0, w, p) in &blocks {
                let Pattern::Labels { labels: l, count } = p else {
                    unreachable!("all labels")
                };
                for (u, &x) in l.iter().enumerate() {
                    if x != 0 {
                        labels[to_global(*r0, *c0, *w, u as u64) as usize] =
                            x.signum() * (x.abs() + offset);
                    }
                }
                offset += *count as i32;
            }
            return Pattern::Labels {
                labels,
                count: offset as usize,
            };
        }
        let all_exact = blocks.iter().all(|b| b.3.is_exact());
        let mut float = Vec::new();
        let mut exact = Vec::new();
        for (r0, c0, w, p) in &blocks {
            for k in 0..p.count() {
                float.push(
                    p.element(k)
                        .into_iter()
                        .map(|(u, v)| (to_global(*r0, *c0, *w, u), v))
                        .collect(),
                );
                if all_exact {
                    let e = p.exact_element(k).expect("exact block");
                    exact.push(
                        e.into_iter()
                            .map(|(u, v)| (to_global(*r0, *c0, *w, u64::from(u)), v))
                            .collect(),
                    );
                }
            }
        }
        Pattern::Vectors {
            float,
            exact: all_exact.then_some(exact),
        }
    }
}

/// The derived tying of one parameter: a basis of `Hom_G(A, B)` (or of the
/// invariants of `B`, with `A = R[]`).
#[derive(Clone, Debug, PartialEq)]
pub struct Basis {
    pub(crate) group: String,
    pub(crate) out_shape: Vec<usize>,
    pub(crate) in_shape: Vec<usize>,
    pub(crate) out_channels: usize,
    pub(crate) in_channels: usize,
    pub(crate) inner_out_shape: Vec<usize>,
    pub(crate) inner_in_shape: Vec<usize>,
    pub(crate) pattern: Pattern,
    /// The factor of each inner element: one over its largest row sum of
    /// magnitudes (see [`Basis::inner_element`]).
    pub(crate) scales: Vec<f64>,
    pub(crate) method: Method,
    pub(crate) gap: Option<SingularGap>,
}

/// A dense initialiser, whose entry variance an equivariant parameter
/// reproduces.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum DenseInit {
    /// Xavier uniform: variance `2 / (fan_in + fan_out)`.
    Glorot,
    /// Kaiming normal: variance `2 / fan_in`.
    He,
    /// `normal(std)`: variance `std²`.
    Normal(f64),
    /// `uniform(lo, hi)`: variance `(hi − lo)² / 12`.
    Uniform(f64, f64),
    /// `orthogonal`, which acts as `glorot` on an equivariant parameter.
    Orthogonal,
}

impl DenseInit {
    /// The variance of one entry of a dense map with these fans.
    pub fn variance(&self, fan_in: f64, fan_out: f64) -> f64 {
        match *self {
            DenseInit::Glorot | DenseInit::Orthogonal => 2.0 / (fan_in + fan_out),
            DenseInit::He => 2.0 / fan_in,
            DenseInit::Normal(std) => std * std,
            DenseInit::Uniform(lo, hi) => (hi - lo) * (hi - lo) / 12.0,
        }
    }
}

impl Basis {
    /// The group, as printed.
    pub fn group(&self) -> &str {
        &self.group
    }

    /// The shape of the codomain.
    pub fn out_shape(&self) -> &[usize] {
        &self.out_shape
    }

    /// The shape of the domain (`[]` for an invariant).
    pub fn in_shape(&self) -> &[usize] {
        &self.in_shape
    }

    /// The shape of the dense `W`: codomain axes, then domain axes.
    pub fn dense_shape(&self) -> Vec<usize> {
        let mut s = self.out_shape.clone();
        s.extend(&self.in_shape);
        s
    }

    /// The number of entries of the dense `W`.
    pub fn dense(&self) -> usize {
        self.out_shape.iter().product::<usize>() * self.in_shape.iter().product::<usize>()
    }

    /// The number of free coefficients.
    pub fn free(&self) -> usize {
        self.out_channels * self.in_channels * self.pattern.count()
    }

    /// The channels factored out: `(d, c)` for `R[c] ⊗ A' → R[d] ⊗ B'`.
    pub fn channels(&self) -> (usize, usize) {
        (self.out_channels, self.in_channels)
    }

    /// The shapes of the inner problem `A' → B'`: (codomain, domain).
    pub fn inner_shapes(&self) -> (&[usize], &[usize]) {
        (&self.inner_out_shape, &self.inner_in_shape)
    }

    /// The basis of the inner problem.
    pub fn pattern(&self) -> &Pattern {
        &self.pattern
    }

    /// How it was computed.
    pub fn method(&self) -> Method {
        self.method
    }

    /// True when the basis is exact (orbits or rational arithmetic).
    pub fn is_exact(&self) -> bool {
        self.method != Method::Float
    }

    /// The singular-value gap of a floating-point solve.
    pub fn gap(&self) -> Option<SingularGap> {
        self.gap
    }

    fn inner_dims(&self) -> (usize, usize) {
        (
            self.inner_out_shape.iter().product(),
            self.inner_in_shape.iter().product(),
        )
    }

    /// The factors that normalise the pattern's elements: element `e`
    /// times `scales[e]` has largest row norm one (Euclidean), so that it
    /// maps inputs of unit variance to outputs of unit variance: the
    /// identity and a convolution tap stay as they are, DeepSets'
    /// `11ᵀ − I` becomes `(11ᵀ − I)/√(n − 1)`. Each coefficient then weighs
    /// one unit-variance input, however large its orbit, which is what
    /// [`Basis::fans`] counts.
    pub(crate) fn row_scales(pattern: &Pattern, inner_in: usize) -> Vec<f64> {
        let k = pattern.count();
        let widest: Vec<f64> = match pattern {
            Pattern::Vectors { .. } => (0..k)
                .map(|e| {
                    let mut rows: HashMap<u64, f64> = HashMap::new();
                    for (u, v) in pattern.element(e) {
                        *rows.entry(u / inner_in as u64).or_default() += v * v;
                    }
                    rows.values().copied().fold(0.0, f64::max)
                })
                .collect(),
            // Every entry is ±1: an element's row sum of squares is its
            // number of entries in the row, counted row by row in one pass.
            labelled => {
                let mut widest = vec![0usize; k];
                let mut in_row = vec![0usize; k];
                let mut touched: Vec<usize> = Vec::new();
                let mut row = u64::MAX;
                let mut flush = |in_row: &mut Vec<usize>, touched: &mut Vec<usize>| {
                    for e in touched.drain(..) {
                        widest[e] = widest[e].max(in_row[e]);
                        in_row[e] = 0;
                    }
                };
                labelled.visit_labels(|u, l| {
                    let i = u / inner_in as u64;
                    if i != row {
                        flush(&mut in_row, &mut touched);
                        row = i;
                    }
                    let e = l.unsigned_abs() as usize - 1;
                    if in_row[e] == 0 {
                        touched.push(e);
                    }
                    in_row[e] += 1;
                });
                flush(&mut in_row, &mut touched);
                widest.into_iter().map(|w| w as f64).collect()
            }
        };
        widest
            .into_iter()
            .map(|w| if w > 0.0 { 1.0 / w.sqrt() } else { 1.0 })
            .collect()
    }

    /// Inner basis element `e`, normalised, as sparse `(entry, value)`
    /// pairs over the `m·n` inner entries (row-major). The pattern holds the
    /// element unnormalised (orbit indicators); this is the element the
    /// coefficients multiply.
    pub fn inner_element(&self, e: usize) -> Vec<(u64, f64)> {
        let scale = self.scales[e];
        self.pattern
            .element(e)
            .into_iter()
            .map(|(u, v)| (u, v * scale))
            .collect()
    }

    /// Every inner basis element, normalised, as [`Basis::inner_element`]
    /// gives them, in one pass over the pattern (reading a labelled pattern
    /// once instead of once per element).
    pub fn inner_elements(&self) -> Vec<Vec<(u64, f64)>> {
        let mut out: Vec<Vec<(u64, f64)>> = vec![Vec::new(); self.pattern.count()];
        let labelled = self.pattern.visit_labels(|u, l| {
            let e = l.unsigned_abs() as usize - 1;
            out[e].push((u, f64::from(l.signum()) * self.scales[e]));
        });
        if !labelled {
            for (e, o) in out.iter_mut().enumerate() {
                *o = self.inner_element(e);
            }
        }
        out
    }

    /// Basis element `k` of the whole map, as `(dense index, value)`.
    pub fn element(&self, k: usize) -> Vec<(usize, f64)> {
        let (m, n) = self.inner_dims();
        let kk = self.pattern.count();
        let (pq, e) = (k / kk, k % kk);
        let (p, q) = (pq / self.in_channels, pq % self.in_channels);
        let c = self.in_channels;
        self.inner_element(e)
            .into_iter()
            .map(|(u, v)| {
                let (i, j) = (u as usize / n, u as usize % n);
                (((p * m + i) * c + q) * n + j, v)
            })
            .collect()
    }

    /// `W = Σ_k c_k B_k` as a dense `f64` array.
    pub fn expand_f64(&self, coeffs: &[f64]) -> Vec<f64> {
        self.expand(coeffs)
    }

    /// `W = Σ_k c_k B_k` as a dense `f32` array.
    pub fn expand_f32(&self, coeffs: &[f32]) -> Vec<f32> {
        self.expand(coeffs)
    }

    /// The transpose of `expand`: `∂L/∂c_k = ⟨∂L/∂W, B_k⟩`.
    pub fn project_f64(&self, grad: &[f64]) -> Vec<f64> {
        self.project(grad)
    }

    /// The transpose of `expand`, in `f32`.
    pub fn project_f32(&self, grad: &[f32]) -> Vec<f32> {
        self.project(grad)
    }

    /// Every nonzero entry of every basis element of the whole map, as
    /// `(dense index, coefficient index, value)`: `W = Σ_k c_k B_k` is
    /// `W[i] += c[k] · v` over these, and its adjoint `c[k] += g[i] · v`.
    fn entries(&self, mut visit: impl FnMut(usize, usize, f64)) {
        let (m, n) = self.inner_dims();
        let (d, c, kk) = (self.out_channels, self.in_channels, self.pattern.count());
        let at = |p: usize, i: usize, q: usize, j: usize| ((p * m + i) * c + q) * n + j;
        for p in 0..d {
            for q in 0..c {
                let base = (p * c + q) * kk;
                match &self.pattern {
                    Pattern::Labels { .. } | Pattern::Sparse { .. } => {
                        self.pattern.visit_labels(|u, l| {
                            let (i, j) = (u as usize / n, u as usize % n);
                            let e = l.unsigned_abs() as usize - 1;
                            let v = if l < 0 {
                                -self.scales[e]
                            } else {
                                self.scales[e]
                            };
                            visit(at(p, i, q, j), base + e, v);
                        });
                    }
                    Pattern::Vectors { float, .. } => {
                        for (k, e) in float.iter().enumerate() {
                            for &(u, v) in e {
                                let (i, j) = (u as usize / n, u as usize % n);
                                visit(at(p, i, q, j), base + k, v * self.scales[k]);
                            }
                        }
                    }
                }
            }
        }
    }

    fn expand<T: Float>(&self, coeffs: &[T]) -> Vec<T> {
        assert_eq!(
            coeffs.len(),
            self.free(),
            "one coefficient per basis element"
        );
        let mut w = vec![T::zero(); self.dense()];
        self.entries(|i, k, v| w[i] = w[i] + coeffs[k] * T::from(v).expect("finite"));
        w
    }

    fn project<T: Float>(&self, grad: &[T]) -> Vec<T> {
        assert_eq!(
            grad.len(),
            self.dense(),
            "one gradient entry per dense entry"
        );
        let mut out = vec![T::zero(); self.free()];
        self.entries(|i, k, v| out[k] = out[k] + grad[i] * T::from(v).expect("finite"));
        out
    }

    /// The fans of the map as a dense initialiser sees them, counting each
    /// normalised basis element as one input: `fan_in = c · r` and
    /// `fan_out = d · s`, where `r` is the mean number of inner elements
    /// that reach an output entry and `s` the mean number that read an
    /// input entry. An orbit basis with one entry per row (a convolution)
    /// has the dense fans of its support (a 3-tap convolution: `3c`), an
    /// unconstrained map the usual `c·n` and `d·m`, and a DeepSets layer
    /// (identity and mean) `2c` and `2d`.
    pub fn fans(&self) -> (f64, f64) {
        let (m, n) = self.inner_dims();
        let (rows, cols) = match self.distinct_label_lines() {
            Some(counts) => counts,
            None => {
                let (mut rows, mut cols) = (0usize, 0usize);
                for e in 0..self.pattern.count() {
                    let element = self.pattern.element(e);
                    let distinct = |key: &dyn Fn(u64) -> u64| {
                        let mut seen: Vec<u64> = element.iter().map(|(u, _)| key(*u)).collect();
                        seen.sort_unstable();
                        seen.dedup();
                        seen.len()
                    };
                    rows += distinct(&|u| u / n as u64);
                    cols += distinct(&|u| u % n as u64);
                }
                (rows, cols)
            }
        };
        (
            (self.in_channels * rows) as f64 / m as f64,
            (self.out_channels * cols) as f64 / n as f64,
        )
    }

    /// For a label pattern, the sums over its elements of the rows and of
    /// the columns each element has entries in: the rows in one row-major
    /// pass, the columns in one pass over the entries sorted by column
    /// (a counting sort), so the cost is the entries', not the elements'
    /// times the matrix's. `None` for general vectors.
    fn distinct_label_lines(&self) -> Option<(usize, usize)> {
        let (_, n) = self.inner_dims();
        let k = self.pattern.count();
        let mut last_row = vec![u64::MAX; k];
        let mut rows = 0usize;
        let mut per_col = vec![0usize; n + 1];
        let labelled = self.pattern.visit_labels(|u, l| {
            let e = l.unsigned_abs() as usize - 1;
            let i = u / n as u64;
            if last_row[e] != i {
                last_row[e] = i;
                rows += 1;
            }
            per_col[(u % n as u64) as usize + 1] += 1;
        });
        if !labelled {
            return None;
        }
        for j in 0..n {
            per_col[j + 1] += per_col[j];
        }
        let mut by_col = vec![0u32; per_col[n]];
        let mut next = per_col.clone();
        self.pattern.visit_labels(|u, l| {
            let j = (u % n as u64) as usize;
            by_col[next[j]] = l.unsigned_abs() - 1;
            next[j] += 1;
        });
        let mut last_col = vec![usize::MAX; k];
        let mut cols = 0usize;
        for j in 0..n {
            for &e in &by_col[per_col[j]..per_col[j + 1]] {
                if last_col[e as usize] != j {
                    last_col[e as usize] = j;
                    cols += 1;
                }
            }
        }
        Some((rows, cols))
    }

    /// The standard deviation of every coefficient for the dense
    /// initialiser `init` at [`Basis::fans`]: the normalised elements make
    /// each coefficient a weight on one averaged input, so all coefficients
    /// share the variance a dense weight would have.
    pub fn init_std(&self, init: DenseInit) -> Vec<f64> {
        let (fan_in, fan_out) = self.fans();
        vec![init.variance(fan_in, fan_out).sqrt(); self.free()]
    }

    /// The largest entry of `ρ_B(g) E − E ρ_A(g)` (and `dρ_B(ξ) E − E dρ_A(ξ)`)
    /// over the inner basis elements `E` and all generators, in floating
    /// point. `input` and `output` must be the spaces the basis was solved for.
    pub fn max_residual(&self, input: &Space, output: &Space) -> f64 {
        let group = output.group().or(input.group()).cloned();
        let a = input.lift(group.as_ref());
        let b = output.lift(group.as_ref());
        let (_, ai) = a.split_channels();
        let (_, bi) = b.split_channels();
        let (m, n) = (bi.dim(), ai.dim());
        assert_eq!((m, n), self.inner_dims(), "spaces match the basis");
        let pairs = ai
            .discrete
            .iter()
            .zip(&bi.discrete)
            .chain(ai.lie.iter().zip(&bi.lie));
        let maps: Vec<_> = pairs
            .map(|(x, y)| (y.to_float(), x.to_float().transpose()))
            .collect();
        let mut worst: f64 = 0.0;
        for k in 0..self.pattern.count() {
            let mut e = vec![0.0; m * n];
            for (u, v) in self.pattern.element(k) {
                e[u as usize] = v;
            }
            for (y, xt) in &maps {
                for i in 0..m {
                    for j in 0..n {
                        let left: f64 = y.rows[i]
                            .iter()
                            .map(|&(l, v)| v * e[l as usize * n + j])
                            .sum();
                        let right: f64 = xt.rows[j]
                            .iter()
                            .map(|&(kk, v)| e[i * n + kk as usize] * v)
                            .sum();
                        worst = worst.max((left - right).abs());
                    }
                }
            }
        }
        worst
    }
}
