//! Straight-line training steps: a small step compiled, for one batch
//! shape, into one Cranelift function that calls the product kernels and
//! the fused elementwise loops directly, with no executor in between.
//!
//! A step of a model like W3 (a batch of one, a fold of 20 tiny products)
//! takes tens of microseconds, and the executor's work around each kernel
//! call (matching the instruction, sizing buffers, looking up pointers,
//! asking the thread chooser, gathering rows in Rust loops) is a large part
//! of it. Here the plan is unrolled over the batch's shape once
//! (`trace.rs`: every fold level, group and row copy fixed) and compiled
//! (`emit.rs`); later steps on a batch of the same shape fill an argument
//! block of base pointers and make one call. Everything runs on the
//! calling thread.
//!
//! Which plans and batches qualify:
//! - per plan: every instruction is one `trace::supported` accepts (no
//!   unfolds, no folds over computed sequences or lists of children);
//! - per batch shape: at most `LIMITS.multiply_adds` multiply-adds in the
//!   step's products and `LIMITS.actions` actions, so that only steps whose
//!   kernels are tiny (where the executor's overhead shows) are compiled,
//!   and the code stays small;
//! - a shape is compiled the second time it is seen (the first step runs
//!   on the executor, which sizes every buffer), and at most `MAX_SHAPES`
//!   shapes are kept.
//!
//! Anything else runs on the executor, whose results the straight-line step
//! equals (the same kernels in the same order; `tests/src/straight.rs`).

mod conv;
mod emit;
mod shim;
mod trace;

use crate::JitError;
use crate::batch::Batch;
use crate::codegen::KernelFn;
use crate::exec::{Elem, State};
use crate::plan::Plan;

use emit::StepCode;
use shim::Ctx;
use trace::{BaseSrc, Limits, Stop, Trace};

/// The bounds of a small step. The multiply-adds bound keeps every step
/// whose products the executor would split between threads (from 2¹⁸
/// multiply-adds, `runtime/src/gemm.rs`) on the executor; W3's step has
/// 25 600.
const LIMITS: Limits = Limits {
    actions: 4096,
    multiply_adds: 1 << 17,
};

/// Batch shapes kept per kernel.
const MAX_SHAPES: usize = 16;

/// The straight-line steps of one training kernel.
pub(crate) struct Straight {
    /// Whether the plan's instructions are all supported.
    supported: bool,
    /// Whether straight-line steps are used at all.
    enabled: bool,
    shapes: Vec<Shape>,
    /// The current batch's shape key (kept to reuse its storage).
    key: Vec<u32>,
    /// The argument block (kept to reuse its storage).
    args: Vec<*mut u8>,
}

/// One batch shape seen.
struct Shape {
    key: Vec<u32>,
    seen: u32,
    state: Compiled,
}

enum Compiled {
    Not,
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

impl Straight {
    /// For `plan`; disabled when the environment variable `CDLC_STRAIGHT`
    /// is `0` (to time the executor on the same steps).
    pub fn new(plan: &Plan) -> Straight {
        Straight {
            supported: trace::supported(&plan.code),
            enabled: std::env::var("CDLC_STRAIGHT").map_or(true, |v| v != "0"),
            shapes: Vec::new(),
            key: Vec::new(),
            args: Vec::new(),
        }
    }

    /// Turns straight-line steps on or off.
    pub fn set_enabled(&mut self, on: bool) {
        self.enabled = on;
    }

    /// How many batch shapes have a compiled step.
    pub fn compiled(&self) -> usize {
        self.shapes
            .iter()
            .filter(|s| matches!(s.state, Compiled::Step(_)))
            .count()
    }

    /// The Cranelift IR of every compiled step.
    pub fn clif_text(&self) -> String {
        let mut out = String::new();
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

    /// Runs the step on `batch` as straight-line code if its shape has
    /// (or now gets) a compiled step; returns whether it ran.
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
        let i = match self.shapes.iter().position(|s| s.key == self.key) {
            Some(i) => i,
            None if self.shapes.len() < MAX_SHAPES => {
                self.shapes.push(Shape {
                    key: self.key.clone(),
                    seen: 0,
                    state: Compiled::Not,
                });
                self.shapes.len() - 1
            }
            None => return Ok(false),
        };
        let shape = &mut self.shapes[i];
        shape.seen += 1;
        if matches!(shape.state, Compiled::Not) && shape.seen >= 2 {
            shape.state = match trace::trace(plan, batch, kernels, &LIMITS) {
                Ok(t) => Compiled::Step(Box::new(Step {
                    code: emit::compile::<T>(&t)?,
                    scratch: t.scratch.iter().map(|&n| vec![0.0; n]).collect(),
                    trace: t,
                })),
                Err(Stop::Unsupported | Stop::TooLarge) => Compiled::Refused,
            };
        }
        match &mut shape.state {
            Compiled::Step(step) => run_step(step, &mut self.args, st, params, batch),
            _ => Ok(false),
        }
    }
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
    if ctx.failed {
        return Err(conv_failed());
    }
    st.correct += ctx.correct;
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
