//! `--emit ir-hoisted`: the model's forward function after the hoisting
//! pass (`cdlc_ir::passes::hoist`), with a header line saying how many folds
//! it rewrote.
//!
//! `--emit ir` keeps printing the function training and the JIT run, which
//! is the function before the pass: the pass has no reverse derivative or
//! JIT lowering yet, so it is not part of that pipeline.

use cdlc::training::Prepared;

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
