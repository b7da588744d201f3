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

use std::collections::HashSet;

use super::*;

impl Lowerer<'_> {
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
        // it; a region that reads none of them (a GRU's backward needs its
        // gates, not the new state) keeps no views of the carrier.
        let given: HashSet<Value> = self
            .result_parts(result)
            .iter()
            .filter_map(|v| pairs.get(v).copied())
            .collect();
        if given.is_empty() || !self.reads_any(block, &given) {
            return Ok(HashSet::new());
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
