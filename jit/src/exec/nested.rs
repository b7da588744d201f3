//! The executor's side of nested fields: a group's children laid out as
//! each nested field's pool, a fold over a nested structure run over the
//! schedule prepared for the group being run (its nodes' children read
//! from their pool rows), and the children's cotangents added into the
//! pool and scattered back to their nodes.

use super::*;
use crate::batch::NestedData;

impl<'a, T: Elem> Run<'a, T> {
    /// The schedule of the structures of the nested field `src` reads, in
    /// the group of its enclosing fold being run.
    pub(super) fn nested_schedule(&self, src: &NestedSrc) -> Result<&'a FoldData<T>, JitError> {
        Ok(&self.nested_data(src.outer, src.field)?.fold)
    }

    /// Nested field `field` of the group of fold `outer` being run.
    fn nested_data(&self, outer: usize, field: usize) -> Result<&'a NestedData<T>, JitError> {
        let batch: &'a Batch<T> = self.batch;
        let (level, group) = self.st.running[outer].ok_or_else(|| {
            JitError::Internal("a nested structure folded outside its fold's region".into())
        })?;
        let fd = self.held[outer].unwrap_or(&batch.folds[outer]);
        Ok(&fd.levels[level][group].nested_fields[field])
    }

    /// On entering a group of a fold: lays out each nested field's pool
    /// (step `t`, row `i`: the carrier of node `i`'s `t`-th child, zero
    /// past its last) and sets its lengths; for a fold over a nested
    /// structure, gathers each child a node holds from its pool row into
    /// the child's slot and points the views of its carrier there.
    pub(super) fn enter_nested(
        &mut self,
        id: usize,
        case: &CaseCode,
        g: &GroupData<T>,
        carrier: &[(usize, usize)],
        src: Option<&NestedSrc>,
    ) -> Result<(), JitError> {
        for (j, pool) in case.nested.iter().enumerate() {
            let data = self.nested_data(id, j)?;
            self.lay_out_pool(pool, data, g.len, carrier);
        }
        let Some(src) = src else { return Ok(()) };
        let sources = &src.views[g.ctor];
        for (m, p) in src.parts.iter().enumerate() {
            if !sources.contains(&Some(m)) {
                continue;
            }
            self.gather_slot(p, g, m / src.carrier_parts, src.holds[g.ctor]);
            for (&view, _) in case
                .field_views
                .iter()
                .zip(sources)
                .filter(|(_, s)| **s == Some(m))
            {
                self.st.views[view] = self.st.bufs[p.gathered].as_mut_ptr();
            }
        }
        Ok(())
    }

    /// Gathers the `c`-th of the `holds` children each node of group `g`
    /// of a nested structure holds (one carrier component) from its pool
    /// row into `p.gathered`.
    fn gather_slot(&mut self, p: &ElemPart, g: &GroupData<T>, c: usize, holds: usize) {
        let s = p.size;
        self.ensure(p.gathered, g.len * s);
        let src = self.st.bufs[p.seq].as_ptr();
        let dst = self.st.bufs[p.gathered].as_mut_ptr();
        for i in 0..g.len {
            let row = g.elems[i * holds + c] as usize;
            // SAFETY: the pool holds `steps x rows` rows of `s`, `row` is
            // one of them and a node has `holds` rows (`batch::check`:
            // P011, P014); `gathered` holds `len` rows and is another
            // buffer (`plan::verify`: P003, P004, P005).
            unsafe { std::ptr::copy_nonoverlapping(src.add(row * s), dst.add(i * s), s) };
        }
    }

    /// Lays out one nested field's pool for a group of `n` nodes.
    fn lay_out_pool(
        &mut self,
        pool: &RecList,
        data: &NestedData<T>,
        n: usize,
        carrier: &[(usize, usize)],
    ) {
        let lens: Vec<usize> = (0..n).map(|i| data.len_of(i)).collect();
        let steps = lens.iter().copied().max().unwrap_or(0);
        for (&(buf, s), &(cbuf, _)) in pool.seqs.iter().zip(carrier) {
            self.ensure(buf, steps * n * s);
            let mut seq = std::mem::take(&mut self.st.bufs[buf]);
            seq[..steps * n * s].fill(T::ZERO);
            let src = &self.st.bufs[cbuf];
            for (i, &len) in lens.iter().enumerate() {
                let first = data.offsets[i] as usize;
                for t in 0..len {
                    let child = data.children[first + t] as usize;
                    seq[(t * n + i) * s..][..s].copy_from_slice(&src[child * s..][..s]);
                }
            }
            self.st.bufs[buf] = seq;
        }
        self.st.local_lens[pool.unfold] = Some(lens);
    }

    /// Zeros the pool's cotangents before a backward fold over a nested
    /// structure adds into them.
    pub(super) fn zero_pool_cotangents(&mut self, src: &NestedSrc) {
        let (steps, rows) = self.seq_extent(src.unfold);
        for p in &src.parts[..src.carrier_parts] {
            let n = steps * rows * p.size;
            self.ensure(p.cotangents, n);
            self.st.bufs[p.cotangents][..n].fill(T::ZERO);
        }
    }

    /// Adds the cotangents of the children's carriers that a backward
    /// region of a fold over a nested structure yields (its plain fields'
    /// cotangents, after `skip` other results) into their pool rows.
    pub(super) fn add_pool_cotangents(
        &mut self,
        src: &NestedSrc,
        case: &CaseCode,
        skip: usize,
        g: &GroupData<T>,
    ) {
        let parts = case.result[skip..].iter().flatten();
        let holds = src.holds[g.ctor];
        for (&part, source) in parts.zip(&src.views[g.ctor]) {
            let Some(m) = *source else { continue };
            let p = &src.parts[m];
            let c = m / src.carrier_parts;
            let s = p.size;
            let from = self.ptr(part.loc) as *const T;
            let dst = self.st.bufs[p.cotangents].as_mut_ptr();
            for i in 0..g.len {
                let row = g.elems[i * holds + c];
                let off = if part.kind == PartKind::Batched {
                    i * s
                } else {
                    0
                };
                for k in 0..s {
                    // SAFETY: the pool's cotangents hold `steps x rows`
                    // rows of `s`, `row` is one of them (the schedule); the
                    // part is another buffer (`plan::verify`: P003, P005,
                    // P008).
                    unsafe { *dst.add(row as usize * s + k) += *from.add(off + k) };
                }
            }
        }
    }

    /// Copies the cotangents the region left in each nested field's pool
    /// to the children's rows of `ct` (zeros when it left none: a region
    /// that ignores the field).
    pub(super) fn scatter_pool(
        &mut self,
        id: usize,
        case: &CaseCode,
        g: &GroupData<T>,
        ct: &[(usize, usize)],
    ) -> Result<(), JitError> {
        for (j, pool) in case.nested.iter().enumerate() {
            let data = self.nested_data(id, j)?;
            let Some(from) = &pool.ct else {
                for &(cbuf, s) in ct {
                    for &child in &data.children {
                        self.st.bufs[cbuf][child as usize * s..][..s].fill(T::ZERO);
                    }
                }
                continue;
            };
            let n = g.len;
            for ((&src_buf, &(_, s)), &(cbuf, _)) in from.iter().zip(&pool.seqs).zip(ct) {
                let mut dst = std::mem::take(&mut self.st.bufs[cbuf]);
                let src = &self.st.bufs[src_buf];
                for i in 0..n {
                    let first = data.offsets[i] as usize;
                    for t in 0..data.len_of(i) {
                        let child = data.children[first + t] as usize;
                        dst[child * s..][..s].copy_from_slice(&src[(t * n + i) * s..][..s]);
                    }
                }
                self.st.bufs[cbuf] = dst;
            }
        }
        Ok(())
    }
}
