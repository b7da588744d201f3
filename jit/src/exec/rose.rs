//! The executor's side of rose trees: a group's lists of children laid out
//! as a sequence for its region, the lengths and schedule of a fold over
//! such a list, sums of sequences, and the children's cotangents scattered
//! back to their nodes.

use super::*;
#[cfg(debug_assertions)]
use crate::batch::{Ctors, check_fold};
use crate::batch::{FieldListData, halves_schedule, list_schedule};

impl<T: Elem> Run<'_, T> {
    /// The steps and rows of the sequences of unfold `u`: a list of
    /// children's (or an unfold's over one) in the group being run, else
    /// the batch's.
    pub(super) fn seq_extent(&self, u: usize) -> (usize, usize) {
        match &self.st.local_lens[u] {
            Some(lens) => (lens.iter().copied().max().unwrap_or(0), lens.len()),
            None => (self.batch.unfolds[u].steps, self.batch.rows),
        }
    }

    /// For a fold over a list of children (or `by halves` over one), its
    /// schedule in the group being run (one list per node of the group);
    /// `None` for any other fold. An empty list split by halves is a data
    /// error.
    pub(super) fn children_schedule(
        &self,
        elems: Option<&SeqElems>,
    ) -> Result<Option<FoldData<T>>, JitError> {
        let Some(e) = elems else { return Ok(None) };
        let Some(lens) = self.st.local_lens[e.unfold].as_deref() else {
            return Ok(None);
        };
        let fd = match e.halves {
            true => halves_schedule(lens).map_err(|_| JitError::Data(ExampleError::EmptyHalves))?,
            false => list_schedule(lens),
        };
        // Debug builds check the schedule built for the group, like the
        // batch's (`batch::check`).
        #[cfg(debug_assertions)]
        {
            let ctors = if e.halves {
                Ctors::halves()
            } else {
                Ctors::list()
            };
            let steps = lens.iter().copied().max().unwrap_or(0);
            let site = crate::plan::Site(vec![crate::plan::Step::Unfold(e.unfold)]);
            check_fold(&site, &fd, lens.len(), &ctors, Some(steps)).map_err(|err| {
                JitError::Internal(format!("a region's schedule fails its checker: {err}"))
            })?;
        }
        Ok(Some(fd))
    }

    /// `out = Σ terms` over the rows of unfold `unfold`'s sequences.
    pub(super) fn seq_sum(&mut self, unfold: usize, size: usize, terms: &[usize], out: usize) {
        let (steps, rows) = self.seq_extent(unfold);
        let n = steps * rows * size;
        let mut acc = std::mem::take(&mut self.st.bufs[out]);
        if acc.len() < n {
            acc.resize(n, T::ZERO);
        }
        acc[..n].fill(T::ZERO);
        for &t in terms {
            for (a, &x) in acc[..n].iter_mut().zip(&self.st.bufs[t][..n]) {
                *a += x;
            }
        }
        self.st.bufs[out] = acc;
    }

    /// Gathers the elements of group `g` of a fold over a computed
    /// sequence (one component of them) into `p.gathered`.
    pub(super) fn gather_elems(&mut self, p: &ElemPart, g: &GroupData<T>) {
        let s = p.size;
        self.ensure(p.gathered, g.len * s);
        let src = self.st.bufs[p.seq].as_ptr();
        let dst = self.st.bufs[p.gathered].as_mut_ptr();
        for (i, &row) in g.elems.iter().enumerate() {
            // SAFETY: the sequence holds `steps x rows` rows of `s`;
            // `gathered` holds `n` rows and is another buffer
            // (`plan::verify`: P003, P004, P005).
            unsafe { std::ptr::copy_nonoverlapping(src.add(row as usize * s), dst.add(i * s), s) };
        }
    }

    /// Copies the element cotangents (one component of them) that a
    /// backward region of group `g` yields as `part` to their rows of the
    /// sequence of cotangents.
    pub(super) fn scatter_elems(&mut self, part: Part, p: &ElemPart, g: &GroupData<T>) {
        let src = self.ptr(part.loc) as *const T;
        let dst = self.st.bufs[p.cotangents].as_mut_ptr();
        for (i, &row) in g.elems.iter().enumerate() {
            let off = if part.kind == PartKind::Batched {
                i * p.size
            } else {
                0
            };
            // SAFETY: each element's row is written once (the schedule),
            // from a part that is not the cotangents' buffer
            // (`plan::verify`: P005, P008).
            unsafe {
                std::ptr::copy_nonoverlapping(src.add(off), dst.add(row as usize * p.size), p.size)
            };
        }
    }

    /// Lays out list `l` of the children of group `g`'s nodes for the
    /// region: step `t`, row `i` holds the carrier of node `i`'s child at
    /// position `t` (each flattened component in its own sequence), zero
    /// past its last child; and sets the lengths.
    pub(super) fn gather_children(
        &mut self,
        list: &RecList,
        g: &GroupData<T>,
        l: usize,
        carrier: &[(usize, usize)],
    ) {
        let n = g.len;
        let lens: Vec<usize> = (0..n)
            .map(|i| {
                let k = i * g.list_arity + l;
                (g.list_offsets[k + 1] - g.list_offsets[k]) as usize
            })
            .collect();
        let steps = lens.iter().copied().max().unwrap_or(0);
        for (&(buf, s), &(cbuf, _)) in list.seqs.iter().zip(carrier) {
            self.ensure(buf, steps * n * s);
            let mut seq = std::mem::take(&mut self.st.bufs[buf]);
            seq[..steps * n * s].fill(T::ZERO);
            let src = &self.st.bufs[cbuf];
            for i in 0..n {
                let first = g.list_offsets[i * g.list_arity + l] as usize;
                for t in 0..lens[i] {
                    let child = g.list_children[first + t] as usize;
                    seq[(t * n + i) * s..][..s].copy_from_slice(&src[child * s..][..s]);
                }
            }
            self.st.bufs[buf] = seq;
        }
        self.st.local_lens[list.unfold] = Some(lens);
    }

    /// Lays out the lists a plain field holds, one per node of the group
    /// (`n` nodes), as the region's sequence: step `t`, row `i` holds node
    /// `i`'s element `t` (each component in its own sequence), zero past
    /// its list's end; and sets the lengths.
    pub(super) fn lay_out_field_list(&mut self, list: &RecList, data: &FieldListData<T>, n: usize) {
        let lens: Vec<usize> = data.offsets.windows(2).map(|w| w[1] - w[0]).collect();
        let steps = lens.iter().copied().max().unwrap_or(0);
        for (&(buf, s), elems) in list.seqs.iter().zip(&data.elems) {
            self.ensure(buf, steps * n * s);
            let seq = &mut self.st.bufs[buf][..steps * n * s];
            seq.fill(T::ZERO);
            for (i, &len) in lens.iter().enumerate() {
                let first = data.offsets[i];
                for t in 0..len {
                    seq[(t * n + i) * s..][..s].copy_from_slice(&elems[(first + t) * s..][..s]);
                }
            }
        }
        self.st.local_lens[list.unfold] = Some(lens);
    }

    /// Copies the cotangents the region left for list `l` of group `g`'s
    /// children to those children's rows of `ct`, component by component.
    pub(super) fn scatter_children(
        &mut self,
        list: &RecList,
        g: &GroupData<T>,
        l: usize,
        ct: &[(usize, usize)],
    ) {
        let Some(from) = &list.ct else {
            return;
        };
        let n = g.len;
        for ((&src_buf, &(_, s)), &(cbuf, _)) in from.iter().zip(&list.seqs).zip(ct) {
            let mut dst = std::mem::take(&mut self.st.bufs[cbuf]);
            let src = &self.st.bufs[src_buf];
            for i in 0..n {
                let k = i * g.list_arity + l;
                let first = g.list_offsets[k] as usize;
                let len = (g.list_offsets[k + 1] - g.list_offsets[k]) as usize;
                for t in 0..len {
                    let child = g.list_children[first + t] as usize;
                    dst[child * s..][..s].copy_from_slice(&src[(t * n + i) * s..][..s]);
                }
            }
            self.st.bufs[cbuf] = dst;
        }
    }
}
