//! The expressions of a body as IR: values, morphisms (instances,
//! compositions, recursion schemes) and built-in functions, read from the
//! HIR with every name resolved and every checked fact at hand.

use super::{Frame, Inst, Local, Lowerer, Morph, R, located};
use crate::builtins::{Builtin, Function};
use crate::check::size::Poly;
use crate::check::types::{Ty, TyDisplay};
use crate::hir::{self, BodyKind, Expr, ExprId, Pattern, Stmt, UnfoldSource};
use crate::resolve::ItemId;
use cdlc_grammar::Span;
use cdlc_ir::{self as ir, Source, Split, UnOp};
use std::rc::Rc;

impl<'a> Lowerer<'a> {
    fn block(&mut self, stmts: &[Stmt], result: ExprId, frame: &mut Frame<'a>) -> R<ir::Value> {
        self.statements(stmts, frame)?;
        self.value(result, frame)
    }

    /// Binds a block's `param` and `let` statements in the frame, in order.
    fn statements(&mut self, stmts: &[Stmt], frame: &mut Frame<'a>) -> R<()> {
        for s in stmts {
            match s {
                Stmt::Param(p) => {
                    let inst = frame.inst.clone();
                    let v = self.param(&inst, p.index)?;
                    frame.locals.insert(p.local, Local::Value(v));
                }
                Stmt::Let(pat, e) => {
                    let v = self.expr_or_morph(*e, frame)?;
                    self.bind(pat, v, frame);
                }
            }
        }
        Ok(())
    }

    fn bind(&mut self, pat: &Pattern, v: Local, frame: &mut Frame<'a>) {
        match (pat, v) {
            (Pattern::Local(l), v) => {
                frame.locals.insert(*l, v);
            }
            (Pattern::Tuple(ps), Local::Value(t)) => {
                for (i, p) in ps.iter().enumerate() {
                    let vi = self.b.get(t, i as u32);
                    self.bind(p, Local::Value(vi), frame);
                }
            }
            (Pattern::Tuple(_), Local::Morph(_)) => {
                panic!("internal error: a tuple pattern binds a morphism")
            }
        }
    }

    /// An expression that may be a value or a morphism (`let enc = dense[16, 8]`).
    fn expr_or_morph(&mut self, e: ExprId, frame: &mut Frame<'a>) -> R<Local> {
        if frame.body.is_morphism(e) {
            Ok(Local::Morph(self.morph(e, frame)?))
        } else {
            Ok(Local::Value(self.value(e, frame)?))
        }
    }

    pub(super) fn value(&mut self, e: ExprId, frame: &mut Frame<'a>) -> R<ir::Value> {
        let body = frame.body;
        match &body.exprs[e] {
            Expr::Number(x) => Ok(self.b.scalar(*x)),
            Expr::Local(l) => match frame.locals.get(l) {
                Some(Local::Value(v)) => Ok(*v),
                _ => panic!(
                    "internal error: `{}` is not a value at {:?}",
                    body.locals[*l].name,
                    body.span(e)
                ),
            },
            Expr::Tuple(es) => {
                let vs = es
                    .iter()
                    .map(|x| self.value(*x, frame))
                    .collect::<R<Vec<_>>>()?;
                Ok(self.b.tuple(vs))
            }
            Expr::Block { stmts, result } => self.block(stmts, *result, frame),
            Expr::LetIn { pat, value, body } => {
                let val = self.expr_or_morph(*value, frame)?;
                self.bind(pat, val, frame);
                self.value(*body, frame)
            }
            Expr::Apply { f, args } => {
                let vals = args
                    .iter()
                    .map(|a| self.value(*a, frame))
                    .collect::<R<Vec<_>>>()?;
                let arg = if vals.len() == 1 {
                    vals[0]
                } else {
                    self.b.tuple(vals)
                };
                let m = self.morph(*f, frame)?;
                if frame.inst.prefix.is_empty() && self.b.at_top_level() {
                    let sizes = match m.as_ref() {
                        Morph::Def(inst) => inst.sizes.clone(),
                        _ => Default::default(),
                    };
                    self.applied.push(super::AppliedArg {
                        expr: e,
                        arg,
                        sizes,
                    });
                }
                self.apply_morph(&m, arg)
            }
            Expr::Builtin(call) => self.builtin(call, frame),
            Expr::Binary(hir::BinOp::MatMul, w, x) => self.matmul(*w, *x, frame),
            Expr::Binary(op, a, c) => {
                let (x, y) = (self.value(*a, frame)?, self.value(*c, frame)?);
                let op = match op {
                    hir::BinOp::Add => ir::BinOp::Add,
                    hir::BinOp::Sub => ir::BinOp::Sub,
                    hir::BinOp::Mul => ir::BinOp::Mul,
                    hir::BinOp::Div => ir::BinOp::Div,
                    hir::BinOp::MatMul => unreachable!("handled above"),
                };
                // The checker's broadcasting (a scalar, or `R[c]` against
                // `R[c, ...]`) is the IR's prefix broadcasting.
                Ok(self.b.binary(op, x, y))
            }
            Expr::Neg(a) => {
                let x = self.value(*a, frame)?;
                Ok(self.b.neg(x))
            }
            Expr::Transpose(a) => {
                let x = self.value(*a, frame)?;
                Ok(self.b.transpose(x))
            }
            Expr::Unfold {
                coalg,
                sizes,
                from,
                source,
            } => {
                let init = self.value(*from, frame)?;
                let source = match source {
                    UnfoldSource::Over(xs) => Source::Over(self.value(*xs, frame)?),
                    UnfoldSource::Take(k) => {
                        let k = self.size(k, &frame.inst);
                        Source::Take(u32::try_from(k).expect("a checked number of steps"))
                    }
                };
                self.unfold(e, (*coalg, sizes), init, source, frame)
            }
            Expr::Inst { .. }
            | Expr::Pointwise(_)
            | Expr::Id
            | Expr::Compose(..)
            | Expr::Fold { .. }
            | Expr::Hylo { .. } => {
                panic!(
                    "internal error: a morphism used as a value at {:?}",
                    body.span(e)
                )
            }
            Expr::Error => panic!("internal error: an error node reached instantiation"),
        }
    }

    /// `W @ x`: an equivariant `W` (its checked type a `Ty::Map`) is applied
    /// to all of `x`'s axes, through its basis when that was chosen; any
    /// other `W` contracts its last axis with the first of `x`.
    fn matmul(&mut self, w: ExprId, x: ExprId, frame: &mut Frame<'a>) -> R<ir::Value> {
        let equivariant = matches!(frame.body.ty(w), Ty::Map { .. });
        let (wv, xv) = (self.value(w, frame)?, self.value(x, frame)?);
        if let Some(st) = self.structured.get(&wv).cloned() {
            return Ok(st.apply(&mut self.b, wv, xv));
        }
        Ok(if equivariant {
            self.b.apply(wv, xv)
        } else {
            self.b.matmul(wv, xv)
        })
    }

    fn builtin(&mut self, call: &hir::BuiltinCall, frame: &mut Frame<'a>) -> R<ir::Value> {
        let pos = call
            .args
            .iter()
            .map(|a| self.value(*a, frame))
            .collect::<R<Vec<_>>>()?;
        let named = call
            .named
            .map(|k| u32::try_from(k).expect("a checked axis"));
        let keep = u32::try_from(call.channels).expect("a small rank");
        let x = pos[0];
        Ok(match call.function.id {
            Builtin::Sum => self.b.reduce(ir::ReduceOp::Sum, x, named),
            Builtin::Mean => self.b.reduce(ir::ReduceOp::Mean, x, named),
            Builtin::Max => self.b.reduce(ir::ReduceOp::Max, x, named),
            Builtin::Softmax => self.b.softmax(x),
            Builtin::LogSoftmax => self.b.log_softmax(x),
            Builtin::Norm => self.b.norm(x, keep),
            Builtin::Gate => self.b.gate(x, keep),
            Builtin::Outer => self.b.outer(x, pos[1]),
            Builtin::Concat => self.b.concat(x, pos[1]),
            Builtin::Chunks => {
                let k = named.expect("a checked `chunks` has its number of parts");
                let part = self.b.shape_of(x)[0] as u32 / k;
                let parts = (0..k)
                    .map(|i| {
                        self.b.op(ir::Op::Slice {
                            x,
                            start: i * part,
                            len: part,
                        })
                    })
                    .collect();
                self.b.tuple(parts)
            }
            Builtin::Relu
            | Builtin::Tanh
            | Builtin::Sigmoid
            | Builtin::Exp
            | Builtin::Log
            | Builtin::Softplus
            | Builtin::Gelu
            | Builtin::Abs
            | Builtin::Sqrt => self.b.unary(pointwise(call.function), x),
        })
    }

    /// The morphism an expression denotes, creating instances for the
    /// occurrences it contains (once per enclosing instance).
    pub(super) fn morph(&mut self, e: ExprId, frame: &mut Frame<'a>) -> R<Rc<Morph>> {
        let body = frame.body;
        let span = body.span(e);
        match &body.exprs[e] {
            Expr::Local(l) => match frame.locals.get(l) {
                Some(Local::Morph(m)) => Ok(m.clone()),
                _ => panic!(
                    "internal error: `{}` is not a morphism at {span:?}",
                    body.locals[*l].name
                ),
            },
            Expr::Pointwise(f) => Ok(Rc::new(Morph::Pointwise(pointwise(f)))),
            Expr::Inst { item, sizes } => self.child(e, (*item, sizes), frame, Morph::Def),
            Expr::Id => Ok(Rc::new(Morph::Id)),
            Expr::Compose(a, c) => {
                let (ma, mc) = (self.morph(*a, frame)?, self.morph(*c, frame)?);
                Ok(Rc::new(Morph::Compose(ma, mc)))
            }
            Expr::Fold { alg, sizes } => {
                self.child(e, (*alg, sizes), frame, |i| Morph::Fold(i, span))
            }
            Expr::Hylo { alg, sizes } => {
                self.child(e, (*alg, sizes), frame, |i| Morph::Hylo(i, span))
            }
            // A block or `let ... in` whose value is a morphism binds its
            // statements in the frame, then is the morphism of its value:
            // `let f = dense[2, 2] in f >> f` applies one instance twice.
            Expr::Block { stmts, result } => {
                self.statements(stmts, frame)?;
                self.morph(*result, frame)
            }
            Expr::LetIn { pat, value, body } => {
                let val = self.expr_or_morph(*value, frame)?;
                self.bind(pat, val, frame);
                self.morph(*body, frame)
            }
            _ => panic!("internal error: not a morphism at {span:?}"),
        }
    }

    /// The instance of `item` at `sizes` created by occurrence `e` of the
    /// frame's instance, made on first use.
    fn child(
        &mut self,
        e: ExprId,
        (item, sizes): (ItemId, &[Poly]),
        frame: &mut Frame<'a>,
        make: impl FnOnce(Rc<Inst>) -> Morph,
    ) -> R<Rc<Morph>> {
        if let Some(m) = frame.inst.children.borrow().get(&e) {
            return Ok(m.clone());
        }
        let sizes: Vec<i64> = sizes.iter().map(|s| self.size(s, &frame.inst)).collect();
        let parent = frame.inst.clone();
        let inst = self.new_child(&parent, item, sizes);
        let m = Rc::new(make(inst));
        frame.inst.children.borrow_mut().insert(e, m.clone());
        Ok(m)
    }

    /// Applies a morphism to a value.
    pub(super) fn apply_morph(&mut self, m: &Rc<Morph>, arg: ir::Value) -> R<ir::Value> {
        match m.as_ref() {
            Morph::Pointwise(op) => Ok(self.b.unary(*op, arg)),
            Morph::Id => Ok(arg),
            Morph::Compose(f, g) => {
                let y = self.apply_morph(f, arg)?;
                self.apply_morph(g, y)
            }
            Morph::Def(inst) => self.apply_def(inst, arg),
            Morph::Fold(inst, span) => self.fold(inst, arg, Split::Structure, *span),
            Morph::Hylo(inst, span) => self.fold(inst, arg, Split::Halves, *span),
        }
    }

    /// A frame for one case of an algebra or coalgebra instance: its
    /// header's parameters (slots made once for the instance), then the
    /// case's binders bound to the region's arguments.
    fn case_frame(
        &mut self,
        inst: &Rc<Inst>,
        params: &[hir::ParamDecl],
        case: &hir::Case,
        args: Vec<ir::Value>,
    ) -> R<Frame<'a>> {
        let mut frame = Frame::new(inst, self.body(inst.item));
        for p in params {
            let v = self.param(inst, p.index)?;
            frame.locals.insert(p.local, Local::Value(v));
        }
        for (b, v) in case.binders.iter().zip(args) {
            frame.locals.insert(*b, Local::Value(v));
        }
        Ok(frame)
    }

    /// The header parameters and cases of an algebra or coalgebra.
    fn cases(&self, item: ItemId) -> (&'a [hir::ParamDecl], &'a [hir::Case]) {
        match &self.body(item).kind {
            BodyKind::Cases { params, cases } => (params, cases),
            _ => unreachable!("an algebra's or coalgebra's body is its cases"),
        }
    }

    fn fold(
        &mut self,
        inst: &Rc<Inst>,
        input: ir::Value,
        split: Split,
        span: Span,
    ) -> R<ir::Value> {
        let info = self.alg_info(inst.item);
        let functor = info.functor.expect("a checked algebra has a functor");
        let fargs: Vec<Ty> = info
            .functor_args
            .iter()
            .map(|t| self.subst(inst, t))
            .collect();
        let data_ty = Ty::Data {
            co: false,
            functor,
            args: fargs,
        };
        let data = located(self.data_id(&data_ty), span)?;
        let carrier_ty = self.subst(inst, &info.carrier);
        let carrier = located(self.ir_type(&carrier_ty), span)?;
        if !carrier.is_differentiable() {
            let shown = TyDisplay {
                ty: &carrier_ty,
                namer: self.checked,
            };
            return self.unsupported(
                format!(
                    "a fold whose carrier `{shown}` holds a list or another structure \
                     (the algebra's result must be built from tensors)"
                ),
                span,
            );
        }
        let (params, alg_cases) = self.cases(inst.item);
        // The header's slots come first, in declaration order.
        for p in params {
            self.param(inst, p.index)?;
        }
        located(self.intern_nested(inst, data, alg_cases), span)?;
        let case_types = self.b.case_types(data, &carrier);
        let mut cases = Vec::new();
        for (i, tys) in case_types.iter().enumerate() {
            let case = alg_cases
                .iter()
                .find(|c| c.ctor == i)
                .expect("an algebra that checked has a case per constructor");
            let args = self.b.begin_region(tys);
            let mut frame = self.case_frame(inst, params, case, args)?;
            let r = self.value(case.value, &mut frame)?;
            cases.push(self.b.end_region(r));
        }
        let v = self.b.fold_regions(data, split, input, carrier, cases);
        self.spans.push((v, span));
        Ok(v)
    }

    /// Makes sure the module holds the data types of the structures a fold
    /// over `data` binds at its nested fields (`Tree(X)`, `List(A * X)`):
    /// each is the case binder's checked type, the field with the carrier
    /// in its recursive positions, interned under the name the checker
    /// gives it.
    fn intern_nested(&mut self, inst: &Inst, data: ir::DataId, cases: &[hir::Case]) -> R<()> {
        let body = self.body(inst.item);
        for case in cases {
            let fields = self.b.module().data[data].ctors[case.ctor].fields.clone();
            for (f, b) in fields.iter().zip(&case.binders) {
                if let ir::Field::Nested(_) = f {
                    let ty = self.subst(inst, &body.locals[*b].ty);
                    self.intern_data(&ty)?;
                }
            }
        }
        Ok(())
    }

    /// Interns the data types a concrete type holds.
    fn intern_data(&mut self, t: &Ty) -> R<()> {
        match t {
            Ty::Data { .. } => self.data_id(t).map(|_| ()),
            Ty::Tuple(ts) => ts.iter().try_for_each(|t| self.intern_data(t)),
            _ => Ok(()),
        }
    }

    /// `unfold coalg[sizes] from init over xs` (or `take k`), written at `e`.
    fn unfold(
        &mut self,
        e: ExprId,
        coalg: (ItemId, &[Poly]),
        init: ir::Value,
        source: Source,
        frame: &mut Frame<'a>,
    ) -> R<ir::Value> {
        let span = frame.body.span(e);
        let m = self.child(e, coalg, frame, |i| Morph::Fold(i, span))?;
        let Morph::Fold(inst, _) = m.as_ref() else {
            unreachable!("created as a fold instance")
        };
        let (params, cases) = self.cases(inst.item);
        for p in params {
            self.param(inst, p.index)?;
        }
        let state = self.b.type_of(init).clone();
        let mut arg_tys = vec![state];
        if let Source::Over(xs) = source {
            // An input list, or a computed one (a rose node's children, an
            // unfold's outputs).
            let elem = self
                .b
                .module()
                .over_element(self.b.type_of(xs))
                .expect("the list an unfold runs over has the type of a list")
                .clone();
            arg_tys.push(elem);
        }
        let case = &cases[0];
        let args = self.b.begin_region(&arg_tys);
        let mut inner = self.case_frame(inst, params, case, args)?;
        let r = self.value(case.value, &mut inner)?;
        if let ir::Type::Tuple(ts) = self.b.type_of(r)
            && ts.iter().any(|t| !t.is_differentiable())
        {
            return self.unsupported(
                "an unfold whose step's output or state holds a list or another structure \
                 (they must be built from tensors: emit the list's elements from an unfold \
                 of their own, or fold the list to a tensor first)",
                span,
            );
        }
        let body = self.b.end_region(r);
        let v = self.b.unfold_region(init, source, body);
        self.spans.push((v, span));
        Ok(v)
    }
}

/// The IR op of a pointwise built-in. The HIR holds only pointwise
/// entries in `Expr::Pointwise` (its verifier checks the table's kind).
fn pointwise(f: &Function) -> UnOp {
    unary_op(f.id).expect("the HIR's pointwise maps are pointwise entries")
}

/// The IR op of a built-in that maps entry by entry, `None` for the others.
fn unary_op(id: Builtin) -> Option<UnOp> {
    Some(match id {
        Builtin::Relu => UnOp::Relu,
        Builtin::Tanh => UnOp::Tanh,
        Builtin::Sigmoid => UnOp::Sigmoid,
        Builtin::Exp => UnOp::Exp,
        Builtin::Log => UnOp::Log,
        Builtin::Softplus => UnOp::Softplus,
        Builtin::Gelu => UnOp::Gelu,
        Builtin::Abs => UnOp::Abs,
        Builtin::Sqrt => UnOp::Sqrt,
        Builtin::Sum
        | Builtin::Mean
        | Builtin::Max
        | Builtin::Softmax
        | Builtin::LogSoftmax
        | Builtin::Norm
        | Builtin::Gate
        | Builtin::Outer
        | Builtin::Concat
        | Builtin::Chunks => return None,
    })
}
