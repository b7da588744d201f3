//! The trace: a plan's instructions unrolled over one batch's shape into a
//! flat list of actions on symbolic addresses.
//!
//! The walk mirrors the executor (`exec.rs`) for the instructions a
//! straight-line step supports: every fold level, group and row copy the
//! executor would make for this batch becomes one action, with the row
//! counts, offsets and children fixed. An address is a base (a pointer the
//! step reads from its argument block: a buffer, the parameters, an input,
//! a group's field) plus a constant offset, so the trace stays valid while
//! buffers move, as long as the batch has the same shape (`ShapeKey`).
//! Anything else (unfolds, folds over computed sequences or lists of
//! children) makes `trace` return `None`, and the step stays on the
//! executor.

use std::sync::Arc;

use cdlc_ir::LossKind;

use crate::batch::{Batch, FoldData, GroupData};
use crate::codegen::KernelFn;
use crate::exec::Elem;
use crate::plan::*;

mod conv;
mod map;

/// Where a base pointer of the argument block comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BaseSrc {
    Params,
    Buf(usize),
    Input(usize),
    Classes(usize),
    /// Plain field `field` of group `group` of level `level` of fold `fold`.
    Field {
        fold: usize,
        level: usize,
        group: usize,
        field: usize,
    },
    /// A scratch buffer of the compiled step (a sum that reads its own
    /// destination is formed there first).
    Scratch(usize),
}

/// A symbolic address: base `base` of the argument block plus `off`
/// elements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Addr {
    pub base: usize,
    pub off: usize,
}

impl Addr {
    fn at(self, elems: usize) -> Addr {
        Addr {
            off: self.off + elems,
            ..self
        }
    }
}

/// What a loss action compares with.
#[derive(Clone, Copy, Debug)]
pub(crate) enum LossTarget {
    Class,
    Tensor { batched: bool },
}

/// An operation run through a Rust helper (`shim.rs`): pointers to its
/// operands come from the generated code, everything else is here.
#[derive(Clone, Debug)]
pub(crate) enum ShimOp {
    /// A row operation: inputs (batched, size per row).
    Row {
        op: RowOp,
        ins: Vec<(bool, usize)>,
        out_size: usize,
    },
    /// Per-row losses (`seed: None`) or their gradients times a seed
    /// (batched or not); pointers: output, target, [seed], destination.
    Loss {
        kind: LossKind,
        size: usize,
        target: LossTarget,
        seed: Option<bool>,
    },
    /// A direct convolution per row (`conv.rs`).
    Conv(Box<ConvCode>),
}

/// One action of a straight-line step.
#[derive(Clone, Debug)]
pub(crate) enum Action {
    /// `count` products with the runtime's C ABI (see `Elem::gemm`).
    Gemm {
        count: usize,
        steps: [usize; 3],
        m: usize,
        k: usize,
        n: usize,
        a: Addr,
        rsa: usize,
        csa: usize,
        b: Addr,
        rsb: usize,
        csb: usize,
        c: Addr,
        rsc: usize,
    },
    /// A fused elementwise kernel over `rows` rows.
    Kernel {
        f: KernelFn,
        ptrs: Vec<Addr>,
        rows: usize,
    },
    /// `dst[0..n] = src[0..n]`.
    Copy { src: Addr, dst: Addr, n: usize },
    /// `dst[0..n] += scale · src[0..n]`.
    Add {
        src: Addr,
        dst: Addr,
        n: usize,
        scale: f64,
    },
    /// `dst[0..n] = 0`.
    Zero { dst: Addr, n: usize },
    /// A Rust helper on these operands, over `rows` rows.
    Shim {
        op: Arc<ShimOp>,
        ptrs: Vec<Addr>,
        rows: usize,
    },
}

/// A step unrolled for one batch shape.
#[derive(Debug, Default)]
pub(crate) struct Trace {
    pub actions: Vec<Action>,
    pub bases: Vec<BaseSrc>,
    /// The elements of each scratch buffer.
    pub scratch: Vec<usize>,
    /// Per buffer, the elements the trace reaches (0 if unused): a buffer
    /// shorter than that at run time sends the step to the executor.
    pub extents: Vec<usize>,
    pub multiply_adds: u64,
}

/// Limits past which a step is not a small one (`docs/jit.md`).
pub(crate) struct Limits {
    pub actions: usize,
    /// In all the step's products.
    pub multiply_adds: u64,
    /// In any one product.
    pub product: u64,
}

/// Why a trace stopped.
pub(crate) enum Stop {
    /// An instruction kind the straight-line step does not compile.
    Unsupported,
    /// The step is larger than `Limits`.
    TooLarge,
}

/// The walker.
struct Tracer<'a, T> {
    batch: &'a Batch<T>,
    kernels: &'a [KernelFn],
    views: Vec<Option<Addr>>,
    limits: &'a Limits,
    /// Per fold schedule a map ran over: each group's rank among its
    /// constructor's nodes, by the group's first node (`map.rs`).
    ranks: Vec<Option<Vec<u32>>>,
    /// Whether the actions are kept (else only the sizes are measured).
    keep: bool,
    /// The actions made so far.
    count: usize,
    out: Trace,
}

/// Unrolls `plan`'s code over `batch`.
pub(crate) fn trace<T: Elem>(
    plan: &Plan,
    batch: &Batch<T>,
    kernels: &[KernelFn],
    limits: &Limits,
) -> Result<Trace, Stop> {
    walk(plan, batch, kernels, limits, true)
}

/// The sizes of `plan`'s step on `batch` (its multiply-adds and the
/// buffers' extents, with no actions): what a looped step needs to know
/// of a batch shape.
pub(crate) fn measure<T: Elem>(
    plan: &Plan,
    batch: &Batch<T>,
    kernels: &[KernelFn],
    limits: &Limits,
) -> Result<Trace, Stop> {
    walk(plan, batch, kernels, limits, false)
}

fn walk<T: Elem>(
    plan: &Plan,
    batch: &Batch<T>,
    kernels: &[KernelFn],
    limits: &Limits,
    keep: bool,
) -> Result<Trace, Stop> {
    let mut t = Tracer {
        batch,
        kernels,
        views: vec![None; plan.num_views],
        limits,
        ranks: vec![None; batch.folds.len()],
        keep,
        count: 0,
        out: Trace {
            extents: vec![0; plan.num_bufs],
            ..Trace::default()
        },
    };
    t.code(&plan.code, batch.rows)?;
    Ok(t.out)
}

/// Whether every instruction of `code` is one a straight-line step
/// compiles (decided once per plan).
pub(crate) fn supported(code: &[Instr]) -> bool {
    code.iter().all(|i| match i {
        Instr::Elementwise { .. }
        | Instr::Gemm { .. }
        | Instr::Row { .. }
        | Instr::SumRows { .. }
        | Instr::SumCombine { .. }
        | Instr::Loss { .. }
        | Instr::LossGrad { .. }
        | Instr::Conv(_)
        | Instr::Fused(_) => true,
        Instr::Fold(f) => f.elems.is_none() && f.cases.iter().all(simple_case),
        Instr::FoldBackward(f) => f.elems.is_none() && f.cases.iter().all(simple_case),
        Instr::Map(m) => m.cases.iter().all(simple_map_case),
        Instr::MapBackward(m) => m.cases.iter().all(simple_map_case),
        _ => false,
    })
}

/// A map region whose code is supported and folds nothing.
fn simple_map_case(c: &MapCase) -> bool {
    supported(&c.code)
        && !c
            .code
            .iter()
            .any(|i| matches!(i, Instr::Fold(_) | Instr::FoldBackward(_)))
}

/// A case without lists of children or list fields, whose code is
/// supported and folds nothing itself: a fold inside a region (over a
/// structure a field holds, or a nested field's structure) takes its
/// schedule from the group the executor is in, which the trace does not
/// follow.
fn simple_case(c: &CaseCode) -> bool {
    c.rec_lists.is_empty()
        && c.field_lists.is_empty()
        && supported(&c.code)
        && !c
            .code
            .iter()
            .any(|i| matches!(i, Instr::Fold(_) | Instr::FoldBackward(_)))
}

impl<T: Elem> Tracer<'_, T> {
    fn base(&mut self, src: BaseSrc) -> usize {
        match self.out.bases.iter().position(|&b| b == src) {
            Some(i) => i,
            None => {
                self.out.bases.push(src);
                self.out.bases.len() - 1
            }
        }
    }

    fn buf(&mut self, b: usize) -> Addr {
        Addr {
            base: self.base(BaseSrc::Buf(b)),
            off: 0,
        }
    }

    fn loc(&mut self, loc: Loc) -> Addr {
        match loc {
            Loc::Buf(b) => self.buf(b),
            Loc::Param(o) => Addr {
                base: self.base(BaseSrc::Params),
                off: o,
            },
            Loc::Input(i) => Addr {
                base: self.base(BaseSrc::Input(i)),
                off: 0,
            },
            Loc::View(v) => self.views[v].expect("a region's views are set before its code"),
        }
    }

    /// Records that `n` elements from `a` are used, for the buffers' extents.
    fn reach(&mut self, a: Addr, n: usize) {
        if let BaseSrc::Buf(b) = self.out.bases[a.base] {
            let e = &mut self.out.extents[b];
            *e = (*e).max(a.off + n);
        }
    }

    fn push(&mut self, a: Action) -> Result<(), Stop> {
        match &a {
            Action::Copy { src, dst, n } | Action::Add { src, dst, n, .. } => {
                self.reach(*src, *n);
                self.reach(*dst, *n);
            }
            Action::Zero { dst, n } => self.reach(*dst, *n),
            _ => {}
        }
        if self.keep {
            self.out.actions.push(a);
        }
        self.count += 1;
        if self.count > self.limits.actions {
            return Err(Stop::TooLarge);
        }
        Ok(())
    }

    fn copy(&mut self, src: Addr, dst: Addr, n: usize) -> Result<(), Stop> {
        if src == dst || n == 0 {
            return Ok(());
        }
        self.push(Action::Copy { src, dst, n })
    }

    fn add(&mut self, src: Addr, dst: Addr, n: usize, scale: f64) -> Result<(), Stop> {
        self.push(Action::Add { src, dst, n, scale })
    }

    fn code(&mut self, code: &[Instr], rows: usize) -> Result<(), Stop> {
        for ins in code {
            self.instr(ins, rows)?;
        }
        Ok(())
    }

    fn instr(&mut self, ins: &Instr, rows: usize) -> Result<(), Stop> {
        match ins {
            Instr::Elementwise {
                kernel,
                locs,
                steps,
                batched,
                ..
            } => {
                let r = if *batched { rows } else { 1 };
                let ptrs: Vec<Addr> = locs.iter().map(|&l| self.loc(l)).collect();
                // An operand shared by all rows (step 0) is as long as its
                // value, which the instruction that wrote it reached.
                for (&a, &s) in ptrs.iter().zip(steps) {
                    self.reach(a, r * s);
                }
                self.push(Action::Kernel {
                    f: self.kernels[*kernel],
                    ptrs,
                    rows: r,
                })
            }
            Instr::Gemm {
                m,
                k,
                n,
                a,
                b,
                c,
                c_len,
                c_buf,
                per_row,
            } => self.gemm(
                [*m, *k, *n].map(|d| dim(d, rows)),
                [*a, *b, *c],
                (*c_buf, dim(*c_len, rows)),
                per_row.map_or((1, [0; 3]), |s| (rows, s)),
            ),
            Instr::Row {
                op,
                ins,
                dst,
                out_size,
                batched,
            } => {
                let r = if *batched { rows } else { 1 };
                let mut ptrs: Vec<Addr> = ins.iter().map(|&(l, _, _)| self.loc(l)).collect();
                let d = self.buf(*dst);
                self.reach(d, r * out_size);
                ptrs.push(d);
                let op = ShimOp::Row {
                    op: op.clone(),
                    ins: ins.iter().map(|&(_, b, s)| (b, s)).collect(),
                    out_size: *out_size,
                };
                self.push(Action::Shim {
                    op: Arc::new(op),
                    ptrs,
                    rows: r,
                })
            }
            Instr::SumRows { src, size, dst } => {
                let (s, d) = (self.loc(*src), self.buf(*dst));
                self.push(Action::Zero { dst: d, n: *size })?;
                for r in 0..rows {
                    self.add(s.at(r * size), d, *size, 1.0)?;
                }
                Ok(())
            }
            Instr::SumCombine { a, b, sub, dst } => self.sum_combine(*a, *b, *sub, *dst, rows),
            Instr::Loss {
                kind,
                out,
                size,
                target,
                dst,
            } => self.loss(*kind, *out, *size, *target, None, *dst, rows),
            Instr::LossGrad {
                kind,
                out,
                size,
                target,
                seed,
                dst,
            } => self.loss(*kind, *out, *size, *target, Some(*seed), *dst, rows),
            Instr::Fold(f) => self.fold(f),
            Instr::FoldBackward(f) => self.fold_backward(f),
            Instr::Map(m) => self.map(m),
            Instr::MapBackward(m) => self.map_backward(m),
            Instr::Conv(c) => self.conv(c, rows),
            // A fused step traces as the steps it fuses: the expansion its
            // broadcast operand stands for, the product, then the kernel.
            Instr::Fused(f) => {
                if let Some(b) = &f.broadcast {
                    self.instr(&b.expand, rows)?;
                }
                self.instr(&f.gemm, rows)?;
                self.instr(&f.ew, rows)
            }
            _ => Err(Stop::Unsupported),
        }
    }

    fn gemm(
        &mut self,
        [m, k, n]: [usize; 3],
        [a, b, c]: [Mat; 3],
        (c_buf, c_len): (usize, usize),
        (count, steps): (usize, [usize; 3]),
    ) -> Result<(), Stop> {
        let work = (count * m * k * n) as u64;
        self.out.multiply_adds += work;
        if self.out.multiply_adds > self.limits.multiply_adds || work > self.limits.product {
            return Err(Stop::TooLarge);
        }
        let cb = self.buf(c_buf);
        self.reach(cb, c_len);
        let (pa, pb, pc) = (self.loc(a.loc), self.loc(b.loc), self.loc(c.loc));
        self.push(Action::Gemm {
            count,
            steps,
            m,
            k,
            n,
            a: pa,
            rsa: a.rs,
            csa: a.cs,
            b: pb,
            rsb: b.rs,
            csb: b.cs,
            c: pc,
            rsc: c.rs,
        })
    }

    /// `acc += scale · Σ_rows part`, as the executor's `sum_part`.
    fn sum_part(&mut self, part: Part, rows: usize, acc: Addr, scale: f64) -> Result<(), Stop> {
        let p = self.loc(part.loc);
        let n = part.size;
        match part.kind {
            PartKind::Batched => {
                for r in 0..rows {
                    self.add(p.at(r * n), acc, n, scale)?;
                }
                Ok(())
            }
            PartKind::Summed => self.add(p, acc, n, scale),
            PartKind::Uniform => {
                // The executor scales in the kernel's type.
                let s = (T::from_f64(scale) * T::from_f64(rows as f64)).to_f64();
                self.add(p, acc, n, s)
            }
        }
    }

    fn sum_combine(
        &mut self,
        a: Part,
        b: Part,
        sub: bool,
        dst: usize,
        rows: usize,
    ) -> Result<(), Stop> {
        let n = a.size;
        let d = self.buf(dst);
        let reads_dst = [a, b].iter().any(|p| p.loc == Loc::Buf(dst));
        let acc = if reads_dst {
            self.out.scratch.push(n);
            let s = self.out.scratch.len() - 1;
            Addr {
                base: self.base(BaseSrc::Scratch(s)),
                off: 0,
            }
        } else {
            d
        };
        self.push(Action::Zero { dst: acc, n })?;
        self.sum_part(a, rows, acc, 1.0)?;
        self.sum_part(b, rows, acc, if sub { -1.0 } else { 1.0 })?;
        self.copy(acc, d, n)
    }

    #[allow(clippy::too_many_arguments)]
    fn loss(
        &mut self,
        kind: LossKind,
        out: Loc,
        size: usize,
        target: TargetLoc,
        seed: Option<(Loc, bool)>,
        dst: usize,
        rows: usize,
    ) -> Result<(), Stop> {
        let mut ptrs = vec![self.loc(out)];
        let target = match target {
            TargetLoc::Class(i) => {
                ptrs.push(Addr {
                    base: self.base(BaseSrc::Classes(i)),
                    off: 0,
                });
                LossTarget::Class
            }
            TargetLoc::Tensor(l, batched) => {
                ptrs.push(self.loc(l));
                LossTarget::Tensor { batched }
            }
        };
        if let Some((l, _)) = seed {
            ptrs.push(self.loc(l));
        }
        let d = self.buf(dst);
        self.reach(d, rows * if seed.is_some() { size } else { 1 });
        ptrs.push(d);
        let op = ShimOp::Loss {
            kind,
            size,
            target,
            seed: seed.map(|s| s.1),
        };
        self.push(Action::Shim {
            op: Arc::new(op),
            ptrs,
            rows,
        })
    }

    /// Gathers a group's children and captures and points its field views,
    /// as the executor's `enter_group`.
    fn enter_group(
        &mut self,
        case: &CaseCode,
        g: &GroupData<T>,
        carrier: &[(usize, usize)],
        at: (usize, usize, usize),
    ) -> Result<(), Stop> {
        let (fold, level, group) = at;
        let n = g.len;
        let arity = case.rec_args.len();
        for (r, bufs) in case.rec_args.iter().enumerate() {
            for (&buf, &(cbuf, s)) in bufs.iter().zip(carrier) {
                let (src, dst) = (self.buf(cbuf), self.buf(buf));
                for i in 0..n {
                    let child = g.children[i * arity + r] as usize;
                    self.copy(src.at(child * s), dst.at(i * s), s)?;
                }
            }
        }
        for (field, &view) in case.field_views.iter().enumerate() {
            let src = BaseSrc::Field {
                fold,
                level,
                group,
                field,
            };
            self.views[view] = Some(Addr {
                base: self.base(src),
                off: 0,
            });
        }
        for &(loc, s, buf) in &case.captures {
            let (src, dst) = (self.loc(loc), self.buf(buf));
            for (i, &e) in g.examples.iter().enumerate() {
                self.copy(src.at(e as usize * s), dst.at(i * s), s)?;
            }
        }
        Ok(())
    }

    /// Writes `part` (for `n` rows) into rows `first..first + n` of `dst`.
    fn write_rows(&mut self, part: Part, dst: Addr, first: usize, n: usize) -> Result<(), Stop> {
        let s = part.size;
        let src = self.loc(part.loc);
        match part.kind {
            PartKind::Batched => self.copy(src, dst.at(first * s), n * s),
            _ => {
                for r in 0..n {
                    self.copy(src, dst.at((first + r) * s), s)?;
                }
                Ok(())
            }
        }
    }

    fn fold(&mut self, f: &FoldCode) -> Result<(), Stop> {
        let fd: &FoldData<T> = &self.batch.folds[f.id];
        for (l, level) in fd.levels.iter().enumerate() {
            for (gi, g) in level.iter().enumerate() {
                let case = &f.cases[g.ctor];
                self.enter_group(case, g, &f.carrier, (f.id, l, gi))?;
                self.point_mapped(case, g);
                self.code(&case.code, g.len)?;
                for (part, (cbuf, s)) in case.node_writes(&f.carrier, &f.saved) {
                    let dst = self.buf(cbuf);
                    self.reach(dst, fd.num_nodes * s);
                    self.write_rows(part, dst, g.first, g.len)?;
                }
            }
        }
        for (&(rbuf, s), &(cbuf, _)) in f.root.iter().zip(&f.carrier) {
            let (src, dst) = (self.buf(cbuf), self.buf(rbuf));
            for (e, &root) in fd.roots.iter().enumerate() {
                self.copy(src.at(root as usize * s), dst.at(e * s), s)?;
            }
        }
        Ok(())
    }

    fn fold_backward(&mut self, f: &FoldBackCode) -> Result<(), Stop> {
        let fd: &FoldData<T> = &self.batch.folds[f.id];
        for a in &f.acc {
            let n = if a.per_example {
                fd.roots.len() * a.size
            } else {
                a.size
            };
            let dst = self.buf(a.buf);
            self.push(Action::Zero { dst, n })?;
        }
        for (&part, &(cbuf, s)) in f.root_ct.iter().zip(&f.ct) {
            let (src, dst) = (self.loc(part.loc), self.buf(cbuf));
            self.reach(dst, fd.num_nodes * s);
            for (e, &root) in fd.roots.iter().enumerate() {
                let off = if part.kind == PartKind::Batched {
                    e * s
                } else {
                    0
                };
                self.copy(src.at(off), dst.at(root as usize * s), s)?;
            }
        }
        for (l, level) in fd.levels.iter().enumerate().rev() {
            for (gi, g) in level.iter().enumerate() {
                self.backward_group(f, g, (f.id, l, gi))?;
            }
        }
        Ok(())
    }

    fn backward_group(
        &mut self,
        f: &FoldBackCode,
        g: &GroupData<T>,
        at: (usize, usize, usize),
    ) -> Result<(), Stop> {
        let case = &f.cases[g.ctor];
        self.enter_group(case, g, &f.carrier, at)?;
        self.point_mapped(case, g);
        for (&view, &(cbuf, s)) in case.ct_views.iter().zip(&f.ct) {
            self.views[view] = Some(self.buf(cbuf).at(g.first * s));
        }
        let saved = case.saved_views.iter().map(|&(v, slot)| (v, f.saved[slot]));
        for (view, (cbuf, s)) in case
            .own_views
            .iter()
            .copied()
            .zip(f.carrier.iter().copied())
            .chain(saved)
        {
            self.views[view] = Some(self.buf(cbuf).at(g.first * s));
        }
        self.code(&case.code, g.len)?;
        let arity = case.rec_args.len();
        for r in 0..arity {
            for (&part, &(cbuf, s)) in case.result[r].iter().zip(&f.ct) {
                let (src, dst) = (self.loc(part.loc), self.buf(cbuf));
                for i in 0..g.len {
                    let child = g.children[i * arity + r] as usize;
                    let off = if part.kind == PartKind::Batched {
                        i * s
                    } else {
                        0
                    };
                    self.copy(src.at(off), dst.at(child * s), s)?;
                }
            }
        }
        for (j, &acc) in f.acc.iter().enumerate() {
            let part = case.result[arity + j][0];
            let dst = self.buf(acc.buf);
            if !acc.per_example {
                self.sum_part(part, g.len, dst, 1.0)?;
                continue;
            }
            let src = self.loc(part.loc);
            for (r, &e) in g.examples.iter().enumerate().take(g.len) {
                let off = if part.kind == PartKind::Batched {
                    r * acc.size
                } else {
                    0
                };
                self.add(src.at(off), dst.at(e as usize * acc.size), acc.size, 1.0)?;
            }
        }
        self.write_mapped_cts(case, g, arity + f.acc.len())
    }
}

fn dim(d: Dim, rows: usize) -> usize {
    if d.rows { d.fixed * rows } else { d.fixed }
}
