//! The `cdlc` command line: reads files, runs the compiler, prints, and
//! hands trained models to the runtime.

use cdlc::diagnostics::{self, Severity};
use clap::{Parser, Subcommand, ValueEnum};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The CDL compiler: check, derive and train categorical deep-learning programs.
#[derive(Parser, Debug)]
#[command(name = "cdlc", version, about, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// The program to compile.
    file: Option<PathBuf>,
    /// Which stage to print, or `jit` to train.
    #[arg(long, value_enum)]
    emit: Option<Emit>,
    /// The model to print (default: the train block's model).
    #[arg(long)]
    entry: Option<String>,
    /// How to print diagnostics.
    #[arg(long, value_enum, default_value_t = MessageFormat::Human)]
    message_format: MessageFormat,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Parse, name, type- and shape-check, and lint programs.
    Check {
        /// The programs.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Also test every equivariance claim numerically.
        #[arg(long)]
        numeric: bool,
        /// How to print diagnostics.
        #[arg(long, value_enum, default_value_t = MessageFormat::Human)]
        message_format: MessageFormat,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum MessageFormat {
    Human,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Emit {
    Ast,
    Types,
    Tying,
    Ir,
    Grad,
    Clif,
    Jit,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    match cli.command {
        Some(Command::Check {
            files,
            numeric: _,
            message_format,
        }) => {
            let mut failed = false;
            for f in &files {
                match check_file(f, message_format) {
                    Ok(ok) => failed |= !ok,
                    Err(code) => return code,
                }
            }
            ExitCode::from(u8::from(failed))
        }
        None => {
            let Some(file) = cli.file else {
                eprintln!(
                    "error: no input file\n\nUsage: cdlc check FILE... | cdlc FILE --emit STAGE"
                );
                return ExitCode::from(2);
            };
            let Some(emit) = cli.emit else {
                eprintln!(
                    "error: say what to do with {}: `cdlc check FILE` or `cdlc FILE --emit jit|ast|types|...`",
                    file.display()
                );
                return ExitCode::from(2);
            };
            emit_stage(&file, emit, cli.entry.as_deref(), cli.message_format)
        }
    }
}

/// Reads a program, or explains why it cannot.
fn read(path: &Path) -> Result<String, ExitCode> {
    std::fs::read_to_string(path).map_err(|e| {
        eprintln!("error: cannot read {}: {e}", path.display());
        ExitCode::from(2)
    })
}

/// Prints the diagnostics of a compilation.
fn report(c: &cdlc::Compilation, format: MessageFormat) {
    match format {
        MessageFormat::Human => {
            let color = std::io::stderr().is_terminal();
            eprint!(
                "{}",
                diagnostics::render_human(&c.diagnostics, &c.sources, color)
            );
        }
        MessageFormat::Json => print!("{}", diagnostics::render_json(&c.diagnostics, &c.sources)),
    }
}

/// Checks one file; `Ok(true)` when it has no errors.
fn check_file(path: &Path, format: MessageFormat) -> Result<bool, ExitCode> {
    let text = read(path)?;
    let c = cdlc::compile(&path.display().to_string(), &text);
    report(&c, format);
    Ok(!c.diagnostics.iter().any(|d| d.severity == Severity::Error))
}

fn emit_stage(path: &Path, emit: Emit, entry: Option<&str>, format: MessageFormat) -> ExitCode {
    let text = match read(path) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let c = cdlc::compile(&path.display().to_string(), &text);
    report(&c, format);
    if emit == Emit::Ast {
        println!("{:#?}", c.program.files[0].ast);
        return ExitCode::from(u8::from(c.has_errors()));
    }
    if c.has_errors() {
        return ExitCode::from(1);
    }
    match emit {
        Emit::Types => {
            print!("{}", cdlc::emit::types::print(&c.program, &c.checked));
            ExitCode::SUCCESS
        }
        Emit::Ir => {
            let model = match cdlc::entry_model(&c, entry) {
                Ok(m) => m,
                Err(msg) => {
                    eprintln!("error: {msg}");
                    return ExitCode::from(2);
                }
            };
            match cdlc::instantiate::instantiate(&c.program, &c.checked, model) {
                Ok(inst) => {
                    print!("{}", cdlc_ir::print::print_module(&inst.module));
                    ExitCode::SUCCESS
                }
                Err(u) => {
                    let (line, col) = c.sources.line_col(u.span.file, u.span.start);
                    eprintln!(
                        "error: not supported yet: {} ({}:{line}:{col})",
                        u.what,
                        c.sources.name(u.span.file)
                    );
                    ExitCode::from(1)
                }
            }
        }
        other => {
            eprintln!(
                "error: `--emit {}` is not built yet",
                format!("{other:?}").to_lowercase()
            );
            ExitCode::from(2)
        }
    }
}
