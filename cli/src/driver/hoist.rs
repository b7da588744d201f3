//! Hoisting element-only work out of folds (`cdlc_ir::passes::hoist`) in
//! the commands that run training steps or a model (training, `cdlc run`,
//! `cdlc bench`, `--emit plan`), chosen by `--hoist`: `off` (the default)
//! runs every model as written, `lists` hoists folds over lists, `all`
//! folds over any structure, and both the output work of every unfold
//! (`cdlc_ir::passes::hoist::unfold`); and `--emit ir-hoisted`, the
//! forward function after the passes. Off by default: measured in CPU time per step under
//! load, the hoisted W2 step was still 2–15% slower (the map's copies of
//! its fields, outputs and cotangents), W6 and W3 as fast or faster
//! (`docs/performance.md`).
//!
//! `--emit ir`, `--emit grad`, `cdlc grad`, `gradcheck` and the JAX export
//! keep the function as written: the hoisted one computes the same values
//! and gradients up to rounding (`tests/src/hoist.rs`).

use std::process::ExitCode;
use std::sync::atomic::{AtomicU8, Ordering};

use cdlc::training::Prepared;

/// Which folds the commands that run steps hoist.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// None: every model runs as written (the default).
    #[default]
    Off,
    /// Folds over lists.
    Lists,
    /// Folds over any structure.
    All,
}

/// The mode set by `--hoist`, as `Mode as u8`.
static MODE: AtomicU8 = AtomicU8::new(Mode::Off as u8);

/// Sets which folds training, `cdlc run`, `cdlc bench` and `--emit plan`
/// hoist.
pub fn set_mode(mode: Mode) {
    MODE.store(mode as u8, Ordering::Relaxed);
}

fn mode() -> Mode {
    match MODE.load(Ordering::Relaxed) {
        m if m == Mode::Lists as u8 => Mode::Lists,
        m if m == Mode::All as u8 => Mode::All,
        _ => Mode::Off,
    }
}

/// The model prepared for running steps: with its element-only work
/// hoisted as `--hoist` says, unless (under `lists`) a map is over a
/// structure other than a list, or unless the JIT cannot compile the
/// hoisted functions (a `map` it does not lower, such as one nested in a
/// fold's region), in which case it runs the model as written.
pub fn prepare(
    c: &cdlc::Compilation,
    model: cdlc::resolve::ItemId,
    loss: cdlc::check::LossKind,
) -> Result<Prepared, ExitCode> {
    let mode = mode();
    if mode != Mode::Off
        && let Ok(p) = cdlc::training::prepare_hoisted(c, model, loss)
        && (mode == Mode::All || over_lists(&p))
        && compiles(&p)
    {
        return Ok(p);
    }
    crate::prepare(c, model, loss)
}

/// Whether every map of `p`'s forward function is over a list. On a
/// binary tree a TreeRNN's leaf embedding is already one product per step
/// without the pass (all leaves are one level group), and the hoisted step
/// measured slower (`docs/performance.md`).
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
/// number of folds rewritten and, when there are any, one with the number
/// of unfolds whose output work was hoisted.
pub fn hoisted_ir(p: &Prepared) -> String {
    let mut module = p.inst.module.clone();
    let n = cdlc_ir::passes::hoist::hoist_function(&mut module, p.inst.func);
    let folds = if n == 1 { "fold" } else { "folds" };
    let mut text = format!("# element-only work hoisted out of {n} {folds}\n");
    let k = cdlc_ir::passes::hoist::unfold::hoist_function(&mut module, p.inst.func);
    if k > 0 {
        let unfolds = if k == 1 { "unfold" } else { "unfolds" };
        text += &format!("# output work hoisted out of {k} {unfolds}, mapped after it\n");
    }
    text + &cdlc_ir::print::print_function_with_data(&module, &module.functions[p.inst.func])
}
