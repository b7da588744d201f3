//! Why a backend refuses an example, as data: the one type both the
//! reference interpreter and the JIT report an example with, so that the
//! same bad example gives the same error on both.
//!
//! An example's input and target are checked against the function's types
//! by the runtime's data checker (`cdlc_runtime::data::check_value`,
//! `check_target`), the checker the data readers use, before a backend
//! walks them; a value of the wrong type is then `Input` or `Target` with
//! the checker's path, expected type and finding. What only running can
//! show (an empty list split `by halves`, outputs and targets of different
//! lengths, a batch too large to number) has a variant of its own. Any
//! other refusal of a checked example is a bug in the backend, not in the
//! data, and is reported by the backend as an internal error.

use std::fmt;

use cdlc_runtime::data::{Mismatch, TargetType, check_target, check_value};
use cdlc_runtime::value::{DataType, Target, Value};

use crate::ir::{FuncId, Module, Type};

/// What is wrong with one example (or, for `TooManyNodes`, a batch).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExampleError {
    /// The input does not have the function's input type: where (a path
    /// from `x`), what was expected and what was found.
    Input(Mismatch),
    /// The target does not have the loss's target type (a path from `y`).
    Target(Mismatch),
    /// `hylo ... by halves` met an empty list: an input's, or one the model
    /// computed.
    EmptyHalves,
    /// An unfold's outputs and the example's targets, scored position by
    /// position, have different lengths.
    TargetLength {
        /// How many outputs the model gave.
        outputs: usize,
        /// How many targets the example has.
        targets: usize,
    },
    /// The batch's structures have more nodes than a node number holds
    /// (2^32 - 1).
    TooManyNodes,
}

impl fmt::Display for ExampleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExampleError::Input(m) => write!(f, "the input does not fit the model: {m}"),
            ExampleError::Target(m) => write!(f, "the target does not fit the loss: {m}"),
            ExampleError::EmptyHalves => write!(f, "`by halves` cannot split an empty list"),
            ExampleError::TargetLength { outputs, targets } => write!(
                f,
                "the model gives {outputs} outputs, but the example has {targets} targets"
            ),
            ExampleError::TooManyNodes => write!(f, "the batch has more than 2^32 - 1 nodes"),
        }
    }
}

impl std::error::Error for ExampleError {}

/// The types an example of a function must have: the input `x` (a tuple of
/// the inputs when there are several) and, for a training function, whose
/// last input is the target, the target `y`.
#[derive(Clone, Debug, PartialEq)]
pub struct ExampleTypes {
    /// The input's type.
    pub x: DataType,
    /// The target's type, for a training function.
    pub y: Option<TargetType>,
}

impl ExampleTypes {
    /// The example types of `func` in `module`; `training` says whether its
    /// last input is the target. `None` when an input type is not one data
    /// can have (a tape or a computed sequence), which only a function that
    /// is not a model's can take.
    pub fn of(module: &Module, func: FuncId, training: bool) -> Option<ExampleTypes> {
        let f = &module.functions[func];
        let n_x = f.inputs.len() - usize::from(training);
        let xs: Vec<DataType> = f.inputs[..n_x]
            .iter()
            .map(|t| data_type(module, t))
            .collect::<Option<_>>()?;
        let x = match <[DataType; 1]>::try_from(xs) {
            Ok([one]) => one,
            Err(xs) => DataType::Tuple(xs),
        };
        let y = match training {
            true => Some(target_type(&f.inputs[n_x])?),
            false => None,
        };
        Some(ExampleTypes { x, y })
    }

    /// Checks an input, and a target when the function takes one, with the
    /// runtime's data checker.
    pub fn check(&self, x: &Value, y: Option<&Target>) -> Result<(), ExampleError> {
        check_value(x, &self.x).map_err(ExampleError::Input)?;
        match (&self.y, y) {
            (Some(ty), Some(y)) => check_target(y, ty).map_err(ExampleError::Target),
            _ => Ok(()),
        }
    }
}

/// The data type of an input (or a plain field) of IR type `t`; `None` for
/// a type data cannot have.
pub(crate) fn data_type(module: &Module, t: &Type) -> Option<DataType> {
    Some(match t {
        Type::Tensor(s) => DataType::Tensor(s.clone()),
        Type::Tuple(ts) => DataType::Tuple(
            ts.iter()
                .map(|t| data_type(module, t))
                .collect::<Option<_>>()?,
        ),
        Type::Data(d) => DataType::Data(module.data[*d].decl.clone()),
        Type::Seq(_) | Type::Class(_) | Type::Tape => return None,
    })
}

/// The target type of a training function's target input of IR type `t`.
fn target_type(t: &Type) -> Option<TargetType> {
    Some(match t {
        Type::Class(n) => TargetType::Class(*n),
        Type::Tensor(s) => TargetType::Tensor(s.clone()),
        Type::Seq(e) => TargetType::Seq(Box::new(target_type(e)?)),
        Type::Tuple(_) | Type::Data(_) | Type::Tape => return None,
    })
}

#[cfg(test)]
mod tests;
