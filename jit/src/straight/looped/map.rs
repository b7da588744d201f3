//! A `map` and its backward in the looped step, as the executor runs them
//! (`exec/map.rs`): per constructor with nodes, the plain fields of its
//! groups gathered in level order, its region over all of them, its
//! results kept (forward) or the captures' contributions summed
//! (backward).

use super::*;

impl<T: Elem> Lx<'_, '_, T> {
    /// Copies the plain fields of constructor `c`'s groups, one group
    /// after the other, into the buffers `fields`.
    fn gather_fields(&mut self, fold: usize, c: usize, fields: &[(usize, usize)]) {
        let (tbl, shape) = self.table(fold);
        let groups = self.load_word(tbl, 0);
        for (field, &(buf, s)) in fields.iter().enumerate() {
            let off = self.b.declare_var(types::I64);
            let zero = self.int(0);
            self.b.def_var(off, zero);
            self.for_range(groups, |lx, gi| {
                let rec = lx.record(tbl, shape, gi);
                let ctor = lx.load_word(rec, 0);
                let is = lx.b.ins().icmp_imm_s(IntCC::Equal, ctor, c as i64);
                lx.when(is, |lx| {
                    let len = lx.load_word(rec, 2);
                    let src = lx.load_word(rec, RECORD + field);
                    let at = lx.b.use_var(off);
                    let d = lx.buf(buf);
                    let dst = lx.row(d, at, s);
                    lx.copy_rows(src, dst, len, s);
                    let next = lx.b.ins().iadd(at, len);
                    lx.b.def_var(off, next);
                });
            });
        }
    }

    /// Runs `body(n)` for each constructor `c` of fold `fold` that `keep`
    /// selects and that has `n > 0` nodes in this batch.
    fn each_ctor(
        &mut self,
        fold: usize,
        cases: usize,
        keep: impl Fn(usize) -> bool,
        mut body: impl FnMut(&mut Self, usize, ir::Value),
    ) {
        let (tbl, _) = self.table(fold);
        for c in (0..cases).filter(|&c| keep(c)) {
            let n = self.load_word(tbl, HEAD + c);
            let some = self.b.ins().icmp_imm_s(IntCC::NotEqual, n, 0);
            self.when(some, |lx| body(lx, c, n));
        }
    }

    pub(super) fn map(&mut self, m: &MapCode) {
        let keep = |c: usize| !m.out[c].is_empty();
        self.each_ctor(m.fold, m.cases.len(), keep, |lx, c, n| {
            let case = &m.cases[c];
            lx.gather_fields(m.fold, c, &case.fields);
            lx.code(&case.code, n);
            let zero = lx.int(0);
            for (parts, &(b, _)) in case.result.iter().zip(&m.out[c]) {
                let dst = lx.buf(b);
                lx.write_rows(parts[0], dst, zero, n);
            }
        });
    }

    pub(super) fn map_backward(&mut self, m: &MapBackCode) {
        for a in &m.acc {
            let dst = self.buf(a.buf);
            self.zero(dst, a.size);
        }
        let keep = |c: usize| !m.cases[c].cts.is_empty();
        self.each_ctor(m.fold, m.cases.len(), keep, |lx, c, n| {
            let case = &m.cases[c];
            lx.gather_fields(m.fold, c, &case.fields);
            lx.code(&case.code, n);
            for (parts, acc) in case.result.iter().zip(&m.acc) {
                let dst = lx.buf(acc.buf);
                lx.sum_part(parts[0], n, dst, 1.0);
            }
        });
    }
}
