//! Elementwise fusion: consecutive elementwise ops of one size and
//! batching join an open group, which closes into one kernel where a value
//! of it is read outside it; only values used outside are stored.

use super::*;

/// The open group of elementwise ops being fused into one kernel.
pub(super) struct Group {
    pub(super) n: usize,
    pub(super) batched: bool,
    pub(super) inputs: Vec<(Loc, InKind)>,
    pub(super) input_of: HashMap<(Loc, InKind), usize>,
    pub(super) ops: Vec<KOp>,
    pub(super) members: Vec<(Value, usize)>,
    pub(super) member_of: HashMap<Value, usize>,
    pub(super) inner_uses: HashMap<Value, usize>,
}

impl Lowerer<'_> {
    pub(super) fn elementwise(
        &mut self,
        v: Value,
        op: &Op,
        out: &mut Vec<Instr>,
    ) -> Result<(), JitError> {
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

    pub(super) fn close_group(&mut self, out: &mut Vec<Instr>) {
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
}
