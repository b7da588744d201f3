//! The trace of `map` and `map_backward` (the work hoisted out of a fold),
//! as the executor runs them (`exec/map.rs`): per constructor, the plain
//! fields of all its nodes gathered group by group in level order, the
//! region's code over all of them, and its results kept in that order; a
//! fold over the map's result reads them, and its backward writes their
//! cotangents, at a group's rank among its constructor's nodes.

use super::*;

impl<T: Elem> Tracer<'_, T> {
    /// Each group's rank among its constructor's nodes in schedule `fold`,
    /// by the group's first node, as the executor's `rank_groups`.
    fn ranks(&mut self, fold: usize) -> &[u32] {
        let fd: &FoldData<T> = &self.batch.folds[fold];
        self.ranks[fold].get_or_insert_with(|| {
            let ctors = fd.levels.iter().flatten().map(|g| g.ctor + 1).max();
            let mut next = vec![0u32; ctors.unwrap_or(0)];
            let mut rank = vec![0u32; fd.num_nodes];
            for g in fd.levels.iter().flatten() {
                rank[g.first] = next[g.ctor];
                next[g.ctor] += g.len as u32;
            }
            rank
        })
    }

    /// The nodes of constructor `c` in schedule `fold`.
    fn ctor_nodes(&self, fold: usize, c: usize) -> usize {
        let fd: &FoldData<T> = &self.batch.folds[fold];
        fd.levels
            .iter()
            .flatten()
            .filter(|g| g.ctor == c)
            .map(|g| g.len)
            .sum()
    }

    /// Copies the plain fields of constructor `c`'s groups, one group
    /// after the other, into the buffers `fields`.
    fn gather_fields(
        &mut self,
        fold: usize,
        c: usize,
        fields: &[(usize, usize)],
    ) -> Result<(), Stop> {
        let fd: &FoldData<T> = &self.batch.folds[fold];
        for (field, &(buf, s)) in fields.iter().enumerate() {
            let dst = self.buf(buf);
            let mut off = 0;
            for (level, groups) in fd.levels.iter().enumerate() {
                for (group, g) in groups.iter().enumerate().filter(|(_, g)| g.ctor == c) {
                    let src = BaseSrc::Field {
                        fold,
                        level,
                        group,
                        field,
                    };
                    let src = Addr {
                        base: self.base(src),
                        off: 0,
                    };
                    self.copy(src, dst.at(off * s), g.len * s)?;
                    off += g.len;
                }
            }
        }
        Ok(())
    }

    /// A `map`: per constructor, its region over all its nodes.
    pub(super) fn map(&mut self, m: &MapCode) -> Result<(), Stop> {
        self.ranks(m.fold);
        for (c, case) in m.cases.iter().enumerate() {
            let n = self.ctor_nodes(m.fold, c);
            if m.out[c].is_empty() || n == 0 {
                continue;
            }
            self.gather_fields(m.fold, c, &case.fields)?;
            self.code(&case.code, n)?;
            for (parts, &(b, _)) in case.result.iter().zip(&m.out[c]) {
                let dst = self.buf(b);
                self.write_rows(parts[0], dst, 0, n)?;
            }
        }
        Ok(())
    }

    /// A `map_backward`: per constructor, its region over all its nodes,
    /// the captures' contributions summed.
    pub(super) fn map_backward(&mut self, m: &MapBackCode) -> Result<(), Stop> {
        if m.acc.iter().any(|a| a.per_example) {
            return Err(Stop::Unsupported);
        }
        for a in &m.acc {
            let dst = self.buf(a.buf);
            self.push(Action::Zero { dst, n: a.size })?;
        }
        for (c, case) in m.cases.iter().enumerate() {
            let n = self.ctor_nodes(m.fold, c);
            if case.cts.is_empty() || n == 0 {
                continue;
            }
            self.gather_fields(m.fold, c, &case.fields)?;
            self.code(&case.code, n)?;
            for (parts, acc) in case.result.iter().zip(&m.acc) {
                let dst = self.buf(acc.buf);
                self.sum_part(parts[0], n, dst, 1.0)?;
            }
        }
        Ok(())
    }

    /// Points a fold region's views of a map's appended fields at the
    /// group's rows.
    pub(super) fn point_mapped(&mut self, case: &CaseCode, g: &GroupData<T>) {
        for m in &case.mapped {
            let rank = self.ranks(m.fold)[g.first] as usize;
            self.views[m.view] = Some(self.buf(m.buf).at(rank * m.size));
        }
    }

    /// Copies a backward region's cotangents of the appended fields (its
    /// results from `first` on) to the group's rows.
    pub(super) fn write_mapped_cts(
        &mut self,
        case: &CaseCode,
        g: &GroupData<T>,
        first: usize,
    ) -> Result<(), Stop> {
        for (j, m) in case.mapped.iter().enumerate() {
            if let Some(ct) = m.ct {
                let rank = self.ranks(m.fold)[g.first] as usize;
                let dst = self.buf(ct);
                self.write_rows(case.result[first + j][0], dst, rank, g.len)?;
            }
        }
        Ok(())
    }
}
