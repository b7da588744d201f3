//! The one place the command line prints diagnostics.
//!
//! Every failure of every command is a `Diagnostic` (its stage's error
//! enum turned into one by that stage's own function) and is printed here,
//! in the format `--message-format` chose: ariadne reports on standard
//! error for people, or JSON lines for editors. `cdlc check`'s JSON lines
//! are its output and go to standard output; every other command keeps
//! standard output for its results (IR, model outputs, a report), so its
//! JSON lines go to standard error.

use crate::MessageFormat;
use cdlc::diagnostics::{self, Diagnostic};
use cdlc::source::Sources;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::OnceLock;

/// How diagnostics are printed, chosen once from the command line.
#[derive(Clone, Copy, Debug)]
struct Settings {
    format: MessageFormat,
    json_on_stdout: bool,
}

static SETTINGS: OnceLock<Settings> = OnceLock::new();

/// Chooses the format for the whole run; `json_on_stdout` when JSON lines
/// are the command's output (`cdlc check`). Later calls change nothing.
pub fn configure(format: MessageFormat, json_on_stdout: bool) {
    let _ = SETTINGS.set(Settings {
        format,
        json_on_stdout,
    });
}

fn settings() -> Settings {
    SETTINGS.get().copied().unwrap_or(Settings {
        format: MessageFormat::Human,
        json_on_stdout: false,
    })
}

/// The format diagnostics are printed in.
pub fn format() -> MessageFormat {
    settings().format
}

/// Prints diagnostics whose spans lie in `sources`.
pub fn print(diags: &[Diagnostic], sources: &Sources) {
    let s = settings();
    match s.format {
        MessageFormat::Json if s.json_on_stdout => {
            super::stdout::print(format_args!("{}", diagnostics::render_json(diags, sources)))
        }
        _ => print_on_stderr(diags, sources),
    }
}

/// Prints diagnostics on standard error whatever the command: for a
/// failure of standard output itself.
pub fn print_on_stderr(diags: &[Diagnostic], sources: &Sources) {
    match settings().format {
        MessageFormat::Human => {
            let color = std::io::stderr().is_terminal();
            eprint!("{}", diagnostics::render_human(diags, sources, color));
        }
        MessageFormat::Json => eprint!("{}", diagnostics::render_json(diags, sources)),
    }
}

/// Prints one failure about a program in `sources` and gives the exit
/// code `exit`.
pub fn fail(d: Diagnostic, sources: &Sources, exit: u8) -> ExitCode {
    print(&[d], sources);
    ExitCode::from(exit)
}

/// Prints one failure that is about no program (arguments, files read
/// before any program) and gives the exit code `exit`. The diagnostic has
/// no span: there are no sources for one to point into.
pub fn fail_alone(d: Diagnostic, exit: u8) -> ExitCode {
    debug_assert!(
        d.primary_span().is_none(),
        "a diagnostic printed without its program has no span: {}",
        d.message
    );
    fail(d, &Sources::new(), exit)
}
