//! The nodes of a body: expressions, statements, patterns and locals. Every
//! name is resolved: to a local of the body ([`LocalId`]), to an item
//! (`ItemId`) with its size arguments, or to a built-in function (its
//! entry in `builtins.rs`).

use super::arena::Handle;
use crate::builtins::Function;
use crate::check::size::Poly;
use crate::check::types::Ty;
use crate::resolve::ItemId;

/// The handle of an expression in its body.
pub type ExprId = Handle<Expr>;

/// The handle of a local in its body.
pub type LocalId = Handle<Local>;

/// A name bound inside a body: an argument, a parameter, a `let` or a case
/// binder. Two bindings of one name are two locals.
#[derive(Clone, Debug)]
pub struct Local {
    /// The name as written.
    pub name: String,
    /// Its checked type.
    pub ty: Ty,
}

/// An arithmetic operator on tensors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `@`: a contraction, or an equivariant map applied to its domain.
    MatMul,
}

/// Where an `unfold` takes its steps from.
#[derive(Clone, Debug)]
pub enum UnfoldSource {
    /// `over xs`: one step per element of the list.
    Over(ExprId),
    /// `take k`: `k` steps, `k` a size of the enclosing definition.
    Take(Poly),
}

/// An expression. Sizes are polynomials over the size parameters of the
/// definition that owns the body (constants already replaced by their
/// values).
#[derive(Clone, Debug)]
pub enum Expr {
    /// A number literal.
    Number(f64),
    /// A local of the body.
    Local(LocalId),
    /// An instance of a layer or model at these sizes (`dense[4, 2]`,
    /// `phi`), a morphism.
    Inst {
        /// The layer or model.
        item: ItemId,
        /// Its size arguments, one per size parameter.
        sizes: Vec<Poly>,
    },
    /// A pointwise built-in used as a morphism (`relu`, `f >> tanh`).
    Pointwise(&'static Function),
    /// `id`
    Id,
    /// `(a, b, ...)`
    Tuple(Vec<ExprId>),
    /// `{ stmts; result }`
    Block {
        /// The statements in order.
        stmts: Vec<Stmt>,
        /// The block's value.
        result: ExprId,
    },
    /// `let p = value in body`
    LetIn {
        /// The pattern.
        pat: Pattern,
        /// The bound value (a value or a morphism).
        value: ExprId,
        /// The body.
        body: ExprId,
    },
    /// `f(args)` for a morphism `f`: a layer, a composition, a fold, a
    /// local bound to a morphism or a pointwise function.
    Apply {
        /// The morphism.
        f: ExprId,
        /// The arguments, positional; several form a tuple.
        args: Vec<ExprId>,
    },
    /// A built-in function other than a pointwise one applied to its
    /// arguments (`sum(x, axis = 1)`, `norm(x)`, `chunks(x, parts = 3)`).
    Builtin(BuiltinCall),
    /// `a op b`
    Binary(BinOp, ExprId, ExprId),
    /// `a >> b`
    Compose(ExprId, ExprId),
    /// `-a`
    Neg(ExprId),
    /// `a^T`
    Transpose(ExprId),
    /// `fold alg[sizes]`, a morphism.
    Fold {
        /// The algebra.
        alg: ItemId,
        /// Its size arguments.
        sizes: Vec<Poly>,
    },
    /// `hylo alg[sizes] by halves`, a morphism.
    Hylo {
        /// The algebra (for `TreeF`).
        alg: ItemId,
        /// Its size arguments.
        sizes: Vec<Poly>,
    },
    /// `unfold coalg[sizes] from s over xs` or `... take k`.
    Unfold {
        /// The coalgebra.
        coalg: ItemId,
        /// Its size arguments.
        sizes: Vec<Poly>,
        /// The initial state.
        from: ExprId,
        /// Where the steps come from.
        source: UnfoldSource,
    },
    /// An expression with an error reported: it appears only in an item
    /// whose status is failed, or where a name resolved to an item that
    /// failed itself.
    Error,
}

/// A call of a built-in function, its named argument already a number.
#[derive(Clone, Debug)]
pub struct BuiltinCall {
    /// The function's entry in the vocabulary table.
    pub function: &'static Function,
    /// The positional arguments.
    pub args: Vec<ExprId>,
    /// The value of its named argument (`axis = k`, `parts = k`), if given.
    pub named: Option<i64>,
    /// For `norm` and `gate`: how many leading axes of the argument are
    /// channels, kept apart by the function (the checker's reading of the
    /// argument's space); 0 for the others.
    pub channels: usize,
}

/// A statement of a block.
#[derive(Clone, Debug)]
pub enum Stmt {
    /// `param W: ...`
    Param(ParamDecl),
    /// `let p = e`
    Let(Pattern, ExprId),
}

/// A parameter's declaration: the local it binds and its index in the
/// owner's checked parameters (`DefInfo::params`, `AlgebraInfo::params`).
#[derive(Clone, Copy, Debug)]
pub struct ParamDecl {
    /// The local bound to the parameter.
    pub local: LocalId,
    /// The parameter's index in its owner's list.
    pub index: usize,
}

/// The left-hand side of a `let`.
#[derive(Clone, Debug)]
pub enum Pattern {
    /// One name.
    Local(LocalId),
    /// `(a, b, ...)`, destructuring a tuple.
    Tuple(Vec<Pattern>),
}
