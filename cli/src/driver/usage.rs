//! Errors in how a command was called: a missing or out-of-range argument
//! (E0613), a train block the program does not have (E0614), a model it
//! does not have (E0615). Their wording lives here; every one exits 2.
//!
//! Clap reports what it can check itself (an unknown flag, a value that is
//! not a number) before any of these.

use cdlc::diagnostics::Diagnostic;
use cdlc_grammar::Span;

/// The exit code of every usage error.
pub const EXIT: u8 = 2;

/// A command called in a way it cannot run.
#[derive(Clone, Debug)]
pub enum UsageError {
    /// `cdlc` without a file or a subcommand.
    NoInputFile,
    /// `cdlc FILE` without `--emit`.
    NoEmit {
        /// The file given.
        file: String,
    },
    /// A whole-number option below its smallest value (`--steps 0`).
    TooSmall {
        /// The option, as written on the command line.
        option: &'static str,
        /// Its smallest value.
        least: usize,
        /// The value given.
        found: usize,
    },
    /// An option that must be a non-negative number of seconds.
    NotSeconds {
        /// The option, as written on the command line.
        option: &'static str,
        /// The value given.
        found: f64,
    },
    /// An environment variable the command reads holds a value it cannot
    /// use (`CDLC_THREADS=two`).
    BadVariable {
        /// The variable's name.
        name: &'static str,
        /// Why its value was refused (the parser's words).
        why: String,
    },
    /// `--train NAME` names no train block, or the command needs a train
    /// block and the program has none.
    NoTrainBlock {
        /// The command, as the user typed it (`cdlc bench`).
        command: &'static str,
        /// The name asked for, if any.
        name: Option<String>,
        /// The models the program's train blocks train, in order.
        blocks: Vec<String>,
    },
    /// No model to work on: `--entry NAME` names none, or the program has
    /// none or several and no train block (the message is the compiler's).
    NoModel {
        /// Why, as `cdlc::entry_model` words it.
        why: String,
    },
}

impl UsageError {
    /// The error as a diagnostic. A train block asked for by name is
    /// labelled at the program's first train block, when it has one.
    pub fn to_diagnostic(&self, first_block: Option<Span>) -> Diagnostic {
        match self {
            UsageError::NoInputFile => Diagnostic::error_without_span(
                "E0613",
                "no input file: expected a program to compile, found none",
            )
            .with_help("run `cdlc check FILE...` to check programs, or `cdlc FILE --emit STAGE`"),
            UsageError::NoEmit { file } => Diagnostic::error_without_span(
                "E0613",
                format!("say what to do with {file}: expected `--emit STAGE` or a subcommand, found neither"),
            )
            .with_help(format!(
                "`cdlc check {file}` checks it; `cdlc {file} --emit jit` trains it; --emit also takes ast, types, tying, ir, grad, clif and jax"
            )),
            UsageError::TooSmall {
                option,
                least,
                found,
            } => Diagnostic::error_without_span(
                "E0613",
                format!("`{option}` must be at least {least}, found {found}"),
            )
            .with_help(format!("give `{option} {least}` or more")),
            UsageError::NotSeconds { option, found } => Diagnostic::error_without_span(
                "E0613",
                format!("`{option}` must be a non-negative number of seconds, found {found}"),
            )
            .with_help(format!("give `{option} 0` or a positive number of seconds")),
            UsageError::BadVariable { name, why } => Diagnostic::error_without_span(
                "E0613",
                format!("the environment variable `{name}` cannot be used: {why}"),
            )
            .with_help(format!("set `{name}` to a valid value, or unset it")),
            UsageError::NoTrainBlock {
                command,
                name,
                blocks,
            } => no_train_block(command, name.as_deref(), blocks, first_block),
            UsageError::NoModel { why } => Diagnostic::error_without_span(
                "E0615",
                format!("no model to work on: {why}"),
            )
            .with_help("name a model of the program with `--entry NAME`"),
        }
    }
}

/// E0614: the wording of a missing train block.
fn no_train_block(
    command: &str,
    name: Option<&str>,
    blocks: &[String],
    first_block: Option<Span>,
) -> Diagnostic {
    let help = "add `train MODEL { data = ..., loss = ... }` to the program";
    let (Some(name), Some(span)) = (name, first_block) else {
        let message = match name {
            Some(name) => format!(
                "`--train {name}`: expected a train block for the model `{name}`, but this program has no train block"
            ),
            None => format!(
                "`{command}` needs a train block (its loss and data), but this program has none"
            ),
        };
        return Diagnostic::error_without_span("E0614", message).with_help(help);
    };
    let known = blocks
        .iter()
        .map(|b| format!("`{b}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let d = Diagnostic::error(
        "E0614",
        format!(
            "`--train {name}`: expected one of the train blocks {known}, found no train block for `{name}`"
        ),
        span,
        "the first train block",
    );
    match cdlc::diagnostics::closest(name, blocks.iter().map(String::as_str)) {
        Some(close) => d.with_help(format!("did you mean `--train {close}`?")),
        None => d.with_help(format!(
            "name the model of one of the train blocks ({known}), or add a train block for `{name}`"
        )),
    }
}

/// The train block `name` selects (or the first), or E0614 printed and
/// the usage exit code; `command` is the command as the user typed it.
pub fn train_block<'c>(
    c: &'c cdlc::Compilation,
    name: Option<&str>,
    command: &'static str,
) -> Result<&'c cdlc::check::TrainSetup, std::process::ExitCode> {
    cdlc::train_block(c, name).ok_or_else(|| {
        let blocks = c
            .checked
            .trains
            .iter()
            .map(|t| t.model_name.clone())
            .collect();
        let e = UsageError::NoTrainBlock {
            command,
            name: name.map(str::to_string),
            blocks,
        };
        let first = c.checked.trains.first().map(|t| t.model_span);
        super::report::fail(e.to_diagnostic(first), &c.sources, EXIT)
    })
}

/// A command line clap refused (an unknown flag, a value that is not a
/// number) as E0613: clap's first line is the message, its tips are the
/// help and its usage line is a note, so `--message-format json` sees it
/// too.
pub fn clap_error(e: &clap::Error) -> Diagnostic {
    let text = e.render().to_string();
    let mut message = String::new();
    let (mut tips, mut notes) = (Vec::new(), Vec::new());
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let trimmed = line.trim();
        if let Some(tip) = trimmed.strip_prefix("tip: ") {
            tips.push(tip.to_string());
        } else if message.is_empty() {
            message = trimmed
                .strip_prefix("error: ")
                .unwrap_or(trimmed)
                .to_string();
        } else if line.starts_with(' ') && notes.is_empty() {
            // An indented line continues the message (the arguments that
            // are missing, one per line).
            message = format!("{message} {trimmed}");
        } else if !trimmed.starts_with("For more information") {
            notes.push(trimmed.to_string());
        }
    }
    if tips.is_empty() {
        tips.push("see `cdlc --help`, or `cdlc COMMAND --help`".to_string());
    }
    let d = Diagnostic::error_without_span("E0613", message).with_help(tips.join("; "));
    notes.into_iter().fold(d, Diagnostic::with_note)
}

/// The format `--message-format` asks for, read from the raw arguments
/// (for a command line clap could not parse).
pub fn format_in(args: &[String]) -> crate::MessageFormat {
    let json = args.iter().enumerate().any(|(i, a)| {
        a == "--message-format=json"
            || (a == "--message-format" && args.get(i + 1).is_some_and(|v| v == "json"))
    });
    if json {
        crate::MessageFormat::Json
    } else {
        crate::MessageFormat::Human
    }
}
