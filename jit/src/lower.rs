//! Lowering a verified IR function to a batched `Plan`.
//!
//! One walk over the entry block (and, at recursion ops, their regions)
//! decides for every value whether it is uniform, batched or summed (see
//! `plan.rs`), and emits instructions. Consecutive elementwise ops of one
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

use std::collections::HashMap;
use std::sync::Arc;

use cdlc_ir::entity::EntityRef;
use cdlc_ir::{
    BasisId, BinOp, Block, Field, FuncId, Function, Module, Op, Source, Split, Type, Value,
};

use crate::JitError;
use crate::plan::*;
use crate::rowops::permute_map;

/// Where a value is used.
#[derive(Clone, Copy, Debug)]
enum Use {
    /// As operand `pos` of the op defining this value.
    Op(Value, usize),
    /// As a block's result.
    Result,
}

/// Which components of a region result tuple are summed over the rows.
#[derive(Clone, Debug)]
enum Sink {
    Always,
    /// Summed when this capture is uniform.
    Capture(Value),
    No,
}

struct Group {
    n: usize,
    batched: bool,
    inputs: Vec<(Loc, InKind)>,
    input_of: HashMap<(Loc, InKind), usize>,
    ops: Vec<KOp>,
    members: Vec<(Value, usize)>,
    member_of: HashMap<Value, usize>,
    inner_uses: HashMap<Value, usize>,
}

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
    unfold_seqs: HashMap<usize, Option<(usize, usize)>>,
    /// Per fold over a computed sequence, its elements.
    fold_elems: HashMap<usize, Option<SeqElems>>,
    unfold_codes: HashMap<usize, Vec<(usize, usize)>>,
    /// Whether the code being lowered is inside a region.
    depth: usize,
    /// Instructions run once per call before the code: row-major copies of
    /// transposed parameters that regions multiply by.
    prologue: Vec<Instr>,
    /// The buffer of each hoisted `Wᵀ`, by the parameter's location.
    transposed_params: HashMap<(Loc, usize, usize), usize>,
    /// Outer locations of values a fold region gathered, to restore.
    saved: Vec<(Value, Loc)>,
    /// The block each op's value is defined in.
    block_of: HashMap<Value, Block>,
    /// The sorted entry tables of the bases used, by basis.
    tables: HashMap<BasisId, Arc<BasisTable>>,
    /// The tensors, structures and targets inside the inputs.
    leaves: Vec<Leaf>,
}

/// A view and the size of the rows it points at.
type ViewSize = (usize, usize);

fn unsupported<T>(op: impl Into<String>) -> Result<T, JitError> {
    Err(JitError::Unsupported {
        op: op.into(),
        at: None,
    })
}

/// One example's `[r, c]` operand at `loc`: row-major, or a transposed
/// view (`t`).
fn mat_of(loc: Loc, t: bool, r: usize, c: usize) -> Mat {
    if t {
        Mat { loc, rs: 1, cs: r }
    } else {
        Mat { loc, rs: c, cs: 1 }
    }
}

fn size(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// Appends the sizes of a tensor's or a tuple of tensors' components,
/// depth first; `false` if `ty` holds anything else (a structure).
fn tensor_components(ty: &Type, sizes: &mut Vec<usize>) -> bool {
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
/// result components are summed (averaged) over the batch.
pub(crate) fn lower(module: &Module, func: FuncId, train: bool) -> Result<Plan, JitError> {
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
        depth: 0,
        prologue: Vec::new(),
        transposed_params: HashMap::new(),
        saved: Vec::new(),
        block_of: HashMap::new(),
        tables: HashMap::new(),
        leaves: Vec::new(),
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
    all.extend(code);
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
    })
}

impl Lowerer<'_> {
    fn collect_uses(&mut self) {
        for (b, data) in self.func.blocks.iter() {
            for &v in &data.insts {
                self.block_of.insert(v, b);
                let op = self.func.op(v).expect("verified: insts are ops");
                for (pos, x) in op.operands().into_iter().enumerate() {
                    self.uses[x.index()].push(Use::Op(v, pos));
                }
                let (cases, nrec, caps): (Vec<Block>, Vec<usize>, Vec<Value>) = match op {
                    Op::FoldBackward(fb) => (
                        fb.cases.clone(),
                        (0..fb.cases.len())
                            .map(|c| {
                                self.module
                                    .cotangent_fields(fb.data, c, &fb.carrier, fb.elements)
                                    .len()
                            })
                            .collect(),
                        fb.captures.clone(),
                    ),
                    Op::UnfoldBackward(ub) => (
                        vec![ub.body],
                        vec![1 + usize::from(ub.elements)],
                        ub.captures.clone(),
                    ),
                    _ => continue,
                };
                for (case, nrec) in cases.into_iter().zip(nrec) {
                    let r = self.func.blocks[case].result.expect("verified");
                    if let Some(Op::Tuple(vs)) = self.func.op(r) {
                        let s = (0..vs.len())
                            .map(|i| {
                                if i < nrec {
                                    Sink::No
                                } else {
                                    Sink::Capture(caps[i - nrec])
                                }
                            })
                            .collect();
                        self.sinks.insert(r, s);
                    }
                }
            }
            if let Some(r) = data.result {
                self.uses[r.index()].push(Use::Result);
            }
        }
    }

    fn is_batched(&self, v: Value) -> bool {
        matches!(
            self.reprs[v.index()],
            Some(Repr::Tensor { batched: true, .. })
        )
    }

    /// Whether `v` is already lowered to one tensor shared by every row.
    fn is_uniform(&self, v: Value) -> bool {
        matches!(
            self.reprs[v.index()],
            Some(Repr::Tensor { batched: false, .. } | Repr::Transposed { batched: false, .. })
        )
    }

    /// Whether every use of `v` sums it over the rows.
    fn sum_only(&mut self, v: Value) -> bool {
        if let Some(&s) = self.sum_memo.get(&v) {
            return s;
        }
        let uses = self.uses[v.index()].clone();
        let mut ok = !uses.is_empty();
        for u in uses {
            ok &= match u {
                Use::Result => false,
                Use::Op(t, pos) => match self.sinks.get(&t).map(|s| s[pos].clone()) {
                    Some(Sink::Always) => self.uses[t.index()].len() == 1,
                    Some(Sink::Capture(c)) => {
                        self.uses[t.index()].len() == 1 && !self.is_batched(c)
                    }
                    Some(Sink::No) => false,
                    // Sums commute with `add`, `sub`, `basis_project` and
                    // a product with a value that is the same for every row.
                    None => match self.func.op(t) {
                        Some(Op::Binary(BinOp::Add | BinOp::Sub, ..) | Op::BasisProject { .. }) => {
                            self.sum_only(t)
                        }
                        Some(&Op::Contract { a, b, .. }) => {
                            let other = if pos == 0 { b } else { a };
                            self.is_uniform(other) && self.sum_only(t)
                        }
                        _ => false,
                    },
                },
            };
            if !ok {
                break;
            }
        }
        self.sum_memo.insert(v, ok);
        ok
    }

    fn buf(&mut self) -> usize {
        self.num_bufs += 1;
        self.num_bufs - 1
    }

    fn view(&mut self) -> usize {
        self.num_views += 1;
        self.num_views - 1
    }

    fn repr(&self, v: Value) -> Result<Repr, JitError> {
        self.reprs[v.index()]
            .clone()
            .ok_or_else(|| JitError::Internal(format!("{v} has no representation")))
    }

    fn set(&mut self, v: Value, r: Repr) {
        self.reprs[v.index()] = Some(r);
    }

    fn block(&mut self, b: Block, out: &mut Vec<Instr>) -> Result<(), JitError> {
        let insts = self.func.blocks[b].insts.clone();
        for v in insts {
            let op = self.func.op(v).expect("verified: insts are ops").clone();
            self.op(v, &op, out)?;
        }
        self.close_group(out);
        Ok(())
    }

    /// A uniform buffer holding `data` from the start.
    fn constant(&mut self, shape: &[usize], data: Vec<f64>) -> Repr {
        let buf = self.buf();
        self.init.push((buf, data));
        Repr::Tensor {
            loc: Loc::Buf(buf),
            batched: false,
            shape: shape.to_vec(),
        }
    }

    fn zeros(&mut self, ty: &Type) -> Result<Repr, JitError> {
        match ty {
            Type::Tensor(s) => Ok(self.constant(s, vec![0.0; size(s)])),
            Type::Tuple(ts) => Ok(Repr::Tuple(
                ts.iter().map(|t| self.zeros(t)).collect::<Result<_, _>>()?,
            )),
            other => unsupported(format!("zeros of {}", self.type_name(other))),
        }
    }

    /// Lowers the op defining `v`; an unsupported construct met while
    /// lowering it (and not inside a nested op) is located at `v`.
    fn op(&mut self, v: Value, op: &Op, out: &mut Vec<Instr>) -> Result<(), JitError> {
        self.op_here(v, op, out).map_err(|e| match e {
            JitError::Unsupported { op, at: None } => JitError::Unsupported { op, at: Some(v) },
            other => other,
        })
    }

    fn op_here(&mut self, v: Value, op: &Op, out: &mut Vec<Instr>) -> Result<(), JitError> {
        // Values of the open group that this op reads must be stored first.
        if !matches!(op, Op::Binary(..) | Op::Unary(..)) {
            let reads_group = match &self.group {
                Some(g) => {
                    op.operands().iter().any(|x| g.member_of.contains_key(x))
                        || !op.regions().is_empty()
                }
                None => false,
            };
            if reads_group {
                self.close_group(out);
            }
        }
        let ty = self.func.types[v].clone();
        let r = match op {
            Op::Param(p) => Repr::Tensor {
                loc: Loc::Param(self.param_offsets[p.index()]),
                batched: false,
                shape: self.func.params[*p].shape.clone(),
            },
            Op::Input(i) => self.input(*i as usize, &mut Vec::new(), &ty)?,
            Op::Const(t) => self.constant(&t.shape, t.data.clone()),
            Op::Zeros(t) => self.zeros(t)?,
            Op::Binary(o, a, b) => {
                if self.sum_only(v) {
                    let (ra, rb) = (self.repr_or_close(*a, out)?, self.repr_or_close(*b, out)?);
                    if matches!(ra, Repr::Summed { .. }) || matches!(rb, Repr::Summed { .. }) {
                        let shape = ty.shape().expect("binary is a tensor").to_vec();
                        let (pa, pb) = (self.part(&ra)?, self.part(&rb)?);
                        if matches!(o, BinOp::Add | BinOp::Sub)
                            && pa.size == size(&shape)
                            && pb.size == size(&shape)
                        {
                            let dst = self.buf();
                            out.push(Instr::SumCombine {
                                a: pa,
                                b: pb,
                                sub: *o == BinOp::Sub,
                                dst,
                            });
                            self.set(v, Repr::Summed { buf: dst, shape });
                            return Ok(());
                        }
                        return unsupported("a summed gradient used by a non-linear op");
                    }
                }
                return self.elementwise(v, op, out);
            }
            Op::Unary(..) => return self.elementwise(v, op, out),
            Op::Contract { a, b, axes } => self.contract(v, *a, *b, *axes as usize, out)?,
            Op::Permute { x, perm } => self.permute(v, *x, perm, out)?,
            Op::Reduce { op: ro, x, axis } => {
                let shape = self.tensor_shape(*x)?;
                self.row(
                    v,
                    RowOp::Reduce {
                        op: *ro,
                        shape,
                        axis: *axis,
                    },
                    &[*x],
                    out,
                )?
            }
            Op::Expand { x, axis, n } => {
                let shape = ty.shape().expect("tensor").to_vec();
                self.row(
                    v,
                    RowOp::Expand {
                        shape,
                        axis: *axis as usize,
                        n: *n as usize,
                    },
                    &[*x],
                    out,
                )?
            }
            Op::BroadcastTo { x, shape } => {
                self.row(v, RowOp::BroadcastTo { out: size(shape) }, &[*x], out)?
            }
            Op::SumTo { x, shape } => self.row(v, RowOp::SumTo { out: size(shape) }, &[*x], out)?,
            Op::Softmax(x) => self.row(v, RowOp::Softmax, &[*x], out)?,
            Op::LogSoftmax(x) => self.row(v, RowOp::LogSoftmax, &[*x], out)?,
            Op::Norm { x, .. } => {
                let keep_size = size(ty.shape().expect("tensor"));
                self.row(v, RowOp::Norm { keep_size }, &[*x], out)?
            }
            Op::NormGrad { x, y, g } => self.row(v, RowOp::NormGrad, &[*x, *y, *g], out)?,
            Op::MaxGrad { x, g, axis } => {
                let shape = self.tensor_shape(*x)?;
                self.row(v, RowOp::MaxGrad { shape, axis: *axis }, &[*x, *g], out)?
            }
            Op::Concat(a, b) => self.row(v, RowOp::Concat, &[*a, *b], out)?,
            Op::Slice { x, start, len } => self.row(
                v,
                RowOp::Slice {
                    start: *start as usize,
                    len: *len as usize,
                },
                &[*x],
                out,
            )?,
            Op::BasisExpand { coeffs, basis } => {
                let table = self.table(*basis);
                self.row(v, RowOp::BasisExpand { table }, &[*coeffs], out)?
            }
            Op::BasisProject { x, basis } => self.basis_project(v, *x, *basis, out)?,
            Op::Tuple(vs) => {
                Repr::Tuple(vs.iter().map(|x| self.repr(*x)).collect::<Result<_, _>>()?)
            }
            Op::Get(t, i) => match self.repr(*t)? {
                Repr::Tuple(rs) => rs[*i as usize].clone(),
                _ => return Err(JitError::Internal(format!("get of a non-tuple at {v}"))),
            },
            Op::Loss {
                kind,
                out: o,
                target,
            } => self.loss(*kind, *o, *target, None, out)?,
            Op::LossGrad {
                kind,
                out: o,
                target,
                seed,
            } => self.loss(*kind, *o, *target, Some(*seed), out)?,
            Op::Fold(f) => self.fold(f, out)?,
            Op::FoldBackward(f) => self.fold_backward(f, out)?,
            Op::Unfold(u) => self.unfold(u, out)?,
            Op::UnfoldBackward(u) => self.unfold_backward(u, out)?,
        };
        self.set(v, r);
        Ok(())
    }

    /// The representation of the component at `path` of input `i`, of type
    /// `ty`: a tuple input is a tuple of its leaves' representations.
    fn input(&self, i: usize, path: &mut Vec<usize>, ty: &Type) -> Result<Repr, JitError> {
        if let Type::Tuple(ts) = ty {
            let mut rs = Vec::with_capacity(ts.len());
            for (k, t) in ts.iter().enumerate() {
                path.push(k);
                rs.push(self.input(i, path, t)?);
                path.pop();
            }
            return Ok(Repr::Tuple(rs));
        }
        let leaf = self
            .leaves
            .iter()
            .position(|l| l.input == i && l.path == *path)
            .ok_or_else(|| JitError::Internal(format!("input {i} has no leaf at {path:?}")))?;
        Ok(match ty {
            Type::Tensor(s) => Repr::Tensor {
                loc: Loc::Input(leaf),
                batched: true,
                shape: s.clone(),
            },
            Type::Data(_) => Repr::Data(leaf),
            Type::Class(_) => Repr::Class { input: leaf },
            Type::Seq(e) if matches!(**e, Type::Class(_) | Type::Tensor(_)) => {
                Repr::SeqTarget { input: leaf }
            }
            other => return unsupported(format!("an input of type {}", self.type_name(other))),
        })
    }

    /// `ty` as the IR's text form writes it (`List(R[2])`), for messages.
    fn type_name(&self, ty: &Type) -> String {
        cdlc_ir::print::type_name(self.module, ty)
    }

    /// The representation of `x`, closing the open group if `x` is in it.
    fn repr_or_close(&mut self, x: Value, out: &mut Vec<Instr>) -> Result<Repr, JitError> {
        if self
            .group
            .as_ref()
            .is_some_and(|g| g.member_of.contains_key(&x))
        {
            self.close_group(out);
        }
        self.repr(x)
    }

    fn tensor_shape(&self, x: Value) -> Result<Vec<usize>, JitError> {
        match &self.func.types[x] {
            Type::Tensor(s) => Ok(s.clone()),
            other => unsupported(format!("a tensor op on {other:?}")),
        }
    }

    /// A tensor value as one flattened part.
    fn part(&self, r: &Repr) -> Result<Part, JitError> {
        match r {
            Repr::Tensor {
                loc,
                batched,
                shape,
            } => Ok(Part {
                loc: *loc,
                kind: if *batched {
                    PartKind::Batched
                } else {
                    PartKind::Uniform
                },
                size: size(shape),
            }),
            Repr::Summed { buf, shape } => Ok(Part {
                loc: Loc::Buf(*buf),
                kind: PartKind::Summed,
                size: size(shape),
            }),
            other => Err(JitError::Internal(format!("not a tensor: {other:?}"))),
        }
    }

    /// A value as flattened parts (transposed views are materialized).
    fn flatten(&mut self, r: &Repr, out: &mut Vec<Instr>) -> Result<Vec<Part>, JitError> {
        match r {
            Repr::Tuple(rs) => {
                let mut parts = Vec::new();
                for r in rs {
                    parts.extend(self.flatten(r, out)?);
                }
                Ok(parts)
            }
            Repr::Transposed { .. } => {
                let t = self.materialize(r, out)?;
                Ok(vec![self.part(&t)?])
            }
            r => Ok(vec![self.part(r)?]),
        }
    }

    /// A plain tensor for a transposed view.
    fn materialize(&mut self, r: &Repr, out: &mut Vec<Instr>) -> Result<Repr, JitError> {
        match r {
            Repr::Transposed {
                loc,
                batched,
                rows,
                cols,
                shape,
            } => {
                let dst = self.buf();
                out.push(Instr::Row {
                    op: RowOp::Permute {
                        map: Arc::new(permute_map(&[*rows, *cols], &[1, 0])),
                    },
                    ins: vec![(*loc, *batched, rows * cols)],
                    dst,
                    out_size: rows * cols,
                    batched: *batched,
                });
                Ok(Repr::Tensor {
                    loc: Loc::Buf(dst),
                    batched: *batched,
                    shape: shape.clone(),
                })
            }
            Repr::Summed { .. } => unsupported("a summed gradient used by a non-linear op"),
            r => Ok(r.clone()),
        }
    }

    /// A tensor operand's location, batching and size.
    fn operand(&mut self, x: Value, out: &mut Vec<Instr>) -> Result<(Loc, bool, usize), JitError> {
        let r = self.repr_or_close(x, out)?;
        let r = self.materialize(&r, out)?;
        match r {
            Repr::Tensor {
                loc,
                batched,
                shape,
            } => Ok((loc, batched, size(&shape))),
            other => unsupported(format!("a tensor op on {other:?}")),
        }
    }

    fn row(
        &mut self,
        v: Value,
        op: RowOp,
        xs: &[Value],
        out: &mut Vec<Instr>,
    ) -> Result<Repr, JitError> {
        let mut ins = Vec::new();
        for &x in xs {
            ins.push(self.operand(x, out)?);
        }
        let batched = ins.iter().any(|i| i.1);
        let shape = self.tensor_shape(v)?;
        let dst = self.buf();
        out.push(Instr::Row {
            op,
            ins,
            dst,
            out_size: size(&shape),
            batched,
        });
        Ok(Repr::Tensor {
            loc: Loc::Buf(dst),
            batched,
            shape,
        })
    }

    // ----- elementwise fusion -----

    fn elementwise(&mut self, v: Value, op: &Op, out: &mut Vec<Instr>) -> Result<(), JitError> {
        let shape = self.tensor_shape(v)?;
        let n = size(&shape);
        let operands = op.operands();
        // Batching of the result.
        let mut batched = false;
        for &x in &operands {
            batched |= match self.group.as_ref().and_then(|g| g.member_of.get(&x)) {
                Some(_) => self.group.as_ref().expect("member").batched,
                None => match self.repr(x)? {
                    Repr::Tensor { batched, .. } => batched,
                    Repr::Transposed { batched, .. } => batched,
                    other => return unsupported(format!("elementwise op on {other:?}")),
                },
            };
        }
        let fits = self
            .group
            .as_ref()
            .is_some_and(|g| g.n == n && g.batched == batched);
        if !fits {
            self.close_group(out);
            self.group = Some(Group {
                n,
                batched,
                inputs: Vec::new(),
                input_of: HashMap::new(),
                ops: Vec::new(),
                members: Vec::new(),
                member_of: HashMap::new(),
                inner_uses: HashMap::new(),
            });
        }
        let mut args = Vec::new();
        for &x in &operands {
            let member = self
                .group
                .as_ref()
                .and_then(|g| g.member_of.get(&x).copied());
            let idx = match member {
                Some(i) => {
                    *self
                        .group
                        .as_mut()
                        .expect("open")
                        .inner_uses
                        .entry(x)
                        .or_insert(0) += 1;
                    i
                }
                None => {
                    let r = self.repr(x)?;
                    let mut r = self.materialize(&r, out)?;
                    let Repr::Tensor { shape: xs, .. } = &r else {
                        return unsupported("elementwise op on a non-tensor");
                    };
                    let xn = size(xs);
                    if xn != n && xn != 1 {
                        // Prefix broadcasting with repeats: materialize.
                        let (loc, xb) = match &r {
                            Repr::Tensor { loc, batched, .. } => (*loc, *batched),
                            _ => unreachable!("checked above"),
                        };
                        let dst = self.buf();
                        out.push(Instr::Row {
                            op: RowOp::BroadcastTo { out: n },
                            ins: vec![(loc, xb, xn)],
                            dst,
                            out_size: n,
                            batched: xb,
                        });
                        r = Repr::Tensor {
                            loc: Loc::Buf(dst),
                            batched: xb,
                            shape: shape.clone(),
                        };
                    }
                    let Repr::Tensor {
                        loc,
                        batched: xb,
                        shape: xs,
                    } = r
                    else {
                        unreachable!("a tensor")
                    };
                    let kind = if size(&xs) == n {
                        InKind::Full { batched: xb }
                    } else {
                        InKind::Scalar { batched: xb }
                    };
                    let g = self.group.as_mut().expect("open");
                    let key = (loc, kind);
                    match g.input_of.get(&key) {
                        Some(&op) => op,
                        None => {
                            g.inputs.push(key);
                            g.ops.push(KOp::Input(g.inputs.len() - 1));
                            g.input_of.insert(key, g.ops.len() - 1);
                            g.ops.len() - 1
                        }
                    }
                }
            };
            args.push(idx);
        }
        let g = self.group.as_mut().expect("open");
        let kop = match op {
            Op::Binary(o, ..) => KOp::Bin(*o, args[0], args[1]),
            Op::Unary(o, _) => KOp::Un(*o, args[0]),
            _ => unreachable!("only elementwise ops"),
        };
        g.ops.push(kop);
        let i = g.ops.len() - 1;
        g.members.push((v, i));
        g.member_of.insert(v, i);
        Ok(())
    }

    fn close_group(&mut self, out: &mut Vec<Instr>) {
        let Some(g) = self.group.take() else {
            return;
        };
        let mut outputs = Vec::new();
        let mut locs: Vec<Loc> = g.inputs.iter().map(|(l, _)| *l).collect();
        for &(v, i) in &g.members {
            let inner = g.inner_uses.get(&v).copied().unwrap_or(0);
            if self.uses[v.index()].len() > inner {
                let buf = self.buf();
                outputs.push(i);
                locs.push(Loc::Buf(buf));
                let shape = self.func.types[v]
                    .shape()
                    .expect("elementwise values are tensors")
                    .to_vec();
                self.set(
                    v,
                    Repr::Tensor {
                        loc: Loc::Buf(buf),
                        batched: g.batched,
                        shape,
                    },
                );
            }
        }
        if outputs.is_empty() {
            return;
        }
        let kernel = self.kernels.len();
        let n_out = outputs.len();
        let steps = g
            .inputs
            .iter()
            .map(|(_, k)| match k {
                InKind::Full { batched: true } => g.n,
                InKind::Scalar { batched: true } => 1,
                _ => 0,
            })
            .chain(std::iter::repeat_n(g.n, n_out))
            .collect();
        self.kernels.push(KernelSpec {
            n: g.n,
            inputs: g.inputs.iter().map(|(_, k)| *k).collect(),
            ops: g.ops,
            outputs,
        });
        out.push(Instr::Elementwise {
            kernel,
            locs,
            steps,
            n_out,
            batched: g.batched,
        });
    }

    // ----- contractions -----

    /// `permute(x, perm)`: the identity is `x` itself; a rotation of the
    /// axes whose every use is a product in the same block is a transposed
    /// view (a stride change for the GEMM); anything else is a row op
    /// through an index map computed here.
    fn permute(
        &mut self,
        v: Value,
        x: Value,
        perm: &[u32],
        out: &mut Vec<Instr>,
    ) -> Result<Repr, JitError> {
        let rx = self.repr(x)?;
        let sx = self.tensor_shape(x)?;
        let n = perm.len();
        if let Repr::Tensor { .. } = rx
            && perm.iter().enumerate().all(|(i, &p)| p as usize == i)
        {
            return Ok(rx);
        }
        let rotation = (1..n).find(|&p| {
            perm.iter()
                .enumerate()
                .all(|(i, &q)| q as usize == (i + p) % n)
        });
        if let (
            Repr::Tensor {
                loc,
                batched,
                shape: _,
            },
            Some(p),
        ) = (&rx, rotation)
        {
            let here = self.block_of.get(&v).copied();
            let feeds_products = self.uses[v.index()].iter().all(|u| match u {
                Use::Op(t, _) => {
                    matches!(self.func.op(*t), Some(Op::Contract { .. }))
                        // A batched view must not cross into a region,
                        // which gathers the batched values it reads.
                        && (!batched || self.block_of.get(t).copied() == here)
                }
                Use::Result => false,
            });
            if feeds_products {
                return Ok(Repr::Transposed {
                    loc: *loc,
                    batched: *batched,
                    rows: size(&sx[..p]),
                    cols: size(&sx[p..]),
                    shape: self.tensor_shape(v)?,
                });
            }
        }
        let map = Arc::new(permute_map(&sx, perm));
        self.row(v, RowOp::Permute { map }, &[x], out)
    }

    fn table(&mut self, basis: BasisId) -> Arc<BasisTable> {
        let b = &self.module.bases[basis];
        self.tables
            .entry(basis)
            .or_insert_with(|| Arc::new(BasisTable::new(size(&b.shape), &b.elements)))
            .clone()
    }

    /// `basis_project(x)`; when only its sum over the rows is used, the rows
    /// of `x` are summed first (or already are) and projected once.
    fn basis_project(
        &mut self,
        v: Value,
        x: Value,
        basis: BasisId,
        out: &mut Vec<Instr>,
    ) -> Result<Repr, JitError> {
        let table = self.table(basis);
        let op = RowOp::BasisProject { table };
        if self.sum_only(v) {
            let rx = self.repr_or_close(x, out)?;
            let summed = match rx {
                Repr::Summed { buf, .. } => Some(buf),
                Repr::Tensor {
                    loc,
                    batched: true,
                    ref shape,
                } => {
                    let dst = self.buf();
                    out.push(Instr::SumRows {
                        src: loc,
                        size: size(shape),
                        dst,
                    });
                    Some(dst)
                }
                _ => None,
            };
            if let Some(src) = summed {
                let shape = self.tensor_shape(v)?;
                let dst = self.buf();
                out.push(Instr::Row {
                    op,
                    ins: vec![(Loc::Buf(src), false, size(&self.tensor_shape(x)?))],
                    dst,
                    out_size: size(&shape),
                    batched: false,
                });
                return Ok(Repr::Summed { buf: dst, shape });
            }
        }
        self.row(v, op, &[x], out)
    }

    fn contract(
        &mut self,
        v: Value,
        a: Value,
        b: Value,
        axes: usize,
        out: &mut Vec<Instr>,
    ) -> Result<Repr, JitError> {
        let mut ra = self.repr_or_close(a, out)?;
        let mut rb = self.repr_or_close(b, out)?;
        let sa = self.tensor_shape(a)?;
        let sb = self.tensor_shape(b)?;
        let i = size(&sa[..sa.len() - axes]);
        let k = size(&sa[sa.len() - axes..]);
        let j = size(&sb[axes..]);
        let shape = self.tensor_shape(v)?;
        // A transposed view `[cols, rows]` serves as `A [i, k]` when
        // `cols = i` and as `B [k, j]` when `cols = k`; otherwise it is
        // materialized.
        if matches!(ra, Repr::Transposed { cols, .. } if cols != i) {
            ra = self.materialize(&ra, out)?;
        }
        if matches!(rb, Repr::Transposed { cols, .. } if cols != k) {
            rb = self.materialize(&rb, out)?;
        }
        // A summed operand holds the sum over the rows of a value whose
        // uses are all summed (`sum_only`); the product is linear in it, so
        // the product of the sum is the sum of the products.
        let summed = matches!(ra, Repr::Summed { .. }) || matches!(rb, Repr::Summed { .. });
        let mut ops = Vec::new();
        for r in [&ra, &rb] {
            match r {
                Repr::Tensor { loc, batched, .. } => ops.push((*loc, *batched, false)),
                Repr::Transposed { loc, batched, .. } => ops.push((*loc, *batched, true)),
                Repr::Summed { buf, .. } => ops.push((Loc::Buf(*buf), false, false)),
                _ => return unsupported(format!("a product of {r:?}")),
            }
        }
        let [(mut la, ba, ta), (mut lb, bb, tb)] = [ops[0], ops[1]];
        if summed && (ba || bb) {
            return unsupported("a summed gradient times a per-row value");
        }
        let mat = mat_of;
        let (am, bm) = (mat(la, ta, i, k), mat(lb, tb, k, j));
        let fixed = |x: usize| Dim {
            fixed: x,
            rows: false,
        };
        let rows = |x: usize| Dim {
            fixed: x,
            rows: true,
        };
        // The result is only ever summed over the rows and one operand is
        // per row: sum that operand first, `Σ_r A_r B = (Σ_r A_r) B`.
        if ba != bb && !summed && self.sum_only(v) {
            let (loc, len) = if ba {
                (&mut la, i * k)
            } else {
                (&mut lb, k * j)
            };
            let dst = self.buf();
            out.push(Instr::SumRows {
                src: *loc,
                size: len,
                dst,
            });
            *loc = Loc::Buf(dst);
            let (am, bm) = (mat(la, ta, i, k), mat(lb, tb, k, j));
            let dst = self.buf();
            out.push(Instr::Gemm {
                m: fixed(i),
                k: fixed(k),
                n: fixed(j),
                a: am,
                b: bm,
                c: Mat {
                    loc: Loc::Buf(dst),
                    rs: j,
                    cs: 1,
                },
                c_buf: dst,
                c_len: fixed(i * j),
                per_row: None,
            });
            return Ok(Repr::Summed { buf: dst, shape });
        }
        let dst = self.buf();
        let c = Mat {
            loc: Loc::Buf(dst),
            rs: j,
            cs: 1,
        };
        let gemm = |m, kk, n, am, bm, c, c_len, per_row| Instr::Gemm {
            m,
            k: kk,
            n,
            a: am,
            b: bm,
            c,
            c_buf: dst,
            c_len,
            per_row,
        };
        let (instr, result_batched) = match (ba, bb) {
            (false, false) => (
                gemm(fixed(i), fixed(k), fixed(j), am, bm, c, fixed(i * j), None),
                false,
            ),
            // C[rows, i] = B[rows, k] Aᵀ
            (false, true) if j == 1 && !tb => (
                gemm(
                    rows(1),
                    fixed(k),
                    fixed(i),
                    mat(lb, false, 1, k),
                    self.transposed_operand(la, ta, i, k),
                    Mat {
                        loc: Loc::Buf(dst),
                        rs: i,
                        cs: 1,
                    },
                    rows(i),
                    None,
                ),
                true,
            ),
            // C[rows·i, j] = A[rows·i, k] B
            (true, false) if !ta => (
                gemm(rows(i), fixed(k), fixed(j), am, bm, c, rows(i * j), None),
                true,
            ),
            // Σ_r A_r B_r with A_r = X_rᵀ (`X_r` is `[k, i]`: a transposed
            // view, or any `[i, 1]` column) is Xᵀ B over the stacked rows:
            // one GEMM with the rows in the inner dimension (for `k = 1`
            // the sum of outer products).
            (true, true) if !tb && (ta || k == 1) && self.sum_only(v) => {
                out.push(gemm(
                    fixed(i),
                    rows(k),
                    fixed(j),
                    Mat {
                        loc: la,
                        rs: 1,
                        cs: i,
                    },
                    bm,
                    c,
                    fixed(i * j),
                    None,
                ));
                return Ok(Repr::Summed { buf: dst, shape });
            }
            // One GEMM per row, accumulated into one product when the
            // result is only ever summed over the rows.
            _ if self.sum_only(v) => {
                out.push(gemm(
                    fixed(i),
                    fixed(k),
                    fixed(j),
                    am,
                    bm,
                    c,
                    fixed(i * j),
                    Some([if ba { i * k } else { 0 }, if bb { k * j } else { 0 }, 0]),
                ));
                return Ok(Repr::Summed { buf: dst, shape });
            }
            // One GEMM per row.
            _ => (
                gemm(
                    fixed(i),
                    fixed(k),
                    fixed(j),
                    am,
                    bm,
                    c,
                    rows(i * j),
                    Some([
                        if ba { i * k } else { 0 },
                        if bb { k * j } else { 0 },
                        i * j,
                    ]),
                ),
                true,
            ),
        };
        out.push(instr);
        if summed {
            return Ok(Repr::Summed { buf: dst, shape });
        }
        Ok(Repr::Tensor {
            loc: Loc::Buf(dst),
            batched: result_batched,
            shape,
        })
    }

    /// `Aᵀ` as the right operand of a product, for `A [i, k]` at `loc`
    /// (row-major, or a transposed view when `t`). A row-major parameter
    /// seen transposed is column-major, which the GEMM packs element by
    /// element; inside a region, where the product runs once per level or
    /// step, it is copied transposed once per call (the parameters do not
    /// change during a call) and read row-major.
    fn transposed_operand(&mut self, loc: Loc, t: bool, i: usize, k: usize) -> Mat {
        if t || self.depth == 0 || !matches!(loc, Loc::Param(_)) {
            let a = mat_of(loc, t, i, k);
            return Mat {
                loc,
                rs: a.cs,
                cs: a.rs,
            };
        }
        let buf = match self.transposed_params.get(&(loc, i, k)) {
            Some(&b) => b,
            None => {
                let b = self.buf();
                self.prologue.push(Instr::Row {
                    op: RowOp::Permute {
                        map: Arc::new(permute_map(&[i, k], &[1, 0])),
                    },
                    ins: vec![(loc, false, i * k)],
                    dst: b,
                    out_size: i * k,
                    batched: false,
                });
                self.transposed_params.insert((loc, i, k), b);
                b
            }
        };
        Mat {
            loc: Loc::Buf(buf),
            rs: i,
            cs: 1,
        }
    }

    // ----- losses -----

    fn loss(
        &mut self,
        kind: cdlc_ir::LossKind,
        o: Value,
        target: Value,
        seed: Option<Value>,
        out: &mut Vec<Instr>,
    ) -> Result<Repr, JitError> {
        let seed = match seed {
            Some(s) => {
                let (loc, b, n) = self.operand(s, out)?;
                if n != 1 {
                    return Err(JitError::Internal("a loss seed is a scalar".into()));
                }
                Some((loc, b))
            }
            None => None,
        };
        let ro = self.repr_or_close(o, out)?;
        let rt = self.repr(target)?;
        if let Repr::Seq {
            buf,
            size: n,
            unfold,
        } = ro
        {
            let Repr::SeqTarget { input } = rt else {
                return unsupported("a sequence loss against a computed target");
            };
            let dst = self.buf();
            return Ok(match seed {
                None => {
                    out.push(Instr::SeqLoss {
                        kind,
                        out: buf,
                        size: n,
                        unfold,
                        target: input,
                        dst,
                    });
                    Repr::Tensor {
                        loc: Loc::Buf(dst),
                        batched: true,
                        shape: Vec::new(),
                    }
                }
                Some(seed) => {
                    out.push(Instr::SeqLossGrad {
                        kind,
                        out: buf,
                        size: n,
                        unfold,
                        target: input,
                        seed,
                        dst,
                    });
                    Repr::Seq {
                        buf: dst,
                        size: n,
                        unfold,
                    }
                }
            });
        }
        let (loc, _, n) = self.operand(o, out)?;
        let target = match rt {
            Repr::Class { input } => TargetLoc::Class(input),
            Repr::Tensor { loc, batched, .. } => TargetLoc::Tensor(loc, batched),
            other => return unsupported(format!("a loss target {other:?}")),
        };
        let dst = self.buf();
        let shape = self.tensor_shape(o)?;
        Ok(match seed {
            None => {
                out.push(Instr::Loss {
                    kind,
                    out: loc,
                    size: n,
                    target,
                    dst,
                });
                Repr::Tensor {
                    loc: Loc::Buf(dst),
                    batched: true,
                    shape: Vec::new(),
                }
            }
            Some(seed) => {
                out.push(Instr::LossGrad {
                    kind,
                    out: loc,
                    size: n,
                    target,
                    seed,
                    dst,
                });
                Repr::Tensor {
                    loc: Loc::Buf(dst),
                    batched: true,
                    shape,
                }
            }
        })
    }

    // ----- recursion -----

    /// Batched buffers for a value of type `ty`: its representation and
    /// its flattened (buffer, size) components.
    fn alloc(&mut self, ty: &Type) -> Result<(Repr, Vec<(usize, usize)>), JitError> {
        match ty {
            Type::Tensor(s) => {
                let buf = self.buf();
                Ok((
                    Repr::Tensor {
                        loc: Loc::Buf(buf),
                        batched: true,
                        shape: s.clone(),
                    },
                    vec![(buf, size(s))],
                ))
            }
            Type::Tuple(ts) => {
                let mut rs = Vec::new();
                let mut flat = Vec::new();
                for t in ts {
                    let (r, f) = self.alloc(t)?;
                    rs.push(r);
                    flat.extend(f);
                }
                Ok((Repr::Tuple(rs), flat))
            }
            other => unsupported(format!(
                "a carrier or state of type {}",
                self.type_name(other)
            )),
        }
    }

    /// Batched views for a value of type `ty`.
    fn alloc_views(&mut self, ty: &Type) -> Result<(Repr, Vec<usize>), JitError> {
        match ty {
            Type::Tensor(s) => {
                let view = self.view();
                Ok((
                    Repr::Tensor {
                        loc: Loc::View(view),
                        batched: true,
                        shape: s.clone(),
                    },
                    vec![view],
                ))
            }
            Type::Tuple(ts) => {
                let mut rs = Vec::new();
                let mut flat = Vec::new();
                for t in ts {
                    let (r, f) = self.alloc_views(t)?;
                    rs.push(r);
                    flat.extend(f);
                }
                Ok((Repr::Tuple(rs), flat))
            }
            other => unsupported(format!(
                "a value of type {} in a region",
                self.type_name(other)
            )),
        }
    }

    fn fold_info(&mut self, f: &cdlc_ir::FoldOp) -> Result<(usize, Option<SeqElems>), JitError> {
        let (leaf, over_unfold, elems) = match self.reprs[f.input.index()] {
            Some(Repr::Data(leaf)) => (leaf, None, None),
            Some(Repr::Seq { buf, size, unfold })
                if f.split == Split::Structure && self.module.list_element(f.data).is_some() =>
            {
                let elems = SeqElems {
                    unfold,
                    seq: buf,
                    size,
                    gathered: self.buf(),
                    cotangents: self.buf(),
                };
                (0, Some(unfold), Some(elems))
            }
            Some(Repr::Seq { .. }) => {
                return unsupported("a hylomorphism over a computed sequence");
            }
            _ => return unsupported("a fold over a computed sequence (not a model input)"),
        };
        let def = &self.module.data[f.data];
        let mut field_sizes = Vec::new();
        for c in &def.ctors {
            let mut sizes = Vec::new();
            for fl in &c.fields {
                match fl {
                    Field::Rec => {}
                    Field::RecList => {
                        return unsupported("a fold over a rose tree (a list of children)");
                    }
                    Field::Plain(t) => {
                        if !tensor_components(t, &mut sizes) {
                            return unsupported(format!(
                                "a fold over a structure whose fields hold {} (a nested fold)",
                                self.type_name(t)
                            ));
                        }
                    }
                }
            }
            field_sizes.push(sizes);
        }
        self.folds.push(FoldInfo {
            decl: def.decl.clone(),
            halves: f.split == Split::Halves,
            input: leaf,
            over_unfold,
            field_sizes,
        });
        Ok((self.folds.len() - 1, elems))
    }

    /// Lowers one fold region: arguments from gathered children, prepared
    /// fields and (backward) the node's cotangent.
    fn case(
        &mut self,
        data: cdlc_ir::DataId,
        ctor: usize,
        block: Block,
        carrier: &Type,
        backward: bool,
        elements: bool,
    ) -> Result<CaseCode, JitError> {
        if self.depth > 0 {
            return unsupported("a recursion op inside a region");
        }
        let mut cc = CaseCode::default();
        let args = self.func.blocks[block].args.clone();
        let fields = self.module.data[data].ctors[ctor].fields.clone();
        for (f, &a) in fields.iter().zip(&args) {
            match f {
                Field::Rec => {
                    let (r, flat) = self.alloc(carrier)?;
                    cc.rec_args.push(flat.iter().map(|x| x.0).collect());
                    self.set(a, r);
                }
                Field::RecList => {
                    return unsupported("a fold over a rose tree (a list of children)");
                }
                Field::Plain(t) => {
                    let (r, views) = self.alloc_views(t)?;
                    cc.field_views.extend(views);
                    self.set(a, r);
                }
            }
        }
        if backward {
            let (r, views) = self.alloc_views(carrier)?;
            cc.ct_views = views;
            self.set(args[fields.len()], r);
        }
        self.region_captures(block, &mut cc.captures)?;
        self.depth += 1;
        let mut code = Vec::new();
        self.block(block, &mut code)?;
        self.depth -= 1;
        let r = self.repr(self.func.blocks[block].result.expect("verified"))?;
        cc.result = if backward {
            let Repr::Tuple(rs) = r else {
                return Err(JitError::Internal(
                    "a backward region yields a tuple".into(),
                ));
            };
            let mut parts: Vec<Vec<Part>> = rs
                .iter()
                .map(|r| self.flatten(r, &mut code))
                .collect::<Result<_, _>>()?;
            // The cotangents of plain fields (a computed list's element)
            // go after the captures' contributions, so that the recursive
            // fields' come first for the executor.
            let n_rec = fields
                .iter()
                .filter(|f| !matches!(f, Field::Plain(_)))
                .count();
            let n_ct = self
                .module
                .cotangent_fields(data, ctor, carrier, elements)
                .len();
            if n_ct > n_rec {
                let firsts: Vec<Vec<Part>> = parts.drain(..n_ct).collect();
                let (mut rec, mut elem) = (Vec::new(), Vec::new());
                for ((i, _), p) in self
                    .module
                    .cotangent_fields(data, ctor, carrier, elements)
                    .into_iter()
                    .zip(firsts)
                {
                    if matches!(fields[i], Field::Plain(_)) {
                        elem.push(p);
                    } else {
                        rec.push(p);
                    }
                }
                rec.extend(parts);
                rec.extend(elem);
                parts = rec;
            }
            parts
        } else {
            vec![self.flatten(&r, &mut code)?]
        };
        self.restore_captures(&cc.captures);
        cc.code = code;
        Ok(cc)
    }

    /// Batched outer values a fold region reads get local buffers gathered
    /// by example; their outer representations are saved to be restored.
    fn region_captures(
        &mut self,
        block: Block,
        caps: &mut Vec<(Loc, usize, usize)>,
    ) -> Result<(), JitError> {
        for x in self.func.free_values(&[block]) {
            if let Some(Repr::Tensor {
                loc,
                batched: true,
                shape,
            }) = self.reprs[x.index()].clone()
            {
                let buf = self.buf();
                caps.push((loc, size(&shape), buf));
                self.set(
                    x,
                    Repr::Tensor {
                        loc: Loc::Buf(buf),
                        batched: true,
                        shape,
                    },
                );
                self.saved.push((x, loc));
            } else if matches!(
                self.reprs[x.index()],
                Some(Repr::Seq { .. } | Repr::Summed { .. })
            ) {
                return unsupported("a sequence or gradient read inside a fold region");
            }
        }
        Ok(())
    }

    fn restore_captures(&mut self, caps: &[(Loc, usize, usize)]) {
        for _ in caps {
            let (x, loc) = self.saved.pop().expect("saved with the capture");
            if let Some(Repr::Tensor { loc: l, .. }) = &mut self.reprs[x.index()] {
                *l = loc;
            }
        }
    }

    fn fold(&mut self, f: &cdlc_ir::FoldOp, out: &mut Vec<Instr>) -> Result<Repr, JitError> {
        let (id, elems) = self.fold_info(f)?;
        let (_, carrier) = self.alloc(&f.carrier)?;
        let mut cases = Vec::new();
        for (c, &b) in f.cases.iter().enumerate() {
            cases.push(self.case(f.data, c, b, &f.carrier, false, false)?);
        }
        let (root_repr, root) = self.alloc(&f.carrier)?;
        self.fold_codes.insert(id, carrier.clone());
        self.fold_elems.insert(id, elems);
        out.push(Instr::Fold(Box::new(FoldCode {
            id,
            carrier,
            cases,
            root,
            elems,
        })));
        Ok(if f.record {
            Repr::Tuple(vec![root_repr, Repr::FoldTape(id)])
        } else {
            root_repr
        })
    }

    fn accumulators(&mut self, captures: &[Value]) -> Result<(Vec<Acc>, Vec<Repr>), JitError> {
        let mut acc = Vec::new();
        let mut reprs = Vec::new();
        for &c in captures {
            let Type::Tensor(shape) = self.func.types[c].clone() else {
                return unsupported("a captured value that is not a tensor");
            };
            let per_example = self.is_batched(c);
            let buf = self.buf();
            acc.push(Acc {
                buf,
                size: size(&shape),
                per_example,
            });
            reprs.push(if per_example {
                Repr::Tensor {
                    loc: Loc::Buf(buf),
                    batched: true,
                    shape,
                }
            } else {
                Repr::Summed { buf, shape }
            });
        }
        Ok((acc, reprs))
    }

    fn fold_backward(
        &mut self,
        f: &cdlc_ir::FoldBackwardOp,
        out: &mut Vec<Instr>,
    ) -> Result<Repr, JitError> {
        let Repr::FoldTape(id) = self.repr(f.tape)? else {
            return unsupported("fold_backward of a tape it cannot see");
        };
        let carrier = self.fold_codes[&id].clone();
        let rct = self.repr_or_close(f.cotangent, out)?;
        let root_ct = self.flatten(&rct, out)?;
        let (_, ct) = self.alloc(&f.carrier)?;
        let (acc, mut reprs) = self.accumulators(&f.captures)?;
        let elems = self.fold_elems.get(&id).copied().flatten();
        let mut cases = Vec::new();
        for (c, &b) in f.cases.iter().enumerate() {
            cases.push(self.case(f.data, c, b, &f.carrier, true, f.elements)?);
        }
        if f.elements {
            let Some(e) = elems else {
                return unsupported("the element cotangents of a fold over a model input");
            };
            reprs.push(Repr::Seq {
                buf: e.cotangents,
                size: e.size,
                unfold: e.unfold,
            });
        }
        out.push(Instr::FoldBackward(Box::new(FoldBackCode {
            id,
            carrier,
            ct,
            root_ct,
            cases,
            acc,
            elems,
        })));
        Ok(Repr::Tuple(reprs))
    }

    fn unfold_info(&mut self, u: &cdlc_ir::UnfoldOp) -> Result<usize, JitError> {
        let info = match u.source {
            Source::Over(xs) if matches!(self.reprs[xs.index()], Some(Repr::Seq { .. })) => {
                let Some(Repr::Seq { unfold, .. }) = self.reprs[xs.index()] else {
                    unreachable!("matched above")
                };
                UnfoldInfo::Seq(unfold)
            }
            Source::Over(xs) => {
                let Some(Repr::Data(leaf)) = self.reprs[xs.index()] else {
                    return unsupported("an unfold over a computed sequence (not a model input)");
                };
                let Type::Data(d) = &self.func.types[xs] else {
                    return Err(JitError::Internal("unfold over a non-list".into()));
                };
                let mut sizes = Vec::new();
                let elem = self.module.list_element(*d);
                if !elem.is_some_and(|t| tensor_components(t, &mut sizes)) {
                    return unsupported("an unfold over a list whose elements hold structures");
                }
                UnfoldInfo::Over { input: leaf, sizes }
            }
            Source::Take(k) => UnfoldInfo::Take(k as usize),
        };
        self.unfolds.push(info);
        Ok(self.unfolds.len() - 1)
    }

    /// Sets a step region's arguments to views: the state, then the list
    /// element for a Mealy unfold.
    fn step_args(
        &mut self,
        block: Block,
        state: &Type,
        input: Option<&Type>,
    ) -> Result<(Vec<usize>, Vec<ViewSize>), JitError> {
        let args = self.func.blocks[block].args.clone();
        let (r, state_views) = self.alloc_views(state)?;
        self.set(args[0], r);
        let mut x_views = Vec::new();
        if let Some(t) = input {
            let (r, v) = self.alloc_views(t)?;
            self.set(args[1], r);
            let mut sizes = Vec::new();
            if !tensor_components(t, &mut sizes) {
                return unsupported("an unfold over a list whose elements hold structures");
            }
            x_views = v.into_iter().zip(sizes).collect();
        }
        Ok((state_views, x_views))
    }

    fn unfold(&mut self, u: &cdlc_ir::UnfoldOp, out: &mut Vec<Instr>) -> Result<Repr, JitError> {
        if self.depth > 0 {
            return unsupported("a recursion op inside a region");
        }
        let id = self.unfold_info(u)?;
        let Type::Tensor(oshape) = &u.output else {
            return unsupported("an unfold whose outputs are not tensors");
        };
        let rinit = self.repr_or_close(u.init, out)?;
        let init = self.flatten(&rinit, out)?;
        let state_ty = self.func.types[u.init].clone();
        let (_, states) = self.alloc(&state_ty)?;
        let input_ty = match u.source {
            Source::Over(xs) => self.module.over_element(&self.func.types[xs]).cloned(),
            Source::Take(_) => None,
        };
        let x_seq = match u.source {
            Source::Over(xs) => match self.reprs[xs.index()] {
                Some(Repr::Seq { buf, size, .. }) => Some((buf, size)),
                _ => None,
            },
            Source::Take(_) => None,
        };
        self.unfold_seqs.insert(id, x_seq);
        let (state_views, x_views) = self.step_args(u.body, &state_ty, input_ty.as_ref())?;
        self.depth += 1;
        let mut body = Vec::new();
        self.block(u.body, &mut body)?;
        self.depth -= 1;
        let Repr::Tuple(rs) = self.repr(self.func.blocks[u.body].result.expect("verified"))? else {
            return Err(JitError::Internal("a step yields a pair".into()));
        };
        let result_out = self.flatten(&rs[0], &mut body)?[0];
        let result_state = self.flatten(&rs[1], &mut body)?;
        let outs = (self.buf(), size(oshape));
        self.unfold_codes.insert(id, states.clone());
        out.push(Instr::Unfold(Box::new(UnfoldCode {
            id,
            init,
            states,
            outs,
            body,
            state_views,
            x_views,
            x_seq,
            result_out,
            result_state,
        })));
        let seq = Repr::Seq {
            buf: outs.0,
            size: outs.1,
            unfold: id,
        };
        Ok(if u.record {
            Repr::Tuple(vec![seq, Repr::UnfoldTape(id)])
        } else {
            seq
        })
    }

    fn unfold_backward(
        &mut self,
        u: &cdlc_ir::UnfoldBackwardOp,
        out: &mut Vec<Instr>,
    ) -> Result<Repr, JitError> {
        if self.depth > 0 {
            return unsupported("a recursion op inside a region");
        }
        let Repr::UnfoldTape(id) = self.repr(u.tape)? else {
            return unsupported("unfold_backward of a tape it cannot see");
        };
        let Repr::Seq { buf, size: n, .. } = self.repr_or_close(u.cotangent, out)? else {
            return unsupported("unfold_backward of a computed cotangent");
        };
        let states = self.unfold_codes[&id].clone();
        let (acc, reprs) = self.accumulators(&u.captures)?;
        let (state_views, x_views) = self.step_args(u.body, &u.state, u.input.as_ref())?;
        let args = self.func.blocks[u.body].args.clone();
        let base = if u.input.is_some() { 2 } else { 1 };
        let (r, dv) = self.alloc_views(&u.output)?;
        self.set(args[base], r);
        let (r, dnext_views) = self.alloc_views(&u.state)?;
        self.set(args[base + 1], r);
        let (dinit, dnext) = self.alloc(&u.state)?;
        self.depth += 1;
        let mut body = Vec::new();
        self.block(u.body, &mut body)?;
        self.depth -= 1;
        let Repr::Tuple(rs) = self.repr(self.func.blocks[u.body].result.expect("verified"))? else {
            return Err(JitError::Internal("a backward step yields a tuple".into()));
        };
        let result_dstate = self.flatten(&rs[0], &mut body)?;
        let x_seq = self.unfold_seqs.get(&id).copied().flatten();
        let first_cap = 1 + usize::from(u.elements);
        let result_dx = match (u.elements, x_seq) {
            (false, _) => None,
            (true, Some((_, size))) => Some((self.flatten(&rs[1], &mut body)?[0], size)),
            (true, None) => {
                return unsupported("the element cotangents of an unfold over a model input");
            }
        };
        let mut result_caps = Vec::new();
        for r in &rs[first_cap..] {
            result_caps.push(self.flatten(r, &mut body)?);
        }
        let dx_buf = result_dx.map(|_| self.buf());
        out.push(Instr::UnfoldBackward(Box::new(UnfoldBackCode {
            id,
            states,
            dout: (buf, n),
            dnext,
            body,
            state_views,
            x_views,
            dout_view: dv[0],
            dnext_views,
            result_dstate,
            result_caps,
            acc,
            x_seq,
            result_dx: result_dx.zip(dx_buf).map(|((p, _), b)| (p, b)),
        })));
        let mut all = vec![dinit];
        all.extend(reprs);
        if let (Some((_, size)), Some(buf)) = (result_dx, dx_buf) {
            all.push(Repr::Seq {
                buf,
                size,
                unfold: id,
            });
        }
        Ok(Repr::Tuple(all))
    }
}
