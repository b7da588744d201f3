//! `cdlc FILE --emit plan`: the JIT's plan of the model's training function
//! in its text form (buffers with their sizes, kernels, instructions), then
//! the plan verifier's verdict.
//!
//! A model the JIT cannot lower is E0617 at the construct it stopped at, as
//! for `--emit clif`. A plan that fails the verifier is a bug in the JIT,
//! reported as an internal error (E0619) with the check's code and site
//! after the plan, so that the report carries both.

use std::process::ExitCode;

use cdlc::Compilation;
use cdlc::resolve::ItemId;
use cdlc::training::Prepared;

use crate::driver::{fallback, internal, report, stdout};

/// Prints the plan of `p`'s training function (for `model`); exit code 1
/// when the JIT cannot lower the model or the plan fails its verifier.
pub fn emit(c: &Compilation, model: ItemId, p: &Prepared) -> ExitCode {
    let plan = match cdlc_jit::lower_plan(&p.inst.module, p.train, true) {
        Ok(plan) => plan,
        Err(e) => return report::fail(fallback::error(c, model, p, &e), &c.sources, 1),
    };
    stdout::print(format_args!("{plan}"));
    match plan.verify() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => report::fail_alone(
            internal::diagnostic(format_args!("the JIT's plan fails its verifier: {e}")),
            1,
        ),
    }
}
