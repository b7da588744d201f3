//! Lowering a verified IR function to a batched `Plan`.
//!
//! One walk over the entry block (and, at recursion ops, their regions)
//! decides for every value whether it is uniform, batched or summed (see
//! `plan/mod.rs`), and emits instructions. Consecutive elementwise ops of one
//! size fuse greedily into one kernel: an elementwise op joins the open
//! group when it has the group's size and batching; the group's kernel runs
//! where the group closes (before the first op outside it that reads one of
//! its values), and only values used outside the group are stored.
//!
//! A value is *sum-only* when every use sums it over the rows: a component
//! of the training function's result, a capture's contribution yielded by a
//! backward region (for a uniform capture), or an operand of a sum-only
//! `add`/`sub`. A sum-only `outer` of two batched vectors is one GEMM
//! `Aᵀ B` over the rows instead of one outer product per row.
//!
//! The walk, by concern:
//!
//! - `ops.rs`: the walk over a block, one arm per op;
//! - `uses.rs`: where each value is used, and which values are sum-only;
//! - `values.rs`: buffers, views and the representations of values
//!   (flattened into parts, transposed views materialized);
//! - `fusion.rs`: the open group of elementwise ops and the kernel it
//!   closes into;
//! - `contract.rs`: products as GEMMs, permutations, basis projections;
//! - `loss.rs`: losses and their gradients;
//! - `regions.rs`: the buffers and views of region arguments, captures
//!   and accumulators;
//! - `fold.rs`, `unfold.rs`: the recursion ops and their backward ops;
//! - `rose.rs`: a rose tree's list of children inside a fold region;
//! - `conv.rs`: gathered maps as direct convolutions, on the finished
//!   plan;
//! - `epilogue.rs`: products fused with the elementwise kernels that read
//!   them, on the finished plan.
//! - `nested.rs`: a nested field's structure inside a fold region.
//! - `wide.rs`: products sharing their left operand as one wide product,
//!   on the finished plan.
//! - `own.rs`: a fold's backward region reading the node's own carrier
//!   where the forward fold left it, instead of recomputing it.
//! - `repeat.rs`: expansions along the last axis read in place by the
//!   elementwise kernels that add them, on the finished plan.
//! - `relu_mask.rs`: ReLU's derivative taken from its output, so that a
//!   pre-activation read only by `step` is not stored, on the finished
//!   plan (with `repeat.rs`, and off with it).

mod contract;
pub(crate) mod conv;
mod epilogue;
pub use epilogue::Fusion;
mod fold;
mod fusion;
mod loss;
mod map;
mod nested;
mod ops;
mod own;
mod regions;
mod relu_mask;
pub(crate) mod repeat;
mod rose;
mod unfold;
mod uses;
mod values;
mod wide;

pub(crate) use wide::wide_enabled;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use cdlc_ir::entity::EntityRef;
use cdlc_ir::{
    BasisId, BinOp, Block, Field, FuncId, Function, Module, Op, Source, Split, Type, Value,
};

use crate::JitError;
use crate::plan::*;
use crate::rowops::permute_map;

pub(crate) use rose::seq_parts;

use fusion::Group;
use uses::{Sink, Use};

pub(crate) struct Lowerer<'a> {
    module: &'a Module,
    func: &'a Function,
    reprs: Vec<Option<Repr>>,
    uses: Vec<Vec<Use>>,
    sinks: HashMap<Value, Vec<Sink>>,
    sum_memo: HashMap<Value, bool>,
    kernels: Vec<KernelSpec>,
    num_bufs: usize,
    num_views: usize,
    init: Vec<(usize, Vec<f64>)>,
    folds: Vec<FoldInfo>,
    unfolds: Vec<UnfoldInfo>,
    param_offsets: Vec<usize>,
    group: Option<Group>,
    fold_codes: HashMap<usize, Vec<(usize, usize)>>,
    /// Per unfold over a computed sequence, its buffer and element size.
    unfold_seqs: HashMap<usize, Vec<(usize, usize)>>,
    /// Per fold over a computed sequence, its elements.
    fold_elems: HashMap<usize, Option<SeqElems>>,
    unfold_codes: HashMap<usize, Vec<(usize, usize)>>,
    /// The unfolds whose steps run all at once (`UnfoldCode::flat`).
    flat_unfolds: HashSet<usize>,
    /// Whether the code being lowered is inside a region.
    depth: usize,
    /// Instructions run once per call before the code: row-major copies of
    /// transposed parameters that regions multiply by.
    prologue: Vec<Instr>,
    /// The buffer of each hoisted `Wᵀ`, by the parameter's location.
    transposed_params: HashMap<(Loc, usize, usize), usize>,
    /// Outer locations of values a fold region gathered, to restore.
    saved: Vec<(Value, Loc)>,
    /// The lists of children (pseudo-unfold, element type) of the rose
    /// regions being lowered, innermost last.
    lists: Vec<(usize, Type)>,
    /// The unfolds whose steps are per row of a region: lists of children
    /// and the unfolds over their sequences.
    local_unfolds: std::collections::HashSet<usize>,
    /// The block each op's value is defined in.
    block_of: HashMap<Value, Block>,
    /// The sorted entry tables of the bases used, by basis.
    tables: HashMap<BasisId, Arc<BasisTable>>,
    /// The tensors, structures and targets inside the inputs.
    leaves: Vec<Leaf>,
    /// Per fold schedule a `map` ran over, its appended fields' buffers.
    mapped_folds: HashMap<usize, Vec<Vec<(usize, usize)>>>,
    /// The appended fields of the fold being lowered, over a map's result.
    mapping: Option<map::Mapping>,
    /// The folds whose regions are being lowered, innermost last.
    fold_stack: Vec<usize>,
    /// The nested fields' structures bound in the regions lowered so far.
    nested_args: Vec<nested::NestedArg>,
    /// Per fold over a nested field's structure, where it reads from.
    fold_nested: HashMap<usize, NestedSrc>,
    /// Per fold lowered, its forward regions, one per constructor.
    fold_blocks: HashMap<usize, Vec<Block>>,
    /// Whether backward regions read the node's own carrier (`own.rs`).
    own: bool,
    /// Per forward fold region, the values its backward region reads that
    /// the fold keeps per node (`own.rs`).
    saves: HashMap<Block, Vec<Value>>,
    /// Per fold lowered, where its regions kept those values.
    fold_saved: HashMap<usize, own::Saved>,
}

/// A view and the size of the rows it points at.
pub(super) type ViewSize = (usize, usize);

pub(super) fn unsupported<T>(op: impl Into<String>) -> Result<T, JitError> {
    Err(JitError::Unsupported {
        op: op.into(),
        at: None,
    })
}

pub(super) fn size(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// Appends the sizes of a tensor's or a tuple of tensors' components,
/// depth first; `false` if `ty` holds anything else (a structure).
pub(super) fn tensor_components(ty: &Type, sizes: &mut Vec<usize>) -> bool {
    match ty {
        Type::Tensor(s) => {
            sizes.push(size(s));
            true
        }
        Type::Tuple(ts) => ts.iter().all(|t| tensor_components(t, sizes)),
        _ => false,
    }
}

/// Lowers `func` of `module`; `train` marks a training function whose
/// result components are summed (averaged) over the batch. Products are
/// fused with their epilogues as `Fusion::from_env` says.
pub(crate) fn lower(module: &Module, func: FuncId, train: bool) -> Result<Plan, JitError> {
    lower_with(module, func, train, Fusion::from_env())
}

/// `lower`, fusing the products `fuse` selects with their epilogues.
pub(crate) fn lower_with(
    module: &Module,
    func: FuncId,
    train: bool,
    fuse: Fusion,
) -> Result<Plan, JitError> {
    lower_passes(module, func, train, Passes::new(fuse, wide_enabled()))
}

/// The passes run on a finished plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Passes {
    /// Which products are fused with the elementwise kernels that read them.
    pub fuse: Fusion,
    /// Products that share their left operand run as one wide product.
    pub wide: bool,
    /// A fold's backward regions read the node's own carrier where the
    /// forward fold left it instead of recomputing it (`own.rs`).
    pub own: bool,
    /// Fold regions read and write the carrier's rows in place where a
    /// group's nodes are consecutive, instead of gathering and scattering
    /// them (`exec/in_place.rs`).
    pub in_place: bool,
}

impl Passes {
    /// The passes `fuse` and `wide`; backward regions read the node's
    /// own carrier unless the environment variable `CDLC_RECOMPUTE` is set,
    /// and fold regions use the carrier's rows in place unless
    /// `CDLC_IN_PLACE` is `0`.
    pub fn new(fuse: impl Into<Fusion>, wide: bool) -> Passes {
        Passes {
            fuse: fuse.into(),
            wide,
            own: std::env::var_os("CDLC_RECOMPUTE").is_none(),
            in_place: std::env::var("CDLC_IN_PLACE").map_or(true, |v| v != "0"),
        }
    }

    /// These passes, with fold regions using the carrier's rows in place
    /// (`true`) or gathering and scattering them (`false`).
    pub fn with_in_place(self, in_place: bool) -> Passes {
        Passes { in_place, ..self }
    }

    /// These passes, with backward regions reading the node's own carrier
    /// (`true`) or recomputing it as the IR says (`false`).
    pub fn with_own(self, own: bool) -> Passes {
        Passes { own, ..self }
    }
}

/// `lower`, with the passes `passes` on the finished plan.
pub(crate) fn lower_passes(
    module: &Module,
    func: FuncId,
    train: bool,
    passes: Passes,
) -> Result<Plan, JitError> {
    let f = &module.functions[func];
    let mut l = Lowerer {
        module,
        func: f,
        reprs: vec![None; f.values.len()],
        uses: vec![Vec::new(); f.values.len()],
        sinks: HashMap::new(),
        sum_memo: HashMap::new(),
        kernels: Vec::new(),
        num_bufs: 0,
        num_views: 0,
        init: Vec::new(),
        folds: Vec::new(),
        unfolds: Vec::new(),
        param_offsets: Vec::new(),
        group: None,
        fold_codes: HashMap::new(),
        unfold_seqs: HashMap::new(),
        fold_elems: HashMap::new(),
        unfold_codes: HashMap::new(),
        flat_unfolds: HashSet::new(),
        depth: 0,
        prologue: Vec::new(),
        transposed_params: HashMap::new(),
        saved: Vec::new(),
        lists: Vec::new(),
        local_unfolds: Default::default(),
        block_of: HashMap::new(),
        tables: HashMap::new(),
        leaves: Vec::new(),
        mapped_folds: HashMap::new(),
        mapping: None,
        fold_stack: Vec::new(),
        nested_args: Vec::new(),
        fold_nested: HashMap::new(),
        fold_blocks: HashMap::new(),
        own: passes.own,
        saves: HashMap::new(),
        fold_saved: HashMap::new(),
    };
    for (i, ty) in f.inputs.iter().enumerate() {
        Leaf::of(i, ty, &mut Vec::new(), &mut l.leaves);
    }
    let mut off = 0;
    for (_, p) in f.params.iter() {
        l.param_offsets.push(off);
        off += size(&p.shape);
    }
    l.collect_uses();
    if l.own {
        l.plan_saves();
    }
    if train {
        let r = f.output();
        if let Some(Op::Tuple(vs)) = f.op(r) {
            l.sinks.insert(r, vec![Sink::Always; vs.len()]);
        }
    }
    let mut code = Vec::new();
    l.block(f.entry, &mut code)?;
    let output = l.repr(f.output())?;
    let mut all = std::mem::take(&mut l.prologue);
    let prologue = all.len();
    all.extend(code);
    // Convolutions first: they only rewrite batched gathers and the
    // products reading them, never the prologue, whose length `widen`
    // relies on.
    if conv::conv_enabled() {
        conv::rewrite(&mut all, &output);
    }
    if passes.wide {
        l.num_bufs = wide::widen(&mut all, prologue, l.num_bufs);
    }
    if passes.fuse != Fusion::Off {
        epilogue::fuse(&mut all, &l.kernels, passes.fuse);
    }
    if repeat::repeat_enabled() {
        repeat::rewrite(&mut all, &mut l.kernels, &output);
        relu_mask::rewrite(&mut all, &mut l.kernels, &output);
    }
    if passes.fuse != Fusion::Off {
        epilogue::unstored(&mut all, &l.kernels, &output);
    }
    Ok(Plan {
        code: all,
        kernels: l.kernels,
        num_bufs: l.num_bufs,
        num_views: l.num_views,
        init: l.init,
        folds: l.folds,
        unfolds: l.unfolds,
        output,
        output_type: f.types[f.output()].clone(),
        param_offsets: l.param_offsets,
        num_params: off,
        inputs: f.inputs.clone(),
        leaves: l.leaves,
        in_place: passes.in_place,
    })
}
