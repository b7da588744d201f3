//! Hoisting element-only work out of folds (`cdlc_ir::passes::hoist`) in
//! the commands that run training steps or a model (training, `cdlc run`,
//! `cdlc bench`) with `--hoist`, for folds over lists only; and `--emit
//! ir-hoisted`, the forward function after the pass. Off by default: the
//! hoisted steps measured slower than the model as written on every
//! workload tried (W2, W6, W1; and W3, whose small steps then leave the
//! straight-line code; `docs/performance.md`).
//!
//! `--emit ir`, `--emit grad`, `cdlc grad`, `gradcheck` and the JAX export
//! keep the function as written: the hoisted one computes the same values
//! and gradients up to rounding (`tests/src/hoist.rs`).

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use cdlc::training::Prepared;

/// Whether the commands that run steps hoist (set by `--hoist`).
static ENABLED: AtomicBool = AtomicBool::new(false);

/// Sets whether training, `cdlc run` and `cdlc bench` hoist.
pub fn set_enabled(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

/// The model prepared for running steps: with its element-only work
/// hoisted under `--hoist`, unless a map is over a structure other
/// than a list, or unless the JIT cannot compile the hoisted functions (a
/// `map` it does not lower, such as one nested in a fold's region), in
/// which case it runs the model as written.
pub fn prepare(
    c: &cdlc::Compilation,
    model: cdlc::resolve::ItemId,
    loss: cdlc::check::LossKind,
) -> Result<Prepared, ExitCode> {
    if ENABLED.load(Ordering::Relaxed)
        && let Ok(p) = cdlc::training::prepare_hoisted(c, model, loss)
        && over_lists(&p)
        && compiles(&p)
    {
        return Ok(p);
    }
    crate::prepare(c, model, loss)
}

/// Whether every map of `p`'s forward function is over a list. On a
/// binary tree a TreeRNN's leaf embedding is already one product per step
/// without the pass (all leaves are one level group), and the hoisted step
/// was measured slower (`docs/performance.md`); over lists it was not.
fn over_lists(p: &Prepared) -> bool {
    let m = &p.inst.module;
    let f = &m.functions[p.inst.func];
    f.values.keys().filter_map(|v| f.op(v)).all(|op| match op {
        cdlc_ir::Op::Map(map) => m.list_element(map.data).is_some(),
        _ => true,
    })
}

/// Whether the JIT lowers both functions of `p`.
fn compiles(p: &Prepared) -> bool {
    let m = &p.inst.module;
    cdlc_jit::lower_plan(m, p.inst.func, false).is_ok()
        && cdlc_jit::lower_plan(m, p.train, true).is_ok()
}

/// The hoisted forward function's text, after a comment line with the
/// number of folds rewritten.
pub fn hoisted_ir(p: &Prepared) -> String {
    let mut module = p.inst.module.clone();
    let n = cdlc_ir::passes::hoist::hoist_function(&mut module, p.inst.func);
    let folds = if n == 1 { "fold" } else { "folds" };
    format!(
        "# element-only work hoisted out of {n} {folds}\n{}",
        cdlc_ir::print::print_function_with_data(&module, &module.functions[p.inst.func])
    )
}
