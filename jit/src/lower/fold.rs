//! Folds over lists and trees and their backward: the information a batch
//! needs to schedule a fold, and one region per constructor.

use super::*;

impl Lowerer<'_> {
    pub(super) fn fold_info(
        &mut self,
        f: &cdlc_ir::FoldOp,
    ) -> Result<(usize, Option<SeqElems>), JitError> {
        let input = self.reprs[f.input.index()].clone();
        if let Some(Repr::Nested(k)) = input {
            return self.nested_fold_info(f, k);
        }
        let seq = input.as_ref().and_then(rose::seq_parts);
        let mut nested_in = None;
        let (leaf, over_unfold, elems) = match (input, seq) {
            // A map's result walks the schedule the map ran over.
            (Some(Repr::Mapped { fold, .. }), _) => return Ok((fold, None)),
            (Some(Repr::Data(leaf)), _) => (leaf, None, None),
            (Some(Repr::Field { fold, ctor, field }), _)
                if self.fold_nested.contains_key(&fold) =>
            {
                return self.held_fold_info(f, fold, ctor, field);
            }
            (Some(Repr::Field { fold, ctor, field }), _) => {
                nested_in = Some((fold, ctor, field));
                (0, None, None)
            }
            (_, Some((unfold, seqs))) if self.seq_fold_element(f).is_some() => {
                let parts = seqs
                    .into_iter()
                    .map(|(seq, size)| ElemPart {
                        seq,
                        size,
                        gathered: self.buf(),
                        cotangents: self.buf(),
                    })
                    .collect();
                let halves = f.split == Split::Halves;
                (
                    0,
                    Some(unfold),
                    Some(SeqElems {
                        unfold,
                        parts,
                        halves,
                    }),
                )
            }
            (_, Some(_)) => {
                return unsupported(
                    "a fold over a computed sequence into a structure other than a list or its halving tree",
                );
            }
            _ => return unsupported("a fold over a computed sequence (not a model input)"),
        };
        let def = &self.module.data[f.data];
        let (mut field_sizes, mut field_lists, mut field_structures, mut nested_fields) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for c in &def.ctors {
            let (mut sizes, mut lists, mut structures) = (Vec::new(), Vec::new(), Vec::new());
            nested_fields.push(self.nested_fields(&c.fields, &f.carrier)?);
            // The plain fields' tensors and a nested tuple's, in field
            // order; `k` numbers the plain fields.
            let mut plain = 0;
            for fl in &c.fields {
                let t = match fl {
                    Field::Plain(t) => t,
                    Field::Nested(ty) if nested::tuple_children(ty).is_some() => {
                        nested::tuple_tensor_sizes(ty, &mut sizes);
                        continue;
                    }
                    Field::Rec | Field::RecList | Field::Nested(_) => continue,
                };
                let k = plain;
                plain += 1;
                if tensor_components(t, &mut sizes) {
                    continue;
                }
                match self.list_of_tensors(t) {
                    Some(elem) if over_unfold.is_none() => lists.push((k, elem)),
                    None if over_unfold.is_none() && matches!(t, Type::Data(_)) => {
                        structures.push(k)
                    }
                    _ => {
                        return unsupported(format!(
                            "a fold over a structure whose fields hold {} (a nested fold)",
                            self.type_name(t)
                        ));
                    }
                }
            }
            field_sizes.push(sizes);
            field_lists.push(lists);
            field_structures.push(structures);
        }
        self.folds.push(FoldInfo {
            decl: def.decl.clone(),
            halves: f.split == Split::Halves,
            input: leaf,
            over_unfold,
            field_sizes,
            field_lists,
            field_structures,
            nested_in,
            nested_fields,
            inner: None,
        });
        Ok((self.folds.len() - 1, elems))
    }

    /// The element type of a fold that walks a computed sequence: a list
    /// fold's element, or the leaf of the halving tree `by halves` splits
    /// it into.
    pub(super) fn seq_fold_element(&self, f: &cdlc_ir::FoldOp) -> Option<&Type> {
        match f.split {
            Split::Structure => self.module.list_element(f.data),
            Split::Halves => self.module.tree_leaf(f.data),
        }
    }

    /// Lowers one fold region: arguments from gathered children, prepared
    /// fields and (backward) the node's cotangent. Inside a region, only a
    /// fold over a sequence (a node's list of children) is compiled.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn case(
        &mut self,
        fold: usize,
        data: cdlc_ir::DataId,
        ctor: usize,
        block: Block,
        carrier: &Type,
        backward: bool,
        elements: bool,
        over_seq: bool,
    ) -> Result<CaseCode, JitError> {
        if self.depth > 0 && !over_seq && self.folds[fold].nested_in.is_none() {
            return unsupported(
                "a fold inside a region over anything but a list or a structure a node holds",
            );
        }
        let mut cc = CaseCode::default();
        // The structures a nested structure's node holds, numbered depth
        // first (`nested::held_structures`).
        let mut held = 0;
        let args = self.func.blocks[block].args.clone();
        let fields = self.module.data[data].ctors[ctor].fields.clone();
        for (i, (f, &a)) in fields.iter().zip(&args).enumerate() {
            if self.is_appended(ctor, i, fields.len()) == Some(true) {
                let (r, m) = self.mapped_arg(ctor, i, fields.len());
                cc.mapped.push(m);
                self.set(a, r);
                continue;
            }
            match f {
                Field::Rec => {
                    let (r, flat) = self.alloc(carrier)?;
                    cc.rec_args.push(flat.iter().map(|x| x.0).collect());
                    self.set(a, r);
                }
                Field::RecList => {
                    let (r, list) = self.rec_list_arg(carrier)?;
                    cc.rec_lists.push(list);
                    self.set(a, r);
                }
                Field::Nested(t) => {
                    let r = self.nested_tuple_arg(t, carrier, ctor, &mut cc)?;
                    self.set(a, r);
                }
                // Structures a nested structure's node holds, whole or in a
                // tuple (a tree of `List(Tree(X))` or `List(Tree(X) *
                // R[2])`, a list of `Tree(List(X))`): their values are
                // children of the enclosing fold, read from its pool.
                Field::Plain(t)
                    if self.fold_nested.contains_key(&fold)
                        && !tensor_components(t, &mut Vec::new()) =>
                {
                    let r = self.held_arg(t, fold, ctor, &mut held, &mut cc.field_views)?;
                    self.set(a, r);
                }
                Field::Plain(t) if self.list_of_tensors(t).is_some() => {
                    let (r, list) = self.field_list_arg(t)?;
                    cc.field_lists.push(list);
                    self.set(a, r);
                }
                Field::Plain(Type::Data(_)) if !over_seq => {
                    // A structure the node holds: only a fold over it reads
                    // it, with a schedule prepared per group.
                    let field = fields[..i]
                        .iter()
                        .filter(|fl| matches!(fl, Field::Plain(_)))
                        .count();
                    self.set(a, Repr::Field { fold, ctor, field });
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
        let own = if backward {
            self.bind_own(fold, ctor, block, carrier, &mut cc)?
        } else {
            Default::default()
        };
        self.region_captures(block, &mut cc.captures)?;
        self.depth += 1;
        let mut code = Vec::new();
        if backward {
            self.live_block(block, &own, &mut code)?;
        } else {
            self.block(block, &mut code)?;
        }
        self.depth -= 1;
        let r = self.repr(self.func.blocks[block].result.expect("verified"))?;
        cc.result = if backward {
            let Repr::Tuple(rs) = r else {
                return Err(JitError::Internal(
                    "a backward region yields a tuple".into(),
                ));
            };
            self.backward_results(fold, data, ctor, carrier, elements, &rs, &mut cc, &mut code)?
        } else {
            let result = vec![self.flatten(&r, &mut code)?];
            self.keep_saves(fold, ctor, block, &mut cc);
            result
        };
        self.lists.truncate(self.lists.len() - cc.rec_lists.len());
        self.restore_captures(&cc.captures);
        cc.code = code;
        Ok(cc)
    }

    /// A backward region's results in the executor's order: the recursive
    /// fields' cotangents, the captures' contributions, then the plain
    /// fields' (a computed list's element); a list of children's cotangent
    /// sequence goes to its `RecList` instead.
    #[allow(clippy::too_many_arguments)]
    fn backward_results(
        &mut self,
        fold: usize,
        data: cdlc_ir::DataId,
        ctor: usize,
        carrier: &Type,
        elements: bool,
        rs: &[Repr],
        cc: &mut CaseCode,
        code: &mut Vec<Instr>,
    ) -> Result<Vec<Vec<Part>>, JitError> {
        let module = self.module;
        let fields = &module.data[data].ctors[ctor].fields;
        let cts = self.module.cotangent_fields(data, ctor, carrier, elements);
        let (mut rec, mut elem) = (Vec::new(), Vec::new());
        let (mut list, mut nested) = (0, 0);
        for ((i, _), r) in cts.iter().zip(rs) {
            match fields[*i] {
                Field::Rec => rec.push(self.flatten(r, code)?),
                Field::RecList => {
                    let Some((_, parts)) = rose::seq_parts(r) else {
                        return Err(JitError::Internal(
                            "a list of children's cotangent is a sequence".into(),
                        ));
                    };
                    cc.rec_lists[list].ct = Some(parts.iter().map(|p| p.0).collect());
                    list += 1;
                }
                // A map's result's own fields: their cotangents are unused.
                Field::Plain(_) if self.is_appended(ctor, *i, fields.len()) == Some(false) => {}
                // Structures held in a nested structure's node: their
                // backward folds added their cotangents into the pool.
                Field::Plain(_) if self.fold_nested.contains_key(&fold) => {
                    elem.push(self.flatten_unheld(r, code)?)
                }
                Field::Plain(_) => elem.push(self.flatten(r, code)?),
                Field::Nested(ref t) => {
                    self.nested_tuple_ct(t, r, code, &mut rec, &mut cc.nested, &mut nested)?;
                }
            }
        }
        for r in &rs[cts.len().min(rs.len())..] {
            rec.push(self.flatten(r, code)?);
        }
        rec.extend(elem);
        Ok(rec)
    }

    pub(super) fn fold(
        &mut self,
        f: &cdlc_ir::FoldOp,
        out: &mut Vec<Instr>,
    ) -> Result<Repr, JitError> {
        let (id, elems) = self.fold_info(f)?;
        let (_, carrier) = self.alloc(&f.carrier)?;
        let nested = self.fold_nested.get(&id).cloned();
        let over_seq = elems.is_some() || nested.is_some();
        self.fold_stack.push(id);
        let mut cases = Vec::new();
        let mapping = self.mapping_of(id, false);
        let outer = std::mem::replace(&mut self.mapping, mapping);
        for (c, &b) in f.cases.iter().enumerate() {
            cases.push(self.case(id, f.data, c, b, &f.carrier, false, false, over_seq)?);
        }
        self.mapping = outer;
        self.fold_stack.pop();
        let (root_repr, root) = self.alloc(&f.carrier)?;
        self.fold_codes.insert(id, carrier.clone());
        self.fold_blocks.insert(id, f.cases.clone());
        self.fold_elems.insert(id, elems.clone());
        let saved = self.fold_saved.get(&id).map(|s| s.slots.clone());
        out.push(Instr::Fold(Box::new(FoldCode {
            id,
            carrier,
            cases,
            root,
            saved: saved.unwrap_or_default(),
            elems,
            nested,
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
        let elems = self.fold_elems.get(&id).cloned().flatten();
        let nested = self.fold_nested.get(&id).cloned();
        let over_seq = elems.is_some() || nested.is_some();
        self.fold_stack.push(id);
        let mut cases = Vec::new();
        let mapping = self.mapping_of(id, true);
        let outer = std::mem::replace(&mut self.mapping, mapping.clone());
        for (c, &b) in f.cases.iter().enumerate() {
            cases.push(self.case(id, f.data, c, b, &f.carrier, true, f.elements, over_seq)?);
        }
        self.mapping = outer;
        self.fold_stack.pop();
        if let (true, Some(m)) = (f.structure, mapping) {
            let fields = m.cts.expect("a backward mapping has cotangents");
            reprs.push(Repr::Mapped { fold: id, fields });
        } else if f.structure {
            reprs.push(self.nested_ct(id)?);
        } else if f.elements {
            let elem = match elems.as_ref().map(|e| e.halves) {
                Some(true) => self.module.tree_leaf(f.data),
                _ => self.module.list_element(f.data),
            };
            let (Some(e), Some(elem)) = (&elems, elem) else {
                return unsupported("the element cotangents of a fold over a model input");
            };
            let mut cts = e.parts.iter().map(|p| (p.cotangents, p.size));
            reprs.push(rose::seq_from(elem, e.unfold, &mut cts));
        }
        let saved = self.fold_saved.get(&id).map(|s| s.slots.clone());
        out.push(Instr::FoldBackward(Box::new(FoldBackCode {
            id,
            carrier,
            saved: saved.unwrap_or_default(),
            ct,
            root_ct,
            cases,
            acc,
            elems,
            nested,
        })));
        Ok(Repr::Tuple(reprs))
    }
}
