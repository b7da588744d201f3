//! The list lengths of a built-in data set against the model that trains on
//! it: an input list that can be empty while the model splits its input
//! `by halves`, and targets of another length than the `take k` that makes
//! the model's output. Both are E0603 at check time, because a synthetic
//! data set's lengths are known from its arguments; data files are checked
//! when the run meets the example (E0603 naming it).
//!
//! The model is followed through what it does to its input and how its
//! output is made: applications of compositions, of definitions (with their
//! sizes) and of `hylo ... by halves`, blocks and `let ... in`. A list
//! reached in another way (bound to a local morphism first, say) is not
//! followed here; the run still reports it.

use super::Checker;
use super::size::Poly;
use super::train::DataSpec;
use crate::diagnostics::Diagnostic;
use crate::hir::{Body, BodyKind, Expr, ExprId, UnfoldSource};
use crate::resolve::ItemId;
use cdlc_grammar::Span;

/// How many definitions deep the walk follows a model; definitions nest
/// less deeply than this (E0706), so the bound only guards the walk.
const MAX_DEPTH: usize = 1100;

impl Checker<'_, '_> {
    /// E0603 when `synthetic.NAME(...)`'s list lengths cannot meet the
    /// model: an input list that can be empty split `by halves`, or targets
    /// of another length than the model's `take k` output.
    pub(super) fn check_synthetic_lengths(&mut self, data: &DataSpec, span: Span, model: ItemId) {
        let DataSpec::Synthetic { name, args } = data else {
            return;
        };
        let Ok(lengths) = cdlc_runtime::data::synthetic::lengths(name, args) else {
            return;
        };
        let model_name = self.def_name(model);
        if let Some((0, longest)) = lengths.input
            && let Some(split) = self.halves_of_input(model, 0)
        {
            self.error(
                Diagnostic::error(
                    "E0603",
                    format!(
                        "`synthetic.{name}` can give an empty list, which `{model_name}` splits `by halves`"
                    ),
                    span,
                    format!("lists of length 0 to {longest}"),
                )
                .with_label(split, "the input is split by halves here, which an empty list cannot be")
                .with_help("set `min_length` to 1 or more"),
            );
        }
        if let Some((shortest, longest)) = lengths.target
            && let Some((k, take)) = self.take_of_output(model, &[], 0)
            && (shortest, longest) != (k, k)
        {
            let have = if shortest == longest {
                format!("{shortest}")
            } else {
                format!("{shortest} to {longest}")
            };
            self.error(
                Diagnostic::error(
                    "E0603",
                    format!(
                        "`synthetic.{name}` gives lists of {have} targets, but `{model_name}` outputs {k} (`take {k}`)"
                    ),
                    span,
                    format!("{have} targets per example"),
                )
                .with_label(take, format!("{k} outputs"))
                .with_help(format!(
                    "make the model's `take` as long as the data's targets, or the data's targets {k} long"
                )),
            );
        }
    }

    /// The name a layer or model was declared with.
    fn def_name(&self, item: ItemId) -> String {
        self.out
            .defs
            .get(&item)
            .map_or_else(String::new, |d| d.name.clone())
    }

    /// The span, in `item`'s body, of an application that splits `item`'s
    /// one input `by halves` (directly, through a composition or through a
    /// definition that does), if there is one.
    fn halves_of_input(&self, item: ItemId, depth: usize) -> Option<Span> {
        let body = self.out.hir.body(item)?;
        if depth > MAX_DEPTH {
            return None;
        }
        match &body.kind {
            BodyKind::Block { args, .. } if args.len() == 1 => {
                body.exprs.iter().find_map(|(e, expr)| match expr {
                    Expr::Apply { f, args: a }
                        if a.len() == 1
                            && matches!(body.exprs[a[0]], Expr::Local(l) if l == args[0])
                            && self.splits(body, *f, depth).is_some() =>
                    {
                        Some(body.span(e))
                    }
                    _ => None,
                })
            }
            BodyKind::PointFree(f) => self.splits(body, *f, depth),
            _ => None,
        }
    }

    /// Whether the morphism `f` of `body` splits its argument `by halves`
    /// before anything else touches it: the span of the `hylo`, or of the
    /// definition that splits it, in `body`.
    fn splits(&self, body: &Body, f: ExprId, depth: usize) -> Option<Span> {
        match &body.exprs[f] {
            Expr::Hylo { .. } => Some(body.span(f)),
            Expr::Compose(first, _) => self.splits(body, *first, depth),
            Expr::Inst { item, .. } => self.halves_of_input(*item, depth + 1).map(|_| body.span(f)),
            _ => None,
        }
    }

    /// The `k` of the `unfold ... take k` whose list is the output of
    /// `item` at these (constant) sizes, with the span of the unfold in
    /// `item`'s body, if the output is made that way.
    fn take_of_output(&self, item: ItemId, sizes: &[Poly], depth: usize) -> Option<(usize, Span)> {
        let body = self.out.hir.body(item)?;
        let params = &self.out.defs.get(&item)?.size_params;
        if depth > MAX_DEPTH || params.len() != sizes.len() {
            return None;
        }
        let subst = super::size_subst(params, sizes);
        let walk = Walk {
            body,
            subst: &subst,
            depth,
        };
        match &body.kind {
            BodyKind::Block { value, .. } => self.take_of_value(&walk, *value),
            BodyKind::PointFree(f) => self.take_of_morphism(&walk, *f),
            BodyKind::Cases { .. } => None,
        }
    }

    /// The `take k` that makes the value `e`.
    fn take_of_value(&self, w: &Walk, e: ExprId) -> Option<(usize, Span)> {
        match &w.body.exprs[e] {
            Expr::Block { result, .. } => self.take_of_value(w, *result),
            Expr::LetIn { body, .. } => self.take_of_value(w, *body),
            Expr::Apply { f, .. } => self.take_of_morphism(w, *f),
            Expr::Unfold {
                source: UnfoldSource::Take(k),
                ..
            } => {
                let k = k.substitute(w.subst).as_constant()?;
                Some((usize::try_from(k).ok()?, w.body.span(e)))
            }
            _ => None,
        }
    }

    /// The `take k` that makes the output of the morphism `f`.
    fn take_of_morphism(&self, w: &Walk, f: ExprId) -> Option<(usize, Span)> {
        match &w.body.exprs[f] {
            Expr::Compose(_, last) => self.take_of_morphism(w, *last),
            Expr::Inst { item, sizes } => {
                let sizes: Vec<Poly> = sizes.iter().map(|s| s.substitute(w.subst)).collect();
                let (k, _) = self.take_of_output(*item, &sizes, w.depth + 1)?;
                Some((k, w.body.span(f)))
            }
            _ => None,
        }
    }
}

/// One body being walked for its output, with its sizes' values.
struct Walk<'b, 's> {
    body: &'b Body,
    subst: &'s dyn Fn(super::size::Var) -> Option<Poly>,
    depth: usize,
}
