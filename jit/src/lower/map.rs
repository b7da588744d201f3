//! `map` and `map_backward`: the work hoisted out of a fold, lowered to
//! run once per constructor over every node of the batch (`plan/map.rs`).
//!
//! A `map` schedules its input structure as a fold would (a `FoldInfo` of
//! the input's data type, whose nodes are numbered in level order), and
//! the fold over its result walks that same schedule: its regions read the
//! appended fields through views into the map's `[nodes of c, size]`
//! buffers, which hold the constructor's nodes in schedule order.
//! Only a map of an input structure at the top level whose regions read
//! nothing batched from outside (only parameters and constants) is
//! compiled; the pass produces no other.

use super::*;

/// The arguments of a map region: the plain fields' buffers, one per
/// tensor, and the representation of each argument.
type Fields = (Vec<(usize, usize)>, Vec<Repr>);

impl Lowerer<'_> {
    /// Lowers a `map`; its value is the structure with its appended fields.
    pub(super) fn map(
        &mut self,
        m: &cdlc_ir::MapOp,
        out: &mut Vec<Instr>,
    ) -> Result<Repr, JitError> {
        let fold = self.map_schedule(m.data, m.input)?;
        let mut cases = Vec::with_capacity(m.cases.len());
        let mut outs = Vec::with_capacity(m.cases.len());
        for (c, &block) in m.cases.iter().enumerate() {
            let (fields, args) = self.map_fields(m.data, c)?;
            let (mut code, result) = self.map_region(block, &args, &[])?;
            let Repr::Tuple(rs) = result else {
                return Err(JitError::Internal("a map region yields a tuple".into()));
            };
            let mut case = MapCase {
                fields,
                ..MapCase::default()
            };
            let mut bufs = Vec::with_capacity(rs.len());
            for r in &rs {
                let parts = self.flatten(r, &mut code)?;
                let [part] = parts[..] else {
                    return Err(JitError::Internal("a mapped field is a tensor".into()));
                };
                bufs.push((self.buf(), part.size));
                case.result.push(vec![part]);
            }
            case.code = code;
            cases.push(case);
            outs.push(bufs);
        }
        self.mapped_folds.insert(fold, outs.clone());
        out.push(Instr::Map(Box::new(MapCode {
            fold,
            cases,
            out: outs.clone(),
        })));
        Ok(Repr::Mapped { fold, fields: outs })
    }

    /// Lowers a `map_backward`; its value is the tuple of the captures'
    /// gradients.
    pub(super) fn map_backward(
        &mut self,
        m: &cdlc_ir::MapBackwardOp,
        out: &mut Vec<Instr>,
    ) -> Result<Repr, JitError> {
        let Repr::Mapped { fold, fields: cts } = self.repr_or_close(m.cotangent, out)? else {
            return unsupported("the cotangent of a structure no `map` computed");
        };
        let (acc, reprs) = self.accumulators(&m.captures)?;
        if acc.iter().any(|a| a.per_example) {
            return unsupported("a `map` region reading a value of each example");
        }
        let mut cases = Vec::with_capacity(m.cases.len());
        for (c, &block) in m.cases.iter().enumerate() {
            let (fields, mut args) = self.map_fields(m.data, c)?;
            // The cotangents are already in the region's row order.
            for &(src, size) in &cts[c] {
                args.push(Repr::Tensor {
                    loc: Loc::Buf(src),
                    batched: true,
                    shape: vec![size],
                });
            }
            let (mut code, result) = self.map_region(block, &args, &m.captures)?;
            let Repr::Tuple(rs) = result else {
                return Err(JitError::Internal(
                    "a backward region yields a tuple".into(),
                ));
            };
            let mut result = Vec::with_capacity(rs.len());
            for r in &rs {
                result.push(self.flatten(r, &mut code)?);
            }
            cases.push(MapCase {
                code,
                fields,
                cts: cts[c].clone(),
                result,
            });
        }
        out.push(Instr::MapBackward(Box::new(MapBackCode {
            fold,
            cases,
            acc,
        })));
        Ok(Repr::Tuple(reprs))
    }

    /// The fold schedule a map of `input` (of data type `data`) runs over:
    /// a new `FoldInfo` of the input structure.
    fn map_schedule(&mut self, data: cdlc_ir::DataId, input: Value) -> Result<usize, JitError> {
        if self.depth > 0 {
            return unsupported("a `map` inside a region (a fold nested in another's case)");
        }
        let Some(Repr::Data(leaf)) = self.reprs[input.index()] else {
            return unsupported("a `map` over a structure that is not a model input");
        };
        let def = &self.module.data[data];
        let mut field_sizes = Vec::with_capacity(def.ctors.len());
        for (c, _) in def.ctors.iter().enumerate() {
            let mut sizes = Vec::new();
            for t in self.module.plain_fields(data, c) {
                if !tensor_components(&t, &mut sizes) {
                    return unsupported("a `map` over a structure whose fields hold structures");
                }
            }
            field_sizes.push(sizes);
        }
        self.folds.push(FoldInfo {
            decl: def.decl.clone(),
            halves: false,
            input: leaf,
            over_unfold: None,
            // A map refuses fields that hold lists (above).
            field_lists: vec![Vec::new(); def.ctors.len()],
            // ... and structures.
            field_structures: vec![Vec::new(); def.ctors.len()],
            nested_in: None,
            nested_fields: vec![Vec::new(); def.ctors.len()],
            inner: None,
            field_sizes,
        });
        Ok(self.folds.len() - 1)
    }

    /// Buffers for the plain fields of constructor `c` at every node of
    /// that constructor, and each field's representation over them.
    fn map_fields(&mut self, data: cdlc_ir::DataId, c: usize) -> Result<Fields, JitError> {
        let mut bufs = Vec::new();
        let mut reprs = Vec::new();
        for t in self.module.plain_fields(data, c) {
            reprs.push(self.field_repr(&t, &mut bufs)?);
        }
        Ok((bufs, reprs))
    }

    /// A batched representation of a plain field of type `ty`, one new
    /// buffer per tensor (appended to `bufs`).
    fn field_repr(&mut self, ty: &Type, bufs: &mut Vec<(usize, usize)>) -> Result<Repr, JitError> {
        match ty {
            Type::Tensor(s) => {
                let buf = self.buf();
                bufs.push((buf, size(s)));
                Ok(Repr::Tensor {
                    loc: Loc::Buf(buf),
                    batched: true,
                    shape: s.clone(),
                })
            }
            Type::Tuple(ts) => Ok(Repr::Tuple(
                ts.iter()
                    .map(|t| self.field_repr(t, bufs))
                    .collect::<Result<_, _>>()?,
            )),
            other => unsupported(format!("a plain field of type {}", self.type_name(other))),
        }
    }

    /// Lowers one region of a map (or its backward) with arguments `args`;
    /// returns its code and the representation of its result. The region
    /// may read parameters, constants and `captures` (whose contributions a
    /// backward region yields), nothing batched.
    fn map_region(
        &mut self,
        block: Block,
        args: &[Repr],
        captures: &[Value],
    ) -> Result<(Vec<Instr>, Repr), JitError> {
        for x in self.func.free_values(&[block]) {
            let batched = matches!(
                self.reprs[x.index()],
                Some(Repr::Tensor { batched: true, .. } | Repr::Transposed { batched: true, .. })
            );
            if batched || !(self.is_uniform(x) || captures.contains(&x)) {
                return unsupported("a `map` region reading a value of each example");
            }
        }
        for (&a, r) in self.func.blocks[block].args.clone().iter().zip(args) {
            self.set(a, r.clone());
        }
        self.depth += 1;
        let mut code = Vec::new();
        // A backward region recomputes the forward region, and the reverse
        // walk often reads none of it (the gradient of `U x` with respect
        // to `U` reads `x` and the cotangent, not the product): only the
        // ops the region's result depends on are lowered.
        for v in self.func.live_insts(block) {
            let op = self.func.op(v).expect("verified: insts are ops").clone();
            self.op(v, &op, &mut code)?;
        }
        self.close_group(&mut code);
        self.depth -= 1;
        let r = self.repr(self.func.blocks[block].result.expect("verified"))?;
        Ok((code, r))
    }
}

/// The fields a `map` appended to the structure a fold being lowered walks:
/// per constructor, the map's buffers of them and, for the fold's
/// backward, the buffers their cotangents go to.
#[derive(Clone, Debug)]
pub(super) struct Mapping {
    pub fold: usize,
    pub fields: Vec<Vec<(usize, usize)>>,
    pub cts: Option<Vec<Vec<(usize, usize)>>>,
}

impl Lowerer<'_> {
    /// The mapping of a fold over `input`, if a `map` computed it, with
    /// (for a backward) fresh cotangent buffers.
    pub(super) fn mapping_of(&mut self, fold: usize, backward: bool) -> Option<Mapping> {
        let fields = self.mapped_folds.get(&fold)?.clone();
        let cts = backward.then(|| {
            fields
                .iter()
                .map(|fs| fs.iter().map(|&(_, s)| (self.buf(), s)).collect())
                .collect()
        });
        Some(Mapping { fold, fields, cts })
    }

    /// Over a map's result: whether field `i` of constructor `ctor` (of
    /// `n` fields) is one the map appended (they are the last ones).
    pub(super) fn is_appended(&self, ctor: usize, i: usize, n: usize) -> Option<bool> {
        let m = self.mapping.as_ref()?;
        Some(i + m.fields[ctor].len() >= n)
    }

    /// The view through which a fold region reads appended field `i` of
    /// constructor `ctor` (of `n` fields), and what the executor points it
    /// at.
    pub(super) fn mapped_arg(&mut self, ctor: usize, i: usize, n: usize) -> (Repr, MappedField) {
        let m = self.mapping.as_ref().expect("called on appended fields");
        let j = i + m.fields[ctor].len() - n;
        let (buf, size) = m.fields[ctor][j];
        let ct = m.cts.as_ref().map(|cts| cts[ctor][j].0);
        let fold = m.fold;
        let view = self.view();
        let r = Repr::Tensor {
            loc: Loc::View(view),
            batched: true,
            shape: vec![size],
        };
        (
            r,
            MappedField {
                fold,
                view,
                buf,
                size,
                ct,
            },
        )
    }
}
