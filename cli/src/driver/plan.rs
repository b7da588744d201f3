//! `cdlc FILE --emit plan`: the JIT's plan of the model's training function
//! in its text form (buffers with their sizes, kernels, instructions), then
//! the plan verifier's verdict.
//!
//! A plan that fails the verifier is a bug in the JIT, reported as an
//! internal error with the check's code and site after the plan, so that
//! the report carries both.

use std::process::ExitCode;

use cdlc::training::Prepared;

use crate::driver::stdout;

/// Prints the plan of `p`'s training function; exit code 1 when the JIT
/// cannot lower the model or the plan fails its verifier.
pub fn emit(p: &Prepared) -> ExitCode {
    let plan = match cdlc_jit::lower_plan(&p.inst.module, p.train, true) {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    stdout::print(format_args!("{plan}"));
    match plan.verify() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("internal error: the JIT's plan fails its verifier: {e}");
            ExitCode::from(1)
        }
    }
}
