//! Equivariant maps applied through their basis rather than expanded to
//! the dense map, when that is cheaper by a clear margin.
//!
//! Three forms, tried in order: DeepSets-style maps in closed form
//! (`Aggregate`), small inner bases as one stacked constant (`Stacked`),
//! and sparse inner bases — shifts, permutations, their signed and partial
//! versions: a `cyclic(n)` map with `local(r)` is a circular convolution,
//! a p4 map a group convolution — as a gather (`Gather`): every inner
//! element is applied to the input as a sparse map, then the coefficients
//! combine the gathered copies in one product. The gather's cost is the
//! input channels times the inner elements' nonzeros, the product's the
//! coefficients times the output points, so neither time nor memory ever
//! grows with the dense map.

use cdlc_ir::{self as ir, FunctionBuilder};

/// An equivariant map `R[c] ⊗ S → R[d] ⊗ T` applied through its basis,
/// with coefficients `C[p, q, e]` and inner basis elements `B_e : S → T`:
///
///   (W x)[p, i] = Σ_e Σ_q C[p, q, e] Σ_j B_e[i, j] x[q, j].
///
/// Used when that is cheaper than the dense map by a clear margin.
#[derive(Debug)]
pub(super) struct Structured {
    /// `out channel axes ++ in channel axes ++ [k]`.
    pub(super) coeff_shape: Vec<usize>,
    /// Rank of the input's channel axes.
    in_channel_rank: u32,
    form: Form,
}

#[derive(Debug)]
enum Form {
    /// Every inner element is `α_e I + β_e 11ᵀ` on one axis of `n` points
    /// (DeepSets-style layers), so that
    ///
    ///   W x = (Σ_e α_e C_e) x + ((Σ_e β_e C_e) Σ_j x[·, j]) 1ᵀ:
    ///
    /// `d c n` multiply-adds per example, the dense map's cost divided by `n`.
    Aggregate {
        alpha: Vec<f64>,
        beta: Vec<f64>,
        n: usize,
    },
    /// Any other inner basis, as one stacked tensor `S ++ [k] ++ T`:
    /// `z = x · Bᵀ` (all inner elements at once, a constant) and
    /// `y = C · z`, `k (n + d) c m` multiply-adds per example instead of
    /// the dense map's `d m c n` (k elements, n = |S|, m = |T|).
    Stacked {
        stacked: cdlc_runtime::value::Tensor,
        in_rank: u32,
    },
    /// A sparse inner basis, applied as a gather: the input `x` (in
    /// channels `++ S`) is the coefficient tensor of `gather`, a basis of
    /// shape in channels `++ [k] ++ T` with
    ///
    ///   z[q, e, i] = Σ_j B_e[i, j] x[q, j]
    ///
    /// (one element per input entry, holding the inner elements' nonzeros
    /// in its column), then `y = C · z`: `c·nnz + d c k m` multiply-adds
    /// per example instead of the dense map's `d m c n` (`nnz` the inner
    /// elements' nonzeros in all). Its derivatives are the basis's
    /// projection (for `x`) and the product's (for `C`).
    Gather {
        /// The gather as a module basis, until it is registered.
        gather: ir::Basis,
        /// Its id in the module, once registered (`Structured::bind`).
        id: Option<ir::BasisId>,
    },
}

/// The most entries of the constant a `Stacked` form holds (`n·k·m`, 128 MiB
/// in f64); past it a sparse basis is gathered instead.
const MAX_STACKED: usize = 1 << 24;

/// What one gathered entry costs in the multiply-adds of a dense product
/// (an indexed load and an add, against a packed product's vector lanes):
/// a stacked constant is used only while its entries, zeros included, are
/// fewer than the inner elements' nonzeros times this. A `cyclic(128)`
/// kernel of five taps stacks 128 times its nonzeros, and its layers ran
/// 2.2–3.8× faster gathered (`docs/performance.md`, W8).
const GATHER_COST: usize = 16;

impl Structured {
    /// The structured form of `basis`, if it is worth using.
    pub(super) fn worth_it(basis: &cdlc_equivariance::Basis) -> Option<Structured> {
        let (d, c) = basis.channels();
        let (t, s) = basis.inner_shapes();
        let (m, n): (usize, usize) = (t.iter().product(), s.iter().product());
        let k = basis.pattern().count();
        if basis.in_shape().is_empty() || k == 0 {
            return None;
        }
        let out_channels = &basis.out_shape()[..basis.out_shape().len() - t.len()];
        let in_channels = &basis.in_shape()[..basis.in_shape().len() - s.len()];
        let mut coeff_shape: Vec<usize> = out_channels.to_vec();
        coeff_shape.extend(in_channels);
        coeff_shape.push(k);
        // The inner elements, read once: a pattern kept sparse by
        // `local(r)` is never expanded here, so nothing below grows with the
        // dense map unless the form is chosen for being small.
        let elements = basis.inner_elements();
        let nnz: usize = elements.iter().map(Vec::len).sum();
        let form = match Form::aggregate(basis, &elements) {
            Some(form) => form,
            None if 2 * k * (n + d) * c * m <= d * m * c * n
                && n * k * m <= MAX_STACKED
                && n * k * m <= GATHER_COST * nnz =>
            {
                Form::stacked(basis, &elements)
            }
            None => {
                if 2 * (c * nnz + d * c * k * m) > d * m * c * n || c * k * m > u32::MAX as usize {
                    return None;
                }
                Form::gather(basis, in_channels, &elements)
            }
        };
        Some(Structured {
            coeff_shape,
            in_channel_rank: in_channels.len() as u32,
            form,
        })
    }

    /// The module basis this form needs registered before it can be
    /// applied, if any and if not yet bound.
    pub(super) fn pending_basis(&self) -> Option<&ir::Basis> {
        match &self.form {
            Form::Gather { gather, id: None } => Some(gather),
            _ => None,
        }
    }

    /// Binds the registered module basis of `pending_basis`.
    pub(super) fn bind(&mut self, basis: ir::BasisId) {
        if let Form::Gather { id, .. } = &mut self.form {
            *id = Some(basis);
        }
    }

    /// `W @ x` for the coefficient slot `c`.
    pub(super) fn apply(
        &self,
        b: &mut FunctionBuilder<'_>,
        c: ir::Value,
        x: ir::Value,
    ) -> ir::Value {
        match &self.form {
            Form::Aggregate { alpha, beta, n } => {
                let mut combine = |w: &[f64]| {
                    let w = b.constant(cdlc_runtime::value::Tensor::new(vec![w.len()], w.to_vec()));
                    b.contract(c, w, 1)
                };
                let (a, g) = (combine(alpha), combine(beta));
                // x: in channels ++ [n]; the points are its last axis.
                let last = u32::try_from(b.shape_of(x).len() - 1).expect("a small rank");
                let local = b.contract(a, x, self.in_channel_rank);
                let total = b.reduce(ir::ReduceOp::Sum, x, Some(last));
                let pooled = b.contract(g, total, self.in_channel_rank);
                let out_last = u32::try_from(b.shape_of(pooled).len()).expect("a small rank");
                let spread = b.op(ir::Op::Expand {
                    x: pooled,
                    axis: out_last,
                    n: u32::try_from(*n).expect("a small set"),
                });
                b.add(local, spread)
            }
            Form::Stacked { stacked, in_rank } => {
                let stacked = b.constant(stacked.clone());
                // z: in channels ++ [k] ++ T
                let z = b.contract(x, stacked, *in_rank);
                // y: out channels ++ T
                b.contract(c, z, self.in_channel_rank + 1)
            }
            Form::Gather { id, .. } => {
                let basis =
                    id.expect("internal error: a gather applied before its basis was bound");
                // z: in channels ++ [k] ++ T
                let z = b.basis_expand(x, basis);
                // y: out channels ++ T
                b.contract(c, z, self.in_channel_rank + 1)
            }
        }
    }
}

impl Form {
    /// The `Aggregate` form, when every inner element is `α I + β 11ᵀ`
    /// on one axis: its diagonal entries all present with one value or all
    /// absent, and likewise its off-diagonal entries (entries are distinct,
    /// so counting them settles presence).
    fn aggregate(basis: &cdlc_equivariance::Basis, elements: &[Vec<(u64, f64)>]) -> Option<Form> {
        let (t, s) = basis.inner_shapes();
        if t.len() != 1 || t != s {
            return None;
        }
        let n = s[0];
        let (mut alpha, mut beta) = (Vec::new(), Vec::new());
        for element in elements {
            let (diagonal, off) = element
                .iter()
                .partition::<Vec<_>, _>(|(u, _)| u / n as u64 == u % n as u64);
            let value = |part: &[&(u64, f64)], full: usize| -> Option<f64> {
                match part.first() {
                    None => Some(0.0),
                    Some(&&(_, v)) if part.len() == full && part.iter().all(|e| e.1 == v) => {
                        Some(v)
                    }
                    Some(_) => None,
                }
            };
            let diagonal = value(&diagonal, n)?;
            let off = value(&off, n * n - n)?;
            alpha.push(diagonal - off);
            beta.push(off);
        }
        Some(Form::Aggregate { alpha, beta, n })
    }

    /// The `Gather` form: one gather element per input entry `(q, j)`,
    /// holding `B_e[i, j]` at `(q, e, i)` for every inner element `e`.
    fn gather(
        basis: &cdlc_equivariance::Basis,
        in_channels: &[usize],
        elements: &[Vec<(u64, f64)>],
    ) -> Form {
        let (t, s) = basis.inner_shapes();
        let (m, n): (usize, usize) = (t.iter().product(), s.iter().product());
        let (c, k) = (in_channels.iter().product::<usize>(), elements.len());
        // The inner elements' entries by input point j, as (e·m + i, value).
        let mut columns: Vec<Vec<(usize, f64)>> = vec![Vec::new(); n];
        for (e, element) in elements.iter().enumerate() {
            for &(u, v) in element {
                let (i, j) = (u as usize / n, u as usize % n);
                columns[j].push((e * m + i, v));
            }
        }
        let index =
            |x: usize| u32::try_from(x).expect("a gather of at most u32::MAX entries (`worth_it`)");
        let mut gathered = Vec::with_capacity(c * n);
        for q in 0..c {
            for column in &columns {
                let row = column.iter().map(|&(r, v)| (index(q * k * m + r), v));
                gathered.push(row.collect());
            }
        }
        let mut coeff_shape = in_channels.to_vec();
        coeff_shape.extend(s);
        let mut shape = in_channels.to_vec();
        shape.push(k);
        shape.extend(t);
        Form::Gather {
            gather: ir::Basis {
                name: String::new(),
                shape,
                elements: gathered,
                coeff_shape,
            },
            id: None,
        }
    }

    fn stacked(basis: &cdlc_equivariance::Basis, elements: &[Vec<(u64, f64)>]) -> Form {
        let (t, s) = basis.inner_shapes();
        let (m, n): (usize, usize) = (t.iter().product(), s.iter().product());
        let k = elements.len();
        // stacked[j..., e, i...] = B_e[i, j]
        let mut data = vec![0.0; n * k * m];
        for (e, element) in elements.iter().enumerate() {
            for &(u, v) in element {
                let (i, j) = (u as usize / n, u as usize % n);
                data[(j * k + e) * m + i] = v;
            }
        }
        let mut shape: Vec<usize> = s.to_vec();
        shape.push(k);
        shape.extend(t);
        Form::Stacked {
            stacked: cdlc_runtime::value::Tensor::new(shape, data),
            in_rank: s.len() as u32,
        }
    }
}
