//! The checks of the recursion ops: what each one sets up before running
//! its regions (buffers gathered, views pointed), what the regions may
//! read, and what their results are copied to.
//!
//! A region runs once per level group (a fold) or step (an unfold) with
//! the row count of that group or step. Its code is checked once, in an
//! environment holding what is defined outside the op plus what the op
//! sets up; what the region defines is dropped after it. The op's own
//! outputs (carriers, roots, states, accumulators) are defined after its
//! regions, so a region reads them only through the views its op points.

use super::*;

mod nested;

impl Verifier<'_> {
    /// A fold over a list of children (`UnfoldInfo::Children`, or an
    /// unfold's outputs over one) runs inside the rose region that lays the
    /// list out, over that region's rows; it points only views of its own.
    /// So does a fold over a structure a field of the region's node holds
    /// (`FoldInfo::nested_in`), over its schedule for the region's group.
    /// Any other recursion op runs at the top level.
    fn top_level_or_children(
        &self,
        fold: usize,
        elems: Option<&SeqElems>,
    ) -> Result<(), PlanError> {
        self.index("fold", fold, self.plan.folds.len())?;
        if self.plan.folds[fold].nested_in.is_some() {
            return self.mismatch(
                "the region depth of a fold over a structure a field holds",
                1,
                usize::from(self.in_region),
            );
        }
        match elems {
            Some(e) if self.per_group_steps(e.unfold) => self.mismatch(
                "the region depth of a fold over a list of children",
                1,
                usize::from(self.in_region),
            ),
            _ => self.top_level(),
        }
    }

    /// Whether unfold `u`'s steps are those of a list of children: the
    /// list's pseudo-unfold, or an unfold over it (at any remove).
    fn over_children(&self, u: usize) -> bool {
        matches!(
            self.plan.unfolds.get(self.steps_of(u)),
            Some(UnfoldInfo::Children)
        )
    }

    /// Whether unfold `u`'s steps are set per group of the region it runs
    /// in: a list of children's (`over_children`), or a stream's inside a
    /// region (`UnfoldInfo::TakeLocal`), or an unfold over one of these.
    fn per_group_steps(&self, u: usize) -> bool {
        self.over_children(u)
            || matches!(
                self.plan.unfolds.get(self.steps_of(u)),
                Some(UnfoldInfo::TakeLocal(_))
            )
    }

    /// The rows unfold `id`'s steps run over: the batch's at the top level;
    /// for an unfold inside a region (`local`), that region's, where it
    /// must read a sequence whose steps are set per group (a list of
    /// children's, or its own as a stream).
    fn unfold_rows(&self, id: usize, local: bool) -> Result<Rows, PlanError> {
        if !local {
            self.top_level()?;
            return Ok(Rows::Batch);
        }
        self.mismatch(
            "the region depth of an unfold over a list of children",
            1,
            usize::from(self.in_region),
        )?;
        self.mismatch(
            "the unfolds in a region that read a list of children or stream",
            1,
            usize::from(self.per_group_steps(id)),
        )?;
        Ok(self.rows)
    }

    /// Recursion ops run over the batch at the top level only: inside a
    /// region they would re-point the views of the enclosing op.
    pub(super) fn top_level(&self) -> Result<(), PlanError> {
        self.mismatch(
            "the region depth of a recursion op",
            0,
            usize::from(self.in_region),
        )
    }

    /// Runs `check` on a region's code over `rows`, in the environment set
    /// up so far, then drops what the region defined.
    pub(super) fn region(
        &mut self,
        saved: Env,
        rows: Rows,
        step: Step,
        check: impl FnOnce(&mut Self) -> Result<(), PlanError>,
    ) -> Result<(), PlanError> {
        let outer = (self.rows, self.in_region);
        self.rows = rows;
        self.in_region = true;
        self.site.push(step);
        check(self)?;
        self.site.pop();
        (self.rows, self.in_region) = outer;
        self.env = saved;
        Ok(())
    }

    /// Checks that `parts` (a region's result) are read over the region's
    /// rows and have the sizes of the buffers they are copied to.
    pub(super) fn results(
        &mut self,
        what: &str,
        parts: &[Part],
        sizes: &[usize],
    ) -> Result<(), PlanError> {
        self.site.push(Step::Result);
        self.mismatch(
            &format!("the components of {what}"),
            sizes.len(),
            parts.len(),
        )?;
        for (p, &s) in parts.iter().zip(sizes) {
            self.read_part(p)?;
            self.mismatch(&format!("the size of {what}"), s, p.size)?;
        }
        self.site.pop();
        Ok(())
    }

    /// The sequences a fold over a computed list reads its elements from.
    fn seq_elems(&self, fold: usize, e: &SeqElems) -> Result<(), PlanError> {
        self.index("unfold", e.unfold, self.plan.unfolds.len())?;
        let over = self.plan.folds[fold].over_unfold;
        self.mismatch(
            "the unfold a fold's elements come from",
            e.unfold,
            over.unwrap_or(usize::MAX),
        )?;
        for p in &e.parts {
            let seq = Loc::Buf(p.seq);
            self.access(seq, Access::rows(self.steps(e.unfold), p.size))?;
            self.apart(&[p.gathered], &[(seq, Storage::Buf(p.seq))])?;
        }
        Ok(())
    }

    /// Sets up one fold region: the children's carriers gathered into
    /// `rec_args`, the fields' views, the captures gathered by example and
    /// (backward) the node cotangents' views.
    #[allow(clippy::too_many_arguments)]
    fn enter_case(
        &mut self,
        fold: usize,
        ctor: usize,
        cc: &CaseCode,
        carrier: &[(usize, usize)],
        saved: &[(usize, usize)],
        ct: Option<&[(usize, usize)]>,
        elems: Option<&SeqElems>,
    ) -> Result<(), PlanError> {
        let group = Rows::Group(fold);
        let carrier_reads: Vec<(Loc, Storage)> = carrier
            .iter()
            .chain(saved)
            .map(|&(b, _)| (Loc::Buf(b), Storage::Buf(b)))
            .collect();
        // One gathered carrier per child a node reads directly: its
        // recursive fields' and its nested tuples' (`X * X`).
        self.mismatch(
            "the children a node's region reads",
            self.plan.folds[fold].direct_children(ctor),
            cc.rec_args.len(),
        )?;
        let mut gathered = Vec::new();
        for bufs in &cc.rec_args {
            self.mismatch(
                "the carrier components of a field",
                carrier.len(),
                bufs.len(),
            )?;
            for (&b, &(_, s)) in bufs.iter().zip(carrier) {
                gathered.push(b);
                self.define(b, Layout::new(group, s))?;
            }
        }
        let sizes = &self.plan.folds[fold].field_sizes[ctor];
        self.mismatch(
            "the views of the plain fields",
            sizes.len(),
            cc.field_views.len(),
        )?;
        match elems {
            None => {
                for (k, (&v, &s)) in cc.field_views.iter().zip(sizes).enumerate() {
                    let Some(p) = self.hole_of(ctor, k) else {
                        self.point(v, Layout::new(group, s), Storage::Batch)?;
                        continue;
                    };
                    if !gathered.contains(&p.gathered) {
                        gathered.push(p.gathered);
                    }
                    self.define(p.gathered, Layout::new(group, p.size))?;
                    self.point(v, Layout::new(group, s), Storage::Buf(p.gathered))?;
                }
            }
            // A computed list's element (`cons`): one gathered buffer per
            // tensor.
            Some(e) => {
                if !cc.field_views.is_empty() {
                    self.mismatch(
                        "the views of a sequence element",
                        e.parts.len(),
                        cc.field_views.len(),
                    )?;
                }
                for ((p, &v), &s) in e.parts.iter().zip(&cc.field_views).zip(sizes) {
                    self.mismatch("the size of a sequence element", s, p.size)?;
                    gathered.push(p.gathered);
                    self.define(p.gathered, Layout::new(group, p.size))?;
                    self.point(v, Layout::new(group, p.size), Storage::Buf(p.gathered))?;
                }
            }
        }
        self.point_mapped(fold, ctor, cc)?;
        for list in &cc.rec_lists {
            self.mismatch(
                "the carrier components of a list of children",
                carrier.len(),
                list.seqs.len(),
            )?;
            self.index("unfold", list.unfold, self.plan.unfolds.len())?;
            for (&(b, s), &(_, cs)) in list.seqs.iter().zip(carrier) {
                self.mismatch("the size of a child's carrier", cs, s)?;
                gathered.push(b);
                self.define(b, Layout::new(self.steps(list.unfold), s))?;
            }
        }
        self.enter_pools(fold, ctor, cc, carrier, &mut gathered)?;
        let lists = &self.plan.folds[fold].field_lists[ctor];
        self.mismatch(
            "the plain fields holding lists",
            lists.len(),
            cc.field_lists.len(),
        )?;
        for (list, (_, sizes)) in cc.field_lists.iter().zip(lists) {
            self.index("unfold", list.unfold, self.plan.unfolds.len())?;
            self.mismatch(
                "the lists held in a field laid out per group",
                1,
                usize::from(self.over_children(list.unfold)),
            )?;
            self.mismatch(
                "the tensors of a listed element",
                sizes.len(),
                list.seqs.len(),
            )?;
            for (&(b, s), &size) in list.seqs.iter().zip(sizes) {
                self.mismatch("the size of a listed element", size, s)?;
                gathered.push(b);
                self.define(b, Layout::new(self.steps(list.unfold), s))?;
            }
        }
        let mut capture_reads = Vec::new();
        for &(loc, s, buf) in &cc.captures {
            capture_reads.push((loc, self.read(loc, true, s)?));
            gathered.push(buf);
        }
        capture_reads.extend(carrier_reads);
        self.apart(&gathered, &capture_reads)?;
        for &(_, s, buf) in &cc.captures {
            self.define(buf, Layout::new(group, s))?;
        }
        // A backward region may read the node's own carrier, which the
        // forward fold left at the group's rows.
        let own = if ct.is_some() { carrier.len() } else { 0 };
        if !cc.own_views.is_empty() {
            self.mismatch(
                "the views of the node's own carrier",
                own,
                cc.own_views.len(),
            )?;
        }
        for (&v, &(b, s)) in cc.own_views.iter().zip(carrier) {
            self.point(v, Layout::new(group, s), Storage::Buf(b))?;
        }
        // ...and the values the forward fold kept for it (`CaseCode::saves`).
        if ct.is_none() {
            self.mismatch("the views of kept values", 0, cc.saved_views.len())?;
        }
        for &(v, slot) in &cc.saved_views {
            self.index("kept value's slot", slot, saved.len())?;
            let (b, s) = saved[slot];
            self.point(v, Layout::new(group, s), Storage::Buf(b))?;
        }
        let ct = ct.unwrap_or(&[]);
        self.mismatch("the views of the cotangent", ct.len(), cc.ct_views.len())?;
        for (&v, &(b, s)) in cc.ct_views.iter().zip(ct) {
            self.point(v, Layout::new(group, s), Storage::Buf(b))?;
        }
        Ok(())
    }

    /// Checks a fold's region for constructor `ctor` and what it yields:
    /// per component of `expected`, the sizes of its flattened parts; the
    /// last component may be missing when `optional_last`.
    #[allow(clippy::too_many_arguments)]
    fn case(
        &mut self,
        fold: usize,
        ctor: usize,
        cc: &CaseCode,
        carrier: &[(usize, usize)],
        kept: &[(usize, usize)],
        ct: Option<&[(usize, usize)]>,
        elems: Option<&SeqElems>,
        expected: &[Vec<usize>],
        optional_last: bool,
    ) -> Result<(), PlanError> {
        let saved = self.env.clone();
        self.site.push(Step::Case(ctor));
        self.site.push(Step::Setup);
        self.enter_case(fold, ctor, cc, carrier, kept, ct, elems)?;
        self.site.pop();
        self.region(saved, Rows::Group(fold), Step::Body, |v| {
            v.code(&cc.code)?;
            // A forward region's kept values, each of its slot's size.
            if ct.is_some() {
                v.mismatch("the values a backward region keeps", 0, cc.saves.len())?;
            }
            for &(p, slot) in &cc.saves {
                v.index("kept value's slot", slot, kept.len())?;
                v.results("a kept value", &[p], &[kept[slot].1])?;
            }
            let n = cc.result.len();
            if !(n == expected.len() || optional_last && n + 1 == expected.len()) {
                v.mismatch("the components a region yields", expected.len(), n)?;
            }
            for (parts, sizes) in cc.result.iter().zip(expected) {
                v.results("a region's result", parts, sizes)?;
            }
            v.pool_cotangents(cc, ct.unwrap_or(&[]))?;
            for list in &cc.rec_lists {
                let Some(bs) = &list.ct else { continue };
                v.mismatch(
                    "the components of the children's cotangents",
                    list.seqs.len(),
                    bs.len(),
                )?;
                let rows = v.steps(list.unfold);
                for (&b, &(_, s)) in bs.iter().zip(&list.seqs) {
                    v.access(Loc::Buf(b), Access::rows(rows, s))?;
                    v.apart(
                        &ct.unwrap_or(&[]).iter().map(|c| c.0).collect::<Vec<_>>(),
                        &[(Loc::Buf(b), Storage::Buf(b))],
                    )?;
                }
            }
            Ok(())
        })?;
        self.site.pop();
        Ok(())
    }

    /// The buffers an op writes before or after its regions: pairwise
    /// apart.
    pub(super) fn distinct(&self, bufs: impl IntoIterator<Item = usize>) -> Result<(), PlanError> {
        let all: Vec<usize> = bufs.into_iter().collect();
        for &b in &all {
            self.index("buffer", b, self.plan.num_bufs)?;
        }
        self.apart(&all, &[])
    }

    pub(super) fn fold(&mut self, f: &FoldCode) -> Result<(), PlanError> {
        self.fold_depth(f.id, f.elems.as_ref(), f.nested.as_ref())?;
        self.index("fold", f.id, self.plan.folds.len())?;
        let ctors = self.plan.folds[f.id].field_sizes.len();
        self.mismatch("the regions of a fold", ctors, f.cases.len())?;
        self.site.push(Step::Setup);
        if let Some(e) = &f.elems {
            self.seq_elems(f.id, e)?;
        }
        self.distinct(f.carrier.iter().chain(&f.root).chain(&f.saved).map(|c| c.0))?;
        self.mismatch(
            "the components of a fold's roots",
            f.carrier.len(),
            f.root.len(),
        )?;
        for (&(_, s), &(_, r)) in f.carrier.iter().zip(&f.root) {
            self.mismatch("the size of a root", s, r)?;
        }
        self.site.pop();
        let sizes: Vec<usize> = f.carrier.iter().map(|c| c.1).collect();
        let outer = std::mem::replace(&mut self.nested, f.nested.clone());
        for (c, cc) in f.cases.iter().enumerate() {
            self.case(
                f.id,
                c,
                cc,
                &f.carrier,
                &f.saved,
                None,
                f.elems.as_ref(),
                std::slice::from_ref(&sizes),
                false,
            )?;
        }
        self.nested = outer;
        for &(b, s) in f.carrier.iter().chain(&f.saved) {
            self.define(b, Layout::new(Rows::Nodes(f.id), s))?;
        }
        // The roots: a row per example, or per node of the region around a
        // fold over a list of children.
        for &(b, s) in &f.root {
            self.define(b, Layout::new(self.rows, s))?;
        }
        Ok(())
    }

    /// A sum of sequences of unfold `unfold`: its terms hold its steps'
    /// rows, and its output is another buffer.
    pub(super) fn seq_sum(
        &mut self,
        unfold: usize,
        size: usize,
        terms: &[usize],
        out: usize,
    ) -> Result<(), PlanError> {
        self.index("unfold", unfold, self.plan.unfolds.len())?;
        let rows = self.steps(unfold);
        let mut reads = Vec::new();
        for &t in terms {
            let st = self.access(Loc::Buf(t), Access::rows(rows, size))?;
            reads.push((Loc::Buf(t), st));
        }
        self.apart(&[out], &reads)?;
        self.define(out, Layout::new(rows, size))
    }

    /// The accumulators of a backward op: a row per example, or one.
    pub(super) fn define_accs(&mut self, accs: &[Acc]) -> Result<(), PlanError> {
        for a in accs {
            let rows = if a.per_example { self.rows } else { Rows::One };
            self.define(a.buf, Layout::new(rows, a.size))?;
        }
        Ok(())
    }

    pub(super) fn fold_backward(&mut self, f: &FoldBackCode) -> Result<(), PlanError> {
        self.fold_depth(f.id, f.elems.as_ref(), f.nested.as_ref())?;
        self.index("fold", f.id, self.plan.folds.len())?;
        let ctors = self.plan.folds[f.id].field_sizes.len();
        self.mismatch("the regions of a fold", ctors, f.cases.len())?;
        self.site.push(Step::Setup);
        let nodes = Rows::Nodes(f.id);
        for &(b, s) in f.carrier.iter().chain(&f.saved) {
            self.access(Loc::Buf(b), Access::rows(nodes, s))?;
        }
        if let Some(e) = &f.elems {
            self.seq_elems(f.id, e)?;
        }
        let writes = f.ct.iter().map(|c| c.0).chain(f.acc.iter().map(|a| a.buf));
        let elem_cts = f
            .elems
            .iter()
            .flat_map(|e| e.parts.iter().map(|p| p.cotangents))
            .chain(
                f.nested
                    .iter()
                    .flat_map(|n| n.parts.iter().take(n.carrier_parts).map(|p| p.cotangents)),
            );
        let mapped = f.cases.iter().flat_map(|c| &c.mapped).filter_map(|m| m.ct);
        self.distinct(writes.chain(elem_cts).chain(mapped))?;
        self.mismatch(
            "the components of the roots' cotangent",
            f.ct.len(),
            f.root_ct.len(),
        )?;
        for (p, &(b, s)) in f.root_ct.iter().zip(&f.ct) {
            let st = self.read_part(p)?;
            self.mismatch("the size of the roots' cotangent", s, p.size)?;
            self.apart(&[b], &[(p.loc, st)])?;
        }
        self.site.pop();
        let ct_sizes: Vec<usize> = f.ct.iter().map(|c| c.1).collect();
        let outer = std::mem::replace(&mut self.nested, f.nested.clone());
        for (c, cc) in f.cases.iter().enumerate() {
            let mut expected = vec![ct_sizes.clone(); cc.rec_args.len()];
            expected.extend(f.acc.iter().map(|a| vec![a.size]));
            if let Some(e) = &f.elems {
                expected.push(e.parts.iter().map(|p| p.size).collect());
            }
            expected.extend(cc.mapped.iter().map(|m| vec![m.size]));
            if let Some(n) = &f.nested {
                expected.extend(self.nested_field_results(f.id, c, n));
                self.pool_apart(cc, cc.rec_args.len() + f.acc.len(), n, c)?;
            }
            self.case(
                f.id,
                c,
                cc,
                &f.carrier,
                &f.saved,
                Some(&f.ct),
                f.elems.as_ref(),
                &expected,
                f.elems.is_some(),
            )?;
            self.elem_cotangent_apart(cc, f)?;
        }
        self.nested = outer;
        for &(b, s) in &f.ct {
            self.define(b, Layout::new(nodes, s))?;
        }
        self.define_accs(&f.acc)?;
        if let Some(e) = &f.elems {
            for p in &e.parts {
                self.define(p.cotangents, Layout::new(self.steps(e.unfold), p.size))?;
            }
        }
        self.define_mapped_cts(f)?;
        if let Some(n) = &f.nested {
            for p in &n.parts {
                self.define(p.cotangents, Layout::new(self.steps(n.unfold), p.size))?;
            }
        }
        Ok(())
    }

    /// The element cotangents a backward region yields are copied with
    /// `copy_nonoverlapping`: their buffer is not the part's storage.
    fn elem_cotangent_apart(&self, cc: &CaseCode, f: &FoldBackCode) -> Result<(), PlanError> {
        let Some(e) = &f.elems else {
            return Ok(());
        };
        let tail = cc.rec_args.len() + f.acc.len();
        let parts = cc.result.get(tail).map_or(&[][..], |ps| &ps[..]);
        for (p, ep) in parts.iter().zip(&e.parts) {
            if p.loc == Loc::Buf(ep.cotangents) {
                return self.err(PlanErrorKind::Overlap {
                    written: loc_name(Loc::Buf(ep.cotangents)),
                    read: loc_name(p.loc),
                });
            }
        }
        Ok(())
    }

    /// Points an unfold step's list-element views: at the prepared blocks
    /// of a model input, or at a computed sequence's step.
    fn x_views(
        &mut self,
        id: usize,
        views: &[(usize, usize)],
        seq: &[(usize, usize)],
        rows: Rows,
    ) -> Result<(), PlanError> {
        match (&self.plan.unfolds[id], seq.is_empty()) {
            (UnfoldInfo::Over { sizes, .. }, true) => {
                self.mismatch("the views of a list element", sizes.len(), views.len())?;
                for (&(v, s), &size) in views.iter().zip(sizes) {
                    self.mismatch("the size of a list element", size, s)?;
                    self.point(v, Layout::new(rows, s), Storage::Batch)?;
                }
                Ok(())
            }
            (&UnfoldInfo::Seq(source), false) => {
                // The batch prepares the source's steps first.
                self.index("earlier unfold", source, id)?;
                self.mismatch("the views of a sequence element", seq.len(), views.len())?;
                for (&(view, s), &(buf, size)) in views.iter().zip(seq) {
                    self.access(Loc::Buf(buf), Access::rows(self.steps(source), size))?;
                    self.mismatch("the size of a sequence element", size, s)?;
                    self.point(view, Layout::new(rows, size), Storage::Buf(buf))?;
                }
                Ok(())
            }
            (UnfoldInfo::Take(_) | UnfoldInfo::TakeLocal(_), true) => {
                self.mismatch("the views of a list element", 0, views.len())
            }
            (_, none) => self.mismatch(
                "the computed sequences an unfold reads",
                usize::from(matches!(self.plan.unfolds[id], UnfoldInfo::Seq(_))),
                usize::from(!none),
            ),
        }
    }

    /// Points views at a step's rows of per-step buffers.
    fn point_steps(
        &mut self,
        views: &[usize],
        bufs: &[(usize, usize)],
        rows: Rows,
    ) -> Result<(), PlanError> {
        self.mismatch("the views of a state", bufs.len(), views.len())?;
        for (&v, &(b, s)) in views.iter().zip(bufs) {
            self.point(v, Layout::new(rows, s), Storage::Buf(b))?;
        }
        Ok(())
    }

    pub(super) fn unfold(&mut self, u: &UnfoldCode) -> Result<(), PlanError> {
        self.index("unfold", u.id, self.plan.unfolds.len())?;
        let rows = self.unfold_rows(u.id, u.local.is_some())?;
        if let Some(src) = u.local {
            let reads = match self.plan.unfolds[u.id] {
                UnfoldInfo::Seq(s) => s,
                UnfoldInfo::TakeLocal(_) => u.id,
                _ => usize::MAX,
            };
            self.mismatch("the sequence an unfold in a region reads", src, reads)?;
        }
        let saved = self.env.clone();
        self.site.push(Step::Setup);
        self.distinct(u.states.iter().chain(&u.outs).map(|s| s.0))?;
        let sizes: Vec<usize> = u.states.iter().map(|s| s.1).collect();
        self.results("the initial state", &u.init, &sizes)?;
        self.point_steps(&u.state_views, &u.states, rows)?;
        self.x_views(u.id, &u.x_views, &u.x_seq, rows)?;
        self.site.pop();
        self.region(saved, rows, Step::Body, |v| {
            v.code(&u.body)?;
            let out_sizes: Vec<usize> = u.outs.iter().map(|o| o.1).collect();
            v.results("a step's output", &u.result_out, &out_sizes)?;
            v.results("a step's state", &u.result_state, &sizes)
        })?;
        for &(b, s) in &u.states {
            self.define(b, Layout::new(self.states(u.id), s))?;
        }
        for &(b, s) in &u.outs {
            self.define(b, Layout::new(self.steps(u.id), s))?;
        }
        Ok(())
    }

    pub(super) fn unfold_backward(&mut self, u: &UnfoldBackCode) -> Result<(), PlanError> {
        self.index("unfold", u.id, self.plan.unfolds.len())?;
        let rows = self.unfold_rows(u.id, u.local)?;
        let saved = self.env.clone();
        self.site.push(Step::Setup);
        for &(b, s) in &u.states {
            self.access(Loc::Buf(b), Access::rows(self.states(u.id), s))?;
        }
        for &(b, s) in &u.dout {
            self.access(Loc::Buf(b), Access::rows(self.steps(u.id), s))?;
        }
        let dx = u.result_dx.iter().map(|&(_, b)| b);
        let writes = u
            .dnext
            .iter()
            .map(|d| d.0)
            .chain(u.acc.iter().map(|a| a.buf));
        self.distinct(writes.chain(dx))?;
        self.point_steps(&u.state_views, &u.states, rows)?;
        self.x_views(u.id, &u.x_views, &u.x_seq, rows)?;
        self.mismatch(
            "the views of an output cotangent",
            u.dout.len(),
            u.dout_views.len(),
        )?;
        for (&v, &(b, s)) in u.dout_views.iter().zip(&u.dout) {
            self.point(v, Layout::new(rows, s), Storage::Buf(b))?;
        }
        self.point_steps(&u.dnext_views, &u.dnext, rows)?;
        self.site.pop();
        let sizes: Vec<usize> = u.dnext.iter().map(|d| d.1).collect();
        let dx_size = self.unfold_dx_size(u)?;
        self.region(saved, rows, Step::Body, |v| {
            v.code(&u.body)?;
            v.results("the state's cotangent", &u.result_dstate, &sizes)?;
            v.mismatch(
                "the captures' contributions",
                u.acc.len(),
                u.result_caps.len(),
            )?;
            for (parts, a) in u.result_caps.iter().zip(&u.acc) {
                v.results(
                    "a capture's contribution",
                    &parts[..parts.len().min(1)],
                    &[a.size],
                )?;
            }
            let parts: Vec<Part> = u.result_dx.iter().map(|&(p, _)| p).collect();
            v.results("an element's cotangent", &parts, &dx_size)
        })?;
        for &(b, s) in &u.dnext {
            self.define(b, Layout::new(rows, s))?;
        }
        self.define_accs(&u.acc)?;
        for (&(_, b), &size) in u.result_dx.iter().zip(&dx_size) {
            self.define(b, Layout::new(self.steps(u.id), size))?;
        }
        Ok(())
    }

    /// The sizes of an unfold backward's element cotangents, one per
    /// tensor of the element: it yields them only over a computed
    /// sequence, one per sequence it reads.
    fn unfold_dx_size(&self, u: &UnfoldBackCode) -> Result<Vec<usize>, PlanError> {
        if u.result_dx.is_empty() {
            return Ok(Vec::new());
        }
        self.mismatch(
            "the element cotangents of the sequences an unfold reads",
            u.x_seq.len(),
            u.result_dx.len(),
        )?;
        Ok(u.x_seq.iter().map(|&(_, size)| size).collect())
    }
}
