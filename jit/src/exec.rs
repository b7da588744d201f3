//! The executor: runs a plan's instructions over a prepared batch.
//!
//! Buffers are owned here and only grow (a batch with more rows or nodes
//! than any before); in steady state a step allocates nothing. Recursion
//! ops walk their schedule (fold levels, unfold steps) and run their
//! regions with the row count of each group or step, pointing the regions'
//! argument views at the right rows.

use cdlc_ir::LossKind;
use cdlc_ir::example_error::ExampleError;
use cdlc_runtime::float::Float;

use crate::JitError;
use crate::batch::{Batch, FoldData, GroupData};
use crate::codegen::KernelFn;
use crate::plan::*;
use crate::rowops::{self, RowTarget};
use cdlc_runtime::threads::{self, Kind, Split};
use in_place::InPlace;

pub(crate) mod conv;
mod epilogue;
mod in_place;
mod map;
mod nested;
mod rose;

/// An element type a kernel computes in.
pub trait Elem: Float + cdlc_runtime::gemm::GemmScalar + sealed::Sealed {
    /// `count` products `C_r = alpha A_r B_r + beta C_r` with strides, in
    /// this type, `A_r` being `r * steps[0]` elements after `a` and so on;
    /// summed into one C when `steps[2] == 0`.
    ///
    /// # Safety
    ///
    /// As for the runtime's `cdl_sgemm_batch`.
    #[doc(hidden)]
    #[allow(clippy::too_many_arguments)]
    unsafe fn gemm(
        count: usize,
        steps: [usize; 3],
        m: usize,
        k: usize,
        n: usize,
        a: *const Self,
        rsa: usize,
        csa: usize,
        b: *const Self,
        rsb: usize,
        csb: usize,
        c: *mut Self,
        rsc: usize,
    );
    /// Whether this is `f64`.
    #[doc(hidden)]
    const F64: bool;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

macro_rules! impl_elem {
    ($t:ty, $f:path, $is64:expr) => {
        impl Elem for $t {
            const F64: bool = $is64;
            unsafe fn gemm(
                count: usize,
                steps: [usize; 3],
                m: usize,
                k: usize,
                n: usize,
                a: *const Self,
                rsa: usize,
                csa: usize,
                b: *const Self,
                rsb: usize,
                csb: usize,
                c: *mut Self,
                rsc: usize,
            ) {
                let [sa, sb, sc] = steps.map(|s| s as i64);
                // SAFETY: forwarded from the caller.
                unsafe {
                    $f(
                        count as i64,
                        sa,
                        sb,
                        sc,
                        m as i64,
                        k as i64,
                        n as i64,
                        1.0,
                        a,
                        rsa as i64,
                        csa as i64,
                        b,
                        rsb as i64,
                        csb as i64,
                        0.0,
                        c,
                        rsc as i64,
                        1,
                    )
                }
            }
        }
    };
}

impl_elem!(f32, cdlc_runtime::gemm::cdl_sgemm_batch, false);
impl_elem!(f64, cdlc_runtime::gemm::cdl_dgemm_batch, true);

/// Buffers and views of one plan.
pub(crate) struct State<T> {
    pub bufs: Vec<Vec<T>>,
    pub views: Vec<*mut T>,
    /// Per buffer, where a fold region's buffer is placed for the group
    /// being run (null: in its own storage; `exec/in_place.rs`).
    pub alias: Vec<*mut T>,
    /// The buffers placed now.
    pub aliased: Vec<usize>,
    /// How many times a buffer was placed since the last reset.
    pub placed: u64,
    pub correct: usize,
    /// Room for a sum that cannot be formed in place (`SumCombine`).
    pub scratch: Vec<T>,
    /// Per unfold id, the lengths of a list of children
    /// (`UnfoldInfo::Children`) in the group being run, one per node.
    pub local_lens: Vec<Option<Vec<usize>>>,
    /// Per fold id, the schedule of a fold over a list of children, made
    /// when it runs and kept for its backward in the same region.
    pub local_folds: Vec<Option<FoldData<T>>>,
    /// Per fold id over which a `map` ran, each group's rank among its
    /// constructor's nodes, indexed by the group's first node.
    pub ctor_rank: Vec<Vec<u32>>,
    /// Per fold id, the (level, group) of its schedule being run, where a
    /// fold over a nested field's structure finds that structure's.
    pub running: Vec<Option<(usize, usize)>>,
    /// The multiply-adds of the products run since the last reset (the
    /// start of a run): `m · k · n` per product.
    pub multiply_adds: u64,
}

impl<T: Elem> State<T> {
    pub fn new(plan: &Plan) -> State<T> {
        let mut bufs = vec![Vec::new(); plan.num_bufs];
        for (b, data) in &plan.init {
            bufs[*b] = data.iter().map(|&x| T::from_f64(x)).collect();
        }
        State {
            bufs,
            views: vec![std::ptr::null_mut(); plan.num_views],
            alias: vec![std::ptr::null_mut(); plan.num_bufs],
            aliased: Vec::new(),
            placed: 0,
            correct: 0,
            scratch: Vec::new(),
            local_lens: vec![None; plan.unfolds.len()],
            local_folds: (0..plan.folds.len()).map(|_| None).collect(),
            ctor_rank: vec![Vec::new(); plan.folds.len()],
            running: vec![None; plan.folds.len()],
            multiply_adds: 0,
        }
    }
}

/// One run of a plan's code.
pub(crate) struct Run<'a, T> {
    pub st: &'a mut State<T>,
    pub params: *const T,
    pub batch: &'a Batch<T>,
    pub kernels: &'a [KernelFn],
    /// Per fold over a structure a field holds (`FoldInfo::nested_in`), its
    /// schedule in the enclosing fold's group being run; per fold that has
    /// run, the schedule it ran over last (so that the nested fields of a
    /// nested structure's group being run are found in its own schedule:
    /// a stem's tree of stems).
    pub held: Vec<Option<&'a FoldData<T>>>,
    /// Whether fold regions use the carrier's rows in place
    /// (`exec/in_place.rs`).
    pub in_place: bool,
}

/// Where to cut `rows` rows of `size` numbers each between two threads,
/// and the decision to report the work's time to: in the middle when there
/// is enough work that the hand-over (well under a microsecond) could pay
/// and `threads::decide` splits `kind` now, else after the last row (all
/// on this thread, and no decision for work too small to split).
fn split_rows(kind: Kind, rows: usize, size: usize) -> (usize, Option<Split>) {
    /// Numbers touched, over all operands, below which a kernel stays on
    /// one thread. Steps per second with two threads at 2¹⁵ / 2¹³ (products
    /// split from 2¹⁸ multiply-adds): W2 652–664 / 705–714, W4 4330–4560 /
    /// 4710–4740, W5 830–875 / 875–885, W1 2810–2990 / 2720–2830.
    const SPLIT_NUMBERS: usize = 1 << 13;
    if rows < 2 || rows.saturating_mul(size) < SPLIT_NUMBERS {
        return (rows, None);
    }
    let d = threads::decide(kind);
    (if d.split() { rows / 2 } else { rows }, Some(d))
}

/// Reports a piece of `rows` rows of `size` numbers to its decision.
fn done(decision: Option<Split>, rows: usize, size: usize) {
    if let Some(d) = decision {
        d.done(rows.saturating_mul(size));
    }
}

/// The steps an unfold runs and the rows of each: a flat unfold's steps
/// are independent and its sequences laid out `[steps, rows, size]`, so it
/// runs one step over `steps x rows` rows.
fn unfold_steps(flat: bool, steps: usize, rows: usize) -> (usize, usize) {
    if flat {
        (usize::from(steps > 0), steps * rows)
    } else {
        (steps, rows)
    }
}

fn dim(d: Dim, rows: usize) -> usize {
    if d.rows { d.fixed * rows } else { d.fixed }
}

impl<'a, T: Elem> Run<'a, T> {
    fn ensure(&mut self, buf: usize, n: usize) {
        let b = &mut self.st.bufs[buf];
        if b.len() < n {
            b.resize(n, T::ZERO);
        }
    }

    /// Per case of a fold, where its regions may read and write carrier
    /// rows in place, when they may at all: a fold over the batch's
    /// structures, not over a computed sequence or a nested field's
    /// structures (`exec/in_place.rs`).
    fn placements(
        &self,
        cases: &[CaseCode],
        elems: Option<&SeqElems>,
        nested: Option<&NestedSrc>,
    ) -> Option<Vec<InPlace>> {
        (self.in_place && elems.is_none() && nested.is_none())
            .then(|| cases.iter().map(InPlace::of).collect())
    }

    fn ptr(&mut self, loc: Loc) -> *mut T {
        match loc {
            Loc::Buf(b) => match self.st.alias[b] {
                p if p.is_null() => self.st.bufs[b].as_mut_ptr(),
                p => p,
            },
            // Parameters and inputs are only read through these pointers.
            Loc::Param(o) => self.params.wrapping_add(o) as *mut T,
            Loc::Input(i) => self.batch.tensors[i].as_ptr() as *mut T,
            Loc::View(v) => self.st.views[v],
        }
    }

    /// Runs `code` over `rows` rows.
    pub fn code(&mut self, code: &[Instr], rows: usize) -> Result<(), JitError> {
        for ins in code {
            self.instr(ins, rows)?;
        }
        Ok(())
    }

    fn instr(&mut self, ins: &Instr, rows: usize) -> Result<(), JitError> {
        match ins {
            Instr::Elementwise {
                kernel,
                locs,
                steps,
                n_out,
                batched,
            } => {
                let r = if *batched { rows } else { 1 };
                let n_in = locs.len() - n_out;
                for (&l, &s) in locs[n_in..].iter().zip(&steps[n_in..]) {
                    if let Loc::Buf(b) = l {
                        self.ensure(b, r * s);
                    }
                }
                // Both halves' pointers, in one array when they fit.
                let mut ptrs = [std::ptr::null_mut::<u8>(); 64];
                let mut heap = Vec::new();
                let p: &mut [*mut u8] = if 2 * locs.len() <= ptrs.len() {
                    &mut ptrs[..2 * locs.len()]
                } else {
                    heap.resize(2 * locs.len(), std::ptr::null_mut());
                    &mut heap
                };
                let (p, q) = p.split_at_mut(locs.len());
                for (slot, &l) in p.iter_mut().zip(locs) {
                    *slot = self.ptr(l) as *mut u8;
                }
                let f = self.kernels[*kernel];
                let size = steps.iter().sum();
                let (h, decision) = split_rows(Kind::Elementwise, r, size);
                for ((slot, &x), &s) in q.iter_mut().zip(p.iter()).zip(steps) {
                    *slot = x.wrapping_add(h * s * std::mem::size_of::<T>());
                }
                let (p, q) = (&*p, &*q);
                // SAFETY: every pointer covers `r` rows of its operand's
                // size (buffers were ensured, inputs are batch-sized); the
                // halves write disjoint rows. `plan::verify` checks the
                // extents and steps (P003, P004, P008) and that outputs
                // share no storage with inputs or each other (P005, P006).
                unsafe {
                    match h < r {
                        true => threads::join(
                            || f(p.as_ptr(), h as i64),
                            || f(q.as_ptr(), (r - h) as i64),
                        ),
                        false => f(p.as_ptr(), r as i64),
                    }
                };
                done(decision, r, size);
            }
            Instr::Gemm {
                m,
                k,
                n,
                a,
                b,
                c,
                c_buf,
                c_len,
                per_row,
            } => {
                let (m, k, n) = (dim(*m, rows), dim(*k, rows), dim(*n, rows));
                self.ensure(*c_buf, dim(*c_len, rows));
                let (pa, pb, pc) = (self.ptr(a.loc), self.ptr(b.loc), self.ptr(c.loc));
                let (count, steps) = match per_row {
                    None => (1, [0; 3]),
                    Some(steps) => (rows, *steps),
                };
                self.st.multiply_adds += (count * m * k * n) as u64;
                // SAFETY: the lowering sized every operand for these
                // dimensions and strides, row by row; a zero step for C
                // sums the rows' products (zero rows: C = 0). `plan::verify`
                // checks each operand's last element against its buffer
                // (P003, P004), C against `c_len` and apart from A and B
                // (P005).
                unsafe {
                    T::gemm(
                        count, steps, m, k, n, pa, a.rs, a.cs, pb, b.rs, b.cs, pc, c.rs,
                    )
                }
            }
            Instr::Fused(f) => self.fused(f, rows)?,
            Instr::Row {
                op,
                ins: inputs,
                dst,
                out_size,
                batched,
            } => {
                let r = if *batched { rows } else { 1 };
                self.ensure(*dst, r * out_size);
                const MAX_INS: usize = 4;
                if inputs.len() > MAX_INS {
                    return Err(JitError::Internal("a row op with too many inputs".into()));
                }
                let mut ptrs = [(std::ptr::null::<T>(), false, 0usize); MAX_INS];
                for (slot, &(l, b, s)) in ptrs.iter_mut().zip(inputs) {
                    *slot = (self.ptr(l) as *const T, b, s);
                }
                let ptrs = &ptrs[..inputs.len()];
                let out = self.st.bufs[*dst].as_mut_ptr();
                let out_size = *out_size;
                let each = |from: usize, to: usize| {
                    let mut slices: [&[T]; MAX_INS] = [&[]; MAX_INS];
                    for row in from..to {
                        for (sl, &(p, b, s)) in slices.iter_mut().zip(ptrs) {
                            let off = if b { row * s } else { 0 };
                            // SAFETY: inputs hold `rows x s` (or `s`)
                            // numbers (`plan::verify`: P003, P004).
                            *sl = unsafe { std::slice::from_raw_parts(p.add(off), s) };
                        }
                        // SAFETY: `dst` was ensured to `r x out_size`; the
                        // two ranges of rows are disjoint; `dst` is no input
                        // (`plan::verify`: P005) and there are at most
                        // `MAX_INS` inputs (P008, the op's arity).
                        let o = unsafe {
                            std::slice::from_raw_parts_mut(out.add(row * out_size), out_size)
                        };
                        rowops::row(op, &slices[..ptrs.len()], o);
                    }
                };
                let size = out_size
                    + ptrs
                        .iter()
                        .map(|&(_, b, s)| if b { s } else { 0 })
                        .sum::<usize>();
                let (h, decision) = split_rows(Kind::Rows, r, size);
                // SAFETY: the halves write disjoint rows of `dst` and read
                // their inputs only (`plan::verify`: P005).
                match h < r {
                    true => unsafe { threads::join(|| each(0, h), || each(h, r)) },
                    false => each(0, r),
                }
                done(decision, r, size);
            }
            Instr::SumRows { src, size, dst } => {
                let n = *size;
                self.ensure(*dst, n);
                let p = self.ptr(*src) as *const T;
                // SAFETY: a batched tensor holds `rows x n` numbers; `dst`
                // is a different buffer (`plan::verify`: P003, P004, P005).
                let x = unsafe { std::slice::from_raw_parts(p, rows * n) };
                let acc = &mut self.st.bufs[*dst][..n];
                acc.fill(T::ZERO);
                for row in x.chunks_exact(n.max(1)) {
                    for (a, &v) in acc.iter_mut().zip(row) {
                        *a += v;
                    }
                }
            }
            Instr::SumCombine { a, b, sub, dst } => {
                let n = a.size;
                self.ensure(*dst, n);
                // Summed in place unless a part reads `dst` itself (a
                // fold's running sum, whose buffer this level's result
                // reuses); then in a scratch buffer kept between steps.
                let d = self.st.bufs[*dst].as_ptr_range();
                let reads_dst = [*a, *b].iter().any(|part| {
                    let p = self.ptr(part.loc) as *const T;
                    let len = match part.kind {
                        PartKind::Batched => rows * part.size,
                        _ => part.size,
                    };
                    p < d.end && p.wrapping_add(len) > d.start
                });
                let mut acc = match reads_dst {
                    true => std::mem::take(&mut self.st.scratch),
                    false => std::mem::take(&mut self.st.bufs[*dst]),
                };
                acc.resize(acc.len().max(n), T::ZERO);
                acc[..n].fill(T::ZERO);
                self.sum_part(*a, rows, &mut acc[..n], T::ONE);
                let s = if *sub { -T::ONE } else { T::ONE };
                self.sum_part(*b, rows, &mut acc[..n], s);
                match reads_dst {
                    true => {
                        self.st.bufs[*dst][..n].copy_from_slice(&acc[..n]);
                        self.st.scratch = acc;
                    }
                    false => self.st.bufs[*dst] = acc,
                }
            }
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
            Instr::SeqLoss {
                kind,
                out,
                size,
                unfold,
                target,
                dst,
            } => self.seq_loss(*kind, *out, *size, *unfold, *target, None, *dst, rows)?,
            Instr::SeqLossGrad {
                kind,
                out,
                size,
                unfold,
                target,
                seed,
                dst,
            } => self.seq_loss(
                *kind,
                *out,
                *size,
                *unfold,
                *target,
                Some(*seed),
                *dst,
                rows,
            )?,
            Instr::SeqSum {
                unfold,
                size,
                terms,
                out,
            } => self.seq_sum(*unfold, *size, terms, *out),
            Instr::Fold(f) => self.fold(f)?,
            Instr::FoldBackward(f) => self.fold_backward(f)?,
            Instr::Unfold(u) => self.unfold(u, rows)?,
            Instr::UnfoldBackward(u) => self.unfold_backward(u)?,
            Instr::Map(m) => self.map(m)?,
            Instr::MapBackward(m) => self.map_backward(m)?,
            Instr::Conv(c) => self.conv(c, rows)?,
        }
        Ok(())
    }

    /// Adds `scale · Σ_rows part` to `acc`.
    fn sum_part(&mut self, part: Part, rows: usize, acc: &mut [T], scale: T) {
        let p = self.ptr(part.loc) as *const T;
        let n = part.size;
        let rows = match part.kind {
            PartKind::Batched => rows,
            PartKind::Summed => 1,
            PartKind::Uniform => {
                // SAFETY: a uniform part holds `n` numbers (`plan::verify`
                // reads every part by its kind: P003, P004).
                let u = unsafe { std::slice::from_raw_parts(p, n) };
                rowops::add_scaled(acc, u, scale * T::from_f64(rows as f64));
                return;
            }
        };
        for r in 0..rows {
            // SAFETY: a batched part holds `rows x n` numbers
            // (`plan::verify`: P003, P004).
            let row = unsafe { std::slice::from_raw_parts(p.add(r * n), n) };
            rowops::add_scaled(acc, row, scale);
        }
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
    ) {
        let out_size = if seed.is_some() { size } else { 1 };
        self.ensure(dst, rows * out_size);
        let po = self.ptr(out) as *const T;
        let pt = match target {
            TargetLoc::Tensor(l, b) => Some((self.ptr(l) as *const T, b)),
            TargetLoc::Class(_) => None,
        };
        let ps = seed.map(|(l, b)| (self.ptr(l) as *const T, b));
        let pd = self.st.bufs[dst].as_mut_ptr();
        let mut correct = 0;
        for r in 0..rows {
            // SAFETY: outputs hold `rows x size`, targets likewise;
            // `dst` is neither (`plan::verify`: P003, P004, P005).
            let o = unsafe { std::slice::from_raw_parts(po.add(r * size), size) };
            let t = match (target, pt) {
                (TargetLoc::Class(i), _) => {
                    let c = self.batch.classes[i][r] as usize;
                    if rowops::argmax(o) == c {
                        correct += 1;
                    }
                    RowTarget::Class(c)
                }
                (_, Some((p, b))) => RowTarget::Tensor(unsafe {
                    std::slice::from_raw_parts(p.add(if b { r * size } else { 0 }), size)
                }),
                _ => unreachable!("a tensor target has a location"),
            };
            match ps {
                None => {
                    let l = rowops::loss(kind, o, t, None);
                    // SAFETY: `dst` holds `rows` numbers (ensured above).
                    unsafe { *pd.add(r) = l };
                }
                Some((p, b)) => {
                    // SAFETY: the seed holds one number (per row if
                    // batched; `plan::verify`: P003, P004); `dst` holds
                    // `rows x size` and is not the output (P005).
                    let s = unsafe { *p.add(if b { r } else { 0 }) };
                    let g = unsafe { std::slice::from_raw_parts_mut(pd.add(r * size), size) };
                    rowops::loss(kind, o, t, Some((g, s)));
                }
            }
        }
        if seed.is_none() && matches!(target, TargetLoc::Class(_)) {
            self.st.correct += correct;
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn seq_loss(
        &mut self,
        kind: LossKind,
        out: usize,
        size: usize,
        unfold: usize,
        target: usize,
        seed: Option<(Loc, bool)>,
        dst: usize,
        rows: usize,
    ) -> Result<(), JitError> {
        let u = &self.batch.unfolds[unfold];
        let steps = u.steps;
        let lens = &self.batch.seq_lens[target];
        // The driver runs the examples one by one to name the one whose
        // lengths differ.
        if let Some((&outputs, &targets)) = u.lens.iter().zip(lens).find(|(l, t)| l != t) {
            return Err(JitError::Data(ExampleError::TargetLength {
                outputs,
                targets,
            }));
        }
        let is_class = self.batch.tensors[target].is_empty();
        let out_len = if seed.is_some() {
            steps * rows * size
        } else {
            rows
        };
        self.ensure(dst, out_len);
        let ps = seed.map(|(l, b)| (self.ptr(l) as *const T, b));
        let po = self.st.bufs[out].as_ptr();
        let pd = self.st.bufs[dst].as_mut_ptr();
        if seed.is_some() {
            self.st.bufs[dst][..out_len].fill(T::ZERO);
        }
        let lens = &self.batch.unfolds[unfold].lens;
        for (b, &len) in lens.iter().enumerate() {
            let n = T::from_f64(len.max(1) as f64);
            let mut total = T::ZERO;
            let s = match ps {
                // SAFETY: the seed holds one number (per row if batched;
                // `plan::verify`: P003, P004).
                Some((p, batched)) => unsafe { *p.add(if batched { b } else { 0 }) },
                None => T::ONE,
            };
            for t in 0..len {
                let off = (t * rows + b) * size;
                // SAFETY: the output sequence holds `steps x rows x size`
                // (`plan::verify`: P003, P004 over the unfold's steps).
                let o = unsafe { std::slice::from_raw_parts(po.add(off), size) };
                let y = if is_class {
                    RowTarget::Class(self.batch.classes[target][t * rows + b] as usize)
                } else {
                    RowTarget::Tensor(&self.batch.tensors[target][(t * rows + b) * size..][..size])
                };
                match ps {
                    None => total += rowops::loss(kind, o, y, None),
                    Some(_) => {
                        // SAFETY: `dst` holds `steps x rows x size` (ensured
                        // above) and is not the output (`plan::verify`: P005).
                        let g = unsafe { std::slice::from_raw_parts_mut(pd.add(off), size) };
                        rowops::loss(kind, o, y, Some((g, s / n)));
                    }
                }
            }
            if ps.is_none() {
                // SAFETY: `dst` holds `rows` numbers.
                unsafe { *pd.add(b) = total / n };
            }
        }
        Ok(())
    }

    /// Writes `part` (for `n` rows) into rows `first..first + n` of `dst`.
    fn write_rows(&mut self, part: Part, dst: *mut T, first: usize, n: usize) {
        let s = part.size;
        let src = self.ptr(part.loc) as *const T;
        // SAFETY: `dst` holds at least `first + n` rows (the schedule); a
        // batched part holds `n` rows, a uniform one a single row, of the
        // size of `dst`'s rows (`plan::verify`: P003, P004, P008 on a
        // region's results). Copies may overlap (a region that yields its
        // argument), hence `copy`.
        unsafe {
            match part.kind {
                // Not when the region wrote the rows in place.
                PartKind::Batched if src == dst.add(first * s) => {}
                PartKind::Batched => std::ptr::copy(src, dst.add(first * s), n * s),
                _ => {
                    for r in 0..n {
                        std::ptr::copy(src, dst.add((first + r) * s), s);
                    }
                }
            }
        }
    }

    /// Adds a region's contribution for `n` rows to an accumulator.
    fn accumulate(&mut self, part: Part, acc: Acc, n: usize, examples: Option<&[u32]>) {
        let s = acc.size;
        if !acc.per_example {
            let mut tmp = std::mem::take(&mut self.st.bufs[acc.buf]);
            self.sum_part(part, n, &mut tmp[..s], T::ONE);
            self.st.bufs[acc.buf] = tmp;
            return;
        }
        let src = self.ptr(part.loc) as *const T;
        let dst = self.st.bufs[acc.buf].as_mut_ptr();
        for r in 0..n {
            let e = examples.map_or(r, |ex| ex[r] as usize);
            let off = if part.kind == PartKind::Batched {
                r * s
            } else {
                0
            };
            for i in 0..s {
                // SAFETY: the accumulator holds `batch x s`, the part
                // `n x s` (`plan::verify`: P003, P004, P008 on a region's
                // results); `e` is an example of the batch (the schedule).
                unsafe { *dst.add(e * s + i) += *src.add(off + i) };
            }
        }
    }

    /// Gathers the children's carriers and sets the field views of a group.
    /// Children whose carriers are consecutive rows are read there when
    /// `in_place` allows it (`exec/in_place.rs`).
    fn enter_group(
        &mut self,
        case: &CaseCode,
        g: &GroupData<T>,
        carrier: &[(usize, usize)],
        elems: Option<&SeqElems>,
        in_place: Option<&InPlace>,
    ) {
        let n = g.len;
        let arity = case.rec_args.len();
        for (r, bufs) in case.rec_args.iter().enumerate() {
            let first = in_place.and_then(|_| in_place::consecutive(g, arity, r));
            for (c, (&buf, &(cbuf, s))) in bufs.iter().zip(carrier).enumerate() {
                // Sized even when placed: the straight-line steps run only
                // once the executor's buffers hold the batch.
                self.ensure(buf, n * s);
                if let (Some(first), Some(ip)) = (first, in_place)
                    && ip.arg(r, c)
                {
                    let rows = self.st.bufs[cbuf].as_mut_ptr().wrapping_add(first * s);
                    if self.alias(buf, rows) {
                        continue;
                    }
                }
                let src = self.st.bufs[cbuf].as_ptr();
                let dst = self.ptr(Loc::Buf(buf));
                for i in 0..n {
                    let child = g.children[i * arity + r] as usize;
                    // SAFETY: carriers hold every node (the schedule);
                    // `buf` holds `n` rows and is no carrier (`plan::verify`:
                    // P005, P008).
                    unsafe { std::ptr::copy_nonoverlapping(src.add(child * s), dst.add(i * s), s) };
                }
            }
        }
        match elems {
            None => {
                for (f, &view) in case.field_views.iter().enumerate() {
                    self.st.views[view] = g.fields[f].as_ptr() as *mut T;
                }
            }
            // A computed list's elements: rows of the sequences' buffers,
            // one per tensor of the element.
            Some(e) => {
                for (p, &view) in e.parts.iter().zip(&case.field_views) {
                    self.gather_elems(p, g);
                    self.st.views[view] = self.st.bufs[p.gathered].as_mut_ptr();
                }
            }
        }
        self.point_mapped(case, g);
        for (l, list) in case.rec_lists.iter().enumerate() {
            self.gather_children(list, g, l, carrier);
        }
        for (list, data) in case.field_lists.iter().zip(&g.field_lists) {
            self.lay_out_field_list(list, data, n);
        }
        for &(loc, s, buf) in &case.captures {
            self.ensure(buf, n * s);
            let src = self.ptr(loc) as *const T;
            let dst = self.st.bufs[buf].as_mut_ptr();
            for (i, &e) in g.examples.iter().enumerate() {
                // SAFETY: the outer value holds a row per example and is
                // not the local buffer (`plan::verify`: P003, P004, P005).
                unsafe {
                    std::ptr::copy_nonoverlapping(src.add(e as usize * s), dst.add(i * s), s)
                };
            }
        }
    }

    fn fold(&mut self, f: &FoldCode) -> Result<(), JitError> {
        let local = self.children_schedule(f.elems.as_ref())?;
        let shared = self.fold_schedule(f.id, f.nested.as_ref())?;
        self.held[f.id] = Some(shared);
        let fd = local.as_ref().unwrap_or(shared);
        for &(buf, s) in f.carrier.iter().chain(&f.saved) {
            self.ensure(buf, fd.num_nodes * s);
        }
        let in_place = self.placements(&f.cases, f.elems.as_ref(), f.nested.as_ref());
        for (l, level) in fd.levels.iter().enumerate() {
            for (k, g) in level.iter().enumerate() {
                if local.is_none() {
                    self.enter_held(&shared.levels[l][k]);
                }
                let case = &f.cases[g.ctor];
                self.st.running[f.id] = Some((l, k));
                let ip = in_place.as_ref().map(|ip| &ip[g.ctor]);
                self.enter_group(case, g, &f.carrier, f.elems.as_ref(), ip);
                self.enter_nested(f.id, case, g, &f.carrier, f.nested.as_ref())?;
                // The result written straight into the group's rows.
                for (c, (&part, &(cbuf, s))) in case.result[0].iter().zip(&f.carrier).enumerate() {
                    if let (Some(ip), Loc::Buf(b)) = (ip, part.loc)
                        && ip.result(0, c)
                    {
                        let rows = self.st.bufs[cbuf].as_mut_ptr().wrapping_add(g.first * s);
                        self.alias(b, rows);
                    }
                }
                let ran = self.code(&case.code, g.len);
                if ran.is_ok() {
                    for (part, (cbuf, _)) in case.node_writes(&f.carrier, &f.saved) {
                        let dst = self.st.bufs[cbuf].as_mut_ptr();
                        self.write_rows(part, dst, g.first, g.len);
                    }
                }
                self.clear_aliases();
                ran?;
            }
        }
        let rows = fd.roots.len();
        for (&(rbuf, s), &(cbuf, _)) in f.root.iter().zip(&f.carrier) {
            self.ensure(rbuf, rows * s);
            let src = self.st.bufs[cbuf].as_ptr();
            let dst = self.st.bufs[rbuf].as_mut_ptr();
            for (e, &root) in fd.roots.iter().enumerate() {
                // SAFETY: distinct buffers sized above (`plan::verify`:
                // P006); roots are nodes (the schedule).
                unsafe {
                    std::ptr::copy_nonoverlapping(src.add(root as usize * s), dst.add(e * s), s)
                };
            }
        }
        if local.is_some() {
            self.st.local_folds[f.id] = local;
        }
        Ok(())
    }

    /// The schedule fold `id` runs over unless it is a fold over a list of
    /// children (whose schedule is built in its region): a nested field's
    /// structures (`src`) in the enclosing group being run, else the
    /// structures a field holds in that group (`held`, also for structures
    /// held in a nested structure's node), else the batch's.
    fn fold_schedule(
        &self,
        id: usize,
        src: Option<&NestedSrc>,
    ) -> Result<&'a FoldData<T>, JitError> {
        let batch: &'a Batch<T> = self.batch;
        match src {
            Some(src) if src.held => self.held[id].ok_or_else(|| {
                JitError::Internal(
                    "a held nested structure folded outside its fold's region".into(),
                )
            }),
            Some(src) => self.nested_schedule(src),
            None => Ok(self.held[id].unwrap_or(&batch.folds[id])),
        }
    }

    /// Points the folds over structures group `g`'s plain fields hold at
    /// their schedules in `g`.
    fn enter_held(&mut self, g: &'a GroupData<T>) {
        for (inner, fd) in &g.held {
            self.held[*inner] = Some(fd);
        }
    }

    /// Zeros the accumulators of a backward op over `rows` examples (the
    /// batch's, or the nodes of the region around a nested op).
    fn zero_accs(&mut self, accs: &[Acc], rows: usize) {
        for a in accs {
            let n = if a.per_example { rows * a.size } else { a.size };
            self.ensure(a.buf, n);
            self.st.bufs[a.buf][..n].fill(T::ZERO);
        }
    }

    fn fold_backward(&mut self, f: &FoldBackCode) -> Result<(), JitError> {
        let local = match &f.elems {
            Some(e) if self.st.local_lens[e.unfold].is_some() => self.st.local_folds[f.id].take(),
            _ => None,
        };
        let shared = self.fold_schedule(f.id, f.nested.as_ref())?;
        self.held[f.id] = Some(shared);
        let fd = local.as_ref().unwrap_or(shared);
        for &(buf, s) in &f.ct {
            self.ensure(buf, fd.num_nodes * s);
        }
        self.ensure_mapped_cts(&f.cases, fd.num_nodes);
        // A structure held in a nested structure's node adds into that
        // structure's pool cotangents, zeroed by its fold's backward.
        if let Some(src) = f.nested.as_ref().filter(|s| !s.held) {
            self.zero_pool_cotangents(src);
        }
        self.zero_accs(&f.acc, fd.roots.len());
        if let Some(e) = &f.elems {
            // Positions past an example's length keep a zero cotangent.
            let (steps, rows) = self.seq_extent(e.unfold);
            for p in &e.parts {
                let n = steps * rows * p.size;
                self.ensure(p.cotangents, n);
                self.st.bufs[p.cotangents][..n].fill(T::ZERO);
            }
        }
        // The roots' cotangents.
        for (&part, &(cbuf, s)) in f.root_ct.iter().zip(&f.ct) {
            let src = self.ptr(part.loc) as *const T;
            let dst = self.st.bufs[cbuf].as_mut_ptr();
            for (e, &root) in fd.roots.iter().enumerate() {
                let off = if part.kind == PartKind::Batched {
                    e * s
                } else {
                    0
                };
                // SAFETY: distinct buffers; the cotangent holds a row per
                // example (`plan::verify`: P003, P004, P005, P008).
                unsafe {
                    std::ptr::copy_nonoverlapping(src.add(off), dst.add(root as usize * s), s)
                };
            }
        }
        let in_place = self.placements(&f.cases, f.elems.as_ref(), f.nested.as_ref());
        for (l, level) in fd.levels.iter().enumerate().rev() {
            for (k, g) in level.iter().enumerate() {
                if local.is_none() {
                    self.enter_held(&shared.levels[l][k]);
                }
                let case = &f.cases[g.ctor];
                self.st.running[f.id] = Some((l, k));
                let ip = in_place.as_ref().map(|ip| &ip[g.ctor]);
                self.enter_group(case, g, &f.carrier, f.elems.as_ref(), ip);
                self.enter_nested(f.id, case, g, &f.carrier, f.nested.as_ref())?;
                for (&view, &(cbuf, s)) in case.ct_views.iter().zip(&f.ct) {
                    self.st.views[view] = self.st.bufs[cbuf].as_mut_ptr().wrapping_add(g.first * s);
                }
                for (&view, &(cbuf, s)) in case.own_views.iter().zip(&f.carrier) {
                    self.st.views[view] = self.st.bufs[cbuf].as_mut_ptr().wrapping_add(g.first * s);
                }
                for &(view, slot) in &case.saved_views {
                    let (buf, s) = f.saved[slot];
                    self.st.views[view] = self.st.bufs[buf].as_mut_ptr().wrapping_add(g.first * s);
                }
                let arity = case.rec_args.len();
                // Children's cotangents written straight into their rows.
                let firsts: Vec<Option<usize>> = (0..arity)
                    .map(|r| ip.and_then(|_| in_place::consecutive(g, arity, r)))
                    .collect();
                for (r, first) in firsts.iter().enumerate() {
                    let (Some(ip), Some(first)) = (ip, first) else {
                        continue;
                    };
                    for (c, (&part, &(cbuf, s))) in case.result[r].iter().zip(&f.ct).enumerate() {
                        if let Loc::Buf(b) = part.loc
                            && ip.result(r, c)
                        {
                            let rows = self.st.bufs[cbuf].as_mut_ptr().wrapping_add(first * s);
                            self.alias(b, rows);
                        }
                    }
                }
                if let Err(e) = self.code(&case.code, g.len) {
                    self.clear_aliases();
                    return Err(e);
                }
                for (r, first) in firsts.iter().enumerate() {
                    for (&part, &(cbuf, s)) in case.result[r].iter().zip(&f.ct) {
                        let src = self.ptr(part.loc) as *const T;
                        let dst = self.st.bufs[cbuf].as_mut_ptr();
                        let in_rows = first.map(|first| dst.wrapping_add(first * s));
                        if part.kind == PartKind::Batched && in_rows == Some(src as *mut T) {
                            continue;
                        }
                        for i in 0..g.len {
                            let child = g.children[i * arity + r] as usize;
                            let off = if part.kind == PartKind::Batched {
                                i * s
                            } else {
                                0
                            };
                            // SAFETY: children are below the group's nodes,
                            // so the rows written are not the ones read (the
                            // schedule); the part has the cotangent's size
                            // (`plan::verify`: P008).
                            unsafe { std::ptr::copy(src.add(off), dst.add(child * s), s) };
                        }
                    }
                }
                for (j, &acc) in f.acc.iter().enumerate() {
                    let part = case.result[arity + j][0];
                    self.accumulate(part, acc, g.len, Some(&g.examples));
                }
                for (l, list) in case.rec_lists.iter().enumerate() {
                    self.scatter_children(list, g, l, &f.ct);
                }
                self.write_mapped_cts(case, g, arity + f.acc.len());
                let pooled = self.scatter_pool(f.id, case, g, &f.ct);
                if pooled.is_err() {
                    self.clear_aliases();
                }
                pooled?;
                if let Some(src) = &f.nested {
                    self.add_pool_cotangents(src, case, arity + f.acc.len(), g);
                }
                if let (Some(e), Some(parts)) = (&f.elems, case.result.get(arity + f.acc.len())) {
                    for (&part, p) in parts.iter().zip(&e.parts) {
                        self.scatter_elems(part, p, g);
                    }
                }
                self.clear_aliases();
            }
        }
        Ok(())
    }

    fn unfold(&mut self, u: &UnfoldCode, here: usize) -> Result<(), JitError> {
        if let Some(src) = u.local {
            // Inside a region: a row per row of the region, each as long
            // as its row of the sequence it reads, or (a stream, which
            // reads none) as its number of steps.
            self.st.local_lens[u.id] = match src == u.id {
                true => Some(vec![self.batch.unfolds[u.id].steps; here]),
                false => self.st.local_lens[src].clone(),
            };
            if self.seq_extent(u.id).1 != here {
                return Err(JitError::Internal(
                    "an unfold in a region reads a sequence over other rows".into(),
                ));
            }
        }
        let (steps, rows) = self.seq_extent(u.id);
        for &(buf, s) in &u.states {
            self.ensure(buf, (steps + 1) * rows * s);
        }
        for &(buf, s) in &u.outs {
            self.ensure(buf, steps * rows * s);
        }
        for (&part, &(buf, _)) in u.init.iter().zip(&u.states) {
            let dst = self.st.bufs[buf].as_mut_ptr();
            self.write_rows(part, dst, 0, rows);
        }
        let (steps, rows) = unfold_steps(u.flat, steps, rows);
        for t in 0..steps {
            for (&view, &(buf, s)) in u.state_views.iter().zip(&u.states) {
                self.st.views[view] = self.st.bufs[buf].as_mut_ptr().wrapping_add(t * rows * s);
            }
            self.point_x_views(&u.x_views, &u.x_seq, u.id, t, rows);
            self.code(&u.body, rows)?;
            for (&part, &(buf, _)) in u.result_out.iter().zip(&u.outs) {
                let dst = self.st.bufs[buf].as_mut_ptr();
                self.write_rows(part, dst, t * rows, rows);
            }
            for (&part, &(buf, _)) in u.result_state.iter().zip(&u.states) {
                let dst = self.st.bufs[buf].as_mut_ptr();
                self.write_rows(part, dst, (t + 1) * rows, rows);
            }
        }
        Ok(())
    }

    /// Points a step's list-element views at step `t` of unfold `id`'s
    /// elements: a computed sequence's rows, or the prepared blocks (one
    /// `[steps, rows, size]` block per tensor of the element).
    fn point_x_views(
        &mut self,
        views: &[(usize, usize)],
        seq: &[(usize, usize)],
        id: usize,
        t: usize,
        rows: usize,
    ) {
        if !seq.is_empty() {
            for (&(view, _), &(buf, size)) in views.iter().zip(seq) {
                self.st.views[view] = self.st.bufs[buf].as_mut_ptr().wrapping_add(t * rows * size);
            }
            return;
        }
        let ud = &self.batch.unfolds[id];
        let mut block = 0;
        for &(view, size) in views {
            self.st.views[view] = ud.xs.as_ptr().wrapping_add(block + t * rows * size) as *mut T;
            block += ud.steps * rows * size;
        }
    }

    fn unfold_backward(&mut self, u: &UnfoldBackCode) -> Result<(), JitError> {
        // Inside a region, the forward op in the same region set the
        // lengths (`seq_extent`).
        let (steps, rows) = self.seq_extent(u.id);
        for &(buf, s) in &u.dnext {
            self.ensure(buf, rows * s);
            self.st.bufs[buf][..rows * s].fill(T::ZERO);
        }
        self.zero_accs(&u.acc, rows);
        // As the forward; the accumulators sum over all rows.
        let (steps, rows) = unfold_steps(u.flat, steps, rows);
        for t in (0..steps).rev() {
            for (&view, &(buf, s)) in u.state_views.iter().zip(&u.states) {
                self.st.views[view] = self.st.bufs[buf].as_mut_ptr().wrapping_add(t * rows * s);
            }
            self.point_x_views(&u.x_views, &u.x_seq, u.id, t, rows);
            for (&view, &(buf, s)) in u.dout_views.iter().zip(&u.dout) {
                self.st.views[view] = self.st.bufs[buf].as_mut_ptr().wrapping_add(t * rows * s);
            }
            for (&view, &(buf, _)) in u.dnext_views.iter().zip(&u.dnext) {
                self.st.views[view] = self.st.bufs[buf].as_mut_ptr();
            }
            self.code(&u.body, rows)?;
            for (&part, &(buf, _)) in u.result_dstate.iter().zip(&u.dnext) {
                let dst = self.st.bufs[buf].as_mut_ptr();
                self.write_rows(part, dst, 0, rows);
            }
            for (j, &acc) in u.acc.iter().enumerate() {
                let part = u.result_caps[j][0];
                self.accumulate(part, acc, rows, None);
            }
            for (&(part, buf), &(_, size)) in u.result_dx.iter().zip(&u.x_seq) {
                self.ensure(buf, steps * rows * size);
                let dst = self.st.bufs[buf].as_mut_ptr();
                self.write_rows(part, dst, t * rows, rows);
            }
        }
        Ok(())
    }
}
