//! Losses of a tensor or sequence output against its target, and their
//! gradients times a seed.

use super::*;

impl Lowerer<'_> {
    pub(super) fn loss(
        &mut self,
        kind: cdlc_ir::LossKind,
        o: Value,
        target: Value,
        seed: Option<Value>,
        out: &mut Vec<Instr>,
    ) -> Result<Repr, JitError> {
        let seed = match seed {
            Some(s) => {
                let (loc, b, n) = self.operand(s, out)?;
                if n != 1 {
                    return Err(JitError::Internal("a loss seed is a scalar".into()));
                }
                Some((loc, b))
            }
            None => None,
        };
        let ro = self.repr_or_close(o, out)?;
        let rt = self.repr(target)?;
        if let Repr::Seq {
            buf,
            size: n,
            unfold,
        } = ro
        {
            let Repr::SeqTarget { input } = rt else {
                return unsupported("a sequence loss against a computed target");
            };
            let dst = self.buf();
            return Ok(match seed {
                None => {
                    out.push(Instr::SeqLoss {
                        kind,
                        out: buf,
                        size: n,
                        unfold,
                        target: input,
                        dst,
                    });
                    Repr::Tensor {
                        loc: Loc::Buf(dst),
                        batched: true,
                        shape: Vec::new(),
                    }
                }
                Some(seed) => {
                    out.push(Instr::SeqLossGrad {
                        kind,
                        out: buf,
                        size: n,
                        unfold,
                        target: input,
                        seed,
                        dst,
                    });
                    Repr::Seq {
                        buf: dst,
                        size: n,
                        unfold,
                    }
                }
            });
        }
        let (loc, _, n) = self.operand(o, out)?;
        let target = match rt {
            Repr::Class { input } => TargetLoc::Class(input),
            Repr::Tensor { loc, batched, .. } => TargetLoc::Tensor(loc, batched),
            other => return unsupported(format!("a loss target {other:?}")),
        };
        let dst = self.buf();
        let shape = self.tensor_shape(o)?;
        Ok(match seed {
            None => {
                out.push(Instr::Loss {
                    kind,
                    out: loc,
                    size: n,
                    target,
                    dst,
                });
                Repr::Tensor {
                    loc: Loc::Buf(dst),
                    batched: true,
                    shape: Vec::new(),
                }
            }
            Some(seed) => {
                out.push(Instr::LossGrad {
                    kind,
                    out: loc,
                    size: n,
                    target,
                    seed,
                    dst,
                });
                Repr::Tensor {
                    loc: Loc::Buf(dst),
                    batched: true,
                    shape,
                }
            }
        })
    }
}
