//! Preparing a batch: the examples' tensors gathered into batch buffers in
//! the kernel's dtype, the targets, the level schedule of every fold (with
//! its groups' fields gathered) and the padded steps of every unfold.
//!
//! This is the work that depends on the batch's shapes and not on the
//! parameters; a benchmark that repeats one batch prepares it once.

use cdlc_ir::example_error::ExampleError;
use cdlc_runtime::float::Float;
use cdlc_runtime::schedule::{ScheduleError, schedule};
use cdlc_runtime::value::{DataType, Target, Value};

use crate::JitError;
use crate::plan::{Leaf, Plan, UnfoldInfo};

mod check;
mod halves;
mod nested;

#[cfg_attr(not(debug_assertions), allow(unused_imports))]
pub(crate) use check::{Ctors, check, check_fold};
pub(crate) use halves::halves_schedule;
pub(crate) use nested::NestedData;

/// The nodes of one (height, constructor) group of a fold.
pub(crate) struct GroupData<T> {
    pub ctor: usize,
    pub first: usize,
    pub len: usize,
    pub children: Vec<u32>,
    /// Per plain field, `len x size` numbers.
    pub fields: Vec<Vec<T>>,
    pub examples: Vec<u32>,
    /// For a fold over a computed sequence: each node's element, as a row
    /// `step * rows + example` of the sequence's buffer (empty otherwise).
    pub elems: Vec<u32>,
    /// How many lists of children (`List(X)` fields) each node has, and
    /// the children's numbers as the runtime's schedule lists them
    /// (`cdlc_runtime::schedule::Group::list_offsets`).
    pub list_arity: usize,
    pub list_offsets: Vec<u32>,
    pub list_children: Vec<u32>,
    /// Per plain field holding a list of tensors (`FoldInfo::field_lists`).
    pub field_lists: Vec<FieldListData<T>>,
    /// Per fold inside the region over a structure a plain field holds
    /// (`FoldInfo::nested_in`): its id and its schedule over the
    /// structures of the group's nodes, one row per node.
    pub held: Vec<(usize, FoldData<T>)>,
    /// Per nested field (`FoldInfo::nested_fields`): the nodes' lengths
    /// and children in its pool, and the schedule of its structures.
    pub nested_fields: Vec<NestedData<T>>,
}

/// The lists one plain field holds, one per node of a group: node `i`'s
/// elements are `offsets[i]..offsets[i + 1]`, each component's tensors in
/// its own `[elements, size]` block.
pub(crate) struct FieldListData<T> {
    pub offsets: Vec<usize>,
    pub elems: Vec<Vec<T>>,
}

/// A fold's level schedule.
pub(crate) struct FoldData<T> {
    pub levels: Vec<Vec<GroupData<T>>>,
    pub roots: Vec<u32>,
    pub num_nodes: usize,
}

/// An unfold's steps: `[steps, rows, size]` list elements, zero past an
/// example's length.
pub(crate) struct UnfoldData<T> {
    pub steps: usize,
    pub lens: Vec<usize>,
    pub xs: Vec<T>,
}

/// A batch ready for a kernel of element type `T`.
pub(crate) struct Batch<T> {
    pub rows: usize,
    /// Per function input: its tensors `[rows, size]` (empty otherwise).
    pub tensors: Vec<Vec<T>>,
    /// Per function input: class targets `[rows]` or `[steps, rows]`.
    pub classes: Vec<Vec<u32>>,
    /// Per function input: sequence targets' lengths and their longest.
    pub seq_lens: Vec<Vec<usize>>,
    pub seq_steps: Vec<usize>,
    pub folds: Vec<FoldData<T>>,
    pub unfolds: Vec<UnfoldData<T>>,
}

/// A value preparation cannot read. Every example is checked against the
/// function's types before it is prepared (`Kernel::check_examples`), so
/// this is a bug in the JIT, not in the data.
fn input_error<R>(message: String) -> Result<R, JitError> {
    Err(JitError::Internal(format!(
        "a checked example cannot be prepared: {message}"
    )))
}

/// The runtime's refusal to schedule a batch's structures: too many nodes
/// is the batch's problem; anything else cannot happen to checked examples.
pub(crate) fn schedule_error(e: ScheduleError) -> JitError {
    match e {
        ScheduleError::TooLarge => JitError::Data(ExampleError::TooManyNodes),
        other => JitError::Internal(format!(
            "a checked example's structure cannot be scheduled: {other}"
        )),
    }
}

/// Splits an example's input over `n` function inputs.
fn split_x(x: &Value, n: usize) -> Result<Vec<&Value>, JitError> {
    if n == 1 {
        return Ok(vec![x]);
    }
    match x {
        Value::Tuple(xs) if xs.len() == n => Ok(xs.iter().collect()),
        _ => input_error(format!("expected a tuple of {n} inputs")),
    }
}

/// The component of an example's inputs that `leaf` names.
fn leaf_value<'v>(ex: &[&'v Value], leaf: &Leaf) -> Result<&'v Value, JitError> {
    let mut v = ex[leaf.input];
    for &k in &leaf.path {
        v = match v {
            Value::Tuple(vs) if k < vs.len() => &vs[k],
            other => return input_error(format!("expected a tuple input, found {other:?}")),
        };
    }
    Ok(v)
}

/// The tensors of a field's value, depth first through tuples.
fn components<'v>(v: &'v Value, out: &mut Vec<&'v Value>) {
    match v {
        Value::Tuple(vs) => vs.iter().for_each(|x| components(x, out)),
        other => out.push(other),
    }
}

fn push_tensor<T: Float>(out: &mut Vec<T>, v: &Value, size: usize) -> Result<(), JitError> {
    match v {
        Value::Tensor(t) if t.data.len() == size => {
            out.extend(t.data.iter().map(|&x| T::from_f64(x)));
            Ok(())
        }
        other => input_error(format!(
            "expected a tensor of {size} numbers, found {other:?}"
        )),
    }
}

/// Appends a node's list of tensors (or of tuples of tensors of `sizes`)
/// to the field's lists.
fn push_list<T: Float>(
    out: &mut FieldListData<T>,
    list: &Value,
    sizes: &[usize],
) -> Result<(), JitError> {
    let items = list.as_list().map_or_else(
        || input_error(format!("expected a list, found {list:?}")),
        Ok,
    )?;
    let mut parts = Vec::with_capacity(sizes.len());
    for item in &items {
        parts.clear();
        components(item, &mut parts);
        if parts.len() != sizes.len() {
            return input_error(format!(
                "expected {} tensors in a list element, found {}",
                sizes.len(),
                parts.len()
            ));
        }
        for (block, (&part, &size)) in out.elems.iter_mut().zip(parts.iter().zip(sizes)) {
            push_tensor(block, part, size)?;
        }
    }
    let last = out.offsets.last().copied().unwrap_or(0);
    out.offsets.push(last + items.len());
    Ok(())
}

fn push_target<T: Float>(
    out: &mut Vec<T>,
    classes: &mut Vec<u32>,
    y: &Target,
    size: usize,
) -> Result<(), JitError> {
    match y {
        Target::Class(c) => {
            classes.push(*c as u32);
            Ok(())
        }
        Target::Tensor(t) if t.data.len() == size => {
            out.extend(t.data.iter().map(|&x| T::from_f64(x)));
            Ok(())
        }
        other => input_error(format!("target {other:?} does not fit the loss")),
    }
}

/// The tree that `halves` makes of a list.
fn halves(items: &[&Value]) -> Value {
    if items.len() == 1 {
        Value::leaf(items[0].clone())
    } else {
        let (l, r) = items.split_at(items.len() / 2);
        Value::node(halves(l), halves(r))
    }
}

/// Prepares `xs` (and `ys`, for a training function) for `plan`.
pub(crate) fn prepare<T: Float>(
    plan: &Plan,
    xs: &[&Value],
    ys: Option<&[&Target]>,
) -> Result<Batch<T>, JitError> {
    let rows = xs.len();
    let n_x = plan.inputs.len() - usize::from(ys.is_some());
    let split: Vec<Vec<&Value>> = xs
        .iter()
        .map(|x| split_x(x, n_x))
        .collect::<Result<_, _>>()?;
    let mut batch = Batch {
        rows,
        tensors: vec![Vec::new(); plan.leaves.len()],
        classes: vec![Vec::new(); plan.leaves.len()],
        seq_lens: vec![Vec::new(); plan.leaves.len()],
        seq_steps: vec![0; plan.leaves.len()],
        folds: Vec::new(),
        unfolds: Vec::new(),
    };
    for (i, leaf) in plan.leaves.iter().enumerate() {
        if let (true, cdlc_ir::Type::Tensor(s)) = (leaf.input < n_x, &leaf.ty) {
            let size = s.iter().product();
            let buf = &mut batch.tensors[i];
            buf.reserve(rows * size);
            for ex in &split {
                push_tensor(buf, leaf_value(ex, leaf)?, size)?;
            }
        }
    }
    if let Some(ys) = ys {
        let t = plan
            .leaves
            .iter()
            .position(|l| l.input == n_x)
            .ok_or_else(|| JitError::Internal("a training function without a target".into()))?;
        match &plan.leaves[t].ty {
            cdlc_ir::Type::Seq(elem) => {
                let size = elem.shape().map_or(1, |s| s.iter().product());
                let lens: Vec<usize> = ys
                    .iter()
                    .map(|y| match y {
                        Target::Seq(v) => Ok(v.len()),
                        other => {
                            input_error(format!("expected a sequence target, found {other:?}"))
                        }
                    })
                    .collect::<Result<_, _>>()?;
                let steps = lens.iter().copied().max().unwrap_or(0);
                let is_class = matches!(**elem, cdlc_ir::Type::Class(_));
                let mut tensors = vec![T::ZERO; steps * rows * size];
                let mut classes = vec![0u32; steps * rows];
                for (b, y) in ys.iter().enumerate() {
                    let Target::Seq(items) = y else {
                        unreachable!("checked")
                    };
                    for (s, item) in items.iter().enumerate() {
                        let mut one = Vec::new();
                        let mut cls = Vec::new();
                        push_target(&mut one, &mut cls, item, size)?;
                        if is_class {
                            classes[s * rows + b] = *cls.first().map_or_else(
                                || input_error("expected a class target".into()),
                                Ok,
                            )?;
                        } else {
                            tensors[(s * rows + b) * size..][..size].copy_from_slice(&one);
                        }
                    }
                }
                if is_class {
                    batch.classes[t] = classes;
                } else {
                    batch.tensors[t] = tensors;
                }
                batch.seq_lens[t] = lens;
                batch.seq_steps[t] = steps;
            }
            ty => {
                let size = ty.shape().map_or(1, |s| s.iter().product());
                let is_class = matches!(ty, cdlc_ir::Type::Class(_));
                for y in ys {
                    let before = (batch.tensors[t].len(), batch.classes[t].len());
                    push_target(&mut batch.tensors[t], &mut batch.classes[t], y, size)?;
                    let class_pushed = batch.classes[t].len() > before.1;
                    if class_pushed != is_class {
                        return input_error(format!("target {y:?} does not fit the loss"));
                    }
                }
            }
        }
    }
    // Unfolds first: a fold over an unfold's outputs takes its lengths.
    for info in &plan.unfolds {
        batch.unfolds.push(match *info {
            UnfoldInfo::Seq(src) => UnfoldData {
                steps: batch.unfolds[src].steps,
                lens: batch.unfolds[src].lens.clone(),
                xs: Vec::new(),
            },
            // Set group by group by the executor.
            UnfoldInfo::Children => UnfoldData {
                steps: 0,
                lens: Vec::new(),
                xs: Vec::new(),
            },
            // Its rows are set by the executor in each group.
            UnfoldInfo::TakeLocal(k) => UnfoldData {
                steps: k,
                lens: Vec::new(),
                xs: Vec::new(),
            },
            UnfoldInfo::Take(k) => UnfoldData {
                steps: k,
                lens: vec![k; rows],
                xs: Vec::new(),
            },
            UnfoldInfo::Over { input, ref sizes } => {
                let lists: Vec<Vec<&Value>> = split
                    .iter()
                    .map(|ex| {
                        leaf_value(ex, &plan.leaves[input])?
                            .as_list()
                            .map_or_else(|| input_error("expected a list".into()), Ok)
                    })
                    .collect::<Result<_, _>>()?;
                let steps = lists.iter().map(Vec::len).max().unwrap_or(0);
                // One block `[steps, rows, size]` per tensor of the element,
                // the blocks one after the other.
                let total: usize = sizes.iter().sum();
                let mut xs = vec![T::ZERO; steps * rows * total];
                let mut parts = Vec::with_capacity(sizes.len());
                for (b, list) in lists.iter().enumerate() {
                    for (s, item) in list.iter().enumerate() {
                        parts.clear();
                        components(item, &mut parts);
                        if parts.len() != sizes.len() {
                            return input_error(format!(
                                "expected {} tensors in a list element, found {}",
                                sizes.len(),
                                parts.len()
                            ));
                        }
                        let mut block = 0;
                        for (&part, &size) in parts.iter().zip(sizes) {
                            let mut one = Vec::with_capacity(size);
                            push_tensor(&mut one, part, size)?;
                            xs[block + (s * rows + b) * size..][..size].copy_from_slice(&one);
                            block += steps * rows * size;
                        }
                    }
                }
                UnfoldData {
                    steps,
                    lens: lists.iter().map(Vec::len).collect(),
                    xs,
                }
            }
        });
    }
    for (f, info) in plan.folds.iter().enumerate() {
        if let Some(u) = info.over_unfold {
            let lens = &batch.unfolds[u].lens;
            let fd = match info.halves {
                // The driver names the example the batch was made of.
                true => {
                    halves_schedule(lens).map_err(|_| JitError::Data(ExampleError::EmptyHalves))?
                }
                false => list_schedule(lens),
            };
            batch.folds.push(fd);
            continue;
        }
        if info.nested_in.is_some() || info.inner.is_some() {
            // Prepared per group of the enclosing fold: over the
            // structures a field holds, or a nested field's structures.
            batch.folds.push(FoldData {
                levels: Vec::new(),
                roots: Vec::new(),
                num_nodes: 0,
            });
            continue;
        }
        let structures: Vec<&Value> = split
            .iter()
            .map(|ex| leaf_value(ex, &plan.leaves[info.input]))
            .collect::<Result<_, _>>()?;
        batch.folds.push(fold_data(plan, f, &structures)?);
    }
    Ok(batch)
}

/// The level schedule of fold `f` over `structures` (one per row: the
/// batch's examples, or the nodes of a group of the enclosing fold), with
/// every group's fields gathered and, for the folds inside its regions
/// over structures its fields hold, their schedules over the group's nodes.
fn fold_data<T: Float>(
    plan: &Plan,
    f: usize,
    structures: &[&Value],
) -> Result<FoldData<T>, JitError> {
    let info = &plan.folds[f];
    let roots: Vec<Value>;
    let structures: Vec<&Value> = if info.halves {
        roots = structures
            .iter()
            .map(|v| match v.as_list() {
                Some(items) if !items.is_empty() => Ok(halves(&items)),
                Some(_) => Err(JitError::Data(ExampleError::EmptyHalves)),
                None => input_error("expected a list".into()),
            })
            .collect::<Result<_, _>>()?;
        roots.iter().collect()
    } else {
        structures.to_vec()
    };
    let ty = DataType::Data(info.decl.clone());
    let s = schedule(structures.iter().copied(), &ty).map_err(schedule_error)?;
    let mut levels = Vec::with_capacity(s.levels.len());
    for level in &s.levels {
        let mut groups = Vec::with_capacity(level.groups.len());
        for g in &level.groups {
            groups.push(group_data(plan, f, g)?);
        }
        levels.push(groups);
    }
    Ok(FoldData {
        levels,
        roots: s.roots.clone(),
        num_nodes: s.num_nodes,
    })
}

/// One group of fold `f`'s schedule: its plain fields gathered, the lists
/// its fields hold, and the schedules of the folds over the structures
/// they hold.
fn group_data<T: Float>(
    plan: &Plan,
    f: usize,
    g: &cdlc_runtime::schedule::Group<'_>,
) -> Result<GroupData<T>, JitError> {
    let info = &plan.folds[f];
    let sizes = &info.field_sizes[g.ctor as usize];
    let mut fields: Vec<Vec<T>> = sizes
        .iter()
        .map(|s| Vec::with_capacity(s * g.len))
        .collect();
    let lists = &info.field_lists[g.ctor as usize];
    let structs = &info.field_structures[g.ctor as usize];
    let mut field_lists: Vec<FieldListData<T>> = lists
        .iter()
        .map(|(_, sizes)| FieldListData {
            offsets: vec![0],
            elems: vec![Vec::new(); sizes.len()],
        })
        .collect();
    let tuples = nested::tuples_with_tensors(info, g.ctor as usize);
    let mut parts = Vec::with_capacity(sizes.len());
    for node in 0..g.len {
        parts.clear();
        let mut l = 0;
        for k in 0..g.field_arity {
            // A nested tuple's tensors before the plain field after it.
            nested::tuple_tensors(&tuples, g, node, k, &mut parts);
            let v = g.fields[node * g.field_arity + k];
            match lists.get(l) {
                Some((at, sizes)) if *at == k => {
                    push_list(&mut field_lists[l], v, sizes)?;
                    l += 1;
                }
                _ if structs.contains(&k) => {}
                _ => components(v, &mut parts),
            }
        }
        nested::tuple_tensors(&tuples, g, node, g.field_arity, &mut parts);
        if parts.len() != sizes.len() {
            return input_error(format!(
                "expected {} tensors in a node's fields, found {}",
                sizes.len(),
                parts.len()
            ));
        }
        for (k, (&part, &size)) in parts.iter().zip(sizes).enumerate() {
            push_tensor(&mut fields[k], part, size)?;
        }
    }
    let mut held = Vec::new();
    for (inner, i) in plan.folds.iter().zip(0..) {
        let Some((outer, ctor, k)) = inner.nested_in else {
            continue;
        };
        if outer == f && ctor == g.ctor as usize {
            let values: Vec<&Value> = (0..g.len)
                .map(|node| g.fields[node * g.field_arity + k])
                .collect();
            held.push((i, fold_data(plan, i, &values)?));
        }
    }
    Ok(GroupData {
        ctor: g.ctor as usize,
        first: g.first as usize,
        len: g.len,
        children: nested::direct_children(info, g)?,
        fields,
        examples: g.examples.clone(),
        elems: Vec::new(),
        list_arity: g.list_arity,
        list_offsets: g.list_offsets.clone(),
        list_children: g.list_children.clone(),
        field_lists,
        held,
        nested_fields: nested::prepare(plan, &[f], g)?,
    })
}

/// The level schedule of lists of lengths `lens` (one per example) whose
/// elements are rows of a computed sequence: level 0 is every example's
/// `nil` (node `r` for example `r`), level `h` the `cons` nodes `h` places
/// from the end of every list at least `h` long, each the parent of its
/// example's node of level `h - 1`.
pub(crate) fn list_schedule<T>(lens: &[usize]) -> FoldData<T> {
    let rows = lens.len();
    let steps = lens.iter().copied().max().unwrap_or(0);
    let mut last: Vec<u32> = (0..rows as u32).collect();
    let mut levels = vec![vec![GroupData {
        ctor: 0,
        first: 0,
        len: rows,
        children: Vec::new(),
        fields: Vec::new(),
        examples: (0..rows as u32).collect(),
        elems: Vec::new(),
        list_arity: 0,
        list_offsets: vec![0],
        list_children: Vec::new(),
        field_lists: Vec::new(),
        held: Vec::new(),
        nested_fields: Vec::new(),
    }]];
    let mut next = rows;
    for h in 1..=steps {
        let members: Vec<usize> = (0..rows).filter(|&r| lens[r] >= h).collect();
        let g = GroupData {
            ctor: 1,
            first: next,
            len: members.len(),
            children: members.iter().map(|&r| last[r]).collect(),
            fields: vec![Vec::new()],
            examples: members.iter().map(|&r| r as u32).collect(),
            elems: members
                .iter()
                .map(|&r| ((lens[r] - h) * rows + r) as u32)
                .collect(),
            list_arity: 0,
            list_offsets: vec![0],
            list_children: Vec::new(),
            field_lists: Vec::new(),
            held: Vec::new(),
            nested_fields: Vec::new(),
        };
        for (i, &r) in members.iter().enumerate() {
            last[r] = (next + i) as u32;
        }
        next += members.len();
        levels.push(vec![g]);
    }
    FoldData {
        levels,
        roots: last,
        num_nodes: next,
    }
}
