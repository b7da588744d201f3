//! `cdlc data FILE`: writes a train block's examples (a file it names or a
//! built-in synthetic set) as JSON lines, in the form `jsonl(...)` reads,
//! so the same examples reach other tools (an exported JAX module).
//!
//! `--split train` and `--split val` are exactly the parts training uses
//! (the seeded shuffle and split of `cdlc::training::split`), in that
//! order; `--split all` is every example in generation (file) order.

use super::data;
use cdlc_runtime::data::Signature;
use cdlc_runtime::value::{DataType, Example, Target, Tensor, Value};
use serde_json::Value as Json;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The arguments of `cdlc data`.
#[derive(clap::Args, Debug)]
pub struct DataArgs {
    /// The program.
    file: PathBuf,
    /// The train block whose data to write (by its model's name; default: the first).
    #[arg(long)]
    train: Option<String>,
    /// Where to write the JSON lines.
    #[arg(long)]
    out: PathBuf,
    /// Which examples: the training part, the validation part, or all of them.
    #[arg(long, value_enum, default_value_t = Part::All)]
    split: Part,
}

/// Which part of a data set `cdlc data` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Part {
    /// The examples training steps on, in training's (shuffled) order.
    Train,
    /// The examples training validates on.
    Val,
    /// Every example, in generation order.
    All,
}

/// Runs `cdlc data`.
pub fn main(args: &DataArgs) -> ExitCode {
    let c = match crate::load_clean(&args.file) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let (setup, prepared) = match super::grad::train_setup(&c, args.train.as_deref(), "cdlc data") {
        Ok(s) => s,
        Err(code) => return code,
    };
    let (want, examples) = match super::grad::block_examples(&c, setup, &prepared, &args.file) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let examples = match args.split {
        Part::All => examples,
        Part::Train => cdlc::training::split(examples, setup.split, setup.seed).0,
        Part::Val => cdlc::training::split(examples, setup.split, setup.seed).1,
    };
    let text = jsonl(&examples, &want);
    if let Err(e) = cdlc_runtime::checkpoint::write_atomic(&args.out, text.as_bytes()) {
        let d = super::files::FileError::write(&args.out, e).to_diagnostic();
        return super::report::fail(d, &c.sources, 1);
    }
    eprintln!(
        "wrote {} examples of `{}` to {}",
        examples.len(),
        setup.model_name,
        args.out.display()
    );
    ExitCode::SUCCESS
}

/// The examples as JSON lines, one `{"x": ..., "y": ...}` each.
pub fn jsonl(examples: &[Example], want: &Signature) -> String {
    let mut out = String::new();
    for e in examples {
        let mut line = serde_json::Map::new();
        line.insert("x".into(), value_json(&e.x, &want.x, &[]));
        line.insert("y".into(), target_json(&e.y));
        out += &Json::Object(line).to_string();
        out.push('\n');
    }
    out
}

/// A value of type `t` as JSON. `scope` holds the data types enclosing the
/// position, innermost first, so that `Rec(k)` names `scope[k]`.
fn value_json(v: &Value, t: &DataType, scope: &[&DataType]) -> Json {
    match (v, t) {
        (_, DataType::Rec(k)) => {
            let k = *k as usize;
            let outer = scope
                .get(k)
                .expect("a checked data type's recursive positions are bound");
            value_json(v, outer, &scope[k + 1..])
        }
        (Value::Tensor(x), _) => tensor_json(x),
        (Value::Tuple(vs), DataType::Tuple(ts)) => Json::Array(
            vs.iter()
                .zip(ts)
                .map(|(v, t)| value_json(v, t, scope))
                .collect(),
        ),
        (Value::Node { .. }, DataType::Data(d)) if d.is_list() => {
            let items = v.as_list().expect("a value of a list type is a list");
            let elem = &d.ctors[1].fields[0];
            let mut inner = vec![t];
            inner.extend_from_slice(scope);
            Json::Array(
                items
                    .into_iter()
                    .map(|x| value_json(x, elem, &inner))
                    .collect(),
            )
        }
        (Value::Node { ctor, fields }, DataType::Data(d)) => {
            let decl = &d.ctors[*ctor as usize];
            let mut inner = vec![t];
            inner.extend_from_slice(scope);
            let args = fields
                .iter()
                .zip(&decl.fields)
                .map(|(v, t)| value_json(v, t, &inner))
                .collect();
            let mut obj = serde_json::Map::new();
            obj.insert(decl.name.clone(), Json::Array(args));
            Json::Object(obj)
        }
        (v, t) => unreachable!("a loaded example matches its type: {v:?} against {t}"),
    }
}

fn target_json(y: &Target) -> Json {
    match y {
        Target::Class(c) => Json::from(*c),
        Target::Tensor(t) => tensor_json(t),
        Target::Seq(ys) => Json::Array(ys.iter().map(target_json).collect()),
    }
}

/// A tensor as nested arrays (a bare number for a scalar). Numbers are
/// written in the shortest form that reads back to the same f64.
fn tensor_json(t: &Tensor) -> Json {
    fn nest(shape: &[usize], data: &[f64]) -> Json {
        match shape {
            [] => number(data[0]),
            [n, rest @ ..] => {
                let k: usize = rest.iter().product();
                Json::Array(
                    (0..*n)
                        .map(|i| nest(rest, &data[i * k..(i + 1) * k]))
                        .collect(),
                )
            }
        }
    }
    nest(&t.shape, &t.data)
}

fn number(x: f64) -> Json {
    serde_json::Number::from_f64(x).map_or(Json::Null, Json::Number)
}

/// Loads the data a train block names, checked against the model.
pub fn load(
    c: &cdlc::Compilation,
    setup: &cdlc::check::TrainSetup,
    want: &Signature,
    file: &Path,
) -> Result<Vec<Example>, ExitCode> {
    let base = file.parent().unwrap_or(Path::new("."));
    match data::load(&setup.data, base, want, setup.seed, setup.data_span) {
        Ok(d) => Ok(d.examples),
        Err(d) => Err(super::report::fail(d, &c.sources, 1)),
    }
}
