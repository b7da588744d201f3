//! Which structure folds run batch-packed: over one node table holding every
//! tree of a batch shard, outside the per-example `vmap`.
//!
//! A fold qualifies when it sits in the entry block, folds an input
//! structure directly (not a list, not `halves`), and its regions read, from
//! outside themselves, only values that do not depend on the example
//! (parameters, constants and what is computed from them alone). An input
//! is packed when every use of it is such a fold; its folds then run in the
//! generated `prefold`, and `forward` reads their per-example results.
//!
//! A hylomorphism by `halves` over an input list packs the same way: the
//! trees `halves` makes of the lists of a batch shard share one node table
//! (`halves_packing`). The list itself stays a per-example input, since
//! other ops may read it; only its split trees are packed.

use cdlc_ir::{Function, Module, Op, Split, Type, Value};
use std::collections::HashSet;

/// The packed folds of a function and the inputs they consume.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Packing {
    /// The hoisted folds' values, in entry-block order; `F[k]` in
    /// `forward` is the result of the `k`-th.
    pub folds: Vec<Value>,
    /// The inputs laid out as packed tables (a structure, or a list whose
    /// `halves` trees are packed), ascending.
    pub inputs: Vec<u32>,
    /// The entry-block values that do not depend on the example, in order.
    pub independent: Vec<Value>,
}

impl Packing {
    /// The position of `v` among the packed folds.
    pub fn fold_index(&self, v: Value) -> Option<usize> {
        self.folds.iter().position(|&x| x == v)
    }
}

/// Decides the packing of `f`'s structure folds.
pub fn packing(m: &Module, f: &Function) -> Packing {
    let independent = independent_values(f);
    let indep: HashSet<Value> = independent.iter().copied().collect();
    let candidates: Vec<(Value, u32)> = f.blocks[f.entry]
        .insts
        .iter()
        .filter_map(|&v| candidate(m, f, v, &indep).map(|i| (v, i)))
        .collect();
    let folds_of: HashSet<Value> = candidates.iter().map(|(v, _)| *v).collect();
    let mut inputs: Vec<u32> = candidates
        .iter()
        .map(|(_, i)| *i)
        .filter(|&i| only_used_by(f, i, &folds_of))
        .collect();
    inputs.sort_unstable();
    inputs.dedup();
    let mut folds: Vec<Value> = candidates
        .into_iter()
        .filter(|(_, i)| inputs.contains(i))
        .map(|(v, _)| v)
        .collect();
    let (halves_folds, halves_inputs) = halves_packing(f, &indep);
    folds.extend(halves_folds);
    folds.sort_by_key(|v| entry_position(f, *v));
    inputs.extend(halves_inputs);
    inputs.sort_unstable();
    Packing {
        folds,
        inputs,
        independent,
    }
}

/// The packed `halves` folds and the list inputs they split. A list input
/// is packed when every `halves` fold over it sits in the entry block and
/// its regions read, from outside, only example-independent values; its
/// trees are then laid out as one table per batch shard.
fn halves_packing(f: &Function, indep: &HashSet<Value>) -> (Vec<Value>, Vec<u32>) {
    let mut by_input: Vec<(u32, Vec<Value>, bool)> = Vec::new();
    for (v, def) in f.values.iter() {
        let cdlc_ir::ValueDef::Op(Op::Fold(fold)) = def else {
            continue;
        };
        let Some(Op::Input(i)) = f.op(fold.input) else {
            continue;
        };
        if fold.split != Split::Halves {
            continue;
        }
        let ok = !fold.record
            && f.blocks[f.entry].insts.contains(&v)
            && f.free_values(&fold.cases).iter().all(|x| indep.contains(x));
        match by_input.iter_mut().find(|(j, _, _)| j == i) {
            Some((_, vs, all_ok)) => {
                vs.push(v);
                *all_ok &= ok;
            }
            None => by_input.push((*i, vec![v], ok)),
        }
    }
    let packed: Vec<(u32, Vec<Value>, bool)> = by_input.into_iter().filter(|e| e.2).collect();
    let folds = packed
        .iter()
        .flat_map(|(_, vs, _)| vs.iter().copied())
        .collect();
    let inputs = packed.iter().map(|(i, _, _)| *i).collect();
    (folds, inputs)
}

/// Where `v` stands in the entry block (folds are listed in this order).
fn entry_position(f: &Function, v: Value) -> usize {
    f.blocks[f.entry]
        .insts
        .iter()
        .position(|&x| x == v)
        .expect("packed folds sit in the entry block")
}

/// The input index a fold at `v` packs, if it qualifies.
fn candidate(m: &Module, f: &Function, v: Value, indep: &HashSet<Value>) -> Option<u32> {
    let Some(Op::Fold(fold)) = f.op(v) else {
        return None;
    };
    if fold.record || fold.split != Split::Structure || m.list_element(fold.data).is_some() {
        return None;
    }
    let Some(Op::Input(i)) = f.op(fold.input) else {
        return None;
    };
    if !matches!(f.types[fold.input], Type::Data(_)) {
        return None;
    }
    let free = f.free_values(&fold.cases);
    free.iter().all(|x| indep.contains(x)).then_some(*i)
}

/// The entry-block values computed from parameters and constants alone.
fn independent_values(f: &Function) -> Vec<Value> {
    let mut indep = HashSet::new();
    let mut out = Vec::new();
    for &v in &f.blocks[f.entry].insts {
        let op = f.op(v).expect("verified: block insts are ops");
        if matches!(op, Op::Input(_)) {
            continue;
        }
        let reads_ok = op.operands().iter().all(|x| indep.contains(x));
        let captures_ok = f
            .free_values(&op.regions())
            .iter()
            .all(|x| indep.contains(x));
        if reads_ok && captures_ok {
            indep.insert(v);
            out.push(v);
        }
    }
    out
}

/// Whether every use of input `i`'s values is one of `folds`.
fn only_used_by(f: &Function, i: u32, folds: &HashSet<Value>) -> bool {
    let of_input: HashSet<Value> = f
        .values
        .iter()
        .filter(|(_, def)| matches!(def, cdlc_ir::ValueDef::Op(Op::Input(j)) if *j == i))
        .map(|(v, _)| v)
        .collect();
    f.blocks.iter().all(|(_, block)| {
        let result_ok = block.result.is_none_or(|r| !of_input.contains(&r));
        result_ok
            && block.insts.iter().all(|&v| {
                let op = f.op(v).expect("verified: block insts are ops");
                folds.contains(&v) || op.operands().iter().all(|x| !of_input.contains(x))
            })
    })
}
