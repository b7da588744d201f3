//! Where each value is used, and which values are *sum-only*: every use
//! sums them over the rows, so they may be kept as one summed row.

use super::*;

/// Where a value is used.
#[derive(Clone, Copy, Debug)]
pub(super) enum Use {
    /// As operand `pos` of the op defining this value.
    Op(Value, usize),
    /// As a block's result.
    Result,
}

/// Which components of a region result tuple are summed over the rows.
#[derive(Clone, Debug)]
pub(super) enum Sink {
    Always,
    /// Summed when this capture is uniform.
    Capture(Value),
    No,
}

impl Lowerer<'_> {
    pub(super) fn collect_uses(&mut self) {
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
                    Op::MapBackward(mb) => (
                        mb.cases.clone(),
                        vec![0; mb.cases.len()],
                        mb.captures.clone(),
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

    pub(super) fn is_batched(&self, v: Value) -> bool {
        matches!(
            self.reprs[v.index()],
            Some(Repr::Tensor { batched: true, .. })
        )
    }

    /// Whether `v` is already lowered to one tensor shared by every row.
    pub(super) fn is_uniform(&self, v: Value) -> bool {
        matches!(
            self.reprs[v.index()],
            Some(Repr::Tensor { batched: false, .. } | Repr::Transposed { batched: false, .. })
        )
    }

    /// Whether every use of `v` sums it over the rows.
    pub(super) fn sum_only(&mut self, v: Value) -> bool {
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
}
