//! The checks of `map` and `map_backward` (`plan/map.rs`), and of the
//! appended fields a fold over a map's result reads and (backward) writes.
//!
//! A map's region for constructor `c` runs over the nodes of that
//! constructor (`Rows::Ctor`): the buffers its fields (and cotangents) are
//! gathered into hold those rows, and its results are read over them. The
//! map's outputs and the cotangents a fold's backward writes keep those
//! rows (a row per node of the constructor, in schedule order), which a
//! fold region sees a group of through a view, and the backward map's
//! region reads the cotangents in place.

use super::*;

impl Verifier<'_> {
    /// Defines the gathered fields of map region `c` over `rows`, checked
    /// against the fold's field sizes; returns their buffers.
    fn gathered_fields(
        &mut self,
        fold: usize,
        c: usize,
        mc: &MapCase,
    ) -> Result<Vec<usize>, PlanError> {
        let sizes = self.plan.folds[fold].field_sizes[c].clone();
        self.mismatch("the gathered plain fields", sizes.len(), mc.fields.len())?;
        let rows = Rows::Ctor(fold, c);
        for (&(b, s), &want) in mc.fields.iter().zip(&sizes) {
            self.mismatch("the size of a gathered field", want, s)?;
            self.define(b, Layout::new(rows, s))?;
        }
        Ok(mc.fields.iter().map(|f| f.0).collect())
    }

    /// Checks a map region's code and that its results, read over its
    /// rows, have the sizes `sizes` and are not in `outs`.
    fn map_region(
        &mut self,
        saved: Env,
        fold: usize,
        c: usize,
        mc: &MapCase,
        sizes: &[Vec<usize>],
        outs: &[usize],
    ) -> Result<(), PlanError> {
        self.region(saved, Rows::Ctor(fold, c), Step::Body, |v| {
            v.code(&mc.code)?;
            v.mismatch(
                "the components a region yields",
                sizes.len(),
                mc.result.len(),
            )?;
            for (parts, s) in mc.result.iter().zip(sizes) {
                v.results("a map region's result", parts, s)?;
                for p in parts {
                    let st = v.read_part(p)?;
                    v.apart(outs, &[(p.loc, st)])?;
                }
            }
            Ok(())
        })
    }

    /// The checks common to both ops: at the top level, over a fold's
    /// schedule, one region per constructor.
    fn map_header(&mut self, fold: usize, cases: usize) -> Result<(), PlanError> {
        self.top_level()?;
        self.index("fold", fold, self.plan.folds.len())?;
        let ctors = self.plan.folds[fold].field_sizes.len();
        self.mismatch("the regions of a map", ctors, cases)
    }

    pub(super) fn map(&mut self, m: &MapCode) -> Result<(), PlanError> {
        self.map_header(m.fold, m.cases.len())?;
        self.mismatch(
            "the constructors of a map's outputs",
            m.cases.len(),
            m.out.len(),
        )?;
        let outs: Vec<usize> = m.out.iter().flatten().map(|o| o.0).collect();
        for (c, (mc, out)) in m.cases.iter().zip(&m.out).enumerate() {
            self.site.push(Step::Case(c));
            let saved = self.env.clone();
            self.site.push(Step::Setup);
            let gathered = self.gathered_fields(m.fold, c, mc)?;
            self.distinct(gathered.iter().chain(&outs).copied())?;
            self.site.pop();
            let sizes: Vec<Vec<usize>> = out.iter().map(|o| vec![o.1]).collect();
            self.map_region(saved, m.fold, c, mc, &sizes, &outs)?;
            self.site.pop();
        }
        for (c, out) in m.out.iter().enumerate() {
            for &(b, s) in out {
                self.define(b, Layout::new(Rows::Ctor(m.fold, c), s))?;
            }
        }
        Ok(())
    }

    pub(super) fn map_backward(&mut self, m: &MapBackCode) -> Result<(), PlanError> {
        self.map_header(m.fold, m.cases.len())?;
        let per_example = m.acc.iter().filter(|a| a.per_example).count();
        self.mismatch("the per-example accumulators of a map", 0, per_example)?;
        let accs: Vec<usize> = m.acc.iter().map(|a| a.buf).collect();
        let sizes: Vec<Vec<usize>> = m.acc.iter().map(|a| vec![a.size]).collect();
        for (c, mc) in m.cases.iter().enumerate() {
            self.site.push(Step::Case(c));
            let saved = self.env.clone();
            self.site.push(Step::Setup);
            let gathered = self.gathered_fields(m.fold, c, mc)?;
            // The region reads the cotangents in place, over its own rows.
            for &(ct, s) in &mc.cts {
                self.access(Loc::Buf(ct), Access::rows(Rows::Ctor(m.fold, c), s))?;
            }
            let cts = mc.cts.iter().map(|ct| ct.0);
            self.distinct(gathered.iter().chain(&accs).copied().chain(cts))?;
            self.site.pop();
            self.map_region(saved, m.fold, c, mc, &sizes, &[])?;
            self.site.pop();
        }
        self.define_accs(&m.acc)
    }

    /// In a fold region of constructor `c` over a map's result, points the
    /// views of the appended fields at the map's outputs, a row per node of
    /// the constructor.
    pub(super) fn point_mapped(
        &mut self,
        fold: usize,
        c: usize,
        cc: &CaseCode,
    ) -> Result<(), PlanError> {
        for m in &cc.mapped {
            self.mismatch("the schedule of a mapped field", fold, m.fold)?;
            let st = self.access(Loc::Buf(m.buf), Access::rows(Rows::Ctor(fold, c), m.size))?;
            self.point(m.view, Layout::new(Rows::Group(fold), m.size), st)?;
        }
        Ok(())
    }

    /// After a fold's backward, the appended fields' cotangents hold a row
    /// per node of their constructor.
    pub(super) fn define_mapped_cts(&mut self, f: &FoldBackCode) -> Result<(), PlanError> {
        for (c, cc) in f.cases.iter().enumerate() {
            for m in &cc.mapped {
                if let Some(ct) = m.ct {
                    self.define(ct, Layout::new(Rows::Ctor(f.id, c), m.size))?;
                }
            }
        }
        Ok(())
    }
}
