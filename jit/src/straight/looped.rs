//! Looped straight-line steps: a plan compiled once into one Cranelift
//! function that serves every batch shape.
//!
//! Where `trace.rs` unrolls a step over one batch's schedule, this walks
//! the plan itself and writes each fold as a loop over its groups (in
//! level order forward, levels reversed backward), each group's region
//! picked by its constructor, with the row counts, first nodes, children,
//! examples, ranks and field pointers read at run time from a schedule
//! table per fold (`table.rs`), and the batch's row count from the
//! argument block. Products whose sizes depend on the rows call the
//! runtime's `cdl_sgemm_batch` / `cdl_dgemm_batch` with those sizes as
//! run-time values, exactly as the executor calls them, so the numbers are
//! the executor's to the bit; everything else is as in `emit.rs` (copies
//! and sums written out, kernels and helpers called by address).

use std::sync::Arc;

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{self, AbiParam, InstBuilder, StackSlotData, StackSlotKind, types};
use cranelift_frontend::FunctionBuilder;

use crate::JitError;
use crate::codegen::KernelFn;
use crate::exec::Elem;
use crate::plan::*;

use super::emit::{StepCode, build, data_flags, straight_memmove};
use super::shim::shim_for;
use super::trace::{LossTarget, ShimOp};

mod fold;
mod map;
mod ops;
mod table;

pub(crate) use table::fill_table;

/// What a word of a looped step's argument block holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Slot {
    Params,
    Buf(usize),
    Input(usize),
    Classes(usize),
    /// A scratch buffer of the step (a sum that reads its own destination).
    Scratch(usize),
    /// The batch's row count.
    Rows,
    /// The schedule table of fold `id` (`table.rs`).
    Table(usize),
}

/// The layout of one fold's schedule table, fixed by the plan: how many
/// constructors and plain fields its regions have.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct TableShape {
    pub ctors: usize,
    pub fields: usize,
}

/// Words before the table's constructor counts: groups, nodes, roots and
/// the roots' pointer.
const HEAD: usize = 4;
/// Words of a group's record before its field pointers: constructor, first
/// node, length, children, examples, rank among its constructor's nodes.
const RECORD: usize = 6;

impl TableShape {
    /// The word at which the group records start.
    fn records(&self) -> usize {
        HEAD + self.ctors
    }

    /// The words of one group's record.
    fn width(&self) -> usize {
        RECORD + self.fields
    }
}

/// A plan's looped step.
pub(crate) struct LoopStep {
    pub code: StepCode,
    /// The argument block's words.
    pub slots: Vec<Slot>,
    /// The elements of each scratch buffer.
    pub scratch: Vec<usize>,
    /// Per fold id, its table's layout.
    pub tables: Vec<TableShape>,
}

/// Whether the looped step compiles `plan` (its instructions are the ones
/// `trace::supported` accepts, a map's backward sums only over everything,
/// and a region reads a map's fields over its own fold's schedule).
pub(crate) fn supported(plan: &Plan) -> bool {
    super::trace::supported(&plan.code)
        && plan.code.iter().all(|i| match i {
            Instr::MapBackward(m) => m.acc.iter().all(|a| !a.per_example),
            Instr::Fold(f) => own_maps(&f.cases, f.id),
            Instr::FoldBackward(f) => own_maps(&f.cases, f.id),
            _ => true,
        })
}

/// Whether every map field `cases` read was mapped over fold `id`.
fn own_maps(cases: &[CaseCode], id: usize) -> bool {
    cases.iter().flat_map(|c| &c.mapped).all(|m| m.fold == id)
}

/// The layout of each fold's table (`plan.folds.len()` entries).
fn table_shapes(plan: &Plan) -> Vec<TableShape> {
    let mut t = vec![TableShape::default(); plan.folds.len()];
    let mut widen = |id: usize, ctors: usize, fields: usize| {
        t[id].ctors = t[id].ctors.max(ctors);
        t[id].fields = t[id].fields.max(fields);
    };
    let views = |cases: &[CaseCode]| cases.iter().map(|c| c.field_views.len()).max();
    for i in &plan.code {
        match i {
            Instr::Fold(f) => widen(f.id, f.cases.len(), views(&f.cases).unwrap_or(0)),
            Instr::FoldBackward(f) => widen(f.id, f.cases.len(), views(&f.cases).unwrap_or(0)),
            Instr::Map(m) => {
                let fields = m.cases.iter().map(|c| c.fields.len()).max();
                widen(m.fold, m.cases.len(), fields.unwrap_or(0))
            }
            Instr::MapBackward(m) => {
                let fields = m.cases.iter().map(|c| c.fields.len()).max();
                widen(m.fold, m.cases.len(), fields.unwrap_or(0))
            }
            _ => {}
        }
    }
    t
}

/// Compiles `plan`'s looped step for element type `T` (the caller checked
/// `supported`).
pub(crate) fn compile<T: Elem>(plan: &Plan, kernels: &[KernelFn]) -> Result<LoopStep, JitError> {
    let tables = table_shapes(plan);
    let mut slots = Vec::new();
    let mut scratch = Vec::new();
    let code = build(|b, args, cx| {
        let mut lx = Lx::<T> {
            b,
            args,
            cx,
            kernels,
            slots: Vec::new(),
            scratch: Vec::new(),
            tables: tables.clone(),
            views: vec![None; plan.num_views],
            ops: Vec::new(),
            _t: std::marker::PhantomData,
        };
        let rows = lx.word(Slot::Rows);
        lx.code(&plan.code, rows);
        slots = lx.slots;
        scratch = lx.scratch;
        lx.ops
    })?;
    Ok(LoopStep {
        code,
        slots,
        scratch,
        tables,
    })
}

/// The looped emitter.
struct Lx<'a, 'b, T> {
    b: &'a mut FunctionBuilder<'b>,
    args: ir::Value,
    cx: ir::Value,
    kernels: &'a [KernelFn],
    slots: Vec<Slot>,
    scratch: Vec<usize>,
    tables: Vec<TableShape>,
    /// Each view's pointer, where the enclosing loop set it.
    views: Vec<Option<ir::Value>>,
    ops: Vec<Arc<ShimOp>>,
    _t: std::marker::PhantomData<T>,
}

impl<T: Elem> Lx<'_, '_, T> {
    fn elt() -> usize {
        std::mem::size_of::<T>()
    }

    fn int(&mut self, x: usize) -> ir::Value {
        self.b.ins().iconst(types::I64, x as i64)
    }

    /// The word `s` of the argument block.
    fn word(&mut self, s: Slot) -> ir::Value {
        let i = match self.slots.iter().position(|&x| x == s) {
            Some(i) => i,
            None => {
                self.slots.push(s);
                self.slots.len() - 1
            }
        };
        self.b
            .ins()
            .load(types::I64, data_flags(), self.args, (i * 8) as i32)
    }

    fn buf(&mut self, b: usize) -> ir::Value {
        self.word(Slot::Buf(b))
    }

    fn loc(&mut self, loc: Loc) -> ir::Value {
        match loc {
            Loc::Buf(b) => self.buf(b),
            Loc::Param(o) => {
                let p = self.word(Slot::Params);
                self.at(p, o)
            }
            Loc::Input(i) => self.word(Slot::Input(i)),
            Loc::View(v) => self.views[v].expect("a region's views are set before its code"),
        }
    }

    /// `p` plus `elems` elements.
    fn at(&mut self, p: ir::Value, elems: usize) -> ir::Value {
        self.b.ins().iadd_imm_s(p, (elems * Self::elt()) as i64)
    }

    /// `p` plus `i · size` elements, `i` a run-time count.
    fn row(&mut self, p: ir::Value, i: ir::Value, size: usize) -> ir::Value {
        let bytes = self.b.ins().imul_imm_s(i, (size * Self::elt()) as i64);
        self.b.ins().iadd(p, bytes)
    }

    /// `n` rows if `batched`, else one.
    fn rows_if(&mut self, batched: bool, rows: ir::Value) -> ir::Value {
        if batched { rows } else { self.int(1) }
    }

    /// A dimension's value for `rows` rows.
    fn dim(&mut self, d: Dim, rows: ir::Value) -> ir::Value {
        match d.rows {
            true => self.b.ins().imul_imm_s(rows, d.fixed as i64),
            false => self.int(d.fixed),
        }
    }

    fn call(&mut self, f: usize, params: &[ir::Type], args: &[ir::Value]) {
        let mut sig = ir::Signature::new(self.b.func.signature.call_conv);
        sig.params.extend(params.iter().map(|&t| AbiParam::new(t)));
        let sig = self.b.import_signature(sig);
        let callee = self.int(f);
        self.b.ins().call_indirect(sig, callee, args);
    }

    /// A stack array of the pointers `ptrs`.
    fn ptr_array(&mut self, ptrs: &[ir::Value]) -> ir::Value {
        let slot = self.b.create_sized_stack_slot(StackSlotData::new(
            StackSlotKind::ExplicitSlot,
            (8 * ptrs.len().max(1)) as u32,
            3,
        ));
        for (i, &v) in ptrs.iter().enumerate() {
            self.b
                .ins()
                .stack_store(types::I64, v, slot, (8 * i) as i32);
        }
        self.b.ins().stack_addr(types::I64, slot, 0)
    }

    /// Calls the helper of `op` on `ptrs` over `rows` rows.
    fn shim(&mut self, op: ShimOp, ptrs: &[ir::Value], rows: ir::Value) {
        let op = Arc::new(op);
        let p = self.ptr_array(ptrs);
        let o = self.int(Arc::as_ptr(&op) as usize);
        self.ops.push(op);
        let cx = self.cx;
        self.call(
            shim_for::<T>() as usize,
            &[types::I64; 4],
            &[o, p, cx, rows],
        );
    }

    /// Runs `body(i)` for `i` in `0..n`.
    fn for_range(&mut self, n: ir::Value, mut body: impl FnMut(&mut Self, ir::Value)) {
        let head = self.b.create_block();
        let inner = self.b.create_block();
        let exit = self.b.create_block();
        let i = self.b.declare_var(types::I64);
        let zero = self.int(0);
        self.b.def_var(i, zero);
        self.b.ins().jump(head, &[]);
        self.b.switch_to_block(head);
        let iv = self.b.use_var(i);
        let more = self.b.ins().icmp(IntCC::UnsignedLessThan, iv, n);
        self.b.ins().brif(more, inner, &[], exit, &[]);
        self.b.switch_to_block(inner);
        body(self, iv);
        let iv = self.b.use_var(i);
        let next = self.b.ins().iadd_imm_s(iv, 1);
        self.b.def_var(i, next);
        self.b.ins().jump(head, &[]);
        self.b.switch_to_block(exit);
    }

    /// Runs `body` when `cond` (an `i8` truth value) holds.
    fn when(&mut self, cond: ir::Value, body: impl FnOnce(&mut Self)) {
        let then = self.b.create_block();
        let exit = self.b.create_block();
        self.b.ins().brif(cond, then, &[], exit, &[]);
        self.b.switch_to_block(then);
        body(self);
        self.b.ins().jump(exit, &[]);
        self.b.switch_to_block(exit);
    }

    fn code(&mut self, code: &[Instr], rows: ir::Value) {
        for ins in code {
            self.instr(ins, rows);
        }
    }

    fn instr(&mut self, ins: &Instr, rows: ir::Value) {
        match ins {
            Instr::Elementwise {
                kernel,
                locs,
                batched,
                ..
            } => {
                let r = self.rows_if(*batched, rows);
                let ptrs: Vec<ir::Value> = locs.iter().map(|&l| self.loc(l)).collect();
                let p = self.ptr_array(&ptrs);
                let f = self.kernels[*kernel] as usize;
                self.call(f, &[types::I64, types::I64], &[p, r]);
            }
            Instr::Gemm {
                m,
                k,
                n,
                a,
                b,
                c,
                per_row,
                ..
            } => self.gemm([*m, *k, *n], [*a, *b, *c], *per_row, rows),
            Instr::Row {
                op,
                ins,
                dst,
                out_size,
                batched,
            } => {
                let r = self.rows_if(*batched, rows);
                let mut ptrs: Vec<ir::Value> = ins.iter().map(|&(l, _, _)| self.loc(l)).collect();
                ptrs.push(self.buf(*dst));
                let op = ShimOp::Row {
                    op: op.clone(),
                    ins: ins.iter().map(|&(_, b, s)| (b, s)).collect(),
                    out_size: *out_size,
                };
                self.shim(op, &ptrs, r);
            }
            Instr::SumRows { src, size, dst } => {
                let (s, d) = (self.loc(*src), self.buf(*dst));
                self.zero(d, *size);
                self.for_range(rows, |lx, r| {
                    let p = lx.row(s, r, *size);
                    lx.add(p, d, *size, None);
                });
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
            Instr::Conv(c) => {
                let ins = match c.kind {
                    ConvKind::Forward => [c.w.loc, c.x],
                    ConvKind::InputGrad => [c.w.loc, c.y],
                    ConvKind::WeightGrad => [c.x, c.y],
                };
                let mut ptrs: Vec<ir::Value> = ins.iter().map(|&l| self.loc(l)).collect();
                ptrs.push(self.buf(c.dst));
                self.shim(ShimOp::Conv(Box::new((**c).clone())), &ptrs, rows);
            }
            Instr::Fold(f) => self.fold(f),
            Instr::FoldBackward(f) => self.fold_backward(f),
            Instr::Map(m) => self.map(m),
            Instr::MapBackward(m) => self.map_backward(m),
            // As in the trace: the expansion, the product, the kernel.
            Instr::Fused(f) => {
                if let Some(b) = &f.broadcast {
                    self.instr(&b.expand, rows);
                }
                self.instr(&f.gemm, rows);
                self.instr(&f.ew, rows);
            }
            _ => unreachable!("`supported` accepts no other instruction"),
        }
    }

    /// A product (or `rows` of them) with run-time sizes, as the
    /// executor's `Elem::gemm` call.
    fn gemm(
        &mut self,
        dims: [Dim; 3],
        [a, b, c]: [Mat; 3],
        per_row: Option<[usize; 3]>,
        rows: ir::Value,
    ) {
        let [m, k, n] = dims.map(|d| self.dim(d, rows));
        let (count, steps) = match per_row {
            Some(s) => (rows, s),
            None => (self.int(1), [0; 3]),
        };
        let f = if T::F64 {
            cdlc_runtime::gemm::cdl_dgemm_batch as *const () as usize
        } else {
            cdlc_runtime::gemm::cdl_sgemm_batch as *const () as usize
        };
        let fl = if T::F64 { types::F64 } else { types::F32 };
        let float = |lx: &mut Self, x: f64| match T::F64 {
            true => lx.b.ins().f64const(x),
            false => lx.b.ins().f32const(x as f32),
        };
        let mut args = vec![count];
        args.extend(steps.map(|s| self.int(s)));
        args.extend([m, k, n]);
        args.push(float(self, 1.0));
        args.push(self.loc(a.loc));
        args.extend([a.rs, a.cs].map(|s| self.int(s)));
        args.push(self.loc(b.loc));
        args.extend([b.rs, b.cs].map(|s| self.int(s)));
        args.push(float(self, 0.0));
        args.push(self.loc(c.loc));
        args.extend([c.rs, 1].map(|s| self.int(s)));
        let i = types::I64;
        let params = [i, i, i, i, i, i, i, fl, i, i, i, i, i, i, fl, i, i, i];
        self.call(f, &params, &args);
    }

    /// `acc += scale · Σ_rows part`, as the executor's `sum_part`.
    fn sum_part(&mut self, part: Part, rows: ir::Value, acc: ir::Value, scale: f64) {
        let p = self.loc(part.loc);
        let n = part.size;
        match part.kind {
            PartKind::Batched => self.for_range(rows, |lx, r| {
                let src = lx.row(p, r, n);
                lx.add(src, acc, n, Some(ops::Scale::Const(scale)));
            }),
            PartKind::Summed => self.add(p, acc, n, Some(ops::Scale::Const(scale))),
            PartKind::Uniform => self.add(p, acc, n, Some(ops::Scale::Rows(scale, rows))),
        }
    }

    fn sum_combine(&mut self, a: Part, b: Part, sub: bool, dst: usize, rows: ir::Value) {
        let n = a.size;
        let d = self.buf(dst);
        let reads_dst = [a, b].iter().any(|p| p.loc == Loc::Buf(dst));
        let acc = match reads_dst {
            true => {
                self.scratch.push(n);
                self.word(Slot::Scratch(self.scratch.len() - 1))
            }
            false => d,
        };
        self.zero(acc, n);
        self.sum_part(a, rows, acc, 1.0);
        self.sum_part(b, rows, acc, if sub { -1.0 } else { 1.0 });
        if reads_dst {
            self.copy(acc, d, n);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn loss(
        &mut self,
        kind: cdlc_ir::LossKind,
        out: Loc,
        size: usize,
        target: TargetLoc,
        seed: Option<(Loc, bool)>,
        dst: usize,
        rows: ir::Value,
    ) {
        let mut ptrs = vec![self.loc(out)];
        let target = match target {
            TargetLoc::Class(i) => {
                ptrs.push(self.word(Slot::Classes(i)));
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
        ptrs.push(self.buf(dst));
        let op = ShimOp::Loss {
            kind,
            size,
            target,
            seed: seed.map(|s| s.1),
        };
        self.shim(op, &ptrs, rows);
    }
}
