//! The HIR: the checked program as later stages read it.
//!
//! `check` is the only stage that walks the syntax tree's bodies. As it
//! types each layer, model, algebra and coalgebra it writes the body here:
//! an arena of expressions with typed handles ([`Body`]), each name
//! resolved to a local of the body, an item or a built-in function, the
//! checked type (and so the shape, a size polynomial per axis, and the
//! space when known) of every expression in a side table, and every size
//! argument already a polynomial. Instantiation and the equivariance
//! proofs read bodies from here and never look at names as strings.
//!
//! Invariants a reader may rely on:
//!
//! - an item whose [`Status`] is `Ok` had no error attributed to it (by
//!   the stage that reported the error, as it reported it); its body,
//!   if it has one, contains no `Expr::Error` unless a name in it resolved
//!   to an item that failed itself (whose status is `Failed`);
//! - every handle in a body points into that body's arenas, and children
//!   come before their parents;
//! - `Stmt::Param` indexes the owner's checked parameters
//!   (`DefInfo::params`, `AlgebraInfo::params`);
//! - a `Case`'s constructor index is a constructor of the algebra's
//!   functor, and it binds as many locals as the constructor asks for;
//! - a `BuiltinCall`'s named argument is the number the checker accepted
//!   (an axis in range, a number of parts that divides the length).

mod arena;
mod body;
mod expr;
mod print;
mod verify;

#[cfg(test)]
mod tests;

pub use arena::{Arena, Handle};
pub(crate) use body::BodyBuilder;
pub use body::{Body, BodyKind, Case};
pub use expr::{
    BinOp, BuiltinCall, Expr, ExprId, Local, LocalId, ParamDecl, Pattern, Stmt, UnfoldSource,
};
pub use print::print;
pub use verify::verify;

use crate::resolve::{ItemId, Program};
use indexmap::IndexMap;
use std::collections::BTreeSet;

/// Whether an item checked cleanly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// No error was attributed to the item.
    Ok,
    /// An error (of parsing, naming or checking) was attributed to the
    /// item; later stages skip it, so that a mistake is reported once.
    Failed,
}

/// The bodies and statuses of a checked program.
#[derive(Debug, Default)]
pub struct Hir {
    bodies: IndexMap<ItemId, Body>,
    status: IndexMap<ItemId, Status>,
}

impl Hir {
    /// The body of a layer, model, algebra or coalgebra, if it was checked.
    pub fn body(&self, item: ItemId) -> Option<&Body> {
        self.bodies.get(&item)
    }

    /// Whether the item checked cleanly.
    pub fn is_ok(&self, item: ItemId) -> bool {
        self.status(item) == Status::Ok
    }

    /// The item's status.
    pub fn status(&self, item: ItemId) -> Status {
        self.status.get(&item).copied().unwrap_or(Status::Failed)
    }

    /// Records a body (a point-free definition checked again replaces it).
    pub(crate) fn set_body(&mut self, item: ItemId, body: Body) {
        self.bodies.insert(item, body);
    }

    /// Gives every item its status: an item fails when loading, naming
    /// or checking attributed an error to it (`failed`). The stages after
    /// `check` read the table.
    pub(crate) fn set_statuses(&mut self, program: &Program, failed: &BTreeSet<ItemId>) {
        for id in program.item_ids() {
            let status = if failed.contains(&id) {
                Status::Failed
            } else {
                Status::Ok
            };
            self.status.insert(id, status);
        }
    }
}
