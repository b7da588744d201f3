//! Where a training step runs: the reference interpreter (in f64 or f32)
//! or compiled kernels.

use cdlc_ir::interp;
use cdlc_runtime::value::{Example, Tensor, Value};

/// Runs a model's forward and training functions on examples.
pub trait Backend {
    /// The mean loss over `batch` and the mean gradient of every slot.
    fn loss_and_grad(
        &mut self,
        params: &[Tensor],
        batch: &[&Example],
    ) -> Result<(f64, Vec<Tensor>), String>;
    /// The model's output for one input.
    fn forward(&mut self, params: &[Tensor], x: &Value) -> Result<Value, String>;
}

/// The reference interpreter.
pub struct Interp<'m> {
    /// The module.
    pub module: &'m cdlc_ir::Module,
    /// The forward function.
    pub forward: cdlc_ir::FuncId,
    /// The training function.
    pub train: cdlc_ir::FuncId,
    /// Compute in f32 instead of f64.
    pub f32: bool,
}

impl Backend for Interp<'_> {
    fn loss_and_grad(
        &mut self,
        params: &[Tensor],
        batch: &[&Example],
    ) -> Result<(f64, Vec<Tensor>), String> {
        let owned: Vec<Example> = batch.iter().map(|e| (*e).clone()).collect();
        let r = if self.f32 {
            interp::loss_and_grad_as::<f32>(self.module, self.train, params, &owned)
        } else {
            interp::loss_and_grad(self.module, self.train, params, &owned)
        };
        r.map_err(|e| e.to_string())
    }

    fn forward(&mut self, params: &[Tensor], x: &Value) -> Result<Value, String> {
        let r = if self.f32 {
            interp::forward_as::<f32>(self.module, self.forward, params, x)
        } else {
            interp::forward(self.module, self.forward, params, x)
        };
        r.map_err(|e| e.to_string())
    }
}
