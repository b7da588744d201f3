//! `verify`: the checks a plan must pass before the executor runs it.
//!
//! The executor (`exec.rs`) reads and writes buffers through raw pointers;
//! its `SAFETY` comments rest on the facts checked here, in one walk over
//! the code in execution order:
//!
//! - **Indices** (P001): every buffer, view, kernel, fold, unfold, leaf and
//!   parameter slot an instruction names exists.
//! - **Definition before use** (P002): a buffer is read only after an
//!   instruction (or the plan's constants) wrote it, in the same region or
//!   an enclosing one; a view is read only inside the region of the
//!   recursion op that points it. What a region defines is gone after it,
//!   except what its op yields.
//! - **Extents** (P003, P004): every read and write lies inside its buffer
//!   for every row count, given the sizes, strides and steps the
//!   instruction claims (`layout.rs`), and per-row accesses are over the
//!   rows the buffer is laid out over.
//! - **Aliasing** (P005, P006): an instruction whose executor builds a
//!   mutable slice, uses `copy_nonoverlapping` or writes while reading
//!   writes to storage none of its inputs share, and no two of its outputs
//!   share storage.
//! - **Writes go to buffers** (P007): never to parameters, inputs or views.
//! - **Agreement** (P008, P009, P010): a kernel's steps match its inputs'
//!   kinds, a region's results match the buffers they are copied to, a
//!   loss target is the leaf kind the executor indexes, and a row op has
//!   its inputs and index tables within its operands.
//!
//! What depends on the batch rather than the plan (a group's first node
//! plus its length within the fold's nodes, children and roots below the
//! node count, a step below the step count) is guaranteed by the level
//! schedule and `batch.rs`, not here.

use std::collections::HashSet;

use cdlc_ir::Type;

use super::error::{PlanError, PlanErrorKind, Site, Step};
use super::layout::{Access, Layout, Rows, matrix_access};
use super::*;

/// Checks `plan`; on success returns every buffer's layout (as first
/// defined; `None` for a buffer nothing writes).
pub(crate) fn verify(plan: &Plan) -> Result<Vec<Option<Layout>>, PlanError> {
    let mut v = Verifier::new(plan);
    v.run()?;
    Ok(v.first)
}

/// Every buffer's layout as far as the walk got, and its result: the
/// printer shows the layouts of a plan even when a check fails.
pub(crate) fn layouts(plan: &Plan) -> (Vec<Option<Layout>>, Result<(), PlanError>) {
    let mut v = Verifier::new(plan);
    let r = v.run();
    (v.first, r)
}

/// Where a location's numbers live, for the aliasing checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Storage {
    Buf(usize),
    Param,
    Input(usize),
    /// Gathered batch data (a fold's fields, an unfold's list elements).
    Batch,
}

/// A view as its recursion op points it.
#[derive(Clone, Copy, Debug)]
struct ViewDef {
    layout: Layout,
    storage: Storage,
}

/// What is defined at a point of the walk.
#[derive(Clone, Debug)]
struct Env {
    bufs: Vec<Option<Layout>>,
    views: Vec<Option<ViewDef>>,
}

struct Verifier<'p> {
    plan: &'p Plan,
    env: Env,
    /// Each buffer's first definition, for the printer.
    first: Vec<Option<Layout>>,
    site: Vec<Step>,
    /// The rows the current code runs over.
    rows: Rows,
    /// Each parameter slot's size, by offset.
    slots: Vec<(usize, usize)>,
    /// Whether the walk is inside a recursion op's region.
    in_region: bool,
    /// The nested structure the fold whose regions are being checked
    /// walks, if any.
    nested: Option<NestedSrc>,
}

/// The printer's name of a location.
pub(crate) fn loc_name(l: Loc) -> String {
    match l {
        Loc::Buf(b) => format!("b{b}"),
        Loc::Param(o) => format!("param@{o}"),
        Loc::Input(i) => format!("in{i}"),
        Loc::View(v) => format!("v{v}"),
    }
}

fn size_of_type(ty: &Type) -> Option<usize> {
    match ty {
        Type::Tensor(s) => Some(s.iter().product()),
        _ => None,
    }
}

impl<'p> Verifier<'p> {
    fn new(plan: &'p Plan) -> Verifier<'p> {
        let mut slots = Vec::new();
        for (i, &o) in plan.param_offsets.iter().enumerate() {
            let end = plan
                .param_offsets
                .get(i + 1)
                .copied()
                .unwrap_or(plan.num_params);
            slots.push((o, end.saturating_sub(o)));
        }
        Verifier {
            plan,
            env: Env {
                bufs: vec![None; plan.num_bufs],
                views: vec![None; plan.num_views],
            },
            first: vec![None; plan.num_bufs],
            site: Vec::new(),
            rows: Rows::Batch,
            slots,
            in_region: false,
            nested: None,
        }
    }

    fn run(&mut self) -> Result<(), PlanError> {
        self.site.push(Step::Init);
        for (b, data) in &self.plan.init {
            self.define(*b, Layout::new(Rows::One, data.len()))?;
        }
        self.site.pop();
        let plan = self.plan;
        for (i, k) in plan.kernels.iter().enumerate() {
            self.site.push(Step::Kernel(i));
            self.kernel(k)?;
            self.site.pop();
        }
        self.code(&plan.code)?;
        self.site.push(Step::Output);
        self.output(&self.plan.output)?;
        self.site.pop();
        Ok(())
    }

    fn err<T>(&self, kind: PlanErrorKind) -> Result<T, PlanError> {
        Err(PlanError {
            site: Site(self.site.clone()),
            kind,
        })
    }

    fn index(&self, what: &'static str, index: usize, count: usize) -> Result<(), PlanError> {
        if index >= count {
            return self.err(PlanErrorKind::OutOfRange { what, index, count });
        }
        Ok(())
    }

    fn mismatch(&self, what: &str, expected: usize, found: usize) -> Result<(), PlanError> {
        if expected != found {
            return self.err(PlanErrorKind::Mismatch {
                what: what.to_string(),
                expected,
                found,
            });
        }
        Ok(())
    }

    /// Records that buffer `b` now holds `layout`.
    fn define(&mut self, b: usize, layout: Layout) -> Result<(), PlanError> {
        self.index("buffer", b, self.plan.num_bufs)?;
        self.env.bufs[b] = Some(layout);
        self.first[b].get_or_insert(layout);
        Ok(())
    }

    /// Points view `v` at `layout` in `storage` for the region that follows.
    fn point(&mut self, v: usize, layout: Layout, storage: Storage) -> Result<(), PlanError> {
        self.index("view", v, self.plan.num_views)?;
        self.env.views[v] = Some(ViewDef { layout, storage });
        Ok(())
    }

    /// What `loc` holds and where, if it is defined.
    fn holds(&self, loc: Loc) -> Result<(Layout, Storage), PlanError> {
        let undefined = || PlanErrorKind::Undefined { loc: loc_name(loc) };
        match loc {
            Loc::Buf(b) => {
                self.index("buffer", b, self.plan.num_bufs)?;
                match self.env.bufs[b] {
                    Some(l) => Ok((l, Storage::Buf(b))),
                    None => self.err(undefined()),
                }
            }
            Loc::View(v) => {
                self.index("view", v, self.plan.num_views)?;
                match self.env.views[v] {
                    Some(d) => Ok((d.layout, d.storage)),
                    None => self.err(undefined()),
                }
            }
            Loc::Param(o) => match self.slots.iter().find(|s| s.0 == o) {
                Some(&(_, size)) => Ok((Layout::new(Rows::One, size), Storage::Param)),
                None => self.err(PlanErrorKind::OutOfRange {
                    what: "parameter offset",
                    index: o,
                    count: self.plan.num_params,
                }),
            },
            Loc::Input(i) => {
                self.index("leaf", i, self.plan.leaves.len())?;
                match size_of_type(&self.plan.leaves[i].ty) {
                    Some(size) => Ok((Layout::new(Rows::Batch, size), Storage::Input(i))),
                    None => self.err(PlanErrorKind::LeafKind {
                        leaf: i,
                        expected: "a tensor",
                    }),
                }
            }
        }
    }

    /// Checks that `access` from `loc` lies inside what `loc` holds;
    /// returns its storage.
    fn access(&self, loc: Loc, access: Access) -> Result<Storage, PlanError> {
        let (layout, storage) = self.holds(loc)?;
        if access.is_empty() {
            return Ok(storage);
        }
        if access.rows != layout.rows {
            return self.err(PlanErrorKind::RowsMismatch {
                loc: loc_name(loc),
                reads: access.rows.to_string(),
                holds: layout.rows.to_string(),
            });
        }
        if !access.fits(layout) {
            return self.err(PlanErrorKind::OutOfBounds {
                loc: loc_name(loc),
                touches: access.to_string(),
                holds: layout.to_string(),
            });
        }
        Ok(storage)
    }

    /// The unfold whose steps unfold `u` runs: an unfold over an earlier
    /// one's outputs runs its steps, step for step (`batch.rs`).
    fn steps_of(&self, mut u: usize) -> usize {
        while let Some(&UnfoldInfo::Seq(src)) = self.plan.unfolds.get(u) {
            if src >= u {
                break;
            }
            u = src;
        }
        u
    }

    /// The rows of unfold `u`'s per-step buffers.
    fn steps(&self, u: usize) -> Rows {
        Rows::Steps(self.steps_of(u))
    }

    /// The rows of unfold `u`'s states (the initial one and one per step).
    fn states(&self, u: usize) -> Rows {
        Rows::States(self.steps_of(u))
    }

    /// The rows of an operand: the context's if batched, else one.
    fn rows_if(&self, batched: bool) -> Rows {
        if batched { self.rows } else { Rows::One }
    }

    /// Checks a read of `size` numbers per row (or one row) from `loc`.
    fn read(&self, loc: Loc, batched: bool, size: usize) -> Result<Storage, PlanError> {
        self.access(loc, Access::rows(self.rows_if(batched), size))
    }

    /// Checks a read of a flattened part over the context's rows.
    fn read_part(&self, p: &Part) -> Result<Storage, PlanError> {
        self.read(p.loc, p.kind == PartKind::Batched, p.size)
    }

    /// The buffer an instruction writes through `loc`.
    fn written(&self, loc: Loc) -> Result<usize, PlanError> {
        match loc {
            Loc::Buf(b) => Ok(b),
            other => self.err(PlanErrorKind::ReadOnly {
                loc: loc_name(other),
            }),
        }
    }

    /// Checks that the buffers `writes` are pairwise distinct and share no
    /// storage with `reads`.
    fn apart(&self, writes: &[usize], reads: &[(Loc, Storage)]) -> Result<(), PlanError> {
        let mut seen = HashSet::new();
        for &w in writes {
            if !seen.insert(w) {
                return self.err(PlanErrorKind::WritesOverlap {
                    loc: loc_name(Loc::Buf(w)),
                });
            }
            if let Some((l, _)) = reads.iter().find(|(_, s)| *s == Storage::Buf(w)) {
                return self.err(PlanErrorKind::Overlap {
                    written: loc_name(Loc::Buf(w)),
                    read: loc_name(*l),
                });
            }
        }
        Ok(())
    }

    fn code(&mut self, code: &[Instr]) -> Result<(), PlanError> {
        for (i, ins) in code.iter().enumerate() {
            self.site.push(Step::Code(i));
            self.instr(ins)?;
            self.site.pop();
        }
        Ok(())
    }

    fn instr(&mut self, ins: &Instr) -> Result<(), PlanError> {
        match ins {
            Instr::Elementwise {
                kernel,
                locs,
                steps,
                n_out,
                batched,
            } => self.elementwise(*kernel, locs, steps, *n_out, *batched),
            Instr::Gemm { .. } => self.gemm(ins),
            Instr::Fused(f) => self.fused(f),
            Instr::Row {
                op,
                ins,
                dst,
                out_size,
                batched,
            } => self.row(op, ins, *dst, *out_size, *batched),
            Instr::SumRows { src, size, dst } => {
                let s = self.read(*src, true, *size)?;
                self.apart(&[*dst], &[(*src, s)])?;
                self.define(*dst, Layout::new(Rows::One, *size))
            }
            Instr::SumCombine { a, b, dst, .. } => {
                self.mismatch("the sizes of a sum's operands", a.size, b.size)?;
                self.read_part(a)?;
                self.read_part(b)?;
                // The executor sums in a scratch buffer when a part reads
                // `dst`, so the two may share storage.
                self.define(*dst, Layout::new(Rows::One, a.size))
            }
            Instr::Loss {
                out,
                size,
                target,
                dst,
                ..
            } => self.loss(*out, *size, *target, None, *dst),
            Instr::LossGrad {
                out,
                size,
                target,
                seed,
                dst,
                ..
            } => self.loss(*out, *size, *target, Some(*seed), *dst),
            Instr::SeqLoss {
                out,
                size,
                unfold,
                target,
                dst,
                ..
            } => self.seq_loss(*out, *size, *unfold, *target, None, *dst),
            Instr::SeqLossGrad {
                out,
                size,
                unfold,
                target,
                seed,
                dst,
                ..
            } => self.seq_loss(*out, *size, *unfold, *target, Some(*seed), *dst),
            Instr::SeqSum {
                unfold,
                size,
                terms,
                out,
            } => self.seq_sum(*unfold, *size, terms, *out),
            Instr::Fold(f) => self.fold(f),
            Instr::FoldBackward(f) => self.fold_backward(f),
            Instr::Unfold(u) => self.unfold(u),
            Instr::UnfoldBackward(u) => self.unfold_backward(u),
            Instr::Map(m) => self.map(m),
            Instr::MapBackward(m) => self.map_backward(m),
            Instr::Conv(c) => self.conv(c),
        }
    }

    /// A kernel's ops are in SSA order: each reads an input of the kernel
    /// or an earlier op, and the stored ops exist (codegen indexes them).
    fn kernel(&self, k: &KernelSpec) -> Result<(), PlanError> {
        for (j, op) in k.ops.iter().enumerate() {
            match *op {
                KOp::Input(x) => self.index("kernel input", x, k.inputs.len())?,
                KOp::Bin(_, a, b) => {
                    self.index("earlier kernel op", a, j)?;
                    self.index("earlier kernel op", b, j)?;
                }
                KOp::Un(_, a) => self.index("earlier kernel op", a, j)?,
            }
        }
        for &o in &k.outputs {
            self.index("kernel op", o, k.ops.len())?;
        }
        Ok(())
    }

    /// A fused kernel: `locs` are its inputs then its outputs; the kernel
    /// reads an input by its kind and writes `n` numbers per row of each
    /// output; `steps` (used to split the rows between threads) must be
    /// the kernel's own per-row strides.
    fn elementwise(
        &mut self,
        kernel: usize,
        locs: &[Loc],
        steps: &[usize],
        n_out: usize,
        batched: bool,
    ) -> Result<(), PlanError> {
        self.index("kernel", kernel, self.plan.kernels.len())?;
        let spec = &self.plan.kernels[kernel];
        self.mismatch("the kernel's outputs", spec.outputs.len(), n_out)?;
        let n_in = spec.inputs.len();
        self.mismatch("the kernel's operands", n_in + n_out, locs.len())?;
        self.mismatch("the kernel's steps", locs.len(), steps.len())?;
        let rows = self.rows_if(batched);
        let mut reads = Vec::new();
        for ((&loc, &kind), &step) in locs.iter().zip(&spec.inputs).zip(steps) {
            if let InKind::Repeat { every, .. } = kind {
                let whole = if every == 0 { 1 } else { spec.n % every };
                self.mismatch("the kernel's size modulo a repeat count", 0, whole)?;
            }
            let (per_row, on_rows) = (kind.per_row(spec.n), kind.batched());
            if on_rows && !batched {
                return self.err(PlanErrorKind::RowsMismatch {
                    loc: loc_name(loc),
                    reads: Rows::Batch.to_string(),
                    holds: Rows::One.to_string(),
                });
            }
            let access = if on_rows {
                Access::rows(rows, per_row)
            } else {
                Access::one(per_row)
            };
            let expected = if on_rows { per_row } else { 0 };
            self.mismatch(&format!("the step of {}", loc_name(loc)), expected, step)?;
            reads.push((loc, self.access(loc, access)?));
        }
        let mut writes = Vec::new();
        for (&loc, &step) in locs[n_in..].iter().zip(&steps[n_in..]) {
            self.mismatch(&format!("the step of {}", loc_name(loc)), spec.n, step)?;
            writes.push(self.written(loc)?);
        }
        self.apart(&writes, &reads)?;
        for w in writes {
            self.define(w, Layout::new(rows, spec.n))?;
        }
        Ok(())
    }

    /// `C = A B` (once, once per row, or summed over the rows): C is the
    /// buffer `c_buf`, sized `c_len`; every operand's last element lies
    /// inside its buffer; C shares storage with neither operand.
    fn gemm(&mut self, ins: &Instr) -> Result<(), PlanError> {
        let Instr::Gemm {
            m,
            k,
            n,
            a,
            b,
            c,
            c_buf,
            c_len,
            per_row,
        } = ins
        else {
            unreachable!("called on a GEMM")
        };
        let d = |d: &Dim| {
            if d.rows {
                (d.fixed as i64, 0)
            } else {
                (0, d.fixed as i64)
            }
        };
        let (count, [sa, sb, sc]) = match per_row {
            Some(steps) => ((1, 0), *steps),
            None => ((0, 1), [0; 3]),
        };
        let rows = self.rows;
        let ra = self.access(
            a.loc,
            matrix_access(rows, d(m), d(k), a.rs, a.cs, count, sa),
        )?;
        let rb = self.access(
            b.loc,
            matrix_access(rows, d(k), d(n), b.rs, b.cs, count, sb),
        )?;
        if c.loc != Loc::Buf(*c_buf) {
            self.written(c.loc)?;
            return self.err(PlanErrorKind::Mismatch {
                what: format!("the product's output {}", loc_name(c.loc)),
                expected: *c_buf,
                found: match c.loc {
                    Loc::Buf(b) => b,
                    _ => usize::MAX,
                },
            });
        }
        self.apart(&[*c_buf], &[(a.loc, ra), (b.loc, rb)])?;
        let held = if c_len.rows {
            Layout::new(rows, c_len.fixed)
        } else {
            Layout::new(Rows::One, c_len.fixed)
        };
        self.define(*c_buf, held)?;
        self.access(
            c.loc,
            matrix_access(rows, d(m), d(n), c.rs, c.cs, count, sc),
        )?;
        Ok(())
    }

    /// A product and its epilogue: each checked as the step it fuses (a
    /// broadcast input's expansion, the product, the kernel); the kernel runs over the product's rows (or one
    /// product per row) and writes nothing the product reads, since the
    /// product's later panels run after its earlier panels' epilogue.
    fn fused(&mut self, f: &FusedCode) -> Result<(), PlanError> {
        // A broadcast input's expansion runs first when it runs at all.
        if let Some(b) = &f.broadcast {
            self.instr(&b.expand)?;
        }
        self.gemm(&f.gemm)?;
        self.instr(&f.ew)?;
        let (Instr::Gemm { a, b, .. }, Instr::Elementwise { locs, n_out, .. }) = (&f.gemm, &f.ew)
        else {
            return self.err(PlanErrorKind::Mismatch {
                what: "the parts of a fused step".into(),
                expected: 2,
                found: 0,
            });
        };
        for &w in &locs[locs.len() - n_out..] {
            if w == a.loc || w == b.loc {
                return self.err(PlanErrorKind::Overlap {
                    written: loc_name(w),
                    read: loc_name(if w == a.loc { a.loc } else { b.loc }),
                });
            }
        }
        Ok(())
    }

    /// A direct convolution: its runs inside its shape, its two operands
    /// read (the weights once, the per-example tensors per row) and the
    /// one it writes defined, apart from them.
    fn conv(&mut self, c: &ConvCode) -> Result<(), PlanError> {
        let s = c.taps.shape;
        let [taps, out, src] = cdlc_runtime::gemm::conv::runs_reach(&c.taps.runs);
        for (needs, len) in [(taps, s.taps), (out, s.out_points), (src, s.in_points)] {
            if needs > len {
                return self.err(PlanErrorKind::RowOpIndex {
                    op: "conv",
                    needs,
                    len,
                });
            }
        }
        let (xs, ys) = (s.in_channels * s.in_points, s.out_channels * s.out_points);
        let span = s.weight_span(c.w.rs, c.w.cs);
        let (reads, written, layout) = match c.kind {
            ConvKind::Forward => (
                [(c.w.loc, false, span), (c.x, true, xs)],
                c.y,
                (self.rows, ys),
            ),
            ConvKind::InputGrad => (
                [(c.w.loc, false, span), (c.y, true, ys)],
                c.x,
                (self.rows, xs),
            ),
            ConvKind::WeightGrad => (
                [(c.x, true, xs), (c.y, true, ys)],
                c.w.loc,
                (Rows::One, span),
            ),
        };
        let mut read = Vec::new();
        for (loc, batched, size) in reads {
            read.push((loc, self.read(loc, batched, size)?));
        }
        let dst = self.written(written)?;
        self.mismatch("the buffer a convolution writes", c.dst, dst)?;
        self.apart(&[dst], &read)?;
        self.define(dst, Layout::new(layout.0, layout.1))
    }

    /// A row op: at most four inputs, each read per row (or once), `dst`
    /// written per row and apart from them, and the op's own tables inside
    /// its operands.
    fn row(
        &mut self,
        op: &RowOp,
        ins: &[(Loc, bool, usize)],
        dst: usize,
        out_size: usize,
        batched: bool,
    ) -> Result<(), PlanError> {
        self.mismatch(
            &format!("the inputs of `{}`", row_op_name(op)),
            row_op_arity(op),
            ins.len(),
        )?;
        let mut reads = Vec::new();
        for &(loc, b, s) in ins {
            if b && !batched {
                return self.err(PlanErrorKind::RowsMismatch {
                    loc: loc_name(loc),
                    reads: Rows::Batch.to_string(),
                    holds: Rows::One.to_string(),
                });
            }
            reads.push((loc, self.read(loc, b, s)?));
        }
        self.row_tables(op, ins, out_size)?;
        self.apart(&[dst], &reads)?;
        self.define(dst, Layout::new(self.rows_if(batched), out_size))
    }

    /// The index tables and slices of a row op stay inside its operands.
    fn row_tables(
        &self,
        op: &RowOp,
        ins: &[(Loc, bool, usize)],
        out: usize,
    ) -> Result<(), PlanError> {
        let x = ins.first().map_or(0, |i| i.2);
        let within = |needs: usize, len: usize| -> Result<(), PlanError> {
            if needs > len {
                return self.err(PlanErrorKind::RowOpIndex {
                    op: row_op_name(op),
                    needs,
                    len,
                });
            }
            Ok(())
        };
        match op {
            RowOp::Permute { map } => {
                self.mismatch("the length of a permutation's map", out, map.len())?;
                within(map.iter().map(|&i| i as usize + 1).max().unwrap_or(0), x)
            }
            RowOp::Slice { start, len } => {
                self.mismatch("the length of a slice", out, *len)?;
                within(start + len, x)
            }
            RowOp::Concat => self.mismatch("the length of a concatenation", out, x + ins[1].2),
            RowOp::BasisExpand { table } | RowOp::BasisProject { table } => {
                let (dense, coeffs) = match op {
                    RowOp::BasisExpand { .. } => (out, x),
                    _ => (x, out),
                };
                within(table.index_span(), dense)?;
                within(table.element_span(), coeffs)
            }
            _ => Ok(()),
        }
    }

    /// A loss per row of a tensor output (and, with a seed, its gradient):
    /// the output, the target and the seed read per row, `dst` apart.
    fn loss(
        &mut self,
        out: Loc,
        size: usize,
        target: TargetLoc,
        seed: Option<(Loc, bool)>,
        dst: usize,
    ) -> Result<(), PlanError> {
        let mut reads = vec![(out, self.read(out, true, size)?)];
        match target {
            TargetLoc::Class(i) => {
                self.leaf_kind(i, "a class target", |t| matches!(t, Type::Class(_)))?;
                // The executor reads the class of row `r` as example `r`'s.
                if self.rows != Rows::Batch {
                    return self.err(PlanErrorKind::RowsMismatch {
                        loc: format!("class in{i}"),
                        reads: self.rows.to_string(),
                        holds: Rows::Batch.to_string(),
                    });
                }
            }
            TargetLoc::Tensor(l, b) => reads.push((l, self.read(l, b, size)?)),
        }
        if let Some((l, b)) = seed {
            reads.push((l, self.read(l, b, 1)?));
        }
        self.apart(&[dst], &reads)?;
        let per_row = if seed.is_some() { size } else { 1 };
        self.define(dst, Layout::new(self.rows, per_row))
    }

    fn leaf_kind(
        &self,
        leaf: usize,
        expected: &'static str,
        is: impl Fn(&Type) -> bool,
    ) -> Result<(), PlanError> {
        self.index("leaf", leaf, self.plan.leaves.len())?;
        if !is(&self.plan.leaves[leaf].ty) {
            return self.err(PlanErrorKind::LeafKind { leaf, expected });
        }
        Ok(())
    }

    /// A sequence loss: the output sequence of unfold `unfold`, a sequence
    /// target leaf, at the top level (the executor walks the batch's rows).
    fn seq_loss(
        &mut self,
        out: usize,
        size: usize,
        unfold: usize,
        target: usize,
        seed: Option<(Loc, bool)>,
        dst: usize,
    ) -> Result<(), PlanError> {
        self.index("unfold", unfold, self.plan.unfolds.len())?;
        let steps = self.steps(unfold);
        let mut reads = vec![(
            Loc::Buf(out),
            self.access(Loc::Buf(out), Access::rows(steps, size))?,
        )];
        self.leaf_kind(target, "a sequence target", |t| matches!(t, Type::Seq(_)))?;
        if self.rows != Rows::Batch {
            return self.err(PlanErrorKind::RowsMismatch {
                loc: loc_name(Loc::Buf(out)),
                reads: self.rows.to_string(),
                holds: Rows::Batch.to_string(),
            });
        }
        if let Some((l, b)) = seed {
            reads.push((l, self.read(l, b, 1)?));
        }
        self.apart(&[dst], &reads)?;
        match seed {
            None => self.define(dst, Layout::new(Rows::Batch, 1)),
            Some(_) => self.define(dst, Layout::new(steps, size)),
        }
    }

    /// The plan's output: every location it names holds its value.
    fn output(&self, r: &Repr) -> Result<(), PlanError> {
        match r {
            Repr::Tensor {
                loc,
                batched,
                shape,
            } => self.read(*loc, *batched, shape.iter().product()).map(drop),
            Repr::Transposed {
                loc,
                batched,
                rows,
                cols,
                ..
            } => self.read(*loc, *batched, rows * cols).map(drop),
            Repr::Summed { buf, shape } => self
                .read(Loc::Buf(*buf), false, shape.iter().product())
                .map(drop),
            Repr::Tuple(rs) => rs.iter().try_for_each(|r| self.output(r)),
            Repr::Seq { buf, size, unfold } => {
                self.index("unfold", *unfold, self.plan.unfolds.len())?;
                self.access(Loc::Buf(*buf), Access::rows(self.steps(*unfold), *size))
                    .map(drop)
            }
            Repr::Data(i) | Repr::Class { input: i } | Repr::SeqTarget { input: i } => {
                self.index("leaf", *i, self.plan.leaves.len())
            }
            Repr::FoldTape(f) | Repr::Field { fold: f, .. } => {
                self.index("fold", *f, self.plan.folds.len())
            }
            Repr::UnfoldTape(u) => self.index("unfold", *u, self.plan.unfolds.len()),
            Repr::Mapped { fold, fields } => {
                self.index("fold", *fold, self.plan.folds.len())?;
                for &(b, s) in fields.iter().flatten() {
                    self.access(Loc::Buf(b), Access::rows(Rows::Nodes(*fold), s))?;
                }
                Ok(())
            }
            // Only inside a fold region; a function never returns one.
            Repr::Nested(_) | Repr::NestedCt { .. } | Repr::HeldCt { .. } => {
                self.mismatch("the nested structures a function returns", 0, 1)
            }
        }
    }
}

/// The number of inputs `rowops::row` reads for `op`.
fn row_op_arity(op: &RowOp) -> usize {
    match op {
        RowOp::NormGrad => 3,
        RowOp::MaxGrad { .. } | RowOp::Concat => 2,
        _ => 1,
    }
}

/// A row op's name in the printer.
pub(crate) fn row_op_name(op: &RowOp) -> &'static str {
    match op {
        RowOp::Permute { .. } => "permute",
        RowOp::Reduce { .. } => "reduce",
        RowOp::Expand { .. } => "expand",
        RowOp::BroadcastTo { .. } => "broadcast_to",
        RowOp::SumTo { .. } => "sum_to",
        RowOp::Softmax => "softmax",
        RowOp::LogSoftmax => "log_softmax",
        RowOp::Norm { .. } => "norm",
        RowOp::NormGrad => "norm_grad",
        RowOp::MaxGrad { .. } => "max_grad",
        RowOp::Concat => "concat",
        RowOp::Slice { .. } => "slice",
        RowOp::BasisExpand { .. } => "basis_expand",
        RowOp::BasisProject { .. } => "basis_project",
    }
}

mod map;
mod regions;

#[cfg(test)]
mod tests;
