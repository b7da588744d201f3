//! A fold's schedule as the looped step reads it: one table of machine
//! words per fold, filled for each step from the prepared batch.
//!
//! Layout: the number of groups, of nodes and of roots, the roots'
//! pointer (`u32` node numbers); per constructor, its number of nodes;
//! per group in level order, a record of `RECORD` words (constructor,
//! first node, length, the children's pointer, the examples' pointer,
//! the group's rank among its constructor's nodes) and one pointer per
//! plain field; then the record numbers in the backward order (levels
//! reversed, each level's groups in order), as the executor walks them.

use super::{HEAD, TableShape};
use crate::batch::FoldData;

/// Fills `out` with `fd`'s table for layout `shape`; `false` if a group's
/// constructor or fields do not fit the layout (then the step runs on the
/// executor).
pub(crate) fn fill_table<T>(fd: &FoldData<T>, shape: TableShape, out: &mut Vec<usize>) -> bool {
    out.clear();
    let groups: usize = fd.levels.iter().map(Vec::len).sum();
    out.extend([
        groups,
        fd.num_nodes,
        fd.roots.len(),
        fd.roots.as_ptr() as usize,
    ]);
    out.resize(HEAD + shape.ctors, 0);
    for g in fd.levels.iter().flatten() {
        if g.ctor >= shape.ctors || g.fields.len() > shape.fields {
            return false;
        }
        let rank = out[HEAD + g.ctor];
        out[HEAD + g.ctor] += g.len;
        out.extend([
            g.ctor,
            g.first,
            g.len,
            g.children.as_ptr() as usize,
            g.examples.as_ptr() as usize,
            rank,
        ]);
        out.extend(g.fields.iter().map(|f| f.as_ptr() as usize));
        out.extend(std::iter::repeat_n(0, shape.fields - g.fields.len()));
    }
    let mut starts = Vec::with_capacity(fd.levels.len());
    let mut next = 0;
    for level in &fd.levels {
        starts.push(next);
        next += level.len();
    }
    for (level, &start) in fd.levels.iter().zip(&starts).rev() {
        out.extend(start..start + level.len());
    }
    true
}
