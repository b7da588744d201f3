//! A fold's backward region reads the node's own carrier in place.
//!
//! The reverse derivative builds each backward region by recomputing the
//! forward case from the node's arguments and then walking it backward
//! (`cdlc_ir::autodiff`). Part of what it recomputes is the node's own
//! result, which the forward fold already wrote to the carrier's rows of
//! the group's nodes: an Elman cell's backward recomputes `tanh(W s + U x +
//! b)`, two products per node, only to take the derivative of `tanh` from
//! it. Here the backward values that recompute the forward result (or a
//! component of a tuple result), found by `Function::recomputed`, are bound
//! to views of those carrier rows instead, and the region lowers only the
//! ops its result still needs (`Function::live_insts_given`), so the
//! recomputation and everything only it read are never run. The numbers do
//! not change: every op is pure, so the carrier holds the value the
//! region would have computed again, up to the rounding of a product the
//! forward fused differently.
//!
//! The carrier is not all a backward region may need: a gated cell's
//! derivative reads its gates (`σ(W h + b)`, `tanh(U h + b)`), which the
//! recomputation gets from products. When the region, given the carrier,
//! would still recompute a product, the forward fold also keeps, per node,
//! the values of its region that the backward reads where its
//! recomputation ends (`plan_saves`: the gates, not the products behind
//! them), in *slots* of node-sized buffers beside the carrier, and the
//! backward region reads them through views of the group's rows. A slot
//! holds one value per node; cases share slots of one size, since a node
//! belongs to one case.

use std::collections::HashSet;

use super::*;

/// Where a fold's regions kept the values its backward regions read.
#[derive(Clone, Debug, Default)]
pub(super) struct Saved {
    /// (buffer over the nodes, size) per slot.
    pub slots: Vec<(usize, usize)>,
    /// Per constructor, each kept forward value and its slot.
    pub cases: Vec<Vec<(Value, usize)>>,
}

impl Lowerer<'_> {
    /// Decides, for every recorded fold whose backward this function runs,
    /// which values of each forward region the fold keeps per node
    /// (`saves`), and marks them used so that the region stores them.
    pub(super) fn plan_saves(&mut self) {
        let mut pairs = Vec::new();
        for (_, data) in self.func.blocks.iter() {
            for &v in &data.insts {
                let Some(Op::FoldBackward(fb)) = self.func.op(v) else {
                    continue;
                };
                let Some(&Op::Get(x, 1)) = self.func.op(fb.tape) else {
                    continue;
                };
                if let Some(Op::Fold(f)) = self.func.op(x) {
                    pairs.extend(f.cases.iter().copied().zip(fb.cases.iter().copied()));
                }
            }
        }
        for (fwd, bwd) in pairs {
            let keep = self.to_keep(fwd, bwd);
            for &x in &keep {
                self.uses[x.index()].push(Use::Result);
            }
            if !keep.is_empty() {
                self.saves.insert(fwd, keep);
            }
        }
    }

    /// The tensor values of forward region `fwd`, other than its result's
    /// components and its arguments' components, that backward region
    /// `bwd` reads where its recomputation of `fwd` ends; none when, given
    /// the carrier, the recomputation runs no product (an Elman cell:
    /// reading the carrier leaves nothing costly to recompute).
    fn to_keep(&self, fwd: Block, bwd: Block) -> Vec<Value> {
        let Some(result) = self.func.blocks[fwd].result else {
            return Vec::new();
        };
        let pairs = self.func.recomputed(fwd, bwd);
        let parts = self.result_parts(result);
        let own: HashSet<Value> = parts.iter().filter_map(|v| pairs.get(v).copied()).collect();
        let recomputed: HashSet<Value> = pairs.values().copied().collect();
        let product = self.func.live_insts_given(bwd, &own).iter().any(|v| {
            recomputed.contains(v) && matches!(self.func.op(*v), Some(Op::Contract { .. }))
        });
        if !product {
            return Vec::new();
        }
        let mut read: HashSet<Value> = self.func.blocks[bwd].result.into_iter().collect();
        for v in self.func.live_insts_given(bwd, &recomputed) {
            let op = self.func.op(v).expect("verified: insts are ops");
            read.extend(op.operands());
            read.extend(self.func.free_values(&op.regions()));
        }
        self.func.blocks[fwd]
            .insts
            .iter()
            .copied()
            .filter(|x| !parts.contains(x) && matches!(self.func.types[*x], Type::Tensor(_)))
            // A component of an argument (a child's state) costs nothing
            // to read again.
            .filter(|x| !matches!(self.func.op(*x), Some(Op::Get(..))))
            .filter(|x| pairs.get(x).is_some_and(|b| read.contains(b)))
            .collect()
    }

    /// After forward region `block` of fold `fold` (constructor `ctor`) is
    /// lowered: the values it keeps for the backward, as parts in slots
    /// of the fold's `saved` buffers (a slot of their size no earlier value
    /// of this case took, else a new one). A value the region did not
    /// leave as one batched tensor is not kept; the backward recomputes it.
    pub(super) fn keep_saves(&mut self, fold: usize, ctor: usize, block: Block, cc: &mut CaseCode) {
        let keep = self.saves.get(&block).cloned().unwrap_or_default();
        let mut saved = self.fold_saved.remove(&fold).unwrap_or_default();
        let mut taken = Vec::new();
        let mut kept = Vec::new();
        for x in keep {
            let Some(r @ Repr::Tensor { batched: true, .. }) = &self.reprs[x.index()] else {
                continue;
            };
            let Some(part) = r.part() else { continue };
            let free = (0..saved.slots.len())
                .find(|&s| saved.slots[s].1 == part.size && !taken.contains(&s));
            let slot = free.unwrap_or_else(|| {
                saved.slots.push((self.buf(), part.size));
                saved.slots.len() - 1
            });
            taken.push(slot);
            kept.push((x, slot));
            cc.saves.push((part, slot));
        }
        if saved.cases.len() <= ctor {
            saved.cases.resize(ctor + 1, Vec::new());
        }
        saved.cases[ctor] = kept;
        self.fold_saved.insert(fold, saved);
    }

    /// Binds the values of backward region `block` (of fold `fold`, for
    /// constructor `ctor`) that recompute the forward result or one of its
    /// components to views of the node's own carrier, recorded in `cc`; the
    /// values bound, which the region need not compute.
    pub(super) fn bind_own(
        &mut self,
        fold: usize,
        ctor: usize,
        block: Block,
        carrier: &Type,
        cc: &mut CaseCode,
    ) -> Result<HashSet<Value>, JitError> {
        let forward = self.fold_blocks.get(&fold).and_then(|b| b.get(ctor));
        let (true, Some(&forward)) = (self.own, forward) else {
            return Ok(HashSet::new());
        };
        let Some(result) = self.func.blocks[forward].result else {
            return Ok(HashSet::new());
        };
        let pairs = self.func.recomputed(forward, block);
        // The backward values that recompute the result or a component of
        // it, or a value the forward fold kept; a region that reads none
        // of them keeps no views.
        let kept: Vec<(Value, usize)> = self
            .fold_saved
            .get(&fold)
            .and_then(|s| s.cases.get(ctor))
            .map(|c| {
                c.iter()
                    .filter_map(|&(x, slot)| pairs.get(&x).map(|&b| (b, slot)))
                    .collect()
            })
            .unwrap_or_default();
        let mut given: HashSet<Value> = self
            .result_parts(result)
            .iter()
            .filter_map(|v| pairs.get(v).copied())
            .collect();
        given.extend(kept.iter().map(|k| k.0));
        if given.is_empty() || !self.reads_any(block, &given) {
            return Ok(HashSet::new());
        }
        for (b, slot) in kept {
            let view = self.view();
            let shape = self.tensor_shape(b)?;
            self.set(
                b,
                Repr::Tensor {
                    loc: Loc::View(view),
                    batched: true,
                    shape,
                },
            );
            cc.saved_views.push((view, slot));
        }
        let (repr, views) = self.alloc_views(carrier)?;
        let mut parts = vec![(result, repr)];
        while let Some((v, r)) = parts.pop() {
            if let Some(&b) = pairs.get(&v) {
                self.set(b, r.clone());
            }
            if let (Some(Op::Tuple(vs)), Repr::Tuple(rs)) = (self.func.op(v), r) {
                parts.extend(vs.iter().copied().zip(rs));
            }
        }
        cc.own_views = views;
        Ok(given)
    }

    /// `v` and, through `tuple` ops, its components at every depth.
    fn result_parts(&self, v: Value) -> Vec<Value> {
        let mut out = vec![v];
        let mut i = 0;
        while i < out.len() {
            if let Some(Op::Tuple(vs)) = self.func.op(out[i]) {
                out.extend(vs.iter().copied());
            }
            i += 1;
        }
        out
    }

    /// Whether the ops of `block` that its result needs, with `given`
    /// known, read one of `given` (or the block yields one).
    fn reads_any(&self, block: Block, given: &HashSet<Value>) -> bool {
        let data = &self.func.blocks[block];
        let live = self.func.live_insts_given(block, given);
        data.result.is_some_and(|r| given.contains(&r))
            || live.iter().any(|&v| {
                let op = self.func.op(v).expect("verified: insts are ops");
                op.operands().iter().any(|o| given.contains(o))
                    || self
                        .func
                        .free_values(&op.regions())
                        .iter()
                        .any(|o| given.contains(o))
            })
    }

    /// Lowers the ops of `block` its result needs when the values in
    /// `given` are already bound.
    pub(super) fn live_block(
        &mut self,
        block: Block,
        given: &HashSet<Value>,
        out: &mut Vec<Instr>,
    ) -> Result<(), JitError> {
        for v in self.func.live_insts_given(block, given) {
            let op = self.func.op(v).expect("verified: insts are ops").clone();
            self.op(v, &op, out)?;
        }
        self.close_group(out);
        Ok(())
    }
}
