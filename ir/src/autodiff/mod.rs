//! Reverse derivatives as an IR → IR transformation.
//!
//! `differentiate` turns a forward function into a training function with
//! the same parameter slots, the forward inputs plus a target, and the
//! output `(loss, gradient of slot 0, gradient of slot 1, ...)`. It is one
//! generic reverse walker (this file) and one local rule per op
//! (`rules.rs`). The walker owns:
//!
//! - **activity**: a value is active if it depends on a parameter slot;
//!   only active values get cotangents, so everything that does not reach a
//!   parameter is pruned;
//! - **order**: ops are visited in reverse order of their block;
//! - **fan-out**: when a value is used several times its cotangent
//!   contributions are added;
//! - **regions**: the forward copy of the function records every active
//!   fold and unfold (`record = true`), and the rule of a recursion op builds
//!   a backward region per forward region by walking that region in turn:
//!   the backward region recomputes the forward case from its arguments and
//!   then runs the reverse walk over it, yielding the cotangents of its
//!   recursive arguments (or state) and of the outer values it captured. A
//!   region's cotangents are local to it; contributions to captured values
//!   leave the region through the region's results, and the backward op
//!   sums them over all nodes or steps.
//!
//! An op without a rule is an internal error naming the op
//! (`AdError::NoRule`).

mod map;
mod rules;

use std::collections::HashSet;
use std::fmt;

use crate::builder::FunctionBuilder;
use crate::entity::SecondaryMap;
use crate::ir::{
    Block, FuncId, Function, LossKind, Module, Op, Param, Source, Type, UnfoldOp, Value,
};

/// Why a function could not be differentiated. Each is a compiler bug or a
/// gap in the IR, never a user error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AdError {
    /// The op has no reverse rule.
    NoRule {
        /// The function being differentiated.
        function: String,
        /// The op's value in the forward function.
        value: Value,
        /// The op's name.
        op: &'static str,
    },
    /// The loss does not apply to the function's output.
    LossDoesNotFit {
        /// The function being differentiated.
        function: String,
        /// Why.
        message: String,
    },
    /// An invariant of verified forward functions that the reverse walker
    /// relies on does not hold: a compiler bug (each site names its
    /// invariant).
    Internal {
        /// The function being differentiated.
        function: String,
        /// The value concerned.
        value: Value,
        /// What was found.
        message: String,
    },
}

impl fmt::Display for AdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AdError::NoRule {
                function,
                value,
                op,
            } => write!(
                f,
                "internal error: no reverse rule for `{op}` (at {value} in function `{function}`)"
            ),
            AdError::LossDoesNotFit { function, message } => {
                write!(
                    f,
                    "internal error: loss of function `{function}`: {message}"
                )
            }
            AdError::Internal {
                function,
                value,
                message,
            } => write!(
                f,
                "internal error: cannot differentiate {value} in function `{function}`: {message}"
            ),
        }
    }
}

impl std::error::Error for AdError {}

/// Adds to `module` the training function of `forward` under `loss`, named
/// `NAME.train`, and returns its id.
///
/// The training function has the forward function's parameter slots (same
/// order, names and shapes), its inputs followed by the target, and returns
/// `(loss, d loss / d slot_0, ..., d loss / d slot_n-1)` for one example.
pub fn differentiate(
    module: &mut Module,
    forward: FuncId,
    loss: LossKind,
) -> Result<FuncId, AdError> {
    let func = build_training_function(module, forward, loss)?;
    Ok(module.add_function(func))
}

fn build_training_function(
    module: &Module,
    forward: FuncId,
    loss: LossKind,
) -> Result<Function, AdError> {
    let src = &module.functions[forward];
    let out_ty = &src.types[src.output()];
    let target_ty = loss
        .target_type(out_ty)
        .ok_or_else(|| AdError::LossDoesNotFit {
            function: src.name.clone(),
            message: format!("{loss} does not apply to an output of type {out_ty:?}"),
        })?;
    let mut d = Differentiator {
        module,
        src,
        b: FunctionBuilder::new(module, format!("{}.train", src.name)),
        env: SecondaryMap::new(),
        tapes: SecondaryMap::new(),
        active: HashSet::new(),
        params: Vec::new(),
        inputs: Vec::new(),
    };
    for (_, p) in src.params.iter() {
        let v = d.b.param(p.name.clone(), &p.shape);
        d.params.push(v);
    }
    for t in &src.inputs {
        let v = d.b.input(t.clone());
        d.inputs.push(v);
    }
    let target = d.b.input(target_ty);
    d.mark_active(src.entry);

    d.copy_insts(src.entry, true);
    let out = d.primal(src.output());
    let loss_value = d.b.loss(loss, out, target);
    let mut cts = Cts::new();
    if d.is_active(src.output()) {
        let one = d.b.scalar(1.0);
        let seed = d.b.op(Op::LossGrad {
            kind: loss,
            out,
            target,
            seed: one,
        });
        cts.insert(src.output(), Ct::Val(seed));
    }
    d.reverse_block(src.entry, &mut cts)?;

    let mut results = vec![loss_value];
    for (p, decl) in src.params.iter() {
        let g = d.param_gradient(p, &cts, &decl.shape)?;
        results.push(g);
    }
    let r = d.b.tuple(results);
    Ok(d.b.finish(r))
}

/// A cotangent under construction: a value of the training function, or a
/// tuple whose components are accumulated separately (so that `get` needs no
/// zeros for the components it does not touch).
#[derive(Clone, Debug)]
pub(crate) enum Ct {
    /// A whole cotangent value.
    Val(Value),
    /// Per component, the cotangent so far, if any.
    Tuple(Vec<Option<Ct>>),
}

/// Cotangents of forward values, keyed by the forward value.
type Cts = SecondaryMap<Value, Ct>;

pub(crate) struct Differentiator<'a> {
    module: &'a Module,
    /// The forward function.
    src: &'a Function,
    /// The training function being built.
    b: FunctionBuilder<'a>,
    /// The training function's copy of each forward value in the current
    /// scope.
    env: SecondaryMap<Value, Value>,
    /// The tape of each recorded recursion op in the current scope.
    tapes: SecondaryMap<Value, Value>,
    /// Forward values that depend on a parameter.
    active: HashSet<Value>,
    /// The training function's value of each parameter slot.
    params: Vec<Value>,
    /// The training function's value of each forward input.
    inputs: Vec<Value>,
}

impl Differentiator<'_> {
    pub(crate) fn is_active(&self, v: Value) -> bool {
        self.active.contains(&v)
    }

    /// The training function's copy of a forward value.
    pub(crate) fn primal(&self, v: Value) -> Value {
        *self
            .env
            .get(v)
            .unwrap_or_else(|| panic!("internal error: {v} has no copy in scope"))
    }

    /// The forward type of a forward value.
    pub(crate) fn src_type(&self, v: Value) -> &Type {
        &self.src.types[v]
    }

    fn no_rule(&self, v: Value, op: &Op) -> AdError {
        AdError::NoRule {
            function: self.src.name.clone(),
            value: v,
            op: op.name(),
        }
    }

    fn internal(&self, v: Value, message: impl Into<String>) -> AdError {
        AdError::Internal {
            function: self.src.name.clone(),
            value: v,
            message: message.into(),
        }
    }

    /// Marks the active values of `block` and the blocks nested in it.
    fn mark_active(&mut self, block: Block) {
        for &v in &self.src.blocks[block].insts {
            let op = self.src.op(v).expect("verified: insts are ops");
            let regions = op.regions();
            let is_active = matches!(op, Op::Param(_))
                || op.operands().iter().any(|o| self.active.contains(o))
                || self
                    .src
                    .free_values(&regions)
                    .iter()
                    .any(|o| self.active.contains(o))
                || regions.iter().any(|r| self.reads_param(*r));
            if is_active && self.src.types[v] != Type::Tape {
                self.active.insert(v);
                self.mark_region_args(op);
            }
            for r in regions {
                self.mark_active(r);
            }
        }
    }

    /// Whether a block (or one nested in it) reads a parameter slot.
    fn reads_param(&self, block: Block) -> bool {
        self.src.blocks[block].insts.iter().any(|&v| {
            let op = self.src.op(v).expect("verified: insts are ops");
            matches!(op, Op::Param(_)) || op.regions().into_iter().any(|r| self.reads_param(r))
        })
    }

    /// In an active recursion op, the carriers (recursive arguments, lists
    /// of children, structures holding children's carriers) and states are
    /// active; plain fields and list elements
    /// are data, except the elements of a fold over an active computed
    /// sequence (a rose node's children's carriers) and the fields a `map`
    /// appended to the structure a fold walks (the map's input's own
    /// fields stay data: they do not depend on a parameter).
    fn mark_region_args(&mut self, op: &Op) {
        match op {
            Op::Fold(f) => {
                let elements = self.active.contains(&f.input);
                let unmapped = self.unmapped_fields(f.input);
                for (i, &case) in f.cases.iter().enumerate() {
                    let fields = &self.module.data[f.data].ctors[i].fields;
                    let own = unmapped.map_or(0, |d| self.module.data[d].ctors[i].fields.len());
                    let args = self.src.blocks[case].args.iter();
                    for (j, (a, field)) in args.zip(fields).enumerate() {
                        let active = match field {
                            crate::ir::Field::Rec
                            | crate::ir::Field::RecList
                            | crate::ir::Field::Nested(_) => true,
                            crate::ir::Field::Plain(_) => elements && j >= own,
                        };
                        if active {
                            self.active.insert(*a);
                        }
                    }
                }
            }
            Op::Unfold(u) => {
                let args = &self.src.blocks[u.body].args;
                self.active.insert(args[0]);
                // Over an active computed sequence, the element is active too.
                if let Source::Over(xs) = u.source
                    && self.active.contains(&xs)
                {
                    self.active.insert(args[1]);
                }
            }
            _ => {}
        }
    }

    /// For a `map`'s result over an input that does not depend on a
    /// parameter, the map's input data type, whose fields come first in
    /// every constructor of the result.
    fn unmapped_fields(&self, v: Value) -> Option<crate::ir::DataId> {
        match self.src.op(v) {
            Some(Op::Map(m)) if !self.active.contains(&m.input) => Some(m.data),
            _ => None,
        }
    }

    /// Copies the ops of a forward block into the current block. With
    /// `record`, active folds and unfolds record tapes for the backward pass.
    fn copy_insts(&mut self, block: Block, record: bool) {
        for &v in &self.src.blocks[block].insts {
            let op = self.src.op(v).expect("verified: insts are ops");
            let new = match op {
                Op::Param(p) => self.params[crate::entity::EntityRef::index(*p)],
                Op::Input(i) => self.inputs[*i as usize],
                Op::Fold(_) | Op::Unfold(_) if record && self.is_active(v) => {
                    let copy = self.copy_op(op, true);
                    let rec = self.b.op(copy);
                    let tape = self.b.get(rec, 1);
                    self.tapes.insert(v, tape);
                    self.b.get(rec, 0)
                }
                _ => {
                    let copy = self.copy_op(op, false);
                    self.b.op(copy)
                }
            };
            self.env.insert(v, new);
        }
    }

    /// A copy of `op` with operands renamed and regions copied (their own
    /// recursion ops not recorded: a backward region recomputes and records
    /// them itself). `record` sets the copied op's own `record` flag.
    fn copy_op(&mut self, op: &Op, record: bool) -> Op {
        let mut new = op.clone();
        for r in new.regions_mut() {
            *r = self.copy_region(*r);
        }
        for o in new.operands_mut() {
            *o = self.primal(*o);
        }
        match &mut new {
            Op::Fold(f) => f.record = record,
            Op::Unfold(u) => u.record = record,
            _ => {}
        }
        new
    }

    fn copy_region(&mut self, block: Block) -> Block {
        let data = &self.src.blocks[block];
        let types: Vec<Type> = data
            .args
            .iter()
            .map(|a| self.src.types[*a].clone())
            .collect();
        let args = self.b.begin_region(&types);
        for (&a, n) in data.args.iter().zip(args) {
            self.env.insert(a, n);
        }
        self.copy_insts(block, false);
        let r = self.primal(data.result.expect("verified: blocks have results"));
        self.b.end_region(r)
    }

    /// The reverse walk over a forward block whose ops have been copied:
    /// visits active ops with a cotangent, last first, and adds each rule's
    /// contributions to the cotangents of the active operands.
    fn reverse_block(&mut self, block: Block, cts: &mut Cts) -> Result<(), AdError> {
        for &v in self.src.blocks[block].insts.iter().rev() {
            let op = self.src.op(v).expect("verified: insts are ops");
            if !self.is_active(v) || matches!(op, Op::Param(_)) {
                continue;
            }
            let Some(ct) = cts.remove(v) else {
                continue;
            };
            for (x, c) in rules::reverse(self, v, op, ct)? {
                if self.is_active(x) {
                    self.accumulate(cts, x, c)?;
                }
            }
        }
        Ok(())
    }

    /// Adds a contribution to a forward value's cotangent (fan-out).
    fn accumulate(&mut self, cts: &mut Cts, x: Value, c: Ct) -> Result<(), AdError> {
        let sum = match cts.remove(x) {
            None => c,
            Some(old) => {
                let ty = self.src.types[x].clone();
                self.add_ct(x, old, c, &ty)?
            }
        };
        cts.insert(x, sum);
        Ok(())
    }

    fn add_ct(&mut self, x: Value, a: Ct, b: Ct, ty: &Type) -> Result<Ct, AdError> {
        match (a, b, ty) {
            (Ct::Val(p), Ct::Val(q), Type::Tensor(_)) => Ok(Ct::Val(self.b.add(p, q))),
            // A sequence used twice (a rose node's children folded twice).
            (Ct::Val(p), Ct::Val(q), Type::Seq(t)) if t.is_differentiable() => {
                Ok(Ct::Val(self.b.add(p, q)))
            }
            // A computed structure used twice (a nested field folded twice).
            (Ct::Val(p), Ct::Val(q), Type::Data(_)) => Ok(Ct::Val(self.b.add(p, q))),
            (a, b, Type::Tuple(ts)) => {
                let (ca, cb) = (self.split(a, ts.len()), self.split(b, ts.len()));
                let mut out = Vec::with_capacity(ts.len());
                for ((p, q), t) in ca.into_iter().zip(cb).zip(ts) {
                    out.push(match (p, q) {
                        (None, c) | (c, None) => c,
                        (Some(p), Some(q)) => Some(self.add_ct(x, p, q, t)?),
                    });
                }
                Ok(Ct::Tuple(out))
            }
            // Every other type is a sequence of structures, a class or a
            // tape, which no active value has: `ir::infer` types a fold's
            // carrier and an unfold's output as tensors or tuples of them
            // only (the checker refuses the others as E0617 at the fold or
            // unfold), so every sequence a forward function computes has
            // tensor elements; classes are inputs and targets, which
            // depend on no parameter; tapes are left out of the active
            // set (`mark_active`).
            (_, _, t) => Err(self.internal(
                x,
                format!("two cotangents of type {t:?}, which no active value has"),
            )),
        }
    }

    /// The components of a tuple cotangent.
    pub(crate) fn split(&mut self, c: Ct, n: usize) -> Vec<Option<Ct>> {
        match c {
            Ct::Tuple(cs) => cs,
            Ct::Val(t) => (0..n)
                .map(|i| Some(Ct::Val(self.b.get(t, i as u32))))
                .collect(),
        }
    }

    /// A cotangent as one value of type `ty`, with zeros for missing parts.
    pub(crate) fn materialize(
        &mut self,
        x: Value,
        c: Option<Ct>,
        ty: &Type,
    ) -> Result<Value, AdError> {
        match (c, ty) {
            (Some(Ct::Val(v)), _) => Ok(v),
            (None, t) if t.has_zeros() => Ok(self.b.zeros(t.clone())),
            // The types without zeros are those `add_ct` refuses, which no
            // active value has, for the reasons given there; every other
            // type has zeros (`Type::has_zeros`), a tuple pairing tensors
            // with a structure of children (`R[2] * Tree(X)`) included.
            (None, t) => Err(self.internal(
                x,
                format!("no zero cotangent of type {t:?}, which no active value has"),
            )),
            (Some(Ct::Tuple(cs)), Type::Tuple(ts)) => {
                let mut parts = Vec::with_capacity(ts.len());
                for (c, t) in cs.into_iter().zip(ts) {
                    parts.push(self.materialize(x, c, t)?);
                }
                Ok(self.b.tuple(parts))
            }
            (Some(Ct::Tuple(_)), t) => panic!("internal error: tuple cotangent for {t:?}"),
        }
    }

    /// The sum of the cotangents of every `param` op reading slot `p`.
    fn param_gradient(&mut self, p: Param, cts: &Cts, shape: &[usize]) -> Result<Value, AdError> {
        let mut total: Option<Value> = None;
        for v in self.src.values.keys() {
            if self.src.op(v) != Some(&Op::Param(p)) {
                continue;
            }
            if let Some(c) = cts.get(v).cloned() {
                let g = self.materialize(v, Some(c), &Type::Tensor(shape.to_vec()))?;
                total = Some(match total {
                    None => g,
                    Some(t) => self.b.add(t, g),
                });
            }
        }
        Ok(match total {
            Some(t) => t,
            None => self.b.zeros(Type::Tensor(shape.to_vec())),
        })
    }

    /// Builds one backward region for forward region `block`: arguments are
    /// the forward arguments then `extra` cotangent arguments; the forward
    /// case is recomputed (recording its own recursion ops), `seed` gives the
    /// cotangent of the forward result from the extra arguments, and the
    /// region yields the cotangents of the forward arguments selected by
    /// `wrt_args` followed by those of `captures`.
    pub(crate) fn backward_region(
        &mut self,
        block: Block,
        extra: &[Type],
        seed: impl FnOnce(&[Value]) -> Ct,
        wrt_args: &[usize],
        captures: &[Value],
    ) -> Result<Block, AdError> {
        let data = &self.src.blocks[block];
        let mut types: Vec<Type> = data
            .args
            .iter()
            .map(|a| self.src.types[*a].clone())
            .collect();
        let n = types.len();
        types.extend(extra.iter().cloned());
        let args = self.b.begin_region(&types);
        for (&a, &new) in data.args.iter().zip(&args) {
            self.env.insert(a, new);
        }
        self.copy_insts(block, true);
        let result = data.result.expect("verified: blocks have results");
        let mut cts = Cts::new();
        if self.is_active(result) {
            cts.insert(result, seed(&args[n..]));
        }
        self.reverse_block(block, &mut cts)?;
        let mut outs = Vec::new();
        for &i in wrt_args {
            let a = data.args[i];
            let ty = self.src.types[a].clone();
            outs.push(self.materialize(a, cts.remove(a), &ty)?);
        }
        for &c in captures {
            let ty = self.src.types[c].clone();
            outs.push(self.materialize(c, cts.remove(c), &ty)?);
        }
        let r = self.b.tuple(outs);
        Ok(self.b.end_region(r))
    }

    /// The active values a recursion op's regions capture from outside.
    pub(crate) fn active_captures(&self, regions: &[Block]) -> Vec<Value> {
        self.src
            .free_values(regions)
            .into_iter()
            .filter(|v| self.is_active(*v))
            .collect()
    }

    /// The tape the forward copy recorded for recursion op `v`.
    pub(crate) fn tape(&self, v: Value) -> Value {
        *self
            .tapes
            .get(v)
            .unwrap_or_else(|| panic!("internal error: {v} was not recorded"))
    }

    /// The state type and list element type of an unfold.
    pub(crate) fn unfold_types(&self, u: &UnfoldOp) -> (Type, Option<Type>) {
        let state = self.src.types[u.init].clone();
        let input = match u.source {
            Source::Over(xs) => self.module.over_element(&self.src.types[xs]).cloned(),
            Source::Take(_) => None,
        };
        (state, input)
    }
}

#[cfg(test)]
mod tests;
