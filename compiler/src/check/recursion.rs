//! Algebras, coalgebras and the recursion schemes that use them: `fold`,
//! `unfold ... over`, `unfold ... take` and `hylo ... by halves`.
//!
//! An algebra for `F(A)` with carrier `C` gives one case per constructor of
//! `F`, whose binders have the constructor's field types with `X` replaced
//! by `C`; each case's body is a `C`. A coalgebra with state `S` is for a
//! functor with one constructor; its case binds the state (and, for a field
//! `I -> T`, the input) and produces the fields with `X` replaced by `S`.

use super::decls::plural;
use super::expr::Cx;
use super::size::Poly;
use super::types::{FunctorId, Ty};
use super::{AlgebraInfo, Checker, TypeEnv, size_subst};
use crate::builtins::STRUCTURAL_COALGEBRAS;
use crate::diagnostics::{Diagnostic, closest};
use crate::hir::{self, BodyKind, Expr};
use crate::resolve::ItemId;
use cdlc_grammar::ast::{self, ExprKind, ItemKind, TypeKind};
use cdlc_grammar::{Ident, Span};

impl Checker<'_, '_> {
    /// The functor an algebra or coalgebra header names, with its arguments.
    fn header_functor(&mut self, t: &ast::Type, env: &TypeEnv) -> Option<(FunctorId, Vec<Ty>)> {
        let TypeKind::Named { name, args } = &t.kind else {
            self.error(
                Diagnostic::error(
                    "E0405",
                    "expected a functor applied to its arguments",
                    t.span,
                    "not a functor",
                )
                .with_help("write the functor, as in `ListF(R[d])`"),
            );
            return None;
        };
        let args: Vec<Ty> = args.iter().map(|a| self.ty(a, env)).collect();
        if let Some(id) = self.program.lookup(&name.node) {
            if let Some(&f) = self.functor_ids.get(&id) {
                if !self.check_functor_arity(f, args.len(), t.span) {
                    return None;
                }
                return Some((f, args));
            }
            if let Some(info) = self.data_info(id) {
                let fname = self.out.functors[info.functor.0 as usize].name.clone();
                self.error(
                    Diagnostic::error(
                        "E0405",
                        format!("`{}` is a data type, not a functor", name.node),
                        name.span,
                        "expected a functor here",
                    )
                    .with_help(format!(
                        "an algebra is for the functor; write `{fname}(...)`"
                    )),
                );
                return None;
            }
        }
        self.functor_by_name(name);
        None
    }

    pub(super) fn algebra_header(&mut self, id: ItemId, a: &ast::Algebra) {
        let env = self.size_params(&a.size_params);
        let f = self.header_functor(&a.functor, &env);
        let carrier = self.ty(&a.carrier, &env);
        self.out.algebras.insert(
            id,
            AlgebraInfo {
                name: a.name.node.clone(),
                item: id,
                co: false,
                size_params: env.sizes,
                functor: f.as_ref().map(|f| f.0),
                functor_args: f.map(|f| f.1).unwrap_or_default(),
                carrier,
                params: Vec::new(),
                header_ok: true,
            },
        );
        let ok = self.out.algebras[&id].functor.is_some();
        self.out.algebras[&id].header_ok = ok;
    }

    pub(super) fn coalgebra_header(&mut self, id: ItemId, c: &ast::Coalgebra) {
        let env = self.size_params(&c.size_params);
        let carrier = self.ty(&c.carrier, &env);
        let f = self.header_functor(&c.functor, &env);
        let mut ok = f.is_some();
        if let Some((fid, _)) = &f {
            let info = &self.out.functors[fid.0 as usize];
            if info.ctors.len() != 1 {
                let (fname, n, fspan) = (info.name.clone(), info.ctors.len(), info.span);
                let names: Vec<String> =
                    info.ctors.iter().map(|c| format!("`{}`", c.name)).collect();
                self.error(
                    Diagnostic::error(
                        "E0406",
                        format!("a coalgebra needs a functor with one constructor; `{fname}` has {n}"),
                        c.functor.span,
                        format!("{fname} = {}", names.join(" | ")),
                    )
                    .with_label(fspan, "declared here")
                    .with_note("a coalgebra case produces the fields of its constructor; with several, it would have to choose one, which needs a structural coalgebra")
                    .with_help("use a one-constructor functor such as `StreamF(A)` or `Mealy(I, O)`, or a built-in structural coalgebra with `hylo ... by halves`"),
                );
                ok = false;
            }
        }
        self.out.algebras.insert(
            id,
            AlgebraInfo {
                name: c.name.node.clone(),
                item: id,
                co: true,
                size_params: env.sizes,
                functor: f.as_ref().map(|f| f.0),
                functor_args: f.map(|f| f.1).unwrap_or_default(),
                carrier,
                params: Vec::new(),
                header_ok: ok,
            },
        );
    }

    fn algebra_cx(
        &mut self,
        id: ItemId,
        params: &[ast::Param],
    ) -> (AlgebraInfo, Cx, Vec<hir::ParamDecl>) {
        let info = self.out.algebras[&id].clone();
        let env = TypeEnv {
            sizes: info.size_params.clone(),
            ..TypeEnv::default()
        };
        let mut cx = Cx::new(id, env);
        let decls = params.iter().map(|p| self.param(p, &mut cx)).collect();
        (info, cx, decls)
    }

    /// Records an algebra's or coalgebra's parameters and body.
    fn finish_cases(
        &mut self,
        id: ItemId,
        mut cx: Cx,
        params: Vec<hir::ParamDecl>,
        cases: Vec<hir::Case>,
    ) {
        self.out.algebras[&id].params = std::mem::take(&mut cx.params);
        let body = cx.body.finish(BodyKind::Cases { params, cases });
        self.out.hir.set_body(id, body);
    }

    pub(super) fn algebra_cases(&mut self, id: ItemId, a: &ast::Algebra) {
        let (info, mut cx, params) = self.algebra_cx(id, &a.params);
        let Some(fid) = info.functor.filter(|_| info.header_ok) else {
            self.finish_cases(id, cx, params, Vec::new());
            return;
        };
        let mut cases = Vec::new();
        let ctors = self.out.functors[fid.0 as usize].ctors.clone();
        let fname = self.out.functors[fid.0 as usize].name.clone();
        let mut covered: Vec<Option<Span>> = vec![None; ctors.len()];
        // Constructors that some case names correctly; an unknown name most
        // likely means one of the others.
        let named: Vec<bool> = ctors
            .iter()
            .map(|c| a.cases.iter().any(|k| k.ctor.node == c.name))
            .collect();
        for case in &a.cases {
            let Some(k) = ctors.iter().position(|c| c.name == case.ctor.node) else {
                let names: Vec<&str> = ctors.iter().map(|c| c.name.as_str()).collect();
                let guess = likely_constructor(case, &ctors, &named);
                let mut d = Diagnostic::error(
                    "E0402",
                    format!("`{fname}` has no constructor `{}`", case.ctor.node),
                    case.ctor.span,
                    "unknown constructor",
                );
                d = match guess {
                    Some(i) => {
                        // The case most likely meant constructor `i`: do not also report it missing.
                        covered[i].get_or_insert(case.ctor.span);
                        d.with_help(format!("did you mean `{}`?", ctors[i].name))
                    }
                    None => d.with_help(format!(
                        "the constructors of `{fname}` are {}",
                        names
                            .iter()
                            .map(|n| format!("`{n}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                };
                self.error(d);
                continue;
            };
            if let Some(prev) = covered[k] {
                self.error(
                    Diagnostic::error(
                        "E0202",
                        format!("two cases for constructor `{}`", case.ctor.node),
                        case.ctor.span,
                        "second case",
                    )
                    .with_label(prev, "first case"),
                );
                continue;
            }
            covered[k] = Some(case.ctor.span);
            let fields: Vec<Ty> = ctors[k]
                .fields
                .iter()
                .map(|t| t.instantiate(&info.functor_args, Some(&info.carrier)))
                .collect();
            if case.binders.len() != fields.len() {
                self.arity_error(case, &ctors[k].name, fields.len(), ctors[k].span, "field");
                continue;
            }
            let depth = cx.scope.len();
            let binders = case
                .binders
                .iter()
                .zip(fields)
                .map(|(b, t)| cx.bind_local(&b.node, t, b.span))
                .collect();
            let (value, t) = self.expr(&case.body, &mut cx);
            cx.scope.truncate(depth);
            cases.push(hir::Case {
                ctor: k,
                binders,
                value,
            });
            self.expect_carrier(&t, &info.carrier, case, &a.carrier);
        }
        // Parameters declared inside a case belong to the algebra too,
        // shared by every node like the others.
        self.finish_cases(id, cx, params, cases);
        for (k, c) in ctors.iter().enumerate() {
            if covered[k].is_none() {
                let binders = if c.fields.is_empty() {
                    String::new()
                } else {
                    let names: Vec<String> = (0..c.fields.len()).map(|i| format!("x{i}")).collect();
                    format!("({})", names.join(", "))
                };
                self.error(
                    Diagnostic::error(
                        "E0401",
                        format!(
                            "algebra `{}` has no case for constructor `{}`",
                            a.name.node, c.name
                        ),
                        a.name.span,
                        format!("missing `{}`", c.name),
                    )
                    .with_label(c.span, format!("`{}` is declared here", c.name))
                    .with_help(format!("add a case `{}{binders} => ...`", c.name)),
                );
            }
        }
    }

    fn arity_error(&mut self, case: &ast::Case, ctor: &str, want: usize, decl: Span, what: &str) {
        self.error(
            Diagnostic::error(
                "E0403",
                format!(
                    "constructor `{ctor}` needs {want} {what}{}, but the case binds {}",
                    plural(want),
                    case.binders.len()
                ),
                case.ctor
                    .span
                    .to(case.binders.last().map_or(case.ctor.span, |b| b.span)),
                format!("{} bound here", case.binders.len()),
            )
            .with_label(decl, format!("`{ctor}` is declared here"))
            .with_help(if what == "binder" {
                "a coalgebra case binds the state, then one input per function-typed field"
                    .to_string()
            } else {
                format!("bind one name per {what}")
            }),
        );
    }

    fn expect_carrier(&mut self, found: &Ty, carrier: &Ty, case: &ast::Case, decl: &ast::Type) {
        if !found.same(carrier) {
            let (f, c) = (self.show(found), self.show(carrier));
            self.error(
                Diagnostic::error(
                    "E0301",
                    format!(
                        "case `{}` gives {f}, but the carrier is {c}",
                        case.ctor.node
                    ),
                    case.body.span,
                    format!("this is {f}"),
                )
                .with_label(decl.span, format!("carrier {c} declared here")),
            );
        }
    }

    pub(super) fn coalgebra_cases(&mut self, id: ItemId, c: &ast::Coalgebra) {
        let (info, mut cx, params) = self.algebra_cx(id, &c.params);
        let Some(fid) = info.functor.filter(|_| info.header_ok) else {
            self.finish_cases(id, cx, params, Vec::new());
            return;
        };
        let mut cases = Vec::new();
        let ctor = self.out.functors[fid.0 as usize].ctors[0].clone();
        let fname = self.out.functors[fid.0 as usize].name.clone();
        let fields: Vec<Ty> = ctor
            .fields
            .iter()
            .map(|t| t.instantiate(&info.functor_args, Some(&info.carrier)))
            .collect();
        // The state, then one input per exponential field.
        let mut binder_tys = vec![info.carrier.clone()];
        let mut outputs = Vec::new();
        for f in fields {
            match f {
                Ty::Arrow(i, o) => {
                    binder_tys.push(*i);
                    outputs.push(*o);
                }
                other => outputs.push(other),
            }
        }
        let produced = if outputs.len() == 1 {
            outputs.pop().expect("one")
        } else {
            Ty::Tuple(outputs)
        };
        if c.cases.is_empty() {
            self.error(
                Diagnostic::error(
                    "E0401",
                    format!(
                        "coalgebra `{}` has no case for constructor `{}`",
                        c.name.node, ctor.name
                    ),
                    c.name.span,
                    format!("missing `{}`", ctor.name),
                )
                .with_label(ctor.span, "declared here")
                .with_help(format!("add a case `{}(s, ...) => ...`", ctor.name)),
            );
        }
        let mut first: Option<Span> = None;
        for case in &c.cases {
            if case.ctor.node != ctor.name {
                let d = Diagnostic::error(
                    "E0402",
                    format!("`{fname}` has no constructor `{}`", case.ctor.node),
                    case.ctor.span,
                    "unknown constructor",
                )
                .with_help(format!("did you mean `{}`?", ctor.name));
                self.error(d);
                continue;
            }
            if let Some(prev) = first {
                self.error(
                    Diagnostic::error(
                        "E0202",
                        format!("two cases for constructor `{}`", ctor.name),
                        case.ctor.span,
                        "second case",
                    )
                    .with_label(prev, "first case"),
                );
                continue;
            }
            first = Some(case.ctor.span);
            if case.binders.len() != binder_tys.len() {
                self.arity_error(case, &ctor.name, binder_tys.len(), ctor.span, "binder");
                continue;
            }
            let depth = cx.scope.len();
            let binders = case
                .binders
                .iter()
                .zip(&binder_tys)
                .map(|(b, t)| cx.bind_local(&b.node, t.clone(), b.span))
                .collect();
            let (value, t) = self.expr(&case.body, &mut cx);
            cx.scope.truncate(depth);
            cases.push(hir::Case {
                ctor: 0,
                binders,
                value,
            });
            if !t.same(&produced) {
                let (f, p) = (self.show(&t), self.show(&produced));
                self.error(
                    Diagnostic::error(
                        "E0301",
                        format!("case `{}` gives {f}, but `{}` needs {p}", case.ctor.node, ctor.name),
                        case.body.span,
                        format!("this is {f}"),
                    )
                    .with_label(ctor.span, "the constructor's fields, with X the state")
                    .with_help("a coalgebra case produces the constructor's fields, with the next state where `X` is"),
                );
            }
        }
        self.finish_cases(id, cx, params, cases);
    }

    // ------------------------------------------------------------ recursion schemes

    /// An algebra or coalgebra named in a recursion scheme, instantiated.
    fn scheme_operand(
        &mut self,
        n: &Ident,
        sizes: &[ast::Size],
        span: Span,
        want_co: bool,
        cx: &mut Cx,
    ) -> Option<(AlgebraInfo, Vec<Poly>)> {
        let kind = if want_co { "coalgebra" } else { "algebra" };
        let Some(id) = self.program.lookup(&n.node) else {
            let c = self.globals_where(|k| {
                if want_co {
                    matches!(k, ItemKind::Coalgebra(_))
                } else {
                    matches!(k, ItemKind::Algebra(_))
                }
            });
            self.unknown(n, kind, c);
            return None;
        };
        let Some(info) = self
            .out
            .algebras
            .get(&id)
            .cloned()
            .filter(|i| i.co == want_co)
        else {
            let what = super::expr::item_kind_name(&self.program.item(id).kind);
            let verb = if want_co { "unfold" } else { "fold" };
            self.error(Diagnostic::error(
                "E0303",
                format!(
                    "`{}` is {what}; `{verb}` needs {} {kind}",
                    n.node,
                    if want_co { "a" } else { "an" }
                ),
                n.span,
                format!("not {} {kind}", if want_co { "a" } else { "an" }),
            ));
            return None;
        };
        self.record_use(cx.owner, id, span);
        let args = self.sizes(sizes, &cx.env)?;
        if args.len() != info.size_params.len() {
            let k = info.size_params.len();
            self.error(Diagnostic::error(
                "E0302",
                format!(
                    "`{}` takes {k} size argument{}, found {}",
                    n.node,
                    plural(k),
                    args.len()
                ),
                span,
                format!("{} given", args.len()),
            ));
            return None;
        }
        if !info.header_ok {
            return None;
        }
        Some((info, args))
    }

    fn instantiate_algebra(&self, info: &AlgebraInfo, args: &[Poly]) -> (Vec<Ty>, Ty) {
        let subst = size_subst(&info.size_params, args);
        let fargs = info
            .functor_args
            .iter()
            .map(|t| t.subst_sizes(&subst))
            .collect();
        (fargs, info.carrier.subst_sizes(&subst))
    }

    /// `fold alg[sizes]`: `fix F(A) -> C`.
    pub(super) fn fold_morphism(
        &mut self,
        n: &Ident,
        sizes: &[ast::Size],
        span: Span,
        input: Option<&Ty>,
        cx: &mut Cx,
    ) -> (Expr, Option<(Ty, Ty)>) {
        let Some((info, args)) = self.scheme_operand(n, sizes, span, false, cx) else {
            return (Expr::Error, None);
        };
        let sig = self.fold_sig(n, &info, &args, span, input);
        let node = Expr::Fold {
            alg: info.item,
            sizes: args,
        };
        (node, sig)
    }

    /// The signature of `fold alg[args]` applied to `input`, when known.
    fn fold_sig(
        &mut self,
        n: &Ident,
        info: &AlgebraInfo,
        args: &[Poly],
        span: Span,
        input: Option<&Ty>,
    ) -> Option<(Ty, Ty)> {
        let fid = info.functor?;
        let (fargs, carrier) = self.instantiate_algebra(info, args);
        let dom = Ty::Data {
            co: false,
            functor: fid,
            args: fargs,
        };
        if let Some(t @ Ty::Data { functor, .. }) = input
            && *functor != fid
        {
            {
                let (found, fname) = (self.show(t), self.out.functors[fid.0 as usize].name.clone());
                let decl = self.def_name_span(info.item);
                self.error(
                    Diagnostic::error(
                        "E0405",
                        format!(
                            "`{}` is an algebra for `{fname}`, but the value folded is {found}",
                            n.node
                        ),
                        span,
                        format!("folds {}", self.show(&dom)),
                    )
                    .with_label(decl, format!("`{}` is declared for `{fname}` here", n.node))
                    .with_help(format!(
                        "fold a value of {}, or use an algebra for the functor of {found}",
                        self.show(&dom)
                    )),
                );
                return None;
            }
        }
        Some((dom, carrier))
    }

    /// `hylo alg by halves`: `List(A) -> C` for an algebra of `TreeF(A)`.
    pub(super) fn hylo_morphism(
        &mut self,
        alg: &Ident,
        alg_sizes: &[ast::Size],
        coalg: &Ident,
        coalg_sizes: &[ast::Size],
        span: Span,
        cx: &mut Cx,
    ) -> (Expr, Option<(Ty, Ty)>) {
        if !STRUCTURAL_COALGEBRAS.contains(&coalg.node.as_str()) {
            let mut d = Diagnostic::error(
                "E0405",
                format!(
                    "`hylo ... by` needs a built-in structural coalgebra, found `{}`",
                    coalg.node
                ),
                coalg.span,
                "not a structural coalgebra",
            );
            d = match closest(&coalg.node, STRUCTURAL_COALGEBRAS.iter().copied()) {
                Some(c) => d.with_help(format!("did you mean `{c}`?")),
                None => d.with_help("the built-in structural coalgebras are: `halves`"),
            };
            self.error(d);
            return (Expr::Error, None);
        }
        if !coalg_sizes.is_empty() {
            self.error(Diagnostic::error(
                "E0302",
                format!("`{}` takes no size arguments", coalg.node),
                coalg.span,
                "sizes given here",
            ));
        }
        let Some((info, args)) = self.scheme_operand(alg, alg_sizes, span, false, cx) else {
            return (Expr::Error, None);
        };
        let sig = self.hylo_sig(alg, &info, &args);
        let node = Expr::Hylo {
            alg: info.item,
            sizes: args,
        };
        (node, sig)
    }

    /// The signature of `hylo alg[args] by halves`.
    fn hylo_sig(&mut self, alg: &Ident, info: &AlgebraInfo, args: &[Poly]) -> Option<(Ty, Ty)> {
        let fid = info.functor?;
        let tree = self.prelude_functor("TreeF");
        if Some(fid) != tree {
            let fname = self.out.functors[fid.0 as usize].name.clone();
            self.error(
                Diagnostic::error(
                    "E0405",
                    format!(
                        "`halves` unfolds into `TreeF`, but `{}` is an algebra for `{fname}`",
                        alg.node
                    ),
                    alg.span,
                    format!("an algebra for `{fname}`"),
                )
                .with_help("use an algebra for `TreeF(A)`, such as `treenn`"),
            );
            return None;
        }
        let (fargs, carrier) = self.instantiate_algebra(info, args);
        let list = self.prelude_functor("ListF")?;
        Some((
            Ty::Data {
                co: false,
                functor: list,
                args: fargs,
            },
            carrier,
        ))
    }

    /// The prelude's functor of this name.
    pub(super) fn prelude_functor(&self, name: &str) -> Option<FunctorId> {
        self.out
            .functors
            .iter()
            .position(|f| f.name == name)
            .map(|i| FunctorId(i as u32))
    }

    /// `unfold c from s over xs` and `unfold c from s take k`.
    pub(super) fn unfold(&mut self, e: &ast::Expr, cx: &mut Cx) -> (Expr, Ty) {
        let (coalg, sizes, from, over, take) = match &e.kind {
            ExprKind::UnfoldOver {
                coalg,
                sizes,
                from,
                over,
            } => (coalg, sizes, from, Some(over), None),
            ExprKind::UnfoldTake {
                coalg,
                sizes,
                from,
                take,
            } => {
                let k = self.size(take, &cx.env);
                if let Some(k) = &k {
                    self.check_natural(&Ty::tensor(vec![k.clone()]), take.span);
                }
                (coalg, sizes, from, None, Some(k))
            }
            _ => unreachable!("unfold called on another expression"),
        };
        let (from_id, from_ty) = self.expr(from, cx);
        let over = over.map(|o| (self.expr(o, cx), o.span));
        let Some((info, args)) = self.scheme_operand(coalg, sizes, e.span, true, cx) else {
            return (Expr::Error, Ty::Error);
        };
        let source = match (&over, take) {
            (Some(((h, _), _)), _) => Some(hir::UnfoldSource::Over(*h)),
            (None, Some(Some(k))) => Some(hir::UnfoldSource::Take(k)),
            _ => None,
        };
        let over_ty = over.map(|((_, t), span)| (t, span));
        let ty = self.unfold_type(e, (coalg, from), &from_ty, over_ty, &info, &args);
        let node = match source {
            Some(source) => Expr::Unfold {
                coalg: info.item,
                sizes: args,
                from: from_id,
                source,
            },
            None => Expr::Error,
        };
        (node, ty)
    }

    /// The type of `unfold coalg from s over xs` (or `take k`), given the
    /// types of `s` and `xs`.
    fn unfold_type(
        &mut self,
        e: &ast::Expr,
        (coalg, from): (&Ident, &ast::Expr),
        from_ty: &Ty,
        over_ty: Option<(Ty, Span)>,
        info: &AlgebraInfo,
        args: &[Poly],
    ) -> Ty {
        let Some(fid) = info.functor else {
            return Ty::Error;
        };
        let (fargs, state) = self.instantiate_algebra(info, args);
        if !from_ty.same(&state) {
            let (f, s) = (self.show(from_ty), self.show(&state));
            self.error(
                Diagnostic::error(
                    "E0301",
                    format!(
                        "the initial state is {f}, but `{}` has state {s}",
                        coalg.node
                    ),
                    from.span,
                    format!("this is {f}"),
                )
                .with_help(format!("start from a value of type {s}")),
            );
        }
        let ctor = self.out.functors[fid.0 as usize].ctors[0].clone();
        let fields: Vec<Ty> = ctor
            .fields
            .iter()
            .map(|t| t.instantiate(&fargs, Some(&Ty::X)))
            .collect();
        let list = self
            .prelude_functor("ListF")
            .expect("the prelude declares ListF");
        let list_of = |t: Ty| Ty::Data {
            co: false,
            functor: list,
            args: vec![t],
        };
        match (over_ty, fields.as_slice()) {
            (Some((xs, xs_span)), [Ty::Arrow(i, o)]) if matches!(o.as_ref(), Ty::Tuple(p) if p.len() == 2 && matches!(p[1], Ty::X)) =>
            {
                let Ty::Tuple(p) = o.as_ref() else {
                    unreachable!("matched above")
                };
                let want = list_of((**i).clone());
                if !xs.same(&want) {
                    let (f, w) = (self.show(&xs), self.show(&want));
                    self.error(Diagnostic::error(
                        "E0301",
                        format!("`unfold ... over` runs over {w}, found {f}"),
                        xs_span,
                        format!("this is {f}"),
                    ));
                }
                list_of(p[0].clone())
            }
            (None, [a, Ty::X]) => list_of(a.clone()),
            (over, _) => {
                let fname = self.out.functors[fid.0 as usize].name.clone();
                let (needs, form) = if over.is_some() {
                    ("a Mealy machine `step(I -> O * X)`", "over")
                } else {
                    ("a stream `next(A, X)`", "take")
                };
                self.error(
                    Diagnostic::error(
                        "E0405",
                        format!("`unfold ... {form}` needs {needs}, but `{}` is a coalgebra for `{fname}`", coalg.node),
                        e.span,
                        format!("a coalgebra for `{fname}`"),
                    )
                    .with_help("use `over xs` with a Mealy coalgebra and `take k` with a stream coalgebra"),
                );
                Ty::Error
            }
        }
    }
}

/// The constructor an unknown case name most likely meant: among those no
/// case names correctly, the one with the case's arity, then the nearest
/// name (by edit distance).
fn likely_constructor(
    case: &ast::Case,
    ctors: &[super::CtorInfo],
    named: &[bool],
) -> Option<usize> {
    let free: Vec<usize> = (0..ctors.len()).filter(|i| !named[*i]).collect();
    let close = closest(
        &case.ctor.node,
        free.iter().map(|i| ctors[*i].name.as_str()),
    );
    let by_name = close.and_then(|c| ctors.iter().position(|k| k.name == c));
    let same_arity: Vec<usize> = free
        .iter()
        .copied()
        .filter(|i| ctors[*i].fields.len() == case.binders.len())
        .collect();
    match (by_name, same_arity.as_slice()) {
        (Some(i), _) => Some(i),
        (None, [only]) => Some(*only),
        _ => None,
    }
}
