//! Layers and models: headers, bodies, and the typing of expressions.

use super::decls::plural;
use super::types::{Shape, Ty};
use super::{Checker, ClaimInfo, DefInfo, ParamInfo, ParamKind, TypeEnv, size_subst};
use crate::builtins::{BUILTINS, INITS, POINTWISE};
use crate::diagnostics::Diagnostic;
use crate::hir::{self, BodyBuilder, BodyKind, BuiltinCall, Expr, ExprId, LocalId};
use crate::resolve::ItemId;
use cdlc_grammar::ast::{self, BinOp, DefBody, ExprKind, ItemKind, Pattern, Stmt};
use cdlc_grammar::{Ident, Span};

/// The context of one definition's body.
pub(super) struct Cx {
    /// The definition being checked, for the use graph.
    pub owner: Option<ItemId>,
    /// Size parameters in scope.
    pub env: TypeEnv,
    /// Local names in scope, innermost last.
    pub scope: Vec<(String, LocalId)>,
    /// The definition's parameters, collected as they are declared.
    pub params: Vec<ParamInfo>,
    /// The body's HIR, written as the body is checked.
    pub body: BodyBuilder,
}

impl Cx {
    pub(super) fn new(owner: ItemId, env: TypeEnv) -> Cx {
        Cx {
            owner: Some(owner),
            env,
            scope: Vec::new(),
            params: Vec::new(),
            body: BodyBuilder::default(),
        }
    }

    /// The innermost local of this name.
    pub(super) fn local(&self, name: &str) -> Option<LocalId> {
        self.scope
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, l)| *l)
    }

    fn lookup(&self, name: &str) -> Option<&Ty> {
        self.local(name).map(|l| self.body.local_ty(l))
    }

    /// Binds a new local in the innermost scope.
    pub(super) fn bind_local(&mut self, name: &str, ty: Ty, span: Span) -> LocalId {
        let l = self.body.local(name, ty, span);
        self.scope.push((name.to_string(), l));
        l
    }

    /// Adds an expression to the body.
    pub(super) fn node(&mut self, e: Expr, ty: &Ty, span: Span) -> ExprId {
        self.body.expr(e, ty, span)
    }

    /// The names in scope, for suggestions.
    fn names(&self) -> Vec<String> {
        self.scope.iter().map(|(n, _)| n.clone()).collect()
    }
}

/// A checked expression: its handle in the body and its type.
pub(super) type Typed = (ExprId, Ty);

impl Checker<'_, '_> {
    /// Size parameters of a definition, each a fresh variable.
    pub(super) fn size_params(&mut self, names: &[Ident]) -> TypeEnv {
        let mut env = TypeEnv::default();
        for n in names {
            if env.sizes.iter().any(|(m, _)| *m == n.node) {
                self.error(Diagnostic::error(
                    "E0202",
                    format!("size parameter `{}` is declared twice", n.node),
                    n.span,
                    "declared again here",
                ));
            }
            let v = self.new_var(&n.node);
            env.sizes.push((n.node.clone(), v));
        }
        env
    }

    pub(super) fn def_header(&mut self, id: ItemId, d: &ast::Def) {
        let DefBody::Block {
            args,
            result,
            claim,
            ..
        } = &d.body
        else {
            self.def_sig(id);
            return;
        };
        if d.kind == ast::DefKind::Model && !d.size_params.is_empty() {
            self.model_size_params_error(d);
        }
        let env = self.size_params(&d.size_params);
        let mut dom: Vec<Ty> = Vec::new();
        for a in args {
            dom.push(self.ty(&a.ty, &env));
        }
        let cod = self.ty(result, &env);
        let claim = claim.as_ref().and_then(|c| {
            Some(ClaimInfo {
                group: self.expect_group(&c.group)?,
                invariant: c.invariant,
                span: c.span,
            })
        });
        let dom = if dom.len() == 1 {
            dom.pop().expect("one")
        } else {
            Ty::Tuple(dom)
        };
        self.out.defs.insert(
            id,
            DefInfo {
                kind: d.kind,
                name: d.name.node.clone(),
                item: id,
                size_params: env.sizes,
                dom,
                cod,
                arg_type_spans: args.iter().map(|a| a.ty.span).collect(),
                claim,
                params: Vec::new(),
            },
        );
    }

    fn model_size_params_error(&mut self, d: &ast::Def) {
        self.error(
            Diagnostic::error(
                "E0302",
                format!("model `{}` takes size parameters", d.name.node),
                d.size_params[0]
                    .span
                    .to(d.size_params[d.size_params.len() - 1].span),
                "a model takes no size parameters",
            )
            .with_help("make it a `layer` with size parameters, and a model that instantiates it"),
        );
    }

    /// The group named in a claim or an action.
    pub(super) fn expect_group(&mut self, name: &Ident) -> Option<ItemId> {
        match self.program.lookup(&name.node) {
            Some(id) if matches!(self.program.item(id).kind, ItemKind::Group(_)) => Some(id),
            _ => {
                let c = self.globals_where(|k| matches!(k, ItemKind::Group(_)));
                self.unknown(name, "group", c);
                None
            }
        }
    }

    /// The signature of a layer or model; a point-free one is checked on
    /// first use.
    pub(super) fn def_sig(&mut self, id: ItemId) -> Option<DefInfo> {
        if let Some(info) = self.out.defs.get(&id) {
            return Some(info.clone());
        }
        let ItemKind::Def(d) = &self.program.item(id).kind else {
            return None;
        };
        let DefBody::PointFree(e) = &d.body else {
            return None;
        };
        if self.point_free_in_progress.contains(&id) {
            self.error_in(
                id,
                Diagnostic::error(
                    "E0203",
                    format!("`{}` is defined in terms of itself", d.name.node),
                    e.span,
                    "this composition uses the definition being defined",
                ),
            );
            return None;
        }
        self.point_free_in_progress.push(id);
        let (env, mut cx, root, sig) = self.within(id, |c| {
            if d.kind == ast::DefKind::Model && !d.size_params.is_empty() {
                c.model_size_params_error(d);
            }
            let env = c.size_params(&d.size_params);
            let mut cx = Cx::new(id, env.clone());
            let (root, sig) = c.morphism(e, None, &mut cx);
            (env, cx, root, sig)
        });
        self.point_free_in_progress.retain(|x| *x != id);
        let body = std::mem::take(&mut cx.body).finish(BodyKind::PointFree(root));
        self.out.hir.set_body(id, body);
        let (dom, cod) = sig?;
        let info = DefInfo {
            kind: d.kind,
            name: d.name.node.clone(),
            item: id,
            size_params: env.sizes,
            dom,
            cod,
            arg_type_spans: Vec::new(),
            claim: None,
            params: cx.params,
        };
        self.out.defs.insert(id, info.clone());
        Some(info)
    }

    pub(super) fn def_body(&mut self, id: ItemId, d: &ast::Def) {
        let DefBody::Block { args, block, .. } = &d.body else {
            return;
        };
        let Some(info) = self.out.defs.get(&id).cloned() else {
            return;
        };
        let env = TypeEnv {
            sizes: info.size_params.clone(),
            ..TypeEnv::default()
        };
        let mut cx = Cx::new(id, env);
        let arg_tys: Vec<Ty> = match (&info.dom, args.len()) {
            (t, 1) => vec![t.clone()],
            (Ty::Tuple(ts), _) => ts.clone(),
            _ => Vec::new(),
        };
        let arg_locals: Vec<LocalId> = args
            .iter()
            .zip(arg_tys)
            .map(|(a, t)| cx.bind_local(&a.name.node, t, a.name.span))
            .collect();
        let (value, ty) = self.block(block, &mut cx);
        if !ty.same(&info.cod) {
            let (found, expected) = (self.show(&ty), self.show(&info.cod));
            let result_span = block.result.span;
            let d = Diagnostic::error(
                "E0301",
                format!(
                    "the body has type {found}, but `{}` declares {expected}",
                    d.name.node
                ),
                result_span,
                format!("this is {found}"),
            );
            let d = match &d_result_span(&self.program.item(id).kind) {
                Some(s) => d.with_label(*s, format!("declared {expected} here")),
                None => d,
            };
            self.error(d);
        }
        if let Some(info) = self.out.defs.get_mut(&id) {
            info.params = std::mem::take(&mut cx.params);
        }
        let kind = BodyKind::Block {
            args: arg_locals,
            value,
        };
        self.out.hir.set_body(id, cx.body.finish(kind));
    }

    /// Checks a block; its type is that of its result.
    pub(super) fn block(&mut self, b: &ast::Block, cx: &mut Cx) -> Typed {
        let depth = cx.scope.len();
        let mut stmts = Vec::new();
        for s in &b.stmts {
            stmts.push(match s {
                Stmt::Param(p) => hir::Stmt::Param(self.param(p, cx)),
                Stmt::Let(pat, e) => {
                    let (v, t) = self.expr(e, cx);
                    hir::Stmt::Let(self.bind(pat, t, cx), v)
                }
            });
        }
        let (result, t) = self.expr(&b.result, cx);
        cx.scope.truncate(depth);
        (cx.node(Expr::Block { stmts, result }, &t, b.span), t)
    }

    /// Declares a parameter of the definition being checked.
    pub(super) fn param(&mut self, p: &ast::Param, cx: &mut Cx) -> hir::ParamDecl {
        let errors = self.errors_here();
        if let Some(prev) = cx.params.iter().find(|q| q.name == p.name.node) {
            let prev = prev.span;
            self.error(
                Diagnostic::error(
                    "E0202",
                    format!("parameter `{}` is declared twice", p.name.node),
                    p.name.span,
                    "declared again here",
                )
                .with_label(prev, "first declared here"),
            );
        }
        let (ty, kind) = match &p.ty {
            ast::ParamType::Plain(t) => {
                let ty = self.ty(t, &cx.env);
                if !matches!(ty, Ty::Tensor(..) | Ty::Error) {
                    let shown = self.show(&ty);
                    self.error(
                        Diagnostic::error(
                            "E0303",
                            format!("a parameter must be a tensor, found {shown}"),
                            t.span,
                            "not a tensor type",
                        )
                        .with_help("declare parameters as `R`, `R[...]` or a space"),
                    );
                }
                (ty, ParamKind::Plain)
            }
            ast::ParamType::Equivariant {
                from,
                to,
                constraints,
            } => {
                let (f, t) = (self.space_expr(from), self.space_expr(to));
                let w = self.where_list(constraints, &cx.env);
                match (f, t) {
                    (Some(f), Some(t)) => (
                        Ty::Map {
                            from: f.shape(),
                            to: t.shape(),
                            to_space: Some(self.intern_space(t.clone())),
                        },
                        ParamKind::Equivariant {
                            from: f,
                            to: t,
                            spans: (from.span, to.span),
                            constraints: w.unwrap_or_default(),
                        },
                    ),
                    _ => (Ty::Error, ParamKind::Plain),
                }
            }
            ast::ParamType::Invariant(s) => match self.space_expr(s) {
                Some(v) => (
                    Ty::Tensor(v.shape(), Some(self.intern_space(v.clone()))),
                    ParamKind::Invariant(v),
                ),
                None => (Ty::Error, ParamKind::Plain),
            },
        };
        match INITS.iter().find(|(n, _)| *n == p.init.name.node) {
            Some((n, k)) if p.init.args.len() != *k => self.error(Diagnostic::error(
                "E0302",
                format!(
                    "initialiser `{n}` takes {k} number{}, found {}",
                    plural(*k),
                    p.init.args.len()
                ),
                p.init.span,
                "wrong number of arguments",
            )),
            Some(_) => {}
            None => {
                let names = INITS.iter().map(|(n, _)| n.to_string()).collect();
                self.unknown(&p.init.name, "initialiser", names);
            }
        }
        let local = cx.bind_local(&p.name.node, ty.clone(), p.name.span);
        cx.params.push(ParamInfo {
            name: p.name.node.clone(),
            ty,
            kind,
            init: p.init.clone(),
            initialiser: cdlc_runtime::init::Init::from_call(&p.init.name.node, &p.init.args),
            span: p.span,
            ok: self.errors_here() == errors,
        });
        hir::ParamDecl {
            local,
            index: cx.params.len() - 1,
        }
    }

    /// Binds a pattern to a value of type `t`.
    pub(super) fn bind(&mut self, pat: &Pattern, t: Ty, cx: &mut Cx) -> hir::Pattern {
        match pat {
            Pattern::Name(n) => hir::Pattern::Local(cx.bind_local(&n.node, t, n.span)),
            Pattern::Tuple(ps, span) => hir::Pattern::Tuple(match t {
                Ty::Tuple(ts) if ts.len() == ps.len() => ps
                    .iter()
                    .zip(ts)
                    .map(|(p, t)| self.bind(p, t, cx))
                    .collect(),
                Ty::Error => ps.iter().map(|p| self.bind(p, Ty::Error, cx)).collect(),
                other => {
                    let shown = self.show(&other);
                    self.error(Diagnostic::error(
                        "E0301",
                        format!(
                            "a pattern of {} names cannot bind a value of type {shown}",
                            ps.len()
                        ),
                        *span,
                        format!("the value is {shown}"),
                    ));
                    ps.iter().map(|p| self.bind(p, Ty::Error, cx)).collect()
                }
            }),
        }
    }

    // ------------------------------------------------------------ expressions

    /// Checks an expression: its node in the body and its type.
    pub(super) fn expr(&mut self, e: &ast::Expr, cx: &mut Cx) -> Typed {
        let (node, ty) = match &e.kind {
            ExprKind::Number(x) => (Expr::Number(*x), Ty::real()),
            ExprKind::Name(n) => return self.name_value(n, cx),
            ExprKind::Inst(..)
            | ExprKind::Fold(..)
            | ExprKind::Hylo { .. }
            | ExprKind::Id
            | ExprKind::Binary(BinOp::Compose, ..) => return self.morphism_value(e, cx),
            ExprKind::Tuple(es) => {
                let (ids, tys): (Vec<ExprId>, Vec<Ty>) =
                    es.iter().map(|x| self.expr(x, cx)).unzip();
                (Expr::Tuple(ids), Ty::Tuple(tys))
            }
            ExprKind::Block(b) => return self.block(b, cx),
            ExprKind::LetIn(p, v, body) => {
                let (value, t) = self.expr(v, cx);
                let depth = cx.scope.len();
                let pat = self.bind(p, t, cx);
                let (body, r) = self.expr(body, cx);
                cx.scope.truncate(depth);
                (Expr::LetIn { pat, value, body }, r)
            }
            ExprKind::Apply(f, args) => self.apply(f, args, e.span, cx),
            ExprKind::Binary(BinOp::MatMul, a, b) => {
                let ((ha, ta), (hb, tb)) = (self.expr(a, cx), self.expr(b, cx));
                let t = self.matmul(&ta, &tb, a.span, b.span, e.span);
                (Expr::Binary(hir::BinOp::MatMul, ha, hb), t)
            }
            ExprKind::Binary(op, a, b) => {
                let ((ha, ta), (hb, tb)) = (self.expr(a, cx), self.expr(b, cx));
                let t = self.elementwise(*op, &ta, &tb, a.span, b.span, e.span);
                (Expr::Binary(hir_op(*op), ha, hb), t)
            }
            ExprKind::Neg(a) => {
                let (h, t) = self.expr(a, cx);
                (Expr::Neg(h), self.expect_tensor(&t, a.span, "negation"))
            }
            ExprKind::Transpose(a, marker) => {
                let (h, t) = self.expr(a, cx);
                (Expr::Transpose(h), self.transpose(&t, a.span, marker))
            }
            ExprKind::UnfoldOver { .. } | ExprKind::UnfoldTake { .. } => self.unfold(e, cx),
            ExprKind::Error => (Expr::Error, Ty::Error),
        };
        (cx.node(node, &ty, e.span), ty)
    }

    /// An expression that denotes a morphism, as a value (`let enc = dense[16, 8]`).
    fn morphism_value(&mut self, e: &ast::Expr, cx: &mut Cx) -> Typed {
        let (h, sig) = self.morphism(e, None, cx);
        let ty = match sig {
            Some((d, c)) => Ty::Morph(Box::new(d), Box::new(c)),
            None => Ty::Error,
        };
        (h, ty)
    }

    /// The type of `a^T`, where `a` has type `t`.
    fn transpose(&mut self, t: &Ty, span: Span, marker: &Ident) -> Ty {
        if marker.node != "T" {
            self.error(
                Diagnostic::error(
                    "E0101",
                    format!("unexpected name `{}` after `^`", marker.node),
                    marker.span,
                    "only `T` (transpose) may follow `^` in an expression",
                )
                .with_help(
                    "write `W^T` for the transpose; powers `^k` exist only in space expressions",
                ),
            );
            return Ty::Error;
        }
        match &t {
            Ty::Tensor(s, _) if s.len() == 2 => Ty::tensor(vec![s[1].clone(), s[0].clone()]),
            Ty::Error => Ty::Error,
            other => {
                let shown = self.show(other);
                self.error(Diagnostic::error(
                    "E0301",
                    format!("`^T` transposes a matrix, found {shown}"),
                    span,
                    format!("this is {shown}"),
                ));
                Ty::Error
            }
        }
    }

    fn name_value(&mut self, n: &Ident, cx: &mut Cx) -> Typed {
        if let Some(l) = cx.local(&n.node) {
            let t = cx.body.local_ty(l).clone();
            return (cx.node(Expr::Local(l), &t, n.span), t);
        }
        let error = |cx: &mut Cx| (cx.node(Expr::Error, &Ty::Error, n.span), Ty::Error);
        if POINTWISE.contains(&n.node.as_str()) || BUILTINS.contains(&n.node.as_str()) {
            self.error(
                Diagnostic::error(
                    "E0303",
                    format!("built-in `{}` is a function, not a value", n.node),
                    n.span,
                    "used as a value here",
                )
                .with_help(format!(
                    "apply it: `{}(x)`, or compose it: `f >> {}`",
                    n.node, n.node
                )),
            );
            return error(cx);
        }
        if let Some(id) = self.program.lookup(&n.node) {
            if let ItemKind::Def(_) = self.program.item(id).kind {
                let e = ast::Expr {
                    kind: ExprKind::Name(n.clone()),
                    span: n.span,
                };
                return self.morphism_value(&e, cx);
            }
            let what = item_kind_name(&self.program.item(id).kind);
            self.error(Diagnostic::error(
                "E0303",
                format!("`{}` is {what}, not a value", n.node),
                n.span,
                "expected a value here",
            ));
            return error(cx);
        }
        let mut c = cx.names();
        c.extend(self.globals_where(|k| matches!(k, ItemKind::Def(_))));
        c.extend(POINTWISE.iter().chain(BUILTINS).map(|s| s.to_string()));
        self.unknown(n, "name", c);
        error(cx)
    }

    /// `f(args)`.
    fn apply(
        &mut self,
        f: &ast::Expr,
        args: &[ast::CallArg],
        span: Span,
        cx: &mut Cx,
    ) -> (Expr, Ty) {
        if let ExprKind::Name(n) = &f.kind
            && cx.lookup(&n.node).is_none()
            && BUILTINS.contains(&n.node.as_str())
        {
            return self.builtin(n, args, span, cx);
        }
        let mut tys = Vec::new();
        let mut arg_ids = Vec::new();
        for a in args {
            if let Some(name) = &a.name {
                self.error(
                    Diagnostic::error(
                        "E0302",
                        format!("unexpected named argument `{}`", name.node),
                        name.span,
                        "named arguments are only for built-ins",
                    )
                    .with_help("pass the value positionally"),
                );
            }
            let (h, t) = self.expr(&a.value, cx);
            arg_ids.push(h);
            tys.push(t);
        }
        let input = if tys.len() == 1 {
            tys.pop().expect("one")
        } else {
            Ty::Tuple(tys)
        };
        let (fh, sig) = self.morphism(f, Some(&input), cx);
        let node = Expr::Apply {
            f: fh,
            args: arg_ids,
        };
        let Some((dom, cod)) = sig else {
            return (node, Ty::Error);
        };
        if !dom.same(&input) {
            let (found, expected) = (self.show(&input), self.show(&dom));
            let arg_span = match args {
                [] => span,
                [a] => a.value.span,
                [a, .., b] => a.value.span.to(b.value.span),
            };
            self.error(
                Diagnostic::error(
                    "E0301",
                    format!("argument of type {found} where {expected} is expected"),
                    arg_span,
                    format!("this is {found}"),
                )
                .with_label(f.span, format!("this takes {expected}")),
            );
        }
        (node, cod)
    }

    /// The domain and codomain of an expression used as a morphism.
    /// `input` is the type it will be applied to, when known (pointwise
    /// functions and `id` take their type from it).
    pub(super) fn morphism(
        &mut self,
        e: &ast::Expr,
        input: Option<&Ty>,
        cx: &mut Cx,
    ) -> (ExprId, Option<(Ty, Ty)>) {
        self.morphism_between(e, input, None, cx)
    }

    /// The domain and codomain of a morphism whose input type, output type,
    /// or both may be known from its neighbours in a composition. `id` and
    /// pointwise functions take their type from whichever side is known, so
    /// types flow forwards (`dense[2, 16] >> tanh`) and backwards
    /// (`relu >> dense[4, 4]`).
    fn morphism_between(
        &mut self,
        e: &ast::Expr,
        input: Option<&Ty>,
        output: Option<&Ty>,
        cx: &mut Cx,
    ) -> (ExprId, Option<(Ty, Ty)>) {
        let (node, sig) = match &e.kind {
            ExprKind::Name(n) => {
                if let Some(l) = cx.local(&n.node) {
                    let t = cx.body.local_ty(l).clone();
                    let sig = match t {
                        Ty::Morph(d, c) => Some((*d, *c)),
                        Ty::Error => None,
                        other => {
                            let shown = self.show(&other);
                            self.error(Diagnostic::error(
                                "E0303",
                                format!("`{}` is a value of type {shown}, not a function", n.node),
                                n.span,
                                "applied here",
                            ));
                            None
                        }
                    };
                    (Expr::Local(l), sig)
                } else if let Some(f) = crate::builtins::function(&n.node)
                    .filter(|f| f.kind == crate::builtins::FunctionKind::Pointwise)
                {
                    (Expr::Pointwise(f), self.pointwise(n, input.or(output)))
                } else {
                    self.instance(n, &[], e.span, cx)
                }
            }
            ExprKind::Inst(n, sizes) => self.instance(n, sizes, e.span, cx),
            ExprKind::Id => (
                Expr::Id,
                match input.or(output) {
                    Some(t) => Some((t.clone(), t.clone())),
                    None => {
                        self.error(
                            Diagnostic::error(
                                "E0301",
                                "cannot infer the type of `id`",
                                e.span,
                                "type unknown here",
                            )
                            .with_help(
                                "compose `id` with a layer whose input or output type is known",
                            ),
                        );
                        None
                    }
                },
            ),
            ExprKind::Binary(BinOp::Compose, a, b) => self.compose(e, a, b, input, output, cx),
            ExprKind::Fold(n, sizes) => self.fold_morphism(n, sizes, e.span, input, cx),
            ExprKind::Hylo {
                alg,
                alg_sizes,
                coalg,
                coalg_sizes,
            } => self.hylo_morphism(alg, alg_sizes, coalg, coalg_sizes, e.span, cx),
            _ => {
                let (h, t) = self.expr(e, cx);
                return (h, self.as_morphism(t, e.span));
            }
        };
        let ty = match &sig {
            Some((d, c)) => Ty::Morph(Box::new(d.clone()), Box::new(c.clone())),
            None => Ty::Error,
        };
        (cx.node(node, &ty, e.span), sig)
    }

    /// The signature of a value used as a morphism.
    fn as_morphism(&mut self, t: Ty, span: Span) -> Option<(Ty, Ty)> {
        match t {
            Ty::Morph(d, c) => Some((*d, *c)),
            Ty::Error => None,
            other => {
                let shown = self.show(&other);
                self.error(Diagnostic::error(
                    "E0303",
                    format!("a value of type {shown} is not a function"),
                    span,
                    "applied or composed here",
                ));
                None
            }
        }
    }

    /// `a >> b`. When `a` takes its type from its input and the input is
    /// unknown, `b` is typed first and `a` gets `b`'s domain as its output.
    fn compose(
        &mut self,
        e: &ast::Expr,
        a: &ast::Expr,
        b: &ast::Expr,
        input: Option<&Ty>,
        output: Option<&Ty>,
        cx: &mut Cx,
    ) -> (Expr, Option<(Ty, Ty)>) {
        if input.is_none() && self.takes_type_from_context(a, cx) {
            if output.is_none() && self.takes_type_from_context(b, cx) {
                self.error(
                    Diagnostic::error(
                        "E0301",
                        "cannot infer the types of this composition",
                        e.span,
                        "every part takes the type it is given, and none is given",
                    )
                    .with_help(
                        "compose it with a layer whose types are known, such as `dense[4, 4]`, \
                         or give the definition a typed argument",
                    ),
                );
                return (Expr::Error, None);
            }
            let (hb, sb) = self.morphism_between(b, None, output, cx);
            let Some((db, cb)) = sb else {
                return (Expr::Error, None);
            };
            let (ha, sa) = self.morphism_between(a, None, Some(&db), cx);
            let Some((da, ca)) = sa else {
                return (Expr::Compose(ha, hb), None);
            };
            self.compose_mismatch(a, b, &ca, &db);
            return (Expr::Compose(ha, hb), Some((da, cb)));
        }
        let (ha, sa) = self.morphism_between(a, input, None, cx);
        let Some((da, ca)) = sa else {
            return (Expr::Error, None);
        };
        let (hb, sb) = self.morphism_between(b, Some(&ca), output, cx);
        let Some((db, cb)) = sb else {
            return (Expr::Compose(ha, hb), None);
        };
        self.compose_mismatch(a, b, &ca, &db);
        (Expr::Compose(ha, hb), Some((da, cb)))
    }

    /// Reports `a >> b` where `a` gives `ca` and `b` takes `db`, if they differ.
    fn compose_mismatch(&mut self, a: &ast::Expr, b: &ast::Expr, ca: &Ty, db: &Ty) {
        if db.same(ca) {
            return;
        }
        let (found, expected) = (self.show(ca), self.show(db));
        self.error(
            Diagnostic::error(
                "E0301",
                format!("shape mismatch in composition: {found} into {expected}"),
                b.span,
                format!("this takes {expected}"),
            )
            .with_label(a.span, format!("this gives {found}")),
        );
    }

    /// Whether a morphism's input type can only come from its context:
    /// `id`, a pointwise function, or a composition that starts with one
    /// and whose every part passes its type through (`relu >> tanh`).
    fn takes_type_from_context(&self, e: &ast::Expr, cx: &Cx) -> bool {
        match &e.kind {
            ExprKind::Id => true,
            ExprKind::Name(n) => {
                cx.lookup(&n.node).is_none() && POINTWISE.contains(&n.node.as_str())
            }
            ExprKind::Binary(BinOp::Compose, a, b) => {
                self.takes_type_from_context(a, cx) && self.takes_type_from_context(b, cx)
            }
            _ => false,
        }
    }

    fn pointwise(&mut self, n: &Ident, input: Option<&Ty>) -> Option<(Ty, Ty)> {
        match input {
            Some(t @ Ty::Tensor(..)) => Some((t.clone(), t.clone())),
            Some(Ty::Error) => None,
            Some(other) => {
                let shown = self.show(other);
                self.error(Diagnostic::error(
                    "E0303",
                    format!("`{}` applies to tensors, found {shown}", n.node),
                    n.span,
                    format!("given {shown}"),
                ));
                None
            }
            None => {
                self.error(
                    Diagnostic::error(
                        "E0301",
                        format!("cannot infer the shape `{}` applies to", n.node),
                        n.span,
                        "type unknown here",
                    )
                    .with_help("compose it with a layer whose input or output type is known"),
                );
                None
            }
        }
    }

    /// An instance of a layer or model: `dense[4, 2]`, `phi`.
    fn instance(
        &mut self,
        n: &Ident,
        sizes: &[ast::Size],
        span: Span,
        cx: &mut Cx,
    ) -> (Expr, Option<(Ty, Ty)>) {
        let Some(id) = self.program.lookup(&n.node) else {
            let mut c = cx.names();
            c.extend(self.globals_where(|k| matches!(k, ItemKind::Def(_))));
            c.extend(POINTWISE.iter().chain(BUILTINS).map(|s| s.to_string()));
            self.unknown(n, "name", c);
            return (Expr::Error, None);
        };
        match &self.program.item(id).kind {
            ItemKind::Def(_) => {}
            ItemKind::Algebra(_) => {
                self.error(
                    Diagnostic::error(
                        "E0303",
                        format!("`{}` is an algebra; fold it to get a morphism", n.node),
                        n.span,
                        "an algebra used as a function",
                    )
                    .with_help(format!(
                        "write `fold {}` over a value of its data type",
                        n.node
                    )),
                );
                return (Expr::Error, None);
            }
            ItemKind::Coalgebra(_) => {
                self.error(
                    Diagnostic::error(
                        "E0303",
                        format!("`{}` is a coalgebra; unfold it to get a morphism", n.node),
                        n.span,
                        "a coalgebra used as a function",
                    )
                    .with_help(format!(
                        "write `unfold {} from s over xs` or `... take k`",
                        n.node
                    )),
                );
                return (Expr::Error, None);
            }
            other => {
                let what = item_kind_name(other);
                self.error(Diagnostic::error(
                    "E0303",
                    format!("`{}` is {what}, not a function", n.node),
                    n.span,
                    "applied here",
                ));
                return (Expr::Error, None);
            }
        }
        self.record_use(cx.owner, id, span);
        let Some(info) = self.def_sig(id) else {
            return (Expr::Error, None);
        };
        let Some(args) = self.sizes(sizes, &cx.env) else {
            return (Expr::Error, None);
        };
        let node = Expr::Inst {
            item: id,
            sizes: args.clone(),
        };
        if args.len() != info.size_params.len() {
            let k = info.size_params.len();
            let names: Vec<&str> = info.size_params.iter().map(|(n, _)| n.as_str()).collect();
            self.error(
                Diagnostic::error(
                    "E0302",
                    format!(
                        "`{}` takes {k} size argument{}, found {}",
                        n.node,
                        plural(k),
                        args.len()
                    ),
                    span,
                    format!("{} given", args.len()),
                )
                .with_label(
                    self.def_name_span(id),
                    format!("declared as `{}[{}]`", n.node, names.join(", ")),
                )
                .with_help(format!(
                    "write `{}[{}]` with a size for each",
                    n.node,
                    names.join(", ")
                )),
            );
            return (node, None);
        }
        let subst = size_subst(&info.size_params, &args);
        let (dom, cod) = (info.dom.subst_sizes(&subst), info.cod.subst_sizes(&subst));
        if !(self.check_natural(&dom, span) && self.check_natural(&cod, span)) {
            return (node, None);
        }
        (node, Some((dom, cod)))
    }

    /// E0304 if an instantiated type has a negative or zero size (a
    /// zero-width layer such as `dense[2, 0]`: a tensor with no entries,
    /// which no backend runs), E0702 if a size overflowed; `false` then.
    pub(super) fn check_natural(&mut self, t: &Ty, span: Span) -> bool {
        let mut bad = None;
        let mut overflow = false;
        visit_shapes(t, &mut |s: &Shape| {
            for p in s {
                overflow |= p.overflowed();
                if let Some(v) = p.as_constant().filter(|v| *v <= 0) {
                    bad = bad.or(Some(v));
                }
            }
        });
        if overflow {
            self.size_overflow(span, "this instance has a size beyond 2^63 - 1");
            return false;
        }
        match bad {
            Some(0) => {
                self.error(
                    Diagnostic::error(
                        "E0304",
                        format!(
                            "this instance has a size of 0: {} has a tensor with no entries",
                            self.show(t)
                        ),
                        span,
                        "instantiated here",
                    )
                    .with_help("give every size of a layer at least 1"),
                );
                false
            }
            Some(v) => {
                self.error(Diagnostic::error(
                    "E0304",
                    format!("size is not a natural number: this instance has a size of {v}"),
                    span,
                    "instantiated here",
                ));
                false
            }
            None => true,
        }
    }

    pub(super) fn def_name_span(&self, id: ItemId) -> Span {
        crate::resolve::declared_name(self.program.item(id))
            .map_or(self.program.item(id).span, |n| n.span)
    }

    /// Built-in functions other than pointwise ones.
    fn builtin(&mut self, n: &Ident, args: &[ast::CallArg], span: Span, cx: &mut Cx) -> (Expr, Ty) {
        let function = crate::builtins::function(&n.node).expect("called for built-in names only");
        let mut positional = Vec::new();
        let mut ids = Vec::new();
        let mut axis: Option<(i64, Span)> = None;
        for a in args {
            match &a.name {
                None => {
                    let (h, t) = self.expr(&a.value, cx);
                    ids.push(h);
                    positional.push((t, a.value.span));
                }
                Some(k) if function.named.contains(&k.node.as_str()) => {
                    let what = if k.node == "parts" {
                        "the number of parts"
                    } else {
                        "the axis"
                    };
                    match &a.value.kind {
                        ExprKind::Number(x) if x.fract() == 0.0 && *x >= 0.0 => {
                            axis = Some((*x as i64, a.value.span))
                        }
                        ExprKind::Name(c) => {
                            let size = ast::Size {
                                kind: ast::SizeKind::Name(c.node.clone()),
                                span: c.span,
                            };
                            if let Some(p) = self.size(&size, &cx.env) {
                                match p.as_constant() {
                                    Some(v) => axis = Some((v, a.value.span)),
                                    None => self.error(Diagnostic::error(
                                        "E0304",
                                        format!("{what} must be a known number"),
                                        a.value.span,
                                        "not a constant",
                                    )),
                                }
                            }
                        }
                        _ => self.error(Diagnostic::error(
                            "E0304",
                            format!("{what} must be a natural number"),
                            a.value.span,
                            "not a natural number",
                        )),
                    }
                }
                Some(k) => self.error(Diagnostic::error(
                    "E0302",
                    format!("`{}` takes no argument named `{}`", n.node, k.node),
                    k.span,
                    "unknown named argument",
                )),
            }
        }
        let channels = match (function.name, positional.first()) {
            ("norm" | "gate", Some((Ty::Tensor(shape, tag), _))) => self.channel_axes(*tag, shape),
            _ => 0,
        };
        let ty = self.builtin_type(n, &positional, axis, args, span);
        let call = BuiltinCall {
            function,
            args: ids,
            named: axis.map(|(k, _)| k),
            channels,
        };
        (Expr::Builtin(call), ty)
    }

    /// The type of a built-in function's application, given the types of
    /// its positional arguments and its named argument.
    fn builtin_type(
        &mut self,
        n: &Ident,
        positional: &[(Ty, Span)],
        axis: Option<(i64, Span)>,
        args: &[ast::CallArg],
        span: Span,
    ) -> Ty {
        let function = crate::builtins::function(&n.node).expect("called for built-in names only");
        let want = function.arguments;
        if positional.len() != want {
            self.error(Diagnostic::error(
                "E0302",
                format!(
                    "`{}` takes {want} argument{}, found {}",
                    n.node,
                    plural(want),
                    positional.len()
                ),
                span,
                "wrong number of arguments",
            ));
            return Ty::Error;
        }
        let (t, tspan) = positional[0].clone();
        let Some(shape) = self.tensor_shape(&t, tspan, &n.node) else {
            return Ty::Error;
        };
        let tag = match &t {
            Ty::Tensor(_, tag) => *tag,
            _ => None,
        };
        match n.node.as_str() {
            "sum" | "mean" | "max" => match axis {
                None => Ty::real(),
                Some((k, kspan)) => {
                    if k < 0 || k as usize >= shape.len() {
                        let shown = self.show_shape(&shape);
                        self.error(Diagnostic::error(
                            "E0301",
                            format!("axis {k} is out of range for {shown}"),
                            kspan,
                            format!(
                                "{shown} has {} ax{}",
                                shape.len(),
                                if shape.len() == 1 { "is" } else { "es" }
                            ),
                        ));
                        return Ty::Error;
                    }
                    let mut s = shape.clone();
                    s.remove(k as usize);
                    Ty::tensor(s)
                }
            },
            "softmax" | "log_softmax" => {
                if shape.len() != 1 {
                    let shown = self.show_shape(&shape);
                    self.error(
                        Diagnostic::error(
                            "E0301",
                            format!("`{}` takes a vector, found {shown}", n.node),
                            tspan,
                            format!("this is {shown}"),
                        )
                        .with_help("apply it to a vector `R[n]`; for a matrix, apply it to each row in a layer"),
                    );
                    return Ty::Error;
                }
                if shape.is_empty() {
                    self.error(Diagnostic::error(
                        "E0301",
                        format!("`{}` needs a tensor of rank at least 1, found R", n.node),
                        tspan,
                        "a scalar",
                    ));
                    return Ty::Error;
                }
                Ty::tensor(shape)
            }
            "norm" => {
                let channels = self.channel_axes(tag, &shape);
                Ty::tensor(shape[..channels].to_vec())
            }
            "gate" => Ty::Tensor(shape, tag),
            "chunks" => {
                let given = args
                    .iter()
                    .any(|a| a.name.as_ref().is_some_and(|k| k.node == "parts"));
                if given && axis.is_none() {
                    // A `parts` that is not a number was reported above.
                    return Ty::Error;
                }
                self.chunks(&shape, axis, tspan, span)
            }
            "outer" | "concat" => {
                let (u, uspan) = positional[1].clone();
                let Some(s2) = self.tensor_shape(&u, uspan, &n.node) else {
                    return Ty::Error;
                };
                if shape.len() != 1 || s2.len() != 1 {
                    let (a, b) = (self.show_shape(&shape), self.show_shape(&s2));
                    self.error(Diagnostic::error(
                        "E0301",
                        format!("`{}` takes two vectors, found {a} and {b}", n.node),
                        span,
                        "expected tensors of rank 1",
                    ));
                    return Ty::Error;
                }
                if n.node == "outer" {
                    Ty::tensor(vec![shape[0].clone(), s2[0].clone()])
                } else {
                    Ty::tensor(vec![shape[0].add(&s2[0])])
                }
            }
            other => unreachable!("built-in `{other}` has no typing rule"),
        }
    }

    /// `chunks(x, parts = k)`: a vector `R[n]` cut into `k` consecutive
    /// vectors `R[n / k]`, as a tuple; `n` must be a multiple of `k` for
    /// every value of the size parameters.
    fn chunks(&mut self, shape: &Shape, parts: Option<(i64, Span)>, tspan: Span, span: Span) -> Ty {
        let Some((k, kspan)) = parts else {
            self.error(
                Diagnostic::error(
                    "E0302",
                    "`chunks` needs the number of parts",
                    span,
                    "no `parts = k`",
                )
                .with_help("write `chunks(x, parts = 3)` to cut `x` into three equal vectors"),
            );
            return Ty::Error;
        };
        if shape.len() != 1 {
            let shown = self.show_shape(shape);
            self.error(Diagnostic::error(
                "E0301",
                format!("`chunks` takes a vector, found {shown}"),
                tspan,
                format!("this is {shown}"),
            ));
            return Ty::Error;
        }
        let part = if k >= 2 {
            shape[0].div_exact(&super::size::Poly::constant(k))
        } else {
            None
        };
        let Some(part) = part else {
            let shown = self.show_shape(shape);
            self.error(
                Diagnostic::error(
                    "E0301",
                    format!("{shown} does not split into {k} equal parts"),
                    kspan,
                    format!("{k} parts"),
                )
                .with_label(tspan, format!("this is {shown}"))
                .with_help("the length must be a multiple of the number of parts (at least 2) for every size, such as `R[3 * h]` for `parts = 3`"),
            );
            return Ty::Error;
        };
        Ty::Tuple(vec![Ty::tensor(vec![part]); k as usize])
    }

    /// How many leading axes of a value are channels: those of a space
    /// `R[c] * S` before `S` (bare or trivially acted factors, as the
    /// solver factors them out); for an untagged value of rank ≥ 2 the
    /// first axis, for a vector none.
    pub(super) fn channel_axes(&self, tag: Option<super::types::SpaceId>, shape: &Shape) -> usize {
        if let Some(sv) = tag.and_then(|t| self.out.space_table.get(t.0 as usize)) {
            return crate::equivariance::channel_axes(sv);
        }
        usize::from(shape.len() >= 2)
    }

    fn tensor_shape(&mut self, t: &Ty, span: Span, what: &str) -> Option<Shape> {
        match t {
            Ty::Tensor(s, _) => Some(s.clone()),
            Ty::Error => None,
            other => {
                let shown = self.show(other);
                self.error(Diagnostic::error(
                    "E0303",
                    format!("`{what}` applies to tensors, found {shown}"),
                    span,
                    format!("this is {shown}"),
                ));
                None
            }
        }
    }

    fn expect_tensor(&mut self, t: &Ty, span: Span, what: &str) -> Ty {
        match t {
            Ty::Tensor(..) | Ty::Error => t.clone(),
            other => {
                let shown = self.show(other);
                self.error(Diagnostic::error(
                    "E0303",
                    format!("{what} applies to tensors, found {shown}"),
                    span,
                    format!("this is {shown}"),
                ));
                Ty::Error
            }
        }
    }

    /// `W @ x`: contracts the last axis of `W` with the first of `x`; an
    /// equivariant `W` contracts all of its domain's axes.
    fn matmul(&mut self, a: &Ty, b: &Ty, sa: Span, sb: Span, span: Span) -> Ty {
        match (a, b) {
            (Ty::Error, _) | (_, Ty::Error) => Ty::Error,
            (Ty::Map { from, to, to_space }, Ty::Tensor(x, _)) => {
                if from != x {
                    let (f, xs) = (self.show_shape(from), self.show_shape(x));
                    self.error(
                        Diagnostic::error(
                            "E0301",
                            format!("shape mismatch in `@`: the map takes {f}, the value is {xs}"),
                            sb,
                            format!("this is {xs}"),
                        )
                        .with_label(sa, format!("this maps {f}")),
                    );
                    return Ty::Error;
                }
                Ty::Tensor(to.clone(), *to_space)
            }
            (Ty::Tensor(w, _), Ty::Tensor(x, _)) => {
                if w.is_empty() || x.is_empty() {
                    let (ws, xs) = (self.show_shape(w), self.show_shape(x));
                    self.error(
                        Diagnostic::error(
                            "E0301",
                            format!(
                                "`@` contracts two tensors of rank at least 1, found {ws} and {xs}"
                            ),
                            span,
                            "a scalar in a contraction",
                        )
                        .with_help("multiply by a scalar with `*`"),
                    );
                    return Ty::Error;
                }
                if w[w.len() - 1] != x[0] {
                    let (ws, xs) = (self.show_shape(w), self.show_shape(x));
                    let name = |v: super::size::Var| self.out.var_names[v.0 as usize].clone();
                    let (k1, k2) = (
                        w[w.len() - 1].display(&name).to_string(),
                        x[0].display(&name).to_string(),
                    );
                    self.error(
                        Diagnostic::error(
                            "E0301",
                            format!("shape mismatch in `@`: {ws} @ {xs} contracts {k1} with {k2}"),
                            span,
                            format!("the last axis of the left ({k1}) must equal the first of the right ({k2})"),
                        )
                        .with_label(sa, format!("this is {ws}"))
                        .with_label(sb, format!("this is {xs}")),
                    );
                    return Ty::Error;
                }
                let mut s: Shape = w[..w.len() - 1].to_vec();
                s.extend(x[1..].iter().cloned());
                Ty::tensor(s)
            }
            (l, r) => {
                let (ls, rs) = (self.show(l), self.show(r));
                self.error(Diagnostic::error(
                    "E0303",
                    format!("`@` applies to tensors, found {ls} and {rs}"),
                    span,
                    "not tensors",
                ));
                Ty::Error
            }
        }
    }

    /// `a op b` elementwise, with broadcasting of scalars and of `R[c]`
    /// over the trailing axes of `R[c, ...]`.
    fn elementwise(&mut self, op: BinOp, a: &Ty, b: &Ty, sa: Span, sb: Span, span: Span) -> Ty {
        let (x, tx, y, ty) = match (a, b) {
            (Ty::Error, _) | (_, Ty::Error) => return Ty::Error,
            (Ty::Tensor(x, tx), Ty::Tensor(y, ty)) => (x, tx, y, ty),
            (l, r) => {
                let (ls, rs) = (self.show(l), self.show(r));
                self.error(Diagnostic::error(
                    "E0303",
                    format!("`{}` applies to tensors, found {ls} and {rs}", op_text(op)),
                    span,
                    "not tensors",
                ));
                return Ty::Error;
            }
        };
        let tag = tx.or(*ty);
        if x == y {
            return Ty::Tensor(x.clone(), tag);
        }
        if x.is_empty() {
            return Ty::Tensor(y.clone(), *ty);
        }
        if y.is_empty() {
            return Ty::Tensor(x.clone(), *tx);
        }
        if x.len() == 1 && y.len() > 1 && x[0] == y[0] {
            return Ty::Tensor(y.clone(), *ty);
        }
        if y.len() == 1 && x.len() > 1 && y[0] == x[0] {
            return Ty::Tensor(x.clone(), *tx);
        }
        let (xs, ys) = (self.show_shape(x), self.show_shape(y));
        self.error(
            Diagnostic::error(
                "E0301",
                format!("shape mismatch in `{}`: {xs} and {ys}", op_text(op)),
                span,
                "these shapes do not broadcast",
            )
            .with_label(sa, format!("this is {xs}"))
            .with_label(sb, format!("this is {ys}"))
            .with_note("elementwise operators need equal shapes; a scalar broadcasts, and R[c] broadcasts over R[c, ...]"),
        );
        Ty::Error
    }
}

/// An arithmetic operator of the syntax tree in the HIR.
fn hir_op(op: BinOp) -> hir::BinOp {
    match op {
        BinOp::Add => hir::BinOp::Add,
        BinOp::Sub => hir::BinOp::Sub,
        BinOp::Mul => hir::BinOp::Mul,
        BinOp::Div => hir::BinOp::Div,
        BinOp::MatMul | BinOp::Compose => unreachable!("`@` and `>>` have nodes of their own"),
    }
}

fn op_text(op: BinOp) -> &'static str {
    match op {
        BinOp::Add => "+",
        BinOp::Sub => "-",
        BinOp::Mul => "*",
        BinOp::Div => "/",
        BinOp::MatMul => "@",
        BinOp::Compose => ">>",
    }
}

/// Calls `f` on every shape in a type.
fn visit_shapes(t: &Ty, f: &mut dyn FnMut(&Shape)) {
    match t {
        Ty::Tensor(s, _) => f(s),
        Ty::Map { from, to, .. } => {
            f(from);
            f(to);
        }
        Ty::Tuple(ts) => ts.iter().for_each(|t| visit_shapes(t, f)),
        Ty::Data { args, .. } => args.iter().for_each(|t| visit_shapes(t, f)),
        Ty::Morph(a, b) | Ty::Arrow(a, b) => {
            visit_shapes(a, f);
            visit_shapes(b, f);
        }
        _ => {}
    }
}

/// How an item is described in messages: "a functor", "a space".
pub(super) fn item_kind_name(k: &ItemKind) -> &'static str {
    match k {
        ItemKind::Const(_) => "a constant",
        ItemKind::Functor(_) => "a functor",
        ItemKind::Data(_) => "a data type",
        ItemKind::Group(_) => "a group",
        ItemKind::Space(_) => "a space",
        ItemKind::Def(_) => "a layer",
        ItemKind::Algebra(_) => "an algebra",
        ItemKind::Coalgebra(_) => "a coalgebra",
        ItemKind::Import(_) | ItemKind::Train(_) | ItemKind::Error => "not a definition",
    }
}

/// The span of a definition's declared result type.
fn d_result_span(k: &ItemKind) -> Option<Span> {
    match k {
        ItemKind::Def(ast::Def {
            body: DefBody::Block { result, .. },
            ..
        }) => Some(result.span),
        _ => None,
    }
}
