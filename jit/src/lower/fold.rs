//! Folds over lists and trees and their backward: the information a batch
//! needs to schedule a fold, and one region per constructor.

use super::*;

impl Lowerer<'_> {
    pub(super) fn fold_info(
        &mut self,
        f: &cdlc_ir::FoldOp,
    ) -> Result<(usize, Option<SeqElems>), JitError> {
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
    pub(super) fn case(
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

    pub(super) fn fold(
        &mut self,
        f: &cdlc_ir::FoldOp,
        out: &mut Vec<Instr>,
    ) -> Result<Repr, JitError> {
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

    pub(super) fn fold_backward(
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
}
