//! The executor's side of `map` and `map_backward` (`plan/map.rs`): a
//! region run once per constructor over all that constructor's nodes,
//! gathered group by group in level order, and the views and cotangents by
//! which a fold over the map's result reads and writes the appended fields
//! at a group's rows. The map's results and their cotangents stay in the
//! region's row order, so nothing is scattered or gathered between the map
//! and the fold: a group's rows start at its rank among its constructor's
//! nodes (`State::ctor_rank`).

use super::*;

/// The groups of constructor `c` in `fd`'s schedule, in level order, and
/// their number of nodes.
fn ctor_groups<T>(fd: &FoldData<T>, c: usize) -> (Vec<&GroupData<T>>, usize) {
    let groups: Vec<&GroupData<T>> = fd.levels.iter().flatten().filter(|g| g.ctor == c).collect();
    let n = groups.iter().map(|g| g.len).sum();
    (groups, n)
}

impl<'a, T: Elem> Run<'a, T> {
    /// Gathers the plain fields of `groups`' nodes, one group after the
    /// other, into the buffers `fields` (one per tensor of the fields).
    fn gather_fields(&mut self, fields: &[(usize, usize)], groups: &[&GroupData<T>], n: usize) {
        for (k, &(buf, s)) in fields.iter().enumerate() {
            self.ensure(buf, n * s);
            let dst = &mut self.st.bufs[buf];
            let mut off = 0;
            for g in groups {
                dst[off * s..(off + g.len) * s].copy_from_slice(&g.fields[k][..g.len * s]);
                off += g.len;
            }
        }
    }

    /// Copies rows `off..off + n` of `part` (its one row, if uniform) to
    /// rows `first..first + n` of buffer `dst`.
    fn copy_part_rows(&mut self, part: Part, off: usize, dst: usize, first: usize, n: usize) {
        let s = part.size;
        let src = self.ptr(part.loc) as *const T;
        let out = self.st.bufs[dst].as_mut_ptr();
        if part.kind == PartKind::Batched {
            // SAFETY: the part holds the region's rows (`plan::verify`:
            // P003, P004 on a map region's results) and `off + n` is at most
            // their count; `dst` holds a row per node of the constructor,
            // and `first + n` is at most their count (the schedule); the
            // part is not `dst` (P005).
            unsafe { std::ptr::copy_nonoverlapping(src.add(off * s), out.add(first * s), n * s) };
            return;
        }
        for r in 0..n {
            // SAFETY: as above, reading the part's one row.
            unsafe { std::ptr::copy_nonoverlapping(src, out.add((first + r) * s), s) };
        }
    }

    /// Records, for every group of `fold`'s schedule, its rank among the
    /// nodes of its constructor (by the group's first node), where the
    /// map's outputs and their cotangents hold its rows.
    fn rank_groups(&mut self, fold: usize, fd: &FoldData<T>) {
        let mut next = vec![
            0u32;
            fd.levels
                .iter()
                .flatten()
                .map(|g| g.ctor + 1)
                .max()
                .unwrap_or(0)
        ];
        let rank = &mut self.st.ctor_rank[fold];
        rank.clear();
        rank.resize(fd.num_nodes, 0);
        for g in fd.levels.iter().flatten() {
            rank[g.first] = next[g.ctor];
            next[g.ctor] += g.len as u32;
        }
    }

    /// Runs a `map`: per constructor, its region over all its nodes, the
    /// results kept in that order.
    pub(super) fn map(&mut self, m: &MapCode) -> Result<(), JitError> {
        let batch: &'a Batch<T> = self.batch;
        let fd = &batch.folds[m.fold];
        self.rank_groups(m.fold, fd);
        for (c, case) in m.cases.iter().enumerate() {
            let (groups, n) = ctor_groups(fd, c);
            for &(b, s) in &m.out[c] {
                self.ensure(b, n * s);
            }
            if m.out[c].is_empty() || n == 0 {
                continue;
            }
            self.gather_fields(&case.fields, &groups, n);
            self.code(&case.code, n)?;
            for (parts, &(b, _)) in case.result.iter().zip(&m.out[c]) {
                self.copy_part_rows(parts[0], 0, b, 0, n);
            }
        }
        Ok(())
    }

    /// Runs a `map_backward`: per constructor, its region over all its
    /// nodes, reading their cotangents where the fold's backward wrote
    /// them; the captures' contributions are summed.
    pub(super) fn map_backward(&mut self, m: &MapBackCode) -> Result<(), JitError> {
        let batch: &'a Batch<T> = self.batch;
        let fd = &batch.folds[m.fold];
        self.zero_accs(&m.acc, batch.rows);
        for (c, case) in m.cases.iter().enumerate() {
            let (groups, n) = ctor_groups(fd, c);
            if case.cts.is_empty() || n == 0 {
                continue;
            }
            self.gather_fields(&case.fields, &groups, n);
            self.code(&case.code, n)?;
            for (parts, &acc) in case.result.iter().zip(&m.acc) {
                self.accumulate(parts[0], acc, n, None);
            }
        }
        Ok(())
    }

    /// Points a fold region's views of a map's appended fields at the
    /// group's rows.
    pub(super) fn point_mapped(&mut self, case: &CaseCode, g: &GroupData<T>) {
        for m in &case.mapped {
            let rank = self.st.ctor_rank[m.fold][g.first] as usize;
            self.st.views[m.view] = self.st.bufs[m.buf].as_mut_ptr().wrapping_add(rank * m.size);
        }
    }

    /// Makes room for every node's cotangent of the appended fields a fold
    /// backward's regions yield (at most a row per node of the fold).
    pub(super) fn ensure_mapped_cts(&mut self, cases: &[CaseCode], nodes: usize) {
        for m in cases.iter().flat_map(|c| &c.mapped) {
            if let Some(ct) = m.ct {
                self.ensure(ct, nodes * m.size);
            }
        }
    }

    /// Copies a backward region's cotangents of the appended fields (its
    /// results from `first` on) to the group's rows, one block.
    pub(super) fn write_mapped_cts(&mut self, case: &CaseCode, g: &GroupData<T>, first: usize) {
        for (j, m) in case.mapped.iter().enumerate() {
            if let Some(ct) = m.ct {
                let rank = self.st.ctor_rank[m.fold][g.first] as usize;
                self.copy_part_rows(case.result[first + j][0], 0, ct, rank, g.len);
            }
        }
    }
}
