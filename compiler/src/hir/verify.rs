//! The HIR's structural invariants, checked: what its readers rely on
//! without checking again. Run after `check` in debug builds (so in every
//! test) and by the HIR's own tests.

use super::{Body, BodyKind, Expr, ExprId, Hir, Pattern, Stmt, UnfoldSource};
use crate::check::Checked;
use crate::check::types::Ty;
use crate::resolve::ItemId;

/// Every broken invariant of the HIR of `checked`, as one line each naming
/// the item and the node; empty when the HIR is sound.
pub fn verify(hir: &Hir, checked: &Checked) -> Vec<String> {
    let mut problems = Vec::new();
    for (item, body) in &hir.bodies {
        let mut v = Verifier {
            item: *item,
            body,
            checked,
            ok: hir.is_ok(*item),
            problems: &mut problems,
        };
        v.body();
    }
    problems
}

struct Verifier<'a> {
    item: ItemId,
    body: &'a Body,
    checked: &'a Checked,
    ok: bool,
    problems: &'a mut Vec<String>,
}

impl Verifier<'_> {
    fn problem(&mut self, what: String) {
        self.problems.push(format!("item {}: {what}", self.item.0));
    }

    fn body(&mut self) {
        let params = self.param_count();
        match &self.body.kind {
            BodyKind::Block { args, value } => {
                for a in args {
                    self.local(a.index());
                }
                self.child(*value, self.body.exprs.len());
            }
            BodyKind::PointFree(e) => self.child(*e, self.body.exprs.len()),
            BodyKind::Cases { params: ps, cases } => {
                for p in ps {
                    self.param(p.index, params);
                    self.local(p.local.index());
                }
                for case in cases {
                    self.case(case);
                }
            }
        }
        for (h, e) in self.body.exprs.iter() {
            self.expr(h, e, params);
        }
    }

    /// The number of parameters the owner has (or `None` for no owner).
    fn param_count(&self) -> Option<usize> {
        match (
            self.checked.defs.get(&self.item),
            self.checked.algebras.get(&self.item),
        ) {
            (Some(d), _) => Some(d.params.len()),
            (None, Some(a)) => Some(a.params.len()),
            (None, None) => None,
        }
    }

    fn case(&mut self, case: &super::Case) {
        for b in &case.binders {
            self.local(b.index());
        }
        self.child(case.value, self.body.exprs.len());
        let Some(info) = self.checked.algebras.get(&self.item) else {
            return self.problem("cases in a body that is no algebra".to_string());
        };
        let Some(f) = info.functor else {
            return self.problem("cases of an algebra without a functor".to_string());
        };
        let ctors = &self.checked.functors[f.0 as usize].ctors;
        match ctors.get(case.ctor) {
            None => self.problem(format!(
                "case for constructor {} of {}",
                case.ctor,
                ctors.len()
            )),
            Some(c) => {
                let want = if info.co {
                    1 + c
                        .fields
                        .iter()
                        .filter(|t| matches!(t, Ty::Arrow(..)))
                        .count()
                } else {
                    c.fields.len()
                };
                if case.binders.len() != want {
                    let n = case.binders.len();
                    self.problem(format!("case `{}` binds {n}, needs {want}", c.name));
                }
            }
        }
    }

    fn local(&mut self, i: usize) {
        if i >= self.body.locals.len() {
            self.problem(format!("local {i} out of range"));
        }
    }

    fn param(&mut self, index: usize, count: Option<usize>) {
        if count.is_none_or(|n| index >= n) {
            self.problem(format!("parameter {index} of {count:?}"));
        }
    }

    /// A child of the node at `parent`: it must come before it.
    fn child(&mut self, c: ExprId, parent: usize) {
        if c.index() >= parent {
            self.problem(format!(
                "node {} refers to a later node {}",
                parent,
                c.index()
            ));
        }
    }

    fn pattern(&mut self, p: &Pattern) {
        match p {
            Pattern::Local(l) => self.local(l.index()),
            Pattern::Tuple(ps) => ps.iter().for_each(|p| self.pattern(p)),
        }
    }

    fn expr(&mut self, h: ExprId, e: &Expr, params: Option<usize>) {
        let at = h.index();
        let mut children: Vec<ExprId> = Vec::new();
        match e {
            Expr::Pointwise(f) => {
                if f.kind != crate::builtins::FunctionKind::Pointwise {
                    self.problem(format!("node {at} uses `{}` as a pointwise map", f.name));
                }
            }
            Expr::Number(_)
            | Expr::Inst { .. }
            | Expr::Id
            | Expr::Fold { .. }
            | Expr::Hylo { .. } => {}
            Expr::Local(l) => self.local(l.index()),
            Expr::Tuple(es) => children.extend(es),
            Expr::Block { stmts, result } => {
                for s in stmts {
                    match s {
                        Stmt::Param(p) => {
                            self.param(p.index, params);
                            self.local(p.local.index());
                        }
                        Stmt::Let(pat, v) => {
                            self.pattern(pat);
                            children.push(*v);
                        }
                    }
                }
                children.push(*result);
            }
            Expr::LetIn { pat, value, body } => {
                self.pattern(pat);
                children.extend([*value, *body]);
            }
            Expr::Apply { f, args } => {
                children.push(*f);
                children.extend(args);
            }
            Expr::Builtin(call) => {
                children.extend(&call.args);
                if self.ok && call.args.len() != call.function.arguments {
                    let name = call.function.name;
                    self.problem(format!(
                        "`{name}` at node {at} has {} arguments",
                        call.args.len()
                    ));
                }
            }
            Expr::Binary(_, a, b) | Expr::Compose(a, b) => children.extend([*a, *b]),
            Expr::Neg(a) | Expr::Transpose(a) => children.push(*a),
            Expr::Unfold { from, source, .. } => {
                children.push(*from);
                if let UnfoldSource::Over(xs) = source {
                    children.push(*xs);
                }
            }
            Expr::Error => {}
        }
        for c in children {
            self.child(c, at);
        }
    }
}
