//! Local names: the arguments, size parameters, weights (`param`), `let`
//! bindings and case binders of one item, each with its checked type and
//! the byte range where it is visible.
//!
//! The locals come from the checker's HIR (`cdlc::hir`): every binding the
//! checker made is a local of the item's body, with its span and checked
//! type, and every use the checker resolved is an `Expr::Local` at the
//! use's span; so a name means here exactly what it meant to the checker.
//! Size parameters are not locals of a body (the HIR holds sizes as
//! polynomials), so they are read from the item's header in the syntax
//! tree, the only place that records where they are written.
//!
//! Visibility, for completion, follows the language and is read from the
//! body's blocks: an item's size parameters, arguments and an algebra's
//! weights are visible in the whole item; a `param` or `let` statement's
//! names from the statement to the end of its block; a `let … in` binding in
//! its body; a case's binders in the case.

use cdlc::Compilation;
use cdlc::check::types::TyDisplay;
use cdlc::hir::{Body, BodyKind, Expr, LocalId, Pattern, Stmt};
use cdlc::resolve::ItemId;
use cdlc_grammar::Span;
use cdlc_grammar::ast::ItemKind;

/// What kind of local a binding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LocalKind {
    /// A size parameter in brackets.
    Size,
    /// A value argument.
    Argument,
    /// A trainable weight.
    Weight,
    /// A `let` binding.
    Let,
    /// A name bound by an algebra's or coalgebra's case.
    Binder,
}

/// One local name.
#[derive(Clone, Debug)]
pub struct Local {
    /// The name.
    pub name: String,
    /// Where it is bound.
    pub def: Span,
    /// Where it is visible.
    pub scope: (u32, u32),
    /// What kind of local it is.
    pub kind: LocalKind,
    /// Its checked type as CDL text (`R[2]`); `None` for a size parameter.
    pub ty: Option<String>,
    /// The body's handle of the local; `None` for a size parameter.
    pub id: Option<LocalId>,
}

impl Local {
    /// Whether the local can be referred to at byte `at`.
    pub fn visible_at(&self, at: u32) -> bool {
        self.scope.0 <= at && at <= self.scope.1
    }
}

/// The user's item whose source contains byte `at`.
pub fn item_at(c: &Compilation, at: u32) -> Option<ItemId> {
    c.program.item_ids().find(|id| {
        let span = c.program.item(*id).span;
        c.program.is_user_item(*id) && span.file == c.file && span.start <= at && at <= span.end
    })
}

/// Every local of the item of the document that contains byte `at`.
pub fn locals_at(c: &Compilation, at: u32) -> Vec<Local> {
    let Some(id) = item_at(c, at) else {
        return Vec::new();
    };
    let item = c.program.item(id);
    let whole = (item.span.start, item.span.end);
    let mut out = size_params(&item.kind, whole);
    if let Some(body) = c.checked.hir.body(id) {
        body_locals(c, body, whole, &mut out);
    }
    out
}

/// The local that the name at `span` refers to or binds, if any: the local
/// bound there, or the one the checker resolved the use there to; a size
/// parameter by its innermost visible binding.
pub fn resolve<'a>(
    c: &Compilation,
    locals: &'a [Local],
    name: &str,
    span: Span,
) -> Option<&'a Local> {
    if let Some(l) = locals.iter().find(|l| l.def == span && l.name == name) {
        return Some(l);
    }
    let id = item_at(c, span.start)?;
    if let Some(body) = c.checked.hir.body(id) {
        let used = body
            .exprs
            .iter()
            .find(|(h, e)| body.span(*h) == span && matches!(e, Expr::Local(_)));
        if let Some((_, Expr::Local(l))) = used {
            return locals.iter().find(|x| x.id == Some(*l));
        }
    }
    locals
        .iter()
        .filter(|l| l.kind == LocalKind::Size && l.name == name && l.visible_at(span.start))
        .max_by_key(|l| l.scope.0)
}

fn size_params(kind: &ItemKind, whole: (u32, u32)) -> Vec<Local> {
    let names = match kind {
        ItemKind::Def(d) => &d.size_params,
        ItemKind::Algebra(a) => &a.size_params,
        ItemKind::Coalgebra(a) => &a.size_params,
        _ => return Vec::new(),
    };
    names
        .iter()
        .map(|n| Local {
            name: n.node.clone(),
            def: n.span,
            scope: whole,
            kind: LocalKind::Size,
            ty: None,
            id: None,
        })
        .collect()
}

/// Adds the locals of `body` in the order they were bound. Every local is
/// bound exactly once: by the body's header (arguments, an algebra's
/// weights, case binders), a block's statement or a `let … in`.
fn body_locals(c: &Compilation, body: &Body, whole: (u32, u32), out: &mut Vec<Local>) {
    let mut found: Vec<(LocalId, LocalKind, (u32, u32))> = Vec::new();
    match &body.kind {
        BodyKind::Block { args, .. } => {
            found.extend(args.iter().map(|a| (*a, LocalKind::Argument, whole)));
        }
        BodyKind::PointFree(_) => {}
        BodyKind::Cases { params, cases } => {
            found.extend(params.iter().map(|p| (p.local, LocalKind::Weight, whole)));
            for case in cases {
                let value = body.span(case.value);
                for b in &case.binders {
                    let scope = (body.locals.span(*b).start, value.end);
                    found.push((*b, LocalKind::Binder, scope));
                }
            }
        }
    }
    for (h, e) in body.exprs.iter() {
        match e {
            Expr::Block { stmts, .. } => {
                let end = body.span(h).end;
                for stmt in stmts {
                    match stmt {
                        Stmt::Param(p) => {
                            let start = body.locals.span(p.local).start;
                            found.push((p.local, LocalKind::Weight, (start, end)));
                        }
                        Stmt::Let(pat, value) => {
                            let scope = (body.span(*value).end, end);
                            pattern(pat, LocalKind::Let, scope, &mut found);
                        }
                    }
                }
            }
            Expr::LetIn { pat, body: b, .. } => {
                let s = body.span(*b);
                pattern(pat, LocalKind::Let, (s.start, s.end), &mut found);
            }
            _ => {}
        }
    }
    found.sort_by_key(|(l, _, _)| l.index());
    for (l, kind, scope) in found {
        let local = &body.locals[l];
        let ty = TyDisplay {
            ty: &local.ty,
            namer: &c.checked,
        };
        out.push(Local {
            name: local.name.clone(),
            def: body.locals.span(l),
            scope,
            kind,
            ty: Some(ty.to_string()),
            id: Some(l),
        });
    }
}

fn pattern(
    p: &Pattern,
    kind: LocalKind,
    scope: (u32, u32),
    out: &mut Vec<(LocalId, LocalKind, (u32, u32))>,
) {
    match p {
        Pattern::Local(l) => out.push((*l, kind, scope)),
        Pattern::Tuple(ps) => ps.iter().for_each(|p| pattern(p, kind, scope, out)),
    }
}
