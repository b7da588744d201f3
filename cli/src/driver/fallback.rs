//! The JIT's refusals as diagnostics, worded here only. In training and
//! `cdlc run`, a model the JIT cannot compile runs on the reference
//! interpreter with W0901 saying which construct keeps it there and where
//! it is; a command that needs the JIT reports the same refusal as an
//! error (`error`).

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

/// A JIT failure where the command needs the JIT (`--emit clif`, and
/// `--backend jit` of `grad`, `bench` and `gradcheck`): E0617 for a
/// construct it does not compile yet (located as for W0901), E0603 for
/// data the compiled kernels cannot take, E0619 for a bug in the JIT.
pub fn error(
    c: &Compilation,
    model: cdlc::resolve::ItemId,
    p: &Prepared,
    error: &JitError,
) -> Diagnostic {
    match error {
        JitError::Unsupported { op, .. } => {
            let located = located(p).and_then(|v| p.inst.span_of(v));
            let span = located.unwrap_or(c.program.item(model).span);
            let label = if located.is_some() {
                format!("the JIT cannot compile {op} here")
            } else {
                format!("the JIT cannot compile {op} in this model")
            };
            Diagnostic::error(
                "E0617",
                format!("not supported yet: the JIT does not compile {op}"),
                span,
                label,
            )
            .with_note("the reference interpreter runs this model")
            .with_help("`--emit clif` and `--backend jit` need the JIT: use `--backend interp` to train, time or check the model on the interpreter")
        }
        JitError::Data(e) => super::refusal::diagnostic(
            super::refusal::Which::Batch,
            &super::refusal::Refusal::Example(e.clone()),
            Some(c.program.item(model).span),
        ),
        JitError::Mismatch(m) | JitError::Internal(m) => super::internal::diagnostic(m),
    }
}
