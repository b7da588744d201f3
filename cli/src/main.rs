//! The `cdlc` command line: reads files, runs the compiler library, prints,
//! and hands models to the runtime to train and run. The only crate that
//! touches the terminal, parses arguments or serves the language server.

mod driver;

use cdlc::diagnostics::Severity;
use cdlc::training::Prepared;
use clap::{Args, Parser, Subcommand, ValueEnum};
use driver::files::FileError;
use driver::report;
use driver::train::Overrides;
use driver::trainer::{Jit, Trainer};
use driver::usage::UsageError;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The CDL compiler: check, derive and train categorical deep-learning programs.
#[derive(Parser, Debug)]
#[command(name = "cdlc", version, about, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// The program to compile.
    file: Option<PathBuf>,
    /// Which stage to print (`ast`, `types`, `tying`, `ir`, `grad`, `clif`), `jit` to train, or `jax` to export.
    #[arg(long, value_enum)]
    emit: Option<Emit>,
    /// The model to print (default: the train block's model).
    #[arg(long)]
    entry: Option<String>,
    /// The train block to run (by its model's name; default: the first).
    #[arg(long)]
    train: Option<String>,
    /// Train on this `.jsonl` file instead of the train block's data.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Override the train block's number of epochs.
    #[arg(long)]
    epochs: Option<u64>,
    /// Where to write weights, metrics and the loss plot (default: out/MODEL).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Train on examples transformed by random elements of this declared group.
    #[arg(long)]
    augment: Option<String>,
    #[command(flatten)]
    exec: ExecArgs,
    /// How to print diagnostics and errors (any command; JSON lines go to standard error, except for `check`).
    #[arg(long, value_enum, global = true, default_value_t = MessageFormat::Human)]
    message_format: MessageFormat,
}

/// How models are executed.
#[derive(Args, Debug, Clone)]
struct ExecArgs {
    /// Where training steps run: compiled kernels, or the reference interpreter.
    #[arg(long, value_enum, default_value_t = ExecBackend::Jit)]
    backend: ExecBackend,
    /// The floating-point type of training.
    #[arg(long, value_enum, default_value_t = Dtype::F32)]
    dtype: Dtype,
    /// Threads for large kernels: `auto` (the default: measured per kind of kernel), or N (any command).
    #[arg(long, global = true)]
    threads: Option<cdlc_runtime::threads::Threads>,
    /// Which folds' element-only work runs once over all nodes before the fold (training,
    /// `run`, `bench`, `--emit plan`); off by default, as it measured slower on W2.
    #[arg(long, value_enum, global = true, default_value_t = driver::hoist::Mode::Off)]
    hoist: driver::hoist::Mode,
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
    },
    /// Compare the reverse derivative of the loss with finite differences.
    Gradcheck {
        /// The program.
        file: PathBuf,
        /// The model (default: the train block's model).
        #[arg(long)]
        entry: Option<String>,
        /// Where the derivative is computed.
        #[arg(long, value_enum, default_value_t = GradBackend::Interp)]
        backend: GradBackend,
        /// How many examples to check on.
        #[arg(long, default_value_t = 3)]
        samples: usize,
        /// How many parameter entries to compare one by one (spread over the slots).
        #[arg(long, default_value_t = 64)]
        coords: usize,
    },
    /// Time full training steps (forward, backward, update) on one fixed batch.
    Bench(driver::bench::BenchArgs),
    /// The mean loss and every parameter's gradient on one batch (a `.jsonl` file).
    Grad(driver::grad::GradArgs),
    /// Write a train block's data (also the built-in synthetic sets) as JSON lines.
    Data(driver::write_data::DataArgs),
    /// Run a trained model on inputs and print one JSON output per line.
    Run {
        /// The program.
        file: PathBuf,
        /// The weights written by training.
        #[arg(long)]
        weights: PathBuf,
        /// A `.jsonl` file with one `{"x": ...}` per line.
        #[arg(long)]
        input: PathBuf,
        /// The model (default: the train block's model).
        #[arg(long)]
        entry: Option<String>,
    },
    /// Measure how equivariant a trained model is under a declared group.
    Measure(driver::measure::MeasureArgs),
    /// Serve the Language Server Protocol on standard input and output.
    Lsp,
    /// Rewrite programs in the canonical layout (`--check`: only report).
    Fmt(driver::fmt::FmtArgs),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum MessageFormat {
    Human,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Dtype {
    F32,
    F64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum GradBackend {
    Interp,
    Jit,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ExecBackend {
    Jit,
    Interp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Emit {
    Ast,
    Types,
    /// The checked program's bodies, resolved and typed (ARCHITECTURE.md).
    Hir,
    Tying,
    Ir,
    /// The forward IR after hoisting folds' element-only work into maps.
    IrHoisted,
    Grad,
    Clif,
    /// The JIT's plan of the training function (see docs/jit.md).
    Plan,
    Jit,
    /// A Python module for JAX (`--out model.py`; see docs/export.md).
    Jax,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if e.use_stderr() => {
            let args: Vec<String> = std::env::args().collect();
            report::configure(driver::usage::format_in(&args), false);
            return report::fail_alone(driver::usage::clap_error(&e), driver::usage::EXIT);
        }
        Err(e) => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
    };
    // Whether large kernels use a second thread is measured while steps run
    // unless `--threads` (or the CDLC_THREADS variable) fixes it.
    let check = matches!(cli.command, Some(Command::Check { .. }));
    report::configure(cli.message_format, check);
    let threads = match (cli.exec.threads, std::env::var("CDLC_THREADS")) {
        (Some(n), _) => n,
        (None, Ok(v)) => match v.parse() {
            Ok(n) => n,
            Err(why) => {
                let e = driver::usage::UsageError::BadVariable {
                    name: "CDLC_THREADS",
                    why,
                };
                return report::fail_alone(e.to_diagnostic(None), driver::usage::EXIT);
            }
        },
        (None, Err(_)) => cdlc_runtime::threads::Threads::Auto,
    };
    cdlc_runtime::threads::set_mode(threads);
    driver::hoist::set_mode(cli.exec.hoist);
    match cli.command {
        Some(Command::Check { files, numeric }) => {
            let mut failed = false;
            for f in &files {
                match load(f) {
                    Ok(c) if numeric && !c.has_errors() => {
                        failed |= !check_numeric(&c, f, cli.exec.dtype == Dtype::F32);
                    }
                    Ok(c) => failed |= c.has_errors(),
                    Err(code) => return code,
                }
            }
            ExitCode::from(u8::from(failed))
        }
        Some(Command::Gradcheck {
            file,
            entry,
            backend,
            samples,
            coords,
        }) => gradcheck(
            &file,
            entry.as_deref(),
            (samples, coords),
            backend == GradBackend::Jit,
        )
        .unwrap_or_else(|code| code),
        Some(Command::Bench(args)) => driver::bench::main(&args),
        Some(Command::Grad(args)) => driver::grad::main(&args),
        Some(Command::Data(args)) => driver::write_data::main(&args),
        Some(Command::Measure(args)) => driver::measure::main(&args),
        Some(Command::Run {
            file,
            weights,
            input,
            entry,
        }) => run(&file, &weights, &input, entry.as_deref(), cli.exec.dtype)
            .unwrap_or_else(|code| code),
        Some(Command::Fmt(args)) => driver::fmt::main(&args),
        Some(Command::Lsp) => match cdlc_cli::lsp::serve() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => report::fail_alone(
                FileError::Stream {
                    what: "the language server's connection",
                    error: e.to_string(),
                    help: "restart the language server from the editor",
                }
                .to_diagnostic(),
                1,
            ),
        },
        None => {
            let usage =
                |e: UsageError| report::fail_alone(e.to_diagnostic(None), driver::usage::EXIT);
            let Some(file) = cli.file.clone() else {
                return usage(UsageError::NoInputFile);
            };
            let Some(emit) = cli.emit else {
                return usage(UsageError::NoEmit {
                    file: file.display().to_string(),
                });
            };
            emit_stage(&file, emit, &cli).unwrap_or_else(|code| code)
        }
    }
}

/// Reads and compiles a program, printing its diagnostics. `Err` is the
/// exit code when the file cannot be read.
fn load(path: &Path) -> Result<cdlc::Compilation, ExitCode> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| report::fail_alone(FileError::read(path, e).to_diagnostic(), 2))?;
    let c = cdlc::compile(&path.display().to_string(), &text);
    report::print(&c.diagnostics, &c.sources);
    Ok(c)
}

/// Tests every equivariance claim of a program numerically and prints the
/// largest relative error of each; false when one exceeds its tolerance.
fn check_numeric(c: &cdlc::Compilation, path: &Path, f32: bool) -> bool {
    let mut ok = true;
    for r in cdlc::equivariance::numeric::check_claims(c, f32, 0) {
        match &r.outcome {
            Ok(e) => {
                let verdict = if r.passed() { "ok" } else { "FAILED" };
                driver::stdout::print(format_args!(
                    "{}: {} {}: largest relative error {e:.2e} (tolerance {:.0e}) {verdict}\n",
                    path.display(),
                    r.name,
                    r.claim,
                    r.tolerance
                ));
            }
            Err(why) => driver::stdout::print(format_args!(
                "{}: {} {}: not tested: {why}\n",
                path.display(),
                r.name,
                r.claim
            )),
        }
        ok &= r.passed();
    }
    ok
}

/// Compiles a program that must have no errors.
fn load_clean(path: &Path) -> Result<cdlc::Compilation, ExitCode> {
    let c = load(path)?;
    if c.diagnostics.iter().any(|d| d.severity == Severity::Error) {
        return Err(ExitCode::from(1));
    }
    Ok(c)
}

/// The model a command works on.
fn entry(c: &cdlc::Compilation, entry: Option<&str>) -> Result<cdlc::resolve::ItemId, ExitCode> {
    cdlc::entry_model(c, entry).map_err(|why| {
        let d = UsageError::NoModel { why }.to_diagnostic(None);
        report::fail(d, &c.sources, driver::usage::EXIT)
    })
}

/// Instantiates a model and derives its training function, or explains why not.
fn prepare(
    c: &cdlc::Compilation,
    model: cdlc::resolve::ItemId,
    loss: cdlc::check::LossKind,
) -> Result<Prepared, ExitCode> {
    cdlc::training::prepare(c, model, loss).map_err(|e| {
        let d = e.to_diagnostic(c.program.item(model).span);
        report::fail(d, &c.sources, 1)
    })
}

/// The outcome of a command: `Err` is the exit code of a command stopped
/// early (its message already printed), `Ok` the exit code it finished with.
type Exit = Result<ExitCode, ExitCode>;

/// Instantiates the model `entry_name` (default: the train block's) with
/// its loss, or explains why not.
fn prepare_entry(c: &cdlc::Compilation, entry_name: Option<&str>) -> Result<Prepared, ExitCode> {
    let model = entry(c, entry_name)?;
    prepare(c, model, cdlc::training::loss_for(c, model))
}

fn emit_stage(path: &Path, emit: Emit, cli: &Cli) -> Exit {
    let c = load(path)?;
    if emit == Emit::Ast {
        driver::stdout::print(format_args!(
            "{}\n",
            cdlc::emit::ast::ast(&c.program.files[0].ast)
        ));
        return Ok(ExitCode::from(u8::from(c.has_errors())));
    }
    if c.has_errors() {
        return Ok(ExitCode::from(1));
    }
    Ok(match emit {
        Emit::Types => {
            driver::stdout::print(format_args!(
                "{}",
                cdlc::emit::types::print(&c.program, &c.checked)
            ));
            ExitCode::SUCCESS
        }
        Emit::Hir => {
            let text = cdlc::hir::print(&c.checked.hir, &c.program, &c.checked);
            driver::stdout::print(format_args!("{text}"));
            ExitCode::SUCCESS
        }
        Emit::Ir | Emit::Grad => {
            let p = prepare_entry(&c, cli.entry.as_deref())?;
            let f = if emit == Emit::Ir {
                p.inst.func
            } else {
                p.train
            };
            driver::stdout::print(format_args!(
                "{}",
                cdlc_ir::print::print_function_with_data(
                    &p.inst.module,
                    &p.inst.module.functions[f]
                )
            ));
            ExitCode::SUCCESS
        }
        Emit::IrHoisted => {
            let p = prepare_entry(&c, cli.entry.as_deref())?;
            driver::stdout::print(format_args!("{}", driver::hoist::hoisted_ir(&p)));
            ExitCode::SUCCESS
        }
        Emit::Tying if c.tyings.params.is_empty() => {
            driver::stdout::print(format_args!(
                "no parameter is declared `equivariant` or `invariant`: there is no weight tying to derive\n"
            ));
            ExitCode::SUCCESS
        }
        Emit::Tying => {
            driver::stdout::print(format_args!("{}", c.tyings.render()));
            ExitCode::SUCCESS
        }
        Emit::Jit => train(&c, path, cli)?,
        Emit::Plan => {
            let model = entry(&c, cli.entry.as_deref())?;
            let p = driver::hoist::prepare(&c, model, cdlc::training::loss_for(&c, model))?;
            driver::plan::emit(&c, model, &p)
        }
        Emit::Jax => driver::export::emit(&c, path, cli.train.as_deref(), cli.out.as_deref()),
        Emit::Clif => {
            let model = entry(&c, cli.entry.as_deref())?;
            let p = prepare(&c, model, cdlc::training::loss_for(&c, model))?;
            let dtype = match cli.exec.dtype {
                Dtype::F32 => cdlc_jit::Dtype::F32,
                Dtype::F64 => cdlc_jit::Dtype::F64,
            };
            let opts = cdlc_jit::Options { dtype, batch: 32 };
            match cdlc_jit::compile_train(&p.inst.module, p.train, &opts) {
                Ok(k) => {
                    driver::stdout::print(format_args!("{}", k.clif_text()));
                    ExitCode::SUCCESS
                }
                Err(e) => report::fail(driver::fallback::error(&c, model, &p, &e), &c.sources, 1),
            }
        }
        Emit::Ast => unreachable!("the syntax tree is printed before checking"),
    })
}

fn train(c: &cdlc::Compilation, path: &Path, cli: &Cli) -> Exit {
    let setup = driver::usage::train_block(c, cli.train.as_deref(), "cdlc FILE --emit jit")?;
    let prepared = driver::hoist::prepare(c, setup.model, setup.loss)?;
    if let Err(d) = driver::memory::fits(&prepared, setup, cli.exec.dtype == Dtype::F32) {
        return Ok(report::fail(d, &c.sources, 1));
    }
    let init = cdlc::training::init_params(&prepared.inst, setup.seed);
    let optim = setup.optim;
    let fit = (c, setup.model);
    let mut trainer = make_trainer(&prepared, init, optim, setup.batch as usize, &cli.exec, fit);
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        // Without a handler Ctrl-C still stops the run, just without the
        // message; the files of the last completed epoch are intact either way.
        let _ = ctrlc::set_handler(move || stop.store(true, Ordering::Relaxed));
    }
    let overrides = Overrides {
        epochs: cli.epochs,
        data: cli.data.clone(),
        out: cli.out.clone(),
        augment: cli.augment.clone(),
    };
    let progress = driver::progress::bar_wanted();
    driver::progress::emit(&driver::progress::Event::Start {
        model: &setup.model_name,
        backend: trainer.name(),
        parameters: (prepared.inst.slots.iter())
            .map(|s| s.shape.iter().product::<usize>())
            .sum(),
        slots: prepared.inst.slots.len(),
    });
    Ok(
        match driver::train::run(
            c,
            setup,
            &prepared,
            trainer.as_mut(),
            path,
            &overrides,
            stop,
            progress,
        ) {
            Ok(s) => {
                driver::progress::emit(&driver::progress::Event::Finished(&s));
                ExitCode::SUCCESS
            }
            Err(e) => report::fail(e.to_diagnostic(setup), &c.sources, 1),
        },
    )
}

/// Compiled kernels in the chosen dtype, or the interpreter when asked for
/// or when the JIT cannot compile the model (with warning W0901 saying why,
/// reported for `model` of the compilation in `fit`).
fn make_trainer<'p>(
    prepared: &'p Prepared,
    init: Vec<cdlc_runtime::value::Tensor>,
    optim: cdlc_runtime::optim::OptimConfig,
    batch: usize,
    exec: &ExecArgs,
    fit: (&cdlc::Compilation, cdlc::resolve::ItemId),
) -> Box<dyn Trainer + 'p> {
    if exec.backend == ExecBackend::Jit {
        let jit: Result<Box<dyn Trainer>, cdlc_jit::JitError> = match exec.dtype {
            Dtype::F32 => Jit::<f32>::new(prepared, &init, optim, batch)
                .map(|j| Box::new(j) as Box<dyn Trainer>),
            Dtype::F64 => Jit::<f64>::new(prepared, &init, optim, batch)
                .map(|j| Box::new(j) as Box<dyn Trainer>),
        };
        match jit {
            Ok(j) => return j,
            Err(e) => {
                let (c, model) = fit;
                report::print(
                    &[driver::fallback::warning(c, model, prepared, &e)],
                    &c.sources,
                );
            }
        }
    }
    Box::new(driver::trainer::Interp::new(
        prepared,
        init,
        optim,
        exec.dtype == Dtype::F32,
    ))
}

fn gradcheck(
    path: &Path,
    entry_name: Option<&str>,
    (samples, coords): (usize, usize),
    jit: bool,
) -> Exit {
    let c = load_clean(path)?;
    let model = entry(&c, entry_name)?;
    let prepared = prepare(&c, model, cdlc::training::loss_for(&c, model))?;
    let setup = c.checked.trains.iter().find(|t| t.model == model);
    let seed = setup.map_or(0, |t| t.seed);
    let data = match setup {
        Some(t) => {
            let want = cdlc::training::expected_signature(&prepared);
            let base = path.parent().unwrap_or(Path::new("."));
            match want.map(|w| driver::data::load(&t.data, base, &w, t.seed, t.data_span)) {
                Some(Ok(d)) => Some(d.examples),
                Some(Err(d)) => return Ok(report::fail(d, &c.sources, 1)),
                None => None,
            }
        }
        None => None,
    };
    let examples = driver::gradcheck::examples(data, &prepared, samples, seed);
    Ok(
        match driver::gradcheck::check(&prepared, &examples, seed, jit, coords) {
            Ok((lines, passed)) => {
                for l in lines {
                    driver::stdout::print(format_args!("{l}\n"));
                }
                ExitCode::from(u8::from(!passed))
            }
            Err(e) => {
                let d = e.to_diagnostic(&c, model, &prepared, setup.map(|t| t.data_span));
                report::fail(d, &c.sources, 1)
            }
        },
    )
}

fn run(path: &Path, weights: &Path, input: &Path, entry_name: Option<&str>, dtype: Dtype) -> Exit {
    let c = load_clean(path)?;
    let model = entry(&c, entry_name)?;
    let prepared = driver::hoist::prepare(&c, model, cdlc::training::loss_for(&c, model))?;
    let hash = driver::source_hash(c.sources.text(c.file));
    let params = driver::weights::load(weights, &prepared.inst, Some(&hash))
        .map_err(|e| report::fail(e.to_diagnostic(), &c.sources, 1))?;
    let x_type = if prepared.inst.inputs.len() == 1 {
        prepared.inst.inputs[0].clone()
    } else {
        cdlc_runtime::value::DataType::Tuple(prepared.inst.inputs.clone())
    };
    let (inputs, lines) = cdlc_runtime::data::jsonl::load_numbered_inputs(input, &x_type)
        .map_err(|e| report::fail(driver::data::diagnostic(&e, None), &c.sources, 1))?;
    let optim = cdlc_runtime::optim::OptimConfig::default();
    let exec = ExecArgs {
        backend: ExecBackend::Jit,
        dtype,
        threads: None,
        hoist: driver::hoist::Mode::default(),
    };
    let fit = (&c, model);
    let batch = inputs.len().clamp(1, 256);
    let mut trainer = make_trainer(&prepared, params, optim, batch, &exec, fit);
    Ok(
        match driver::run::run(trainer.as_mut(), &inputs, &lines, input) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => report::fail(e.to_diagnostic(), &c.sources, 1),
        },
    )
}
