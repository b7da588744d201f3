//! Data sets: built-in synthetic generators and readers for data files.
//!
//! Every source produces `Example`s whose input matches a `DataType` and
//! whose target matches a `TargetType`. Readers check each example against
//! the types the model expects and report the first mismatch as a
//! `DataError` naming the line (or example index), the path to the bad
//! field, what was expected and what was found. Nothing here panics on bad
//! input.

use std::fmt;
use std::path::PathBuf;

use crate::value::{DataType, Example, Target, Value};
use links::{PathId, Paths, ScopeId, Scopes};

pub mod csv;
mod json;
pub mod jsonl;
mod links;
pub mod npy;
pub mod splitmix;
pub mod synthetic;

#[cfg(test)]
mod tests;

/// The kind of target a data set provides, as a loss expects it.
#[derive(Clone, Debug, PartialEq)]
pub enum TargetType {
    /// A class index in `0..n` (`cross_entropy`).
    Class(usize),
    /// A tensor of this shape (`mse`, `binary_cross_entropy`).
    Tensor(Vec<usize>),
    /// One target per position of a `List` output.
    Seq(Box<TargetType>),
}

impl fmt::Display for TargetType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TargetType::Class(n) => write!(f, "a class in 0..{n}"),
            TargetType::Tensor(s) => write!(f, "{}", DataType::Tensor(s.clone())),
            TargetType::Seq(t) => write!(f, "a list of ({t})"),
        }
    }
}

/// What a data source produces: its input type and its target type.
#[derive(Clone, Debug, PartialEq)]
pub struct Signature {
    /// The type of each example's `x`.
    pub x: DataType,
    /// The type of each example's `y`.
    pub y: TargetType,
}

/// A generated or loaded data set.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    /// The types every example matches.
    pub signature: Signature,
    /// The examples, in generation (or file) order.
    pub examples: Vec<Example>,
    /// Where each example came from, for naming it in an error.
    pub origins: Origins,
}

/// Where the examples of a data set came from: a text file's lines, an
/// array file's rows, or a generator. Kept beside the examples so that an
/// example refused later (while training, after splitting and shuffling)
/// is named where the user can find it, as the readers' own errors are.
#[derive(Clone, Debug, PartialEq)]
pub enum Origins {
    /// A JSON-lines or CSV file: example `i` starts on line `lines[i]`
    /// (from 1; blank lines, a CSV header and quoted fields spanning lines
    /// make the two differ).
    Lines {
        /// The file.
        path: PathBuf,
        /// Each example's first line.
        lines: Vec<usize>,
    },
    /// An npy file: example `i` is row `i` of its arrays.
    Rows {
        /// The inputs' file.
        path: PathBuf,
    },
    /// Generated examples, numbered from 0 in the order they were drawn.
    Synthetic,
}

impl Origins {
    /// Where example `i` of the data set came from.
    pub fn of(&self, i: usize) -> Origin {
        match self {
            Origins::Lines { path, lines } => Origin {
                file: Some(path.clone()),
                at: Location::Line(lines[i]),
            },
            Origins::Rows { path } => Origin {
                file: Some(path.clone()),
                at: Location::Index(i),
            },
            Origins::Synthetic => Origin {
                file: None,
                at: Location::Index(i),
            },
        }
    }
}

/// Where one example came from: a file's line or row, or a generated
/// example's number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// The file, or `None` for a generated example.
    pub file: Option<PathBuf>,
    /// The line (from 1) or the example's number (from 0).
    pub at: Location,
}

impl Origin {
    /// How the place is counted, for a note under an error.
    pub fn counting(&self) -> &'static str {
        match (&self.file, self.at) {
            (Some(_), Location::Line(_)) => "lines are counted from 1, blank lines included",
            (Some(_), Location::Index(_)) => {
                "examples are counted from 0, row by row of the arrays"
            }
            (None, _) => "generated examples are counted from 0 in the order they are drawn",
        }
    }
}

impl fmt::Display for Origin {
    /// `line 7 of d.jsonl`, `example 3 of x.npy`, `synthetic example 3`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.file {
            Some(path) => write!(f, "{} of {}", self.at, path.display()),
            None => write!(f, "synthetic {}", self.at),
        }
    }
}

/// Where in a data source a problem was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Location {
    /// A 1-based line of a text file.
    Line(usize),
    /// A 0-based example index (npy arrays, generated data).
    Index(usize),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Line(n) => write!(f, "line {n}"),
            Location::Index(i) => write!(f, "example {i}"),
        }
    }
}

/// One value that does not have the expected type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    /// The path from the example to the bad value, e.g. `x[2].cons[0]`.
    pub path: String,
    /// The expected type, as the language prints it.
    pub expected: String,
    /// A short description of what was found instead.
    pub found: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "at {}: expected {}, found {}",
            self.path, self.expected, self.found
        )
    }
}

/// Everything that can go wrong while generating or reading data.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum DataError {
    /// `synthetic.NAME` is not a built-in data set.
    #[error("unknown data set `synthetic.{name}`; the built-in data sets are {}", .known.join(", "))]
    UnknownDataset {
        /// The name used.
        name: String,
        /// The built-in names.
        known: Vec<&'static str>,
    },
    /// A required argument was not given.
    #[error("`synthetic.{dataset}` needs the argument `{arg}` (it takes {})", .expected.join(", "))]
    MissingArgument {
        /// The data set.
        dataset: String,
        /// The missing argument.
        arg: &'static str,
        /// Every argument the data set takes, in order.
        expected: Vec<&'static str>,
    },
    /// An argument the data set does not take, or one given twice.
    #[error("`synthetic.{dataset}` has no argument `{arg}`, or it was given twice (it takes {})", .expected.join(", "))]
    UnexpectedArgument {
        /// The data set.
        dataset: String,
        /// The argument used.
        arg: String,
        /// Every argument the data set takes, in order.
        expected: Vec<&'static str>,
    },
    /// An argument whose value is out of range.
    #[error("argument `{arg}` of `synthetic.{dataset}` is {value}, but it must be {requirement}")]
    InvalidArgument {
        /// The data set.
        dataset: String,
        /// The argument.
        arg: &'static str,
        /// The value given.
        value: f64,
        /// What the value must be, e.g. "an integer of at least 2".
        requirement: String,
    },
    /// A generator could not draw a valid example (e.g. `set_mode` kept
    /// drawing ties).
    #[error("`synthetic.{dataset}` could not draw a valid example: {reason}")]
    Generation {
        /// The data set.
        dataset: String,
        /// Why.
        reason: String,
    },
    /// Generation was stopped (Ctrl-C) before it finished.
    #[error("stopped while the data set was being generated; nothing was trained or written")]
    Interrupted,
    /// The file could not be read.
    #[error("cannot read {}: {message}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's message.
        message: String,
    },
    /// A line or record is not well-formed (bad JSON, bad number, wrong
    /// number of CSV fields, a damaged npy header).
    #[error("{}, {at}: {message}", .path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// Where.
        at: Location,
        /// What is wrong.
        message: String,
    },
    /// A value does not match the type the model expects.
    #[error("{}, {at}: {mismatch}", .path.display())]
    Mismatch {
        /// The file (or `synthetic.NAME` for generated data).
        path: PathBuf,
        /// Which example.
        at: Location,
        /// What is wrong with it.
        mismatch: Mismatch,
    },
    /// The file's layout does not fit the expected types as a whole (a
    /// missing label column, arrays with different example counts, an
    /// input type the format cannot hold).
    #[error("{}: {message}", .path.display())]
    Layout {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// The largest magnitude a data value may have: the largest finite f32,
/// since training computes in f32 by default and a larger value would
/// become infinite there.
pub const MAX_MAGNITUDE: f64 = f32::MAX as f64;

/// Why `v` cannot be a data value (NaN, infinite, or beyond
/// `MAX_MAGNITUDE`), or `None` when it can. Every reader asks this of every
/// number, so no data set reaches training with a value that makes the
/// loss non-finite by itself.
pub fn bad_number(v: f64) -> Option<String> {
    if v.is_nan() {
        Some("NaN, which is not a number to train on".to_string())
    } else if v.is_infinite() {
        Some(format!("{v}, which is not a finite number"))
    } else if v.abs() > MAX_MAGNITUDE {
        Some(format!(
            "{v:e}, beyond the largest number training handles (about 3.4e38)"
        ))
    } else {
        None
    }
}

/// How many characters of a field an error message quotes at most.
const SHOWN: usize = 40;

/// At most the first 40 characters of `text`, quoted, with a note of how
/// long it was when it was cut, so that an error never echoes a huge field.
pub fn clipped(text: &str) -> String {
    match text.char_indices().nth(SHOWN) {
        None => format!("{text:?}"),
        Some((cut, _)) => format!("{:?}... ({} bytes)", &text[..cut], text.len()),
    }
}

/// At most the first 40 characters of a name, unquoted, as `clipped` cuts.
pub fn shortened(text: &str) -> String {
    match text.char_indices().nth(SHOWN) {
        None => text.to_string(),
        Some((cut, _)) => format!("{}... ({} bytes)", &text[..cut], text.len()),
    }
}

/// A path into a target or a CSV row, whose depth their type bounds.
/// Segments are appended as text, e.g. `y`, `[2]`; paths into values of
/// any depth are links instead (`links.rs`).
#[derive(Clone, Debug)]
pub(crate) struct FieldPath(String);

impl FieldPath {
    /// A path starting at `root` (`x` or `y`).
    pub(crate) fn new(root: &str) -> FieldPath {
        FieldPath(root.to_string())
    }

    /// This path followed by an index `[i]`.
    pub(crate) fn index(&self, i: usize) -> FieldPath {
        FieldPath(format!("{}[{i}]", self.0))
    }

    /// A mismatch at this path.
    pub(crate) fn mismatch(
        &self,
        expected: impl fmt::Display,
        found: impl Into<String>,
    ) -> Mismatch {
        Mismatch {
            path: self.0.clone(),
            expected: expected.to_string(),
            found: found.into(),
        }
    }
}

/// A short description of a value's shape, for error messages.
pub(crate) fn describe(v: &Value) -> String {
    match v {
        Value::Tensor(t) => DataType::Tensor(t.shape.clone()).to_string(),
        Value::Tuple(vs) => format!("a tuple of {}", vs.len()),
        Value::Node { ctor, fields } => {
            format!("constructor #{ctor} with {} fields", fields.len())
        }
    }
}

/// Checks that `v` has type `ty`, and names the first place it does not.
///
/// The walk keeps its own stack of positions to check, with paths and
/// scopes as links (`links.rs`), so a value of any depth (a long list, a
/// tree 100 000 levels deep) is checked in time linear in its size, and a
/// path is only rendered for the mismatch reported.
pub fn check_value(v: &Value, ty: &DataType) -> Result<(), Mismatch> {
    let mut walk = CheckWalk {
        paths: Paths::new("x"),
        scopes: Scopes::default(),
        work: Vec::new(),
    };
    let root = walk.paths.root();
    walk.work.push(Check::Typed(v, ty, None, root));
    walk.run()
}

/// A position still to check, in the order a recursive walk would reach
/// it (the first mismatch in that order is the one reported).
enum Check<'v, 't> {
    /// A value of a type, inside a scope, at a path.
    Typed(&'v Value, &'t DataType, Option<ScopeId>, PathId),
    /// The part of a prelude list from `position` on, inside the list's
    /// scope; its elements are named `path[i]`.
    ListFrom(&'v Value, ScopeId, PathId, usize),
}

struct CheckWalk<'v, 't> {
    paths: Paths<'t>,
    scopes: Scopes<'t>,
    work: Vec<Check<'v, 't>>,
}

impl<'v, 't> CheckWalk<'v, 't> {
    fn run(&mut self) -> Result<(), Mismatch> {
        while let Some(check) = self.work.pop() {
            match check {
                Check::Typed(v, ty, scope, path) => self.typed(v, ty, scope, path)?,
                Check::ListFrom(v, scope, path, position) => self.node(v, scope, path, position)?,
            }
        }
        Ok(())
    }

    fn typed(
        &mut self,
        v: &'v Value,
        ty: &'t DataType,
        scope: Option<ScopeId>,
        path: PathId,
    ) -> Result<(), Mismatch> {
        match (ty, v) {
            (DataType::Tensor(shape), Value::Tensor(t))
                if &t.shape == shape && t.data.len() == shape.iter().product::<usize>() =>
            {
                Ok(())
            }
            (DataType::Tuple(ts), Value::Tuple(vs)) if vs.len() == ts.len() => {
                for (i, (v, t)) in vs.iter().zip(ts).enumerate().rev() {
                    let at = self.paths.index(path, i);
                    self.work.push(Check::Typed(v, t, scope, at));
                }
                Ok(())
            }
            (DataType::Tensor(_) | DataType::Tuple(_), _) => Err(self.paths.mismatch(
                path,
                self.scopes.named(&ty.to_string(), scope),
                describe(v),
            )),
            (DataType::Data(decl), _) => {
                let inner = self.scopes.enter(decl, scope);
                self.node(v, inner, path, 0)
            }
            (DataType::Rec(k), _) => match self.scopes.up(scope, *k) {
                Some(target) => self.node(v, target, path, 0),
                None => {
                    Err(self
                        .paths
                        .mismatch(path, ty, "a recursive position outside its data type"))
                }
            },
        }
    }

    /// Checks a node of the data type `scope` is inside and schedules its
    /// fields. For a prelude list, `position` counts the cells before this
    /// one, whose path is `path[position]` (the list itself at 0), and the
    /// tail is scheduled as the next position.
    fn node(
        &mut self,
        v: &'v Value,
        scope: ScopeId,
        path: PathId,
        position: usize,
    ) -> Result<(), Mismatch> {
        let decl = self.scopes.decl(scope);
        let is_list = decl.is_list();
        let here = if is_list && position > 0 {
            self.paths.index(path, position)
        } else {
            path
        };
        let name = || {
            self.scopes
                .named(&decl.name, self.scopes.up(Some(scope), 1))
        };
        let Value::Node { ctor, fields } = v else {
            return Err(self.paths.mismatch(here, name(), describe(v)));
        };
        let Some(c) = decl.ctors.get(*ctor as usize) else {
            return Err(self
                .paths
                .mismatch(here, name(), format!("constructor #{ctor}")));
        };
        if fields.len() != c.fields.len() {
            return Err(self.paths.mismatch(
                here,
                format!("{} with {} fields", c.name, c.fields.len()),
                format!("{} fields", fields.len()),
            ));
        }
        for (i, (f, t)) in fields.iter().zip(&c.fields).enumerate().rev() {
            if is_list && i == 1 {
                self.work
                    .push(Check::ListFrom(f, scope, path, position + 1));
                continue;
            }
            let at = if is_list {
                self.paths.index(path, position)
            } else {
                self.paths.field(path, &c.name, i)
            };
            self.work.push(Check::Typed(f, t, Some(scope), at));
        }
        Ok(())
    }
}

/// Checks that a target has type `ty`.
pub fn check_target(y: &Target, ty: &TargetType) -> Result<(), Mismatch> {
    check_target_at(y, ty, &FieldPath::new("y"))
}

fn check_target_at(y: &Target, ty: &TargetType, path: &FieldPath) -> Result<(), Mismatch> {
    match (y, ty) {
        (Target::Class(c), TargetType::Class(n)) if c < n => Ok(()),
        (Target::Class(c), TargetType::Class(_)) => Err(path.mismatch(ty, format!("class {c}"))),
        (Target::Tensor(t), TargetType::Tensor(s)) if &t.shape == s => Ok(()),
        (Target::Seq(ys), TargetType::Seq(inner)) => {
            for (i, y) in ys.iter().enumerate() {
                check_target_at(y, inner, &path.index(i))?;
            }
            Ok(())
        }
        (Target::Class(c), _) => Err(path.mismatch(ty, format!("class {c}"))),
        (Target::Tensor(t), _) => {
            Err(path.mismatch(ty, DataType::Tensor(t.shape.clone()).to_string()))
        }
        (Target::Seq(ys), _) => Err(path.mismatch(ty, format!("a list of {} targets", ys.len()))),
    }
}

/// Checks every example of a data set against a signature.
pub fn check_examples(examples: &[Example], sig: &Signature) -> Result<(), (usize, Mismatch)> {
    for (i, e) in examples.iter().enumerate() {
        check_value(&e.x, &sig.x).map_err(|m| (i, m))?;
        check_target(&e.y, &sig.y).map_err(|m| (i, m))?;
    }
    Ok(())
}
