//! `npy(x_path, y_path)`: two numpy arrays whose first axis is the example.
//!
//! The inputs must be a tensor type `R[s...]`, and the input array has shape
//! `[N, s...]`. A class target is an array of shape `[N]` (or `[N, 1]`) of
//! whole numbers in `0..n`, of an integer or float dtype; a tensor target
//! `R[t...]` is an array of shape `[N, t...]`. Floats, signed and unsigned
//! integers and booleans of any width and byte order are read and widened
//! to f64; arrays in Fortran order are reordered to row-major.

use std::path::{Path, PathBuf};

use npyz::{DType, NpyFile, Order, TypeChar};

use super::{DataError, FieldPath, Location, TargetType};
use crate::value::{DataType, Example, Target, Tensor, Value};

#[cfg(test)]
mod tests;

/// A whole numpy array, widened to f64 and row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Array {
    /// The shape.
    pub shape: Vec<usize>,
    /// `shape.iter().product()` numbers, row-major.
    pub data: Vec<f64>,
}

/// Reads the input and target arrays for a model whose input type is `x`
/// and target type `y`.
pub fn load(
    x_path: &Path,
    y_path: &Path,
    x: &DataType,
    y: &TargetType,
) -> Result<Vec<Example>, DataError> {
    let DataType::Tensor(x_shape) = x else {
        return Err(DataError::Layout {
            path: x_path.to_path_buf(),
            message: format!("an npy array holds tensors, but the model's input is {x}"),
        });
    };
    let xs = read_array(x_path)?;
    let ys = read_array(y_path)?;
    let n = examples(&xs, x_path)?;
    if examples(&ys, y_path)? != n {
        return Err(DataError::Layout {
            path: y_path.to_path_buf(),
            message: format!(
                "it holds {} examples, but {} holds {n}",
                ys.shape[0],
                x_path.display()
            ),
        });
    }
    if xs.shape[1..] != x_shape[..] {
        return Err(mismatch_at_first(x_path, "x", x, &xs.shape[1..]));
    }
    let width = x_shape.iter().product::<usize>();
    finite(&xs, x_path, "x", width)?;
    if matches!(y, TargetType::Tensor(_)) {
        finite(&ys, y_path, "y", ys.shape[1..].iter().product())?;
    }
    let targets = targets(&ys, y_path, y, n)?;
    Ok(targets
        .into_iter()
        .enumerate()
        .map(|(i, y)| Example {
            x: Value::Tensor(Tensor::new(
                x_shape.clone(),
                xs.data[i * width..(i + 1) * width].to_vec(),
            )),
            y,
        })
        .collect())
}

/// E0603's data error for the first value of `a` that is not a number to
/// train on, named by its example (`width` values each) and position.
fn finite(a: &Array, path: &Path, root: &str, width: usize) -> Result<(), DataError> {
    let Some((k, why)) = a
        .data
        .iter()
        .enumerate()
        .find_map(|(k, &v)| super::bad_number(v).map(|why| (k, why)))
    else {
        return Ok(());
    };
    let (example, at) = (k / width.max(1), k % width.max(1));
    Err(DataError::Mismatch {
        path: path.to_path_buf(),
        at: Location::Index(example),
        mismatch: FieldPath::new(root)
            .index(at)
            .mismatch("a finite number", why),
    })
}

/// The number of examples: the first axis.
fn examples(a: &Array, path: &Path) -> Result<usize, DataError> {
    a.shape.first().copied().ok_or_else(|| DataError::Layout {
        path: path.to_path_buf(),
        message: "a scalar array has no example axis".into(),
    })
}

/// A per-example shape mismatch, reported at example 0.
fn mismatch_at_first(
    path: &Path,
    root: &str,
    expected: impl std::fmt::Display,
    found: &[usize],
) -> DataError {
    DataError::Mismatch {
        path: path.to_path_buf(),
        at: Location::Index(0),
        mismatch: FieldPath::new(root)
            .mismatch(expected, DataType::Tensor(found.to_vec()).to_string()),
    }
}

fn targets(ys: &Array, path: &Path, ty: &TargetType, n: usize) -> Result<Vec<Target>, DataError> {
    match ty {
        TargetType::Class(classes) => {
            if !(ys.shape[1..].is_empty() || ys.shape[1..] == [1]) {
                return Err(mismatch_at_first(path, "y", ty, &ys.shape[1..]));
            }
            ys.data
                .iter()
                .enumerate()
                .map(|(i, &v)| {
                    if v.fract() == 0.0 && v >= 0.0 && v < *classes as f64 {
                        Ok(Target::Class(v as usize))
                    } else {
                        Err(DataError::Mismatch {
                            path: path.to_path_buf(),
                            at: Location::Index(i),
                            mismatch: FieldPath::new("y").mismatch(ty, format!("{v}")),
                        })
                    }
                })
                .collect()
        }
        TargetType::Tensor(shape) => {
            if ys.shape[1..] != shape[..] {
                return Err(mismatch_at_first(path, "y", ty, &ys.shape[1..]));
            }
            let width = shape.iter().product::<usize>();
            Ok((0..n)
                .map(|i| {
                    Target::Tensor(Tensor::new(
                        shape.clone(),
                        ys.data[i * width..(i + 1) * width].to_vec(),
                    ))
                })
                .collect())
        }
        TargetType::Seq(_) => Err(DataError::Layout {
            path: path.to_path_buf(),
            message: format!("an npy array cannot hold the list target {ty}"),
        }),
    }
}

/// Reads a whole `.npy` file.
pub fn read_array(path: &Path) -> Result<Array, DataError> {
    let bytes = std::fs::read(path).map_err(|e| DataError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    read_bytes(&bytes, path.to_path_buf())
}

/// Reads an `.npy` array from its bytes; `path` is only used in errors.
pub fn read_bytes(bytes: &[u8], path: PathBuf) -> Result<Array, DataError> {
    let bad = |message: String| DataError::Syntax {
        path: path.clone(),
        at: Location::Index(0),
        message,
    };
    // The reader multiplies the shape's extents unchecked; refuse shapes
    // whose element count overflows or exceeds the bytes present first.
    if let Some(count) = declared_elements(bytes) {
        match count {
            Some(n) if n <= bytes.len() as u64 => {}
            _ => return Err(bad("the header's shape does not fit the file's size".into())),
        }
    }
    let npy = NpyFile::new(bytes).map_err(|e| bad(format!("not a valid npy file: {e}")))?;
    let shape: Vec<usize> = npy
        .shape()
        .iter()
        .map(|&d| usize::try_from(d))
        .collect::<Result<_, _>>()
        .map_err(|_| bad("the array is too large".into()))?;
    let order = npy.order();
    let DType::Plain(ts) = npy.dtype() else {
        return Err(bad(
            "structured arrays are not supported; save a plain numeric array".into(),
        ));
    };
    let size = ts.size_field();
    let read_err = |e: std::io::Error| bad(format!("the data cannot be read: {e}"));
    let data: Vec<f64> = match (ts.type_char(), size) {
        (TypeChar::Float, 4) => widen(npy.into_vec::<f32>(), f64::from),
        (TypeChar::Float, 8) => npy.into_vec::<f64>(),
        (TypeChar::Int, 1) => widen(npy.into_vec::<i8>(), f64::from),
        (TypeChar::Int, 2) => widen(npy.into_vec::<i16>(), f64::from),
        (TypeChar::Int, 4) => widen(npy.into_vec::<i32>(), f64::from),
        (TypeChar::Int, 8) => widen(npy.into_vec::<i64>(), |v| v as f64),
        (TypeChar::Uint, 1) => widen(npy.into_vec::<u8>(), f64::from),
        (TypeChar::Uint, 2) => widen(npy.into_vec::<u16>(), f64::from),
        (TypeChar::Uint, 4) => widen(npy.into_vec::<u32>(), f64::from),
        (TypeChar::Uint, 8) => widen(npy.into_vec::<u64>(), |v| v as f64),
        (TypeChar::Bool, 1) => widen(npy.into_vec::<bool>(), |b| if b { 1.0 } else { 0.0 }),
        _ => {
            return Err(bad(format!(
                "unsupported dtype {ts}; use a float, integer or bool array"
            )));
        }
    }
    .map_err(read_err)?;
    if data.len() != shape.iter().product::<usize>() {
        return Err(bad(format!(
            "the data holds {} numbers, not {:?}",
            data.len(),
            shape
        )));
    }
    let data = match order {
        Order::C => data,
        Order::Fortran => fortran_to_c(&data, &shape),
    };
    Ok(Array { shape, data })
}

/// The element count the header's `shape` declares: `None` if the header
/// cannot be read here (the npy reader then reports it), `Some(None)` if
/// the count overflows.
fn declared_elements(bytes: &[u8]) -> Option<Option<u64>> {
    let rest = bytes.strip_prefix(b"\x93NUMPY")?;
    let (&major, rest) = rest.split_first()?;
    let rest = rest.get(1..)?;
    let (len, rest) = match major {
        1 => (
            usize::from(u16::from_le_bytes([*rest.first()?, *rest.get(1)?])),
            rest.get(2..)?,
        ),
        _ => {
            let b = rest.get(..4)?;
            (
                u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize,
                rest.get(4..)?,
            )
        }
    };
    let header = std::str::from_utf8(rest.get(..len)?).ok()?;
    let after = &header[header.find("'shape'")? + "'shape'".len()..];
    let open = after.find('(')?;
    let close = after.find(')')?;
    let mut count: Option<u64> = Some(1);
    for dim in after
        .get(open + 1..close)?
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
    {
        let d: u64 = dim.parse().ok()?;
        count = count.and_then(|c| c.checked_mul(d));
    }
    Some(count)
}

fn widen<T>(v: std::io::Result<Vec<T>>, f: impl Fn(T) -> f64) -> std::io::Result<Vec<f64>> {
    v.map(|v| v.into_iter().map(f).collect())
}

/// Reorders column-major data (first axis fastest) to row-major.
fn fortran_to_c(data: &[f64], shape: &[usize]) -> Vec<f64> {
    let mut out = vec![0.0; data.len()];
    let mut index = vec![0usize; shape.len()];
    for &v in data {
        // `index` walks the array in Fortran order; place v at its C offset.
        let c = index.iter().zip(shape).fold(0, |acc, (&i, &d)| acc * d + i);
        out[c] = v;
        for (i, &d) in index.iter_mut().zip(shape) {
            *i += 1;
            if *i < d {
                break;
            }
            *i = 0;
        }
    }
    out
}
