//! Forward-mode derivatives (Jacobian-vector products) as an IR → IR
//! transformation.
//!
//! `jvp` turns a forward function `f(params; x_1, …, x_k)` into a function
//! `NAME.jvp` with the same parameter slots, the inputs `x_1, …, x_k`
//! followed by one tangent `t_i` per input (of the same type), and the
//! output `(f(x), J_f(x) t)`: the directional derivative of the output
//! along `t`, with the parameters held fixed. It is a forward walk over the
//! function's ops in order (this file) and one local rule per op
//! (`rules.rs`), mirroring `autodiff`. A value that does not depend on an
//! input has no tangent (a zero that is never materialised), so constant
//! subexpressions cost nothing.
//!
//! Folds and unfolds (ops with regions) are refused with
//! `JvpError::Unsupported`: the walker follows straight-line code only. Ops
//! that occur only in training functions (losses, backward ops) have no
//! rule (`JvpError::NoRule`).

mod rules;

#[cfg(test)]
mod tests;

use std::fmt;

use crate::builder::FunctionBuilder;
use crate::entity::SecondaryMap;
use crate::ir::{FuncId, Function, Module, Op, Type, Value};

/// Why a forward derivative could not be built. These concern the program's
/// shape (a recursion scheme), never the data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JvpError {
    /// The op has no forward rule (it occurs only in training functions).
    NoRule {
        /// The function being differentiated.
        function: String,
        /// The op's name.
        op: &'static str,
    },
    /// A construct the walker does not follow.
    Unsupported {
        /// The function being differentiated.
        function: String,
        /// What is not handled.
        message: String,
    },
}

impl fmt::Display for JvpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JvpError::NoRule { function, op } => {
                write!(
                    f,
                    "no forward-mode rule for `{op}` in function `{function}`"
                )
            }
            JvpError::Unsupported { function, message } => {
                write!(
                    f,
                    "cannot take forward-mode derivatives of `{function}`: {message}"
                )
            }
        }
    }
}

impl std::error::Error for JvpError {}

/// Adds to `module` the forward-derivative function of `forward`, named
/// `NAME.jvp`, and returns its id.
pub fn jvp(module: &mut Module, forward: FuncId) -> Result<FuncId, JvpError> {
    let func = build(module, forward)?;
    Ok(module.add_function(func))
}

fn build(module: &Module, forward: FuncId) -> Result<Function, JvpError> {
    let src = &module.functions[forward];
    let mut j = Jvp {
        src,
        b: FunctionBuilder::new(module, format!("{}.jvp", src.name)),
        env: SecondaryMap::new(),
        tangents: SecondaryMap::new(),
    };
    for t in &src.inputs {
        if !matches!(t, Type::Tensor(_) | Type::Tuple(_)) {
            return Err(j.unsupported("an input is not a tensor (a data structure)"));
        }
    }
    let params: Vec<Value> = src
        .params
        .iter()
        .map(|(_, p)| j.b.param(p.name.clone(), &p.shape))
        .collect();
    let inputs: Vec<Value> = src.inputs.iter().map(|t| j.b.input(t.clone())).collect();
    let tangents: Vec<Value> = src.inputs.iter().map(|t| j.b.input(t.clone())).collect();
    for &v in &src.blocks[src.entry].insts {
        let op = src.op(v).expect("verified: insts are ops");
        if !op.regions().is_empty() {
            return Err(j.unsupported(format!(
                "`{}` has regions (folds and unfolds are not followed)",
                op.name()
            )));
        }
        let copy = match op {
            Op::Param(p) => params[crate::entity::EntityRef::index(*p)],
            Op::Input(i) => inputs[*i as usize],
            _ => {
                let mut new = op.clone();
                for o in new.operands_mut() {
                    *o = j.primal(*o);
                }
                j.b.op(new)
            }
        };
        j.env.insert(v, copy);
        let tangent = match op {
            Op::Input(i) => Some(tangents[*i as usize]),
            _ => rules::tangent(&mut j, v, op)?,
        };
        if let Some(t) = tangent {
            j.tangents.insert(v, t);
        }
    }
    let out = src.output();
    let y = j.primal(out);
    let t = match j.tangent(out) {
        Some(t) => t,
        None => {
            let ty = src.types[out].clone();
            j.b.zeros(ty)
        }
    };
    let r = j.b.tuple(vec![y, t]);
    Ok(j.b.finish(r))
}

/// The state of one transformation.
pub(crate) struct Jvp<'a> {
    /// The forward function.
    src: &'a Function,
    /// The function being built.
    b: FunctionBuilder<'a>,
    /// The new function's copy of each forward value.
    env: SecondaryMap<Value, Value>,
    /// The tangent of each forward value that depends on an input.
    tangents: SecondaryMap<Value, Value>,
}

impl Jvp<'_> {
    /// The new function's copy of a forward value.
    fn primal(&self, v: Value) -> Value {
        *self
            .env
            .get(v)
            .unwrap_or_else(|| panic!("internal error: {v} has no copy"))
    }

    /// The tangent of a forward value, `None` for zero.
    fn tangent(&self, v: Value) -> Option<Value> {
        self.tangents.get(v).copied()
    }

    /// The tangent of `v`, materialising a zero.
    fn tangent_or_zero(&mut self, v: Value) -> Value {
        match self.tangent(v) {
            Some(t) => t,
            None => {
                let ty = self.src.types[v].clone();
                self.b.zeros(ty)
            }
        }
    }

    fn no_rule(&self, op: &Op) -> JvpError {
        JvpError::NoRule {
            function: self.src.name.clone(),
            op: op.name(),
        }
    }

    fn unsupported(&self, message: impl Into<String>) -> JvpError {
        JvpError::Unsupported {
            function: self.src.name.clone(),
            message: message.into(),
        }
    }
}
