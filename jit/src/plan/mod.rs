//! The plan a function is lowered to: buffers, instructions and the
//! elementwise kernels to JIT-compile.
//!
//! Every per-example value of shape `S` lives in a batch buffer of
//! `rows x |S|` numbers, row-major (row = example at the top level, node of a
//! level group inside a fold region, example inside an unfold step). Values
//! that do not depend on the example (parameters, constants, and what is
//! computed from them alone) are *uniform*: one row shared by all. Values
//! whose every use sums them over the rows (parameter gradients) may be kept
//! *summed*: one row holding the sum. The executor (`exec.rs`) runs the
//! instructions with the row count of the current context.
//!
//! A plan is an IR of its own: `verify` checks it (extents, aliasing,
//! definition before use) before the executor trusts it, and `print`
//! writes its text form.

use std::sync::Arc;

use cdlc_ir::{BinOp, LossKind, ReduceOp, Shape, UnOp};

mod basis_table;
pub(crate) mod conv_taps;
pub mod error;
pub(crate) mod layout;
pub mod lowered;
mod map;
mod print;
pub(crate) mod verify;

pub(crate) use basis_table::BasisTable;
pub(crate) use conv_taps::ConvTaps;
pub use error::{PlanError, PlanErrorKind, Site, Step};
pub(crate) use map::{MapBackCode, MapCase, MapCode, MappedField};
pub(crate) use verify::verify;

/// Where a buffer's numbers are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Loc {
    /// A buffer owned by the executor.
    Buf(usize),
    /// The parameter vector, at this offset.
    Param(usize),
    /// A tensor input of the batch (function input index).
    Input(usize),
    /// A pointer the enclosing recursion op sets before running a region.
    View(usize),
}

/// How a value is held, with its per-example shape.
#[derive(Clone, Debug)]
pub(crate) enum Repr {
    /// A tensor: `rows x |shape|` if batched, else one row.
    Tensor {
        loc: Loc,
        batched: bool,
        shape: Shape,
    },
    /// A matrix `[rows, cols]` per row (or one, if not batched) at `loc`,
    /// seen as its transpose `[cols, rows]`: a permutation that rotates the
    /// axes (`perm = [p, .., n-1, 0, .., p-1]`, `rows` the size of the first
    /// `p` axes) and only feeds products, which take it as a stride change.
    /// `shape` is the permuted tensor's shape.
    Transposed {
        loc: Loc,
        batched: bool,
        rows: usize,
        cols: usize,
        shape: Shape,
    },
    /// The sum over the rows of a batched tensor.
    Summed { buf: usize, shape: Shape },
    /// A tuple.
    Tuple(Vec<Repr>),
    /// An input structure (its leaf, see `Leaf`).
    Data(usize),
    /// A structure a plain field holds inside a fold region: fold `fold`'s
    /// constructor `ctor`, plain field `field`.
    Field {
        fold: usize,
        ctor: usize,
        field: usize,
    },
    /// A class target (its leaf).
    Class { input: usize },
    /// A sequence target (its leaf).
    SeqTarget { input: usize },
    /// A sequence of per-step tensors `[steps, rows, |elem|]` made by unfold
    /// `unfold`.
    Seq {
        buf: usize,
        size: usize,
        unfold: usize,
    },
    /// A fold's tape (its carriers live on).
    FoldTape(usize),
    /// A structure a `map` computed (or its cotangent): the structures of
    /// fold `fold`'s schedule, with the appended fields (or their
    /// cotangents) of constructor `c` in `fields[c]`, `(buffer, size)` of a
    /// row per node.
    Mapped {
        fold: usize,
        fields: Vec<Vec<(usize, usize)>>,
    },
    /// The structure a nested field binds inside a fold region: the
    /// lowerer's nested argument with this index (`lower/nested.rs`).
    Nested(usize),
    /// The cotangent of such a structure: the buffers (and sizes) its
    /// children's carriers' cotangents are laid out in, per carrier
    /// component, as the field's pool (`CaseCode::nested`) over the pool's
    /// pseudo-unfold; no buffers for the zero cotangent.
    NestedCt {
        unfold: usize,
        parts: Vec<(usize, usize)>,
    },
    /// The cotangent of a structure held in a node of a nested structure
    /// (a tree of `List(Tree(X))`) that fold `fold` (over the list) walks:
    /// already added into that fold's pool cotangents by the backward fold
    /// that made it, so the fold's backward region yields nothing for it.
    HeldCt { fold: usize },
    /// An unfold's tape.
    UnfoldTape(usize),
}

impl Repr {
    /// A tensor value as one flattened part; `None` for any other form.
    pub(crate) fn part(&self) -> Option<Part> {
        match self {
            Repr::Tensor {
                loc,
                batched,
                shape,
            } => Some(Part {
                loc: *loc,
                kind: if *batched {
                    PartKind::Batched
                } else {
                    PartKind::Uniform
                },
                size: shape.iter().product(),
            }),
            Repr::Summed { buf, shape } => Some(Part {
                loc: Loc::Buf(*buf),
                kind: PartKind::Summed,
                size: shape.iter().product(),
            }),
            _ => None,
        }
    }
}

/// How one flattened piece of a value is held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PartKind {
    Batched,
    Uniform,
    Summed,
}

/// One tensor of a flattened (tuple) value.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Part {
    pub loc: Loc,
    pub kind: PartKind,
    pub size: usize,
}

/// A matrix dimension: `fixed`, times the row count when `rows` is set.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Dim {
    pub fixed: usize,
    pub rows: bool,
}

/// A matrix operand: element `(i, j)` at `loc[i * rs + j * cs]`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Mat {
    pub loc: Loc,
    pub rs: usize,
    pub cs: usize,
}

/// An operand of an elementwise kernel, by how it is indexed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum InKind {
    /// `n` numbers per row (`batched`) or one row of `n` shared.
    Full { batched: bool },
    /// One number per row (`batched`) or one number, repeated.
    Scalar { batched: bool },
    /// `n / every` numbers per row (`batched`) or one row of them shared,
    /// each read `every` times in a row: element `i` is number
    /// `i / every`. A vector expanded along its last axis
    /// (`lower/repeat.rs`), read without writing the expansion.
    Repeat { batched: bool, every: usize },
}

impl InKind {
    /// The numbers of one row of the operand, in a kernel of `n` elements.
    pub(crate) fn per_row(self, n: usize) -> usize {
        match self {
            InKind::Full { .. } => n,
            InKind::Scalar { .. } => 1,
            InKind::Repeat { every, .. } => n / every.max(1),
        }
    }

    /// Whether the operand has a row per example.
    pub(crate) fn batched(self) -> bool {
        match self {
            InKind::Full { batched }
            | InKind::Scalar { batched }
            | InKind::Repeat { batched, .. } => batched,
        }
    }
}

/// One SSA op of an elementwise kernel.
#[derive(Clone, Copy, Debug)]
pub(crate) enum KOp {
    Input(usize),
    Bin(BinOp, usize, usize),
    Un(UnOp, usize),
}

/// A fused chain of elementwise ops over `rows x n` numbers.
#[derive(Clone, Debug)]
pub(crate) struct KernelSpec {
    pub n: usize,
    pub inputs: Vec<InKind>,
    pub ops: Vec<KOp>,
    /// The ops whose values are stored, in the order of the output buffers.
    pub outputs: Vec<usize>,
}

/// A per-row operation executed in Rust (shapes are per example).
#[derive(Clone, Debug)]
pub(crate) enum RowOp {
    /// `out[i] = x[map[i]]`, the index map computed once when lowering.
    Permute {
        map: Arc<Vec<u32>>,
    },
    Reduce {
        op: ReduceOp,
        shape: Shape,
        axis: Option<u32>,
    },
    Expand {
        shape: Shape,
        axis: usize,
        n: usize,
    },
    BroadcastTo {
        out: usize,
    },
    SumTo {
        out: usize,
    },
    Softmax,
    LogSoftmax,
    Norm {
        keep_size: usize,
    },
    NormGrad,
    MaxGrad {
        shape: Shape,
        axis: Option<u32>,
    },
    Concat,
    Slice {
        start: usize,
        len: usize,
    },
    /// `W = Σ_e c_e B_e` over the basis' nonzero entries.
    BasisExpand {
        table: Arc<BasisTable>,
    },
    /// `c_e = ⟨B_e, W⟩` over the basis' nonzero entries.
    BasisProject {
        table: Arc<BasisTable>,
    },
}

/// What a loss compares with.
#[derive(Clone, Copy, Debug)]
pub(crate) enum TargetLoc {
    Class(usize),
    Tensor(Loc, bool),
}

/// One instruction.
#[derive(Clone, Debug)]
pub(crate) enum Instr {
    /// A fused elementwise kernel; `locs` are its inputs then its outputs,
    /// `steps` how many numbers each has per row (0 for one shared by all
    /// rows; an output's is its size).
    Elementwise {
        kernel: usize,
        locs: Vec<Loc>,
        steps: Vec<usize>,
        n_out: usize,
        batched: bool,
    },
    /// `C = A B`, once or once per row (`per_row` steps of A, B, C in
    /// elements; a C step of zero sums the rows' products into one C).
    Gemm {
        m: Dim,
        k: Dim,
        n: Dim,
        a: Mat,
        b: Mat,
        c: Mat,
        c_buf: usize,
        c_len: Dim,
        per_row: Option<[usize; 3]>,
    },
    /// A Rust row operation: inputs (location, batched, size per row).
    Row {
        op: RowOp,
        ins: Vec<(Loc, bool, usize)>,
        dst: usize,
        out_size: usize,
        batched: bool,
    },
    /// `dst = Σ src` over the rows (a batched tensor).
    SumRows {
        src: Loc,
        size: usize,
        dst: usize,
    },
    /// `dst = Σ a ± Σ b` over rows, each operand summed by its kind.
    SumCombine {
        a: Part,
        b: Part,
        sub: bool,
        dst: usize,
    },
    /// Per-row loss of a tensor output.
    Loss {
        kind: LossKind,
        out: Loc,
        size: usize,
        target: TargetLoc,
        dst: usize,
    },
    /// Per-row loss gradient of a tensor output, times `seed`.
    LossGrad {
        kind: LossKind,
        out: Loc,
        size: usize,
        target: TargetLoc,
        seed: (Loc, bool),
        dst: usize,
    },
    /// Per-example mean loss over the positions of a sequence output.
    SeqLoss {
        kind: LossKind,
        out: usize,
        size: usize,
        unfold: usize,
        target: usize,
        dst: usize,
    },
    /// The gradient of `SeqLoss`, times `seed`.
    SeqLossGrad {
        kind: LossKind,
        out: usize,
        size: usize,
        unfold: usize,
        target: usize,
        seed: (Loc, bool),
        dst: usize,
    },
    /// `out = Σ terms` over the `[steps, rows, size]` rows of sequences of
    /// unfold (or list of children) `unfold`; zeros with no terms.
    SeqSum {
        unfold: usize,
        size: usize,
        terms: Vec<usize>,
        out: usize,
    },
    /// A product and an elementwise kernel that reads its output, run as
    /// one step (`lower/epilogue.rs`).
    Fused(Box<FusedCode>),
    Fold(Box<FoldCode>),
    FoldBackward(Box<FoldBackCode>),
    Unfold(Box<UnfoldCode>),
    UnfoldBackward(Box<UnfoldBackCode>),
    Map(Box<MapCode>),
    MapBackward(Box<MapBackCode>),
    /// A gathered equivariant map applied as a direct convolution.
    Conv(Box<ConvCode>),
}

/// Which product of a gathered map a `ConvCode` computes, per example.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ConvKind {
    /// `y = W ⋆ x`: reads `w` and `x`, writes `y`.
    Forward,
    /// `dx = Wᵀ ⋆ dy`: reads `w` and `y` (the cotangent), writes `x`.
    InputGrad,
    /// `dW = Σ_rows dy ⋆ x`: reads `x` and `y`, writes `w` (one, summed).
    WeightGrad,
}

/// A gathered map's product and the gather (or its projection) around it
/// as one direct convolution (`cdlc_runtime::gemm::conv`,
/// `lower/conv.rs`): `x` is `[c, N]` and `y` `[d, M]` per row, the
/// weights `W[p, q·K + e]` at `w.loc[p·w.rs + (q·K + e)·w.cs]`, uniform.
#[derive(Clone, Debug)]
pub(crate) struct ConvCode {
    pub kind: ConvKind,
    pub taps: ConvTaps,
    pub w: Mat,
    pub x: Loc,
    pub y: Loc,
    /// The buffer written: `y`'s, `x`'s or `w`'s by `kind`.
    pub dst: usize,
}

/// A product with an epilogue: `gemm` (an `Instr::Gemm` over the rows, or
/// one product per row, never summed) and `ew` (an `Instr::Elementwise`
/// over the rows, one of whose inputs is the product's output), run
/// together so that the kernel reads each part of the product's output
/// while it is still in registers or in cache (`cdlc_runtime::gemm::epilogue`).
#[derive(Clone, Debug)]
pub(crate) struct FusedCode {
    pub gemm: Instr,
    pub ew: Instr,
    /// The kernel as a program the direct product kernel runs in
    /// registers, with where each input and output lies per product and
    /// per row of C (`[step, rs, cs]`, `[step, rs]`); `None` when the
    /// kernel has an op or an operand it cannot run there.
    pub program: Option<Arc<Tiled>>,
    /// A kernel input that is a per-row vector expanded along the rows of
    /// each product (a DeepSets layer's pooled term): the expansion, run
    /// only when the program does not run in registers, which reads the
    /// vector itself as a broadcast operand.
    pub broadcast: Option<Broadcast>,
    /// Whether the product's output must be written when the program runs
    /// in registers: false when nothing but the program reads it
    /// (`lower::epilogue::unstored`).
    pub store_c: bool,
}

/// A kernel input of a fused step read as a broadcast operand.
#[derive(Clone, Debug)]
pub(crate) struct Broadcast {
    /// The kernel input.
    pub input: usize,
    /// The vector: one number per row of C, per product.
    pub src: Loc,
    /// The `Instr::Row` expansion that materializes the input.
    pub expand: Instr,
}

/// A kernel as a tile program, with its operands' layouts.
#[derive(Clone, Debug)]
pub(crate) struct Tiled {
    pub program: cdlc_runtime::gemm::epilogue::Program,
    /// Per kernel input that the program reads (not the product's output):
    /// the input's position and its `[step, rs, cs]`.
    pub inputs: Vec<(usize, [isize; 3])>,
    /// Per output: `[step, rs]`.
    pub outputs: Vec<[isize; 2]>,
}

/// A fold's region for one constructor.
#[derive(Clone, Debug, Default)]
pub(crate) struct CaseCode {
    pub code: Vec<Instr>,
    /// Per child a node reads directly (a recursive field, each child of
    /// a nested tuple `X * X`), in field order, the buffers its gathered
    /// carrier goes to (one per flattened carrier component).
    pub rec_args: Vec<Vec<usize>>,
    /// Per plain field, the view that points at the prepared field rows.
    pub field_views: Vec<usize>,
    /// Batched outer values the region reads: (outer location, size, local
    /// buffer), gathered by example.
    pub captures: Vec<(Loc, usize, usize)>,
    /// The cotangent argument's views (backward only).
    pub ct_views: Vec<usize>,
    /// The views of the node's own carrier as the forward fold left it,
    /// one per flattened component (backward only; empty when the region
    /// recomputes it or does not read it: `lower/own.rs`).
    pub own_views: Vec<usize>,
    /// Forward only: values the backward region reads, kept per node
    /// (`lower/own.rs`): each one's part and its slot in the fold's
    /// `saved` buffers, written at the group's rows like the carrier.
    pub saves: Vec<(Part, usize)>,
    /// Backward only: per value the forward region kept, the view that
    /// points at the group's rows of its slot in the fold's `saved`.
    pub saved_views: Vec<(usize, usize)>,
    /// The flattened result, per top-level component (one for a forward
    /// case; children's cotangents then contributions for a backward one).
    pub result: Vec<Vec<Part>>,
    /// Per list of children (a rose tree's `List(X)` field), in field
    /// order: where the children's carriers are gathered, and (backward)
    /// where the region leaves their cotangents.
    pub rec_lists: Vec<RecList>,
    /// Per plain field that holds a list of tensors, in field order: the
    /// sequence the group's lists are laid out in (`ct` unused).
    pub field_lists: Vec<RecList>,
    /// Over a `map`'s result: the fields it appended, read through views
    /// (a backward region's cotangents of them are its last results).
    pub mapped: Vec<MappedField>,
    /// Per structure of the nested fields (`Tree(X)`, `List(A * X)`, the
    /// tree of `R[2] * Tree(X)`), in walking order: the
    /// pool its children's carriers are laid out in like a list of
    /// children (step `t`, row `i`: node `i`'s `t`-th child in walking
    /// order), and (backward) where the region leaves their cotangents.
    pub nested: Vec<RecList>,
}

impl CaseCode {
    /// What a forward case writes to the node rows after each group, as
    /// (part, (buffer, size)): its result's parts into the carrier
    /// `carrier`, then the values it keeps into their slots of `saved`.
    pub fn node_writes<'c>(
        &'c self,
        carrier: &'c [(usize, usize)],
        saved: &'c [(usize, usize)],
    ) -> impl Iterator<Item = (Part, (usize, usize))> + 'c {
        let kept = self.saves.iter().map(|&(p, slot)| (p, saved[slot]));
        self.result[0]
            .iter()
            .copied()
            .zip(carrier.iter().copied())
            .chain(kept)
    }
}

/// A list of children inside a fold region, seen by the region as a
/// sequence `[steps, rows, size]` (step `t`, row `i`: node `i`'s child at
/// position `t`; rows past a node's count are zero) whose lengths, the
/// nodes' numbers of children, are those of the pseudo-unfold `unfold`
/// (`UnfoldInfo::Children`), set by the executor for each group. A tuple
/// carrier is laid out as one such sequence per flattened component.
#[derive(Clone, Debug)]
pub(crate) struct RecList {
    pub unfold: usize,
    /// Per flattened carrier component: its sequence's buffer and size.
    pub seqs: Vec<(usize, usize)>,
    /// The sequences of the children's cotangents, per component
    /// (backward only).
    pub ct: Option<Vec<usize>>,
}

/// A forward fold over the batch.
#[derive(Clone, Debug)]
pub(crate) struct FoldCode {
    pub id: usize,
    /// The carrier of every node: (buffer, size) per flattened component.
    pub carrier: Vec<(usize, usize)>,
    pub cases: Vec<CaseCode>,
    /// The roots' carriers, batched over examples.
    pub root: Vec<(usize, usize)>,
    /// Values the backward regions read besides the carrier, kept for
    /// every node: (buffer, size) per slot; a slot holds the value of one
    /// case's region at that case's nodes (`CaseCode::saves`).
    pub saved: Vec<(usize, usize)>,
    /// For a list fold over a computed sequence: where its elements are.
    pub elems: Option<SeqElems>,
    /// For a fold over a nested field's structure inside a region: where
    /// the children's carriers come from.
    pub nested: Option<NestedSrc>,
}

/// Where a fold over a nested field's structure finds its schedule and the
/// children's carriers at the structure's recursive positions.
#[derive(Clone, Debug)]
pub(crate) struct NestedSrc {
    /// The enclosing fold, whose group being run holds the structures'
    /// schedule (`GroupData::nested_fields`), and the field's position among its
    /// constructor's nested fields.
    pub outer: usize,
    pub field: usize,
    /// The field's pool (`CaseCode::nested`): its pseudo-unfold and, per
    /// *slot* (the `c`-th child a node of the structure holds, carrier
    /// component `m`: slot `c * carrier_parts + m`), the pool's buffer
    /// (`seq`) of that component, the buffer a group's `c`-th children are
    /// gathered into, and (backward) the component's pool cotangents,
    /// which the slots of one component share.
    pub unfold: usize,
    pub parts: Vec<ElemPart>,
    /// The number of tensors in the enclosing fold's carrier.
    pub carrier_parts: usize,
    /// Per constructor of the structure's data type, how many children of
    /// the enclosing fold a node holds (its pool rows, `GroupData::elems`:
    /// `holds` per node, in walking order).
    pub holds: Vec<usize>,
    /// Per constructor of the structure's data type, per view of its plain
    /// fields: the slot gathered there, or `None` for a tensor prepared
    /// with the batch.
    pub views: Vec<Vec<Option<usize>>>,
    /// Per constructor, how many views each plain field has (the
    /// components of its cotangent a backward region yields).
    pub field_parts: Vec<Vec<usize>>,
    /// Whether the structures are held in a field of the nodes of another
    /// nested structure (the trees of `List(Tree(X))`, `FoldInfo::nested_in`
    /// names the fold over the list): the schedule is the one prepared in
    /// that fold's group being run (`GroupData::held`), and the pool
    /// cotangents are that fold's, which its backward zeroed and this
    /// fold's backward adds into.
    pub held: bool,
}

/// The elements of a sequence an unfold computed (or a list of children),
/// folded as a list: the unfold, and per flattened component of the
/// element its sequence's buffer (`[steps, rows, size]`), its size, a
/// buffer a group's elements are gathered into and, for the backward, the
/// buffer the elements' cotangents are scattered to (same layout).
#[derive(Clone, Debug)]
pub(crate) struct SeqElems {
    pub unfold: usize,
    pub parts: Vec<ElemPart>,
    /// Whether the elements are split by halves (`hylo ... by halves`)
    /// rather than folded as a list.
    pub halves: bool,
}

/// One flattened component of the elements of a computed sequence.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ElemPart {
    pub seq: usize,
    pub size: usize,
    pub gathered: usize,
    pub cotangents: usize,
}

/// Where a recursion op's backward sums a capture's contributions.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Acc {
    pub buf: usize,
    pub size: usize,
    /// Per example (a batched capture) or over everything (a uniform one).
    pub per_example: bool,
}

/// The backward of a recorded fold.
#[derive(Clone, Debug)]
pub(crate) struct FoldBackCode {
    pub id: usize,
    pub carrier: Vec<(usize, usize)>,
    /// The forward fold's `saved` slots.
    pub saved: Vec<(usize, usize)>,
    /// Every node's cotangent, per flattened component.
    pub ct: Vec<(usize, usize)>,
    pub root_ct: Vec<Part>,
    /// Per case, its region's results: the recursive fields' cotangents,
    /// the captures' contributions, then (with `elems`) the element's.
    pub cases: Vec<CaseCode>,
    pub acc: Vec<Acc>,
    /// For a fold over a computed sequence: its elements, and where their
    /// cotangents go.
    pub elems: Option<SeqElems>,
    /// As `FoldCode::nested`; the children's cotangents are added into
    /// the pool's cotangent buffers (`ElemPart::cotangents`).
    pub nested: Option<NestedSrc>,
}

/// A forward unfold over the batch (all examples step together; steps past
/// an example's length compute on zero inputs and are ignored).
#[derive(Clone, Debug)]
pub(crate) struct UnfoldCode {
    pub id: usize,
    pub init: Vec<Part>,
    /// Every step's state: `[steps + 1, rows, size]` per component.
    pub states: Vec<(usize, usize)>,
    /// Every step's output `[steps, rows, size]`, per tensor of the
    /// output (one, or one per component of a tuple, depth first).
    pub outs: Vec<(usize, usize)>,
    pub body: Vec<Instr>,
    pub state_views: Vec<usize>,
    /// The list element's views, with the size of each (one per tensor of
    /// the element).
    pub x_views: Vec<(usize, usize)>,
    /// For a Mealy machine over a computed sequence: per tensor of the
    /// element (one, or one per component of a tuple), its buffer
    /// (`[steps, rows, size]`) and size, read step by step; empty
    /// otherwise.
    pub x_seq: Vec<(usize, usize)>,
    /// Inside a region: the unfold (a list of children, or an unfold over
    /// one) whose sequence this one reads; its steps run over the region's
    /// rows, each row as long as its list (`UnfoldInfo::Seq`).
    pub local: Option<usize>,
    /// The step's output, per tensor (as `outs`).
    pub result_out: Vec<Part>,
    pub result_state: Vec<Part>,
    /// Whether every step runs at once, as one step over `steps x rows`
    /// rows: a map over a computed sequence (no state, at the top level,
    /// reading no per-example value from outside), whose steps are
    /// independent and whose sequences are laid out `[steps, rows, size]`.
    pub flat: bool,
}

/// The backward of a recorded unfold.
#[derive(Clone, Debug)]
pub(crate) struct UnfoldBackCode {
    pub id: usize,
    pub states: Vec<(usize, usize)>,
    /// The output cotangent sequence `[steps, rows, size]`, per tensor of
    /// the output (as `UnfoldCode::outs`).
    pub dout: Vec<(usize, usize)>,
    /// The running cotangent of the state, per component.
    pub dnext: Vec<(usize, usize)>,
    pub body: Vec<Instr>,
    pub state_views: Vec<usize>,
    /// As `UnfoldCode::x_views`.
    pub x_views: Vec<(usize, usize)>,
    /// The views of a step's output cotangent, per tensor of the output.
    pub dout_views: Vec<usize>,
    pub dnext_views: Vec<usize>,
    pub result_dstate: Vec<Part>,
    pub result_caps: Vec<Vec<Part>>,
    pub acc: Vec<Acc>,
    /// As `UnfoldCode::x_seq`.
    pub x_seq: Vec<(usize, usize)>,
    /// Over a computed sequence: per tensor of the element, its cotangent
    /// each step yields and the buffer (`[steps, rows, size]`) it is
    /// written to; empty otherwise.
    pub result_dx: Vec<(Part, usize)>,
    /// Whether it runs inside a region, after its forward op in the same
    /// region (which set its lengths, one per row of the region).
    pub local: bool,
    /// Whether every step runs at once (the forward's `flat`, and every
    /// accumulator sums over all rows).
    pub flat: bool,
}

/// What preparing a batch must gather for a fold.
#[derive(Clone, Debug)]
pub(crate) struct FoldInfo {
    pub decl: Arc<cdlc_runtime::value::DataDecl>,
    pub halves: bool,
    /// The leaf holding the structure (or the list split by halves).
    pub input: usize,
    /// For a list fold over a computed sequence, the unfold that computed
    /// it (then `input` is unused): the lists' lengths are the unfold's.
    pub over_unfold: Option<usize>,
    /// Per constructor, the size of each tensor in its plain fields and
    /// its nested tuples of children and tensors (`R[2] * X`), in field
    /// order (a tuple field's components depth first).
    pub field_sizes: Vec<Vec<usize>>,
    /// Per constructor, its plain fields that hold lists of tensors (a list
    /// of lists, a tree whose nodes hold lists): the field's position
    /// among the plain fields and the sizes of its elements' tensors.
    pub field_lists: Vec<Vec<(usize, Vec<usize>)>>,
    /// Per constructor, its plain fields that hold a structure (a list of
    /// rose trees, a list of lists of lists): their positions among the
    /// plain fields. No numbers are gathered for them; a fold inside the
    /// region over one gets its own schedule per group (`nested_in`).
    pub field_structures: Vec<Vec<usize>>,
    /// For a fold inside a region over a structure a field holds: the
    /// enclosing fold, the constructor and the field's position among its
    /// plain fields. Its schedule is prepared per group of the enclosing
    /// fold (`GroupData::held`), over that group's nodes as rows.
    pub nested_in: Option<(usize, usize, usize)>,
    /// Per constructor, its nested fields (`Tree(X)`, `List(A * X)`,
    /// `X * X`) in field order, as the runtime's schedule lists them; the
    /// structures of those a region folds are scheduled per group
    /// (`GroupData::nested_fields`), a tuple's children are gathered with
    /// the recursive fields'.
    pub nested_fields: Vec<Vec<NestedField>>,
    /// For a fold that walks a nested field's structure inside a region
    /// (`FoldCode::nested`): the enclosing fold, its constructor and the
    /// field's position among that constructor's folded nested fields,
    /// whose pool the fold reads. Its schedules are prepared with the
    /// enclosing fold's groups, not on their own; so are those of a fold
    /// over a structure held in a node of such a structure (`List(Tree(X))`:
    /// `nested_in` names the fold over the list), which reads the same pool.
    pub inner: Option<(usize, usize, usize)>,
}

impl FoldInfo {
    /// How many children a node of constructor `ctor` reads directly (its
    /// region's `rec_args`): one per recursive field and each child of a
    /// nested tuple.
    pub fn direct_children(&self, ctor: usize) -> usize {
        let rec = self.decl.ctors[ctor]
            .fields
            .iter()
            .filter(|f| **f == cdlc_runtime::value::DataType::Rec(0))
            .count();
        let tuples: usize = self
            .nested_fields
            .get(ctor)
            .map_or(0, |fs| fs.iter().filter_map(|f| f.tuple).sum());
        rec + tuples
    }
}

/// A nested field of a fold's constructor, as `prepare` needs it.
#[derive(Clone, Debug)]
pub(crate) struct NestedField {
    /// The field's type, the enclosing data type's recursive positions
    /// written `Rec(k)` from `k` data types in.
    pub ty: cdlc_runtime::value::DataType,
    /// The number of tensors in the enclosing fold's carrier (the views a
    /// recursive position takes).
    pub carrier_parts: usize,
    /// The field's position among its constructor's fields.
    pub at: usize,
    /// How many plain fields come before it: a tuple's tensors are
    /// gathered after theirs and before the next plain field's, so that
    /// the prepared field rows follow field order.
    pub plain_before: usize,
    /// For a tuple (`X * X`, `R[2] * Tree(X)`): how many of the enclosing
    /// fold's children it holds directly. They are read like recursive
    /// fields, gathered with them in field order (`GroupData::children`);
    /// the structures it holds have a pool each (`pools`). `None` for a
    /// structure.
    pub tuple: Option<usize>,
}

impl NestedField {
    /// The types of the structures of the field a region folds, in walking
    /// order: the field's own, or each structure a tuple holds
    /// (`R[2] * Tree(X)`). Each has a pool and a schedule of its
    /// structures per group (`GroupData::nested_fields`).
    pub fn pools(&self) -> Vec<&cdlc_runtime::value::DataType> {
        fn walk<'a>(
            ty: &'a cdlc_runtime::value::DataType,
            out: &mut Vec<&'a cdlc_runtime::value::DataType>,
        ) {
            use cdlc_runtime::value::DataType;
            match ty {
                DataType::Data(_) => out.push(ty),
                DataType::Tuple(ts) => ts.iter().for_each(|t| walk(t, out)),
                DataType::Rec(_) | DataType::Tensor(_) => {}
            }
        }
        let mut out = Vec::new();
        walk(&self.ty, &mut out);
        out
    }
}

/// What preparing a batch must gather for an unfold.
#[derive(Clone, Debug)]
pub(crate) enum UnfoldInfo {
    /// Over the list in this leaf, whose elements are tensors of these
    /// sizes (one for a tensor element, one per component of a tuple).
    Over { input: usize, sizes: Vec<usize> },
    /// Over the outputs of this (earlier) unfold, step for step.
    Seq(usize),
    /// A fixed number of steps.
    Take(usize),
    /// A fixed number of steps inside a region (a stream unfold in a fold's
    /// case), over the region's rows: its lengths, `k` for every row, are
    /// set by the executor when it runs (`UnfoldCode::local` is itself).
    TakeLocal(usize),
    /// Not an unfold: the lists the nodes a fold region runs on hold (a
    /// rose tree's `List(X)` field of children, or a plain field holding a
    /// list of tensors). Their lengths change from group to group and are
    /// set by the executor as it enters one.
    Children,
}

/// A lowered function.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    pub code: Vec<Instr>,
    pub kernels: Vec<KernelSpec>,
    pub num_bufs: usize,
    pub num_views: usize,
    /// Uniform buffers filled once: constants and zeros.
    pub init: Vec<(usize, Vec<f64>)>,
    pub folds: Vec<FoldInfo>,
    pub unfolds: Vec<UnfoldInfo>,
    /// The function's output.
    pub output: Repr,
    /// The output's type.
    pub output_type: cdlc_ir::Type,
    /// Offsets of the parameter slots in the flat parameter vector.
    pub param_offsets: Vec<usize>,
    pub num_params: usize,
    /// The function's inputs.
    pub inputs: Vec<cdlc_ir::Type>,
    /// The tensors, structures and targets inside the inputs, in order.
    pub leaves: Vec<Leaf>,
    /// Whether the executor's fold regions use the carrier's rows in place
    /// (`Passes::in_place`).
    pub in_place: bool,
}

impl Plan {
    /// The folds over the structures of pool `pool` of constructor `ctor`
    /// of the folds `over` (`FoldInfo::inner`), not those over structures
    /// held in their nodes: the folds a region runs over one nested field.
    pub(crate) fn folds_over_pool(&self, over: &[usize], ctor: usize, pool: usize) -> Vec<usize> {
        (0..self.folds.len())
            .filter(|&i| {
                let fi = &self.folds[i];
                matches!(fi.inner, Some((o, c, p)) if over.contains(&o) && c == ctor && p == pool)
                    && fi.nested_in.is_none()
            })
            .collect()
    }
}

/// One tensor, structure or target inside a function input: the input's
/// position, the tuple components leading to it and its type. A pair input
/// `(List(R[2]), R[3])` has two leaves, so a fold over its first component
/// walks a structure prepared from that component alone.
#[derive(Clone, Debug)]
pub(crate) struct Leaf {
    pub input: usize,
    pub path: Vec<usize>,
    pub ty: cdlc_ir::Type,
}

impl Leaf {
    /// The leaves of input `input` of type `ty`, depth first.
    pub fn of(input: usize, ty: &cdlc_ir::Type, path: &mut Vec<usize>, out: &mut Vec<Leaf>) {
        match ty {
            cdlc_ir::Type::Tuple(ts) => {
                for (i, t) in ts.iter().enumerate() {
                    path.push(i);
                    Leaf::of(input, t, path, out);
                    path.pop();
                }
            }
            other => out.push(Leaf {
                input,
                path: path.clone(),
                ty: other.clone(),
            }),
        }
    }
}
