//! A parameter's spaces, built from the checker's resolved values
//! (`ParamKind`): the solver never reads a parameter's type from the
//! syntax tree.
//!
//! A part of the value that is a declared space's value (the checker
//! inlines `Pts` as the value it declares, action spans included, so the
//! two are equal exactly when the part is that declaration) is the
//! declared space as built once by `build_declarations`, whose errors were
//! reported there. Only what is written in the parameter's own type is
//! reported here: an action that does not fit, at the action, and a sum of
//! spaces under different groups, at the side of the map that holds it.

use super::Env;
use super::build::{action_error, concrete};
use crate::check::SpaceVal;
use crate::diagnostics::Diagnostic;
use cdlc_equivariance::{Space, SpaceError};
use cdlc_grammar::Span;

impl Env<'_> {
    /// The space of one side of a parameter's type, written at `at`.
    pub(super) fn param_space(&mut self, v: &SpaceVal, at: Span) -> Option<Space> {
        if let Some(id) = self.declared_space(v) {
            return self.space_item(id);
        }
        match v {
            SpaceVal::Channels(shape) => Some(Space::bare(&concrete(shape)?)),
            SpaceVal::Under {
                dims,
                group,
                action,
                span,
            } => {
                let g = self.group(*group)?;
                let shape = concrete(dims)?;
                match cdlc_equivariance::action(&g, action, &shape) {
                    Ok(s) => Some(s),
                    Err(e) => {
                        let gname = self.item_name(*group);
                        self.diags.push(action_error(&g, &gname, *span, &shape, e));
                        None
                    }
                }
            }
            SpaceVal::Tensor(a, b) => {
                let (a, b) = (self.param_space(a, at), self.param_space(b, at));
                self.product(&a?, &b?, at)
            }
            SpaceVal::Sum(a, b) => {
                let (a, b) = (self.param_space(a, at), self.param_space(b, at));
                match a?.direct_sum(&b?) {
                    Ok(s) => Some(s),
                    Err(SpaceError::DifferentGroups { left, right }) => {
                        self.diags.push(
                            Diagnostic::error(
                                "E0503",
                                format!("direct sum of spaces under different groups, {left} and {right}"),
                                at,
                                "this sum mixes two groups",
                            )
                            .with_help(format!(
                                "act on both summands with one group, or use `*` (the tensor product), which gives a space under product({left}, {right})"
                            )),
                        );
                        None
                    }
                    // The checker reported summands of the wrong rank.
                    Err(_) => None,
                }
            }
        }
    }

    /// The declared space whose value `v` is, if any.
    fn declared_space(&self, v: &SpaceVal) -> Option<crate::resolve::ItemId> {
        self.checked
            .spaces
            .iter()
            .find(|(_, s)| self.checked.space_table.get(s.0 as usize) == Some(v))
            .map(|(id, _)| *id)
    }
}
