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

use super::json::{Document, Kind, NodeId};
use super::{DataError, FieldPath, Location, Mismatch, TargetType};
use crate::value::{DataType, Example, Target, Tensor, Value};

mod decode;
#[cfg(test)]
mod tests;

/// Reads a JSON-lines file whose examples have input type `x` and target
/// type `y`: the examples and the line (from 1) each was read from.
pub fn load(
    path: &Path,
    x: &DataType,
    y: &TargetType,
) -> Result<(Vec<Example>, Vec<usize>), DataError> {
    let text = std::fs::read_to_string(path).map_err(|e| DataError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    numbered(&text, path, x, y)
}

/// Parses the text of a JSON-lines file; `path` is only used in errors.
///
/// Lines are read by `super::json` and decoded by `decode`, neither of
/// which recurses per level of the data, so values of any depth load.
pub fn parse(
    text: &str,
    path: &Path,
    x: &DataType,
    y: &TargetType,
) -> Result<Vec<Example>, DataError> {
    Ok(numbered(text, path, x, y)?.0)
}

/// `parse`, with the line (from 1) of each example.
fn numbered(
    text: &str,
    path: &Path,
    x: &DataType,
    y: &TargetType,
) -> Result<(Vec<Example>, Vec<usize>), DataError> {
    let mut out = Vec::new();
    let mut numbers = Vec::new();
    for (number, line) in lines(text) {
        let at = Location::Line(number);
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
        let doc = Document::parse(line).map_err(|e| syntax(format!("invalid JSON: {e}")))?;
        let root = doc.root();
        if !matches!(doc.node(root).kind, Kind::Object(_)) {
            return Err(syntax(format!(
                "expected an object {{\"x\": ..., \"y\": ...}}, found {}",
                describe(&doc, root)
            )));
        }
        let mut keys = doc.children(root).map(|c| key(&doc, c));
        if let Some(key) = keys.find(|k| *k != "x" && *k != "y") {
            return Err(syntax(format!(
                "unexpected key `{}`; an example has only `x` and `y`",
                super::shortened(key)
            )));
        }
        if doc.children(root).count() > 2 {
            return Err(syntax("an example has `x` and `y` once each".into()));
        }
        let (Some(jx), Some(jy)) = (doc.get(root, "x"), doc.get(root, "y")) else {
            return Err(syntax("an example needs both `x` and `y`".into()));
        };
        let xv = decode::decode(&doc, jx, x, "x").map_err(mismatch)?;
        let yv = decode_target(&doc, jy, y, &FieldPath::new("y")).map_err(mismatch)?;
        out.push(Example { x: xv, y: yv });
        numbers.push(number);
    }
    Ok((out, numbers))
}

/// The non-blank lines of a file, trimmed, with their 1-based numbers; a
/// byte-order mark is skipped, as in CSV files and programs.
fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    text.lines()
        .enumerate()
        .map(|(i, line)| (i + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty())
}

/// The key a member of an object is stored under.
fn key<'d>(doc: &'d Document<'_>, member: NodeId) -> &'d str {
    doc.node(member)
        .key
        .as_deref()
        .expect("a member of an object has a key")
}

/// Reads the inputs of a JSON-lines file for `cdlc run`: each line is an
/// object with an `x` of type `x` (a `y`, if present, is ignored).
pub fn load_inputs(path: &Path, x: &DataType) -> Result<Vec<Value>, DataError> {
    Ok(load_numbered_inputs(path, x)?.0)
}

/// `load_inputs`, with the line (from 1) of each input.
pub fn load_numbered_inputs(
    path: &Path,
    x: &DataType,
) -> Result<(Vec<Value>, Vec<usize>), DataError> {
    let text = std::fs::read_to_string(path).map_err(|e| DataError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let mut out = Vec::new();
    let mut numbers = Vec::new();
    for (number, line) in lines(&text) {
        let at = Location::Line(number);
        let syntax = |message: String| DataError::Syntax {
            path: path.to_path_buf(),
            at,
            message,
        };
        let doc = Document::parse(line).map_err(|e| syntax(format!("invalid JSON: {e}")))?;
        let Some(jx) = doc.get(doc.root(), "x") else {
            return Err(syntax(format!(
                "expected an object {{\"x\": ...}}, found {}",
                describe(&doc, doc.root())
            )));
        };
        let v = decode::decode(&doc, jx, x, "x").map_err(|mismatch| DataError::Mismatch {
            path: path.to_path_buf(),
            at,
            mismatch,
        })?;
        out.push(v);
        numbers.push(number);
    }
    Ok((out, numbers))
}

/// A short description of a JSON value, for error messages.
fn describe(doc: &Document<'_>, id: NodeId) -> String {
    match &doc.node(id).kind {
        Kind::Null => "null".into(),
        Kind::Bool(b) => b.to_string(),
        Kind::Number(n) => format!("the number {}", super::shortened(n)),
        Kind::String(s) => format!("the string {}", super::clipped(s)),
        Kind::Array(n) => format!("an array of {n}"),
        Kind::Object(1) => {
            let member = doc
                .children(id)
                .next()
                .expect("an object of 1 has a member");
            format!("a `{}` value", super::shortened(key(doc, member)))
        }
        Kind::Object(n) => format!("an object with {n} keys"),
    }
}

/// Decodes a target of type `ty`. It recurses once per `Seq` of the
/// target type, a depth the type bounds.
fn decode_target(
    doc: &Document<'_>,
    id: NodeId,
    ty: &TargetType,
    path: &FieldPath,
) -> Result<Target, Mismatch> {
    let node = doc.node(id);
    match ty {
        TargetType::Class(n) => {
            let class = node.as_u64().or_else(|| {
                node.as_f64()
                    .filter(|v| v.fract() == 0.0 && *v >= 0.0)
                    .map(|v| v as u64)
            });
            match class {
                Some(c) if c < *n as u64 => Ok(Target::Class(c as usize)),
                _ => Err(path.mismatch(ty, describe(doc, id))),
            }
        }
        TargetType::Tensor(shape) => {
            let mut data = Vec::new();
            let mut suffix = Vec::new();
            decode::tensor_data(doc, id, shape, &mut suffix, &mut data).map_err(
                |(expected, found)| {
                    let mut at = path.clone();
                    for i in &suffix {
                        at = at.index(*i);
                    }
                    at.mismatch(expected, found)
                },
            )?;
            Ok(Target::Tensor(Tensor::new(shape.clone(), data)))
        }
        TargetType::Seq(inner) => match node.kind {
            Kind::Array(_) => doc
                .children(id)
                .enumerate()
                .map(|(i, item)| decode_target(doc, item, inner, &path.index(i)))
                .collect::<Result<Vec<_>, _>>()
                .map(Target::Seq),
            _ => Err(path.mismatch(ty, describe(doc, id))),
        },
    }
}
