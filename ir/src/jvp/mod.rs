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
//! Folds, unfolds and hylomorphisms are followed (`recursion.rs`): the
//! derivative of a fold is the fold of the differentiated algebra over
//! (carrier, tangent) pairs, and likewise for an unfold's coalgebra over
//! (state, tangent) pairs. A structure input is given once, as its *dual*
//! (`dual.rs`): the same nodes with every plain field `x` replaced by the
//! pair `(x, ẋ)`. Ops that occur only in training functions (losses,
//! backward ops) have no rule (`JvpError::NoRule`).

mod dual;
mod nested;
mod recursion;
mod rules;

#[cfg(test)]
mod tests;

use std::fmt;

use crate::builder::FunctionBuilder;
use crate::entity::SecondaryMap;
use crate::ir::{Block, DataId, FuncId, Function, Module, Op, Type, Value};

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

pub use dual::dual_value;

/// Adds to `module` the forward-derivative function of `forward`, named
/// `NAME.jvp`, and returns its id.
///
/// Its inputs are the forward inputs in order, a structure input replaced by
/// its dual (`dual_value`), then one tangent per tensor or tuple input, in
/// order. Its output is `(f(x), J_f(x) t)`; a sequence output gives the pair
/// of the output sequence and the sequence of its tangents.
pub fn jvp(module: &mut Module, forward: FuncId) -> Result<FuncId, JvpError> {
    let duals = dual::add_duals(module, forward)?;
    let func = build(module, forward, &duals)?;
    Ok(module.add_function(func))
}

fn build(module: &Module, forward: FuncId, duals: &dual::Duals) -> Result<Function, JvpError> {
    let src = &module.functions[forward];
    let mut j = Jvp {
        src,
        b: FunctionBuilder::new(module, format!("{}.jvp", src.name)),
        env: SecondaryMap::new(),
        tangents: SecondaryMap::new(),
        pairs: SecondaryMap::new(),
        duals,
    };
    let params: Vec<Value> = src
        .params
        .iter()
        .map(|(_, p)| j.b.param(p.name.clone(), &p.shape))
        .collect();
    let mut inputs = Vec::new();
    for t in &src.inputs {
        let ty = match t {
            Type::Tensor(_) | Type::Tuple(_) => t.clone(),
            Type::Data(d) => Type::Data(j.dual_of(*d)),
            other => {
                return Err(j.unsupported(format!("an input of type {other:?} has no tangent")));
            }
        };
        inputs.push(j.b.input(ty));
    }
    let tangents: Vec<Option<Value>> = src
        .inputs
        .iter()
        .map(|t| t.is_differentiable().then(|| j.b.input(t.clone())))
        .collect();
    let io = Io {
        params,
        inputs,
        tangents,
    };
    j.walk(src.entry, &io)?;
    let out = src.output();
    let r = if j.pairs.get(out).is_some() {
        recursion::split_output(&mut j, out)?
    } else {
        j.dual(out)
    };
    Ok(j.b.finish(r))
}

/// The new function's parameters, inputs and input tangents, by the
/// forward function's slot and input index.
struct Io {
    params: Vec<Value>,
    inputs: Vec<Value>,
    tangents: Vec<Option<Value>>,
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
    /// The dual of each forward structure or sequence: the new function's
    /// structure or sequence of (value, tangent) pairs.
    pairs: SecondaryMap<Value, Value>,
    /// The dual data type of each data type the function folds.
    duals: &'a dual::Duals,
}

impl Jvp<'_> {
    /// Copies the ops of `block` of the forward function into the open
    /// block, with their tangents.
    fn walk(&mut self, block: Block, io: &Io) -> Result<(), JvpError> {
        for &v in &self.src.blocks[block].insts {
            let op = self.src.op(v).expect("verified: insts are ops");
            match op {
                Op::Fold(f) => recursion::fold(self, v, f, io)?,
                Op::Unfold(u) => recursion::unfold(self, v, u, io)?,
                Op::Input(i) => {
                    let i = *i as usize;
                    match io.tangents[i] {
                        Some(t) => {
                            self.env.insert(v, io.inputs[i]);
                            self.tangents.insert(v, t);
                        }
                        None => {
                            self.pairs.insert(v, io.inputs[i]);
                        }
                    }
                }
                _ => self.straight(v, op, io)?,
            }
        }
        Ok(())
    }

    /// Copies one op without regions and adds its tangent.
    fn straight(&mut self, v: Value, op: &Op, io: &Io) -> Result<(), JvpError> {
        if let Some(o) = op
            .operands()
            .into_iter()
            .find(|&o| self.pairs.get(o).is_some())
        {
            return Err(self.unsupported(format!(
                "`{}` uses the structure or sequence {o}, which only folds and unfolds may consume",
                op.name()
            )));
        }
        let copy = match op {
            Op::Param(p) => io.params[crate::entity::EntityRef::index(*p)],
            _ => {
                let mut new = op.clone();
                for o in new.operands_mut() {
                    *o = self.primal(*o);
                }
                self.b.op(new)
            }
        };
        self.env.insert(v, copy);
        if let Some(t) = rules::tangent(self, v, op)? {
            self.tangents.insert(v, t);
        }
        Ok(())
    }

    /// The pair `(y, ẏ)` of a forward tensor or tuple value, a zero tangent
    /// materialised.
    fn dual(&mut self, v: Value) -> Value {
        let y = self.primal(v);
        let t = self.tangent_or_zero(v);
        self.b.tuple(vec![y, t])
    }

    /// The dual data type of forward data type `d`.
    fn dual_of(&self, d: DataId) -> DataId {
        self.duals.of(d)
    }

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
