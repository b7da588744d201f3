//! The Cranelift JIT: batched kernels for the forward function and the
//! training step (forward and backward) of a model.
//!
//! A model is written for one example; its kernels run a whole batch per
//! call. `lower` turns the IR function into a `Plan` in which every
//! per-example value is a `[rows, size]` batch buffer, products with
//! parameters are one GEMM over the batch, and chains of elementwise ops
//! are fused into Cranelift-compiled loops (`codegen`). Folds over lists
//! and trees of different shapes run level by level over the runtime's
//! level schedule, unfolds step by step over the batch (`exec`). `batch`
//! prepares a batch once (gathering, scheduling) so that it can be timed
//! apart from the step. In debug builds `plan::verify` checks every plan
//! before it runs (the executor's `unsafe` blocks rest on its checks);
//! `lower_plan` gives the plan to the tools (`--emit plan`). `docs/jit.md`
//! describes the design and the API.
#![warn(missing_docs)]

mod batch;
mod codegen;
mod exec;
mod lower;
mod output;
mod plan;
mod rowops;
mod straight;

use std::any::Any;
use std::fmt;

use cdlc_ir::example_error::ExampleTypes;
use cdlc_ir::{FuncId, Module, Type};
use cdlc_runtime::value::{Example, Value};

pub use exec::Elem;
pub use lower::{Fusion, Passes};
pub use plan::lowered::{LoweredPlan, lower_plan, lower_plan_fused, lower_plan_passes};
pub use plan::{PlanError, PlanErrorKind, Site, Step};

use codegen::Compiled;
use exec::{Run, State};
use plan::{Part, PartKind, Plan, Repr};

/// The element type kernels compute in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dtype {
    /// 32-bit floats (`f32x4` vectors).
    F32,
    /// 64-bit floats (`f64x2` vectors).
    F64,
}

/// How to compile a kernel.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// The element type.
    pub dtype: Dtype,
    /// The expected batch size (buffers are sized for it up front and grow
    /// when a larger batch comes).
    pub batch: usize,
}

/// Why a function cannot be compiled or run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JitError {
    /// An IR construct the JIT does not support yet.
    Unsupported {
        /// What is not supported.
        op: String,
        /// The op of the compiled function where it was met, when known
        /// (the innermost op being lowered: a recursion op's value for a
        /// structure it cannot walk).
        at: Option<cdlc_ir::Value>,
    },
    /// An example does not fit the function or cannot be run (an input or
    /// target of the wrong type, an empty list split by halves, targets of
    /// another length than the outputs): the same error the reference
    /// interpreter gives for it.
    Data(cdlc_ir::example_error::ExampleError),
    /// Parameters or gradients of the wrong element type or length.
    Mismatch(String),
    /// A bug in the JIT (a lowering it produced that Cranelift rejects).
    Internal(String),
}

impl fmt::Display for JitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JitError::Unsupported { op, .. } => write!(f, "the JIT does not support {op} yet"),
            JitError::Data(e) => write!(f, "{e}"),
            JitError::Mismatch(m) => write!(f, "{m}"),
            JitError::Internal(m) => write!(f, "internal error in the JIT: {m}"),
        }
    }
}

impl std::error::Error for JitError {}

/// What one training step measured.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepStats {
    /// The mean loss over the batch.
    pub loss: f64,
    /// How many examples' outputs had their target class as the first
    /// largest logit (for `cross_entropy` on a tensor output).
    pub correct: Option<usize>,
}

/// A batch prepared for one kernel: inputs gathered in the kernel's dtype,
/// fold schedules built, unfold steps padded.
pub struct PreparedBatch {
    rows: usize,
    inner: Box<dyn Any>,
}

impl PreparedBatch {
    /// The number of examples.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether the batch has no examples.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }
}

/// The compiled parts shared by both kernels.
struct Kernel {
    plan: Plan,
    compiled: Compiled,
    dtype: Dtype,
    state: Box<dyn Any>,
    /// Straight-line steps (training kernels only).
    straight: Option<straight::Straight>,
    /// The types every example is checked against before it is prepared
    /// (`None` for a function whose inputs data cannot have).
    types: Option<ExampleTypes>,
}

impl Kernel {
    fn new(
        module: &Module,
        func: FuncId,
        opts: &Options,
        train: bool,
        passes: Passes,
    ) -> Result<Kernel, JitError> {
        let plan = lower::lower_passes(module, func, train, passes)?;
        // Debug builds (and so every test) check the plan before running it.
        #[cfg(debug_assertions)]
        plan::verify(&plan)
            .map_err(|e| JitError::Internal(format!("the plan fails its verifier: {e}")))?;
        let compiled = codegen::compile(&plan.kernels, opts.dtype == Dtype::F64)?;
        let state: Box<dyn Any> = match opts.dtype {
            Dtype::F32 => Box::new(State::<f32>::new(&plan)),
            Dtype::F64 => Box::new(State::<f64>::new(&plan)),
        };
        Ok(Kernel {
            types: ExampleTypes::of(module, func, train),
            straight: train.then(|| straight::Straight::new(&plan)),
            plan,
            compiled,
            dtype: opts.dtype,
            state,
        })
    }

    fn check<T: Elem>(&self, params: &[T]) -> Result<(), JitError> {
        if T::F64 != (self.dtype == Dtype::F64) {
            return Err(JitError::Mismatch(format!(
                "the kernel computes in {:?}",
                self.dtype
            )));
        }
        if params.len() != self.plan.num_params {
            return Err(JitError::Mismatch(format!(
                "expected {} parameters, got {}",
                self.plan.num_params,
                params.len()
            )));
        }
        Ok(())
    }

    fn prepare(
        &self,
        xs: &[&Value],
        ys: Option<&[&cdlc_runtime::value::Target]>,
    ) -> Result<PreparedBatch, JitError> {
        self.check_examples(xs, ys)?;
        self.gather(xs, ys)
    }

    /// `prepare` for examples known to have the function's types.
    fn gather(
        &self,
        xs: &[&Value],
        ys: Option<&[&cdlc_runtime::value::Target]>,
    ) -> Result<PreparedBatch, JitError> {
        let inner: Box<dyn Any> = match self.dtype {
            Dtype::F32 => Box::new(self.checked(batch::prepare::<f32>(&self.plan, xs, ys)?)?),
            Dtype::F64 => Box::new(self.checked(batch::prepare::<f64>(&self.plan, xs, ys)?)?),
        };
        Ok(PreparedBatch {
            rows: xs.len(),
            inner,
        })
    }

    /// Checks every example against the function's types with the
    /// runtime's data checker, as the interpreter does, so that a bad
    /// example gets the same error on both backends and the batch
    /// preparation only meets values of the right types.
    fn check_examples(
        &self,
        xs: &[&Value],
        ys: Option<&[&cdlc_runtime::value::Target]>,
    ) -> Result<(), JitError> {
        let Some(types) = &self.types else {
            return Ok(());
        };
        for (i, x) in xs.iter().enumerate() {
            types.check(x, ys.map(|ys| ys[i])).map_err(JitError::Data)?;
        }
        Ok(())
    }

    /// Debug builds (and so every test) check a prepared batch's schedule
    /// against the plan before the executor trusts its indices.
    fn checked<T>(&self, b: batch::Batch<T>) -> Result<batch::Batch<T>, JitError> {
        #[cfg(debug_assertions)]
        batch::check(&self.plan, &b)
            .map_err(|e| JitError::Internal(format!("the batch fails its checker: {e}")))?;
        Ok(b)
    }

    /// Runs the plan; returns the state for reading the output.
    fn run<T: Elem>(&mut self, params: &[T], batch: &PreparedBatch) -> Result<(), JitError> {
        self.check(params)?;
        let b = batch
            .inner
            .downcast_ref::<batch::Batch<T>>()
            .ok_or_else(|| {
                JitError::Mismatch("the batch was prepared for another kernel".into())
            })?;
        let st = self
            .state
            .downcast_mut::<State<T>>()
            .expect("the state has the kernel's dtype");
        st.correct = 0;
        st.multiply_adds = 0;
        st.placed = 0;
        let (plan, fns) = (&self.plan, &self.compiled.fns);
        let straight = match self.straight.as_mut() {
            Some(s) => s.run(plan, fns, st, params.as_ptr(), b)?,
            None => false,
        };
        let ran = match straight {
            true => Ok(()),
            false => Run {
                st,
                params: params.as_ptr(),
                batch: b,
                kernels: fns,
                held: vec![None; plan.folds.len()],
                in_place: plan.in_place,
            }
            .code(&plan.code, b.rows),
        };
        // One batch is one step for the thread chooser's schedule.
        cdlc_runtime::threads::end_step();
        ran
    }

    fn state<T: Elem>(&self) -> &State<T> {
        self.state
            .downcast_ref::<State<T>>()
            .expect("checked by run")
    }

    /// A part's numbers for `rows` rows (one row if uniform or summed).
    fn part<'s, T: Elem>(&'s self, p: &Part, params: &'s [T], b: &'s batch::Batch<T>) -> &'s [T] {
        let st = self.state::<T>();
        let rows = if p.kind == PartKind::Batched {
            b.rows
        } else {
            1
        };
        let n = rows * p.size;
        match p.loc {
            plan::Loc::Buf(i) => &st.bufs[i][..n],
            plan::Loc::Param(o) => &params[o..o + n],
            plan::Loc::Input(i) => &b.tensors[i][..n],
            plan::Loc::View(_) => unreachable!("views live inside regions"),
        }
    }

    fn clif_text(&self) -> String {
        let mut s = String::new();
        for (i, text) in self.compiled.clif.iter().enumerate() {
            s.push_str(&format!("; kernel {i}\n{text}\n"));
        }
        if let Some(st) = &self.straight {
            s.push_str(&st.clif_text());
        }
        s
    }
}

/// A compiled training step: forward, loss and backward over a batch.
pub struct TrainKernel {
    k: Kernel,
}

/// Runs `f` with gathered equivariant maps kept as gathers and products
/// (no direct convolutions, `lower/conv.rs`) in every plan lowered on this
/// thread meanwhile: the path to compare the convolutions with.
pub fn without_conv<R>(f: impl FnOnce() -> R) -> R {
    lower::conv::without(f)
}

/// Runs `f` with every expansion written out before the kernels that read
/// it (no repeated operands, `lower/repeat.rs`) and every pre-activation
/// stored for its `step` (`lower/relu_mask.rs`) in every plan lowered on
/// this thread meanwhile: the path to compare both passes with.
pub fn without_repeat<R>(f: impl FnOnce() -> R) -> R {
    lower::repeat::without(f)
}

/// Compiles the training function `train` (made by
/// `cdlc_ir::autodiff::differentiate`) into a batched training kernel.
pub fn compile_train(
    module: &Module,
    train: FuncId,
    opts: &Options,
) -> Result<TrainKernel, JitError> {
    compile_train_fused(module, train, opts, Fusion::from_env())
}

/// `compile_train`, with the products `fuse` selects fused with the
/// elementwise kernels that read their outputs (`true` for all, `false`
/// for none; the default is `Fusion::from_env`); every choice computes the
/// same numbers.
pub fn compile_train_fused(
    module: &Module,
    train: FuncId,
    opts: &Options,
    fuse: impl Into<Fusion>,
) -> Result<TrainKernel, JitError> {
    compile_train_passes(
        module,
        train,
        opts,
        Passes::new(fuse, lower::wide_enabled()),
    )
}

/// `compile_train`, with the passes `passes` on its plan (fused epilogues,
/// wide products); every choice computes the same numbers.
pub fn compile_train_passes(
    module: &Module,
    train: FuncId,
    opts: &Options,
    passes: Passes,
) -> Result<TrainKernel, JitError> {
    let f = &module.functions[train];
    let ok = matches!(&f.types[f.output()], Type::Tuple(ts) if ts.len() == f.params.len() + 1);
    if !ok || f.inputs.is_empty() {
        return Err(JitError::Mismatch(format!(
            "`{}` is not a training function (loss, gradients...)",
            f.name
        )));
    }
    Ok(TrainKernel {
        k: Kernel::new(module, train, opts, true, passes)?,
    })
}

impl TrainKernel {
    /// The length of the flat parameter (and gradient) vector.
    pub fn num_params(&self) -> usize {
        self.k.plan.num_params
    }

    /// Where each parameter slot starts in the flat vector (slot order).
    pub fn param_offsets(&self) -> &[usize] {
        &self.k.plan.param_offsets
    }

    /// The kernel's element type.
    pub fn dtype(&self) -> Dtype {
        self.k.dtype
    }

    /// Prepares a batch of examples for `step`.
    pub fn prepare(&self, batch: &[Example]) -> Result<PreparedBatch, JitError> {
        let refs: Vec<&Example> = batch.iter().collect();
        self.prepare_refs(&refs)
    }

    /// `prepare` for examples held elsewhere (a shuffled batch of a data
    /// set), without copying them.
    pub fn prepare_refs(&self, batch: &[&Example]) -> Result<PreparedBatch, JitError> {
        let xs: Vec<&Value> = batch.iter().map(|e| &e.x).collect();
        let ys: Vec<&cdlc_runtime::value::Target> = batch.iter().map(|e| &e.y).collect();
        self.k.prepare(&xs, Some(&ys))
    }

    /// `prepare_refs` for examples already checked against the kernel's
    /// types, without checking them again: a data set's reader checks each
    /// example once when it reads it, and a generator draws only examples
    /// of its signature, which training compares with the model's, so a
    /// training step need not walk every example of its batch again. An
    /// example that has not been checked must go through `prepare_refs`:
    /// preparation relies on the types (a wrong one is an internal error
    /// or a panic here, not the data error `prepare_refs` gives).
    pub fn prepare_checked_refs(&self, batch: &[&Example]) -> Result<PreparedBatch, JitError> {
        let xs: Vec<&Value> = batch.iter().map(|e| &e.x).collect();
        let ys: Vec<&cdlc_runtime::value::Target> = batch.iter().map(|e| &e.y).collect();
        self.k.gather(&xs, Some(&ys))
    }

    /// One training step on a prepared batch: writes the mean gradient of
    /// the loss into `grads` (laid out like `params`) and returns the mean
    /// loss.
    pub fn step<T: Elem>(
        &mut self,
        params: &[T],
        batch: &PreparedBatch,
        grads: &mut [T],
    ) -> Result<StepStats, JitError> {
        if grads.len() != params.len() {
            return Err(JitError::Mismatch(
                "gradients and parameters differ in length".into(),
            ));
        }
        if batch.is_empty() {
            self.k.check(params)?;
            grads.fill(T::ZERO);
            return Ok(StepStats {
                loss: 0.0,
                correct: None,
            });
        }
        self.k.run(params, batch)?;
        let b = batch
            .inner
            .downcast_ref::<batch::Batch<T>>()
            .expect("checked by run");
        let Repr::Tuple(parts) = &self.k.plan.output else {
            return Err(JitError::Internal(
                "the training output is not a tuple".into(),
            ));
        };
        let rows = b.rows;
        let inv = T::from_f64(1.0 / rows as f64);
        let lp = part_of(&parts[0])?;
        let loss: f64 = self
            .k
            .part(&lp, params, b)
            .iter()
            .map(|x| x.to_f64())
            .sum::<f64>()
            * if lp.kind == PartKind::Batched {
                1.0 / rows as f64
            } else {
                1.0
            };
        for (slot, r) in parts[1..].iter().enumerate() {
            let p = part_of(r)?;
            let off = self.k.plan.param_offsets[slot];
            let g = &mut grads[off..off + p.size];
            let src = self.k.part(&p, params, b);
            match p.kind {
                PartKind::Uniform => g.copy_from_slice(src),
                PartKind::Summed => {
                    for (gi, &x) in g.iter_mut().zip(src) {
                        *gi = x * inv;
                    }
                }
                PartKind::Batched => {
                    g.fill(T::ZERO);
                    for row in src.chunks_exact(p.size) {
                        for (gi, &x) in g.iter_mut().zip(row) {
                            *gi += x;
                        }
                    }
                    for gi in g.iter_mut() {
                        *gi *= inv;
                    }
                }
            }
        }
        let correct = has_class_loss(&self.k.plan).then(|| self.k.state::<T>().correct);
        Ok(StepStats { loss, correct })
    }

    /// Whether small steps run as straight-line code (`docs/jit.md`; on
    /// unless the environment variable `CDLC_STRAIGHT` is `0`). Off, every
    /// step runs on the executor.
    pub fn set_straight(&mut self, on: bool) {
        if let Some(s) = self.k.straight.as_mut() {
            s.set_enabled(on);
        }
    }

    /// After how many sightings a batch shape gets a straight-line step
    /// unrolled over its schedule (8 by default); `None`: never, every
    /// straight-line step runs the plan's looped one.
    pub fn set_straight_unroll(&mut self, after: Option<u32>) {
        if let Some(s) = self.k.straight.as_mut() {
            s.set_unroll(after);
        }
    }

    /// How many batch shapes the looped straight-line step has run, and
    /// how many looped functions serve them (one per kernel, or none).
    pub fn straight_looped(&self) -> (usize, usize) {
        self.k.straight.as_ref().map_or((0, 0), |s| {
            let (shapes, compiled) = s.looped();
            (shapes, compiled as usize)
        })
    }

    /// How many batch shapes have an unrolled straight-line step.
    pub fn straight_shapes(&self) -> usize {
        self.k
            .straight
            .as_ref()
            .map_or(0, straight::Straight::compiled)
    }

    /// The multiply-adds of the matrix products that the last `step` ran
    /// (each product `m · k · n`, as the plan's products were sized for the
    /// batch), or 0 before the first step.
    pub fn multiply_adds<T: Elem>(&self) -> u64 {
        self.k
            .state
            .downcast_ref::<State<T>>()
            .map_or(0, |st| st.multiply_adds)
    }

    /// How many times the last `step` placed a fold region's buffer in a
    /// carrier's or cotangent's rows instead of copying it
    /// (`Passes::in_place`), or 0 before the first step.
    pub fn placed_in_rows<T: Elem>(&self) -> u64 {
        self.k
            .state
            .downcast_ref::<State<T>>()
            .map_or(0, |st| st.placed)
    }

    /// `prepare` then `step`.
    pub fn step_examples<T: Elem>(
        &mut self,
        params: &[T],
        batch: &[Example],
        grads: &mut [T],
    ) -> Result<StepStats, JitError> {
        let b = self.prepare(batch)?;
        self.step(params, &b, grads)
    }

    /// The Cranelift IR of the kernel's fused elementwise loops, as
    /// Cranelift prints it after its verifier passed.
    pub fn clif_text(&self) -> String {
        self.k.clif_text()
    }
}

fn has_class_loss(plan: &Plan) -> bool {
    fn walk(code: &[plan::Instr]) -> bool {
        code.iter().any(|i| {
            matches!(
                i,
                plan::Instr::Loss {
                    target: plan::TargetLoc::Class(_),
                    ..
                }
            )
        })
    }
    walk(&plan.code)
}

fn part_of(r: &Repr) -> Result<Part, JitError> {
    r.part().ok_or_else(|| JitError::Unsupported {
        op: format!("a result of the form {r:?}"),
        at: None,
    })
}

/// A compiled forward function over a batch.
pub struct ForwardKernel {
    k: Kernel,
}

/// Compiles the model's forward function into a batched inference kernel.
pub fn compile_forward(
    module: &Module,
    forward: FuncId,
    opts: &Options,
) -> Result<ForwardKernel, JitError> {
    compile_forward_fused(module, forward, opts, Fusion::from_env())
}

/// `compile_forward`, with products fused with their epilogues or not (see
/// `compile_train_fused`).
pub fn compile_forward_fused(
    module: &Module,
    forward: FuncId,
    opts: &Options,
    fuse: impl Into<Fusion>,
) -> Result<ForwardKernel, JitError> {
    compile_forward_passes(
        module,
        forward,
        opts,
        Passes::new(fuse, lower::wide_enabled()),
    )
}

/// `compile_forward`, with the passes `passes` on its plan.
pub fn compile_forward_passes(
    module: &Module,
    forward: FuncId,
    opts: &Options,
    passes: Passes,
) -> Result<ForwardKernel, JitError> {
    Ok(ForwardKernel {
        k: Kernel::new(module, forward, opts, false, passes)?,
    })
}

impl ForwardKernel {
    /// The length of the flat parameter vector.
    pub fn num_params(&self) -> usize {
        self.k.plan.num_params
    }

    /// Runs the model on every input of `xs` and returns the outputs (a
    /// `List` output as a `nil`/`cons` chain).
    pub fn run<T: Elem>(&mut self, params: &[T], xs: &[Value]) -> Result<Vec<Value>, JitError> {
        let refs: Vec<&Value> = xs.iter().collect();
        self.run_refs(params, &refs)
    }

    /// `run` for inputs held elsewhere, without copying them.
    pub fn run_refs<T: Elem>(
        &mut self,
        params: &[T],
        refs: &[&Value],
    ) -> Result<Vec<Value>, JitError> {
        let batch = self.k.prepare(refs, None)?;
        if batch.is_empty() {
            self.k.check(params)?;
            return Ok(Vec::new());
        }
        self.k.run(params, &batch)?;
        let b = batch
            .inner
            .downcast_ref::<batch::Batch<T>>()
            .expect("checked by run");
        let plan = &self.k.plan;
        (0..b.rows)
            .map(|row| output::value(&self.k, &plan.output, &plan.output_type, row, params, b))
            .collect()
    }

    /// The Cranelift IR of the kernel's fused elementwise loops.
    pub fn clif_text(&self) -> String {
        self.k.clif_text()
    }
}

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod tests;
