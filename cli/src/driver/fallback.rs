//! W0901: a model the JIT cannot compile runs on the reference interpreter,
//! and the user is told which construct keeps it there and where it is.

use cdlc::Compilation;
use cdlc::diagnostics::Diagnostic;
use cdlc::training::Prepared;
use cdlc_jit::{JitError, Options};

/// The warning for a model whose kernels failed to compile with `error`:
/// at the recursion op (`fold`, `hylo`, `unfold`) the JIT stopped at when
/// it can be located in the model's forward function, else at the model.
pub fn warning(
    c: &Compilation,
    model: cdlc::resolve::ItemId,
    p: &Prepared,
    error: &JitError,
) -> Diagnostic {
    let what = match error {
        JitError::Unsupported { op, .. } => op.clone(),
        other => other.to_string(),
    };
    let located = located(p).and_then(|v| p.inst.span_of(v));
    let span = located.unwrap_or(c.program.item(model).span);
    let label = if located.is_some() {
        format!("the JIT cannot compile {what} here")
    } else {
        format!("the JIT cannot compile {what} in this model")
    };
    Diagnostic::warning(
        "W0901",
        format!("this model runs on the reference interpreter: the JIT does not compile {what}"),
        span,
        label,
    )
    .with_note("the results are the same; steps are slower, one example at a time")
    .with_help("use `--backend interp` to choose the interpreter and silence this warning")
}

/// The recursion op of the forward function that the JIT stops at, if it
/// stops at a located op there (the training function's ops are new values,
/// so the forward function is compiled to find it).
fn located(p: &Prepared) -> Option<cdlc_ir::Value> {
    let opts = Options {
        dtype: cdlc_jit::Dtype::F64,
        batch: 1,
    };
    match cdlc_jit::compile_forward(&p.inst.module, p.inst.func, &opts) {
        Err(JitError::Unsupported { at, .. }) => at,
        _ => None,
    }
}
