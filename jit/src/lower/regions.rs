//! What the recursion ops share: batched buffers and views for carriers,
//! states and region arguments, the captures a fold region gathers by
//! example, and the accumulators of backward ops.

use super::*;

impl Lowerer<'_> {
    /// Batched buffers for a value of type `ty`: its representation and
    /// its flattened (buffer, size) components.
    pub(super) fn alloc(&mut self, ty: &Type) -> Result<(Repr, Vec<(usize, usize)>), JitError> {
        match ty {
            Type::Tensor(s) => {
                let buf = self.buf();
                Ok((
                    Repr::Tensor {
                        loc: Loc::Buf(buf),
                        batched: true,
                        shape: s.clone(),
                    },
                    vec![(buf, size(s))],
                ))
            }
            Type::Tuple(ts) => {
                let mut rs = Vec::new();
                let mut flat = Vec::new();
                for t in ts {
                    let (r, f) = self.alloc(t)?;
                    rs.push(r);
                    flat.extend(f);
                }
                Ok((Repr::Tuple(rs), flat))
            }
            other => unsupported(format!(
                "a carrier or state of type {}",
                self.type_name(other)
            )),
        }
    }

    /// Batched views for a value of type `ty`.
    pub(super) fn alloc_views(&mut self, ty: &Type) -> Result<(Repr, Vec<usize>), JitError> {
        match ty {
            Type::Tensor(s) => {
                let view = self.view();
                Ok((
                    Repr::Tensor {
                        loc: Loc::View(view),
                        batched: true,
                        shape: s.clone(),
                    },
                    vec![view],
                ))
            }
            Type::Tuple(ts) => {
                let mut rs = Vec::new();
                let mut flat = Vec::new();
                for t in ts {
                    let (r, f) = self.alloc_views(t)?;
                    rs.push(r);
                    flat.extend(f);
                }
                Ok((Repr::Tuple(rs), flat))
            }
            other => unsupported(format!(
                "a value of type {} in a region",
                self.type_name(other)
            )),
        }
    }

    /// Batched outer values a fold region reads get local buffers gathered
    /// by example; their outer representations are saved to be restored.
    pub(super) fn region_captures(
        &mut self,
        block: Block,
        caps: &mut Vec<(Loc, usize, usize)>,
    ) -> Result<(), JitError> {
        for x in self.func.free_values(&[block]) {
            if let Some(Repr::Tensor {
                loc,
                batched: true,
                shape,
            }) = self.reprs[x.index()].clone()
            {
                let buf = self.buf();
                caps.push((loc, size(&shape), buf));
                self.set(
                    x,
                    Repr::Tensor {
                        loc: Loc::Buf(buf),
                        batched: true,
                        shape,
                    },
                );
                self.saved.push((x, loc));
            } else if self.reprs[x.index()]
                .as_ref()
                .is_some_and(|r| rose::seq_parts(r).is_some() || matches!(r, Repr::Summed { .. }))
            {
                return unsupported("a sequence or gradient read inside a fold region");
            }
        }
        Ok(())
    }

    pub(super) fn restore_captures(&mut self, caps: &[(Loc, usize, usize)]) {
        for _ in caps {
            let (x, loc) = self.saved.pop().expect("saved with the capture");
            if let Some(Repr::Tensor { loc: l, .. }) = &mut self.reprs[x.index()] {
                *l = loc;
            }
        }
    }

    pub(super) fn accumulators(
        &mut self,
        captures: &[Value],
    ) -> Result<(Vec<Acc>, Vec<Repr>), JitError> {
        let mut acc = Vec::new();
        let mut reprs = Vec::new();
        for &c in captures {
            let Type::Tensor(shape) = self.func.types[c].clone() else {
                return unsupported("a captured value that is not a tensor");
            };
            let per_example = self.is_batched(c);
            let buf = self.buf();
            acc.push(Acc {
                buf,
                size: size(&shape),
                per_example,
            });
            reprs.push(if per_example {
                Repr::Tensor {
                    loc: Loc::Buf(buf),
                    batched: true,
                    shape,
                }
            } else {
                Repr::Summed { buf, shape }
            });
        }
        Ok((acc, reprs))
    }
}
