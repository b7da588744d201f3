//! A fold and its backward as loops over the groups of the fold's
//! schedule table (`table.rs`): each group's region chosen by its
//! constructor, its children and captures gathered, its views pointed,
//! its results written, in the executor's order (`exec.rs`).

use super::*;

/// A group's words, loaded where its region runs.
struct Group {
    rec: ir::Value,
    first: ir::Value,
    len: ir::Value,
    children: ir::Value,
    examples: ir::Value,
    rank: ir::Value,
}

impl<T: Elem> Lx<'_, '_, T> {
    /// Fold `id`'s table and its layout.
    pub(super) fn table(&mut self, id: usize) -> (ir::Value, TableShape) {
        (self.word(Slot::Table(id)), self.tables[id])
    }

    /// Word `i` after `p`.
    pub(super) fn load_word(&mut self, p: ir::Value, i: usize) -> ir::Value {
        self.b
            .ins()
            .load(types::I64, data_flags(), p, (i * 8) as i32)
    }

    /// The `u32` at index `i` of `p`, widened.
    fn load_u32(&mut self, p: ir::Value, i: ir::Value) -> ir::Value {
        let off = self.b.ins().imul_imm_s(i, 4);
        let a = self.b.ins().iadd(p, off);
        let v = self.b.ins().load(types::I32, data_flags(), a, 0);
        self.b.ins().uextend(types::I64, v)
    }

    /// The record of group `gi`.
    pub(super) fn record(&mut self, tbl: ir::Value, shape: TableShape, gi: ir::Value) -> ir::Value {
        let off = self.b.ins().imul_imm_s(gi, (shape.width() * 8) as i64);
        let p = self.b.ins().iadd(tbl, off);
        self.b.ins().iadd_imm_s(p, (shape.records() * 8) as i64)
    }

    /// Runs `body` with the region of the record's constructor.
    fn each_case<'c>(
        &mut self,
        rec: ir::Value,
        cases: &'c [CaseCode],
        mut body: impl FnMut(&mut Self, &'c CaseCode, &Group),
    ) {
        let ctor = self.load_word(rec, 0);
        for (c, case) in cases.iter().enumerate() {
            let is = self.b.ins().icmp_imm_s(IntCC::Equal, ctor, c as i64);
            self.when(is, |lx| {
                let [first, len, children, examples, rank] =
                    [1, 2, 3, 4, 5].map(|i| lx.load_word(rec, i));
                let g = Group {
                    rec,
                    first,
                    len,
                    children,
                    examples,
                    rank,
                };
                body(lx, case, &g)
            });
        }
    }

    /// Gathers a group's children and captures and points its field and
    /// mapped views, as the executor's `enter_group`.
    fn enter_group(&mut self, case: &CaseCode, g: &Group, carrier: &[(usize, usize)]) {
        let arity = case.rec_args.len();
        for (r, bufs) in case.rec_args.iter().enumerate() {
            for (&buf, &(cbuf, s)) in bufs.iter().zip(carrier) {
                self.for_range(g.len, |lx, i| {
                    let idx = lx.b.ins().imul_imm_s(i, arity as i64);
                    let idx = lx.b.ins().iadd_imm_s(idx, r as i64);
                    let child = lx.load_u32(g.children, idx);
                    let (c, d) = (lx.buf(cbuf), lx.buf(buf));
                    let (src, dst) = (lx.row(c, child, s), lx.row(d, i, s));
                    lx.copy(src, dst, s);
                });
            }
        }
        for (field, &view) in case.field_views.iter().enumerate() {
            self.views[view] = Some(self.load_word(g.rec, RECORD + field));
        }
        for &(loc, s, buf) in &case.captures {
            self.for_range(g.len, |lx, i| {
                let e = lx.load_u32(g.examples, i);
                let (from, to) = (lx.loc(loc), lx.buf(buf));
                let (src, dst) = (lx.row(from, e, s), lx.row(to, i, s));
                lx.copy(src, dst, s);
            });
        }
        for m in &case.mapped {
            let b = self.buf(m.buf);
            self.views[m.view] = Some(self.row(b, g.rank, m.size));
        }
    }

    /// Writes `part` (for `n` rows) into rows `first..first + n` of `dst`.
    pub(super) fn write_rows(
        &mut self,
        part: Part,
        dst: ir::Value,
        first: ir::Value,
        n: ir::Value,
    ) {
        let s = part.size;
        let src = self.loc(part.loc);
        let to = self.row(dst, first, s);
        match part.kind {
            PartKind::Batched => self.copy_rows(src, to, n, s),
            _ => self.for_range(n, |lx, r| {
                let d = lx.row(to, r, s);
                lx.copy(src, d, s);
            }),
        }
    }

    pub(super) fn fold(&mut self, f: &FoldCode) {
        let (tbl, shape) = self.table(f.id);
        let groups = self.load_word(tbl, 0);
        self.for_range(groups, |lx, gi| {
            let rec = lx.record(tbl, shape, gi);
            lx.each_case(rec, &f.cases, |lx, case, g| {
                lx.enter_group(case, g, &f.carrier);
                lx.code(&case.code, g.len);
                for (part, (cbuf, _)) in case.node_writes(&f.carrier, &f.saved) {
                    let dst = lx.buf(cbuf);
                    lx.write_rows(part, dst, g.first, g.len);
                }
            });
        });
        let (roots, ptr) = (self.load_word(tbl, 2), self.load_word(tbl, 3));
        for (&(rbuf, s), &(cbuf, _)) in f.root.iter().zip(&f.carrier) {
            self.for_range(roots, |lx, e| {
                let root = lx.load_u32(ptr, e);
                let (c, r) = (lx.buf(cbuf), lx.buf(rbuf));
                let (src, dst) = (lx.row(c, root, s), lx.row(r, e, s));
                lx.copy(src, dst, s);
            });
        }
    }

    pub(super) fn fold_backward(&mut self, f: &FoldBackCode) {
        let (tbl, shape) = self.table(f.id);
        let (roots, ptr) = (self.load_word(tbl, 2), self.load_word(tbl, 3));
        for a in &f.acc {
            let dst = self.buf(a.buf);
            match a.per_example {
                true => self.zero_rows(dst, roots, a.size),
                false => self.zero(dst, a.size),
            }
        }
        for (&part, &(cbuf, s)) in f.root_ct.iter().zip(&f.ct) {
            self.for_range(roots, |lx, e| {
                let root = lx.load_u32(ptr, e);
                let src = lx.loc(part.loc);
                let src = match part.kind {
                    PartKind::Batched => lx.row(src, e, s),
                    _ => src,
                };
                let c = lx.buf(cbuf);
                let dst = lx.row(c, root, s);
                lx.copy(src, dst, s);
            });
        }
        let groups = self.load_word(tbl, 0);
        let order = self.b.ins().imul_imm_s(groups, (shape.width() * 8) as i64);
        let order = self.b.ins().iadd(tbl, order);
        let order = self.b.ins().iadd_imm_s(order, (shape.records() * 8) as i64);
        self.for_range(groups, |lx, j| {
            let at = lx.row_words(order, j);
            let gi = lx.b.ins().load(types::I64, data_flags(), at, 0);
            let rec = lx.record(tbl, shape, gi);
            lx.each_case(rec, &f.cases, |lx, case, g| lx.backward_group(f, case, g));
        });
    }

    /// `p` plus `i` words.
    fn row_words(&mut self, p: ir::Value, i: ir::Value) -> ir::Value {
        let off = self.b.ins().imul_imm_s(i, 8);
        self.b.ins().iadd(p, off)
    }

    fn backward_group(&mut self, f: &FoldBackCode, case: &CaseCode, g: &Group) {
        self.enter_group(case, g, &f.carrier);
        let ct = case.ct_views.iter().zip(&f.ct);
        let own = case.own_views.iter().zip(&f.carrier);
        let saved = case
            .saved_views
            .iter()
            .map(|(v, slot)| (v, &f.saved[*slot]));
        for (&view, &(cbuf, s)) in ct.chain(own).chain(saved) {
            let c = self.buf(cbuf);
            self.views[view] = Some(self.row(c, g.first, s));
        }
        self.code(&case.code, g.len);
        let arity = case.rec_args.len();
        for r in 0..arity {
            for (&part, &(cbuf, s)) in case.result[r].iter().zip(&f.ct) {
                self.for_range(g.len, |lx, i| {
                    let idx = lx.b.ins().imul_imm_s(i, arity as i64);
                    let idx = lx.b.ins().iadd_imm_s(idx, r as i64);
                    let child = lx.load_u32(g.children, idx);
                    let src = lx.loc(part.loc);
                    let src = match part.kind {
                        PartKind::Batched => lx.row(src, i, s),
                        _ => src,
                    };
                    let c = lx.buf(cbuf);
                    let dst = lx.row(c, child, s);
                    lx.copy(src, dst, s);
                });
            }
        }
        for (j, &acc) in f.acc.iter().enumerate() {
            let part = case.result[arity + j][0];
            let dst = self.buf(acc.buf);
            if !acc.per_example {
                self.sum_part(part, g.len, dst, 1.0);
                continue;
            }
            self.for_range(g.len, |lx, r| {
                let e = lx.load_u32(g.examples, r);
                let src = lx.loc(part.loc);
                let src = match part.kind {
                    PartKind::Batched => lx.row(src, r, acc.size),
                    _ => src,
                };
                let to = lx.row(dst, e, acc.size);
                lx.add(src, to, acc.size, None);
            });
        }
        let first = arity + f.acc.len();
        for (j, m) in case.mapped.iter().enumerate() {
            if let Some(ct) = m.ct {
                let dst = self.buf(ct);
                self.write_rows(case.result[first + j][0], dst, g.rank, g.len);
            }
        }
    }
}
