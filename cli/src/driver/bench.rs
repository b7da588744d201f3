//! `cdlc bench FILE`: times full training steps of a train block's model on
//! one fixed batch.
//!
//! One step is what training does per batch: the forward pass, the reverse
//! pass and the optimizer's update of every parameter. The batch is the
//! whole `--data` file, or else the first `batch` examples of the train
//! block's data in file (generation) order, and the same batch is used for
//! every step, so no data loading is timed. The parameters start from
//! `--init` (a safetensors file holding exactly the model's parameters) or
//! from the train block's initialisers and seed.
//!
//! The measurement follows the peers' protocol: the first step is timed
//! alone and its loss (before any update) is reported, then `--warmup`
//! untimed steps, then at least `--steps` individually timed steps, and
//! more until `--min-time` seconds have passed. The report is one
//! `key: value` line each:
//!
//! - `compile_ms`: reading, checking, instantiating and differentiating the
//!   program, and compiling the kernels (`kernel_ms` of it for the JIT);
//! - `schedule_us`: preparing the batch (the median of 11 times): for the
//!   JIT, gathering the inputs and building the level schedules of its
//!   folds (`TrainKernel::prepare`, which the timed steps then reuse); for the
//!   interpreter, which walks each structure itself, building the level
//!   schedules alone (0 for a model without a fold over its input);
//! - `step_us`: the median step; `steps_per_s` its inverse;
//! - `first_step_ms`: the first step alone (for the JIT the first run of
//!   freshly compiled code);
//! - `first_loss`: the mean loss of the first step;
//! - `threads`: the thread mode (`--threads`: `auto`, the default, or N);
//! - `threads_products`, `threads_elementwise`, `threads_rows`: the threads
//!   each kind of kernel used for its large pieces after the timed steps
//!   (under `auto`, the chooser's choice then; 1 for a kind with no piece
//!   large enough to split);
//! - `threads_measurements`: how many times `auto` measured both choices
//!   during the run (0 for a fixed N);
//! - `threads_measured_us` (`auto` only, once it has measured): the median
//!   step time, in microseconds, of one thread and of two threads in its
//!   last measurement, `ONE / TWO`;
//! - `threads_split_steps`: how many of all the run's steps (the first,
//!   the warm-up and the timed ones) `auto` ran with some kind split (0
//!   for a fixed N). With the two lines above they tell the machine from
//!   the chooser when `auto` runs slower than a fixed count: a last
//!   measurement whose one-thread median is the run's own median step
//!   says the machine was that slow;
//! - `product_madds` and `gflops` (JIT only): the multiply-adds of the
//!   matrix products one step ran (`m · k · n` each, counted by the
//!   executor as it runs the plan's products at the batch's sizes) and
//!   `2 · product_madds` per median step, in 10⁹ per second. Elementwise
//!   kernels, gathers and row operations are not counted.

use super::data;
use super::refusal::Refusal;
use super::report;
use super::train_error::TrainError;
use super::trainer::{Interp, Trainer};
use super::usage::UsageError;
use cdlc::check::{DataSpec, TrainSetup};
use cdlc::diagnostics::Diagnostic;
use cdlc::training::{Prepared, init_params};
use cdlc_jit::{Elem, JitError, Options, PreparedBatch, TrainKernel};
use cdlc_runtime::data::Origins;
use cdlc_runtime::optim::{OptimConfig, Optimizer};
use cdlc_runtime::value::{DataType, Example, Tensor, Value};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// The arguments of `cdlc bench`.
#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// The program.
    file: PathBuf,
    /// The train block to time (by its model's name; default: the first).
    #[arg(long)]
    train: Option<String>,
    /// Time at least this many steps (after the first step and the warm-up).
    #[arg(long, default_value_t = 20)]
    steps: usize,
    /// Untimed steps after the first one.
    #[arg(long, default_value_t = 5)]
    warmup: usize,
    /// Keep timing steps until this many seconds have passed (0: exactly `--steps`).
    #[arg(long, default_value_t = 2.0)]
    min_time: f64,
    /// Initial parameters: a safetensors file with exactly the model's parameters.
    #[arg(long)]
    init: Option<PathBuf>,
    /// A `.jsonl` file whose examples form the batch (default: the train block's first batch).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Where the steps run.
    #[arg(long, value_enum, default_value_t = BenchBackend::Jit)]
    backend: BenchBackend,
    /// The floating-point type of the steps.
    #[arg(long, value_enum, default_value_t = crate::Dtype::F32)]
    dtype: crate::Dtype,
}

/// The backends `cdlc bench` can time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum BenchBackend {
    /// Compiled kernels over the whole batch.
    Jit,
    /// The reference interpreter, one example at a time.
    Interp,
}

/// What a benchmark measured.
#[derive(Clone, Debug)]
pub struct Report {
    /// Compile time in milliseconds.
    pub compile_ms: f64,
    /// The part of it spent compiling kernels.
    pub kernel_ms: f64,
    /// Level-schedule time in microseconds.
    pub schedule_us: f64,
    /// The first step's time in milliseconds.
    pub first_step_ms: f64,
    /// The individually timed steps, in microseconds, sorted.
    pub steps_us: Vec<f64>,
    /// The loss of the first step, before any update.
    pub first_loss: f64,
    /// The loss of the last step.
    pub last_loss: f64,
    /// Examples in the batch.
    pub batch: usize,
    /// The thread mode.
    pub threads: cdlc_runtime::threads::Threads,
    /// The threads each kind of kernel used for large pieces at the end.
    pub choices: Vec<(&'static str, usize)>,
    /// How many measurements `auto` made.
    pub measurements: u64,
    /// `auto`'s last measured median step times with one and with two
    /// threads, in nanoseconds.
    pub measured_ns: [Option<f64>; 2],
    /// How many steps `auto` ran with some kind split.
    pub split_steps: u64,
    /// The multiply-adds of one step's matrix products (JIT only).
    pub multiply_adds: Option<u64>,
}

impl Report {
    /// The median step time in microseconds.
    pub fn median_us(&self) -> f64 {
        let s = &self.steps_us;
        let n = s.len();
        if n == 0 {
            return f64::NAN;
        }
        if n % 2 == 1 {
            s[n / 2]
        } else {
            0.5 * (s[n / 2 - 1] + s[n / 2])
        }
    }

    /// The floating-point operations of one step's products per second
    /// of the median step, in 10⁹ (a multiply-add counts as two).
    pub fn gflops(&self) -> Option<f64> {
        self.multiply_adds
            .map(|m| 2.0 * m as f64 / (self.median_us() * 1e-6) * 1e-9)
    }

    /// The report as `key: value` lines.
    pub fn render(&self, backend: BenchBackend, dtype: crate::Dtype) -> String {
        let median = self.median_us();
        let (fastest, slowest) = (
            self.steps_us.first().copied().unwrap_or(f64::NAN),
            self.steps_us.last().copied().unwrap_or(f64::NAN),
        );
        format!(
            "backend: {}\n\
             dtype: {}\n\
             threads: {}\n\
             batch: {}\n\
             compile_ms: {:.3}\n\
             kernel_ms: {:.3}\n\
             schedule_us: {:.1}\n\
             first_step_ms: {:.3}\n\
             timed_steps: {}\n\
             step_us: {:.1}\n\
             step_us_min: {:.1}\n\
             step_us_max: {:.1}\n\
             steps_per_s: {:.4}\n\
             first_loss: {}\n\
             last_loss: {}\n\
             {}\
             threads_measurements: {}\n\
             {}\
             threads_split_steps: {}\n",
            lower(&backend),
            lower(&dtype),
            self.threads,
            self.batch,
            self.compile_ms,
            self.kernel_ms,
            self.schedule_us,
            self.first_step_ms,
            self.steps_us.len(),
            median,
            fastest,
            slowest,
            1e6 / median,
            self.first_loss,
            self.last_loss,
            self.choices
                .iter()
                .map(|(kind, n)| format!("threads_{kind}: {n}\n"))
                .collect::<String>(),
            self.measurements,
            match self.measured_ns {
                [Some(one), Some(two)] => format!(
                    "threads_measured_us: {:.1} / {:.1}\n",
                    one * 1e-3,
                    two * 1e-3
                ),
                _ => String::new(),
            },
            self.split_steps,
        ) + &match (self.multiply_adds, self.gflops()) {
            (Some(m), Some(g)) => format!("product_madds: {m}\ngflops: {g:.2}\n"),
            _ => String::new(),
        }
    }
}

/// Runs `cdlc bench` and prints its report.
pub fn main(args: &BenchArgs) -> ExitCode {
    bench(args).unwrap_or_else(|code| code)
}

/// `cdlc bench`; `Err` is the exit code of a failure already reported.
fn bench(args: &BenchArgs) -> Result<ExitCode, ExitCode> {
    check_args(args)?;
    let started = Instant::now();
    let c = crate::load_clean(&args.file)?;
    let setup = super::usage::train_block(&c, args.train.as_deref(), "cdlc bench")?;
    let prepared = super::hoist::prepare(&c, setup.model, setup.loss)?;
    let frontend = started.elapsed();
    let fail = |d| report::fail(d, &c.sources, 1);
    let want = super::grad::expected(&c, setup, &prepared)?;
    let (batch, origins) = load_batch(args, setup, &args.file, &want).map_err(fail)?;
    let params = match &args.init {
        Some(path) => {
            super::weights::load(path, &prepared.inst, None).map_err(|e| fail(e.to_diagnostic()))?
        }
        None => init_params(&prepared.inst, setup.seed),
    };
    let optim = setup.optim;
    super::notes::emit(&super::notes::Note::Bench {
        model: &setup.model_name,
        examples: batch.len(),
        parameters: prepared
            .inst
            .slots
            .iter()
            .map(|s| s.shape.iter().product::<usize>())
            .sum::<usize>(),
        slots: prepared.inst.slots.len(),
        optim: optim.to_string(),
        backend: lower(&args.backend),
    });
    let f32 = args.dtype == crate::Dtype::F32;
    let jit = matches!(args.backend, BenchBackend::Jit);
    let built = match args.backend {
        BenchBackend::Jit if f32 => JitStepper::<f32>::build(&prepared, &params, optim, &batch),
        BenchBackend::Jit => JitStepper::<f64>::build(&prepared, &params, optim, &batch),
        BenchBackend::Interp => InterpStepper::build(&prepared, params.clone(), optim, f32, &batch),
    };
    // A refused batch is tried example by example to name the one at fault.
    let failed = |e: BenchError| {
        fail(match e.refusal() {
            Some(problem) => super::train::refused_example(
                &prepared,
                params.clone(),
                optim,
                (jit, f32),
                &batch,
                &origins,
                problem,
            )
            .to_diagnostic(setup),
            None => e.to_diagnostic(&c, setup, &prepared),
        })
    };
    let mut built = built.map_err(failed)?;
    let timing = Timing {
        steps: args.steps,
        warmup: args.warmup,
        min_time: Duration::from_secs_f64(args.min_time),
    };
    let m = measure(built.stepper.as_mut(), &timing).map_err(failed)?;
    let report = Report {
        compile_ms: (frontend + built.kernel).as_secs_f64() * 1e3,
        kernel_ms: built.kernel.as_secs_f64() * 1e3,
        schedule_us: built.schedule.as_secs_f64() * 1e6,
        first_step_ms: m.first.as_secs_f64() * 1e3,
        steps_us: m.steps.iter().map(|d| d.as_secs_f64() * 1e6).collect(),
        first_loss: m.first_loss,
        last_loss: m.last_loss,
        batch: batch.len(),
        threads: cdlc_runtime::threads::mode(),
        choices: cdlc_runtime::threads::choices()
            .map(|(kind, n)| (kind.name(), n))
            .to_vec(),
        measurements: cdlc_runtime::threads::measurements(),
        measured_ns: cdlc_runtime::threads::last_step_times(),
        split_steps: cdlc_runtime::threads::split_steps(),
        multiply_adds: built.stepper.multiply_adds(),
    };
    super::stdout::print(format_args!("{}", report.render(args.backend, args.dtype)));
    Ok(ExitCode::SUCCESS)
}

/// E0613 for `--steps 0` or a `--min-time` that is not a non-negative
/// number of seconds.
fn check_args(args: &BenchArgs) -> Result<(), ExitCode> {
    let e = if args.steps == 0 {
        UsageError::TooSmall {
            option: "--steps",
            least: 1,
            found: args.steps,
        }
    } else if !(args.min_time >= 0.0 && args.min_time.is_finite()) {
        UsageError::NotSeconds {
            option: "--min-time",
            found: args.min_time,
        }
    } else {
        return Ok(());
    };
    Err(report::fail_alone(
        e.to_diagnostic(None),
        super::usage::EXIT,
    ))
}

/// Why the steps could not be built or run.
#[derive(Debug)]
enum BenchError {
    /// The JIT refused the model or the batch.
    Jit(JitError),
    /// A step refused the batch.
    Step(Refusal),
    /// The first step's loss is NaN or infinite.
    FirstLoss(f64),
    /// A kernel that does not match its model (a bug).
    Internal(String),
}

impl BenchError {
    /// The backend's refusal of the batch's data, if that is the error.
    fn refusal(&self) -> Option<Refusal> {
        match self {
            BenchError::Step(problem) => Some(problem.clone()),
            BenchError::Jit(JitError::Data(e)) => Some(Refusal::Example(e.clone())),
            _ => None,
        }
    }

    /// The error as a diagnostic at `setup`'s train block (a refused
    /// example is named by `refusal` first).
    fn to_diagnostic(
        &self,
        c: &cdlc::Compilation,
        setup: &TrainSetup,
        p: &Prepared,
    ) -> cdlc::diagnostics::Diagnostic {
        match self {
            BenchError::Jit(e) => super::fallback::error(c, setup.model, p, e),
            BenchError::Step(problem) => TrainError::Example {
                origin: None,
                problem: problem.clone(),
            }
            .to_diagnostic(setup),
            BenchError::FirstLoss(loss) => TrainError::NonFinite {
                epoch: 1,
                what: format!("the loss of the first step is {loss}"),
                kept: None,
            }
            .to_diagnostic(setup),
            BenchError::Internal(m) => super::internal::diagnostic(m),
        }
    }
}

/// A value's name as the command line spells it.
fn lower(v: &dyn std::fmt::Debug) -> String {
    format!("{v:?}").to_lowercase()
}

/// The batch: the whole `--data` file, or the train block's first batch,
/// with where its examples came from.
fn load_batch(
    args: &BenchArgs,
    setup: &TrainSetup,
    file: &Path,
    want: &cdlc_runtime::data::Signature,
) -> Result<(Vec<Example>, Origins), Diagnostic> {
    let base = file.parent().unwrap_or(Path::new("."));
    let (spec, whole) = match &args.data {
        Some(p) => (
            DataSpec::Jsonl(
                std::env::current_dir()
                    .map(|d| d.join(p))
                    .unwrap_or(p.clone())
                    .display()
                    .to_string(),
            ),
            true,
        ),
        None => (setup.data.clone(), false),
    };
    let loaded = data::load(&spec, base, want, setup.seed, setup.data_span)?;
    let mut examples = loaded.examples;
    if !whole {
        examples.truncate(setup.batch as usize);
    }
    if examples.is_empty() {
        let what = match &args.data {
            Some(p) => p.display().to_string(),
            None => "the train block's data".to_string(),
        };
        return Err(data::empty(
            &what,
            args.data.is_none().then_some(setup.data_span),
        ));
    }
    Ok((examples, loaded.origins))
}

/// How many times the batch is prepared (or scheduled) to time it: the
/// report gives the median.
const PREPARATIONS: usize = 11;

/// How long building the level schedule of every data-type input of the
/// batch takes (the batch's lists and trees, all examples at once).
fn schedule_time(inputs: &[DataType], batch: &[Example]) -> Result<Duration, BenchError> {
    let started = Instant::now();
    for (i, ty) in inputs.iter().enumerate() {
        if !matches!(ty, DataType::Data(_)) {
            continue;
        }
        let values: Vec<&Value> = batch
            .iter()
            .map(|e| match (&e.x, inputs.len()) {
                (x, 1) => Ok(x),
                (Value::Tuple(xs), _) => Ok(&xs[i]),
                _ => Err(BenchError::Step(Refusal::Internal(
                    "a checked example does not have one value per input".to_string(),
                ))),
            })
            .collect::<Result<_, _>>()?;
        let s =
            cdlc_runtime::schedule::schedule(values, ty).map_err(|e| BenchError::Step(e.into()))?;
        std::hint::black_box(&s);
    }
    Ok(started.elapsed())
}

/// How many steps to run and time.
struct Timing {
    steps: usize,
    warmup: usize,
    min_time: Duration,
}

/// One training step on the fixed batch: forward, backward and the
/// optimizer's update; the mean loss before the update.
trait Stepper {
    fn step(&mut self) -> Result<f64, BenchError>;
    /// The multiply-adds of the last step's matrix products, where known.
    fn multiply_adds(&self) -> Option<u64> {
        None
    }
}

/// A stepper with what building it took.
struct Built<'a> {
    stepper: Box<dyn Stepper + 'a>,
    /// Compiling kernels.
    kernel: Duration,
    /// Preparing the batch (see the module's documentation).
    schedule: Duration,
}

/// Compiled kernels: the batch is prepared once, parameters, gradients and
/// the optimizer's state are flat vectors in the kernel's element type.
struct JitStepper<T: Elem> {
    kernel: TrainKernel,
    batch: PreparedBatch,
    params: Vec<T>,
    grads: Vec<T>,
    optimizer: Optimizer<T>,
}

impl<T: Elem> JitStepper<T> {
    fn build<'a>(
        prepared: &Prepared,
        init: &[Tensor],
        optim: OptimConfig,
        batch: &[Example],
    ) -> Result<Built<'a>, BenchError> {
        let dtype = if std::mem::size_of::<T>() == 4 {
            cdlc_jit::Dtype::F32
        } else {
            cdlc_jit::Dtype::F64
        };
        let opts = Options {
            dtype,
            batch: batch.len(),
        };
        let started = Instant::now();
        let kernel = cdlc_jit::compile_train(&prepared.inst.module, prepared.train, &opts)
            .map_err(BenchError::Jit)?;
        let compiled = started.elapsed();
        let params: Vec<T> = init
            .iter()
            .flat_map(|t| t.data.iter().map(|&x| T::from_f64(x)))
            .collect();
        if params.len() != kernel.num_params() {
            return Err(BenchError::Internal(format!(
                "the kernel has {} parameters, the model {}",
                kernel.num_params(),
                params.len()
            )));
        }
        let mut times = Vec::with_capacity(PREPARATIONS);
        let mut prepared_batch = None;
        for _ in 0..PREPARATIONS {
            let started = Instant::now();
            prepared_batch = Some(kernel.prepare(batch).map_err(BenchError::Jit)?);
            times.push(started.elapsed());
        }
        times.sort();
        let schedule = times[PREPARATIONS / 2];
        let prepared_batch = prepared_batch.expect("prepared at least once");
        Ok(Built {
            stepper: Box::new(JitStepper {
                kernel,
                batch: prepared_batch,
                grads: vec![T::ZERO; params.len()],
                optimizer: Optimizer::new(optim, params.len()),
                params,
            }),
            kernel: compiled,
            schedule,
        })
    }
}

impl<T: Elem> Stepper for JitStepper<T> {
    fn step(&mut self) -> Result<f64, BenchError> {
        let stats = self
            .kernel
            .step(&self.params, &self.batch, &mut self.grads)
            .map_err(BenchError::Jit)?;
        self.optimizer.step(&mut self.params, &self.grads);
        Ok(stats.loss)
    }

    fn multiply_adds(&self) -> Option<u64> {
        Some(self.kernel.multiply_adds::<T>())
    }
}

/// The reference interpreter, through the driver's `Trainer` (parameters
/// and the optimizer's state in f64, as training keeps them).
struct InterpStepper<'a> {
    trainer: Interp<'a>,
    batch: Vec<&'a Example>,
}

impl<'a> InterpStepper<'a> {
    fn build(
        prepared: &'a Prepared,
        init: Vec<Tensor>,
        optim: OptimConfig,
        f32: bool,
        batch: &'a [Example],
    ) -> Result<Built<'a>, BenchError> {
        let mut times = (0..PREPARATIONS)
            .map(|_| schedule_time(&prepared.inst.inputs, batch))
            .collect::<Result<Vec<_>, _>>()?;
        times.sort();
        let schedule = times[PREPARATIONS / 2];
        Ok(Built {
            stepper: Box::new(InterpStepper {
                trainer: Interp::new(prepared, init, optim, f32),
                batch: batch.iter().collect(),
            }),
            kernel: Duration::ZERO,
            schedule,
        })
    }
}

impl Stepper for InterpStepper<'_> {
    fn step(&mut self) -> Result<f64, BenchError> {
        self.trainer.step(&self.batch).map_err(BenchError::Step)
    }
}

/// The raw measurement.
struct Measured {
    first: Duration,
    first_loss: f64,
    last_loss: f64,
    /// Sorted.
    steps: Vec<Duration>,
}

/// Runs the first step, the warm-up and the timed steps.
fn measure(stepper: &mut dyn Stepper, timing: &Timing) -> Result<Measured, BenchError> {
    let t = Instant::now();
    let first_loss = stepper.step()?;
    let first = t.elapsed();
    if !first_loss.is_finite() {
        return Err(BenchError::FirstLoss(first_loss));
    }
    let mut last_loss = first_loss;
    for _ in 0..timing.warmup {
        last_loss = stepper.step()?;
    }
    let mut steps = Vec::with_capacity(timing.steps);
    let started = Instant::now();
    while steps.len() < timing.steps || started.elapsed() < timing.min_time {
        let t = Instant::now();
        last_loss = stepper.step()?;
        steps.push(t.elapsed());
    }
    steps.sort();
    Ok(Measured {
        first,
        first_loss,
        last_loss,
        steps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(steps_us: Vec<f64>) -> Report {
        Report {
            compile_ms: 1.0,
            kernel_ms: 0.5,
            schedule_us: 0.0,
            first_step_ms: 2.0,
            steps_us,
            first_loss: 2.5,
            last_loss: 2.25,
            batch: 4,
            threads: cdlc_runtime::threads::Threads::Auto,
            choices: vec![("products", 2), ("elementwise", 1), ("rows", 1)],
            measurements: 3,
            measured_ns: [Some(8.5e6), Some(6.25e6)],
            split_steps: 40,
            multiply_adds: None,
        }
    }

    #[test]
    fn the_median_of_an_odd_and_an_even_count() {
        assert_eq!(report(vec![1.0, 2.0, 10.0]).median_us(), 2.0);
        assert_eq!(report(vec![1.0, 2.0, 4.0, 10.0]).median_us(), 3.0);
    }

    #[test]
    fn the_report_has_every_key_the_harness_reads() {
        let text =
            report(vec![100.0, 200.0, 400.0]).render(BenchBackend::Interp, crate::Dtype::F32);
        let get = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("{key}: ")))
                .unwrap_or_else(|| panic!("no `{key}` in\n{text}"))
                .to_string()
        };
        assert_eq!(get("compile_ms"), "1.000");
        assert_eq!(get("kernel_ms"), "0.500");
        assert_eq!(get("schedule_us"), "0.0");
        assert_eq!(get("step_us"), "200.0");
        assert_eq!(get("steps_per_s"), "5000.0000");
        assert_eq!(get("first_loss"), "2.5");
        assert_eq!(get("backend"), "interp");
        assert_eq!(get("dtype"), "f32");
        assert_eq!(get("threads"), "auto");
        assert_eq!(get("threads_products"), "2");
        assert_eq!(get("threads_elementwise"), "1");
        assert_eq!(get("threads_rows"), "1");
        assert_eq!(get("threads_measurements"), "3");
        assert_eq!(get("threads_measured_us"), "8500.0 / 6250.0");
        assert_eq!(get("threads_split_steps"), "40");
        assert!(
            !text.contains("gflops"),
            "the interpreter counts no products"
        );
    }

    #[test]
    fn gflops_count_two_operations_per_multiply_add_of_the_median_step() {
        let mut r = report(vec![100.0, 200.0, 400.0]);
        r.multiply_adds = Some(3_000_000);
        // 6e6 operations in 200 µs: 30e9 per second.
        assert!((r.gflops().expect("counted") - 30.0).abs() < 1e-9);
        let text = r.render(BenchBackend::Jit, crate::Dtype::F32);
        assert!(
            text.contains("product_madds: 3000000\ngflops: 30.00\n"),
            "{text}"
        );
    }
}
