//! `check`: a prepared batch against its plan, before the executor trusts
//! its indices.
//!
//! The plan verifier (`plan::verify`) checks what the plan fixes; the
//! schedule indices come with each batch (`batch.rs`, the runtime's level
//! schedule, the list and halving schedules built inside regions). The
//! executor copies carriers by these indices through raw pointers, so
//! debug builds (and every test) check each batch here first:
//!
//! - **Indices in range** (P011): every child, list child, root and node
//!   number below the fold's node count, every example below the rows,
//!   every element row below its sequence's rows, every constructor one of
//!   the fold's, every length at most its unfold's steps.
//! - **Every node once** (P012): the groups' ranges cover each node of the
//!   fold exactly once.
//! - **Children first** (P013): a node's children (recursive fields and
//!   lists of children) are scheduled at lower levels than the node.
//! - **Tables agree** (P014): a group's children, examples, fields,
//!   elements and list offsets have the lengths its size and constructor
//!   give; an unfold's lengths and elements fit its steps and rows.
//! - **One example per tree** (P015): a child, a list child and an element
//!   belong to their parent's example, and root `e` is example `e`'s.
//!
//! A fold over a structure a field holds has a schedule per group of the
//! enclosing fold, whose rows are that group's nodes; each is checked the
//! same way. So is each nested field's schedule of its structures, with
//! its pool of the enclosing fold's children, and the schedules of the
//! structures those structures' nodes hold, reading the same pool
//! (`check/nested.rs`).

// Release builds do not run the checker; its tests and debug builds do.
#![cfg_attr(not(debug_assertions), allow(dead_code))]

use super::{Batch, FieldListData, FoldData, GroupData, UnfoldData};
use crate::plan::{FoldInfo, Plan, PlanError, PlanErrorKind, Site, Step, UnfoldInfo};

mod nested;
#[cfg(test)]
mod tests;

/// What a fold's constructors hold, per constructor: how many recursive
/// children a node has, and (for a fold over a computed sequence or a
/// nested field's pool) how many rows of the sequence it reads.
#[derive(Clone, Debug)]
pub(crate) struct Ctors {
    pub arity: Vec<usize>,
    pub reads: Vec<usize>,
}

impl Ctors {
    /// A list's `nil` and `cons(x, X)`, as `batch::list_schedule` builds.
    pub(crate) fn list() -> Ctors {
        Ctors {
            arity: vec![0, 1],
            reads: vec![0, 1],
        }
    }

    /// A halving tree's `leaf(x)` and `node(X, X)`, as `halves_schedule`
    /// builds.
    pub(crate) fn halves() -> Ctors {
        Ctors {
            arity: vec![0, 2],
            reads: vec![1, 0],
        }
    }

    /// The constructors of a data type walked from the batch's inputs: a
    /// node's children are its recursive fields' and its nested tuples'
    /// (`X * X`), gathered together in field order.
    fn of(info: &FoldInfo) -> Ctors {
        let n = info.decl.ctors.len();
        Ctors {
            arity: (0..n).map(|c| info.direct_children(c)).collect(),
            reads: vec![0; n],
        }
    }
}

/// Checks a prepared batch against the plan it was prepared for.
pub(crate) fn check<T>(plan: &Plan, batch: &Batch<T>) -> Result<(), PlanError> {
    let top = Site(vec![]);
    agree(
        &top,
        "folds in the batch",
        plan.folds.len(),
        batch.folds.len(),
    )?;
    agree(
        &top,
        "unfolds in the batch",
        plan.unfolds.len(),
        batch.unfolds.len(),
    )?;
    for (u, (info, data)) in plan.unfolds.iter().zip(&batch.unfolds).enumerate() {
        check_unfold(u, info, data, &batch.unfolds, batch.rows)?;
    }
    for (f, (info, fd)) in plan.folds.iter().zip(&batch.folds).enumerate() {
        let site = Site(vec![Step::Fold(f)]);
        match info.over_unfold {
            Some(u) => {
                let over = &batch.unfolds[u];
                let ctors = if info.halves {
                    Ctors::halves()
                } else {
                    Ctors::list()
                };
                check_fold(&site, fd, over.lens.len(), &ctors, Some(over.steps))?;
            }
            // Scheduled per group of the enclosing fold (checked there).
            None if info.nested_in.is_some() || info.inner.is_some() => {
                agree(&site, "nodes of a fold held in a field", 0, fd.num_nodes)?;
            }
            None => {
                check_fold(&site, fd, batch.rows, &Ctors::of(info), None)?;
                check_fields(&site, plan, f, fd)?;
            }
        }
    }
    Ok(())
}

/// An unfold's lengths (one per row, at most its steps) and its prepared
/// elements (`[steps, rows, size]` per tensor of the element).
fn check_unfold<T>(
    u: usize,
    info: &UnfoldInfo,
    data: &UnfoldData<T>,
    all: &[UnfoldData<T>],
    rows: usize,
) -> Result<(), PlanError> {
    let site = Site(vec![Step::Unfold(u)]);
    match info {
        // Set by the executor group by group.
        UnfoldInfo::Children => return Ok(()),
        UnfoldInfo::Seq(src) => {
            let Some(src_data) = all.get(*src).filter(|_| *src < u) else {
                return Err(error(
                    site,
                    PlanErrorKind::ScheduleIndex {
                        what: "earlier unfold",
                        index: *src,
                        count: u,
                    },
                ));
            };
            agree(
                &site,
                "steps of the sequence read",
                src_data.steps,
                data.steps,
            )?;
            agree(
                &site,
                "rows of the sequence read",
                src_data.lens.len(),
                data.lens.len(),
            )?;
        }
        UnfoldInfo::TakeLocal(k) => {
            agree(&site, "steps of `take` in a region", *k, data.steps)?;
            return agree(&site, "rows of `take` in a region", 0, data.lens.len());
        }
        UnfoldInfo::Take(k) => {
            agree(&site, "steps of `take`", *k, data.steps)?;
            agree(&site, "rows", rows, data.lens.len())?;
        }
        UnfoldInfo::Over { sizes, .. } => {
            agree(&site, "rows", rows, data.lens.len())?;
            let total: usize = sizes.iter().sum();
            agree(
                &site,
                "prepared list elements",
                data.steps * rows * total,
                data.xs.len(),
            )?;
        }
    }
    for &len in &data.lens {
        in_range(&site, "list length", len, data.steps + 1)?;
    }
    Ok(())
}

/// Checks a fold's level schedule over `rows` rows: indices, every node
/// once, children first, tables, one example per tree. `seq_steps` is
/// the step count of the sequence a fold over a computed sequence reads
/// (its elements are rows `step * rows + row`).
pub(crate) fn check_fold<T>(
    site: &Site,
    fd: &FoldData<T>,
    rows: usize,
    ctors: &Ctors,
    seq_steps: Option<usize>,
) -> Result<(), PlanError> {
    let reads = seq_steps.map(|steps| Reads {
        steps,
        rows,
        owners: None,
    });
    check_fold_reading(site, fd, rows, ctors, reads)
}

/// The sequence a fold's nodes read their elements from: `steps × rows`
/// rows, row `step * rows + r` belonging to row `r`. A fold whose rows
/// are not the sequence's (the trees a nested structure's nodes hold,
/// reading the pool of the enclosing fold's group) names, per row of its
/// own, the sequence's row it belongs to (`owners`).
#[derive(Clone, Copy)]
pub(crate) struct Reads<'o> {
    pub steps: usize,
    pub rows: usize,
    pub owners: Option<&'o [u32]>,
}

/// `check_fold`, the elements read from `reads`.
pub(crate) fn check_fold_reading<T>(
    site: &Site,
    fd: &FoldData<T>,
    rows: usize,
    ctors: &Ctors,
    reads: Option<Reads<'_>>,
) -> Result<(), PlanError> {
    agree(site, "roots (one per row)", rows, fd.roots.len())?;
    if let Some(o) = reads.and_then(|r| r.owners) {
        agree(site, "owners of the rows in the pool", rows, o.len())?;
    }
    let mut sched = Scheduled {
        level: vec![None; fd.num_nodes],
        example: vec![0; fd.num_nodes],
    };
    for (h, level) in fd.levels.iter().enumerate() {
        for (k, g) in level.iter().enumerate() {
            let mut at = site.clone();
            at.0.extend([Step::Level(h), Step::Group(k)]);
            check_group(&at, g, h, rows, ctors, reads, &mut sched)?;
        }
    }
    if let Some(node) = sched.level.iter().position(Option::is_none) {
        let kind = PlanErrorKind::NodeCount { node, times: 0 };
        return Err(error(site.clone(), kind));
    }
    for (e, &root) in fd.roots.iter().enumerate() {
        let root = root as usize;
        in_range(site, "root", root, fd.num_nodes)?;
        same_example(site, "root", root, sched.example[root], e)?;
    }
    Ok(())
}

/// The level and example of each node scheduled so far.
struct Scheduled {
    level: Vec<Option<usize>>,
    example: Vec<usize>,
}

impl Scheduled {
    /// Checks that `child` of a node of example `example` at level `h` is
    /// a node of the same example scheduled at a lower level.
    fn child(
        &self,
        site: &Site,
        what: &'static str,
        parent: usize,
        child: usize,
        h: usize,
        example: usize,
    ) -> Result<(), PlanError> {
        in_range(site, what, child, self.level.len())?;
        if self.level[child].is_none_or(|l| l >= h) {
            let kind = PlanErrorKind::ChildOrder { parent, child };
            return Err(error(site.clone(), kind));
        }
        same_example(site, what, child, self.example[child], example)
    }
}

/// One group: its nodes, its tables' lengths, and each node's children,
/// list children and element.
fn check_group<T>(
    site: &Site,
    g: &GroupData<T>,
    h: usize,
    rows: usize,
    ctors: &Ctors,
    seq: Option<Reads<'_>>,
    sched: &mut Scheduled,
) -> Result<(), PlanError> {
    in_range(site, "constructor", g.ctor, ctors.arity.len())?;
    let arity = ctors.arity[g.ctor];
    agree(site, "children", g.len * arity, g.children.len())?;
    agree(site, "examples", g.len, g.examples.len())?;
    let reads = match seq {
        Some(_) => ctors.reads[g.ctor],
        None => 0,
    };
    agree(site, "elements", g.len * reads, g.elems.len())?;
    agree(
        site,
        "list offsets",
        g.len * g.list_arity + 1,
        g.list_offsets.len(),
    )?;
    offsets(site, "list offsets", &g.list_offsets, g.list_children.len())?;
    for i in 0..g.len {
        let node = g.first + i;
        in_range(site, "node", node, sched.level.len())?;
        if sched.level[node].is_some() {
            let kind = PlanErrorKind::NodeCount { node, times: 2 };
            return Err(error(site.clone(), kind));
        }
        let example = g.examples[i] as usize;
        in_range(site, "example", example, rows)?;
        for &c in &g.children[i * arity..(i + 1) * arity] {
            sched.child(site, "child", node, c as usize, h, example)?;
        }
        let la = g.list_arity;
        let kids = g.list_offsets[i * la] as usize..g.list_offsets[(i + 1) * la] as usize;
        for &c in &g.list_children[kids] {
            sched.child(site, "list child", node, c as usize, h, example)?;
        }
        if let Some(r) = seq {
            let owner = r.owners.map_or(example, |o| o[example] as usize);
            for &row in &g.elems[i * reads..(i + 1) * reads] {
                let row = row as usize;
                in_range(site, "element row", row, r.steps * r.rows)?;
                same_example(site, "element row", row, row % r.rows, owner)?;
            }
        }
        sched.level[node] = Some(h);
        sched.example[node] = example;
    }
    Ok(())
}

/// A fold over input structures: each group's gathered plain fields, the
/// lists its fields hold, and the schedules of the folds over the
/// structures they hold (over the group's nodes as rows).
fn check_fields<T>(site: &Site, plan: &Plan, f: usize, fd: &FoldData<T>) -> Result<(), PlanError> {
    let info = &plan.folds[f];
    for (h, level) in fd.levels.iter().enumerate() {
        for (k, g) in level.iter().enumerate() {
            let mut at = site.clone();
            at.0.extend([Step::Level(h), Step::Group(k)]);
            let sizes = &info.field_sizes[g.ctor];
            agree(&at, "gathered fields", sizes.len(), g.fields.len())?;
            for (&size, field) in sizes.iter().zip(&g.fields) {
                agree(&at, "numbers of a field", g.len * size, field.len())?;
            }
            let lists = &info.field_lists[g.ctor];
            agree(&at, "lists in fields", lists.len(), g.field_lists.len())?;
            for ((_, sizes), data) in lists.iter().zip(&g.field_lists) {
                check_field_list(&at, g.len, sizes, data)?;
            }
            check_held(&at, plan, f, g)?;
            nested::check_nested_fields(&at, info, g, fd.num_nodes)?;
            nested::pools_below(&at, plan, &[f], g)?;
            nested::check_held_structures(&at, plan, f, g)?;
        }
    }
    Ok(())
}

/// The schedules of the folds over structures group `g` of fold `f`
/// holds: one per fold inside the region over such a field, each over the
/// group's nodes as rows.
fn check_held<T>(site: &Site, plan: &Plan, f: usize, g: &GroupData<T>) -> Result<(), PlanError> {
    let inner: Vec<usize> = (0..plan.folds.len())
        .filter(|&j| matches!(plan.folds[j].nested_in, Some((o, c, _)) if o == f && c == g.ctor))
        .collect();
    agree(
        site,
        "schedules of structures held",
        inner.len(),
        g.held.len(),
    )?;
    for (&j, (id, nfd)) in inner.iter().zip(&g.held) {
        agree(site, "the fold of a structure held", j, *id)?;
        let mut at = site.clone();
        at.0.push(Step::Fold(j));
        check_fold(&at, nfd, g.len, &Ctors::of(&plan.folds[j]), None)?;
        check_fields(&at, plan, j, nfd)?;
    }
    Ok(())
}

/// The lists one field holds in a group of `len` nodes: `len + 1`
/// non-decreasing offsets from 0, and each component's `[elements, size]`
/// block.
fn check_field_list<T>(
    site: &Site,
    len: usize,
    sizes: &[usize],
    data: &FieldListData<T>,
) -> Result<(), PlanError> {
    agree(site, "a field's list offsets", len + 1, data.offsets.len())?;
    let total = data.offsets.last().copied().unwrap_or(0);
    let offs: Vec<u64> = data.offsets.iter().map(|&o| o as u64).collect();
    offsets(site, "a field's list offsets", &offs, total)?;
    agree(
        site,
        "a field's list components",
        sizes.len(),
        data.elems.len(),
    )?;
    for (&size, block) in sizes.iter().zip(&data.elems) {
        agree(
            site,
            "numbers of a field's lists",
            total * size,
            block.len(),
        )?;
    }
    Ok(())
}

/// Offsets start at 0, never decrease, and end at `end`.
fn offsets<O: Copy + Into<u64>>(
    site: &Site,
    what: &'static str,
    offs: &[O],
    end: usize,
) -> Result<(), PlanError> {
    let mut last = 0u64;
    for (i, &o) in offs.iter().enumerate() {
        let o: u64 = o.into();
        let first_is_zero = i > 0 || o == 0;
        if o < last || !first_is_zero {
            let kind = PlanErrorKind::ScheduleShape {
                what: format!("{what} (offset {i} is {o}, after {last})"),
                expected: last as usize,
                found: o as usize,
            };
            return Err(error(site.clone(), kind));
        }
        last = o;
    }
    agree(site, what, end, last as usize)
}

fn error(site: Site, kind: PlanErrorKind) -> PlanError {
    PlanError { site, kind }
}

/// P014 unless `expected == found`.
fn agree(site: &Site, what: &str, expected: usize, found: usize) -> Result<(), PlanError> {
    if expected == found {
        return Ok(());
    }
    let kind = PlanErrorKind::ScheduleShape {
        what: what.to_string(),
        expected,
        found,
    };
    Err(error(site.clone(), kind))
}

/// P011 unless `index < count`.
fn in_range(site: &Site, what: &'static str, index: usize, count: usize) -> Result<(), PlanError> {
    if index < count {
        return Ok(());
    }
    let kind = PlanErrorKind::ScheduleIndex { what, index, count };
    Err(error(site.clone(), kind))
}

/// P015 unless `node`'s example is `expected`.
fn same_example(
    site: &Site,
    what: &'static str,
    node: usize,
    example: usize,
    expected: usize,
) -> Result<(), PlanError> {
    if example == expected {
        return Ok(());
    }
    let kind = PlanErrorKind::OtherExample {
        what,
        node,
        example,
        expected,
    };
    Err(error(site.clone(), kind))
}
