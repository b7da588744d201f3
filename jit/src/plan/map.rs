//! The plan's form of `map` and `map_backward`: work hoisted out of a fold,
//! run once over every node of the batch's structures.
//!
//! A `map` over an input structure uses the level schedule of a fold
//! (`FoldInfo`) of that structure, whose nodes are numbered in level order.
//! For each constructor `c`, its region runs once over all the nodes of
//! constructor `c` (`Rows::Ctor`), taken group by group in that order:
//! their plain fields are gathered into `[nodes of c, size]` buffers, so a
//! product in the region is one large GEMM. Its results are scattered into
//! buffers of a row per node of the fold (`Rows::Nodes`), where a fold
//! region over the map's result reads a group's rows through a view at the
//! group's first node (`MappedField`). The backward op gathers the
//! cotangents a fold's backward wrote there the same way and sums the
//! captures' contributions over all nodes.

use super::{Acc, Instr, Part};

/// A field a `map` appended, as a fold region over the map's result reads
/// it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MappedField {
    /// The view the region reads the field through.
    pub view: usize,
    /// The map's buffer of the field at every node (`[nodes, size]`).
    pub buf: usize,
    /// The field's size.
    pub size: usize,
    /// In a backward region: the buffer of every node's cotangent of the
    /// field (`[nodes, size]`), to which the region's matching result is
    /// copied.
    pub ct: Option<usize>,
}

/// One constructor's region of a `map` or `map_backward`.
#[derive(Clone, Debug, Default)]
pub(crate) struct MapCase {
    pub code: Vec<Instr>,
    /// Per tensor of the plain fields (the fold's `field_sizes` of this
    /// constructor), the buffer the nodes' values are gathered into.
    pub fields: Vec<(usize, usize)>,
    /// Backward only: per appended field, the buffer of every node's
    /// cotangent (`[nodes, size]`) and the buffer the constructor's rows are
    /// gathered into.
    pub cts: Vec<(usize, usize, usize)>,
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
    /// every node (`[nodes, size]`).
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
