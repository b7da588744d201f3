//! Nested fields inside fold regions: a `Tree(X)`, `List(A * X)` or a
//! user's `Opt(X)` field binds a computed structure whose recursive
//! positions hold the children's carriers, which the region folds with an
//! algebra of its own.
//!
//! The region lays the children's carriers out as the field's *pool*, a
//! sequence over a pseudo-unfold of kind `Children` like a rose node's list
//! of children (`CaseCode::nested`). A fold over the structure runs over
//! the schedule `prepare` made of the group's structures
//! (`batch/nested.rs`), reading each node's child from its pool row
//! (`NestedSrc`); its backward adds the children's cotangents into the
//! pool's cotangent buffers, which the enclosing backward scatters to the
//! children's nodes like a list of children's.

use cdlc_runtime::value::DataType;

use super::*;

mod tuple;

pub(super) use tuple::{children as tuple_children, tensor_sizes as tuple_tensor_sizes};

/// The pool a fold over a nested structure reads: the enclosing fold,
/// constructor and field that laid it out (`FoldInfo::inner`), its
/// pseudo-unfold, its (buffer, size) per carrier component, and for a
/// structure held in another one's node, the cotangents it shares.
struct Pool {
    inner: (usize, usize, usize),
    unfold: usize,
    seqs: Vec<(usize, usize)>,
    carrier_parts: usize,
    cotangents: Option<Vec<usize>>,
}

/// A nested field's structure as a region sees it.
#[derive(Clone, Debug)]
pub(super) struct NestedArg {
    /// The enclosing fold, the constructor whose region binds the field,
    /// and the field's position among its folded nested fields.
    outer: usize,
    ctor: usize,
    field: usize,
    /// The field's type (recursive positions `Rec(k)`) and the data type
    /// of the structure bound there.
    ty: DataType,
    data: cdlc_ir::DataId,
    /// The pool: its pseudo-unfold and (buffer, size) per carrier
    /// component.
    unfold: usize,
    seqs: Vec<(usize, usize)>,
    carrier_parts: usize,
}

impl Lowerer<'_> {
    /// The nested fields of a constructor of a fold with this carrier, as
    /// `prepare` needs them; the forms not built are refused here.
    pub(super) fn nested_fields(
        &self,
        fields: &[Field],
        carrier: &Type,
    ) -> Result<Vec<NestedField>, JitError> {
        let mut parts = Vec::new();
        if !tensor_components(carrier, &mut parts) {
            return unsupported("a nested field under a carrier that is not made of tensors");
        }
        let mut out = Vec::new();
        for (at, f) in fields.iter().enumerate() {
            if let Field::Nested(ty) = f {
                let tuple = tuple_children(ty);
                let field = NestedField {
                    ty: ty.clone(),
                    carrier_parts: parts.len(),
                    at,
                    plain_before: 0,
                    tuple,
                };
                for structure in field.pools() {
                    self.nested_data(structure, carrier)?;
                }
                let plain_before = fields[..at]
                    .iter()
                    .filter(|f| matches!(f, Field::Plain(_)))
                    .count();
                out.push(NestedField {
                    plain_before,
                    ..field
                });
            }
        }
        Ok(out)
    }

    /// The data type of the structure a nested field of type `ty` binds,
    /// if the JIT folds it: every constructor's fields are recursive
    /// positions of its own, lists of them (`Rose(X)`: a rose node's
    /// children), tensors and children of the enclosing fold, any number
    /// of them (`Tree(X * X)`: a leaf holding two), structures of the same
    /// kind held in a field (`List(Tree(X))`: the trees, whose leaves hold
    /// the children), or a nested field of its own (`stem(A, Tree(X))`: a
    /// tree of the stem's own children, folded with a pool of the stem's,
    /// any number of levels deep) that holds no child of an enclosing fold.
    fn nested_data(&self, ty: &DataType, carrier: &Type) -> Result<cdlc_ir::DataId, JitError> {
        let (Type::Data(data), DataType::Data(decl)) = (self.module.nested_type(ty, carrier), ty)
        else {
            return unsupported(format!(
                "a nested field that is neither a data type nor a tuple of children and tensors ({ty})"
            ));
        };
        if !self.holds_only_children(data, decl) {
            return unsupported(format!(
                "a nested field whose structure's own nested field holds more than the structure's children ({ty})"
            ));
        }
        Ok(data)
    }

    /// Whether every constructor of the nested structure's data type
    /// `data` (its runtime declaration `decl`) holds only its own
    /// recursive positions and lists of them, tensors and the enclosing
    /// fold's children in its plain fields, or structures that do so in
    /// turn, whole or in tuples.
    fn holds_only_children(
        &self,
        data: cdlc_ir::DataId,
        decl: &cdlc_runtime::value::DataDecl,
    ) -> bool {
        let ctors = &self.module.data[data].ctors;
        ctors.len() == decl.ctors.len()
            && ctors.iter().zip(&decl.ctors).all(|(def, rt)| {
                def.fields.len() == rt.fields.len()
                    && def.fields.iter().zip(&rt.fields).all(|(f, t)| match f {
                        // A list of its own children (a rose tree's
                        // `List(X)`) is laid out like a top-level rose
                        // node's, from the structure's schedule.
                        Field::Rec | Field::RecList => true,
                        Field::Plain(ir) => self.plain_holds_only_children(ir, t),
                        // A nested field of the structure's own: its
                        // structures' schedules are prepared per group of
                        // the structure's fold, their pools laid out from
                        // its nodes (checked when a fold over it is
                        // lowered, with that fold's carrier).
                        Field::Nested(_) => own_pools_only(t),
                    })
            })
    }

    /// Whether a plain field of a nested structure's constructor (its IR
    /// type `ir`, runtime type `rt`) holds only tensors, the enclosing
    /// fold's children (whose IR type is the carrier) and structures that
    /// hold only children in turn, directly or in tuples
    /// (`Tree(X) * R[2]`).
    fn plain_holds_only_children(&self, ir: &Type, rt: &DataType) -> bool {
        match (ir, rt) {
            (Type::Data(inner), DataType::Data(d)) => self.holds_only_children(*inner, d),
            (Type::Tuple(irs), DataType::Tuple(rts)) if irs.len() == rts.len() => irs
                .iter()
                .zip(rts)
                .all(|(i, r)| self.plain_holds_only_children(i, r)),
            (ir, _) => tensor_components(ir, &mut Vec::new()),
        }
    }

    /// The argument of a nested field of type `ty` in a region of the fold
    /// being lowered: its structure and the pool its children's carriers
    /// are laid out in.
    pub(super) fn nested_arg(
        &mut self,
        ty: &DataType,
        carrier: &Type,
        ctor: usize,
        field: usize,
    ) -> Result<(Repr, RecList), JitError> {
        let Some(&outer) = self.fold_stack.last() else {
            return Err(JitError::Internal(
                "a nested field outside a fold region".into(),
            ));
        };
        let data = self.nested_data(ty, carrier)?;
        self.unfolds.push(UnfoldInfo::Children);
        let unfold = self.unfolds.len() - 1;
        let (_, seqs) = self.seq_of(carrier, unfold)?;
        self.nested_args.push(NestedArg {
            outer,
            ctor,
            field,
            ty: ty.clone(),
            data,
            unfold,
            seqs: seqs.clone(),
            carrier_parts: seqs.len(),
        });
        let list = RecList {
            unfold,
            seqs,
            ct: None,
        };
        Ok((Repr::Nested(self.nested_args.len() - 1), list))
    }

    /// The schedule information of a fold over nested argument `k`, and
    /// where it finds the children's carriers (`fold_nested`).
    pub(super) fn nested_fold_info(
        &mut self,
        f: &cdlc_ir::FoldOp,
        k: usize,
    ) -> Result<(usize, Option<SeqElems>), JitError> {
        let arg = self.nested_args[k].clone();
        if f.data != arg.data || f.split != Split::Structure {
            return unsupported("a fold over a nested field's structure into another data type");
        }
        let DataType::Data(decl) = &arg.ty else {
            return Err(JitError::Internal("checked by nested_data".into()));
        };
        let pool = Pool {
            inner: (arg.outer, arg.ctor, arg.field),
            unfold: arg.unfold,
            seqs: arg.seqs.clone(),
            carrier_parts: arg.carrier_parts,
            cotangents: None,
        };
        self.structure_fold(f, decl.clone(), pool, None)
    }

    /// The schedule information of a fold over structure `field` (among
    /// the structures the plain fields hold, depth first:
    /// `held_structures`) of constructor `ctor` of the nested structure
    /// fold `outer` walks (a tree of `List(Tree(X))` or of
    /// `List(Tree(X) * R[2])`): its leaves read the same pool, and its
    /// backward adds into `outer`'s pool cotangents.
    pub(super) fn held_fold_info(
        &mut self,
        f: &cdlc_ir::FoldOp,
        outer: usize,
        ctor: usize,
        field: usize,
    ) -> Result<(usize, Option<SeqElems>), JitError> {
        let src = self.fold_nested[&outer].clone();
        let fields = &self.folds[outer].decl.ctors[ctor].fields;
        let held = held_structures(fields).into_iter().nth(field).cloned();
        let (Some(DataType::Data(decl)), Some(inner), Split::Structure) =
            (held, self.folds[outer].inner, f.split)
        else {
            return unsupported("a fold over a structure held in a nested structure's node");
        };
        let first = &src.parts[..src.carrier_parts];
        let pool = Pool {
            inner,
            unfold: src.unfold,
            seqs: first.iter().map(|p| (p.seq, p.size)).collect(),
            carrier_parts: src.carrier_parts,
            cotangents: Some(first.iter().map(|p| p.cotangents).collect()),
        };
        self.structure_fold(f, decl, pool, Some((outer, ctor, field)))
    }

    /// A fold over structures of runtime type `decl` (its recursive
    /// positions of the enclosing fold written `Rec(k)`, as the batch's
    /// values hold them) whose nodes read the enclosing fold's children
    /// from `pool`: its `FoldInfo` and its
    /// `NestedSrc`, one slot per child a node may hold and carrier
    /// component (the slots of one component share its pool's cotangents).
    fn structure_fold(
        &mut self,
        f: &cdlc_ir::FoldOp,
        decl: Arc<cdlc_runtime::value::DataDecl>,
        pool: Pool,
        nested_in: Option<(usize, usize, usize)>,
    ) -> Result<(usize, Option<SeqElems>), JitError> {
        let def = &self.module.data[f.data];
        if def.ctors.len() != decl.ctors.len() {
            return Err(JitError::Internal(
                "a nested structure's constructors and its data type disagree".into(),
            ));
        }
        let (mut field_sizes, mut views, mut field_parts) = (Vec::new(), Vec::new(), Vec::new());
        let (mut holds, mut field_structures) = (Vec::new(), Vec::new());
        let mut nested_fields = Vec::with_capacity(def.ctors.len());
        for (c, rt) in def.ctors.iter().zip(&decl.ctors) {
            // Its own nested fields (a stem's tree of stems): pools of
            // this fold's nodes, one level of nesting further in.
            nested_fields.push(self.nested_fields(&c.fields, &f.carrier)?);
            let (mut sizes, mut v, mut per_field) = (Vec::new(), Vec::new(), Vec::new());
            let mut structures = Vec::new();
            let mut children = 0;
            let plain = c
                .fields
                .iter()
                .zip(&rt.fields)
                .filter_map(|(f, t)| match f {
                    Field::Plain(ir) => Some((ir, t)),
                    _ => None,
                });
            for (k, (ir, t)) in plain.enumerate() {
                if !plain_sizes(ir, &mut sizes) {
                    structures.push(k);
                }
                let before = v.len();
                view_sources(t, pool.carrier_parts, &mut children, &mut v);
                per_field.push(v.len() - before);
            }
            if sizes.len() != v.len() {
                return Err(JitError::Internal(
                    "a nested structure's fields and its views disagree".into(),
                ));
            }
            field_sizes.push(sizes);
            views.push(v);
            field_parts.push(per_field);
            field_structures.push(structures);
            holds.push(children);
        }
        let cotangents = match &pool.cotangents {
            Some(cts) => cts.clone(),
            None => pool.seqs.iter().map(|_| self.buf()).collect(),
        };
        let most = holds.iter().copied().max().unwrap_or(0).max(1);
        let mut parts = Vec::with_capacity(most * pool.seqs.len());
        for _ in 0..most {
            for (&(seq, size), &cotangents) in pool.seqs.iter().zip(&cotangents) {
                let gathered = self.buf();
                parts.push(ElemPart {
                    seq,
                    size,
                    gathered,
                    cotangents,
                });
            }
        }
        let n = def.ctors.len();
        self.folds.push(FoldInfo {
            decl,
            halves: false,
            input: 0,
            over_unfold: None,
            field_sizes,
            field_lists: vec![Vec::new(); n],
            field_structures,
            nested_in,
            nested_fields,
            inner: Some(pool.inner),
        });
        let id = self.folds.len() - 1;
        self.fold_nested.insert(
            id,
            NestedSrc {
                outer: pool.inner.0,
                field: pool.inner.2,
                unfold: pool.unfold,
                parts,
                carrier_parts: pool.carrier_parts,
                holds,
                views,
                field_parts,
                held: pool.cotangents.is_some(),
            },
        );
        Ok((id, None))
    }

    /// The argument of a plain field of type `ty` of constructor `ctor` of
    /// the nested structure fold `fold` walks, holding structures whole or
    /// in a tuple (`Tree(X) * R[2]`): each structure, numbered from
    /// `*held` on, a `Repr::Field` a fold inside the region reads; each
    /// tensor a view appended to `views`.
    pub(super) fn held_arg(
        &mut self,
        ty: &Type,
        fold: usize,
        ctor: usize,
        held: &mut usize,
        views: &mut Vec<usize>,
    ) -> Result<Repr, JitError> {
        match ty {
            Type::Data(_) => {
                *held += 1;
                Ok(Repr::Field {
                    fold,
                    ctor,
                    field: *held - 1,
                })
            }
            Type::Tuple(ts) => Ok(Repr::Tuple(
                ts.iter()
                    .map(|t| self.held_arg(t, fold, ctor, held, views))
                    .collect::<Result<_, _>>()?,
            )),
            t => {
                let (r, v) = self.alloc_views(t)?;
                views.extend(v);
                Ok(r)
            }
        }
    }

    /// The parts of `r`, the cotangent of a nested structure's plain field,
    /// leaving out the structures it holds: their backward folds added
    /// their cotangents into the pool already (or they are zero).
    pub(super) fn flatten_unheld(
        &mut self,
        r: &Repr,
        code: &mut Vec<Instr>,
    ) -> Result<Vec<Part>, JitError> {
        match r {
            Repr::HeldCt { .. } => Ok(Vec::new()),
            Repr::NestedCt { parts, .. } if parts.is_empty() => Ok(Vec::new()),
            Repr::Tuple(rs) => {
                let mut out = Vec::new();
                for r in rs {
                    out.extend(self.flatten_unheld(r, code)?);
                }
                Ok(out)
            }
            r => self.flatten(r, code),
        }
    }

    /// The cotangent a backward fold over a nested structure returns for
    /// it: the pool's cotangent buffers its backward adds into.
    pub(super) fn nested_ct(&self, id: usize) -> Result<Repr, JitError> {
        match self.fold_nested.get(&id) {
            Some(src) if src.held => match self.folds[id].nested_in {
                Some((fold, _, _)) => Ok(Repr::HeldCt { fold }),
                None => Err(JitError::Internal(
                    "a held nested structure's fold without its enclosing fold".into(),
                )),
            },
            Some(src) => Ok(Repr::NestedCt {
                unfold: src.unfold,
                parts: src.parts[..src.carrier_parts]
                    .iter()
                    .map(|p| (p.cotangents, p.size))
                    .collect(),
            }),
            None => unsupported("the cotangent of a structure that is not a nested field's"),
        }
    }

    /// `a + b` of two cotangents of one nested structure (a region that
    /// folds it twice): their pools summed step by step, component by
    /// component; a zero cotangent adds nothing.
    pub(super) fn nested_add(
        &mut self,
        v: Value,
        a: Value,
        b: Value,
        out: &mut Vec<Instr>,
    ) -> Result<(), JitError> {
        let (ra, rb) = (self.repr(a)?, self.repr(b)?);
        if let Some(r) = held_sum(&ra, &rb) {
            self.set(v, r);
            return Ok(());
        }
        let (
            Repr::NestedCt { unfold, parts: xs },
            Repr::NestedCt {
                unfold: u2,
                parts: ys,
            },
        ) = (&ra, &rb)
        else {
            return unsupported("a sum of structures other than a nested field's cotangents");
        };
        let r = match (xs.is_empty(), ys.is_empty()) {
            (true, _) => rb.clone(),
            (_, true) => ra.clone(),
            _ if unfold != u2 || xs.len() != ys.len() => {
                return unsupported("a sum of the cotangents of two nested fields");
            }
            _ => {
                let mut parts = Vec::new();
                for (&(x, size), &(y, _)) in xs.iter().zip(ys) {
                    let dst = self.buf();
                    out.push(Instr::SeqSum {
                        unfold: *unfold,
                        size,
                        terms: vec![x, y],
                        out: dst,
                    });
                    parts.push((dst, size));
                }
                Repr::NestedCt {
                    unfold: *unfold,
                    parts,
                }
            }
        };
        self.set(v, r);
        Ok(())
    }
}

/// Sets the pool cotangents of a nested field's structure from `r`, the
/// backward region's cotangent of it; none for the zero cotangent (a
/// region that ignores the structure).
fn set_pool_ct(r: &Repr, pool: &mut RecList) -> Result<(), JitError> {
    let Repr::NestedCt { parts, .. } = r else {
        return Err(JitError::Internal(
            "a nested field's cotangent is a structure's".into(),
        ));
    };
    pool.ct = (!parts.is_empty()).then(|| parts.iter().map(|p| p.0).collect());
    Ok(())
}

/// The sum of two cotangents of a structure held in a nested structure's
/// node (a tree folded twice), or of one and the zero cotangent: both
/// were added into the same pool as their backward folds ran, so the sum
/// is that pool's. `None` when neither is such a cotangent.
fn held_sum(a: &Repr, b: &Repr) -> Option<Repr> {
    let zero = |r: &Repr| matches!(r, Repr::NestedCt { parts, .. } if parts.is_empty());
    match (a, b) {
        (Repr::HeldCt { fold: x }, Repr::HeldCt { fold: y }) if x == y => Some(a.clone()),
        (Repr::HeldCt { .. }, r) if zero(r) => Some(a.clone()),
        (r, Repr::HeldCt { .. }) if zero(r) => Some(b.clone()),
        _ => None,
    }
}

/// The structures the plain fields `fields` of a nested structure's
/// constructor hold (its own recursive positions `Rec(0)` left out),
/// whole or in tuples, depth first: the numbering of `Repr::Field` and
/// `FoldInfo::nested_in` for the folds over them.
pub(super) fn held_structures(fields: &[DataType]) -> Vec<&DataType> {
    fn walk<'a>(ty: &'a DataType, out: &mut Vec<&'a DataType>) {
        match ty {
            DataType::Data(_) => out.push(ty),
            DataType::Tuple(ts) => ts.iter().for_each(|t| walk(t, out)),
            DataType::Tensor(_) | DataType::Rec(_) => {}
        }
    }
    let mut out = Vec::new();
    for f in fields.iter().filter(|t| **t != DataType::Rec(0)) {
        walk(f, &mut out);
    }
    out
}

/// Whether a nested field of a nested structure's constructor, of runtime
/// type `ty` (seen from the enclosing fold's side, so that its children
/// are named too), holds only structures, whole or in a tuple, whose
/// recursive positions are the structure's own children (`Tree(X)`,
/// `Tree(X) * Opt(X)`): no child read directly, no tensor beside them in
/// a tuple, and no child of an enclosing fold (`Tree(A * X)` with `A` the
/// enclosing fold's child, whose leaves would read two pools).
fn own_pools_only(ty: &DataType) -> bool {
    /// Whether `ty`, `depth` data types inside the field, names a
    /// recursive position outside the structure's own.
    fn reaches_out(ty: &DataType, depth: u32) -> bool {
        match ty {
            DataType::Tensor(_) => false,
            DataType::Rec(k) => *k > depth,
            DataType::Tuple(ts) => ts.iter().any(|t| reaches_out(t, depth)),
            DataType::Data(d) => d
                .ctors
                .iter()
                .any(|c| c.fields.iter().any(|f| reaches_out(f, depth + 1))),
        }
    }
    match ty {
        DataType::Data(_) => !reaches_out(ty, 0),
        DataType::Tuple(ts) => ts
            .iter()
            .all(|t| matches!(t, DataType::Data(_)) && own_pools_only(t)),
        DataType::Tensor(_) | DataType::Rec(_) => false,
    }
}

/// Appends the sizes of the tensors of a nested structure's plain field
/// of IR type `ty` (a child's carrier components among them), depth
/// first; whether it holds no structure.
fn plain_sizes(ty: &Type, sizes: &mut Vec<usize>) -> bool {
    match ty {
        Type::Tuple(ts) => {
            // Every component's sizes, past a structure too.
            let mut plain = true;
            for t in ts {
                plain &= plain_sizes(t, sizes);
            }
            plain
        }
        Type::Data(_) => false,
        t => tensor_components(t, sizes),
    }
}

/// Appends, per view of a plain field of type `ty` (seen from the nested
/// data type), where it reads from: `None` for a tensor of the data, the
/// slot of the node's `children`-th child's carrier component for a
/// child (counting it).
fn view_sources(
    ty: &DataType,
    carrier_parts: usize,
    children: &mut usize,
    out: &mut Vec<Option<usize>>,
) {
    match ty {
        DataType::Tensor(_) => out.push(None),
        DataType::Tuple(ts) => ts
            .iter()
            .for_each(|t| view_sources(t, carrier_parts, children, out)),
        DataType::Rec(_) => {
            let first = *children * carrier_parts;
            out.extend((first..first + carrier_parts).map(Some));
            *children += 1;
        }
        DataType::Data(_) => {}
    }
}
