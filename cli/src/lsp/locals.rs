//! Local names: the arguments, size parameters, weights (`param`), `let`
//! bindings and case binders of one item, each with the byte range where
//! it is visible.
//!
//! The checker binds local names as it walks bodies and keeps no table of
//! them, so the server walks the syntax tree itself. The rules follow the
//! language: an item's size parameters, arguments and an algebra's weights
//! are visible in the whole item; a `param` or `let` statement's names from
//! the statement to the end of its block; a `let … in` binding in its body;
//! a case's binders in the case.

use cdlc_grammar::Span;
use cdlc_grammar::ast::{self, Block, DefBody, Expr, ExprKind, ItemKind, Pattern, Stmt};

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
    /// The source of its binding site (`x: R[4]`, `param W: … = glorot`).
    pub site: Span,
}

impl Local {
    /// Whether the local can be referred to at byte `at`.
    pub fn visible_at(&self, at: u32) -> bool {
        self.scope.0 <= at && at <= self.scope.1
    }
}

/// Every local of the item of `file` that contains byte `at`.
pub fn locals_at(file: &ast::File, at: u32) -> Vec<Local> {
    let mut out = Vec::new();
    if let Some(item) = file
        .items
        .iter()
        .find(|i| i.span.start <= at && at <= i.span.end)
    {
        item_locals(item, &mut out);
    }
    out
}

/// The local that the name at `span` refers to or binds, if any: the
/// innermost visible binding of that name.
pub fn resolve<'a>(locals: &'a [Local], name: &str, span: Span) -> Option<&'a Local> {
    locals
        .iter()
        .filter(|l| l.name == name && (l.def == span || l.visible_at(span.start)))
        .max_by_key(|l| (l.def == span, l.scope.0))
}

fn item_locals(item: &ast::Item, out: &mut Vec<Local>) {
    let whole = (item.span.start, item.span.end);
    let sizes = |params: &[cdlc_grammar::Ident], out: &mut Vec<Local>| {
        for p in params {
            out.push(local(p, whole, LocalKind::Size, p.span));
        }
    };
    match &item.kind {
        ItemKind::Def(d) => {
            sizes(&d.size_params, out);
            match &d.body {
                DefBody::Block { args, block, .. } => {
                    for a in args {
                        out.push(local(
                            &a.name,
                            whole,
                            LocalKind::Argument,
                            a.name.span.to(a.ty.span),
                        ));
                    }
                    block_locals(block, out);
                }
                DefBody::PointFree(e) => expr_locals(e, out),
            }
        }
        ItemKind::Algebra(ast::Algebra {
            size_params,
            params,
            cases,
            ..
        })
        | ItemKind::Coalgebra(ast::Coalgebra {
            size_params,
            params,
            cases,
            ..
        }) => {
            sizes(size_params, out);
            for p in params {
                out.push(local(&p.name, whole, LocalKind::Weight, p.span));
            }
            for c in cases {
                for b in &c.binders {
                    out.push(local(
                        b,
                        (c.span.start, c.span.end),
                        LocalKind::Binder,
                        c.span,
                    ));
                }
                expr_locals(&c.body, out);
            }
        }
        ItemKind::Import(_)
        | ItemKind::Const(_)
        | ItemKind::Functor(_)
        | ItemKind::Data(_)
        | ItemKind::Group(_)
        | ItemKind::Space(_)
        | ItemKind::Train(_)
        | ItemKind::Error => {}
    }
}

fn local(name: &cdlc_grammar::Ident, scope: (u32, u32), kind: LocalKind, site: Span) -> Local {
    Local {
        name: name.node.clone(),
        def: name.span,
        scope,
        kind,
        site,
    }
}

fn block_locals(block: &Block, out: &mut Vec<Local>) {
    for stmt in &block.stmts {
        match stmt {
            Stmt::Param(p) => {
                out.push(local(
                    &p.name,
                    (p.span.start, block.span.end),
                    LocalKind::Weight,
                    p.span,
                ));
            }
            Stmt::Let(pattern, value) => {
                expr_locals(value, out);
                let site = pattern_span(pattern).to(value.span);
                pattern_locals(pattern, (value.span.end, block.span.end), site, out);
            }
        }
    }
    expr_locals(&block.result, out);
}

fn pattern_span(p: &Pattern) -> Span {
    match p {
        Pattern::Name(n) => n.span,
        Pattern::Tuple(_, span) => *span,
    }
}

fn pattern_locals(p: &Pattern, scope: (u32, u32), site: Span, out: &mut Vec<Local>) {
    match p {
        Pattern::Name(n) => out.push(local(n, scope, LocalKind::Let, site)),
        Pattern::Tuple(ps, _) => {
            for p in ps {
                pattern_locals(p, scope, site, out);
            }
        }
    }
}

fn expr_locals(e: &Expr, out: &mut Vec<Local>) {
    match &e.kind {
        ExprKind::Block(b) => block_locals(b, out),
        ExprKind::LetIn(p, v, body) => {
            expr_locals(v, out);
            let site = pattern_span(p).to(v.span);
            pattern_locals(p, (body.span.start, body.span.end), site, out);
            expr_locals(body, out);
        }
        ExprKind::Tuple(es) => es.iter().for_each(|e| expr_locals(e, out)),
        ExprKind::Apply(f, args) => {
            expr_locals(f, out);
            args.iter().for_each(|a| expr_locals(&a.value, out));
        }
        ExprKind::Binary(_, a, b) => {
            expr_locals(a, out);
            expr_locals(b, out);
        }
        ExprKind::Neg(a) | ExprKind::Transpose(a, _) => expr_locals(a, out),
        ExprKind::UnfoldOver { from, over, .. } => {
            expr_locals(from, out);
            expr_locals(over, out);
        }
        ExprKind::UnfoldTake { from, .. } => expr_locals(from, out),
        ExprKind::Name(_)
        | ExprKind::Inst(..)
        | ExprKind::Number(_)
        | ExprKind::Id
        | ExprKind::Fold(..)
        | ExprKind::Hylo { .. }
        | ExprKind::Error => {}
    }
}
