//! `cdlc grad FILE --data X.jsonl --out G.safetensors`: the mean loss of a
//! train block's loss over every example of X, and the gradient of that
//! mean with respect to every parameter slot, from `--init` weights or the
//! train block's initialisers and seed.
//!
//! It prints `loss: <x>` (the shortest decimal that reads back to the same
//! f64) and writes the gradients under the parameters' qualified names, in
//! slot order, in the run's dtype. It is the reference an exported module
//! is compared with, and a debugging tool of its own.

use super::files::FileError;
use super::refusal::Refusal;
use super::report;
use super::train_error::TrainError;
use cdlc::check::TrainSetup;
use cdlc::training::{Prepared, init_params};
use cdlc_runtime::checkpoint::{ParamSlice, ParamView};
use cdlc_runtime::data::{Dataset, Signature};
use cdlc_runtime::value::{Example, Tensor};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The arguments of `cdlc grad`.
#[derive(clap::Args, Debug)]
pub struct GradArgs {
    /// The program.
    file: PathBuf,
    /// The train block whose loss to use (by its model's name; default: the first).
    #[arg(long)]
    train: Option<String>,
    /// The parameters: a safetensors file with exactly the model's parameters (default: the train block's initialisers and seed).
    #[arg(long)]
    init: Option<PathBuf>,
    /// A `.jsonl` file: every example in it forms the one batch.
    #[arg(long)]
    data: PathBuf,
    /// Where to write the gradients (safetensors).
    #[arg(long)]
    out: PathBuf,
    /// Where the gradients are computed.
    #[arg(long, value_enum, default_value_t = crate::ExecBackend::Jit)]
    backend: crate::ExecBackend,
    /// The floating-point type of the computation and of the written gradients.
    #[arg(long, value_enum, default_value_t = crate::Dtype::F32)]
    dtype: crate::Dtype,
}

/// Runs `cdlc grad`.
pub fn main(args: &GradArgs) -> ExitCode {
    run(args).unwrap_or_else(|code| code)
}

/// `cdlc grad`; `Err` is the exit code of a failure already reported.
fn run(args: &GradArgs) -> Result<ExitCode, ExitCode> {
    let c = crate::load_clean(&args.file)?;
    let (setup, prepared) = train_setup(&c, args.train.as_deref(), "cdlc grad")?;
    let fail = |d| report::fail(d, &c.sources, 1);
    let want = expected(&c, setup, &prepared)?;
    let data = read_jsonl(&c, setup, &want, &args.data)?;
    let examples = &data.examples;
    let params = match &args.init {
        Some(path) => {
            super::weights::load(path, &prepared.inst, None).map_err(|e| fail(e.to_diagnostic()))?
        }
        None => init_params(&prepared.inst, setup.seed),
    };
    let f32 = args.dtype == crate::Dtype::F32;
    let result = match args.backend {
        crate::ExecBackend::Interp => interp(&prepared, &params, examples, f32),
        crate::ExecBackend::Jit if f32 => jit::<f32>(&prepared, &params, examples),
        crate::ExecBackend::Jit => jit::<f64>(&prepared, &params, examples),
    };
    let (loss, grads) = result.map_err(|e| {
        let d = match e {
            Failure::Jit(e) => super::fallback::error(&c, setup.model, &prepared, &e),
            Failure::Run(problem) => super::train::refused_example(
                &prepared,
                params.clone(),
                setup.optim,
                (args.backend == crate::ExecBackend::Jit, f32),
                examples,
                &data.origins,
                problem,
            )
            .to_diagnostic(setup),
        };
        fail(d)
    })?;
    write(&args.out, &prepared, &grads, loss, f32)
        .map_err(|e| fail(FileError::write(&args.out, e).to_diagnostic()))?;
    super::stdout::print(format_args!("loss: {loss}\n"));
    Ok(ExitCode::SUCCESS)
}

/// Why the gradients could not be computed.
enum Failure {
    /// The JIT cannot compile the model.
    Jit(cdlc_jit::JitError),
    /// The model cannot run on the batch.
    Run(Refusal),
}

/// The train block `name` selects (or the first) and its prepared model;
/// `command` is the command as the user typed it.
pub fn train_setup<'c>(
    c: &'c cdlc::Compilation,
    name: Option<&str>,
    command: &'static str,
) -> Result<(&'c TrainSetup, Prepared), ExitCode> {
    let setup = super::usage::train_block(c, name, command)?;
    let prepared = crate::prepare(c, setup.model, setup.loss)?;
    Ok((setup, prepared))
}

/// The data signature the prepared model of `setup` expects, or E0602.
pub fn expected(
    c: &cdlc::Compilation,
    setup: &TrainSetup,
    prepared: &Prepared,
) -> Result<Signature, ExitCode> {
    cdlc::training::expected_signature(prepared)
        .ok_or_else(|| report::fail(TrainError::LossUnfit.to_diagnostic(setup), &c.sources, 1))
}

/// The examples of the train block's own data and the signature they have.
pub fn block_examples(
    c: &cdlc::Compilation,
    setup: &TrainSetup,
    prepared: &Prepared,
    file: &Path,
) -> Result<(Signature, Vec<Example>), ExitCode> {
    let want = expected(c, setup, prepared)?;
    let examples = super::write_data::load(c, setup, &want, file)?;
    Ok((want, examples))
}

/// Reads a `.jsonl` file checked against the model (E0603 at the train
/// block's `data` option when it does not fit).
fn read_jsonl(
    c: &cdlc::Compilation,
    setup: &TrainSetup,
    want: &Signature,
    path: &Path,
) -> Result<Dataset, ExitCode> {
    let spec = cdlc::check::DataSpec::Jsonl(
        std::env::current_dir()
            .map(|d| d.join(path))
            .unwrap_or(path.to_path_buf())
            .display()
            .to_string(),
    );
    let data = super::data::load(&spec, Path::new("."), want, setup.seed, setup.data_span)
        .map_err(|d| report::fail(d, &c.sources, 1))?;
    if data.examples.is_empty() {
        let d = super::data::empty(&path.display().to_string(), None);
        return Err(report::fail(d, &c.sources, 1));
    }
    Ok(data)
}

/// The mean loss and gradients from the reference interpreter.
fn interp(
    p: &Prepared,
    params: &[Tensor],
    examples: &[Example],
    f32: bool,
) -> Result<(f64, Vec<Tensor>), Failure> {
    let m = &p.inst.module;
    if f32 {
        cdlc_ir::interp::loss_and_grad_as::<f32>(m, p.train, params, examples)
    } else {
        cdlc_ir::interp::loss_and_grad(m, p.train, params, examples)
    }
    .map_err(|e| Failure::Run(e.into()))
}

/// The mean loss and gradients from one compiled step over the whole batch.
fn jit<T: cdlc_jit::Elem>(
    p: &Prepared,
    params: &[Tensor],
    examples: &[Example],
) -> Result<(f64, Vec<Tensor>), Failure> {
    let dtype = if std::mem::size_of::<T>() == 4 {
        cdlc_jit::Dtype::F32
    } else {
        cdlc_jit::Dtype::F64
    };
    let opts = cdlc_jit::Options {
        dtype,
        batch: examples.len(),
    };
    let mut kernel =
        cdlc_jit::compile_train(&p.inst.module, p.train, &opts).map_err(Failure::Jit)?;
    let flat: Vec<T> = params
        .iter()
        .flat_map(|t| t.data.iter().map(|&x| T::from_f64(x)))
        .collect();
    let mut grads = vec![T::ZERO; flat.len()];
    let stats = kernel
        .step_examples(&flat, examples, &mut grads)
        .map_err(|e| Failure::Run(e.into()))?;
    let mut at = 0;
    let per_slot = params
        .iter()
        .map(|t| {
            let n = t.data.len();
            at += n;
            Tensor::new(
                t.shape.clone(),
                grads[at - n..at].iter().map(|g| g.to_f64()).collect(),
            )
        })
        .collect();
    Ok((stats.loss, per_slot))
}

/// Writes the gradients under the slots' names in the run's dtype and in
/// the shapes weights are stored in (`[free]` for an equivariant
/// parameter), with the loss in the metadata.
fn write(path: &Path, p: &Prepared, grads: &[Tensor], loss: f64, f32: bool) -> Result<(), String> {
    let narrow: Vec<Vec<f32>> = if f32 {
        grads
            .iter()
            .map(|g| g.data.iter().map(|&x| x as f32).collect())
            .collect()
    } else {
        Vec::new()
    };
    let views: Vec<ParamView<'_>> = p
        .inst
        .slots
        .iter()
        .zip(grads)
        .enumerate()
        .map(|(i, (s, g))| ParamView {
            name: &s.name,
            shape: &s.stored_shape,
            data: if f32 {
                ParamSlice::F32(&narrow[i])
            } else {
                ParamSlice::F64(&g.data)
            },
        })
        .collect();
    let mut metadata = BTreeMap::new();
    metadata.insert("format".to_string(), "cdlc-gradients-1".to_string());
    metadata.insert("loss".to_string(), format!("{loss}"));
    cdlc_runtime::checkpoint::save(path, &views, &metadata).map_err(|e| e.to_string())
}
