//! One body: the expressions of a layer, model, algebra or coalgebra in an
//! arena, its locals, and the side table of each expression's checked type.

use super::arena::Arena;
use super::expr::{Expr, ExprId, Local, LocalId, ParamDecl};
use crate::check::types::{Shape, SpaceId, Ty};
use cdlc_grammar::Span;

/// The body of one item.
#[derive(Debug)]
pub struct Body {
    /// The expressions, children before their parents.
    pub exprs: Arena<Expr>,
    /// The locals, in the order they are bound.
    pub locals: Arena<Local>,
    /// The checked type of each expression, by handle (`Ty::Error` where an
    /// error was reported). A morphism has `Ty::Morph(dom, cod)`.
    types: Vec<Ty>,
    /// What the body is made of.
    pub kind: BodyKind,
}

/// The shape of a body.
#[derive(Clone, Debug)]
pub enum BodyKind {
    /// `layer f(x: A, ...) -> B { ... }`: the arguments' locals in order and
    /// the block.
    Block {
        /// The arguments.
        args: Vec<LocalId>,
        /// The block (an `Expr::Block`).
        value: ExprId,
    },
    /// `layer f = g >> h`: the morphism.
    PointFree(ExprId),
    /// An algebra or a coalgebra: the parameters of its header, then its
    /// cases (a coalgebra has at most one).
    Cases {
        /// The header's parameters.
        params: Vec<ParamDecl>,
        /// The cases, in source order.
        cases: Vec<Case>,
    },
}

/// One case of an algebra or coalgebra.
#[derive(Clone, Debug)]
pub struct Case {
    /// The constructor's index in its functor.
    pub ctor: usize,
    /// The binders: the constructor's fields (for a coalgebra, the state
    /// and then one input per function-typed field).
    pub binders: Vec<LocalId>,
    /// The case's value.
    pub value: ExprId,
}

impl Body {
    /// The checked type of an expression.
    pub fn ty(&self, e: ExprId) -> &Ty {
        &self.types[e.index()]
    }

    /// The checked shape of an expression that is a tensor.
    pub fn shape(&self, e: ExprId) -> Option<&Shape> {
        match self.ty(e) {
            Ty::Tensor(s, _) => Some(s),
            _ => None,
        }
    }

    /// The declared space an expression's value lives in, when the checker
    /// knows it (an argument or parameter declared in a space, and what
    /// keeps its shape).
    pub fn space(&self, e: ExprId) -> Option<SpaceId> {
        match self.ty(e) {
            Ty::Tensor(_, tag) => *tag,
            _ => None,
        }
    }

    /// The source of an expression.
    pub fn span(&self, e: ExprId) -> Span {
        self.exprs.span(e)
    }

    /// Whether an expression denotes a morphism rather than a value.
    pub fn is_morphism(&self, e: ExprId) -> bool {
        matches!(
            self.exprs[e],
            Expr::Inst { .. }
                | Expr::Pointwise(_)
                | Expr::Id
                | Expr::Compose(..)
                | Expr::Fold { .. }
                | Expr::Hylo { .. }
        ) || matches!(self.ty(e), Ty::Morph(..))
    }
}

/// A body under construction, filled in by the checker as it walks.
#[derive(Default)]
pub(crate) struct BodyBuilder {
    exprs: Arena<Expr>,
    locals: Arena<Local>,
    types: Vec<Ty>,
}

impl BodyBuilder {
    /// Adds an expression with its checked type.
    pub(crate) fn expr(&mut self, e: Expr, ty: &Ty, span: Span) -> ExprId {
        self.types.push(ty.clone());
        self.exprs.append(e, span)
    }

    /// Adds a local.
    pub(crate) fn local(&mut self, name: &str, ty: Ty, span: Span) -> LocalId {
        self.locals.append(
            Local {
                name: name.to_string(),
                ty,
            },
            span,
        )
    }

    /// The type of a local.
    pub(crate) fn local_ty(&self, l: LocalId) -> &Ty {
        &self.locals[l].ty
    }

    /// The finished body.
    pub(crate) fn finish(self, kind: BodyKind) -> Body {
        Body {
            exprs: self.exprs,
            locals: self.locals,
            types: self.types,
            kind,
        }
    }
}
