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
    super::notes::emit(&super::notes::Note::DataWritten {
        examples: examples.len(),
        model: &setup.model_name,
        out: &args.out,
    });
    ExitCode::SUCCESS
}

/// The examples as JSON lines, one `{"x": ..., "y": ...}` each, in the
/// compact form `serde_json` prints.
pub fn jsonl(examples: &[Example], want: &Signature) -> String {
    let mut out = String::new();
    for e in examples {
        out += "{\"x\":";
        write_value(&mut out, &e.x, &want.x);
        out += ",\"y\":";
        out += &target_json(&e.y).to_string();
        out += "}\n";
    }
    out
}

/// A piece of pending output: a value of a type, with the data types
/// enclosing its position (innermost first, so that `Rec(k)` names
/// `scope[k]`), or punctuation.
enum Piece<'a> {
    Value(&'a Value, &'a DataType, Vec<&'a DataType>),
    Text(String),
}

/// Appends a value of type `t` as JSON to `out`. The walk keeps its own
/// stack of pending pieces rather than recursing, so a tree 100 000 levels
/// deep is written without overflowing the stack; only a tensor (whose
/// depth its type bounds) is built as a `serde_json` value.
fn write_value(out: &mut String, v: &Value, t: &DataType) {
    let mut pieces = vec![Piece::Value(v, t, Vec::new())];
    while let Some(piece) = pieces.pop() {
        match piece {
            Piece::Text(text) => out.push_str(&text),
            Piece::Value(v, t, scope) => {
                let (open, children, close) = expand(v, t, scope);
                out.push_str(&open);
                pieces.push(Piece::Text(close));
                for (i, child) in children.into_iter().enumerate().rev() {
                    pieces.push(child);
                    if i > 0 {
                        pieces.push(Piece::Text(",".into()));
                    }
                }
            }
        }
    }
}

/// One step of `write_value`: the text before a value's parts, its parts,
/// and the text after them.
fn expand<'a>(
    v: &'a Value,
    t: &'a DataType,
    scope: Vec<&'a DataType>,
) -> (String, Vec<Piece<'a>>, String) {
    let enclosed = |scope: &[&'a DataType]| {
        let mut inner = vec![t];
        inner.extend_from_slice(scope);
        inner
    };
    match (v, t) {
        (_, DataType::Rec(k)) => {
            let k = *k as usize;
            let outer = scope
                .get(k)
                .expect("a checked data type's recursive positions are bound");
            let part = Piece::Value(v, outer, scope[k + 1..].to_vec());
            (String::new(), vec![part], String::new())
        }
        (Value::Tensor(x), _) => (tensor_json(x).to_string(), Vec::new(), String::new()),
        (Value::Tuple(vs), DataType::Tuple(ts)) => {
            let parts = vs
                .iter()
                .zip(ts)
                .map(|(v, t)| Piece::Value(v, t, scope.clone()))
                .collect();
            ("[".into(), parts, "]".into())
        }
        (Value::Node { .. }, DataType::Data(d)) if d.is_list() => {
            let items = v.as_list().expect("a value of a list type is a list");
            let elem = &d.ctors[1].fields[0];
            let inner = enclosed(&scope);
            let parts = items
                .into_iter()
                .map(|x| Piece::Value(x, elem, inner.clone()))
                .collect();
            ("[".into(), parts, "]".into())
        }
        (Value::Node { ctor, fields }, DataType::Data(d)) => {
            let decl = &d.ctors[*ctor as usize];
            let inner = enclosed(&scope);
            let parts = fields
                .iter()
                .zip(&decl.fields)
                .map(|(v, t)| Piece::Value(v, t, inner.clone()))
                .collect();
            let name = Json::String(decl.name.clone()).to_string();
            (format!("{{{name}:["), parts, "]}".into())
        }
        (_, t) => unreachable!("a loaded example matches its type {t}"),
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
