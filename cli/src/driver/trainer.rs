//! A model being trained: its parameters, its optimizer state and the
//! backend that runs its steps.
//!
//! `Jit` runs compiled Cranelift kernels over whole batches and keeps the
//! parameters in the kernel's element type, so a step converts nothing;
//! `Interp` runs the reference interpreter example by example (the oracle,
//! and the fallback, with warning W0901, for a model the JIT cannot compile).

use cdlc::training::Prepared;
use cdlc_jit::{Dtype, Elem, ForwardKernel, JitError, Options, TrainKernel};
use cdlc_runtime::optim::{OptimConfig, Optimizer};
use cdlc_runtime::value::{Example, Tensor, Value};

/// One model under training.
pub trait Trainer {
    /// Forward, backward and optimizer update on one batch; the mean loss.
    fn step(&mut self, batch: &[&Example]) -> Result<f64, String>;
    /// The model's outputs for some inputs.
    fn forward(&mut self, xs: &[&Value]) -> Result<Vec<Value>, String>;
    /// The parameters, slot by slot, in f64 (for checkpoints).
    fn params(&self) -> Vec<Tensor>;
    /// Which backend runs the steps, for messages.
    fn name(&self) -> &'static str;
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
    fn step(&mut self, batch: &[&Example]) -> Result<f64, String> {
        let prepared = self.train.prepare_refs(batch).map_err(|e| e.to_string())?;
        let stats = self
            .train
            .step(&self.params, &prepared, &mut self.grads)
            .map_err(|e| e.to_string())?;
        self.optimizer.step(&mut self.params, &self.grads);
        Ok(stats.loss)
    }

    fn forward(&mut self, xs: &[&Value]) -> Result<Vec<Value>, String> {
        self.forward
            .run_refs(&self.params, xs)
            .map_err(|e| e.to_string())
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
}

/// The reference interpreter, example by example, parameters in f64.
pub struct Interp<'m> {
    prepared: &'m Prepared,
    params: Vec<Tensor>,
    optimizers: Vec<Optimizer<f64>>,
    f32: bool,
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
        }
    }
}

impl Trainer for Interp<'_> {
    fn step(&mut self, batch: &[&Example]) -> Result<f64, String> {
        let owned: Vec<Example> = batch.iter().map(|e| (*e).clone()).collect();
        let m = &self.prepared.inst.module;
        let (loss, grads) = if self.f32 {
            cdlc_ir::interp::loss_and_grad_as::<f32>(m, self.prepared.train, &self.params, &owned)
        } else {
            cdlc_ir::interp::loss_and_grad(m, self.prepared.train, &self.params, &owned)
        }
        .map_err(|e| e.to_string())?;
        for ((p, g), o) in self.params.iter_mut().zip(&grads).zip(&mut self.optimizers) {
            o.step(&mut p.data, &g.data);
        }
        Ok(loss)
    }

    fn forward(&mut self, xs: &[&Value]) -> Result<Vec<Value>, String> {
        let m = &self.prepared.inst.module;
        let f = self.prepared.inst.func;
        xs.iter()
            .map(|x| {
                if self.f32 {
                    cdlc_ir::interp::forward_as::<f32>(m, f, &self.params, x)
                } else {
                    cdlc_ir::interp::forward(m, f, &self.params, x)
                }
                .map_err(|e| e.to_string())
            })
            .collect()
    }

    fn params(&self) -> Vec<Tensor> {
        self.params.clone()
    }

    fn name(&self) -> &'static str {
        "interpreter"
    }
}
