//! Hoisting a fold's element-only work out of its algebra.
//!
//! A fold's case region often computes something from the node's plain
//! fields and the captured parameters alone, without the carrier: the input
//! projection `U x` of a recurrent cell, a tree's leaf embedding. By
//! functoriality, `fold(alg ∘ F(f, id)) = fold(alg) ∘ map f`, so that part
//! can be computed for every node by a `map` over the structure before the
//! fold, and the fold's region reads the precomputed values instead.
//!
//! For each region the pass classifies every op: *invariant* (it reads only
//! values from outside the region and other invariant values), *element*
//! (it reads at least one plain field or element value and otherwise only
//! invariant or outside values, has no regions of its own and yields a
//! tensor), or *carrier* (everything else). The element values that a
//! carrier op or the region's result reads are the *frontier*; they become
//! new plain fields of a data type derived from the fold's, computed by the
//! `map`'s region for that constructor (which copies the element ops and the
//! invariant ops they read). The fold's region takes the frontier as extra
//! arguments, and its element ops are removed. A fold whose regions have an
//! empty frontier is left as it is, so a module with nothing to hoist comes
//! out unchanged.
//!
//! Only folds of an input structure (`Split::Structure` over a `Data`
//! value) are rewritten: a hylomorphism by halves builds its tree from a
//! list and a fold over a computed `Seq` has no structure to map over.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use cdlc_runtime::value::{CtorDecl, DataDecl, DataType};

use crate::ir::{
    Block, BlockData, DataId, Field, FuncId, Function, MapOp, Module, Op, Split, Type, Value,
    ValueDef,
};

/// What one region's ops depend on.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Class {
    /// Only values from outside the region (constants, parameters).
    Invariant,
    /// A node's plain fields (and invariant values): hoistable.
    Element,
    /// The carrier, or anything not hoisted.
    Carrier,
}

/// What the pass found in one region: the ops to move and the values the
/// rest of the region reads from them.
struct RegionPlan {
    /// The region's arguments bound to plain fields, in field order.
    plain: Vec<Value>,
    /// Every op of the region with its class, in evaluation order.
    classes: Vec<(Value, Class)>,
    /// The element values read by carrier ops or the result, in order of
    /// definition.
    frontier: Vec<Value>,
}

/// Hoists element-only work out of every fold in every function of the
/// module. Returns how many folds were rewritten.
pub fn hoist_module(module: &mut Module) -> usize {
    let ids: Vec<FuncId> = module.functions.keys().collect();
    ids.into_iter().map(|id| hoist_function(module, id)).sum()
}

/// Hoists element-only work out of every fold of function `id`, in every
/// block (a fold nested in another op's region included). Returns how many
/// folds were rewritten.
pub fn hoist_function(module: &mut Module, id: FuncId) -> usize {
    let blocks: Vec<Block> = module.functions[id].blocks.keys().collect();
    let mut count = 0;
    for b in blocks {
        let insts = module.functions[id].blocks[b].insts.clone();
        for v in insts {
            if hoist_fold(module, id, b, v) {
                count += 1;
            }
        }
    }
    count
}

/// Rewrites the fold `v` (an inst of block `b`) if any of its regions has
/// element work read by the rest; returns whether it did.
fn hoist_fold(module: &mut Module, id: FuncId, b: Block, v: Value) -> bool {
    let func = &module.functions[id];
    let Some(Op::Fold(fold)) = func.op(v) else {
        return false;
    };
    if fold.split != Split::Structure || func.types[fold.input] != Type::Data(fold.data) {
        return false;
    }
    // A structure bound at a nested field is computed, not input data, and
    // the children inside a nested field are not mapped.
    let nested = module.data[fold.data]
        .ctors
        .iter()
        .any(|c| c.fields.iter().any(|f| matches!(f, Field::Nested(_))));
    if nested || computed(module, func, fold.input) {
        return false;
    }
    let fold = fold.clone();
    let plans: Vec<RegionPlan> = fold
        .cases
        .iter()
        .enumerate()
        .map(|(i, &case)| plan_region(module, func, fold.data, i, case))
        .collect();
    if plans.iter().all(|p| p.frontier.is_empty()) {
        return false;
    }
    let extras: Vec<Vec<Type>> = plans
        .iter()
        .map(|p| p.frontier.iter().map(|&x| func.types[x].clone()).collect())
        .collect();
    let out = mapped_data(module, fold.data, &extras);
    let func = &mut module.functions[id];
    let cases = fold
        .cases
        .iter()
        .zip(&plans)
        .map(|(&case, plan)| map_region(func, case, plan))
        .collect();
    let map = add_value(
        func,
        Op::Map(MapOp {
            data: fold.data,
            out,
            input: fold.input,
            cases,
        }),
        Type::Data(out),
    );
    for (&case, plan) in fold.cases.iter().zip(&plans) {
        rewrite_region(func, case, plan);
    }
    let pos = func.blocks[b]
        .insts
        .iter()
        .position(|&x| x == v)
        .expect("the fold is an inst of its block");
    func.blocks[b].insts.insert(pos, map);
    let ValueDef::Op(Op::Fold(f)) = &mut func.values[v] else {
        unreachable!("checked above")
    };
    f.data = out;
    f.input = map;
    true
}

/// Whether `v` is (part of) a structure computed by a fold rather than
/// input data: a region argument bound at a nested field, or bound by a
/// fold over such a structure, or a component of one.
fn computed(module: &Module, func: &Function, v: Value) -> bool {
    match &func.values[v] {
        ValueDef::Op(Op::Get(t, _)) => computed(module, func, *t),
        ValueDef::Op(_) => false,
        ValueDef::Arg { block, index } => func.values.keys().any(|w| match func.op(w) {
            Some(Op::Fold(f)) => f.cases.iter().position(|c| c == block).is_some_and(|i| {
                let fields = &module.data[f.data].ctors[i].fields;
                matches!(fields.get(*index as usize), Some(Field::Nested(_)))
                    || computed(module, func, f.input)
            }),
            _ => false,
        }),
    }
}

/// Classifies the ops of region `case` (constructor `ctor` of `data`) and
/// finds its frontier.
fn plan_region(
    module: &Module,
    func: &Function,
    data: DataId,
    ctor: usize,
    case: Block,
) -> RegionPlan {
    let block = &func.blocks[case];
    let fields = &module.data[data].ctors[ctor].fields;
    let plain: Vec<Value> = fields
        .iter()
        .zip(&block.args)
        .filter(|(f, _)| matches!(f, Field::Plain(_)))
        .map(|(_, &a)| a)
        .collect();
    let mut class: HashMap<Value, Class> = HashMap::new();
    for &a in &block.args {
        let c = if plain.contains(&a) {
            Class::Element
        } else {
            Class::Carrier
        };
        class.insert(a, c);
    }
    let mut classes = Vec::new();
    for &v in &block.insts {
        let c = classify(func, v, &class);
        class.insert(v, c);
        classes.push((v, c));
    }
    let frontier = frontier(func, block, &classes, &class);
    RegionPlan {
        plain,
        classes,
        frontier,
    }
}

/// The class of op `v`, given the classes of the region's values so far
/// (values not in `class` are defined outside the region).
fn classify(func: &Function, v: Value, class: &HashMap<Value, Class>) -> Class {
    let op = func.op(v).expect("block insts are ops");
    if !op.regions().is_empty() {
        return Class::Carrier;
    }
    let mut result = Class::Invariant;
    for x in op.operands() {
        match class.get(&x) {
            Some(Class::Carrier) => return Class::Carrier,
            Some(Class::Element) => result = Class::Element,
            Some(Class::Invariant) | None => {}
        }
    }
    if result == Class::Element && !matches!(func.types[v], Type::Tensor(_)) {
        return Class::Carrier;
    }
    result
}

/// The element ops (not the plain arguments themselves) that a carrier op
/// or the region's result reads, in order of definition.
fn frontier(
    func: &Function,
    block: &BlockData,
    classes: &[(Value, Class)],
    class: &HashMap<Value, Class>,
) -> Vec<Value> {
    let is_element_op =
        |x: &Value| class.get(x) == Some(&Class::Element) && !block.args.contains(x);
    let mut read: HashSet<Value> = HashSet::new();
    for &(v, c) in classes {
        if c != Class::Carrier {
            continue;
        }
        let op = func.op(v).expect("block insts are ops");
        read.extend(op.operands().into_iter().filter(is_element_op));
        read.extend(
            func.free_values(&op.regions())
                .into_iter()
                .filter(is_element_op),
        );
    }
    read.extend(block.result.filter(is_element_op));
    classes
        .iter()
        .map(|&(v, _)| v)
        .filter(|v| read.contains(v))
        .collect()
}

/// Builds the `map` region for one constructor: fresh arguments for the
/// plain fields, the element ops (moved from the fold's region) and the
/// invariant ops they read (moved when the fold's region no longer reads
/// them, copied otherwise), and the frontier as a tuple.
fn map_region(func: &mut Function, case: Block, plan: &RegionPlan) -> Block {
    let block = func.blocks.push(BlockData {
        args: Vec::new(),
        insts: Vec::new(),
        result: None,
    });
    let mut subst: HashMap<Value, Value> = HashMap::new();
    for (i, &a) in plan.plain.iter().enumerate() {
        let arg = func.values.push(ValueDef::Arg {
            block,
            index: i as u32,
        });
        let ty = func.types[a].clone();
        func.types.insert(arg, ty);
        func.blocks[block].args.push(arg);
        subst.insert(a, arg);
    }
    let needed = needed_ops(func, plan);
    let moved = moved_ops(func, case, plan, &needed);
    for &(v, _) in plan.classes.iter().filter(|(v, _)| needed.contains(v)) {
        let placed = if moved.contains(&v) {
            v
        } else {
            let op = func.op(v).expect("block insts are ops").clone();
            let ty = func.types[v].clone();
            let c = add_value(func, op, ty);
            subst.insert(v, c);
            c
        };
        let ValueDef::Op(op) = &mut func.values[placed] else {
            unreachable!("block insts are ops")
        };
        for x in op.operands_mut() {
            if let Some(&c) = subst.get(x) {
                *x = c;
            }
        }
        func.blocks[block].insts.push(placed);
    }
    let parts: Vec<Value> = plan.frontier.clone();
    let types = parts.iter().map(|&p| func.types[p].clone()).collect();
    let tuple = add_value(func, Op::Tuple(parts), Type::Tuple(types));
    func.blocks[block].insts.push(tuple);
    func.blocks[block].result = Some(tuple);
    let mut kept = func.blocks[case].insts.clone();
    kept.retain(|v| !moved.contains(v));
    func.blocks[case].insts = kept;
    block
}

/// The region's ops the frontier reads, directly or through others: the
/// ops a `map` region must hold.
fn needed_ops(func: &Function, plan: &RegionPlan) -> HashSet<Value> {
    let local: HashSet<Value> = plan.classes.iter().map(|&(v, _)| v).collect();
    let mut needed: HashSet<Value> = HashSet::new();
    let mut stack: Vec<Value> = plan.frontier.clone();
    while let Some(v) = stack.pop() {
        if !local.contains(&v) || !needed.insert(v) {
            continue;
        }
        stack.extend(func.op(v).expect("local values here are ops").operands());
    }
    needed
}

/// The needed ops that leave the fold's region: every element op, and each
/// needed invariant op that no op staying in the region (nor its result)
/// reads.
fn moved_ops(
    func: &Function,
    case: Block,
    plan: &RegionPlan,
    needed: &HashSet<Value>,
) -> HashSet<Value> {
    let class: HashMap<Value, Class> = plan.classes.iter().copied().collect();
    let mut moved: HashSet<Value> = HashSet::new();
    let mut read: HashSet<Value> = func.blocks[case].result.into_iter().collect();
    for &v in func.blocks[case].insts.iter().rev() {
        let c = class[&v];
        let leaves = c == Class::Element
            || (c == Class::Invariant && needed.contains(&v) && !read.contains(&v));
        if leaves {
            moved.insert(v);
            continue;
        }
        let op = func.op(v).expect("block insts are ops");
        read.extend(op.operands());
        read.extend(func.free_values(&op.regions()));
    }
    moved
}

/// Rewrites a fold region after its `map` region took its element ops:
/// the frontier becomes extra arguments and every read of it (in nested
/// regions too) reads the argument.
fn rewrite_region(func: &mut Function, case: Block, plan: &RegionPlan) {
    let mut subst: HashMap<Value, Value> = HashMap::new();
    for &f in &plan.frontier {
        let index = func.blocks[case].args.len() as u32;
        let arg = func.values.push(ValueDef::Arg { block: case, index });
        let ty = func.types[f].clone();
        func.types.insert(arg, ty);
        func.blocks[case].args.push(arg);
        subst.insert(f, arg);
    }
    substitute(func, case, &subst);
}

/// Replaces every read of a key of `subst` in block `b` and the blocks
/// nested in it.
fn substitute(func: &mut Function, b: Block, subst: &HashMap<Value, Value>) {
    let insts = func.blocks[b].insts.clone();
    for v in insts {
        let ValueDef::Op(op) = &mut func.values[v] else {
            unreachable!("block insts are ops")
        };
        for x in op.operands_mut() {
            if let Some(&s) = subst.get(x) {
                *x = s;
            }
        }
        for r in op.regions() {
            substitute(func, r, subst);
        }
    }
    if let Some(r) = func.blocks[b].result
        && let Some(&s) = subst.get(&r)
    {
        func.blocks[b].result = Some(s);
    }
}

/// Adds an op value of the given type (not yet placed in a block).
fn add_value(func: &mut Function, op: Op, ty: Type) -> Value {
    let v = func.values.push(ValueDef::Op(op));
    func.types.insert(v, ty);
    v
}

/// The data type `data` with `extras[i]` appended to constructor `i`'s
/// fields as plain tensor fields, added to the module (or found there).
fn mapped_data(module: &mut Module, data: DataId, extras: &[Vec<Type>]) -> DataId {
    let base = module.data[data].decl.clone();
    let ctors = base
        .ctors
        .iter()
        .zip(extras)
        .map(|(c, xs)| {
            let mut fields = c.fields.clone();
            fields.extend(xs.iter().map(|t| {
                DataType::Tensor(t.shape().expect("frontier values are tensors").to_vec())
            }));
            CtorDecl {
                name: c.name.clone(),
                fields,
            }
        })
        .collect();
    let lists: Vec<String> = extras
        .iter()
        .map(|xs| {
            let ts: Vec<String> = xs
                .iter()
                .map(|t| crate::print::type_name(module, t))
                .collect();
            format!("({})", ts.join(", "))
        })
        .collect();
    let name = format!("Mapped({}; {})", base.name, lists.join(" | "));
    module.add_data(Arc::new(DataDecl { name, ctors }))
}

pub mod unfold;

#[cfg(test)]
mod tests;
