//! The schedules of nested fields (`Tree(X)`, `List(A * X)`, a user's
//! `Opt(X)`), checked with the group of the enclosing fold that holds
//! them: each field's pool (its offsets and the children it lays out) and
//! the schedule of its structures, whose rows are the group's nodes and
//! whose nodes holding a child read that child's pool row.

use cdlc_runtime::value::DataType;

use super::{Ctors, agree, check_fold, in_range, offsets};
use crate::batch::{GroupData, NestedData};
use crate::plan::{FoldInfo, NestedField, PlanError, Site, Step};

#[cfg(test)]
mod tests;

impl Ctors {
    /// The constructors of a nested field's data type: its own recursive
    /// positions (`Rec(0)`) are children, and a constructor reads one pool
    /// row per child of the enclosing fold (`Rec(1)`) it holds.
    fn nested(ty: &DataType) -> Ctors {
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
                .map(|c| c.fields.iter().map(children_held).sum())
                .collect(),
        }
    }
}

/// How many of the enclosing fold's children (its recursive position) a
/// field's type holds, directly or in tuples.
fn children_held(ty: &DataType) -> usize {
    match ty {
        DataType::Rec(1) => 1,
        DataType::Tuple(ts) => ts.iter().map(children_held).sum(),
        _ => 0,
    }
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
    // A nested tuple's children are checked with the recursive fields'.
    let fields: Vec<&NestedField> = info
        .nested_fields
        .get(g.ctor)
        .map_or(&[][..], |f| f)
        .iter()
        .filter(|f| f.folded())
        .collect();
    agree(site, "nested fields", fields.len(), g.nested_fields.len())?;
    for (j, (field, data)) in fields.iter().zip(&g.nested_fields).enumerate() {
        let mut at = site.clone();
        at.0.push(Step::NestedField(j));
        check_pool(&at, g.len, nodes, data)?;
        let steps = (0..g.len).map(|i| data.len_of(i)).max().unwrap_or(0);
        check_fold(
            &at,
            &data.fold,
            g.len,
            &Ctors::nested(&field.ty),
            Some(steps),
        )?;
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
