//! `cdlc FILE --emit jit`: trains the train block's model.
//!
//! The data is loaded and checked against the model first (E0603), so a
//! mismatch trains nothing and writes nothing. After every completed epoch
//! the run writes `metrics.csv`, `weights.safetensors` and `loss.svg`
//! atomically into its output folder, so an interrupted run (Ctrl-C) keeps
//! the last completed epoch and never leaves a half-written file.

use super::data;
use super::refusal::Refusal;
pub use super::train_error::TrainError;
use super::trainer::{NonFinite, Trainer};
use super::write_error::WriteError;
use cdlc::check::TrainSetup;
use cdlc::instantiate::Instantiated;
use cdlc::training::{Prepared, runtime_loss, shuffled, split};
use cdlc_runtime::checkpoint::epochs::EpochFolder;
use cdlc_runtime::data::splitmix::mix64;
use cdlc_runtime::data::{Origin, Origins};
use cdlc_runtime::loss::Loss;
use cdlc_runtime::optim::OptimConfig;
use cdlc_runtime::report::{self, EpochMetrics};
use cdlc_runtime::value::{Example, Tensor, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// What the command line changes about a train block.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// `--epochs N`
    pub epochs: Option<u64>,
    /// `--data PATH`: a `.jsonl` file in place of the block's data.
    pub data: Option<PathBuf>,
    /// `--out DIR`
    pub out: Option<PathBuf>,
    /// `--augment G`: transform each training example by a random element
    /// of the declared group G each time it is used.
    pub augment: Option<String>,
}

/// What a finished (or interrupted) run reports.
pub struct Summary {
    /// One row per completed epoch.
    pub rows: Vec<EpochMetrics>,
    /// The output folder.
    pub out: PathBuf,
    /// Whether Ctrl-C stopped the run early.
    pub interrupted: bool,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// Trains `setup`'s model.
#[allow(clippy::too_many_arguments)]
pub fn run(
    c: &cdlc::Compilation,
    setup: &TrainSetup,
    prepared: &Prepared,
    trainer: &mut dyn Trainer,
    file: &Path,
    overrides: &Overrides,
    stop: Arc<AtomicBool>,
    progress: bool,
) -> Result<Summary, TrainError> {
    let inst = &prepared.inst;
    let want = cdlc::training::expected_signature(prepared).ok_or(TrainError::LossUnfit)?;
    let base = file.parent().unwrap_or(Path::new("."));
    let spec = match &overrides.data {
        Some(p) => cdlc::check::DataSpec::Jsonl(
            std::env::current_dir()
                .map(|d| d.join(p))
                .unwrap_or(p.clone())
                .display()
                .to_string(),
        ),
        None => setup.data.clone(),
    };
    let stopped = || stop.load(Ordering::Relaxed);
    let dataset = match data::load_until(&spec, base, &want, setup.seed, setup.data_span, &stopped)
    {
        Ok(Some(d)) => d,
        Ok(None) => return Err(TrainError::Interrupted),
        Err(d) => return Err(TrainError::Data(d)),
    };
    if let Some(problem) = cdlc::training::split_problem(dataset.examples.len(), setup.split) {
        return Err(TrainError::Split { problem });
    }
    // Each side's examples keep their place in the data, and through it
    // their origin, for naming a refused example.
    let (train_at, val_at) =
        cdlc::training::split_indices(dataset.examples.len(), setup.split, setup.seed);
    let origins = dataset.origins;
    let (train, val) = split(dataset.examples, setup.split, setup.seed);
    let augmenter = match &overrides.augment {
        Some(g) => Some(
            cdlc::equivariance::augment::Augmenter::new(c, setup.model, g)
                .map_err(TrainError::Augment)?,
        ),
        None => None,
    };
    let loss = runtime_loss(setup.loss);
    let optim = setup.optim;
    let out_dir = overrides
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("out").join(&setup.model_name));
    let epochs = overrides.epochs.unwrap_or(setup.epochs) as usize;
    let batch = setup.batch as usize;
    let metadata = metadata(c, setup, &optim);
    // The folder is opened (and proved writable) before the first step, and
    // only when some epoch will run.
    let folder = if epochs > 0 {
        Some(
            EpochFolder::open(&out_dir).map_err(|error| TrainError::OutputFolder {
                path: out_dir.clone(),
                error,
            })?,
        )
    } else {
        None
    };
    let started = Instant::now();
    let mut rows: Vec<EpochMetrics> = Vec::new();
    let mut interrupted = false;
    let batches_per_epoch = train.len().div_ceil(batch);
    let bar = progress.then(|| {
        let bar = indicatif::ProgressBar::new((epochs * batches_per_epoch) as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} steps  {msg}")
                .expect("a valid progress template")
                .progress_chars("=> "),
        );
        bar
    });
    'epochs: for epoch in 1..=epochs {
        let order = shuffled(
            train.len(),
            mix64(setup.seed ^ (epoch as u64).wrapping_mul(0x9E37)),
        );
        let mut total = 0.0;
        let epoch_start = Instant::now();
        let mut seen = 0usize;
        for chunk in order.chunks(batch) {
            if stop.load(Ordering::Relaxed) {
                interrupted = true;
                break 'epochs;
            }
            let augmented: Vec<Example> = match &augmenter {
                Some(a) => chunk
                    .iter()
                    .map(|&i| {
                        a.apply(
                            &train[i],
                            mix64(setup.seed ^ ((epoch * train.len() + i) as u64)),
                        )
                    })
                    .collect(),
                None => Vec::new(),
            };
            let examples: Vec<&Example> = if augmenter.is_some() {
                augmented.iter().collect()
            } else {
                chunk.iter().map(|&i| &train[i]).collect()
            };
            let l = match trainer.step(&examples) {
                Ok(l) => l,
                Err(e) => {
                    let at: Vec<Origin> = chunk.iter().map(|&i| origins.of(train_at[i])).collect();
                    return Err(example_error(trainer, &examples, &at, e));
                }
            };
            if let Some(e) = non_finite(l, trainer.non_finite(), inst, epoch, &out_dir, &rows) {
                return Err(e);
            }

            total += l * examples.len() as f64;
            seen += examples.len();
            if let Some(bar) = &bar {
                let rate = seen as f64 / epoch_start.elapsed().as_secs_f64().max(1e-9);
                bar.set_prefix(format!("epoch {epoch}/{epochs}"));
                bar.set_message(format!("loss {:.4}  {:.0} ex/s", total / seen as f64, rate));
                bar.inc(1);
            }
        }
        let train_loss = total / train.len() as f64;
        let (val_loss, val_accuracy) = if val.is_empty() {
            (None, None)
        } else {
            let (l, a) = evaluate(trainer, &val, loss, batch).map_err(|e| {
                let examples: Vec<&Example> = val.iter().collect();
                let at: Vec<Origin> = val_at.iter().map(|&i| origins.of(i)).collect();
                example_error(trainer, &examples, &at, e)
            })?;
            (Some(l), a)
        };
        let row = EpochMetrics {
            epoch,
            train_loss,
            val_loss,
            val_accuracy,
        };
        rows.push(row);
        if let Some(folder) = &folder {
            save(
                folder,
                &rows,
                inst,
                &Weights::new(trainer.params(), trainer.computes_f32()),
                &metadata,
                &setup.model_name,
            )
            .map_err(|error| TrainError::EpochWrite {
                epoch,
                path: out_dir.clone(),
                error,
            })?;
        }
        let line = super::progress::Event::Epoch {
            row: &row,
            epochs,
            rate: train.len() as f64 / epoch_start.elapsed().as_secs_f64().max(1e-9),
        }
        .line();
        match &bar {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Ok(Summary {
        rows,
        out: out_dir,
        interrupted,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// E0603 for a batch the model cannot run or the loss cannot score (an
/// empty list split `by halves`, a target of another length than an
/// unfold's `take k`, an input of the wrong type): the backend's training
/// function is tried on the examples one by one, without updating the
/// weights, to name the first that fails by its origin (`at` gives each
/// one's: its file and line, for a file of lines) and the backend's own
/// reason for it. Training, `cdlc grad` and `cdlc bench` all name a
/// refused example here.
pub fn example_error(
    trainer: &mut dyn Trainer,
    examples: &[&Example],
    at: &[Origin],
    batch_error: Refusal,
) -> TrainError {
    let found = examples
        .iter()
        .zip(at)
        .find_map(|(e, o)| trainer.try_step(&[e]).err().map(|m| (o, m)));
    match found {
        Some((o, problem)) => TrainError::Example {
            origin: Some(o.clone()),
            problem,
        },
        None => TrainError::Example {
            origin: None,
            problem: batch_error,
        },
    }
}

/// `example_error` for a command that ran `examples` (from `origins`) as
/// one batch without a `Trainer`: a trainer on the same backend (`jit`) and
/// dtype (`f32`), from the same weights, tries them one by one.
pub fn refused_example(
    prepared: &Prepared,
    init: Vec<Tensor>,
    optim: OptimConfig,
    (jit, f32): (bool, bool),
    examples: &[Example],
    origins: &Origins,
    batch_error: Refusal,
) -> TrainError {
    let refs: Vec<&Example> = examples.iter().collect();
    let at: Vec<Origin> = (0..examples.len()).map(|i| origins.of(i)).collect();
    match super::trainer::one_by_one(prepared, init, optim, jit, f32) {
        Ok(mut trainer) => example_error(trainer.as_mut(), &refs, &at, batch_error),
        // The batch's kernels compiled, so these do: were they refused,
        // the batch's refusal is all there is to report.
        Err(_) => TrainError::Example {
            origin: None,
            problem: batch_error,
        },
    }
}

/// E0606 when a step's loss, a gradient or a weight is NaN or infinite:
/// training stops before the epoch's files are written, so the folder keeps
/// the last epoch whose weights were all finite. The weights are checked as
/// well as the loss because `relu` maps NaN to 0 and can hide a broken
/// weight from the loss.
fn non_finite(
    loss: f64,
    slot: Option<NonFinite>,
    inst: &Instantiated,
    epoch: usize,
    out: &Path,
    rows: &[EpochMetrics],
) -> Option<TrainError> {
    let what = match slot {
        Some(NonFinite {
            gradient: true,
            slot,
        }) => format!(
            "the gradient of `{}` holds NaN or infinity",
            inst.slots[slot].name
        ),
        Some(NonFinite {
            gradient: false,
            slot,
        }) => format!(
            "the weight `{}` became NaN or infinite",
            inst.slots[slot].name
        ),
        None if !loss.is_finite() => format!("the loss became {loss}"),
        None => return None,
    };
    Some(TrainError::NonFinite {
        epoch,
        what,
        kept: rows.last().map(|r| (out.to_path_buf(), r.epoch)),
    })
}

/// Mean loss and accuracy (for classification) over `examples`, run in
/// batches of `batch`.
pub fn evaluate(
    trainer: &mut dyn Trainer,
    examples: &[Example],
    loss: Loss,
    batch: usize,
) -> Result<(f64, Option<f64>), Refusal> {
    let mut total = 0.0;
    let (mut right, mut count) = (0usize, 0usize);
    let mut outputs = Vec::with_capacity(examples.len());
    for chunk in examples.chunks(batch.max(1)) {
        let xs: Vec<&Value> = chunk.iter().map(|e| &e.x).collect();
        outputs.extend(trainer.forward(&xs)?);
    }
    for (e, out) in examples.iter().zip(&outputs) {
        let flat = flatten(out);
        let mut grad = vec![0.0; flat.len()];
        total += loss.eval(&flat, &e.y, &mut grad).map_err(Refusal::Loss)?;
        if let Some((r, n)) = loss.correct(&flat, &e.y) {
            right += r;
            count += n;
        }
    }
    let acc = (loss.has_accuracy() && count > 0).then(|| right as f64 / count as f64);
    Ok((total / examples.len() as f64, acc))
}

/// A model output as the loss reads it: a tensor's entries, or a list's
/// elements back to back.
pub fn flatten(v: &Value) -> Vec<f64> {
    match v {
        Value::Tensor(t) => t.data.clone(),
        other => match other.as_list() {
            Some(items) => items.iter().flat_map(|x| flatten(x)).collect(),
            None => Vec::new(),
        },
    }
}

fn metadata(
    c: &cdlc::Compilation,
    setup: &TrainSetup,
    optim: &OptimConfig,
) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    m.insert("model".to_string(), setup.model_name.clone());
    m.insert(
        "source_sha256".to_string(),
        super::source_hash(c.sources.text(c.file)),
    );
    m.insert("optimizer".to_string(), optim.to_string());
    m.insert("loss".to_string(), setup.loss.name().to_string());
    m.insert("format".to_string(), "cdlc-weights-1".to_string());
    m
}

/// A checkpoint's parameters in the type the run computes in: F32 by
/// default, F64 with `--dtype f64` (as `docs/runtime.md` documents).
enum Weights {
    F32(Vec<Vec<f32>>),
    F64(Vec<Tensor>),
}

impl Weights {
    fn new(params: Vec<Tensor>, f32: bool) -> Weights {
        if f32 {
            Weights::F32(
                params
                    .iter()
                    .map(|p| p.data.iter().map(|&x| x as f32).collect())
                    .collect(),
            )
        } else {
            Weights::F64(params)
        }
    }

    fn slice(&self, i: usize) -> cdlc_runtime::checkpoint::ParamSlice<'_> {
        match self {
            Weights::F32(p) => cdlc_runtime::checkpoint::ParamSlice::F32(&p[i]),
            Weights::F64(p) => cdlc_runtime::checkpoint::ParamSlice::F64(&p[i].data),
        }
    }
}

/// Writes one epoch's weights, metrics and plot as one set (see
/// `cdlc_runtime::checkpoint::epochs`).
fn save(
    folder: &EpochFolder,
    rows: &[EpochMetrics],
    inst: &Instantiated,
    params: &Weights,
    metadata: &BTreeMap<String, String>,
    title: &str,
) -> Result<(), WriteError> {
    let views: Vec<cdlc_runtime::checkpoint::ParamView<'_>> = inst
        .slots
        .iter()
        .enumerate()
        .map(|(i, s)| cdlc_runtime::checkpoint::ParamView {
            name: &s.name,
            shape: &s.stored_shape,
            data: params.slice(i),
        })
        .collect();
    let epoch = rows.last().map_or(0, |r| r.epoch);
    let mut metadata = metadata.clone();
    metadata.insert("epoch".to_string(), epoch.to_string());
    let weights = cdlc_runtime::checkpoint::serialize(&views, &metadata)
        .map_err(|e| WriteError::Weights(Box::new(e)))?;
    let metrics = report::metrics_csv(rows);
    let svg = report::loss_svg(rows, title).map_err(WriteError::Plot)?;
    folder
        .commit(
            epoch,
            &[
                ("weights.safetensors", &weights),
                ("metrics.csv", metrics.as_bytes()),
                ("loss.svg", svg.as_bytes()),
            ],
        )
        .map_err(WriteError::Files)
}
