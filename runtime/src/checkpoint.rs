//! Checkpoints: parameters in the safetensors format, written atomically.
//!
//! Each parameter is stored under its qualified name (`encoder.W`) as an
//! F32 or F64 tensor, with a string-to-string metadata map chosen by the
//! caller (the model's name, a hash of its source). The file is written to
//! a temporary file in the destination's folder, flushed to disk and then
//! renamed over the destination, so a crash or Ctrl-C leaves either the old
//! checkpoint or the new one, never half of one.
//!
//! The writer lays the file out itself so that the same parameters always
//! give the same bytes (header keys sorted, tensors in the order given);
//! reading goes through the `safetensors` crate, which validates the header.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use safetensors::{Dtype, SafeTensors};

pub mod epochs;
#[cfg(test)]
mod tests;

/// Writes `bytes` to `path` atomically: a temporary file in the same folder
/// is written, flushed to disk and renamed over `path`; the folder is then
/// flushed so the rename itself survives a crash.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the destination has no file name",
        )
    })?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".tmp{}", std::process::id()));
    let tmp = dir.join(tmp_name);
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        // The temporary file is ours; remove it if anything went wrong.
        let _ = std::fs::remove_file(&tmp);
        return result;
    }
    // Flushing a folder is not possible on every platform; the rename has
    // happened either way.
    if let Ok(d) = File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// A parameter's values, borrowed for writing.
#[derive(Clone, Copy, Debug)]
pub enum ParamSlice<'a> {
    /// Single precision.
    F32(&'a [f32]),
    /// Double precision.
    F64(&'a [f64]),
}

impl ParamSlice<'_> {
    fn len(&self) -> usize {
        match self {
            ParamSlice::F32(d) => d.len(),
            ParamSlice::F64(d) => d.len(),
        }
    }
}

/// A parameter to write: its qualified name, shape and values.
#[derive(Clone, Copy, Debug)]
pub struct ParamView<'a> {
    /// The qualified name.
    pub name: &'a str,
    /// The shape.
    pub shape: &'a [usize],
    /// The values, row-major.
    pub data: ParamSlice<'a>,
}

/// A parameter's values, owned.
#[derive(Clone, Debug, PartialEq)]
pub enum ParamData {
    /// Single precision.
    F32(Vec<f32>),
    /// Double precision.
    F64(Vec<f64>),
}

impl ParamData {
    /// The values widened to f64.
    pub fn to_f64(&self) -> Vec<f64> {
        match self {
            ParamData::F32(d) => d.iter().map(|&v| f64::from(v)).collect(),
            ParamData::F64(d) => d.clone(),
        }
    }

    /// The values as f32 (f64 values are rounded).
    pub fn to_f32(&self) -> Vec<f32> {
        match self {
            ParamData::F32(d) => d.clone(),
            ParamData::F64(d) => d.iter().map(|&v| v as f32).collect(),
        }
    }
}

/// A parameter read from a checkpoint.
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    /// The qualified name.
    pub name: String,
    /// The shape.
    pub shape: Vec<usize>,
    /// The values, row-major.
    pub data: ParamData,
}

/// The contents of a checkpoint.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    /// The caller's metadata.
    pub metadata: BTreeMap<String, String>,
    /// The parameters, in the order of the expected list when loaded with
    /// `load`, by name otherwise.
    pub params: Vec<Param>,
}

/// What can go wrong writing or reading a checkpoint.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum CheckpointError {
    /// The file system refused.
    #[error("cannot access {}: {message}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's message.
        message: String,
    },
    /// The file is not a valid safetensors file.
    #[error("{} is not a valid checkpoint: {message}", .path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A parameter to write whose data does not fill its shape, or whose
    /// name is reserved or repeated.
    #[error("cannot write parameter `{name}`: {message}")]
    InvalidParam {
        /// The parameter.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// The model has a parameter the checkpoint lacks.
    #[error("{} has no parameter `{name}`", .path.display())]
    Missing {
        /// The file.
        path: PathBuf,
        /// The parameter.
        name: String,
    },
    /// The checkpoint has a parameter the model lacks.
    #[error("{} has a parameter `{name}` the model does not have", .path.display())]
    Unexpected {
        /// The file.
        path: PathBuf,
        /// The parameter.
        name: String,
    },
    /// A parameter of the wrong shape.
    #[error("parameter `{name}` in {} has shape {found:?}, but the model expects {expected:?}", .path.display())]
    Shape {
        /// The file.
        path: PathBuf,
        /// The parameter.
        name: String,
        /// The model's shape.
        expected: Vec<usize>,
        /// The checkpoint's shape.
        found: Vec<usize>,
    },
}

/// The bytes of a safetensors file holding `params` and `metadata`.
pub fn serialize(
    params: &[ParamView<'_>],
    metadata: &BTreeMap<String, String>,
) -> Result<Vec<u8>, CheckpointError> {
    let invalid = |name: &str, message: String| CheckpointError::InvalidParam {
        name: name.to_string(),
        message,
    };
    let mut header = serde_json::Map::new();
    if !metadata.is_empty() {
        let m = metadata
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect();
        header.insert("__metadata__".into(), serde_json::Value::Object(m));
    }
    let mut offset = 0usize;
    for p in params {
        let elements = p.shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
        if elements != Some(p.data.len()) {
            return Err(invalid(
                p.name,
                format!(
                    "{} values do not fill the shape {:?}",
                    p.data.len(),
                    p.shape
                ),
            ));
        }
        if p.name == "__metadata__" || header.contains_key(p.name) {
            return Err(invalid(p.name, "the name is reserved or used twice".into()));
        }
        let (dtype, width) = match p.data {
            ParamSlice::F32(_) => ("F32", 4),
            ParamSlice::F64(_) => ("F64", 8),
        };
        let end = offset + p.data.len() * width;
        header.insert(
            p.name.to_string(),
            serde_json::json!({ "dtype": dtype, "shape": p.shape, "data_offsets": [offset, end] }),
        );
        offset = end;
    }
    let mut head = serde_json::to_vec(&serde_json::Value::Object(header))
        .expect("a JSON map always serializes");
    // The data section starts 8-byte aligned; the header is padded with spaces.
    while !head.len().is_multiple_of(8) {
        head.push(b' ');
    }
    let mut out = Vec::with_capacity(8 + head.len() + offset);
    out.extend_from_slice(&(head.len() as u64).to_le_bytes());
    out.extend_from_slice(&head);
    for p in params {
        match p.data {
            ParamSlice::F32(d) => d
                .iter()
                .for_each(|v| out.extend_from_slice(&v.to_le_bytes())),
            ParamSlice::F64(d) => d
                .iter()
                .for_each(|v| out.extend_from_slice(&v.to_le_bytes())),
        }
    }
    Ok(out)
}

/// Writes a checkpoint atomically.
pub fn save(
    path: &Path,
    params: &[ParamView<'_>],
    metadata: &BTreeMap<String, String>,
) -> Result<(), CheckpointError> {
    let bytes = serialize(params, metadata)?;
    write_atomic(path, &bytes).map_err(|e| CheckpointError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// Reads every parameter of a checkpoint, sorted by name.
pub fn read(path: &Path) -> Result<Checkpoint, CheckpointError> {
    let bytes = std::fs::read(path).map_err(|e| CheckpointError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    parse(&bytes, path)
}

/// Parses checkpoint bytes; `path` is only used in errors.
pub fn parse(bytes: &[u8], path: &Path) -> Result<Checkpoint, CheckpointError> {
    let format = |message: String| CheckpointError::Format {
        path: path.to_path_buf(),
        message,
    };
    let tensors = SafeTensors::deserialize(bytes).map_err(|e| format(e.to_string()))?;
    let (_, meta) = SafeTensors::read_metadata(bytes).map_err(|e| format(e.to_string()))?;
    let metadata = meta
        .metadata()
        .as_ref()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    let mut params = Vec::new();
    for (name, view) in tensors.tensors() {
        let raw = view.data();
        let data = match view.dtype() {
            Dtype::F32 => ParamData::F32(
                raw.chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect(),
            ),
            Dtype::F64 => ParamData::F64(
                raw.chunks_exact(8)
                    .map(|b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
                    .collect(),
            ),
            other => {
                return Err(format(format!(
                    "parameter `{name}` has dtype {other:?}; only F32 and F64 are supported"
                )));
            }
        };
        params.push(Param {
            name,
            shape: view.shape().to_vec(),
            data,
        });
    }
    params.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Checkpoint { metadata, params })
}

/// Reads a checkpoint and checks it holds exactly the `expected`
/// parameters (name and shape); the parameters come back in that order.
pub fn load(path: &Path, expected: &[(&str, &[usize])]) -> Result<Checkpoint, CheckpointError> {
    let mut ck = read(path)?;
    ck.params = ck.take_expected(path, expected)?;
    Ok(ck)
}

impl Checkpoint {
    /// The parameter called `name`.
    pub fn get(&self, name: &str) -> Option<&Param> {
        self.params.iter().find(|p| p.name == name)
    }

    /// Removes the expected parameters in order, checking names and shapes,
    /// and fails if any other parameter remains.
    fn take_expected(
        &mut self,
        path: &Path,
        expected: &[(&str, &[usize])],
    ) -> Result<Vec<Param>, CheckpointError> {
        let mut out = Vec::with_capacity(expected.len());
        for &(name, shape) in expected {
            let Some(i) = self.params.iter().position(|p| p.name == name) else {
                return Err(CheckpointError::Missing {
                    path: path.to_path_buf(),
                    name: name.to_string(),
                });
            };
            let p = self.params.swap_remove(i);
            if p.shape != shape {
                return Err(CheckpointError::Shape {
                    path: path.to_path_buf(),
                    name: p.name,
                    expected: shape.to_vec(),
                    found: p.shape,
                });
            }
            out.push(p);
        }
        if let Some(extra) = self.params.iter().map(|p| &p.name).min() {
            return Err(CheckpointError::Unexpected {
                path: path.to_path_buf(),
                name: extra.clone(),
            });
        }
        Ok(out)
    }
}
