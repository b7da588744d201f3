//! Rose trees: a fold region whose node holds a list of children
//! (`List(X)`). The region sees the children's carriers as a sequence, one
//! step per child position and one row per node of the group, which the
//! folds nested in the region consume like a computed sequence; sequences
//! of cotangents are summed and zeroed over the same steps.

use super::*;

impl Lowerer<'_> {
    /// The argument of a `List(X)` field: a sequence over a new
    /// pseudo-unfold whose lengths are the nodes' numbers of children.
    pub(super) fn rec_list_arg(&mut self, carrier: &Type) -> Result<(Repr, RecList), JitError> {
        let Type::Tensor(shape) = carrier else {
            return unsupported(format!(
                "a rose tree (a list of children) whose carrier is {}",
                self.type_name(carrier)
            ));
        };
        let size = size(shape);
        self.unfolds.push(UnfoldInfo::Children);
        let unfold = self.unfolds.len() - 1;
        let seq = self.buf();
        self.lists.push((unfold, size));
        let r = Repr::Seq {
            buf: seq,
            size,
            unfold,
        };
        let list = RecList {
            unfold,
            seq,
            size,
            ct: None,
        };
        Ok((r, list))
    }

    /// `a + b` of two sequences over the same steps.
    pub(super) fn seq_add(
        &mut self,
        v: Value,
        a: Value,
        b: Value,
        out: &mut Vec<Instr>,
    ) -> Result<(), JitError> {
        let (ra, rb) = (self.repr_or_close(a, out)?, self.repr_or_close(b, out)?);
        let (
            Repr::Seq {
                buf: x,
                size,
                unfold,
            },
            Repr::Seq {
                buf: y,
                size: s2,
                unfold: u2,
            },
        ) = (ra, rb)
        else {
            return unsupported("a sum of a sequence and a value that is not one");
        };
        if (size, unfold) != (s2, u2) {
            return unsupported("a sum of two sequences of different lengths");
        }
        let dst = self.buf();
        out.push(Instr::SeqSum {
            unfold,
            size,
            terms: vec![x, y],
            out: dst,
        });
        self.set(
            v,
            Repr::Seq {
                buf: dst,
                size,
                unfold,
            },
        );
        Ok(())
    }

    /// The zero cotangent of the list of children of the innermost rose
    /// region being lowered (the only sequence a region's `zeros` can be).
    pub(super) fn zero_seq(&mut self, elem: &Type, out: &mut Vec<Instr>) -> Result<Repr, JitError> {
        let want = elem.shape().map(size);
        let Some(&(unfold, size)) = self.lists.last() else {
            return unsupported("a zero sequence outside a rose tree's region");
        };
        if want != Some(size) {
            return unsupported("a zero sequence of another element than the children's");
        }
        let dst = self.buf();
        out.push(Instr::SeqSum {
            unfold,
            size,
            terms: Vec::new(),
            out: dst,
        });
        Ok(Repr::Seq {
            buf: dst,
            size,
            unfold,
        })
    }
}
