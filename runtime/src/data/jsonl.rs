//! `jsonl(path)`: one JSON object `{"x": ..., "y": ...}` per line.
//!
//! The input is decoded against the model's input type, so the same JSON
//! can only mean one thing: a tensor is a nested array of numbers (a bare
//! number for `R`); a list is an array of its elements; a product (or the
//! several inputs of a model) is an array with one entry per component; any
//! other data-type value is `{"constructor": [arguments...]}`, e.g.
//! `{"node": [{"leaf": [[0.1, 0.2]]}, {"leaf": [[0.3, 0.4]]}]}`. A list may
//! also be written with its constructors (`{"cons": [a, {"nil": []}]}`).
//! The target `y` is a class index for a classification target, a nested
//! array for a tensor target, and an array of those for a list target.
//! Blank lines are skipped; line numbers in errors are 1-based.

use std::path::Path;

use serde_json::Value as Json;

use super::{DataError, FieldPath, Location, Mismatch, Scope, TargetType};
use crate::value::{DataType, Example, LIST_CONS, LIST_NIL, Target, Tensor, Value};

#[cfg(test)]
mod tests;

/// Reads a JSON-lines file whose examples have input type `x` and target
/// type `y`.
pub fn load(path: &Path, x: &DataType, y: &TargetType) -> Result<Vec<Example>, DataError> {
    let text = std::fs::read_to_string(path).map_err(|e| DataError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    parse(&text, path, x, y)
}

/// Parses the text of a JSON-lines file; `path` is only used in errors.
pub fn parse(
    text: &str,
    path: &Path,
    x: &DataType,
    y: &TargetType,
) -> Result<Vec<Example>, DataError> {
    let mut out = Vec::new();
    // A byte-order mark is skipped, as in CSV files and programs.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    for (i, line) in text.lines().enumerate() {
        let at = Location::Line(i + 1);
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let syntax = |message: String| DataError::Syntax {
            path: path.to_path_buf(),
            at,
            message,
        };
        let mismatch = |mismatch: Mismatch| DataError::Mismatch {
            path: path.to_path_buf(),
            at,
            mismatch,
        };
        let json: Json =
            serde_json::from_str(line).map_err(|e| syntax(format!("invalid JSON: {e}")))?;
        let Json::Object(obj) = json else {
            return Err(syntax(format!(
                "expected an object {{\"x\": ..., \"y\": ...}}, found {}",
                describe(&json)
            )));
        };
        if let Some(key) = obj.keys().find(|k| *k != "x" && *k != "y") {
            return Err(syntax(format!(
                "unexpected key `{key}`; an example has only `x` and `y`"
            )));
        }
        let (Some(jx), Some(jy)) = (obj.get("x"), obj.get("y")) else {
            return Err(syntax("an example needs both `x` and `y`".into()));
        };
        let xv = decode(jx, x, None, &FieldPath::new("x")).map_err(mismatch)?;
        let yv = decode_target(jy, y, &FieldPath::new("y")).map_err(mismatch)?;
        out.push(Example { x: xv, y: yv });
    }
    Ok(out)
}

/// Reads the inputs of a JSON-lines file for `cdlc run`: each line is an
/// object with an `x` of type `x` (a `y`, if present, is ignored).
pub fn load_inputs(path: &Path, x: &DataType) -> Result<Vec<Value>, DataError> {
    let text = std::fs::read_to_string(path).map_err(|e| DataError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let mut out = Vec::new();
    // A byte-order mark is skipped, as in CSV files and programs.
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    for (i, line) in text.lines().enumerate() {
        let at = Location::Line(i + 1);
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let syntax = |message: String| DataError::Syntax {
            path: path.to_path_buf(),
            at,
            message,
        };
        let json: Json =
            serde_json::from_str(line).map_err(|e| syntax(format!("invalid JSON: {e}")))?;
        let Some(jx) = json.get("x") else {
            return Err(syntax(format!(
                "expected an object {{\"x\": ...}}, found {}",
                describe(&json)
            )));
        };
        let v =
            decode(jx, x, None, &FieldPath::new("x")).map_err(|mismatch| DataError::Mismatch {
                path: path.to_path_buf(),
                at,
                mismatch,
            })?;
        out.push(v);
    }
    Ok(out)
}

/// A short description of a JSON value, for error messages.
fn describe(j: &Json) -> String {
    match j {
        Json::Null => "null".into(),
        Json::Bool(b) => b.to_string(),
        Json::Number(n) => format!("the number {n}"),
        Json::String(s) => format!("the string {}", super::clipped(s)),
        Json::Array(a) => format!("an array of {}", a.len()),
        Json::Object(o) => match o.keys().next() {
            Some(k) if o.len() == 1 => format!("a `{k}` value"),
            _ => format!("an object with {} keys", o.len()),
        },
    }
}

/// Decodes `j` as a value of type `ty`.
fn decode(
    j: &Json,
    ty: &DataType,
    scope: Option<&Scope<'_>>,
    path: &FieldPath,
) -> Result<Value, Mismatch> {
    match ty {
        DataType::Tensor(shape) => {
            let mut data = Vec::with_capacity(shape.iter().product());
            tensor_data(j, shape, path, &mut data)?;
            Ok(Value::Tensor(Tensor::new(shape.clone(), data)))
        }
        DataType::Tuple(ts) => match j {
            Json::Array(items) if items.len() == ts.len() => items
                .iter()
                .zip(ts)
                .enumerate()
                .map(|(i, (j, t))| decode(j, t, scope, &path.index(i)))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Tuple),
            _ => Err(path.mismatch(format!("{ty} (an array of {})", ts.len()), describe(j))),
        },
        DataType::Data(decl) => decode_node(j, &Scope::enter(decl, scope), path),
        DataType::Rec(k) => match scope.and_then(|s| s.up(*k)) {
            Some(s) => decode_node(j, s, path),
            None => Err(path.mismatch(ty, "a recursive position outside its data type")),
        },
    }
}

/// Appends the numbers of `j`, a nested array of shape `shape`, to `out`.
fn tensor_data(
    j: &Json,
    shape: &[usize],
    path: &FieldPath,
    out: &mut Vec<f64>,
) -> Result<(), Mismatch> {
    let expected = || DataType::Tensor(shape.to_vec());
    match (shape.split_first(), j) {
        (None, Json::Number(n)) => match n.as_f64() {
            Some(v) => match super::bad_number(v) {
                None => {
                    out.push(v);
                    Ok(())
                }
                Some(why) => Err(path.mismatch(expected(), why)),
            },
            None => Err(path.mismatch(expected(), describe(j))),
        },
        (Some((&d, rest)), Json::Array(items)) if items.len() == d => {
            for (i, item) in items.iter().enumerate() {
                tensor_data(item, rest, &path.index(i), out)?;
            }
            Ok(())
        }
        _ => Err(path.mismatch(expected(), describe(j))),
    }
}

/// Decodes a value of the data type `scope` is inside.
fn decode_node(j: &Json, scope: &Scope<'_>, path: &FieldPath) -> Result<Value, Mismatch> {
    let decl = scope.decl();
    match j {
        Json::Array(items) if decl.is_list() => {
            let elem = &decl.ctors[LIST_CONS as usize].fields[0];
            let mut values = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                values.push(decode(item, elem, Some(scope), &path.index(i))?);
            }
            let mut list = Value::Node {
                ctor: LIST_NIL,
                fields: Vec::new(),
            };
            for v in values.into_iter().rev() {
                list = Value::Node {
                    ctor: LIST_CONS,
                    fields: vec![v, list],
                };
            }
            Ok(list)
        }
        Json::Object(obj) if obj.len() == 1 => {
            let (name, args) = obj
                .iter()
                .next()
                .expect("an object of length 1 has an entry");
            let Some((index, ctor)) = decl.ctors.iter().enumerate().find(|(_, c)| &c.name == name)
            else {
                return Err(path.mismatch(constructors(decl), format!("constructor `{name}`")));
            };
            let Json::Array(args) = args else {
                return Err(path.mismatch(
                    format!(
                        "the arguments of `{name}` as an array of {}",
                        ctor.fields.len()
                    ),
                    describe(args),
                ));
            };
            if args.len() != ctor.fields.len() {
                return Err(path.mismatch(
                    format!("{} argument(s) for `{name}`", ctor.fields.len()),
                    format!("{}", args.len()),
                ));
            }
            let fields = args
                .iter()
                .zip(&ctor.fields)
                .enumerate()
                .map(|(i, (a, t))| decode(a, t, Some(scope), &path.field(name, i)))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Value::Node {
                ctor: index as u32,
                fields,
            })
        }
        _ => Err(path.mismatch(constructors(decl), describe(j))),
    }
}

/// `List(R[2]) (an array, or one of {"nil": [...]}, {"cons": [...]})`.
fn constructors(decl: &crate::value::DataDecl) -> String {
    let ctors: Vec<String> = decl
        .ctors
        .iter()
        .map(|c| format!("{{\"{}\": [...]}}", c.name))
        .collect();
    let list = if decl.is_list() { "an array, or " } else { "" };
    format!("{} ({list}one of {})", decl.name, ctors.join(", "))
}

/// Decodes a target of type `ty`.
fn decode_target(j: &Json, ty: &TargetType, path: &FieldPath) -> Result<Target, Mismatch> {
    match ty {
        TargetType::Class(n) => {
            let class = j.as_u64().or_else(|| {
                j.as_f64()
                    .filter(|v| v.fract() == 0.0 && *v >= 0.0)
                    .map(|v| v as u64)
            });
            match class {
                Some(c) if c < *n as u64 => Ok(Target::Class(c as usize)),
                _ => Err(path.mismatch(ty, describe(j))),
            }
        }
        TargetType::Tensor(shape) => {
            let mut data = Vec::with_capacity(shape.iter().product());
            tensor_data(j, shape, path, &mut data)?;
            Ok(Target::Tensor(Tensor::new(shape.clone(), data)))
        }
        TargetType::Seq(inner) => match j {
            Json::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| decode_target(item, inner, &path.index(i)))
                .collect::<Result<Vec<_>, _>>()
                .map(Target::Seq),
            _ => Err(path.mismatch(ty, describe(j))),
        },
    }
}
