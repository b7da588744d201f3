//! The syntax tree: what was written, with a span on every node and every
//! name still unresolved.
//!
//! The tree mirrors the surface syntax of `LANGUAGE.md` closely; deciding
//! what a name refers to, whether a type is a space or a data type, and
//! whether sizes agree is left to later stages.

use crate::span::{Ident, Span};

/// One parsed source file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct File {
    /// The items in source order.
    pub items: Vec<Item>,
    /// The names of items that could not be parsed (and are not in
    /// `items`); their errors have been reported, and uses of these names
    /// are not reported again as unknown.
    pub unparsed: Vec<Ident>,
}

/// A top-level declaration.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    /// The text of the `///` comments directly above the item, one line each.
    pub doc: Vec<String>,
    /// What the item declares.
    pub kind: ItemKind,
    /// From the item's first keyword to its end.
    pub span: Span,
}

/// The kinds of top-level declaration.
#[derive(Clone, Debug, PartialEq)]
pub enum ItemKind {
    /// `import std.layers`
    Import(Vec<Ident>),
    /// `const n = 8`
    Const(Const),
    /// `functor ListF(A) = nil | cons(A, X)`
    Functor(Functor),
    /// `data List(A) = fix ListF(A)` or `codata Stream(A) = cofix StreamF(A)`
    Data(Data),
    /// `group S = symmetric(5)` or `monoid M = shifts(8)`
    Group(GroupDecl),
    /// `space Node = R[5] under S by permute`
    Space(SpaceDecl),
    /// `layer` and `model` definitions.
    Def(Def),
    /// `algebra name[sizes] : F(A) -> C { ... }`
    Algebra(Algebra),
    /// `coalgebra name[sizes] : S -> F(A) { ... }`
    Coalgebra(Coalgebra),
    /// `train model { key = value ... }`
    Train(Train),
    /// An item the parser could not read; its error has been reported.
    Error,
}

/// `const name = size`
#[derive(Clone, Debug, PartialEq)]
pub struct Const {
    /// The constant's name.
    pub name: Ident,
    /// Its value, a natural-number expression.
    pub value: Size,
}

/// A size: a natural-number expression known at compile time.
#[derive(Clone, Debug, PartialEq)]
pub enum SizeKind {
    /// A literal.
    Nat(u64),
    /// A `const` or a size parameter.
    Name(String),
    /// `a + b`
    Add(Box<Size>, Box<Size>),
    /// `a - b`
    Sub(Box<Size>, Box<Size>),
    /// `a * b`
    Mul(Box<Size>, Box<Size>),
    /// `a / b`, exact division only.
    Div(Box<Size>, Box<Size>),
}

/// A size with its span.
#[derive(Clone, Debug, PartialEq)]
pub struct Size {
    /// The expression.
    pub kind: SizeKind,
    /// Where it was written.
    pub span: Span,
}

/// A type as written.
#[derive(Clone, Debug, PartialEq)]
pub enum TypeKind {
    /// `R`, a real scalar.
    Real,
    /// `R[d1, ..., dk]`
    Tensor(Vec<Size>),
    /// `1`, the unit type.
    Unit,
    /// `A * B * ...` (pairs, triples).
    Product(Vec<Type>),
    /// `I -> T`, only inside functor constructors.
    Arrow(Box<Type>, Box<Type>),
    /// A name, possibly applied: `A`, `X`, `Feat`, `List(R[d])`, `ListF(A)`.
    Named {
        /// The type constructor, functor, space or type parameter.
        name: Ident,
        /// Arguments in parentheses, empty when there are none.
        args: Vec<Type>,
    },
    /// `fix F(args)` or `cofix F(args)`
    Fix {
        /// `true` for `cofix`.
        co: bool,
        /// The functor.
        functor: Ident,
        /// Its arguments.
        args: Vec<Type>,
    },
}

/// A type with its span.
#[derive(Clone, Debug, PartialEq)]
pub struct Type {
    /// The type.
    pub kind: TypeKind,
    /// Where it was written.
    pub span: Span,
}

/// `functor Name(params) = ctor | ctor(fields) | ...`
#[derive(Clone, Debug, PartialEq)]
pub struct Functor {
    /// The functor's name.
    pub name: Ident,
    /// Its type parameters.
    pub params: Vec<Ident>,
    /// The constructors, a sum.
    pub ctors: Vec<Ctor>,
}

/// One constructor of a functor: a product of fields.
#[derive(Clone, Debug, PartialEq)]
pub struct Ctor {
    /// The constructor's name.
    pub name: Ident,
    /// Its fields; empty means the unit.
    pub fields: Vec<Type>,
    /// The whole constructor.
    pub span: Span,
}

/// `data Name(params) = fix F(args)`; `codata` with `cofix`.
#[derive(Clone, Debug, PartialEq)]
pub struct Data {
    /// `true` for `codata`.
    pub co: bool,
    /// The data type's name.
    pub name: Ident,
    /// Its type parameters.
    pub params: Vec<Ident>,
    /// The right-hand side, `fix F(args)` or `cofix F(args)`.
    pub def: Type,
}

/// `group` or `monoid` declaration.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupDecl {
    /// `true` when declared with `monoid`.
    pub monoid: bool,
    /// The name.
    pub name: Ident,
    /// What it is.
    pub def: GroupExpr,
}

/// The right-hand side of a group or monoid declaration.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupExpr {
    /// The built-in constructor: `symmetric`, `SO`, `product`, `perms`, ...
    pub head: Ident,
    /// Arguments in parentheses: sizes, or group names for `product`.
    pub args: Vec<Size>,
    /// Generators in braces for `perms(n) { ... }` and `matrices(d) { ... }`.
    pub generators: Vec<Generator>,
    /// The whole expression.
    pub span: Span,
}

/// One named generator of a `perms` or `matrices` group.
#[derive(Clone, Debug, PartialEq)]
pub struct Generator {
    /// The generator's name.
    pub name: Ident,
    /// Its value.
    pub value: GeneratorValue,
    /// The whole `name: value`.
    pub span: Span,
}

/// A generator's value.
#[derive(Clone, Debug, PartialEq)]
pub enum GeneratorValue {
    /// Cycle notation, `(0 1 2)(3 4)`: each inner list is one cycle.
    Cycles(Vec<Vec<u64>>),
    /// A matrix, `[[0, -1], [1, 0]]`, row by row.
    Matrix(Vec<Vec<f64>>),
}

/// `space Name = expr`
#[derive(Clone, Debug, PartialEq)]
pub struct SpaceDecl {
    /// The space's name.
    pub name: Ident,
    /// Its definition.
    pub def: SpaceExpr,
}

/// A space expression: tensor types with actions, combined.
#[derive(Clone, Debug, PartialEq)]
pub enum SpaceKind {
    /// A bare tensor type `R[d...]`: channels, on which every group acts trivially.
    Tensor(Vec<Size>),
    /// `R[d...] under G by action`
    Under {
        /// The tensor's shape.
        dims: Vec<Size>,
        /// The group or monoid.
        group: Ident,
        /// The action's name (`permute`, `shift`, ...).
        action: Ident,
    },
    /// Another space, by name.
    Name(Ident),
    /// `A * B` or `A ⊗ B`, the tensor product.
    Tensor2(Box<SpaceExpr>, Box<SpaceExpr>),
    /// `A + B` or `A ⊕ B`, the direct sum.
    Sum(Box<SpaceExpr>, Box<SpaceExpr>),
    /// `A ^ k`, the k-th tensor power.
    Power(Box<SpaceExpr>, Size),
}

/// A space expression with its span.
#[derive(Clone, Debug, PartialEq)]
pub struct SpaceExpr {
    /// The expression.
    pub kind: SpaceKind,
    /// Where it was written.
    pub span: Span,
}

/// Whether a definition is a `layer` or a `model`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefKind {
    /// `layer`: may take size parameters.
    Layer,
    /// `model`: trained or run; takes no size parameters.
    Model,
}

/// A `layer` or `model` definition.
#[derive(Clone, Debug, PartialEq)]
pub struct Def {
    /// `layer` or `model`.
    pub kind: DefKind,
    /// The name.
    pub name: Ident,
    /// Size parameters in brackets.
    pub size_params: Vec<Ident>,
    /// The body: arguments and a block, or a point-free expression.
    pub body: DefBody,
}

/// The two ways to write a definition.
#[derive(Clone, Debug, PartialEq)]
pub enum DefBody {
    /// `(x: A, ...) -> B [claim] { block }`
    Block {
        /// Value parameters; the domain is their product.
        args: Vec<Arg>,
        /// The result type.
        result: Type,
        /// `equivariant G` or `invariant G` after the result type.
        claim: Option<Claim>,
        /// The body.
        block: Block,
    },
    /// `= f >> g >> ...`
    PointFree(Expr),
}

/// A value parameter `x: A`.
#[derive(Clone, Debug, PartialEq)]
pub struct Arg {
    /// Its name.
    pub name: Ident,
    /// Its type.
    pub ty: Type,
}

/// A declared symmetry of a definition.
#[derive(Clone, Debug, PartialEq)]
pub struct Claim {
    /// `true` for `invariant`, `false` for `equivariant`.
    pub invariant: bool,
    /// The group or monoid.
    pub group: Ident,
    /// The whole claim.
    pub span: Span,
}

/// `param name: type = init`
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    /// The parameter's name.
    pub name: Ident,
    /// Its type.
    pub ty: ParamType,
    /// How it is initialised.
    pub init: Init,
    /// The whole declaration.
    pub span: Span,
}

/// The type of a parameter.
#[derive(Clone, Debug, PartialEq)]
pub enum ParamType {
    /// A plain tensor.
    Plain(Type),
    /// `equivariant A -> B where c1, c2`
    Equivariant {
        /// The domain space.
        from: SpaceExpr,
        /// The codomain space.
        to: SpaceExpr,
        /// Extra linear constraints after `where`.
        constraints: Vec<Constraint>,
    },
    /// `invariant A`
    Invariant(SpaceExpr),
}

/// A constraint `name(args)` after `where`, such as `local(1)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Constraint {
    /// The constraint's name.
    pub name: Ident,
    /// Its size arguments.
    pub args: Vec<Size>,
    /// The whole constraint.
    pub span: Span,
}

/// An initialiser: `glorot`, `normal(0.1)`, `uniform(-1, 1)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Init {
    /// The initialiser's name.
    pub name: Ident,
    /// Its numeric arguments.
    pub args: Vec<f64>,
    /// The whole initialiser.
    pub span: Span,
}

/// A block: parameters and bindings, then a result.
#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    /// `param` and `let` statements in order.
    pub stmts: Vec<Stmt>,
    /// The value of the block.
    pub result: Box<Expr>,
    /// From `{` to `}` (or the statements and result when there are no braces).
    pub span: Span,
}

/// A statement of a block.
// A block holds a handful of statements; boxing `Param` to shrink the enum
// would cost an allocation per parameter for nothing measurable.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum Stmt {
    /// `param name: type = init`
    Param(Param),
    /// `let pattern = expr`
    Let(Pattern, Expr),
}

/// A binding pattern: a name or a tuple of patterns.
#[derive(Clone, Debug, PartialEq)]
pub enum Pattern {
    /// Binds a name.
    Name(Ident),
    /// `(p, q, ...)`
    Tuple(Vec<Pattern>, Span),
}

/// An algebra `F(A) -> C`: parameters, then one case per constructor.
#[derive(Clone, Debug, PartialEq)]
pub struct Algebra {
    /// The algebra's name.
    pub name: Ident,
    /// Its size parameters.
    pub size_params: Vec<Ident>,
    /// The functor applied to its parameters, `ListF(R[d])`.
    pub functor: Type,
    /// The carrier, `R[h]`.
    pub carrier: Type,
    /// The parameters, shared by every case.
    pub params: Vec<Param>,
    /// The cases.
    pub cases: Vec<Case>,
}

/// A coalgebra `S -> F(A)`: parameters, then one case.
#[derive(Clone, Debug, PartialEq)]
pub struct Coalgebra {
    /// The coalgebra's name.
    pub name: Ident,
    /// Its size parameters.
    pub size_params: Vec<Ident>,
    /// The state type (the carrier).
    pub carrier: Type,
    /// The functor applied to its parameters.
    pub functor: Type,
    /// The parameters.
    pub params: Vec<Param>,
    /// The cases (exactly one is valid).
    pub cases: Vec<Case>,
}

/// `ctor(x, y) => body`
#[derive(Clone, Debug, PartialEq)]
pub struct Case {
    /// The constructor.
    pub ctor: Ident,
    /// The names bound to its fields (for a coalgebra: the state, then the input).
    pub binders: Vec<Ident>,
    /// The case's value.
    pub body: Expr,
    /// From the constructor to the end of the body.
    pub span: Span,
}

/// An expression.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    /// What kind of expression.
    pub kind: ExprKind,
    /// Where it was written.
    pub span: Span,
}

/// Binary operators.
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
    /// `@`, contraction.
    MatMul,
    /// `>>`, composition in diagrammatic order.
    Compose,
}

/// The kinds of expression.
#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// A variable, a definition, a built-in function.
    Name(Ident),
    /// `name[sizes]`: a layer (or other definition) instantiated at sizes.
    Inst(Ident, Vec<Size>),
    /// A number literal.
    Number(f64),
    /// `(a, b, ...)`
    Tuple(Vec<Expr>),
    /// `{ stmts; result }`
    Block(Block),
    /// `let p = e in body`
    LetIn(Pattern, Box<Expr>, Box<Expr>),
    /// `f(args)`
    Apply(Box<Expr>, Vec<CallArg>),
    /// `a op b`
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// `-a`
    Neg(Box<Expr>),
    /// `a^T`; the identifier after `^` must be `T`.
    Transpose(Box<Expr>, Ident),
    /// `id`
    Id,
    /// `fold alg[sizes]`, a morphism.
    Fold(Ident, Vec<Size>),
    /// `unfold coalg[sizes] from s over xs`
    UnfoldOver {
        /// The coalgebra.
        coalg: Ident,
        /// Its size arguments.
        sizes: Vec<Size>,
        /// The initial state.
        from: Box<Expr>,
        /// The input list.
        over: Box<Expr>,
    },
    /// `unfold coalg[sizes] from s take k`
    UnfoldTake {
        /// The coalgebra.
        coalg: Ident,
        /// Its size arguments.
        sizes: Vec<Size>,
        /// The initial state.
        from: Box<Expr>,
        /// How many outputs.
        take: Size,
    },
    /// `hylo alg[sizes] by coalg[sizes]`, a morphism.
    Hylo {
        /// The algebra.
        alg: Ident,
        /// Its size arguments.
        alg_sizes: Vec<Size>,
        /// The coalgebra (a built-in structural one, such as `halves`).
        coalg: Ident,
        /// Its size arguments.
        coalg_sizes: Vec<Size>,
    },
    /// An expression the parser could not read; its error has been reported.
    Error,
}

/// An argument in a call: positional, or `name = value` (as in `axis = 1`).
#[derive(Clone, Debug, PartialEq)]
pub struct CallArg {
    /// The name, for a named argument.
    pub name: Option<Ident>,
    /// The value.
    pub value: Expr,
}

/// `train model { key = value ... }`
#[derive(Clone, Debug, PartialEq)]
pub struct Train {
    /// The model to train.
    pub model: Ident,
    /// The options in source order.
    pub options: Vec<TrainOption>,
}

/// One `key = value` line of a train block.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainOption {
    /// The option's name (`data`, `loss`, ...).
    pub key: Ident,
    /// Its value.
    pub value: Value,
    /// The whole line.
    pub span: Span,
}

/// A value in a train block.
#[derive(Clone, Debug, PartialEq)]
pub struct Value {
    /// What kind of value.
    pub kind: ValueKind,
    /// Where it was written.
    pub span: Span,
}

/// The kinds of train-block value.
#[derive(Clone, Debug, PartialEq)]
pub enum ValueKind {
    /// A number, possibly negative.
    Number(f64),
    /// A string literal, unescaped.
    Str(String),
    /// A dotted name, possibly called: `mse`, `n`, `adam(lr = 0.01)`,
    /// `synthetic.parity(min_length = 2)`.
    Call {
        /// The dotted path.
        path: Vec<Ident>,
        /// The arguments, `None` without parentheses.
        args: Option<Vec<ValueArg>>,
    },
}

/// An argument of a train-block call.
#[derive(Clone, Debug, PartialEq)]
pub struct ValueArg {
    /// The name, for `name = value`.
    pub name: Option<Ident>,
    /// The value.
    pub value: Value,
}
