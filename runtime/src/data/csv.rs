//! `csv(path, label = "col")`: a header row, then one example per row.
//!
//! The column named `label` is the target; every other column, in file
//! order, is a feature, so the input type is `R[k]` for `k` feature columns.
//! A class target must be a whole number in `0..n`; a tensor target must be
//! `R` or `R[1]`. Fields may be quoted with `"` (a doubled `""` inside
//! quotes is a literal quote, and quoted fields may span lines); spaces
//! around numbers are ignored; blank lines are skipped; `\r\n` line ends
//! are accepted. Line numbers in errors are 1-based and count the header.

use std::path::Path;

use super::{DataError, FieldPath, Location, Mismatch, TargetType, bad_number, clipped, shortened};
use crate::value::{DataType, Example, Target, Tensor, Value};

#[cfg(test)]
mod tests;

/// Reads a CSV file whose label column is `label`, for a model whose input
/// type is `x` and target type `y`: the examples and the line (from 1,
/// counting the header) each row starts on.
pub fn load(
    path: &Path,
    label: &str,
    x: &DataType,
    y: &TargetType,
) -> Result<(Vec<Example>, Vec<usize>), DataError> {
    let text = std::fs::read_to_string(path).map_err(|e| DataError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    numbered(&text, path, label, x, y)
}

/// Parses the text of a CSV file; `path` is only used in errors.
pub fn parse(
    text: &str,
    path: &Path,
    label: &str,
    x: &DataType,
    y: &TargetType,
) -> Result<Vec<Example>, DataError> {
    Ok(numbered(text, path, label, x, y)?.0)
}

/// `parse`, with the line each row starts on.
fn numbered(
    text: &str,
    path: &Path,
    label: &str,
    x: &DataType,
    y: &TargetType,
) -> Result<(Vec<Example>, Vec<usize>), DataError> {
    let layout = |message: String| DataError::Layout {
        path: path.to_path_buf(),
        message,
    };
    let records =
        records(text.strip_prefix('\u{feff}').unwrap_or(text)).map_err(|(line, message)| {
            DataError::Syntax {
                path: path.to_path_buf(),
                at: Location::Line(line),
                message,
            }
        })?;
    let mut records = records.into_iter();
    let Some((_, header)) = records.next() else {
        return Err(layout("the file is empty; it needs a header row".into()));
    };
    let Some(label_col) = header.iter().position(|h| h.trim() == label) else {
        return Err(layout(format!(
            "there is no label column `{label}`; the columns are {}",
            header.join(", ")
        )));
    };
    let features = header.len() - 1;
    match x {
        DataType::Tensor(s) if s.as_slice() == [features] => {}
        _ => {
            return Err(layout(format!(
                "the model's input is {x}, but a CSV file with {features} feature column(s) gives R[{features}]"
            )));
        }
    }
    let target_is_scalar = match y {
        TargetType::Class(_) => None,
        TargetType::Tensor(s) if s.is_empty() => Some(Vec::new()),
        TargetType::Tensor(s) if s.as_slice() == [1] => Some(vec![1]),
        other => {
            return Err(layout(format!(
                "the model's target is {other}, but a CSV label column gives a class or one number"
            )));
        }
    };
    let mut out = Vec::new();
    let mut lines = Vec::new();
    for (line, fields) in records {
        let mismatch = |mismatch: Mismatch| DataError::Mismatch {
            path: path.to_path_buf(),
            at: Location::Line(line),
            mismatch,
        };
        if fields.len() != header.len() {
            return Err(DataError::Syntax {
                path: path.to_path_buf(),
                at: Location::Line(line),
                message: format!(
                    "expected {} fields like the header, found {}",
                    header.len(),
                    fields.len()
                ),
            });
        }
        let mut data = Vec::with_capacity(features);
        for (col, field) in fields.iter().enumerate().filter(|(c, _)| *c != label_col) {
            let v = number(field).map_err(|found| {
                mismatch(FieldPath::new("x").index(data.len()).mismatch(
                    format!("a number (column `{}`)", shortened(header[col].trim())),
                    found,
                ))
            })?;
            data.push(v);
        }
        let raw = &fields[label_col];
        let target = match (y, &target_is_scalar) {
            (TargetType::Class(n), _) => match number(raw) {
                Ok(v) if v.fract() == 0.0 && v >= 0.0 && v < *n as f64 => Target::Class(v as usize),
                _ => return Err(mismatch(FieldPath::new("y").mismatch(y, clipped(raw)))),
            },
            (_, Some(shape)) => match number(raw) {
                Ok(v) => Target::Tensor(Tensor::new(shape.clone(), vec![v])),
                Err(found) => return Err(mismatch(FieldPath::new("y").mismatch(y, found))),
            },
            (_, None) => unreachable!("non-class targets were given a shape above"),
        };
        out.push(Example {
            x: Value::Tensor(Tensor::new(vec![features], data)),
            y: target,
        });
        lines.push(line);
    }
    Ok((out, lines))
}

/// A number fit to train on, ignoring surrounding spaces; otherwise what
/// was found instead.
fn number(field: &str) -> Result<f64, String> {
    let v = field.trim().parse::<f64>().map_err(|_| clipped(field))?;
    match bad_number(v) {
        None => Ok(v),
        Some(why) => Err(why),
    }
}

/// A CSV record: the line it starts on and its fields.
type Record = (usize, Vec<String>);

/// The records of a CSV text, each with the 1-based line it starts on.
/// Blank lines are skipped. An unterminated quote is an error naming the
/// line it was opened on.
fn records(text: &str) -> Result<Vec<Record>, (usize, String)> {
    let mut out = Vec::new();
    let mut fields: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut line = 1;
    let mut record_line = 1;
    let mut quote_line = 0;
    let mut in_quotes = false;
    let mut chars = text.chars().peekable();
    let mut end_record = |fields: &mut Vec<String>, field: &mut String, at: usize| {
        let blank = fields.is_empty() && field.trim().is_empty();
        fields.push(std::mem::take(field));
        let record = std::mem::take(fields);
        if !blank {
            out.push((at, record));
        }
    };
    while let Some(c) = chars.next() {
        if in_quotes {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => in_quotes = false,
                '\n' => {
                    line += 1;
                    field.push('\n');
                }
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' => {
                in_quotes = true;
                quote_line = line;
            }
            ',' => fields.push(std::mem::take(&mut field)),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                end_record(&mut fields, &mut field, record_line);
                line += 1;
                record_line = line;
            }
            _ => field.push(c),
        }
    }
    if in_quotes {
        return Err((quote_line, "a quoted field is not closed".into()));
    }
    end_record(&mut fields, &mut field, record_line);
    Ok(out)
}
