//! The executor's side of rose trees: a group's lists of children laid out
//! as a sequence for its region, the lengths and schedule of a fold over
//! such a list, sums of sequences, and the children's cotangents scattered
//! back to their nodes.

use super::*;
use crate::batch::list_schedule;

impl<T: Elem> Run<'_, T> {
    /// The steps and rows of the sequences of unfold `u`: a list of
    /// children's in the group being run, else the batch's.
    pub(super) fn seq_extent(&self, u: usize) -> (usize, usize) {
        match &self.st.local_lens[u] {
            Some(lens) => (lens.iter().copied().max().unwrap_or(0), lens.len()),
            None => (self.batch.unfolds[u].steps, self.batch.rows),
        }
    }

    /// For a fold over a list of children, its schedule in the group being
    /// run (one list per node of the group); `None` for any other fold.
    pub(super) fn children_schedule(&self, elems: Option<SeqElems>) -> Option<FoldData<T>> {
        let e = elems?;
        self.st.local_lens[e.unfold].as_deref().map(list_schedule)
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

    /// Lays out list `l` of the children of group `g`'s nodes for the
    /// region: step `t`, row `i` holds the carrier of node `i`'s child at
    /// position `t`, zero past its last child; and sets the lengths.
    pub(super) fn gather_children(
        &mut self,
        list: &RecList,
        g: &GroupData<T>,
        l: usize,
        carrier: &[(usize, usize)],
    ) {
        let n = g.len;
        let s = list.size;
        let lens: Vec<usize> = (0..n)
            .map(|i| {
                let k = i * g.list_arity + l;
                (g.list_offsets[k + 1] - g.list_offsets[k]) as usize
            })
            .collect();
        let steps = lens.iter().copied().max().unwrap_or(0);
        self.ensure(list.seq, steps * n * s);
        let (cbuf, _) = carrier[0];
        let mut seq = std::mem::take(&mut self.st.bufs[list.seq]);
        seq[..steps * n * s].fill(T::ZERO);
        let src = &self.st.bufs[cbuf];
        for i in 0..n {
            let first = g.list_offsets[i * g.list_arity + l] as usize;
            for t in 0..lens[i] {
                let child = g.list_children[first + t] as usize;
                seq[(t * n + i) * s..][..s].copy_from_slice(&src[child * s..][..s]);
            }
        }
        self.st.bufs[list.seq] = seq;
        self.st.local_lens[list.unfold] = Some(lens);
    }

    /// Copies the cotangents the region left for list `l` of group `g`'s
    /// children to those children's rows of `ct`.
    pub(super) fn scatter_children(
        &mut self,
        list: &RecList,
        g: &GroupData<T>,
        l: usize,
        ct: &[(usize, usize)],
    ) {
        let Some(from) = list.ct else {
            return;
        };
        let n = g.len;
        let s = list.size;
        let (cbuf, _) = ct[0];
        let mut dst = std::mem::take(&mut self.st.bufs[cbuf]);
        let src = &self.st.bufs[from];
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
