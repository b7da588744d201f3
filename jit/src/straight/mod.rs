//! Straight-line training steps: a small step run as one Cranelift
//! function that calls the product kernels and the fused elementwise loops
//! directly, with no executor in between.
//!
//! A step of a model like W3 (a batch of one, a fold of 20 tiny products)
//! takes tens of microseconds, and the executor's work around each kernel
//! call (matching the instruction, sizing buffers, looking up pointers,
//! asking the thread chooser, gathering rows in Rust loops) is a large part
//! of it. Two kinds of function run such steps, both on the calling
//! thread:
//! - the plan's looped step (`looped.rs`), compiled once: every fold a
//!   loop over its groups, the batch's schedule read at run time from
//!   tables (`looped/table.rs`), so one function serves every batch shape;
//! - a step unrolled over one batch shape (`trace.rs`: every fold level,
//!   group and row copy fixed; `emit.rs`: tiny products written out), for a
//!   shape seen `UNROLL_AFTER` times, at most `MAX_SHAPES` of them.
//!
//! Which plans and batches qualify:
//! - per plan: every instruction is one `trace::supported` accepts (no
//!   unfolds, no folds over computed sequences or lists of children);
//! - per batch shape, decided when the shape is first seen from its sizes
//!   (`trace::measure`, kept per shape): for the looped step, no product
//!   the executor might split between threads and at most `LOOP_LIMITS`
//!   multiply-adds in all; for an unrolled one, `LIMITS` (multiply-adds
//!   and actions, so that the code stays small); and every buffer at least
//!   as long as the step reaches (else the executor runs the step, sizing
//!   the buffers for the next time).
//!
//! Anything else runs on the executor, whose results both kinds of step
//! equal (the same kernels in the same order; `tests/src/straight.rs`).

mod conv;
mod emit;
mod looped;
mod shim;
mod trace;

use std::collections::HashMap;

use crate::JitError;
use crate::batch::Batch;
use crate::codegen::KernelFn;
use crate::exec::{Elem, State};
use crate::plan::Plan;

use emit::StepCode;
use looped::{LoopStep, Slot};
use shim::Ctx;
use trace::{BaseSrc, Limits, Stop, Trace};

/// The bounds of a small step. The multiply-adds bound keeps every step
/// whose products the executor would split between threads (from 2¹⁸
/// multiply-adds, `runtime/src/gemm.rs`) on the executor; W3's step has
/// 25 600.
const LIMITS: Limits = Limits {
    actions: 4096,
    multiply_adds: 1 << 17,
    product: u64::MAX,
};

/// The bounds of a batch shape run by the looped step, whose code does not
/// grow with the shape: no product the executor might split between
/// threads (from 2¹⁸ multiply-adds), and at most 2²² multiply-adds in all
/// (a step of a few milliseconds, where the executor's overhead no longer
/// shows).
const LOOP_LIMITS: Limits = Limits {
    actions: usize::MAX,
    multiply_adds: 1 << 22,
    product: (1 << 18) - 1,
};

/// Unrolled batch shapes kept per kernel.
const MAX_SHAPES: usize = 16;

/// How many times a shape is seen before its step is unrolled (until then,
/// and for shapes past `MAX_SHAPES`, the looped step runs it).
const UNROLL_AFTER: u32 = 8;

/// Batch shapes whose sizes are kept (past it, the table is emptied).
const MAX_SIZES: usize = 4096;

/// The straight-line steps of one training kernel.
pub(crate) struct Straight {
    /// Whether the plan's instructions are all supported.
    supported: bool,
    /// Whether straight-line steps are used at all.
    enabled: bool,
    /// After how many sightings a shape gets an unrolled step (`None`:
    /// never).
    unroll: Option<u32>,
    shapes: Vec<Shape>,
    /// Per batch shape seen, its sizes.
    sizes: HashMap<Vec<u32>, Sizes>,
    /// The plan's looped step, compiled when first needed.
    looped: Looped,
    /// Batch shapes the looped step has run.
    looped_shapes: usize,
    /// The current batch's shape key (kept to reuse its storage).
    key: Vec<u32>,
    /// The argument block (kept to reuse its storage).
    args: Vec<*mut u8>,
    /// The looped step's schedule tables, per fold id.
    tables: Vec<Vec<usize>>,
}

/// What a batch shape needs: whether it is small enough, its multiply-adds
/// and the buffers' extents, and how often it was seen.
struct Sizes {
    small: bool,
    multiply_adds: u64,
    extents: Vec<usize>,
    seen: u32,
    looped: bool,
}

/// One batch shape with an unrolled step.
struct Shape {
    key: Vec<u32>,
    state: Compiled,
}

enum Compiled {
    /// The step is not a small one, or holds what is not supported.
    Refused,
    Step(Box<Step>),
}

struct Step {
    code: StepCode,
    trace: Trace,
    /// The trace's scratch buffers (room for `f64`s, so for either type).
    scratch: Vec<Vec<f64>>,
}

/// The looped step of a plan.
enum Looped {
    Not,
    Refused,
    Step(Box<(LoopStep, Vec<Vec<f64>>)>),
}

impl Straight {
    /// For `plan`; disabled when the environment variable `CDLC_STRAIGHT`
    /// is `0` (to time the executor on the same steps), and with no
    /// unrolled steps when it is `loop`.
    pub fn new(plan: &Plan) -> Straight {
        let env = std::env::var("CDLC_STRAIGHT").unwrap_or_default();
        Straight {
            supported: trace::supported(&plan.code),
            enabled: env != "0",
            unroll: (env != "loop").then_some(UNROLL_AFTER),
            shapes: Vec::new(),
            sizes: HashMap::new(),
            looped: Looped::Not,
            looped_shapes: 0,
            key: Vec::new(),
            args: Vec::new(),
            tables: Vec::new(),
        }
    }

    /// Turns straight-line steps on or off.
    pub fn set_enabled(&mut self, on: bool) {
        self.enabled = on;
    }

    /// After how many sightings a batch shape gets an unrolled step
    /// (`None`: never; every straight-line step runs the looped one).
    pub fn set_unroll(&mut self, after: Option<u32>) {
        self.unroll = after;
    }

    /// How many batch shapes have an unrolled step.
    pub fn compiled(&self) -> usize {
        self.shapes
            .iter()
            .filter(|s| matches!(s.state, Compiled::Step(_)))
            .count()
    }

    /// How many batch shapes the looped step has run, and whether it is
    /// compiled (one function for all of them).
    pub fn looped(&self) -> (usize, bool) {
        (self.looped_shapes, matches!(self.looped, Looped::Step(_)))
    }

    /// The Cranelift IR of every compiled step.
    pub fn clif_text(&self) -> String {
        let mut out = String::new();
        if let Looped::Step(l) = &self.looped {
            out.push_str("; looped straight-line step, for every batch shape\n");
            out.push_str(&l.0.code.clif);
            out.push('\n');
        }
        for s in &self.shapes {
            if let Compiled::Step(step) = &s.state {
                out.push_str(&format!(
                    "; straight-line step for a batch of {} rows, {} actions\n{}\n",
                    s.key[0],
                    step.trace.actions.len(),
                    step.code.clif
                ));
            }
        }
        out
    }

    /// Runs the step on `batch` as straight-line code if it is small and
    /// the buffers hold it (an unrolled step for a shape seen often, else
    /// the looped one); returns whether it ran.
    pub fn run<T: Elem>(
        &mut self,
        plan: &Plan,
        kernels: &[KernelFn],
        st: &mut State<T>,
        params: *const T,
        batch: &Batch<T>,
    ) -> Result<bool, JitError> {
        if !self.supported || !self.enabled || !batch.unfolds.is_empty() {
            return Ok(false);
        }
        shape_key(batch, &mut self.key);
        if !self.sizes.contains_key(&self.key) {
            if self.sizes.len() >= MAX_SIZES {
                self.sizes.clear();
            }
            let sizes = measure(plan, batch, kernels);
            self.sizes.insert(self.key.clone(), sizes);
        }
        let sizes = self.sizes.get_mut(&self.key).expect("inserted above");
        sizes.seen += 1;
        let fits = sizes
            .extents
            .iter()
            .zip(&st.bufs)
            .all(|(&e, b)| b.len() >= e);
        if !sizes.small || !fits {
            return Ok(false);
        }
        let (seen, multiply_adds) = (sizes.seen, sizes.multiply_adds);
        if self.unroll.is_some_and(|after| seen >= after)
            && let Some(i) = self.unrolled(plan, kernels, batch)?
        {
            let Compiled::Step(step) = &mut self.shapes[i].state else {
                unreachable!("`unrolled` names compiled steps only")
            };
            return run_step(step, &mut self.args, st, params, batch);
        }
        let ran = self.run_looped(plan, kernels, st, params, batch)?;
        if ran {
            st.multiply_adds = multiply_adds;
            let sizes = self.sizes.get_mut(&self.key).expect("inserted above");
            if !sizes.looped {
                sizes.looped = true;
                self.looped_shapes += 1;
            }
        }
        Ok(ran)
    }

    /// The position of the current shape's unrolled step, compiled now if
    /// there is room; `None` if it is refused or there is no room.
    fn unrolled<T: Elem>(
        &mut self,
        plan: &Plan,
        kernels: &[KernelFn],
        batch: &Batch<T>,
    ) -> Result<Option<usize>, JitError> {
        let i = match self.shapes.iter().position(|s| s.key == self.key) {
            Some(i) => i,
            None if self.shapes.len() < MAX_SHAPES => {
                let state = match trace::trace(plan, batch, kernels, &LIMITS) {
                    Ok(t) => Compiled::Step(Box::new(Step {
                        code: emit::compile::<T>(&t)?,
                        scratch: t.scratch.iter().map(|&n| vec![0.0; n]).collect(),
                        trace: t,
                    })),
                    Err(Stop::Unsupported | Stop::TooLarge) => Compiled::Refused,
                };
                self.shapes.push(Shape {
                    key: self.key.clone(),
                    state,
                });
                self.shapes.len() - 1
            }
            None => return Ok(None),
        };
        Ok(match self.shapes[i].state {
            Compiled::Step(_) => Some(i),
            Compiled::Refused => None,
        })
    }

    /// Runs the looped step (compiling it the first time); `false` if the
    /// plan has what it does not compile or the batch's schedule does not
    /// fit its tables.
    fn run_looped<T: Elem>(
        &mut self,
        plan: &Plan,
        kernels: &[KernelFn],
        st: &mut State<T>,
        params: *const T,
        batch: &Batch<T>,
    ) -> Result<bool, JitError> {
        if matches!(self.looped, Looped::Not) {
            self.looped = match looped::supported(plan) {
                true => {
                    let l = looped::compile::<T>(plan, kernels)?;
                    let scratch = l.scratch.iter().map(|&n| vec![0.0; n]).collect();
                    Looped::Step(Box::new((l, scratch)))
                }
                false => Looped::Refused,
            };
        }
        let Looped::Step(l) = &mut self.looped else {
            return Ok(false);
        };
        let (step, scratch) = &mut **l;
        self.tables.resize_with(batch.folds.len(), Vec::new);
        for (id, (fd, t)) in batch.folds.iter().zip(&mut self.tables).enumerate() {
            let shape = step.tables.get(id).copied().unwrap_or_default();
            if !looped::fill_table(fd, shape, t) {
                return Ok(false);
            }
        }
        self.args.clear();
        for &slot in &step.slots {
            self.args.push(match slot {
                Slot::Params => params as *mut u8,
                Slot::Buf(b) => st.bufs[b].as_mut_ptr() as *mut u8,
                Slot::Input(i) => batch.tensors[i].as_ptr() as *mut u8,
                Slot::Classes(i) => batch.classes[i].as_ptr() as *mut u8,
                Slot::Scratch(s) => scratch[s].as_mut_ptr() as *mut u8,
                Slot::Rows => batch.rows as *mut u8,
                Slot::Table(id) => self.tables[id].as_mut_ptr() as *mut u8,
            });
        }
        let mut ctx = Ctx::default();
        // SAFETY: the tables describe this batch's schedule (every group,
        // child, example and field they point at exists in `batch`); the
        // buffers are at least as long as this shape's step reaches
        // (`measure`, checked by the caller) and the parameters as long as
        // the plan's (`Kernel::check`); the code was compiled with this
        // signature for this plan.
        unsafe { (step.code.f)(self.args.as_ptr(), &mut ctx) };
        finish(st, &ctx)?;
        Ok(true)
    }
}

/// The sizes of `plan`'s step on `batch`.
fn measure<T: Elem>(plan: &Plan, batch: &Batch<T>, kernels: &[KernelFn]) -> Sizes {
    let (small, multiply_adds, extents) = match trace::measure(plan, batch, kernels, &LOOP_LIMITS) {
        Ok(t) => (true, t.multiply_adds, t.extents),
        Err(_) => (false, 0, Vec::new()),
    };
    Sizes {
        small,
        multiply_adds,
        extents,
        seen: 0,
        looped: false,
    }
}

/// Takes a step's counters into the state; an error if a convolution's
/// kernel refused its operands.
fn finish<T>(st: &mut State<T>, ctx: &Ctx) -> Result<(), JitError> {
    if ctx.failed {
        return Err(conv_failed());
    }
    st.correct += ctx.correct;
    Ok(())
}

/// Fills the argument block and calls the step; `false` (nothing run) if a
/// buffer is shorter than the trace reaches.
fn run_step<T: Elem>(
    step: &mut Step,
    args: &mut Vec<*mut u8>,
    st: &mut State<T>,
    params: *const T,
    batch: &Batch<T>,
) -> Result<bool, JitError> {
    let t = &step.trace;
    if t.extents.iter().zip(&st.bufs).any(|(&e, b)| b.len() < e) {
        return Ok(false);
    }
    args.clear();
    for &src in &t.bases {
        args.push(match src {
            BaseSrc::Params => params as *mut u8,
            BaseSrc::Buf(b) => st.bufs[b].as_mut_ptr() as *mut u8,
            BaseSrc::Input(i) => batch.tensors[i].as_ptr() as *mut u8,
            BaseSrc::Classes(i) => batch.classes[i].as_ptr() as *mut u8,
            BaseSrc::Field {
                fold,
                level,
                group,
                field,
            } => batch.folds[fold].levels[level][group].fields[field].as_ptr() as *mut u8,
            BaseSrc::Scratch(s) => step.scratch[s].as_mut_ptr() as *mut u8,
        });
    }
    let mut ctx = Ctx::default();
    // SAFETY: the trace was made for a batch of this shape (`shape_key`),
    // so every group, child and row it addresses exists in `batch`; the
    // buffers are at least as long as it reaches (checked above) and the
    // parameters as long as the plan's (`Kernel::check`); the code was
    // compiled with this signature.
    unsafe { (step.code.f)(args.as_ptr(), &mut ctx) };
    finish(st, &ctx)?;
    st.multiply_adds = t.multiply_adds;
    Ok(true)
}

/// A convolution's kernel refused the operands the lowering gave it (a bug
/// there, which `plan::verify` should have caught).
fn conv_failed() -> JitError {
    JitError::Internal(
        "a convolution's product refused its operands in a straight-line step".into(),
    )
}

/// The shape of a batch, as far as a trace depends on it: the row count
/// and every fold's schedule (levels, groups, children, examples, roots).
fn shape_key<T>(batch: &Batch<T>, key: &mut Vec<u32>) {
    key.clear();
    key.push(batch.rows as u32);
    for f in &batch.folds {
        key.push(f.num_nodes as u32);
        key.push(f.roots.len() as u32);
        key.extend_from_slice(&f.roots);
        key.push(f.levels.len() as u32);
        for level in &f.levels {
            key.push(level.len() as u32);
            for g in level {
                key.extend([g.ctor, g.first, g.len, g.children.len()].map(|x| x as u32));
                key.extend_from_slice(&g.children);
                key.extend_from_slice(&g.examples);
            }
        }
    }
}
