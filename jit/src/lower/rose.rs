//! Rose trees: a fold region whose node holds a list of children
//! (`List(X)`). The region sees the children's carriers as a sequence, one
//! step per child position and one row per node of the group, which the
//! folds nested in the region consume like a computed sequence; sequences
//! of cotangents are summed and zeroed over the same steps. A sequence of
//! tuples (the children of a tree whose carrier is a pair) is held as a
//! tuple of sequences over the same steps, one per tensor component.

use super::*;

impl Lowerer<'_> {
    /// The argument of a `List(X)` field: a sequence over a new
    /// pseudo-unfold whose lengths are the nodes' numbers of children, one
    /// per flattened component of the carrier.
    pub(super) fn rec_list_arg(&mut self, carrier: &Type) -> Result<(Repr, RecList), JitError> {
        self.unfolds.push(UnfoldInfo::Children);
        let unfold = self.unfolds.len() - 1;
        self.local_unfolds.insert(unfold);
        let (r, seqs) = self.seq_of(carrier, unfold)?;
        self.lists.push((unfold, carrier.clone()));
        let list = RecList {
            unfold,
            seqs,
            ct: None,
        };
        Ok((r, list))
    }

    /// The argument of a plain field holding a list of tensors (a list of
    /// lists, a tree whose nodes hold lists): a sequence over a new
    /// pseudo-unfold whose lengths are the lists' of the group's nodes.
    pub(super) fn field_list_arg(&mut self, list: &Type) -> Result<(Repr, RecList), JitError> {
        let Some(elem) = self.module.over_element(list).cloned() else {
            return Err(JitError::Internal("a list field is a list".into()));
        };
        self.unfolds.push(UnfoldInfo::Children);
        let unfold = self.unfolds.len() - 1;
        self.local_unfolds.insert(unfold);
        let (r, seqs) = self.seq_of(&elem, unfold)?;
        let list = RecList {
            unfold,
            seqs,
            ct: None,
        };
        Ok((r, list))
    }

    /// The sizes of the element's tensors if `ty` is a list of tensors (or
    /// of tuples of tensors).
    pub(super) fn list_of_tensors(&self, ty: &Type) -> Option<Vec<usize>> {
        let Type::Data(d) = ty else { return None };
        let mut sizes = Vec::new();
        let elem = self.module.list_element(*d)?;
        tensor_components(elem, &mut sizes).then_some(sizes)
    }

    /// A sequence of elements of type `elem` over unfold `unfold` in fresh
    /// buffers: one `Repr::Seq` per tensor of the element (a tuple of
    /// sequences for a tuple element), with their (buffer, size).
    pub(super) fn seq_of(
        &mut self,
        elem: &Type,
        unfold: usize,
    ) -> Result<(Repr, Vec<(usize, usize)>), JitError> {
        let mut sizes = Vec::new();
        if !tensor_components(elem, &mut sizes) {
            return unsupported(format!(
                "a sequence of {} inside a region",
                self.type_name(elem)
            ));
        }
        let parts: Vec<(usize, usize)> = sizes.into_iter().map(|s| (self.buf(), s)).collect();
        let r = seq_from(elem, unfold, &mut parts.iter().copied());
        Ok((r, parts))
    }

    /// `a + b` of two sequences over the same steps, component by
    /// component.
    pub(super) fn seq_add(
        &mut self,
        v: Value,
        a: Value,
        b: Value,
        out: &mut Vec<Instr>,
    ) -> Result<(), JitError> {
        let (ra, rb) = (self.repr_or_close(a, out)?, self.repr_or_close(b, out)?);
        let (Some((unfold, xs)), Some((u2, ys))) = (seq_parts(&ra), seq_parts(&rb)) else {
            return unsupported("a sum of a sequence and a value that is not one");
        };
        let same_sizes = xs.iter().map(|x| x.1).eq(ys.iter().map(|y| y.1));
        if unfold != u2 || !same_sizes {
            return unsupported("a sum of two sequences of different lengths");
        }
        let Type::Seq(elem) = self.func.types[v].clone() else {
            return Err(JitError::Internal(
                "a sum of sequences is a sequence".into(),
            ));
        };
        let (r, dsts) = self.seq_of(&elem, unfold)?;
        for ((&(dst, size), &(x, _)), &(y, _)) in dsts.iter().zip(&xs).zip(&ys) {
            out.push(Instr::SeqSum {
                unfold,
                size,
                terms: vec![x, y],
                out: dst,
            });
        }
        self.set(v, r);
        Ok(())
    }

    /// The zero cotangent of the list of children of the innermost rose
    /// region being lowered (the only sequence a region's `zeros` can be).
    pub(super) fn zero_seq(&mut self, elem: &Type, out: &mut Vec<Instr>) -> Result<Repr, JitError> {
        let Some((unfold, children)) = self.lists.last().cloned() else {
            return unsupported("a zero sequence outside a rose tree's region");
        };
        if *elem != children {
            return unsupported("a zero sequence of another element than the children's");
        }
        let (r, dsts) = self.seq_of(elem, unfold)?;
        for (dst, size) in dsts {
            out.push(Instr::SeqSum {
                unfold,
                size,
                terms: Vec::new(),
                out: dst,
            });
        }
        Ok(r)
    }
}

/// The sequence over `unfold` of elements of type `elem` whose flattened
/// components take the next (buffer, size) pairs of `parts`: a
/// `Repr::Seq` for a tensor, a tuple of them for a tuple.
pub(super) fn seq_from(
    elem: &Type,
    unfold: usize,
    parts: &mut impl Iterator<Item = (usize, usize)>,
) -> Repr {
    match elem {
        Type::Tuple(ts) => Repr::Tuple(ts.iter().map(|t| seq_from(t, unfold, parts)).collect()),
        _ => {
            let (buf, size) = parts.next().expect("one part per tensor of the element");
            Repr::Seq { buf, size, unfold }
        }
    }
}

/// A sequence's unfold and flattened (buffer, size) components: a
/// `Repr::Seq`, or a tuple of them over one unfold (a sequence of tuples);
/// `None` for anything else.
pub(crate) fn seq_parts(r: &Repr) -> Option<(usize, Vec<(usize, usize)>)> {
    match r {
        Repr::Seq { buf, size, unfold } => Some((*unfold, vec![(*buf, *size)])),
        Repr::Tuple(rs) if !rs.is_empty() => {
            let mut all = Vec::new();
            let mut over = None;
            for r in rs {
                let (u, parts) = seq_parts(r)?;
                if over.is_some_and(|o| o != u) {
                    return None;
                }
                over = Some(u);
                all.extend(parts);
            }
            over.map(|u| (u, all))
        }
        _ => None,
    }
}
