//! The `where` list of an equivariant parameter (`param K: equivariant A ->
//! B where local(r)`): each constraint is a known one with its arguments,
//! and a radius is a number known at check time. The checker records the
//! radius in the parameter's `ParamKind`, and the equivariance solver reads
//! it from there.

use super::{Checker, TypeEnv};
use crate::diagnostics::{Diagnostic, closest};
use cdlc_grammar::Span;
use cdlc_grammar::ast;

/// A checked `where` list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WhereList {
    /// The `local(r)` radius: the largest distance kept (the smallest, when
    /// given twice); `None` without `local`.
    pub local: Option<usize>,
    /// Where the list is written, from its first constraint to its last.
    pub span: Option<Span>,
}

impl Checker<'_, '_> {
    /// Checks a parameter's `where` list; `None` when a constraint is
    /// wrong (reported here).
    pub(super) fn where_list(
        &mut self,
        cs: &[ast::Constraint],
        env: &TypeEnv,
    ) -> Option<WhereList> {
        let mut radius: Option<usize> = None;
        let mut ok = true;
        for c in cs {
            match self.constraint(c, env) {
                Some(r) => radius = Some(radius.map_or(r, |x| x.min(r))),
                None => ok = false,
            }
        }
        let span = match cs {
            [] => None,
            [first, .., last] => Some(first.span.to(last.span)),
            [only] => Some(only.span),
        };
        ok.then_some(WhereList {
            local: radius,
            span,
        })
    }

    /// The radius of one constraint, which must be `local(r)`.
    fn constraint(&mut self, c: &ast::Constraint, env: &TypeEnv) -> Option<usize> {
        if c.name.node != "local" {
            let mut d = Diagnostic::error(
                "E0201",
                format!("unknown constraint `{}`", c.name.node),
                c.name.span,
                "not a constraint",
            );
            d = match closest(&c.name.node, ["local"]) {
                Some(s) => d.with_help(format!("did you mean `{s}`?")),
                None => d.with_help("the built-in constraint is `local(r)`"),
            };
            self.error(d);
            return None;
        }
        let [a] = c.args.as_slice() else {
            self.error(
                Diagnostic::error(
                    "E0302",
                    format!("`local` takes 1 argument, found {}", c.args.len()),
                    c.span,
                    "wrong number of arguments",
                )
                .with_help("write `local(r)`, with r the largest distance kept"),
            );
            return None;
        };
        let r = self.size(a, env)?;
        match r.as_constant().map(usize::try_from) {
            Some(Ok(r)) => Some(r),
            _ => {
                let name = |v| super::Namer::var(&self.out, v);
                let shown = format!("`{}`", r.display(&name));
                self.error(
                    Diagnostic::error(
                        "E0640",
                        format!("the radius of `local` must be a number known at check time, found {shown}"),
                        a.span,
                        "not a fixed, non-negative number",
                    )
                    .with_help("write a number or a `const` (`local(1)`); the tying is solved once per declaration, for every size"),
                );
                None
            }
        }
    }
}
