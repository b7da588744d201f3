//! `cdlc measure FILE --weights W`: how equivariant a trained model is
//! under a group the program declares (`cdlc::equivariance::measure`).
//!
//! Reads the program, the weights and (with `--data`) the inputs, and
//! prints the mean and maximum relative equivariance error for the discrete
//! generators and the relative Lie derivative per Lie generator, for the
//! whole model and, with `--per-layer`, for each stage of a chain or each
//! layer applied in a block body. Errors are E0610 (the group), E0611
//! (the model cannot be measured) and E0612 (the weights or data do not
//! fit), at the model; a model that cannot
//! be instantiated is E0617, and the train block's data is checked as
//! training checks it (E0603 at its `data` option).

use super::train_error::TrainError;
use cdlc::diagnostics::Diagnostic;
use cdlc::equivariance::measure::{
    MeasureError, MeasureSetup, Measurement, Report, Stats, measure,
};
use cdlc::training::PrepareError;
use std::path::PathBuf;
use std::process::ExitCode;

/// The arguments of `cdlc measure`.
#[derive(clap::Args, Debug)]
pub struct MeasureArgs {
    /// The program.
    file: PathBuf,
    /// The weights written by training.
    #[arg(long)]
    weights: PathBuf,
    /// A `.jsonl` file of inputs (`{"x": ...}` per line); default: the held-out
    /// inputs of the model's train block, or standard normal samples without one.
    #[arg(long)]
    data: Option<PathBuf>,
    /// The group (a declared name; default: the group of the model's input space).
    #[arg(long)]
    group: Option<String>,
    /// Also measure each stage of a model written as `f_1 >> ... >> f_k`.
    #[arg(long)]
    per_layer: bool,
    /// The model (default: the train block's model).
    #[arg(long)]
    entry: Option<String>,
    /// Random inputs without `--data`.
    #[arg(long, default_value_t = 32)]
    samples: usize,
    /// Random words of generators per input, besides each generator alone.
    #[arg(long, default_value_t = 8)]
    words: usize,
    /// The seed of the random inputs and group elements.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// Runs `cdlc measure`: the report on standard output, as text or (with
/// `--message-format json`) one JSON object.
pub fn main(args: &MeasureArgs) -> ExitCode {
    let c = match crate::load_clean(&args.file) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let model = match crate::entry(&c, args.entry.as_deref()) {
        Ok(m) => m,
        Err(code) => return code,
    };
    match measured(args, &c, model) {
        Ok(m) => {
            match super::report::format() {
                crate::MessageFormat::Human => super::stdout::print(format_args!("{}", human(&m))),
                crate::MessageFormat::Json => super::stdout::print(format_args!("{}\n", json(&m))),
            }
            ExitCode::SUCCESS
        }
        Err(d) => super::report::fail(d, &c.sources, 1),
    }
}

/// The measurement, or the diagnostic that stops it: the measure stage's
/// own errors (E0610–E0612) at the model, or another stage's.
fn measured(
    args: &MeasureArgs,
    c: &cdlc::Compilation,
    model: cdlc::resolve::ItemId,
) -> Result<Measurement, Diagnostic> {
    let span = c.program.item(model).span;
    let at_model = |e: MeasureError| e.to_diagnostic(span);
    let inst = cdlc::instantiate::instantiate_with(&c.program, &c.checked, &c.tyings, model)
        .map_err(|u| PrepareError::Unsupported(u).to_diagnostic(span))?;
    let hash = super::source_hash(c.sources.text(c.file));
    let params = super::weights::load(&args.weights, &inst, Some(&hash))
        .map_err(|e| at_model(MeasureError::Fit(e.message())))?;
    let data = match &args.data {
        Some(path) => {
            let x_type = if inst.inputs.len() == 1 {
                inst.inputs[0].clone()
            } else {
                cdlc_runtime::value::DataType::Tuple(inst.inputs.clone())
            };
            let xs = cdlc_runtime::data::jsonl::load_inputs(path, &x_type).map_err(|e| {
                at_model(MeasureError::Fit(super::data::diagnostic(&e, None).message))
            })?;
            if xs.is_empty() {
                return Err(at_model(MeasureError::Fit(format!(
                    "{} holds no input",
                    path.display()
                ))));
            }
            Some(xs)
        }
        None => block_inputs(args, c, model)?,
    };
    let setup = MeasureSetup {
        group: args.group.as_deref(),
        data: data.as_deref(),
        samples: args.samples,
        words: args.words,
        seed: args.seed,
        per_layer: args.per_layer,
    };
    measure(c, model, &inst, &params, &setup).map_err(at_model)
}

/// Without `--data`: the held-out inputs of the model's train block (the
/// validation split, at most `--samples` of them), so that a learned
/// symmetry is measured where it was learned; `None` (standard normal
/// samples) when the model has no train block. The train block's data
/// errors are reported at its `data` option, as training reports them.
fn block_inputs(
    args: &MeasureArgs,
    c: &cdlc::Compilation,
    model: cdlc::resolve::ItemId,
) -> Result<Option<Vec<cdlc_runtime::value::Value>>, Diagnostic> {
    let name = &c.checked.defs[&model].name;
    let Some(setup) = cdlc::train_block(c, Some(name)) else {
        return Ok(None);
    };
    let prepared = cdlc::training::prepare(c, model, setup.loss)
        .map_err(|e| e.to_diagnostic(setup.model_span))?;
    let want = cdlc::training::expected_signature(&prepared)
        .ok_or_else(|| TrainError::LossUnfit.to_diagnostic(setup))?;
    let base = args.file.parent().unwrap_or(std::path::Path::new("."));
    let data = super::data::load(&setup.data, base, &want, setup.seed, setup.data_span)?;
    let (_, held_out) = cdlc::training::split(data.examples, setup.split, setup.seed);
    let xs: Vec<_> = held_out
        .into_iter()
        .take(args.samples.max(1))
        .map(|e| e.x)
        .collect();
    Ok((!xs.is_empty()).then_some(xs))
}

fn stats_text(s: &Stats) -> String {
    format!("mean {:.3e}, max {:.3e}", s.mean, s.max)
}

fn report_lines(r: &Report, indent: &str) -> String {
    let mut out = String::new();
    if let Some(d) = &r.discrete {
        out.push_str(&format!(
            "{indent}discrete generators: ‖f(g·x) − g·f(x)‖ / ‖f(x)‖ {}\n",
            stats_text(d)
        ));
    }
    for (name, s) in &r.lie {
        out.push_str(&format!(
            "{indent}Lie derivative along {name}: ‖L f(x)‖ / ‖f(x)‖ {}\n",
            stats_text(s)
        ));
    }
    out
}

/// The human report.
fn human(m: &Measurement) -> String {
    let mut out = format!(
        "{} under {}, {} input{}:\n",
        m.model,
        m.group,
        m.inputs,
        if m.inputs == 1 { "" } else { "s" }
    );
    out.push_str(&report_lines(&m.whole, "  "));
    if !m.layers.is_empty() {
        out.push_str("per layer, on the inputs each layer sees:\n");
        for (name, r) in &m.layers {
            match r {
                Ok(r) => {
                    out.push_str(&format!("  {name}:\n"));
                    out.push_str(&report_lines(r, "    "));
                }
                Err(why) => out.push_str(&format!("  {name}: not measured: {why}\n")),
            }
        }
    }
    out
}

fn stats_json(s: &Stats) -> serde_json::Value {
    serde_json::json!({"mean": s.mean, "max": s.max})
}

fn report_json(r: &Report) -> serde_json::Value {
    serde_json::json!({
        "discrete": r.discrete.as_ref().map(stats_json),
        "lie": r.lie.iter().map(|(n, s)| serde_json::json!({"generator": n, "mean": s.mean, "max": s.max})).collect::<Vec<_>>(),
    })
}

/// The JSON report (one object).
fn json(m: &Measurement) -> serde_json::Value {
    serde_json::json!({
        "model": m.model,
        "group": m.group,
        "inputs": m.inputs,
        "whole": report_json(&m.whole),
        "layers": m.layers.iter().map(|(n, r)| match r {
            Ok(r) => serde_json::json!({"layer": n, "report": report_json(r)}),
            Err(why) => serde_json::json!({"layer": n, "not_measured": why}),
        }).collect::<Vec<_>>(),
    })
}
