//! Preparing nested fields (`Tree(X)`, `List(A * X)`, a user's `Opt(X)`):
//! for each group of the enclosing fold, the structures its nodes hold in
//! the field, scheduled together as one batch of their own (one structure
//! per node of the group, in the group's order), so that a fold over them
//! inside the region runs level by level in batched products across the
//! group's nodes.
//!
//! A structure's recursive positions hold the enclosing fold's children.
//! The region lays their carriers out as the field's *pool*, like a rose
//! node's list of children (step `t`, row `i`: node `i`'s `t`-th child in
//! the order `cdlc_runtime::schedule::nested::holes` walks them); a node
//! of the structure that holds children (one, or several such as a leaf
//! of `Tree(X * X)`) reads each from its pool row `t * len + i`
//! (`GroupData::elems`, as many per node as its constructor holds), and
//! their cotangents go back there.

use std::collections::HashMap;

use cdlc_runtime::float::Float;
use cdlc_runtime::schedule::{Group, nested, schedule};
use cdlc_runtime::value::{DataType, Value};

use super::{FoldData, GroupData, push_tensor};
use crate::JitError;
use crate::plan::{FoldInfo, NestedField, Plan};

/// One nested field of a group's nodes.
pub(crate) struct NestedData<T> {
    /// Where each node's children start in `children` (`len + 1`
    /// offsets): the pool's lengths.
    pub offsets: Vec<u32>,
    /// The children's node numbers in the enclosing fold, in pool order.
    pub children: Vec<u32>,
    /// The schedule of the nodes' structures: its roots are the group's
    /// nodes in order, a node's `examples` entry its row in the group, and
    /// a node holding a child has that child's pool row in `elems` (its
    /// plain field's tensors at the recursive position have no prepared
    /// rows).
    pub fold: FoldData<T>,
}

impl<T> NestedData<T> {
    /// The number of children of node `i` of the group.
    pub fn len_of(&self, i: usize) -> usize {
        (self.offsets[i + 1] - self.offsets[i]) as usize
    }
}

/// A nested field preparation cannot read: a bug, since every example is
/// checked against the function's types first (`super::input_error`).
fn data_error<R>(message: String) -> Result<R, JitError> {
    Err(JitError::Internal(format!(
        "a checked example's nested field cannot be prepared: {message}"
    )))
}

/// The nested fields of group `g` of the folds `over` (one fold over the
/// batch's inputs, or the folds over one nested structure, whose groups
/// hold nested fields of their own: a stem's tree of stems). The folds
/// over one structure agree on its nested fields (its data type's), so
/// the first one's are prepared; none when no fold runs over it.
pub(super) fn prepare<T: Float>(
    plan: &Plan,
    over: &[usize],
    g: &Group<'_>,
) -> Result<Vec<NestedData<T>>, JitError> {
    let Some(&f) = over.first() else {
        return Ok(Vec::new());
    };
    let info = &plan.folds[f];
    let fields = info
        .nested_fields
        .get(g.ctor as usize)
        .map_or(&[][..], |f| f);
    if fields.len() != g.nested_arity {
        return Err(JitError::Internal(format!(
            "a constructor with {} nested fields was scheduled with {}",
            fields.len(),
            g.nested_arity
        )));
    }
    let mut out = Vec::new();
    for (j, field) in fields.iter().enumerate() {
        let pools = field.pools();
        if pools.is_empty() {
            continue;
        }
        let nodes = (0..g.len)
            .map(|i| split(g, field, j, i))
            .collect::<Result<Vec<_>, _>>()?;
        for (p, ty) in pools.into_iter().enumerate() {
            let pool = out.len();
            let folds = plan.folds_over_pool(over, g.ctor as usize, pool);
            let held: Vec<(&Value, &[u32])> = nodes
                .iter()
                .map(|n| (n.structures[p].0, &n.structures[p].1[..]))
                .collect();
            out.push(one_field(plan, &folds, ty, field.carrier_parts, &held)?);
        }
    }
    Ok(out)
}

/// Node `i`'s value of nested field `j` of group `g`, split in walking
/// order: the children of the enclosing fold it holds directly (a
/// tuple's, `X * Tree(X)`), and each structure it holds with the children
/// at its recursive positions.
struct Split<'a> {
    direct: Vec<u32>,
    structures: Vec<(&'a Value, Vec<u32>)>,
}

fn split<'a>(
    g: &Group<'a>,
    field: &NestedField,
    j: usize,
    i: usize,
) -> Result<Split<'a>, JitError> {
    let k = i * g.nested_arity + j;
    let (a, b) = (
        g.nested_offsets[k] as usize,
        g.nested_offsets[k + 1] as usize,
    );
    let mut out = Split {
        direct: Vec::new(),
        structures: Vec::new(),
    };
    let mut next = a;
    walk(g.nested_values[k], &field.ty, i, &mut |v, ty| {
        let n = match ty {
            DataType::Rec(_) => 1,
            _ => nested::holes(v, ty, i, &mut Vec::new()).map_err(super::schedule_error)? as usize,
        };
        let Some(kids) = g.nested_children.get(next..next + n) else {
            return data_error(format!(
                "a node's {ty} holds more children than its field ({})",
                b - a
            ));
        };
        match ty {
            DataType::Rec(_) => out.direct.push(kids[0]),
            _ => out.structures.push((v, kids.to_vec())),
        }
        next += n;
        Ok(())
    })?;
    if next != b {
        return data_error(format!(
            "expected {} children in a nested field of type {}, found {}",
            next - a,
            field.ty,
            b - a
        ));
    }
    Ok(out)
}

/// Calls `visit` on each child of the enclosing fold (`Rec(0)`) and each
/// structure in `v`, node `node`'s value of a nested field of type `ty`,
/// in walking order; a tensor is skipped.
fn walk<'a>(
    v: &'a Value,
    ty: &DataType,
    node: usize,
    visit: &mut dyn FnMut(&'a Value, &DataType) -> Result<(), JitError>,
) -> Result<(), JitError> {
    match (ty, v) {
        (DataType::Rec(0) | DataType::Data(_), _) => visit(v, ty),
        (DataType::Tuple(ts), Value::Tuple(vs)) if ts.len() == vs.len() => {
            for (t, x) in ts.iter().zip(vs) {
                walk(x, t, node, visit)?;
            }
            Ok(())
        }
        (DataType::Tensor(_), _) => Ok(()),
        _ => data_error(format!(
            "expected {ty} in node {node}'s nested field, found {v:?}"
        )),
    }
}

/// The children the nodes of group `g` read directly, `len × arity` of
/// them: per node, in field order, each recursive field's child and each
/// child of a nested tuple (`X * X`, in walking order), as the region's
/// `rec_args` take them. Without nested tuples, the schedule's children.
pub(super) fn direct_children(info: &FoldInfo, g: &Group<'_>) -> Result<Vec<u32>, JitError> {
    let fields = info
        .nested_fields
        .get(g.ctor as usize)
        .map_or(&[][..], |f| f);
    if fields.iter().all(|f| f.tuple.is_none()) {
        return Ok(g.children.clone());
    }
    let ctor = &info.decl.ctors[g.ctor as usize];
    let tuples: usize = fields.iter().filter_map(|f| f.tuple).sum();
    let mut out = Vec::with_capacity(g.len * (g.rec_arity + tuples));
    for i in 0..g.len {
        let mut rec = g.children[i * g.rec_arity..(i + 1) * g.rec_arity].iter();
        for (at, ty) in ctor.fields.iter().enumerate() {
            if *ty == DataType::Rec(0) {
                let Some(&child) = rec.next() else {
                    return Err(JitError::Internal(
                        "a node with fewer children than recursive fields".into(),
                    ));
                };
                out.push(child);
                continue;
            }
            let Some((j, field)) = fields.iter().enumerate().find(|(_, f)| f.at == at) else {
                continue;
            };
            if field.tuple.is_some() {
                out.extend(split(g, field, j, i)?.direct);
            }
        }
    }
    Ok(out)
}

/// The nested tuples of constructor `ctor` that hold tensors beside their
/// children (`R[2] * X`), each with its position among the nested fields.
pub(super) fn tuples_with_tensors(info: &FoldInfo, ctor: usize) -> Vec<(usize, &NestedField)> {
    let fields = info.nested_fields.get(ctor).map_or(&[][..], |f| f);
    fields
        .iter()
        .enumerate()
        .filter(|(_, f)| f.tuple.is_some() && holds_tensor(&f.ty))
        .collect()
}

fn holds_tensor(ty: &DataType) -> bool {
    match ty {
        DataType::Tensor(_) => true,
        DataType::Tuple(ts) => ts.iter().any(holds_tensor),
        DataType::Rec(_) | DataType::Data(_) => false,
    }
}

/// Appends the tensors of node `node`'s nested tuples that come after
/// its first `k` plain fields, depth first, so that the group's prepared
/// field rows follow field order (`FoldInfo::field_sizes`).
pub(super) fn tuple_tensors<'a>(
    tuples: &[(usize, &NestedField)],
    g: &Group<'a>,
    node: usize,
    k: usize,
    out: &mut Vec<&'a Value>,
) {
    for (j, f) in tuples.iter().filter(|(_, f)| f.plain_before == k) {
        tensors_of(g.nested_values[node * g.nested_arity + j], &f.ty, out);
    }
}

/// The tensors of `v`, a value of tuple type `ty`, depth first. A value
/// that does not fit is pushed whole, for `push_tensor` to report (the
/// schedule has checked the tuples already, walking them for children).
fn tensors_of<'a>(v: &'a Value, ty: &DataType, out: &mut Vec<&'a Value>) {
    match (ty, v) {
        (DataType::Tuple(ts), Value::Tuple(vs)) if ts.len() == vs.len() => {
            for (t, v) in ts.iter().zip(vs) {
                tensors_of(v, t, out);
            }
        }
        (DataType::Rec(_) | DataType::Data(_), _) => {}
        _ => out.push(v),
    }
}

/// A pool of the group's nodes: per node, the structure it holds and the
/// children at its recursive positions (`held`, in walking order); the
/// structures' schedule (with those of the structures its nodes hold, for
/// `folds`, the folds over it inside the region).
fn one_field<T: Float>(
    plan: &Plan,
    folds: &[usize],
    ty: &DataType,
    carrier_parts: usize,
    held: &[(&Value, &[u32])],
) -> Result<NestedData<T>, JitError> {
    let n = held.len();
    let mut offsets = vec![0u32];
    let mut children = Vec::new();
    let mut rows: HashMap<*const Value, u32> = HashMap::new();
    let mut holes = Vec::new();
    for (i, (v, kids)) in held.iter().enumerate() {
        children.extend_from_slice(kids);
        offsets.push(children.len() as u32);
        holes.clear();
        nested::holes(v, ty, i, &mut holes).map_err(super::schedule_error)?;
        for (t, h) in holes.iter().enumerate() {
            rows.insert(*h as *const Value, (t * n + i) as u32);
        }
    }
    let values: Vec<&Value> = held.iter().map(|h| h.0).collect();
    let pool = PoolRows {
        rows: &rows,
        carrier_parts,
    };
    let fold = structures(plan, folds, &values, ty, 1, &pool)?;
    Ok(NestedData {
        offsets,
        children,
        fold,
    })
}

/// The pool rows of the children a field's structures hold, by the
/// address of the value at each recursive position, and the number of
/// tensors in the enclosing fold's carrier.
struct PoolRows<'p> {
    rows: &'p HashMap<*const Value, u32>,
    carrier_parts: usize,
}

/// The schedule of `values` (one structure per row) of type `ty`, whose
/// positions `Rec(depth)` hold children of the enclosing fold (read from
/// their pool rows); for each fold inside the regions of `folds` over a
/// structure one of its nodes holds, that structure's schedule over the
/// group's nodes (`GroupData::held`), one data type deeper.
fn structures<T: Float>(
    plan: &Plan,
    folds: &[usize],
    values: &[&Value],
    ty: &DataType,
    depth: u32,
    pool: &PoolRows<'_>,
) -> Result<FoldData<T>, JitError> {
    let s = schedule(values.iter().copied(), ty).map_err(super::schedule_error)?;
    let DataType::Data(decl) = ty else {
        return Err(JitError::Internal(
            "a nested field folded inside a region holds a data type".into(),
        ));
    };
    let mut levels = Vec::with_capacity(s.levels.len());
    for level in &s.levels {
        let mut groups = Vec::with_capacity(level.groups.len());
        for ig in &level.groups {
            // The fields the schedule gathers: neither its own recursive
            // positions nor its lists of its own children (a rose tree's
            // `List(X)`, laid out from `list_children`).
            let types: Vec<&DataType> = decl.ctors[ig.ctor as usize]
                .fields
                .iter()
                .filter(|t| !nested::mentions_own(t))
                .collect();
            let mut node = NodeFields::new(&types, pool.carrier_parts, depth);
            for i in 0..ig.len {
                for (f, ty) in types.iter().enumerate() {
                    node.push(ig.fields[i * ig.field_arity + f], ty, pool.rows)?;
                }
                node.end_node();
            }
            let mut held = Vec::new();
            for (i, inner) in plan.folds.iter().enumerate() {
                let Some((outer, ctor, k)) = inner.nested_in else {
                    continue;
                };
                if !folds.contains(&outer) || ctor != ig.ctor as usize {
                    continue;
                }
                let mut t = None;
                let mut vals = Vec::with_capacity(ig.len);
                for node in 0..ig.len {
                    let fields = &ig.fields[node * ig.field_arity..(node + 1) * ig.field_arity];
                    let Some((v, ty)) = held_structure(fields, &types, k) else {
                        return data_error(format!(
                            "a node of {} holds no structure {k}",
                            decl.name
                        ));
                    };
                    vals.push(v);
                    t = Some(ty);
                }
                let (Some(t), true) = (t, inner.inner.is_some()) else {
                    return Err(JitError::Internal(
                        "a fold over a structure held in a nested structure's node".into(),
                    ));
                };
                held.push((i, structures(plan, &[i], &vals, t, depth + 1, pool)?));
            }
            groups.push(GroupData {
                ctor: ig.ctor as usize,
                first: ig.first as usize,
                len: ig.len,
                children: ig.children.clone(),
                fields: node.comps,
                examples: ig.examples.clone(),
                elems: node.elems,
                list_arity: ig.list_arity,
                list_offsets: ig.list_offsets.clone(),
                list_children: ig.list_children.clone(),
                field_lists: Vec::new(),
                held,
                // The structure's own nested fields (a stem's tree of
                // stems), pools of this schedule's nodes.
                nested_fields: prepare(plan, folds, ig)?,
            });
        }
        levels.push(groups);
    }
    Ok(FoldData {
        levels,
        roots: s.roots.clone(),
        num_nodes: s.num_nodes,
    })
}

/// Structure `k` (depth first, as `lower::nested::held_structures` numbers
/// them) of a node's plain fields `values` of types `types`, whole or in a
/// tuple, with its type.
fn held_structure<'a, 't>(
    values: &[&'a Value],
    types: &[&'t DataType],
    k: usize,
) -> Option<(&'a Value, &'t DataType)> {
    fn walk<'a, 't>(
        v: &'a Value,
        ty: &'t DataType,
        k: &mut usize,
    ) -> Option<(&'a Value, &'t DataType)> {
        match (ty, v) {
            (DataType::Data(_), _) if *k == 0 => Some((v, ty)),
            (DataType::Data(_), _) => {
                *k -= 1;
                None
            }
            (DataType::Tuple(ts), Value::Tuple(vs)) => {
                ts.iter().zip(vs).find_map(|(t, v)| walk(v, t, k))
            }
            _ => None,
        }
    }
    let mut k = k;
    values
        .iter()
        .zip(types)
        .find_map(|(v, t)| walk(v, t, &mut k))
}

/// The plain fields of one group of a structure, gathered node by node:
/// one block per view (a recursive position's views stay empty) and each
/// node's pool row.
struct NodeFields<T> {
    comps: Vec<Vec<T>>,
    carrier_parts: usize,
    /// The recursive position of the enclosing fold seen from here.
    depth: u32,
    elems: Vec<u32>,
    /// The view the next tensor goes to, and the pool rows of the node
    /// being gathered.
    next: usize,
    found: Vec<u32>,
}

impl<T: Float> NodeFields<T> {
    fn new(types: &[&DataType], carrier_parts: usize, depth: u32) -> NodeFields<T> {
        let views: usize = types.iter().map(|t| views_of(t, carrier_parts)).sum();
        NodeFields {
            comps: (0..views).map(|_| Vec::new()).collect(),
            carrier_parts,
            depth,
            elems: Vec::new(),
            next: 0,
            found: Vec::new(),
        }
    }

    /// Gathers one plain field's value `v` of type `ty` (seen from the
    /// structure's data type: `Rec(depth)` is a child of the enclosing
    /// fold; a structure the node holds takes no view, its own schedule
    /// reads its children).
    fn push(
        &mut self,
        v: &Value,
        ty: &DataType,
        rows: &HashMap<*const Value, u32>,
    ) -> Result<(), JitError> {
        match (ty, v) {
            (DataType::Tensor(s), _) => {
                push_tensor(&mut self.comps[self.next], v, s.iter().product())?;
                self.next += 1;
            }
            (DataType::Tuple(ts), Value::Tuple(vs)) if ts.len() == vs.len() => {
                for (t, x) in ts.iter().zip(vs) {
                    self.push(x, t, rows)?;
                }
            }
            (DataType::Data(_), _) => {}
            (DataType::Rec(k), _) if *k == self.depth => {
                let Some(&row) = rows.get(&(v as *const Value)) else {
                    return Err(JitError::Internal(
                        "a child at a nested field's recursive position has no pool row".into(),
                    ));
                };
                self.found.push(row);
                self.next += self.carrier_parts;
            }
            _ => return data_error(format!("expected {ty} in a nested field, found {v:?}")),
        }
        Ok(())
    }

    /// Closes a node: the pool rows of the children it holds, in walking
    /// order (as many for every node of its constructor, which
    /// `batch::check` checks).
    fn end_node(&mut self) {
        self.elems.append(&mut self.found);
        self.next = 0;
    }
}

/// The views a plain field of type `ty` takes: one per tensor, and one per
/// carrier component at a recursive position.
fn views_of(ty: &DataType, carrier_parts: usize) -> usize {
    match ty {
        DataType::Tensor(_) => 1,
        DataType::Tuple(ts) => ts.iter().map(|t| views_of(t, carrier_parts)).sum(),
        DataType::Rec(_) => carrier_parts,
        DataType::Data(_) => 0,
    }
}
