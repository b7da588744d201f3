//! The checks of nested fields: the pool a fold region lays a nested
//! field's children out in, a fold over the structure inside that region
//! (where it gathers the children from, which views read them), a fold
//! over a structure one of that structure's nodes holds (the same pool),
//! and the children's cotangents their backward adds into the pool.

use super::*;

impl Verifier<'_> {
    /// A fold over a nested structure runs inside the region that laid
    /// out its pool, over that region's rows; any other fold is checked
    /// as before.
    pub(super) fn fold_depth(
        &self,
        fold: usize,
        elems: Option<&SeqElems>,
        nested: Option<&NestedSrc>,
    ) -> Result<(), PlanError> {
        let Some(n) = nested else {
            return self.top_level_or_children(fold, elems);
        };
        self.mismatch(
            "the region depth of a fold over a nested structure",
            1,
            usize::from(self.in_region),
        )?;
        self.index("fold", fold, self.plan.folds.len())?;
        self.mismatch(
            "the folds over a nested structure prepared with their region",
            1,
            usize::from(self.plan.folds[fold].inner.is_some()),
        )?;
        self.index("unfold", n.unfold, self.plan.unfolds.len())?;
        self.mismatch(
            "the pools laid out like a list of children",
            1,
            usize::from(self.over_children(n.unfold)),
        )?;
        for p in &n.parts {
            let seq = Loc::Buf(p.seq);
            self.access(seq, Access::rows(self.steps(n.unfold), p.size))?;
            self.apart(&[p.gathered], &[(seq, Storage::Buf(p.seq))])?;
        }
        self.nested_slots(n)?;
        self.held_pool(fold, n)?;
        self.nested_views(fold, n)
    }

    /// A fold over a structure held in a nested structure's node (a tree
    /// of `List(Tree(X))`, `FoldInfo::nested_in`) is marked held, runs in
    /// the region of the fold over that structure, and reads that fold's
    /// pool and adds into its pool cotangents (which that fold's backward
    /// zeroes); a fold over a nested field's own structure is not held.
    fn held_pool(&self, fold: usize, n: &NestedSrc) -> Result<(), PlanError> {
        let held = self.plan.folds[fold].nested_in.is_some();
        self.mismatch(
            "the folds over a structure held in a nested structure's node marked held",
            usize::from(held),
            usize::from(n.held),
        )?;
        if !held {
            return Ok(());
        }
        let Some(o) = &self.nested else {
            return self.mismatch(
                "the region of a fold over a structure held in a nested structure's node",
                1,
                0,
            );
        };
        let pool = |s: &NestedSrc| {
            let first = &s.parts[..s.carrier_parts.min(s.parts.len())];
            let seqs: Vec<(usize, usize)> = first.iter().map(|p| (p.seq, p.cotangents)).collect();
            (s.unfold, s.carrier_parts, seqs)
        };
        let same = pool(o) == pool(n);
        self.mismatch(
            "the pool and pool cotangents of a structure held in a nested structure's node",
            1,
            usize::from(same),
        )
    }

    /// The slots of a nested structure's children: whole children (one
    /// slot per carrier component each), the slots of one component
    /// reading its pool and adding into its cotangents, each gathered into
    /// a buffer of its own.
    pub(in crate::plan::verify) fn nested_slots(&self, n: &NestedSrc) -> Result<(), PlanError> {
        let cp = n.carrier_parts.max(1);
        self.mismatch(
            "the slots of a nested structure's children (whole carriers)",
            0,
            n.parts.len() % cp,
        )?;
        for (s, p) in n.parts.iter().enumerate() {
            let first = &n.parts[s % cp];
            let same = p.seq == first.seq && p.cotangents == first.cotangents;
            self.mismatch(
                "the pool and cotangents of a carrier component's slots",
                1,
                usize::from(same),
            )?;
        }
        self.distinct(n.parts.iter().map(|p| p.gathered))
    }

    /// Every view of a nested structure's plain fields reads a tensor of
    /// the data or a carrier component of the size its field has.
    fn nested_views(&self, fold: usize, n: &NestedSrc) -> Result<(), PlanError> {
        let sizes = &self.plan.folds[fold].field_sizes;
        self.mismatch(
            "the constructors of a nested structure",
            sizes.len(),
            n.views.len(),
        )?;
        self.mismatch(
            "the constructors of a nested structure's fields",
            sizes.len(),
            n.field_parts.len(),
        )?;
        self.mismatch(
            "the constructors of a nested structure's children",
            sizes.len(),
            n.holds.len(),
        )?;
        for (((ss, vs), fp), &holds) in sizes.iter().zip(&n.views).zip(&n.field_parts).zip(&n.holds)
        {
            self.mismatch("the views of a nested structure's node", ss.len(), vs.len())?;
            self.mismatch(
                "the views of a nested structure's fields",
                ss.len(),
                fp.iter().sum(),
            )?;
            for (&s, v) in ss.iter().zip(vs) {
                if let Some(m) = *v {
                    self.index("carrier component", m, n.parts.len())?;
                    self.index("slot of a child the node holds", m, holds * n.carrier_parts)?;
                    self.mismatch("the size of a child's carrier", n.parts[m].size, s)?;
                }
            }
        }
        Ok(())
    }

    /// The buffer view `k` of constructor `ctor` is gathered into, when
    /// the fold being checked walks a nested structure and the view reads
    /// a child's carrier.
    pub(super) fn hole_of(&self, ctor: usize, k: usize) -> Option<ElemPart> {
        let n = self.nested.as_ref()?;
        let m = (*n.views.get(ctor)?.get(k)?)?;
        n.parts.get(m).copied()
    }

    /// Sets up the pools of a region's nested fields: each is laid out
    /// like a list of children, one sequence per carrier component.
    pub(super) fn enter_pools(
        &mut self,
        fold: usize,
        ctor: usize,
        cc: &CaseCode,
        carrier: &[(usize, usize)],
        gathered: &mut Vec<usize>,
    ) -> Result<(), PlanError> {
        let fields = self.plan.folds[fold]
            .nested_fields
            .get(ctor)
            .map_or(0, |fs| fs.iter().map(|f| f.pools().len()).sum());
        self.mismatch("the pools of the nested fields", fields, cc.nested.len())?;
        for pool in &cc.nested {
            self.index("unfold", pool.unfold, self.plan.unfolds.len())?;
            self.mismatch(
                "the pools laid out like a list of children",
                1,
                usize::from(self.over_children(pool.unfold)),
            )?;
            self.mismatch(
                "the carrier components of a pool",
                carrier.len(),
                pool.seqs.len(),
            )?;
            for (&(b, s), &(_, cs)) in pool.seqs.iter().zip(carrier) {
                self.mismatch("the size of a child's carrier", cs, s)?;
                gathered.push(b);
                self.define(b, Layout::new(self.steps(pool.unfold), s))?;
            }
        }
        Ok(())
    }

    /// After a backward region: the cotangents left in each pool hold its
    /// rows and are not the node cotangents they are copied to.
    pub(super) fn pool_cotangents(
        &self,
        cc: &CaseCode,
        ct: &[(usize, usize)],
    ) -> Result<(), PlanError> {
        for pool in &cc.nested {
            let Some(bs) = &pool.ct else { continue };
            self.mismatch(
                "the components of the children's cotangents",
                pool.seqs.len(),
                bs.len(),
            )?;
            let rows = self.steps(pool.unfold);
            let cts: Vec<usize> = ct.iter().map(|c| c.0).collect();
            for (&b, &(_, s)) in bs.iter().zip(&pool.seqs) {
                self.access(Loc::Buf(b), Access::rows(rows, s))?;
                self.apart(&cts, &[(Loc::Buf(b), Storage::Buf(b))])?;
            }
        }
        Ok(())
    }

    /// What a backward region of a fold over a nested structure yields
    /// after its children's and captures' cotangents: its plain fields'
    /// cotangents, one component per field.
    pub(super) fn nested_field_results(
        &self,
        fold: usize,
        ctor: usize,
        n: &NestedSrc,
    ) -> Vec<Vec<usize>> {
        let sizes = &self.plan.folds[fold].field_sizes[ctor];
        let mut out = Vec::new();
        let mut at = 0;
        for &k in &n.field_parts[ctor] {
            out.push(sizes[at..at + k].to_vec());
            at += k;
        }
        out
    }

    /// The children's cotangents a backward region yields are added into
    /// the pool's cotangents: their storage is not the pool's.
    pub(super) fn pool_apart(
        &self,
        cc: &CaseCode,
        skip: usize,
        n: &NestedSrc,
        ctor: usize,
    ) -> Result<(), PlanError> {
        let parts = cc.result.iter().skip(skip).flatten();
        for (p, v) in parts.zip(&n.views[ctor]) {
            let Some(m) = *v else { continue };
            let into = Loc::Buf(n.parts[m].cotangents);
            if p.loc == into {
                return self.err(PlanErrorKind::Overlap {
                    written: loc_name(into),
                    read: loc_name(p.loc),
                });
            }
        }
        Ok(())
    }
}
