//! A function lowered to a plan, for the tools around the JIT: the plan's
//! text form (`cdlc FILE --emit plan`) and its verifier, called by the
//! tests on every example.

use std::fmt;

use cdlc_ir::{FuncId, Module};

use super::{Plan, PlanError, print, verify};
use crate::JitError;

/// A function lowered to the JIT's plan, before any code is generated.
pub struct LoweredPlan {
    plan: Plan,
    /// Each leaf's type in the IR's text form.
    leaf_types: Vec<String>,
}

/// Lowers function `func` of `module` to a plan as the kernels do: a
/// training function (`train`, see `compile_train`) or a forward one.
pub fn lower_plan(module: &Module, func: FuncId, train: bool) -> Result<LoweredPlan, JitError> {
    wrap(module, crate::lower::lower(module, func, train)?)
}

/// `lower_plan`, with the products `fuse` selects fused with their
/// epilogues (`true` for all, `false` for none).
pub fn lower_plan_fused(
    module: &Module,
    func: FuncId,
    train: bool,
    fuse: impl Into<crate::Fusion>,
) -> Result<LoweredPlan, JitError> {
    wrap(
        module,
        crate::lower::lower_with(module, func, train, fuse.into())?,
    )
}

/// `lower_plan`, with the passes `passes` on the finished plan.
pub fn lower_plan_passes(
    module: &Module,
    func: FuncId,
    train: bool,
    passes: crate::Passes,
) -> Result<LoweredPlan, JitError> {
    wrap(
        module,
        crate::lower::lower_passes(module, func, train, passes)?,
    )
}

/// A plan with its leaves' type names.
fn wrap(module: &Module, plan: Plan) -> Result<LoweredPlan, JitError> {
    let leaf_types = plan
        .leaves
        .iter()
        .map(|l| cdlc_ir::print::type_name(module, &l.ty))
        .collect();
    Ok(LoweredPlan { plan, leaf_types })
}

impl LoweredPlan {
    /// Runs the plan verifier: every buffer access in bounds, no forbidden
    /// aliasing, everything defined before use (see `docs/jit.md`).
    pub fn verify(&self) -> Result<(), PlanError> {
        verify::verify(&self.plan).map(drop)
    }
}

impl fmt::Display for LoweredPlan {
    /// The plan's text form; buffers the verifier could not reach (after a
    /// failed check) are shown as never written.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (layouts, _) = verify::layouts(&self.plan);
        f.write_str(&print::print(&self.plan, &layouts, &self.leaf_types))
    }
}
