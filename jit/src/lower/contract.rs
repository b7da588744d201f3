//! Contractions as GEMMs over the batch (by which operands are per row,
//! transposed or summed), permutations as transposed views or index maps,
//! and basis projections (of a sum, when only the sum is used).

use super::*;

/// One example's `[r, c]` operand at `loc`: row-major, or a transposed
/// view (`t`).
pub(super) fn mat_of(loc: Loc, t: bool, r: usize, c: usize) -> Mat {
    if t {
        Mat { loc, rs: 1, cs: r }
    } else {
        Mat { loc, rs: c, cs: 1 }
    }
}

impl Lowerer<'_> {
    /// `permute(x, perm)`: the identity is `x` itself; a rotation of the
    /// axes whose every use is a product in the same block is a transposed
    /// view (a stride change for the GEMM); anything else is a row op
    /// through an index map computed here.
    pub(super) fn permute(
        &mut self,
        v: Value,
        x: Value,
        perm: &[u32],
        out: &mut Vec<Instr>,
    ) -> Result<Repr, JitError> {
        let rx = self.repr(x)?;
        let sx = self.tensor_shape(x)?;
        let n = perm.len();
        if let Repr::Tensor { .. } = rx
            && perm.iter().enumerate().all(|(i, &p)| p as usize == i)
        {
            return Ok(rx);
        }
        let rotation = (1..n).find(|&p| {
            perm.iter()
                .enumerate()
                .all(|(i, &q)| q as usize == (i + p) % n)
        });
        if let (
            Repr::Tensor {
                loc,
                batched,
                shape: _,
            },
            Some(p),
        ) = (&rx, rotation)
        {
            let here = self.block_of.get(&v).copied();
            let feeds_products = self.uses[v.index()].iter().all(|u| match u {
                Use::Op(t, _) => {
                    matches!(self.func.op(*t), Some(Op::Contract { .. }))
                        // A batched view must not cross into a region,
                        // which gathers the batched values it reads.
                        && (!batched || self.block_of.get(t).copied() == here)
                }
                Use::Result => false,
            });
            if feeds_products {
                return Ok(Repr::Transposed {
                    loc: *loc,
                    batched: *batched,
                    rows: size(&sx[..p]),
                    cols: size(&sx[p..]),
                    shape: self.tensor_shape(v)?,
                });
            }
        }
        let map = Arc::new(permute_map(&sx, perm));
        self.row(v, RowOp::Permute { map }, &[x], out)
    }

    pub(super) fn table(&mut self, basis: BasisId) -> Arc<BasisTable> {
        let b = &self.module.bases[basis];
        self.tables
            .entry(basis)
            .or_insert_with(|| Arc::new(BasisTable::of(b)))
            .clone()
    }

    /// `basis_project(x)`; when only its sum over the rows is used, the rows
    /// of `x` are summed first (or already are) and projected once.
    pub(super) fn basis_project(
        &mut self,
        v: Value,
        x: Value,
        basis: BasisId,
        out: &mut Vec<Instr>,
    ) -> Result<Repr, JitError> {
        let table = self.table(basis);
        let op = RowOp::BasisProject { table };
        if self.sum_only(v) {
            let rx = self.repr_or_close(x, out)?;
            let summed = match rx {
                Repr::Summed { buf, .. } => Some(buf),
                Repr::Tensor {
                    loc,
                    batched: true,
                    ref shape,
                } => {
                    let dst = self.buf();
                    out.push(Instr::SumRows {
                        src: loc,
                        size: size(shape),
                        dst,
                    });
                    Some(dst)
                }
                _ => None,
            };
            if let Some(src) = summed {
                let shape = self.tensor_shape(v)?;
                let dst = self.buf();
                out.push(Instr::Row {
                    op,
                    ins: vec![(Loc::Buf(src), false, size(&self.tensor_shape(x)?))],
                    dst,
                    out_size: size(&shape),
                    batched: false,
                });
                return Ok(Repr::Summed { buf: dst, shape });
            }
        }
        self.row(v, op, &[x], out)
    }

    pub(super) fn contract(
        &mut self,
        v: Value,
        a: Value,
        b: Value,
        axes: usize,
        out: &mut Vec<Instr>,
    ) -> Result<Repr, JitError> {
        let mut ra = self.repr_or_close(a, out)?;
        let mut rb = self.repr_or_close(b, out)?;
        let sa = self.tensor_shape(a)?;
        let sb = self.tensor_shape(b)?;
        let i = size(&sa[..sa.len() - axes]);
        let k = size(&sa[sa.len() - axes..]);
        let j = size(&sb[axes..]);
        let shape = self.tensor_shape(v)?;
        // A transposed view `[cols, rows]` serves as `A [i, k]` when
        // `cols = i` and as `B [k, j]` when `cols = k`; otherwise it is
        // materialized.
        if matches!(ra, Repr::Transposed { cols, .. } if cols != i) {
            ra = self.materialize(&ra, out)?;
        }
        if matches!(rb, Repr::Transposed { cols, .. } if cols != k) {
            rb = self.materialize(&rb, out)?;
        }
        // A summed operand holds the sum over the rows of a value whose
        // uses are all summed (`sum_only`); the product is linear in it, so
        // the product of the sum is the sum of the products.
        let summed = matches!(ra, Repr::Summed { .. }) || matches!(rb, Repr::Summed { .. });
        let mut ops = Vec::new();
        for r in [&ra, &rb] {
            match r {
                Repr::Tensor { loc, batched, .. } => ops.push((*loc, *batched, false)),
                Repr::Transposed { loc, batched, .. } => ops.push((*loc, *batched, true)),
                Repr::Summed { buf, .. } => ops.push((Loc::Buf(*buf), false, false)),
                _ => return unsupported(format!("a product of {r:?}")),
            }
        }
        let [(mut la, ba, ta), (mut lb, bb, tb)] = [ops[0], ops[1]];
        if summed && (ba || bb) {
            return unsupported("a summed gradient times a per-row value");
        }
        let mat = mat_of;
        let (am, bm) = (mat(la, ta, i, k), mat(lb, tb, k, j));
        let fixed = |x: usize| Dim {
            fixed: x,
            rows: false,
        };
        let rows = |x: usize| Dim {
            fixed: x,
            rows: true,
        };
        // The result is only ever summed over the rows and one operand is
        // per row: sum that operand first, `Σ_r A_r B = (Σ_r A_r) B`.
        if ba != bb && !summed && self.sum_only(v) {
            let (loc, len) = if ba {
                (&mut la, i * k)
            } else {
                (&mut lb, k * j)
            };
            let dst = self.buf();
            out.push(Instr::SumRows {
                src: *loc,
                size: len,
                dst,
            });
            *loc = Loc::Buf(dst);
            let (am, bm) = (mat(la, ta, i, k), mat(lb, tb, k, j));
            let dst = self.buf();
            out.push(Instr::Gemm {
                m: fixed(i),
                k: fixed(k),
                n: fixed(j),
                a: am,
                b: bm,
                c: Mat {
                    loc: Loc::Buf(dst),
                    rs: j,
                    cs: 1,
                },
                c_buf: dst,
                c_len: fixed(i * j),
                per_row: None,
            });
            return Ok(Repr::Summed { buf: dst, shape });
        }
        let dst = self.buf();
        let c = Mat {
            loc: Loc::Buf(dst),
            rs: j,
            cs: 1,
        };
        let gemm = |m, kk, n, am, bm, c, c_len, per_row| Instr::Gemm {
            m,
            k: kk,
            n,
            a: am,
            b: bm,
            c,
            c_buf: dst,
            c_len,
            per_row,
        };
        let (instr, result_batched) = match (ba, bb) {
            (false, false) => (
                gemm(fixed(i), fixed(k), fixed(j), am, bm, c, fixed(i * j), None),
                false,
            ),
            // C[rows, i] = B[rows, k] Aᵀ
            (false, true) if j == 1 && !tb => (
                gemm(
                    rows(1),
                    fixed(k),
                    fixed(i),
                    mat(lb, false, 1, k),
                    self.transposed_operand(la, ta, i, k),
                    Mat {
                        loc: Loc::Buf(dst),
                        rs: i,
                        cs: 1,
                    },
                    rows(i),
                    None,
                ),
                true,
            ),
            // C[rows·i, j] = A[rows·i, k] B
            (true, false) if !ta => (
                gemm(rows(i), fixed(k), fixed(j), am, bm, c, rows(i * j), None),
                true,
            ),
            // Σ_r A_r B_r with A_r = X_rᵀ (`X_r` is `[k, i]`: a transposed
            // view, or any `[i, 1]` column) is Xᵀ B over the stacked rows:
            // one GEMM with the rows in the inner dimension (for `k = 1`
            // the sum of outer products).
            (true, true) if !tb && (ta || k == 1) && self.sum_only(v) => {
                out.push(gemm(
                    fixed(i),
                    rows(k),
                    fixed(j),
                    Mat {
                        loc: la,
                        rs: 1,
                        cs: i,
                    },
                    bm,
                    c,
                    fixed(i * j),
                    None,
                ));
                return Ok(Repr::Summed { buf: dst, shape });
            }
            // One GEMM per row, accumulated into one product when the
            // result is only ever summed over the rows.
            _ if self.sum_only(v) => {
                out.push(gemm(
                    fixed(i),
                    fixed(k),
                    fixed(j),
                    am,
                    bm,
                    c,
                    fixed(i * j),
                    Some([if ba { i * k } else { 0 }, if bb { k * j } else { 0 }, 0]),
                ));
                return Ok(Repr::Summed { buf: dst, shape });
            }
            // One GEMM per row.
            _ => (
                gemm(
                    fixed(i),
                    fixed(k),
                    fixed(j),
                    am,
                    bm,
                    c,
                    rows(i * j),
                    Some([
                        if ba { i * k } else { 0 },
                        if bb { k * j } else { 0 },
                        i * j,
                    ]),
                ),
                true,
            ),
        };
        out.push(instr);
        if summed {
            return Ok(Repr::Summed { buf: dst, shape });
        }
        Ok(Repr::Tensor {
            loc: Loc::Buf(dst),
            batched: result_batched,
            shape,
        })
    }

    /// `Aᵀ` as the right operand of a product, for `A [i, k]` at `loc`
    /// (row-major, or a transposed view when `t`). A row-major parameter
    /// seen transposed is column-major, which the GEMM packs element by
    /// element; inside a region, where the product runs once per level or
    /// step, it is copied transposed once per call (the parameters do not
    /// change during a call) and read row-major.
    pub(super) fn transposed_operand(&mut self, loc: Loc, t: bool, i: usize, k: usize) -> Mat {
        if t || self.depth == 0 || !matches!(loc, Loc::Param(_)) {
            let a = mat_of(loc, t, i, k);
            return Mat {
                loc,
                rs: a.cs,
                cs: a.rs,
            };
        }
        let buf = match self.transposed_params.get(&(loc, i, k)) {
            Some(&b) => b,
            None => {
                let b = self.buf();
                self.prologue.push(Instr::Row {
                    op: RowOp::Permute {
                        map: Arc::new(permute_map(&[i, k], &[1, 0])),
                    },
                    ins: vec![(loc, false, i * k)],
                    dst: b,
                    out_size: i * k,
                    batched: false,
                });
                self.transposed_params.insert((loc, i, k), b);
                b
            }
        };
        Mat {
            loc: Loc::Buf(buf),
            rs: i,
            cs: 1,
        }
    }
}
