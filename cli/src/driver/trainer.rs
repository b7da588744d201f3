//! A model being trained: its parameters, its optimizer state and the
//! backend that runs its steps.
//!
//! `Jit` runs compiled Cranelift kernels over whole batches and keeps the
//! parameters in the kernel's element type, so a step converts nothing;
//! `Interp` runs the reference interpreter example by example (the oracle,
//! and the fallback, with warning W0901, for a model the JIT cannot compile).

use super::refusal::Refusal;
use cdlc::training::Prepared;
use cdlc_jit::{Dtype, Elem, ForwardKernel, JitError, Options, TrainKernel};
use cdlc_runtime::optim::{OptimConfig, Optimizer, first_non_finite};
use cdlc_runtime::value::{Example, Tensor, Value};

/// One model under training.
pub trait Trainer {
    /// Forward, backward and optimizer update on one batch of a data set's
    /// examples (checked against the model when the data set was read); the
    /// mean loss.
    fn step(&mut self, batch: &[&Example]) -> Result<f64, Refusal>;
    /// Forward and backward on one batch without updating the parameters:
    /// whether the backend's training function takes it (the driver asks
    /// this example by example to name the one a step refused).
    fn try_step(&mut self, batch: &[&Example]) -> Result<(), Refusal>;
    /// The model's outputs for some inputs.
    fn forward(&mut self, xs: &[&Value]) -> Result<Vec<Value>, Refusal>;
    /// The parameters, slot by slot, in f64 (for checkpoints).
    fn params(&self) -> Vec<Tensor>;
    /// Which backend runs the steps, for messages.
    fn name(&self) -> &'static str;
    /// Whether the run computes in f32, so that its checkpoints store F32.
    fn computes_f32(&self) -> bool;
    /// The first slot whose gradient (in the last step) or value holds
    /// NaN or infinity, if any.
    fn non_finite(&self) -> Option<NonFinite>;
}

/// A slot found holding NaN or infinity after a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NonFinite {
    /// Whether the gradient (rather than the parameter itself) was found so.
    pub gradient: bool,
    /// The slot's index in the model's parameter layout.
    pub slot: usize,
}

/// The slot holding flat index `at`, for slots of the given shapes.
fn slot_of(shapes: &[Vec<usize>], at: usize) -> usize {
    let mut end = 0;
    for (i, s) in shapes.iter().enumerate() {
        end += s.iter().product::<usize>();
        if at < end {
            return i;
        }
    }
    shapes.len().saturating_sub(1)
}

/// Compiled kernels; parameters and gradients in `T`.
pub struct Jit<T: Elem> {
    train: TrainKernel,
    forward: ForwardKernel,
    params: Vec<T>,
    grads: Vec<T>,
    optimizer: Optimizer<T>,
    shapes: Vec<Vec<usize>>,
}

impl<T: Elem> Jit<T> {
    /// Compiles `p`'s kernels for batches of about `batch` examples.
    pub fn new(
        p: &Prepared,
        init: &[Tensor],
        optim: OptimConfig,
        batch: usize,
    ) -> Result<Jit<T>, JitError> {
        let dtype = if std::mem::size_of::<T>() == 4 {
            Dtype::F32
        } else {
            Dtype::F64
        };
        let opts = Options { dtype, batch };
        let m = &p.inst.module;
        let train = cdlc_jit::compile_train(m, p.train, &opts)?;
        let forward = cdlc_jit::compile_forward(m, p.inst.func, &opts)?;
        let params: Vec<T> = init
            .iter()
            .flat_map(|t| t.data.iter().map(|&x| T::from_f64(x)))
            .collect();
        if params.len() != train.num_params() {
            return Err(JitError::Internal(format!(
                "the kernel has {} parameters, the model {}",
                train.num_params(),
                params.len()
            )));
        }
        Ok(Jit {
            grads: vec![T::ZERO; params.len()],
            optimizer: Optimizer::new(optim, params.len()),
            shapes: init.iter().map(|t| t.shape.clone()).collect(),
            train,
            forward,
            params,
        })
    }
}

impl<T: Elem> Trainer for Jit<T> {
    /// Training's batches come from a data set whose examples were checked
    /// when it was read (or drawn from a generator of the model's
    /// signature), so they are not checked again every step; `try_step`,
    /// which names a refused example, checks.
    fn step(&mut self, batch: &[&Example]) -> Result<f64, Refusal> {
        let prepared = self.train.prepare_checked_refs(batch)?;
        let stats = self.train.step(&self.params, &prepared, &mut self.grads)?;
        self.optimizer.step(&mut self.params, &self.grads);
        Ok(stats.loss)
    }

    fn try_step(&mut self, batch: &[&Example]) -> Result<(), Refusal> {
        let prepared = self.train.prepare_refs(batch)?;
        self.train.step(&self.params, &prepared, &mut self.grads)?;
        Ok(())
    }

    fn forward(&mut self, xs: &[&Value]) -> Result<Vec<Value>, Refusal> {
        Ok(self.forward.run_refs(&self.params, xs)?)
    }

    fn params(&self) -> Vec<Tensor> {
        let mut out = Vec::with_capacity(self.shapes.len());
        let mut at = 0;
        for s in &self.shapes {
            let n: usize = s.iter().product();
            out.push(Tensor::new(
                s.clone(),
                self.params[at..at + n].iter().map(|x| x.to_f64()).collect(),
            ));
            at += n;
        }
        out
    }

    fn name(&self) -> &'static str {
        "jit"
    }

    fn computes_f32(&self) -> bool {
        std::mem::size_of::<T>() == 4
    }

    fn non_finite(&self) -> Option<NonFinite> {
        if let Some(at) = first_non_finite(&self.grads) {
            return Some(NonFinite {
                gradient: true,
                slot: slot_of(&self.shapes, at),
            });
        }
        first_non_finite(&self.params).map(|at| NonFinite {
            gradient: false,
            slot: slot_of(&self.shapes, at),
        })
    }
}

/// A trainer on the JIT's kernels (`jit`) or the interpreter, computing in
/// f32 (`f32`) or f64: what names a refused example of a batch that a
/// command ran without a `Trainer` (`cdlc grad`, `cdlc bench`), by trying
/// its examples one by one on the same backend.
pub fn one_by_one<'p>(
    p: &'p Prepared,
    init: Vec<Tensor>,
    optim: OptimConfig,
    jit: bool,
    f32: bool,
) -> Result<Box<dyn Trainer + 'p>, JitError> {
    Ok(match (jit, f32) {
        (true, true) => Box::new(Jit::<f32>::new(p, &init, optim, 1)?),
        (true, false) => Box::new(Jit::<f64>::new(p, &init, optim, 1)?),
        (false, f32) => Box::new(Interp::new(p, init, optim, f32)),
    })
}

/// The reference interpreter, example by example, parameters in f64.
pub struct Interp<'m> {
    prepared: &'m Prepared,
    params: Vec<Tensor>,
    optimizers: Vec<Optimizer<f64>>,
    f32: bool,
    /// The first slot whose gradient in the last step was not finite.
    bad_gradient: Option<usize>,
}

impl<'m> Interp<'m> {
    /// An interpreter computing in f32 (`f32`) or f64.
    pub fn new(
        prepared: &'m Prepared,
        init: Vec<Tensor>,
        optim: OptimConfig,
        f32: bool,
    ) -> Interp<'m> {
        Interp {
            prepared,
            optimizers: init
                .iter()
                .map(|p| Optimizer::new(optim, p.data.len()))
                .collect(),
            params: init,
            f32,
            bad_gradient: None,
        }
    }
}

impl Interp<'_> {
    /// The mean loss and gradients of `batch`, parameters unchanged.
    fn loss_and_grad(&self, batch: &[&Example]) -> Result<(f64, Vec<Tensor>), Refusal> {
        let owned: Vec<Example> = batch.iter().map(|e| (*e).clone()).collect();
        let m = &self.prepared.inst.module;
        Ok(if self.f32 {
            cdlc_ir::interp::loss_and_grad_as::<f32>(m, self.prepared.train, &self.params, &owned)
        } else {
            cdlc_ir::interp::loss_and_grad(m, self.prepared.train, &self.params, &owned)
        }?)
    }
}

impl Trainer for Interp<'_> {
    fn step(&mut self, batch: &[&Example]) -> Result<f64, Refusal> {
        let (loss, grads) = self.loss_and_grad(batch)?;
        self.bad_gradient = grads
            .iter()
            .position(|g| first_non_finite(&g.data).is_some());
        for ((p, g), o) in self.params.iter_mut().zip(&grads).zip(&mut self.optimizers) {
            o.step(&mut p.data, &g.data);
        }
        Ok(loss)
    }

    fn try_step(&mut self, batch: &[&Example]) -> Result<(), Refusal> {
        self.loss_and_grad(batch).map(|_| ())
    }

    fn forward(&mut self, xs: &[&Value]) -> Result<Vec<Value>, Refusal> {
        let m = &self.prepared.inst.module;
        let f = self.prepared.inst.func;
        xs.iter()
            .map(|x| {
                if self.f32 {
                    cdlc_ir::interp::forward_as::<f32>(m, f, &self.params, x)
                } else {
                    cdlc_ir::interp::forward(m, f, &self.params, x)
                }
                .map_err(Refusal::from)
            })
            .collect()
    }

    fn params(&self) -> Vec<Tensor> {
        self.params.clone()
    }

    fn name(&self) -> &'static str {
        "interpreter"
    }

    fn computes_f32(&self) -> bool {
        self.f32
    }

    fn non_finite(&self) -> Option<NonFinite> {
        if let Some(slot) = self.bad_gradient {
            return Some(NonFinite {
                gradient: true,
                slot,
            });
        }
        self.params
            .iter()
            .position(|p| first_non_finite(&p.data).is_some())
            .map(|slot| NonFinite {
                gradient: false,
                slot,
            })
    }
}
