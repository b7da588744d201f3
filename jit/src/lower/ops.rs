//! The walk over a block: one arm per op of the IR, each short or calling
//! the function of its concern; row operations; the function's inputs.

use super::*;

impl Lowerer<'_> {
    pub(super) fn block(&mut self, b: Block, out: &mut Vec<Instr>) -> Result<(), JitError> {
        let insts = self.func.blocks[b].insts.clone();
        for v in insts {
            let op = self.func.op(v).expect("verified: insts are ops").clone();
            self.op(v, &op, out)?;
        }
        self.close_group(out);
        Ok(())
    }

    /// A uniform buffer holding `data` from the start.
    pub(super) fn constant(&mut self, shape: &[usize], data: Vec<f64>) -> Repr {
        let buf = self.buf();
        self.init.push((buf, data));
        Repr::Tensor {
            loc: Loc::Buf(buf),
            batched: false,
            shape: shape.to_vec(),
        }
    }

    pub(super) fn zeros(&mut self, ty: &Type) -> Result<Repr, JitError> {
        match ty {
            Type::Tensor(s) => Ok(self.constant(s, vec![0.0; size(s)])),
            Type::Tuple(ts) => Ok(Repr::Tuple(
                ts.iter().map(|t| self.zeros(t)).collect::<Result<_, _>>()?,
            )),
            // The zero cotangent of a nested field's structure: no pool
            // buffers.
            Type::Data(_) if self.depth > 0 => Ok(Repr::NestedCt {
                unfold: 0,
                parts: Vec::new(),
            }),
            other => unsupported(format!("zeros of {}", self.type_name(other))),
        }
    }

    /// Lowers the op defining `v`; an unsupported construct met while
    /// lowering it (and not inside a nested op) is located at `v`.
    pub(super) fn op(&mut self, v: Value, op: &Op, out: &mut Vec<Instr>) -> Result<(), JitError> {
        self.op_here(v, op, out).map_err(|e| match e {
            JitError::Unsupported { op, at: None } => JitError::Unsupported { op, at: Some(v) },
            other => other,
        })
    }

    pub(super) fn op_here(
        &mut self,
        v: Value,
        op: &Op,
        out: &mut Vec<Instr>,
    ) -> Result<(), JitError> {
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
            Op::Zeros(Type::Seq(e)) => self.zero_seq(e, out)?,
            Op::Zeros(t) => self.zeros(t)?,
            Op::Binary(BinOp::Add, a, b) if matches!(ty, Type::Seq(_)) => {
                return self.seq_add(v, *a, *b, out);
            }
            Op::Binary(BinOp::Add, a, b) if matches!(ty, Type::Data(_)) => {
                return self.nested_add(v, *a, *b, out);
            }
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
            Op::Map(m) => self.map(m, out)?,
            Op::MapBackward(m) => self.map_backward(m, out)?,
        };
        self.set(v, r);
        Ok(())
    }

    /// The representation of the component at `path` of input `i`, of type
    /// `ty`: a tuple input is a tuple of its leaves' representations.
    pub(super) fn input(
        &self,
        i: usize,
        path: &mut Vec<usize>,
        ty: &Type,
    ) -> Result<Repr, JitError> {
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

    pub(super) fn row(
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
}
