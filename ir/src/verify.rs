//! The verifier: every function that leaves a stage must pass it.
//!
//! It checks, in order: that handles are valid and every value and block is
//! defined in exactly one place; that every operand is in scope (defined
//! earlier in its block or in an enclosing block before the op owning the
//! region); that the type side table agrees with each op's typing rule
//! (`crate::infer`); and that regions have the arguments and results their
//! op requires. A failure is a bug in the stage that produced the function,
//! never a user error, so errors name the IR entity rather than a span.

use std::collections::HashSet;
use std::fmt;

use crate::infer::result_type;
use crate::ir::{Block, Function, Module, Op, Source, Split, Type, Value, ValueDef};

/// Where in a function a verifier error was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// The function as a whole.
    Function,
    /// A value (an op's result or a block argument).
    Value(Value),
    /// A block.
    Block(Block),
}

/// One verifier error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifierError {
    /// The function's name.
    pub function: String,
    /// The entity concerned.
    pub location: Location,
    /// The op's name when the location is an op's value.
    pub op: Option<&'static str>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for VerifierError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "in function `{}`", self.function)?;
        match &self.location {
            Location::Function => {}
            Location::Value(v) => write!(f, ", at {v}")?,
            Location::Block(b) => write!(f, ", in {b}")?,
        }
        if let Some(op) = self.op {
            write!(f, " ({op})")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Renders errors one per line.
pub fn render(errors: &[VerifierError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Verifies every function of a module.
pub fn verify(module: &Module) -> Result<(), Vec<VerifierError>> {
    let mut errors = Vec::new();
    for (_, f) in module.functions.iter() {
        if let Err(e) = verify_function(module, f) {
            errors.extend(e);
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Verifies one function against its module.
pub fn verify_function(module: &Module, func: &Function) -> Result<(), Vec<VerifierError>> {
    let mut v = Verifier {
        module,
        func,
        errors: Vec::new(),
        placed: HashSet::new(),
        seen_blocks: HashSet::new(),
        scope: Vec::new(),
        in_scope: HashSet::new(),
        scope_depth: 0,
    };
    v.run();
    if v.errors.is_empty() {
        Ok(())
    } else {
        Err(v.errors)
    }
}

struct Verifier<'a> {
    module: &'a Module,
    func: &'a Function,
    errors: Vec<VerifierError>,
    /// Values already placed in some block.
    placed: HashSet<Value>,
    /// Blocks already reached from the entry.
    seen_blocks: HashSet<Block>,
    /// Values in scope, innermost last, for popping at region ends.
    scope: Vec<Value>,
    in_scope: HashSet<Value>,
    /// How many regions deep the walk is (0 in the entry block).
    scope_depth: usize,
}

impl Verifier<'_> {
    fn error(&mut self, location: Location, message: impl Into<String>) {
        let op = match location {
            Location::Value(v) => self.func.values.get(v).and_then(|d| match d {
                ValueDef::Op(op) => Some(op.name()),
                ValueDef::Arg { .. } => None,
            }),
            _ => None,
        };
        self.errors.push(VerifierError {
            function: self.func.name.clone(),
            location,
            op,
            message: message.into(),
        });
    }

    fn run(&mut self) {
        let f = self.func;
        if !f.blocks.contains(f.entry) {
            self.error(
                Location::Function,
                format!("entry {} does not exist", f.entry),
            );
            return;
        }
        if !f.blocks[f.entry].args.is_empty() {
            self.error(Location::Block(f.entry), "the entry block has arguments");
        }
        for v in f.values.keys() {
            if f.types.get(v).is_none() {
                self.error(Location::Value(v), "value has no type");
            }
        }
        if !self.errors.is_empty() {
            return;
        }
        self.block(f.entry);
        for v in f.values.keys() {
            if !self.placed.contains(&v) {
                self.error(Location::Value(v), "value is not placed in any block");
            }
        }
        for b in f.blocks.keys() {
            if !self.seen_blocks.contains(&b) {
                self.error(Location::Block(b), "block is not owned by any op");
            }
        }
    }

    fn define(&mut self, v: Value) {
        self.scope.push(v);
        self.in_scope.insert(v);
    }

    fn block(&mut self, b: Block) {
        if !self.seen_blocks.insert(b) {
            self.error(Location::Block(b), "block is owned by more than one op");
            return;
        }
        let mark = self.scope.len();
        let data = &self.func.blocks[b];
        for (i, &a) in data.args.iter().enumerate() {
            match self.func.values.get(a) {
                Some(ValueDef::Arg { block, index }) if *block == b && *index as usize == i => {}
                _ => self.error(
                    Location::Block(b),
                    format!("argument {i} ({a}) is not defined as this block's argument"),
                ),
            }
            if !self.placed.insert(a) {
                self.error(Location::Value(a), "value is placed twice");
            }
            self.define(a);
        }
        for &v in &data.insts {
            self.inst(v);
        }
        match data.result {
            Some(r) if self.in_scope.contains(&r) => {}
            Some(r) => self.error(Location::Block(b), format!("result {r} is not in scope")),
            None => self.error(Location::Block(b), "block has no result"),
        }
        for v in self.scope.drain(mark..) {
            self.in_scope.remove(&v);
        }
    }

    fn inst(&mut self, v: Value) {
        let Some(ValueDef::Op(op)) = self.func.values.get(v) else {
            self.error(Location::Value(v), "block lists a value that is not an op");
            return;
        };
        if !self.placed.insert(v) {
            self.error(Location::Value(v), "value is placed twice");
        }
        if matches!(op, Op::Param(_) | Op::Input(_)) && self.scope_depth > 0 {
            self.error(
                Location::Value(v),
                "parameters and inputs belong in the entry block",
            );
        }
        let mut ok = true;
        for o in op.operands() {
            if !self.func.values.contains(o) {
                self.error(Location::Value(v), format!("operand {o} does not exist"));
                ok = false;
            } else if !self.in_scope.contains(&o) {
                self.error(Location::Value(v), format!("operand {o} is not in scope"));
                ok = false;
            }
        }
        let regions = op.regions();
        for &r in &regions {
            if !self.func.blocks.contains(r) {
                self.error(Location::Value(v), format!("region {r} does not exist"));
                ok = false;
            }
        }
        if ok {
            match result_type(self.module, self.func, op) {
                Ok(t) if t == self.func.types[v] => {}
                Ok(t) => self.error(
                    Location::Value(v),
                    format!(
                        "recorded type {:?} differs from the op's type {t:?}",
                        self.func.types[v]
                    ),
                ),
                Err(e) => self.error(Location::Value(v), e),
            }
            self.scope_depth += 1;
            for r in regions {
                self.block(r);
            }
            self.scope_depth -= 1;
            self.region_signatures(v, op);
        }
        self.define(v);
    }

    /// Checks each region's argument types and result type against `op`.
    fn region_signatures(&mut self, v: Value, op: &Op) {
        let m = self.module;
        let expected: Vec<(Block, Vec<Type>, Type)> = match op {
            Op::Fold(f) => {
                let n = m.data.get(f.data).map_or(0, |d| d.ctors.len());
                if f.cases.len() != n {
                    return self.error(
                        Location::Value(v),
                        format!("{} cases for {n} constructors", f.cases.len()),
                    );
                }
                if f.split == Split::Halves && m.tree_leaf(f.data).is_none() {
                    return self.error(Location::Value(v), "hylo by halves needs a TreeF algebra");
                }
                f.cases
                    .iter()
                    .enumerate()
                    .map(|(i, &b)| (b, m.case_types(f.data, i, &f.carrier), f.carrier.clone()))
                    .collect()
            }
            Op::FoldBackward(f) => {
                let n = m.data.get(f.data).map_or(0, |d| d.ctors.len());
                if f.cases.len() != n {
                    return self.error(
                        Location::Value(v),
                        format!("{} cases for {n} constructors", f.cases.len()),
                    );
                }
                let caps: Vec<Type> = f
                    .captures
                    .iter()
                    .map(|c| self.func.types[*c].clone())
                    .collect();
                f.cases
                    .iter()
                    .enumerate()
                    .map(|(i, &b)| {
                        let mut args = m.case_types(f.data, i, &f.carrier);
                        args.push(f.carrier.clone());
                        let mut res: Vec<Type> = m
                            .cotangent_fields(f.data, i, &f.carrier, f.elements)
                            .into_iter()
                            .map(|(_, t)| t)
                            .collect();
                        res.extend(caps.iter().cloned());
                        (b, args, Type::Tuple(res))
                    })
                    .collect()
            }
            Op::Unfold(u) => {
                let state = self.func.types[u.init].clone();
                let mut args = vec![state.clone()];
                if let Source::Over(xs) = u.source
                    && let Some(e) = m.over_element(&self.func.types[xs])
                {
                    args.push(e.clone());
                }
                vec![(u.body, args, Type::Tuple(vec![u.output.clone(), state]))]
            }
            Op::UnfoldBackward(u) => {
                let mut args = vec![u.state.clone()];
                args.extend(u.input.clone());
                args.push(u.output.clone());
                args.push(u.state.clone());
                let mut res = vec![u.state.clone()];
                if u.elements {
                    res.extend(u.input.clone());
                }
                res.extend(u.captures.iter().map(|c| self.func.types[*c].clone()));
                vec![(u.body, args, Type::Tuple(res))]
            }
            Op::Map(mo) => {
                let n = m.data.get(mo.data).map_or(0, |d| d.ctors.len());
                if mo.cases.len() != n {
                    return self.error(
                        Location::Value(v),
                        format!("{} cases for {n} constructors", mo.cases.len()),
                    );
                }
                let Some(sigs) = map_signatures(m, mo) else {
                    // The op's type rule has reported the mismatch.
                    return;
                };
                sigs
            }
            Op::MapBackward(mb) => {
                let n = m.data.get(mb.data).map_or(0, |d| d.ctors.len());
                if mb.cases.len() != n {
                    return self.error(
                        Location::Value(v),
                        format!("{} cases for {n} constructors", mb.cases.len()),
                    );
                }
                let caps: Vec<Type> = mb
                    .captures
                    .iter()
                    .map(|c| self.func.types[*c].clone())
                    .collect();
                let Some(sigs) = map_backward_signatures(m, mb, &caps) else {
                    return self.error(
                        Location::Value(v),
                        format!("{} is not {} with tensor fields appended", mb.out, mb.data),
                    );
                };
                sigs
            }
            _ => return,
        };
        for (b, args, result) in expected {
            let data = &self.func.blocks[b];
            let found: Vec<Type> = data
                .args
                .iter()
                .map(|a| self.func.types[*a].clone())
                .collect();
            if found != args {
                self.error(
                    Location::Block(b),
                    format!("region arguments {found:?}, expected {args:?}"),
                );
            }
            if let Some(r) = data.result
                && self.func.types[r] != result
            {
                self.error(
                    Location::Block(b),
                    format!(
                        "region yields {:?}, expected {result:?}",
                        self.func.types[r]
                    ),
                );
            }
        }
    }
}

/// Each `map` region's expected arguments (the constructor's plain fields)
/// and result (the tuple of appended fields), if the data types agree.
fn map_signatures(m: &Module, mo: &crate::ir::MapOp) -> Option<Vec<(Block, Vec<Type>, Type)>> {
    mo.cases
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            let extra = m.mapped_fields(mo.data, mo.out, i)?;
            Some((b, m.plain_fields(mo.data, i), Type::Tuple(extra)))
        })
        .collect()
}

/// The region signatures of a `map_backward`: each takes the plain fields
/// and the cotangents of the mapped fields, and yields the captures'
/// contributions; `None` if `out` is not `data` with fields appended.
fn map_backward_signatures(
    m: &Module,
    mb: &crate::ir::MapBackwardOp,
    caps: &[Type],
) -> Option<Vec<(Block, Vec<Type>, Type)>> {
    mb.cases
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            let mut args = m.plain_fields(mb.data, i);
            args.extend(m.mapped_fields(mb.data, mb.out, i)?);
            Some((b, args, Type::Tuple(caps.to_vec())))
        })
        .collect()
}

#[cfg(test)]
mod tests;
