//! The schedules of nested fields (`Tree(X)`, `List(A * X)`, a user's
//! `Opt(X)`), checked with the group of the enclosing fold that holds
//! them: each field's pool (its offsets and the children it lays out) and
//! the schedule of its structures, whose rows are the group's nodes and
//! whose nodes holding a child read that child's pool row; and the
//! schedules of the structures those nodes hold (`List(Tree(X))`: the
//! trees), whose nodes read rows of the same pool.

use cdlc_runtime::value::DataType;

use super::{Ctors, Reads, agree, check_fold, check_fold_reading, in_range, offsets};
use crate::batch::{FoldData, GroupData, NestedData};
use crate::plan::{FoldInfo, NestedField, Plan, PlanError, Site, Step};

#[cfg(test)]
mod held_tests;
#[cfg(test)]
mod rose_tests;
#[cfg(test)]
mod stem_tests;
#[cfg(test)]
mod tests;

impl Ctors {
    /// The constructors of a nested field's data type: its own recursive
    /// positions (`Rec(0)`) are children, and a constructor reads one pool
    /// row per child of the enclosing fold (`Rec(1)`) it holds.
    fn nested(ty: &DataType) -> Ctors {
        Ctors::nested_at(ty, 1)
    }

    /// As `nested`, for a structure `depth - 1` data types inside a nested
    /// field (a tree of `List(Tree(X))` at depth 2), whose constructors
    /// read a pool row per `Rec(depth)`.
    fn nested_at(ty: &DataType, depth: u32) -> Ctors {
        let ctors = match ty {
            DataType::Data(decl) => &decl.ctors[..],
            _ => &[],
        };
        Ctors {
            arity: ctors
                .iter()
                .map(|c| c.fields.iter().filter(|f| **f == DataType::Rec(0)).count())
                .collect(),
            reads: ctors
                .iter()
                .map(|c| c.fields.iter().map(|f| children_held(f, depth)).sum())
                .collect(),
        }
    }
}

/// How many of the enclosing fold's children (its recursive position,
/// `Rec(depth)` here) a field's type holds, directly or in tuples.
fn children_held(ty: &DataType, depth: u32) -> usize {
    match ty {
        DataType::Rec(k) if *k == depth => 1,
        DataType::Tuple(ts) => ts.iter().map(|t| children_held(t, depth)).sum(),
        _ => 0,
    }
}

/// The schedules of the structures held in the nodes of group `g`'s
/// nested structures (the trees of `List(Tree(X))`), for each nested
/// field of fold `f`'s group: each structure group holds one schedule per
/// fold over such a field (`GroupData::held`), over the group's nodes as
/// rows, whose nodes read rows of the field's pool that belong to the
/// enclosing fold's node their structure hangs from; and so on, one data
/// type deeper.
pub(super) fn check_held_structures<T>(
    site: &Site,
    plan: &Plan,
    f: usize,
    g: &GroupData<T>,
) -> Result<(), PlanError> {
    for (j, data) in g.nested_fields.iter().enumerate() {
        let mut at = site.clone();
        at.0.push(Step::NestedField(j));
        let folds = plan.folds_over_pool(&[f], g.ctor, j);
        let steps = (0..g.len).map(|i| data.len_of(i)).max().unwrap_or(0);
        let owners: Vec<u32> = (0..g.len as u32).collect();
        let pool = Reads {
            steps,
            rows: g.len,
            owners: Some(&owners),
        };
        held_in(&at, plan, &folds, &data.fold, pool, 2)?;
    }
    Ok(())
}

/// The held schedules of every group of `fd`, a schedule of the folds
/// `folds` whose rows belong to the pool rows `pool.owners` names, its
/// held structures `depth - 1` data types inside the nested field.
fn held_in<T>(
    site: &Site,
    plan: &Plan,
    folds: &[usize],
    fd: &FoldData<T>,
    pool: Reads<'_>,
    depth: u32,
) -> Result<(), PlanError> {
    for (h, level) in fd.levels.iter().enumerate() {
        for (k, sg) in level.iter().enumerate() {
            let mut at = site.clone();
            at.0.extend([Step::Level(h), Step::Group(k)]);
            let inner: Vec<usize> = (0..plan.folds.len())
                .filter(|&i| {
                    matches!(plan.folds[i].nested_in,
                        Some((o, c, _)) if folds.contains(&o) && c == sg.ctor)
                })
                .collect();
            agree(
                &at,
                "schedules of structures a nested structure holds",
                inner.len(),
                sg.held.len(),
            )?;
            // The pool row each of the group's nodes belongs to.
            let parents = pool.owners.unwrap_or(&[]);
            let mut owners = Vec::with_capacity(sg.len);
            for &e in &sg.examples {
                in_range(&at, "example", e as usize, parents.len())?;
                owners.push(parents[e as usize]);
            }
            for (&i, (id, hfd)) in inner.iter().zip(&sg.held) {
                agree(&at, "the fold of a structure held", i, *id)?;
                let mut here = at.clone();
                here.0.push(Step::Fold(i));
                let ty = DataType::Data(plan.folds[i].decl.clone());
                let reads = Reads {
                    owners: Some(&owners),
                    ..pool
                };
                let ctors = Ctors::nested_at(&ty, depth);
                check_fold_reading(&here, hfd, sg.len, &ctors, Some(reads))?;
                held_in(&here, plan, &[i], hfd, reads, depth + 1)?;
            }
        }
    }
    Ok(())
}

/// The nested fields of group `g` of a fold (`info`) with `nodes` nodes:
/// one per nested field of its constructor; each pool's offsets cover the
/// group's nodes, its children are nodes of the fold, and the structures'
/// schedule passes `check_fold` over the group's nodes as rows, reading
/// pool rows below `steps × len`.
pub(super) fn check_nested_fields<T>(
    site: &Site,
    info: &FoldInfo,
    g: &GroupData<T>,
    nodes: usize,
) -> Result<(), PlanError> {
    // A nested tuple's children are checked with the recursive fields';
    // each structure a field holds has a pool.
    let pools: Vec<&DataType> = info
        .nested_fields
        .get(g.ctor)
        .map_or(&[][..], |f| f)
        .iter()
        .flat_map(NestedField::pools)
        .collect();
    agree(site, "nested fields", pools.len(), g.nested_fields.len())?;
    for (j, (ty, data)) in pools.iter().zip(&g.nested_fields).enumerate() {
        let mut at = site.clone();
        at.0.push(Step::NestedField(j));
        check_pool(&at, g.len, nodes, data)?;
        let steps = (0..g.len).map(|i| data.len_of(i)).max().unwrap_or(0);
        check_fold(&at, &data.fold, g.len, &Ctors::nested(ty), Some(steps))?;
    }
    Ok(())
}

/// The nested fields of the groups of a nested structure's schedule `fd`
/// (a stem's tree of stems), for the folds `over` that run over it: each
/// group's pools and their structures' schedules as `check_nested_fields`
/// checks a fold's over the batch's inputs, their children nodes of `fd`;
/// and so on, one pool further in. A structure no fold runs over has no
/// pools prepared.
pub(super) fn check_own_pools<T>(
    site: &Site,
    plan: &Plan,
    over: &[usize],
    fd: &FoldData<T>,
) -> Result<(), PlanError> {
    for (h, level) in fd.levels.iter().enumerate() {
        for (k, g) in level.iter().enumerate() {
            let mut at = site.clone();
            at.0.extend([Step::Level(h), Step::Group(k)]);
            let Some(&f) = over.first() else {
                agree(
                    &at,
                    "nested fields of a structure no fold runs over",
                    0,
                    g.nested_fields.len(),
                )?;
                continue;
            };
            check_nested_fields(&at, &plan.folds[f], g, fd.num_nodes)?;
            pools_below(&at, plan, over, g)?;
        }
    }
    Ok(())
}

/// The schedules of the structures of group `g`'s pools (a fold of
/// `over`'s), each checked for pools of its own (`check_own_pools`).
pub(super) fn pools_below<T>(
    site: &Site,
    plan: &Plan,
    over: &[usize],
    g: &GroupData<T>,
) -> Result<(), PlanError> {
    for (j, data) in g.nested_fields.iter().enumerate() {
        let mut at = site.clone();
        at.0.push(Step::NestedField(j));
        let folds = plan.folds_over_pool(over, g.ctor, j);
        check_own_pools(&at, plan, &folds, &data.fold)?;
    }
    Ok(())
}

/// A pool of a group of `len` nodes: `len + 1` offsets from 0 to its
/// children, each a node of the enclosing fold.
fn check_pool<T>(
    site: &Site,
    len: usize,
    nodes: usize,
    data: &NestedData<T>,
) -> Result<(), PlanError> {
    agree(site, "a pool's offsets", len + 1, data.offsets.len())?;
    offsets(site, "a pool's offsets", &data.offsets, data.children.len())?;
    for &c in &data.children {
        in_range(site, "a pool's child", c as usize, nodes)?;
    }
    Ok(())
}
