//! Hoisting's dual for unfolds: an output map run after the unfold over
//! all emitted values.
//!
//! An unfold's step region often computes its output from values it keeps
//! anyway, without feeding anything back into the next state: a Mealy
//! machine's output head `V s2` on the state `s2` it also passes on, a
//! stream's `C s` on the state it was given. By functoriality,
//! `unfold(F(g, id) ∘ step) = map g ∘ unfold(step)`: that part `g` can run
//! once after the unfold, over every step's kept values, and the unfold
//! emits those values instead.
//!
//! For the step region `(s[, x]) -> (out, next)` the pass finds the ops
//! that `next` reads, directly or through others (the *kept* ops; an op
//! with regions of its own is kept too), and the ops that `out` reads that
//! are not kept (the *output* ops). The region's arguments and kept ops
//! that output ops read are the *frontier*. The unfold then emits the
//! frontier (a tensor, or a tuple for several), and a second unfold over
//! that sequence, with the empty tuple as its state, runs the output ops:
//! its step takes `(_, frontier)` and yields `(out, _)`. Invariant ops (of
//! outer values only) that output ops read are moved along, or copied when
//! a kept op also reads them.
//!
//! An unfold is rewritten only when an output op is a product (`Contract`)
//! that reads the frontier: elementwise work alone would cost a copy of
//! the frontier for nothing. An unfold whose output is itself kept (the
//! state is emitted, or the output feeds the next state) has no output
//! ops and is left as it is; so is one whose frontier holds a tuple.

use std::collections::{HashMap, HashSet};

use crate::ir::{Block, BlockData, FuncId, Function, Module, Op, Source, Type, UnfoldOp, Value};

use super::{add_value, substitute};

/// What the pass found in one step region.
struct StepPlan {
    /// The output ops and the invariant ops they read, in evaluation order.
    needed: Vec<Value>,
    /// Of `needed`, those a kept op also reads (copied, not moved).
    copied: HashSet<Value>,
    /// The region's values (arguments and kept ops) that output ops read,
    /// in order of definition (arguments first).
    frontier: Vec<Value>,
}

/// Hoists the output work out of every unfold of function `id`, in every
/// block (an unfold nested in another op's region included). Returns how
/// many unfolds were rewritten.
pub fn hoist_function(module: &mut Module, id: FuncId) -> usize {
    let func = &mut module.functions[id];
    let blocks: Vec<Block> = func.blocks.keys().collect();
    let mut count = 0;
    for b in blocks {
        let insts = func.blocks[b].insts.clone();
        for v in insts {
            if hoist_unfold(func, b, v) {
                count += 1;
            }
        }
    }
    count
}

/// Rewrites the unfold `v` (an inst of block `b`) if its step has output
/// work worth running after it; returns whether it did.
fn hoist_unfold(func: &mut Function, b: Block, v: Value) -> bool {
    let Some(Op::Unfold(u)) = func.op(v) else {
        return false;
    };
    let u = u.clone();
    let Some(plan) = plan_step(func, u.body) else {
        return false;
    };
    let result = func.blocks[u.body].result.expect("a step yields a pair");
    let Some(Op::Tuple(pair)) = func.op(result) else {
        unreachable!("checked by plan_step")
    };
    let out = pair[0];

    // The step region emits the frontier and loses the output ops.
    let emitted = match plan.frontier.as_slice() {
        [one] => *one,
        many => {
            let types = many.iter().map(|&f| func.types[f].clone()).collect();
            let t = add_value(func, Op::Tuple(many.to_vec()), Type::Tuple(types));
            let pos = func.blocks[u.body]
                .insts
                .iter()
                .position(|&x| x == result)
                .expect("the step's pair is one of its insts");
            func.blocks[u.body].insts.insert(pos, t);
            t
        }
    };
    let emitted_ty = func.types[emitted].clone();
    let moved: HashSet<Value> = plan
        .needed
        .iter()
        .copied()
        .filter(|x| !plan.copied.contains(x))
        .collect();
    func.blocks[u.body].insts.retain(|x| !moved.contains(x));
    let crate::ir::ValueDef::Op(Op::Tuple(pair)) = &mut func.values[result] else {
        unreachable!("checked by plan_step")
    };
    pair[0] = emitted;
    let Type::Tuple(mut types) = func.types[result].clone() else {
        unreachable!("a pair has a tuple type")
    };
    types[0] = emitted_ty.clone();
    func.types.insert(result, Type::Tuple(types));

    // The output map: a stateless unfold over the emitted sequence.
    let unit = add_value(func, Op::Tuple(Vec::new()), Type::Tuple(Vec::new()));
    let map = map_step(func, &plan, out, &emitted_ty);
    let seq = Type::Seq(Box::new(u.output.clone()));
    let after = add_value(
        func,
        Op::Unfold(UnfoldOp {
            init: unit,
            source: Source::Over(v),
            output: u.output.clone(),
            body: map,
            record: false,
        }),
        seq.clone(),
    );
    let mut subst = HashMap::new();
    subst.insert(v, after);
    substitute_all(func, &subst, after);
    let crate::ir::ValueDef::Op(Op::Unfold(first)) = &mut func.values[v] else {
        unreachable!("checked above")
    };
    first.output = emitted_ty.clone();
    func.types.insert(v, Type::Seq(Box::new(emitted_ty)));
    let pos = func.blocks[b]
        .insts
        .iter()
        .position(|&x| x == v)
        .expect("the unfold is an inst of its block");
    func.blocks[b].insts.insert(pos, unit);
    func.blocks[b].insts.insert(pos + 2, after);
    true
}

/// Classifies the ops of step region `body`; `None` when there is nothing
/// worth hoisting.
fn plan_step(func: &Function, body: Block) -> Option<StepPlan> {
    let block = &func.blocks[body];
    let result = block.result?;
    let Some(Op::Tuple(pair)) = func.op(result) else {
        return None;
    };
    let [out, next] = pair.as_slice() else {
        return None;
    };
    let local: HashSet<Value> = block.insts.iter().copied().collect();
    if !local.contains(out) || func.op(*out).is_none() {
        return None;
    }
    let invariant = invariant_ops(func, block);
    // The kept ops: what the next state reads, and ops with regions.
    let mut roots = vec![*next];
    roots.extend(
        block
            .insts
            .iter()
            .filter(|&&x| !func.op(x).expect("insts are ops").regions().is_empty()),
    );
    let kept = reach(func, &local, roots, &HashSet::new());
    if kept.contains(out) {
        return None;
    }
    let outputs = reach(func, &local, vec![*out], &kept);
    let mut frontier: Vec<Value> = Vec::new();
    let mut needed_set: HashSet<Value> = outputs.clone();
    for &x in &outputs {
        for o in func.op(x).expect("insts are ops").operands() {
            if block.args.contains(&o) || (kept.contains(&o) && !invariant.contains(&o)) {
                if !frontier.contains(&o) {
                    frontier.push(o);
                }
            } else if invariant.contains(&o) {
                needed_set.extend(reach(func, &local, vec![o], &HashSet::new()));
            }
        }
    }
    let order = |x: &Value| {
        block.args.iter().position(|a| a == x).unwrap_or_else(|| {
            block.args.len() + block.insts.iter().position(|i| i == x).expect("local")
        })
    };
    frontier.sort_by_key(order);
    let is_tensor = |x: &Value| matches!(func.types[*x], Type::Tensor(_));
    if frontier.is_empty() || !frontier.iter().all(is_tensor) {
        return None;
    }
    let worth = outputs
        .iter()
        .any(|&x| matches!(func.op(x), Some(Op::Contract { .. })) && !invariant.contains(&x));
    if !worth {
        return None;
    }
    let needed: Vec<Value> = block
        .insts
        .iter()
        .copied()
        .filter(|x| needed_set.contains(x))
        .collect();
    let copied = needed
        .iter()
        .copied()
        .filter(|x| kept.contains(x))
        .collect();
    Some(StepPlan {
        needed,
        copied,
        frontier,
    })
}

/// The ops of `block` that read only outer values and other such ops.
fn invariant_ops(func: &Function, block: &BlockData) -> HashSet<Value> {
    let mut inv: HashSet<Value> = HashSet::new();
    let local: HashSet<Value> = block.insts.iter().chain(&block.args).copied().collect();
    for &x in &block.insts {
        let op = func.op(x).expect("insts are ops");
        let outer_or_inv = |o: &Value| !local.contains(o) || inv.contains(o);
        if op.regions().is_empty() && op.operands().iter().all(outer_or_inv) {
            inv.insert(x);
        }
    }
    inv
}

/// The ops of `local` that `roots` read, directly or through others, not
/// going past `stop` (roots in `stop` are not taken either). Operands of
/// an op with regions include the values its regions read from outside.
fn reach(
    func: &Function,
    local: &HashSet<Value>,
    roots: Vec<Value>,
    stop: &HashSet<Value>,
) -> HashSet<Value> {
    let mut seen = HashSet::new();
    let mut stack = roots;
    while let Some(x) = stack.pop() {
        if !local.contains(&x) || stop.contains(&x) || !seen.insert(x) {
            continue;
        }
        let op = func.op(x).expect("local values are ops");
        stack.extend(op.operands());
        stack.extend(func.free_values(&op.regions()));
    }
    seen
}

/// Builds the output map's step region: `(unit, frontier)` to `(out,
/// unit)`, holding the needed ops (moved, or copied when kept).
fn map_step(func: &mut Function, plan: &StepPlan, out: Value, emitted: &Type) -> Block {
    let block = func.blocks.push(BlockData {
        args: Vec::new(),
        insts: Vec::new(),
        result: None,
    });
    let mut args = Vec::new();
    for (i, ty) in [Type::Tuple(Vec::new()), emitted.clone()]
        .into_iter()
        .enumerate()
    {
        let a = func.values.push(crate::ir::ValueDef::Arg {
            block,
            index: i as u32,
        });
        func.types.insert(a, ty);
        args.push(a);
    }
    func.blocks[block].args = args.clone();
    let mut subst: HashMap<Value, Value> = HashMap::new();
    if let [one] = plan.frontier.as_slice() {
        subst.insert(*one, args[1]);
    } else {
        for (i, &f) in plan.frontier.iter().enumerate() {
            let ty = func.types[f].clone();
            let g = add_value(func, Op::Get(args[1], i as u32), ty);
            func.blocks[block].insts.push(g);
            subst.insert(f, g);
        }
    }
    for &x in &plan.needed {
        let placed = if plan.copied.contains(&x) {
            let op = func.op(x).expect("insts are ops").clone();
            let ty = func.types[x].clone();
            let c = add_value(func, op, ty);
            subst.insert(x, c);
            c
        } else {
            x
        };
        func.blocks[block].insts.push(placed);
    }
    substitute(func, block, &subst);
    let out = subst.get(&out).copied().unwrap_or(out);
    let types = vec![func.types[out].clone(), Type::Tuple(Vec::new())];
    let pair = add_value(func, Op::Tuple(vec![out, args[0]]), Type::Tuple(types));
    func.blocks[block].insts.push(pair);
    func.blocks[block].result = Some(pair);
    block
}

/// Replaces every read of a key of `subst` in the function, except in the
/// op `skip` (the one that must keep reading the original).
fn substitute_all(func: &mut Function, subst: &HashMap<Value, Value>, skip: Value) {
    let values: Vec<Value> = func.values.keys().collect();
    for x in values {
        if x == skip {
            continue;
        }
        if let crate::ir::ValueDef::Op(op) = &mut func.values[x] {
            for o in op.operands_mut() {
                if let Some(&s) = subst.get(o) {
                    *o = s;
                }
            }
        }
    }
    let blocks: Vec<Block> = func.blocks.keys().collect();
    for b in blocks {
        if let Some(r) = func.blocks[b].result
            && let Some(&s) = subst.get(&r)
        {
            func.blocks[b].result = Some(s);
        }
    }
}
