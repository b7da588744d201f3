//! Buffers, views and the representations of values: a value as one
//! tensor part or flattened parts, transposed views materialized, the
//! operands of row operations.

use super::*;

impl Lowerer<'_> {
    pub(super) fn buf(&mut self) -> usize {
        self.num_bufs += 1;
        self.num_bufs - 1
    }

    pub(super) fn view(&mut self) -> usize {
        self.num_views += 1;
        self.num_views - 1
    }

    pub(super) fn repr(&self, v: Value) -> Result<Repr, JitError> {
        self.reprs[v.index()]
            .clone()
            .ok_or_else(|| JitError::Internal(format!("{v} has no representation")))
    }

    pub(super) fn set(&mut self, v: Value, r: Repr) {
        self.reprs[v.index()] = Some(r);
    }

    /// `ty` as the IR's text form writes it (`List(R[2])`), for messages.
    pub(super) fn type_name(&self, ty: &Type) -> String {
        cdlc_ir::print::type_name(self.module, ty)
    }

    /// The representation of `x`, closing the open group if `x` is in it.
    pub(super) fn repr_or_close(
        &mut self,
        x: Value,
        out: &mut Vec<Instr>,
    ) -> Result<Repr, JitError> {
        if self
            .group
            .as_ref()
            .is_some_and(|g| g.member_of.contains_key(&x))
        {
            self.close_group(out);
        }
        self.repr(x)
    }

    pub(super) fn tensor_shape(&self, x: Value) -> Result<Vec<usize>, JitError> {
        match &self.func.types[x] {
            Type::Tensor(s) => Ok(s.clone()),
            other => unsupported(format!("a tensor op on {other:?}")),
        }
    }

    /// A tensor value as one flattened part.
    pub(super) fn part(&self, r: &Repr) -> Result<Part, JitError> {
        r.part()
            .ok_or_else(|| JitError::Internal(format!("not a tensor: {r:?}")))
    }

    /// A value as flattened parts (transposed views are materialized).
    pub(super) fn flatten(
        &mut self,
        r: &Repr,
        out: &mut Vec<Instr>,
    ) -> Result<Vec<Part>, JitError> {
        match r {
            Repr::Tuple(rs) => {
                let mut parts = Vec::new();
                for r in rs {
                    parts.extend(self.flatten(r, out)?);
                }
                Ok(parts)
            }
            Repr::Transposed { .. } => {
                let t = self.materialize(r, out)?;
                Ok(vec![self.part(&t)?])
            }
            r => Ok(vec![self.part(r)?]),
        }
    }

    /// A plain tensor for a transposed view.
    pub(super) fn materialize(&mut self, r: &Repr, out: &mut Vec<Instr>) -> Result<Repr, JitError> {
        match r {
            Repr::Transposed {
                loc,
                batched,
                rows,
                cols,
                shape,
            } => {
                let dst = self.buf();
                out.push(Instr::Row {
                    op: RowOp::Permute {
                        map: Arc::new(permute_map(&[*rows, *cols], &[1, 0])),
                    },
                    ins: vec![(*loc, *batched, rows * cols)],
                    dst,
                    out_size: rows * cols,
                    batched: *batched,
                });
                Ok(Repr::Tensor {
                    loc: Loc::Buf(dst),
                    batched: *batched,
                    shape: shape.clone(),
                })
            }
            Repr::Summed { .. } => unsupported("a summed gradient used by a non-linear op"),
            r => Ok(r.clone()),
        }
    }

    /// A tensor operand's location, batching and size.
    pub(super) fn operand(
        &mut self,
        x: Value,
        out: &mut Vec<Instr>,
    ) -> Result<(Loc, bool, usize), JitError> {
        let r = self.repr_or_close(x, out)?;
        let r = self.materialize(&r, out)?;
        match r {
            Repr::Tensor {
                loc,
                batched,
                shape,
            } => Ok((loc, batched, size(&shape))),
            other => unsupported(format!("a tensor op on {other:?}")),
        }
    }
}
