//! E0619: a failure only a bug in cdlc can cause (a kernel that does not
//! match its model, a formatter whose output would parse differently).
//! It is reported, never hidden, with what to do: report the bug.

use cdlc::diagnostics::Diagnostic;

/// An internal error described by `what`.
pub fn diagnostic(what: impl std::fmt::Display) -> Diagnostic {
    Diagnostic::error_without_span("E0619", format!("internal error: {what}"))
        .with_note("this is a bug in cdlc, not a problem of the program")
        .with_help("please report it with the program and the command that showed it")
}
