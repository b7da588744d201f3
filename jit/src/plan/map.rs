//! The plan's form of `map` and `map_backward`: work hoisted out of a fold,
//! run once over every node of the batch's structures.
//!
//! A `map` over an input structure uses the level schedule of a fold
//! (`FoldInfo`) of that structure, whose nodes are numbered in level order.
//! For each constructor `c`, its region runs once over all the nodes of
//! constructor `c` (`Rows::Ctor`), taken group by group in that order:
//! their plain fields are gathered into `[nodes of c, size]` buffers, so a
//! product in the region is one large GEMM. Its results stay in that order
//! (`Rows::Ctor`): the order in which the fold's schedule reads them, group
//! after group (for a list, step-major: every example's element `t`
//! together). A fold region over the map's result reads a group's rows
//! through a view at the group's rank among its constructor's nodes
//! (`MappedField`), and its backward writes the cotangents at the same
//! rows, where the backward op's region reads them in place; it sums the
//! captures' contributions over all nodes as one product.

use super::{Acc, Instr, Part};

/// A field a `map` appended, as a fold region over the map's result reads
/// it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MappedField {
    /// The view the region reads the field through.
    pub view: usize,
    /// The fold schedule the map ran over.
    pub fold: usize,
    /// The map's buffer of the field at every node of the constructor
    /// (`[nodes of c, size]`, in schedule order).
    pub buf: usize,
    /// The field's size.
    pub size: usize,
    /// In a backward region: the buffer of every node's cotangent of the
    /// field (`[nodes of c, size]`, in schedule order), to which the
    /// region's matching result is copied.
    pub ct: Option<usize>,
}

/// One constructor's region of a `map` or `map_backward`.
#[derive(Clone, Debug, Default)]
pub(crate) struct MapCase {
    pub code: Vec<Instr>,
    /// Per tensor of the plain fields (the fold's `field_sizes` of this
    /// constructor), the buffer the nodes' values are gathered into.
    pub fields: Vec<(usize, usize)>,
    /// Backward only: per appended field, the buffer of its cotangents at
    /// the constructor's nodes (`[nodes of c, size]`, in schedule order),
    /// which the region reads in place, and its size.
    pub cts: Vec<(usize, usize)>,
    /// Forward: the appended fields' values, one part each. Backward: one
    /// component per capture, its contribution.
    pub result: Vec<Vec<Part>>,
}

/// A `map` over the structures of fold `fold`'s schedule.
#[derive(Clone, Debug)]
pub(crate) struct MapCode {
    pub fold: usize,
    pub cases: Vec<MapCase>,
    /// Per constructor, the buffers (and sizes) of its appended fields at
    /// every node of the constructor (`[nodes of c, size]`).
    pub out: Vec<Vec<(usize, usize)>>,
}

/// The backward of a `map`: the captures' contributions summed over all
/// nodes into `acc`.
#[derive(Clone, Debug)]
pub(crate) struct MapBackCode {
    pub fold: usize,
    pub cases: Vec<MapCase>,
    pub acc: Vec<Acc>,
}
