//! The IR's data: modules, functions, blocks, values, ops and types.
//!
//! A `Function` is one model (or its training function) written for one
//! example. Its values live in one arena; each is either an op's result or a
//! block argument, and every value has exactly one static type, kept in the
//! side table `Function::types`. Blocks are straight-line lists of ops ending
//! in a result value. Recursion schemes (`fold`, `unfold`) are ops that own
//! nested blocks, their *regions*: one per constructor case for a fold, one
//! step for an unfold. A region may use any value defined before its op in an
//! enclosing block (typically the function's parameters, which an algebra
//! shares at every node), and nothing defined inside a region is visible
//! outside it.
//!
//! Evaluation order inside a block is the order of `BlockData::insts`; a
//! fold's regions run once per node of the structure, children before
//! parents; an unfold's region runs once per step, in order. The structure a
//! fold walks is the function's input data (or a computed sequence: a rose
//! node's children's carriers, an unfold's outputs), not code: one function
//! serves lists and trees of every shape.

use std::fmt;
use std::sync::Arc;

use cdlc_runtime::value::{DataDecl, DataType, Tensor};

use crate::entity::{Arena, SecondaryMap, entity};

entity!(
    /// An SSA value of a function: an op's result or a block argument.
    Value,
    "%"
);
entity!(
    /// A block of a function: the entry block or a region of a recursion op.
    Block,
    "block"
);
entity!(
    /// A trainable parameter slot of a function.
    Param,
    "param"
);
entity!(
    /// A function of a module.
    FuncId,
    "fn"
);
entity!(
    /// A data-type declaration of a module.
    DataId,
    "data"
);
entity!(
    /// A sparse linear basis of a module (for equivariant parameters).
    BasisId,
    "basis"
);

/// A static tensor shape; empty for a scalar.
pub type Shape = Vec<usize>;

/// The static type of a value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Type {
    /// A tensor of this shape (rank 0 is a scalar `R`).
    Tensor(Shape),
    /// A product (pairs, several outputs, a region's results).
    Tuple(Vec<Type>),
    /// An inductive structure from the input data. Opaque: only `fold`
    /// consumes it.
    Data(DataId),
    /// A sequence of values of one type computed by an `unfold`, or the
    /// children's carriers bound by a fold at a `List(X)` field; the IR form
    /// of a computed `List`. Consumed by losses (position by position), by a
    /// fold of a list-shaped algebra, or returned.
    Seq(Box<Type>),
    /// A class index below the given count: a `cross_entropy` target.
    Class(usize),
    /// What a recording recursion op saved for its backward op. Opaque.
    Tape,
}

impl Type {
    /// A tensor type of the given shape.
    pub fn tensor(shape: &[usize]) -> Type {
        Type::Tensor(shape.to_vec())
    }

    /// The scalar type `R`.
    pub fn scalar() -> Type {
        Type::Tensor(Vec::new())
    }

    /// The shape, if this is a tensor type.
    pub fn shape(&self) -> Option<&[usize]> {
        match self {
            Type::Tensor(s) => Some(s),
            _ => None,
        }
    }

    /// Whether `zeros` of this type exists: a differentiable type, a
    /// sequence of one (the zero cotangent of a sequence of any length, the
    /// empty sequence read as zeros at every position), or a structure.
    pub fn has_zeros(&self) -> bool {
        match self {
            Type::Seq(t) => t.is_differentiable(),
            // The zero cotangent of a computed structure (`Field::Nested`),
            // read as zero in every field.
            Type::Data(_) => true,
            // A nested field pairing tensors with a structure of children
            // (`R[2] * Tree(X)`): zeros in every component.
            Type::Tuple(ts) => ts.iter().all(Type::has_zeros),
            t => t.is_differentiable(),
        }
    }

    /// Whether the type is built from tensors and tuples only: the types a
    /// carrier, a state and a cotangent may have.
    pub fn is_differentiable(&self) -> bool {
        match self {
            Type::Tensor(_) => true,
            Type::Tuple(ts) => ts.iter().all(Type::is_differentiable),
            _ => false,
        }
    }
}

/// A module: data types, bases and functions.
#[derive(Clone, Debug, Default)]
pub struct Module {
    /// Inductive data types, interned by declaration.
    pub data: Arena<DataId, DataDef>,
    /// Sparse bases of equivariant parameters.
    pub bases: Arena<BasisId, Basis>,
    /// Functions: models and their training functions.
    pub functions: Arena<FuncId, Function>,
}

/// An inductive data type as the IR sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct DataDef {
    /// The declaration shared with data loaders.
    pub decl: Arc<DataDecl>,
    /// The constructors with their fields in IR types.
    pub ctors: Vec<CtorDef>,
}

/// One constructor of a data type.
#[derive(Clone, Debug, PartialEq)]
pub struct CtorDef {
    /// The constructor's name (`cons`).
    pub name: String,
    /// Its fields in declaration order.
    pub fields: Vec<Field>,
}

/// A constructor's field.
#[derive(Clone, Debug, PartialEq)]
pub enum Field {
    /// A recursive position `X`: a fold binds the child's carrier here.
    Rec,
    /// A list of recursive positions (`List(X)`, a rose tree's children): a
    /// fold binds the children's carriers here, in order, as a `Seq` of the
    /// carrier.
    RecList,
    /// Any other field that holds recursive positions under another data
    /// type or in a tuple (`Tree(X)`, `List(A * X)`, `A * X`,
    /// `List(Tree(X))`), of this runtime type (seen from the constructor:
    /// `Rec(0)` at its own level, `Rec(k)` from inside `k` data types). A
    /// fold binds a computed structure here: the field's value with the
    /// child's carrier in every recursive position, of the type
    /// `Module::nested_type` gives (a fold over it is a nested fold).
    Nested(DataType),
    /// A plain field of this type, bound as it is.
    Plain(Type),
}

/// A sparse linear basis `B_0 ... B_{k-1}` of tensors of one shape.
///
/// `basis_expand` maps coefficients `c` to `W = Σ_k c_k B_k`.
#[derive(Clone, Debug, PartialEq)]
pub struct Basis {
    /// A name for printing (the parameter it serves).
    pub name: String,
    /// The shape of every basis element (`out_shape ++ in_shape`).
    pub shape: Shape,
    /// Per element, its nonzero entries as (row-major flat index, value).
    pub elements: Vec<Vec<(u32, f64)>>,
    /// The shape of the coefficients, as many entries as there are elements
    /// in row-major order: `[k]` for a parameter's coefficients, the shape
    /// of an activation for a gather applied to it (`Structured`'s form
    /// for shifts and permutations).
    pub coeff_shape: Shape,
}

impl Basis {
    /// A basis whose coefficients are a vector of one entry per element.
    pub fn vector(name: String, shape: Shape, elements: Vec<Vec<(u32, f64)>>) -> Basis {
        let coeff_shape = vec![elements.len()];
        Basis {
            name,
            shape,
            elements,
            coeff_shape,
        }
    }
}

/// A function: parameter slots, example inputs, values, blocks.
#[derive(Clone, Debug)]
pub struct Function {
    /// The function's name (the model's name; `NAME.train` for training).
    pub name: String,
    /// The trainable parameter slots, each with a qualified name.
    pub params: Arena<Param, ParamDecl>,
    /// The types of the example inputs (and the target, for a training
    /// function), in order.
    pub inputs: Vec<Type>,
    /// Every value, defined by an op or as a block argument.
    pub values: Arena<Value, ValueDef>,
    /// The static type of every value.
    pub types: SecondaryMap<Value, Type>,
    /// Every block; the entry block and regions.
    pub blocks: Arena<Block, BlockData>,
    /// The top-level block; its result is the function's output.
    pub entry: Block,
}

/// A trainable parameter slot.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamDecl {
    /// The qualified name, like `elman.W`.
    pub name: String,
    /// The slot's tensor shape (basis coefficients for an equivariant one).
    pub shape: Shape,
}

/// How a value is defined.
#[derive(Clone, Debug, PartialEq)]
pub enum ValueDef {
    /// The `index`-th argument of `block`.
    Arg {
        /// The block whose argument this is.
        block: Block,
        /// The argument's position.
        index: u32,
    },
    /// The result of an op.
    Op(Op),
}

/// A straight-line block: arguments, ops in evaluation order, and a result.
#[derive(Clone, Debug, PartialEq)]
pub struct BlockData {
    /// The argument values.
    pub args: Vec<Value>,
    /// The op values, in evaluation order.
    pub insts: Vec<Value>,
    /// The block's result; `None` only while a builder has it open.
    pub result: Option<Value>,
}

/// Elementwise binary operations, with prefix broadcasting: when the shapes
/// differ, the shorter one must be a prefix of the longer (a scalar, or an
/// `R[c]` against `R[c, ...]`), and is repeated over the trailing axes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinOp {
    /// `a + b`.
    Add,
    /// `a - b`.
    Sub,
    /// `a * b`.
    Mul,
    /// `a / b`.
    Div,
}

/// Pointwise unary operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnOp {
    /// `-x`.
    Neg,
    /// `max(x, 0)`; its derivative at 0 is taken to be 0.
    Relu,
    /// `tanh x`.
    Tanh,
    /// `1 / (1 + e^-x)`.
    Sigmoid,
    /// `e^x`.
    Exp,
    /// `ln x`.
    Log,
    /// `ln(1 + e^x)`, computed stably.
    Softplus,
    /// The tanh approximation `0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³)))`.
    Gelu,
    /// `|x|`; its derivative at 0 is taken to be 0.
    Abs,
    /// `√x`.
    Sqrt,
    /// `1` where `x > 0`, else `0` (the derivative of `relu`).
    Step,
    /// The sign of `x`, `0` at 0 (the derivative of `abs`).
    Sign,
    /// The derivative of `gelu` at `x`.
    GeluDeriv,
}

/// Reductions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReduceOp {
    /// The sum.
    Sum,
    /// The mean.
    Mean,
    /// The maximum; its derivative goes to the first maximal entry.
    Max,
}

/// Losses of one example. Each takes the model's output and the target; on a
/// `Seq` output with a `Seq` target it is the mean of the per-position losses
/// (0 for an empty sequence).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LossKind {
    /// `logsumexp(z) - z[c]` for logits `z: R[n]` and a class `c`.
    CrossEntropy,
    /// The mean over entries of `softplus(z) - t z` for logits `z` and a
    /// target `t` of the same shape.
    BinaryCrossEntropy,
    /// The mean over entries of `(o - t)²`.
    Mse,
}

/// How a fold obtains the structure it walks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Split {
    /// The input is the structure (a catamorphism).
    Structure,
    /// The input is a list, split by the built-in `halves` coalgebra into a
    /// tree (one element: `leaf`; n > 1: `node` of the first ⌊n/2⌋ and the
    /// rest), which is folded without being built (a hylomorphism).
    Halves,
}

/// Where an unfold's steps come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    /// One step per element of this list (a Mealy machine): an input list
    /// or a computed `Seq`.
    Over(Value),
    /// This many steps with no input (a stream, `take k`).
    Take(u32),
}

/// `fold`: the catamorphism of an algebra with one region per constructor.
///
/// Region `i` takes the fields of constructor `i` in order, with the carrier
/// in every recursive position (and a `Seq` of the children's carriers at a
/// list of recursive positions), and yields the carrier. The input is a
/// structure of type `Data(data)` or, when `data` is list-shaped with
/// elements `A`, a computed `Seq(A)` (the children's carriers of an
/// enclosing fold over a rose tree). With `record` set,
/// the op's type is `(carrier, Tape)` and the tape holds every node's
/// arguments for `FoldBackward`.
#[derive(Clone, Debug, PartialEq)]
pub struct FoldOp {
    /// The data type whose constructors the regions handle.
    pub data: DataId,
    /// The structure (or, for `Split::Halves`, the list) to fold.
    pub input: Value,
    /// How the structure is obtained from the input.
    pub split: Split,
    /// The carrier type.
    pub carrier: Type,
    /// One region per constructor, in declaration order.
    pub cases: Vec<Block>,
    /// Whether to also return a tape for the backward pass.
    pub record: bool,
}

/// `fold_backward`: the reverse of a recorded fold.
///
/// Walks the tape's nodes parents first. Region `i` takes the arguments the
/// forward region `i` took, then the cotangent of that node's carrier, and
/// yields a tuple: the cotangent of each field named by
/// `Module::cotangent_fields` (in field order: each recursive position's
/// carrier, a `Seq` for a list of recursive positions, and with `elements`
/// the list element), then each capture's cotangent contribution. The op's
/// value is the tuple of the captures' cotangents summed over all nodes,
/// followed, with `elements`, by the `Seq` of the input's element
/// cotangents in list order or, with `structure` too, by the cotangent of
/// the input structure: a `Data(data)` of the same shape whose plain fields
/// hold their cotangents (the input was computed by a `map`).
#[derive(Clone, Debug, PartialEq)]
pub struct FoldBackwardOp {
    /// The data type of the forward fold.
    pub data: DataId,
    /// The forward fold's carrier type.
    pub carrier: Type,
    /// The forward fold's tape.
    pub tape: Value,
    /// The cotangent of the root's carrier.
    pub cotangent: Value,
    /// One backward region per constructor.
    pub cases: Vec<Block>,
    /// The outer values whose cotangents the op returns, in order.
    pub captures: Vec<Value>,
    /// Whether the forward fold's input is a computed `Seq` whose elements'
    /// cotangents the op also returns (a fold over a rose node's children).
    pub elements: bool,
    /// With `elements`: whether the forward input is a computed structure
    /// (`Data`) rather than a `Seq`: one bound at a `Field::Nested`, or one
    /// computed by a `map` (hoisted work). Its cotangent is then a structure
    /// of the same shape holding each plain field's cotangent.
    pub structure: bool,
}

/// `unfold`: runs a coalgebra step region from an initial state.
///
/// The region takes the state (and, for `Source::Over`, the list element:
/// the list is an input list or a computed `Seq`) and yields `(output, next
/// state)`. The op's value is the `Seq` of outputs;
/// with `record` set it is `(Seq, Tape)`.
#[derive(Clone, Debug, PartialEq)]
pub struct UnfoldOp {
    /// The initial state.
    pub init: Value,
    /// The steps.
    pub source: Source,
    /// The type of one output.
    pub output: Type,
    /// The step region.
    pub body: Block,
    /// Whether to also return a tape for the backward pass.
    pub record: bool,
}

/// `unfold_backward`: the reverse of a recorded unfold.
///
/// Walks the steps last to first. The region takes the forward step's
/// arguments, then the cotangents of its output and of its next state, and
/// yields `(cotangent of the state, capture contributions...)`. The op's
/// value is `(cotangent of the initial state, captures' cotangents...)`.
/// With `elements` (the forward unfold ran over a computed `Seq`), the
/// region yields the list element's cotangent right after the state's, and
/// the op's value ends with the `Seq` of the elements' cotangents.
#[derive(Clone, Debug, PartialEq)]
pub struct UnfoldBackwardOp {
    /// The forward unfold's tape.
    pub tape: Value,
    /// The cotangent of the output sequence.
    pub cotangent: Value,
    /// The state type.
    pub state: Type,
    /// The list element type, for a Mealy unfold.
    pub input: Option<Type>,
    /// The type of one output.
    pub output: Type,
    /// The backward step region.
    pub body: Block,
    /// The outer values whose cotangents the op returns, in order.
    pub captures: Vec<Value>,
    /// Whether the forward unfold ran over a computed `Seq` whose elements'
    /// cotangents the op also returns (a Mealy machine over a rose node's
    /// children).
    pub elements: bool,
}

/// `map`: the functor's action on a structure's plain fields, `F(f, id)`
/// applied at every node (the work a fold hoists out of its algebra).
///
/// Region `i` takes the plain fields of constructor `i` of `data` in field
/// order and yields a tuple of tensors. The op's value is the same structure
/// as a `Data(out)`, whose constructor `i` has the fields of `data`'s
/// constructor `i` followed by the tuple's entries as plain fields: a fold
/// over it reads a node's precomputed values as its last arguments.
#[derive(Clone, Debug, PartialEq)]
pub struct MapOp {
    /// The data type of the input structure.
    pub data: DataId,
    /// The data type of the result: `data` with the mapped fields appended.
    pub out: DataId,
    /// The structure to map over.
    pub input: Value,
    /// One region per constructor, in declaration order.
    pub cases: Vec<Block>,
}

/// `map_backward`: the reverse of a `map` over an input structure.
///
/// Walks the input structure and the cotangent of the map's result (a
/// structure of type `Data(out)` whose appended fields hold the cotangents
/// of the region's results) node by node. Region `i` takes the plain fields
/// of constructor `i` of `data`, then the cotangent of each entry of the
/// forward region's tuple, and yields a tuple of each capture's cotangent
/// contribution. The op's value is the tuple of the captures' cotangents
/// summed over all nodes.
#[derive(Clone, Debug, PartialEq)]
pub struct MapBackwardOp {
    /// The data type of the input structure.
    pub data: DataId,
    /// The data type of the forward map's result.
    pub out: DataId,
    /// The forward map's input structure.
    pub input: Value,
    /// The cotangent of the forward map's result, of type `Data(out)`.
    pub cotangent: Value,
    /// One backward region per constructor.
    pub cases: Vec<Block>,
    /// The outer values whose cotangents the op returns, in order.
    pub captures: Vec<Value>,
}

/// An operation. Each variant's result type is given by `crate::infer`.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// The current value of a parameter slot.
    Param(Param),
    /// The `i`-th input of the function.
    Input(u32),
    /// A literal tensor.
    Const(Tensor),
    /// Zeros of a tensor or tuple-of-tensors type; for a `Seq` type, the
    /// zero cotangent of a sequence of any length (see `Type::has_zeros`).
    Zeros(Type),
    /// An elementwise binary op with prefix broadcasting.
    Binary(BinOp, Value, Value),
    /// A pointwise unary op.
    Unary(UnOp, Value),
    /// Contracts the last `axes` axes of `a` with the first `axes` axes of
    /// `b` (a tensordot): `W @ x` has 1, an equivariant map applied to `x`
    /// has `rank(x)`, `outer` has 0.
    Contract {
        /// The left operand, shape `I ++ K`.
        a: Value,
        /// The right operand, shape `K ++ J`.
        b: Value,
        /// `|K|`.
        axes: u32,
    },
    /// Permutes axes: result axis `i` is axis `perm[i]` of `x`. `W^T` is
    /// `[1, 0]`.
    Permute {
        /// The operand.
        x: Value,
        /// The permutation.
        perm: Vec<u32>,
    },
    /// A reduction over all axes (`None`) or one axis.
    Reduce {
        /// Which reduction.
        op: ReduceOp,
        /// The operand.
        x: Value,
        /// The axis, or `None` for all.
        axis: Option<u32>,
    },
    /// Inserts an axis of extent `n` at position `axis`, repeating `x`.
    Expand {
        /// The operand.
        x: Value,
        /// Where the new axis goes.
        axis: u32,
        /// Its extent.
        n: u32,
    },
    /// Repeats `x` over trailing axes to `shape` (`x`'s shape is a prefix).
    BroadcastTo {
        /// The operand.
        x: Value,
        /// The target shape.
        shape: Shape,
    },
    /// Sums trailing axes of `x` away, leaving `shape` (a prefix of `x`'s).
    SumTo {
        /// The operand.
        x: Value,
        /// The target shape.
        shape: Shape,
    },
    /// `softmax` of a vector.
    Softmax(Value),
    /// `log_softmax` of a vector.
    LogSoftmax(Value),
    /// The Euclidean norm over all but the first `keep` axes: on
    /// `R[c] * S`, one norm per channel (`keep = 1`).
    Norm {
        /// The operand.
        x: Value,
        /// How many leading (channel) axes to keep.
        keep: u32,
    },
    /// The reverse of `Norm`: `g x / y` broadcast over the normed axes, 0
    /// where `y = 0`.
    NormGrad {
        /// The forward operand.
        x: Value,
        /// The forward result.
        y: Value,
        /// The cotangent of `y`.
        g: Value,
    },
    /// The reverse of a `Max` reduction: `g` placed at the first maximal
    /// entry, zeros elsewhere.
    MaxGrad {
        /// The forward operand.
        x: Value,
        /// The cotangent of the maximum.
        g: Value,
        /// The reduced axis, or `None` for all.
        axis: Option<u32>,
    },
    /// Concatenates two vectors.
    Concat(Value, Value),
    /// `x[start .. start + len]` of a vector.
    Slice {
        /// The operand.
        x: Value,
        /// The first index.
        start: u32,
        /// The length.
        len: u32,
    },
    /// Builds a tuple.
    Tuple(Vec<Value>),
    /// The `index`-th component of a tuple.
    Get(Value, u32),
    /// `W = Σ_k c_k B_k` for coefficients `c` of the basis's `coeff_shape`
    /// (`R[k]` for a parameter) and a module basis.
    BasisExpand {
        /// The coefficients.
        coeffs: Value,
        /// The basis.
        basis: BasisId,
    },
    /// `c_k = Σ_idx W[idx] B_k[idx]`, the adjoint of `BasisExpand`, shaped
    /// as the basis's `coeff_shape`.
    BasisProject {
        /// A tensor of the basis's shape.
        x: Value,
        /// The basis.
        basis: BasisId,
    },
    /// A loss of one example.
    Loss {
        /// Which loss.
        kind: LossKind,
        /// The model's output.
        out: Value,
        /// The target.
        target: Value,
    },
    /// The reverse of `Loss`: `seed` times the loss's gradient with respect
    /// to `out`.
    LossGrad {
        /// Which loss.
        kind: LossKind,
        /// The model's output.
        out: Value,
        /// The target.
        target: Value,
        /// The cotangent of the loss (a scalar).
        seed: Value,
    },
    /// A fold or hylomorphism.
    Fold(FoldOp),
    /// The reverse of a recorded fold.
    FoldBackward(FoldBackwardOp),
    /// An unfold (Mealy machine or stream).
    Unfold(UnfoldOp),
    /// The reverse of a recorded unfold.
    UnfoldBackward(UnfoldBackwardOp),
    /// Computes new plain fields at every node of a structure.
    Map(MapOp),
    /// The reverse of a `map`.
    MapBackward(MapBackwardOp),
}

impl Op {
    /// The op's name in the text form.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Param(_) => "param",
            Op::Input(_) => "input",
            Op::Const(_) => "const",
            Op::Zeros(_) => "zeros",
            Op::Binary(op, ..) => op.name(),
            Op::Unary(op, _) => op.name(),
            Op::Contract { axes: 0, .. } => "outer",
            Op::Contract { axes: 1, .. } => "matmul",
            Op::Contract { .. } => "contract",
            Op::Permute { .. } => "permute",
            Op::Reduce { op, .. } => op.name(),
            Op::Expand { .. } => "expand",
            Op::BroadcastTo { .. } => "broadcast_to",
            Op::SumTo { .. } => "sum_to",
            Op::Softmax(_) => "softmax",
            Op::LogSoftmax(_) => "log_softmax",
            Op::Norm { .. } => "norm",
            Op::NormGrad { .. } => "norm_grad",
            Op::MaxGrad { .. } => "max_grad",
            Op::Concat(..) => "concat",
            Op::Slice { .. } => "slice",
            Op::Tuple(_) => "tuple",
            Op::Get(..) => "get",
            Op::BasisExpand { .. } => "basis_expand",
            Op::BasisProject { .. } => "basis_project",
            Op::Loss { .. } => "loss",
            Op::LossGrad { .. } => "loss_grad",
            Op::Fold(f) => match (f.split, f.record) {
                (Split::Structure, false) => "fold",
                (Split::Structure, true) => "fold_record",
                (Split::Halves, false) => "hylo_halves",
                (Split::Halves, true) => "hylo_halves_record",
            },
            Op::FoldBackward(_) => "fold_backward",
            Op::Unfold(u) => match (u.source, u.record) {
                (Source::Over(_), false) => "unfold_over",
                (Source::Over(_), true) => "unfold_over_record",
                (Source::Take(_), false) => "unfold_take",
                (Source::Take(_), true) => "unfold_take_record",
            },
            Op::UnfoldBackward(_) => "unfold_backward",
            Op::Map(_) => "map",
            Op::MapBackward(_) => "map_backward",
        }
    }

    /// The values the op reads directly, in a fixed order. Values its regions
    /// use are not included (see `Function::free_values`).
    pub fn operands(&self) -> Vec<Value> {
        match self {
            Op::Param(_) | Op::Input(_) | Op::Const(_) | Op::Zeros(_) => Vec::new(),
            Op::Binary(_, a, b) | Op::Concat(a, b) => vec![*a, *b],
            Op::Contract { a, b, .. } => vec![*a, *b],
            Op::Unary(_, x)
            | Op::Softmax(x)
            | Op::LogSoftmax(x)
            | Op::Get(x, _)
            | Op::Permute { x, .. }
            | Op::Reduce { x, .. }
            | Op::Expand { x, .. }
            | Op::BroadcastTo { x, .. }
            | Op::SumTo { x, .. }
            | Op::Norm { x, .. }
            | Op::Slice { x, .. }
            | Op::BasisProject { x, .. } => vec![*x],
            Op::BasisExpand { coeffs, .. } => vec![*coeffs],
            Op::NormGrad { x, y, g } => vec![*x, *y, *g],
            Op::MaxGrad { x, g, .. } => vec![*x, *g],
            Op::Tuple(vs) => vs.clone(),
            Op::Loss { out, target, .. } => vec![*out, *target],
            Op::LossGrad {
                out, target, seed, ..
            } => vec![*out, *target, *seed],
            Op::Fold(f) => vec![f.input],
            Op::Map(m) => vec![m.input],
            Op::MapBackward(m) => {
                let mut v = vec![m.input, m.cotangent];
                v.extend(&m.captures);
                v
            }
            Op::FoldBackward(f) => {
                let mut v = vec![f.tape, f.cotangent];
                v.extend(&f.captures);
                v
            }
            Op::Unfold(u) => match u.source {
                Source::Over(xs) => vec![u.init, xs],
                Source::Take(_) => vec![u.init],
            },
            Op::UnfoldBackward(u) => {
                let mut v = vec![u.tape, u.cotangent];
                v.extend(&u.captures);
                v
            }
        }
    }

    /// Mutable references to the values the op reads directly, in the order
    /// of `operands`.
    pub fn operands_mut(&mut self) -> Vec<&mut Value> {
        match self {
            Op::Param(_) | Op::Input(_) | Op::Const(_) | Op::Zeros(_) => Vec::new(),
            Op::Binary(_, a, b) | Op::Concat(a, b) => vec![a, b],
            Op::Contract { a, b, .. } => vec![a, b],
            Op::Unary(_, x)
            | Op::Softmax(x)
            | Op::LogSoftmax(x)
            | Op::Get(x, _)
            | Op::Permute { x, .. }
            | Op::Reduce { x, .. }
            | Op::Expand { x, .. }
            | Op::BroadcastTo { x, .. }
            | Op::SumTo { x, .. }
            | Op::Norm { x, .. }
            | Op::Slice { x, .. }
            | Op::BasisProject { x, .. } => vec![x],
            Op::BasisExpand { coeffs, .. } => vec![coeffs],
            Op::NormGrad { x, y, g } => vec![x, y, g],
            Op::MaxGrad { x, g, .. } => vec![x, g],
            Op::Tuple(vs) => vs.iter_mut().collect(),
            Op::Loss { out, target, .. } => vec![out, target],
            Op::LossGrad {
                out, target, seed, ..
            } => vec![out, target, seed],
            Op::Fold(f) => vec![&mut f.input],
            Op::Map(m) => vec![&mut m.input],
            Op::MapBackward(m) => {
                let mut v = vec![&mut m.input, &mut m.cotangent];
                v.extend(m.captures.iter_mut());
                v
            }
            Op::FoldBackward(f) => {
                let mut v = vec![&mut f.tape, &mut f.cotangent];
                v.extend(f.captures.iter_mut());
                v
            }
            Op::Unfold(u) => match &mut u.source {
                Source::Over(xs) => vec![&mut u.init, xs],
                Source::Take(_) => vec![&mut u.init],
            },
            Op::UnfoldBackward(u) => {
                let mut v = vec![&mut u.tape, &mut u.cotangent];
                v.extend(u.captures.iter_mut());
                v
            }
        }
    }

    /// Mutable references to the regions the op owns, in order.
    pub fn regions_mut(&mut self) -> Vec<&mut Block> {
        match self {
            Op::Fold(f) => f.cases.iter_mut().collect(),
            Op::Map(m) => m.cases.iter_mut().collect(),
            Op::MapBackward(m) => m.cases.iter_mut().collect(),
            Op::FoldBackward(f) => f.cases.iter_mut().collect(),
            Op::Unfold(u) => vec![&mut u.body],
            Op::UnfoldBackward(u) => vec![&mut u.body],
            _ => Vec::new(),
        }
    }

    /// The regions the op owns, in order.
    pub fn regions(&self) -> Vec<Block> {
        match self {
            Op::Fold(f) => f.cases.clone(),
            Op::Map(m) => m.cases.clone(),
            Op::MapBackward(m) => m.cases.clone(),
            Op::FoldBackward(f) => f.cases.clone(),
            Op::Unfold(u) => vec![u.body],
            Op::UnfoldBackward(u) => vec![u.body],
            _ => Vec::new(),
        }
    }
}

impl BinOp {
    /// The op's name in the text form.
    pub fn name(self) -> &'static str {
        match self {
            BinOp::Add => "add",
            BinOp::Sub => "sub",
            BinOp::Mul => "mul",
            BinOp::Div => "div",
        }
    }
}

impl UnOp {
    /// The op's name in the text form.
    pub fn name(self) -> &'static str {
        match self {
            UnOp::Neg => "neg",
            UnOp::Relu => "relu",
            UnOp::Tanh => "tanh",
            UnOp::Sigmoid => "sigmoid",
            UnOp::Exp => "exp",
            UnOp::Log => "log",
            UnOp::Softplus => "softplus",
            UnOp::Gelu => "gelu",
            UnOp::Abs => "abs",
            UnOp::Sqrt => "sqrt",
            UnOp::Step => "step",
            UnOp::Sign => "sign",
            UnOp::GeluDeriv => "gelu_deriv",
        }
    }
}

impl ReduceOp {
    /// The op's name in the text form.
    pub fn name(self) -> &'static str {
        match self {
            ReduceOp::Sum => "sum",
            ReduceOp::Mean => "mean",
            ReduceOp::Max => "max",
        }
    }
}

impl LossKind {
    /// The loss's name as the language spells it.
    pub fn name(self) -> &'static str {
        match self {
            LossKind::CrossEntropy => "cross_entropy",
            LossKind::BinaryCrossEntropy => "binary_cross_entropy",
            LossKind::Mse => "mse",
        }
    }

    /// The target type for a model output of type `out`.
    pub fn target_type(self, out: &Type) -> Option<Type> {
        match (self, out) {
            (_, Type::Seq(elem)) => self.target_type(elem).map(|t| Type::Seq(Box::new(t))),
            (LossKind::CrossEntropy, Type::Tensor(s)) if s.len() == 1 => Some(Type::Class(s[0])),
            (LossKind::BinaryCrossEntropy | LossKind::Mse, Type::Tensor(_)) => Some(out.clone()),
            _ => None,
        }
    }
}

impl Module {
    /// An empty module.
    pub fn new() -> Module {
        Module::default()
    }

    /// Interns a data type (and the data types of its fields) and returns
    /// its id. Declarations of the same shape (equal but for their printed
    /// names) get the same id.
    ///
    /// A field holding the type's recursive positions under another data
    /// type is a `Field::Nested`; the structure a fold binds there is interned
    /// separately, once its carrier is known (`Module::nested_decl`).
    pub fn add_data(&mut self, decl: Arc<DataDecl>) -> DataId {
        if let Some(id) = self.find_data(&decl) {
            return id;
        }
        let ctors = decl
            .ctors
            .iter()
            .map(|c| CtorDef {
                name: c.name.clone(),
                fields: c.fields.iter().map(|f| self.field(f)).collect(),
            })
            .collect();
        self.data.push(DataDef { decl, ctors })
    }

    fn field(&mut self, ty: &DataType) -> Field {
        match ty {
            DataType::Rec(0) => Field::Rec,
            DataType::Data(d) if is_list_of_children(d) => Field::RecList,
            other if crate::nested::mentions(other, 0) => Field::Nested(other.clone()),
            other => Field::Plain(self.plain_type(other)),
        }
    }

    fn plain_type(&mut self, ty: &DataType) -> Type {
        match ty {
            DataType::Tensor(s) => Type::Tensor(s.clone()),
            DataType::Tuple(ts) => Type::Tuple(ts.iter().map(|t| self.plain_type(t)).collect()),
            DataType::Data(d) => Type::Data(self.add_data(d.clone())),
            DataType::Rec(k) => {
                panic!("internal error: recursive position X{k} outside the data type it names")
            }
        }
    }

    /// Adds a sparse basis and returns its id.
    pub fn add_basis(&mut self, basis: Basis) -> BasisId {
        self.bases.push(basis)
    }

    /// Adds a function, verifying it first.
    ///
    /// Panics with the verifier's errors if the function is malformed: a
    /// malformed function is a bug in the stage that built it.
    pub fn add_function(&mut self, func: Function) -> FuncId {
        if let Err(errors) = crate::verify::verify_function(self, &func) {
            panic!(
                "internal error: function `{}` fails the verifier:\n{}",
                func.name,
                crate::verify::render(&errors)
            );
        }
        self.functions.push(func)
    }

    /// The function with this name, if any.
    pub fn function_by_name(&self, name: &str) -> Option<FuncId> {
        self.functions
            .iter()
            .find(|(_, f)| f.name == name)
            .map(|(id, _)| id)
    }

    /// The block argument types of region `ctor` of a fold over `data` with
    /// this carrier: the constructor's fields, with the carrier in each
    /// recursive position.
    pub fn case_types(&self, data: DataId, ctor: usize, carrier: &Type) -> Vec<Type> {
        self.data[data].ctors[ctor]
            .fields
            .iter()
            .map(|f| match f {
                Field::Rec => carrier.clone(),
                Field::RecList => Type::Seq(Box::new(carrier.clone())),
                Field::Nested(t) => self.nested_type(t, carrier),
                Field::Plain(t) => t.clone(),
            })
            .collect()
    }

    /// The types of the plain fields of constructor `ctor` of `data`, in
    /// field order: the arguments of a `map` region.
    pub fn plain_fields(&self, data: DataId, ctor: usize) -> Vec<Type> {
        self.data[data].ctors[ctor]
            .fields
            .iter()
            .filter_map(|f| match f {
                Field::Plain(t) => Some(t.clone()),
                Field::Rec | Field::RecList | Field::Nested(_) => None,
            })
            .collect()
    }

    /// The fields a `map` from `data` to `out` appends to constructor
    /// `ctor`, if `out` is `data` with tensor fields appended to every
    /// constructor (the same constructors, names and leading fields).
    pub fn mapped_fields(&self, data: DataId, out: DataId, ctor: usize) -> Option<Vec<Type>> {
        let (a, b) = (self.data.get(data)?, self.data.get(out)?);
        if a.ctors.len() != b.ctors.len() {
            return None;
        }
        let (ca, cb) = (a.ctors.get(ctor)?, &b.ctors[ctor]);
        if ca.name != cb.name || !cb.fields.starts_with(&ca.fields) {
            return None;
        }
        cb.fields[ca.fields.len()..]
            .iter()
            .map(|f| match f {
                Field::Plain(t @ Type::Tensor(_)) => Some(t.clone()),
                _ => None,
            })
            .collect()
    }

    /// The fields of constructor `ctor` of `data` whose cotangents a
    /// `fold_backward` region yields, in field order, with their types:
    /// every recursive position (the carrier), every list of recursive
    /// positions (a `Seq` of the carrier) and, with `elements`, every plain
    /// field (the element of a list folded from a computed `Seq`).
    pub fn cotangent_fields(
        &self,
        data: DataId,
        ctor: usize,
        carrier: &Type,
        elements: bool,
    ) -> Vec<(usize, Type)> {
        self.data[data].ctors[ctor]
            .fields
            .iter()
            .enumerate()
            .filter_map(|(i, f)| match f {
                Field::Rec => Some((i, carrier.clone())),
                Field::RecList => Some((i, Type::Seq(Box::new(carrier.clone())))),
                Field::Nested(t) => Some((i, self.nested_type(t, carrier))),
                Field::Plain(t) if elements => Some((i, t.clone())),
                Field::Plain(_) => None,
            })
            .collect()
    }

    /// The element type of a list an unfold can run over: an input list
    /// (`Data` of a list-shaped type) or a computed `Seq`.
    pub fn over_element<'t>(&'t self, ty: &'t Type) -> Option<&'t Type> {
        match ty {
            Type::Data(d) => self.list_element(*d),
            Type::Seq(e) => Some(e),
            _ => None,
        }
    }

    /// The element type of `data` if it is shaped like `ListF(A)`
    /// (`nil | cons(A, X)`).
    pub fn list_element(&self, data: DataId) -> Option<&Type> {
        match self.data[data].ctors.as_slice() {
            [nil, cons] if nil.fields.is_empty() => match cons.fields.as_slice() {
                [Field::Plain(a), Field::Rec] => Some(a),
                _ => None,
            },
            _ => None,
        }
    }

    /// The leaf type of `data` if it is shaped like `TreeF(A)`
    /// (`leaf(A) | node(X, X)`).
    pub fn tree_leaf(&self, data: DataId) -> Option<&Type> {
        match self.data[data].ctors.as_slice() {
            [leaf, node] if node.fields == [Field::Rec, Field::Rec] => {
                match leaf.fields.as_slice() {
                    [Field::Plain(a)] => Some(a),
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

/// Whether `decl` is a list whose elements are the enclosing data type's
/// recursive position: the `List(X)` field of a rose tree.
fn is_list_of_children(decl: &DataDecl) -> bool {
    decl.is_list() && decl.ctors[1].fields[0] == DataType::Rec(1)
}

impl Function {
    /// An empty function with an open entry block.
    pub fn new(name: impl Into<String>) -> Function {
        let mut blocks = Arena::new();
        let entry = blocks.push(BlockData {
            args: Vec::new(),
            insts: Vec::new(),
            result: None,
        });
        Function {
            name: name.into(),
            params: Arena::new(),
            inputs: Vec::new(),
            values: Arena::new(),
            types: SecondaryMap::new(),
            blocks,
            entry,
        }
    }

    /// The op defining `v`, if `v` is an op's result.
    pub fn op(&self, v: Value) -> Option<&Op> {
        match &self.values[v] {
            ValueDef::Op(op) => Some(op),
            ValueDef::Arg { .. } => None,
        }
    }

    /// The function's output value.
    pub fn output(&self) -> Value {
        self.blocks[self.entry]
            .result
            .expect("a finished function's entry block has a result")
    }

    /// The values that the blocks in `regions` (and blocks nested in them)
    /// use but do not define, in order of first use.
    pub fn free_values(&self, regions: &[Block]) -> Vec<Value> {
        let mut defined = std::collections::HashSet::new();
        let mut used = Vec::new();
        for &b in regions {
            self.collect_free(b, &mut defined, &mut used);
        }
        let mut seen = std::collections::HashSet::new();
        used.into_iter()
            .filter(|v| !defined.contains(v) && seen.insert(*v))
            .collect()
    }

    fn collect_free(
        &self,
        b: Block,
        defined: &mut std::collections::HashSet<Value>,
        used: &mut Vec<Value>,
    ) {
        let block = &self.blocks[b];
        defined.extend(block.args.iter().copied());
        for &v in &block.insts {
            let op = self.op(v).expect("block insts are ops");
            used.extend(op.operands());
            for r in op.regions() {
                self.collect_free(r, defined, used);
            }
            defined.insert(v);
        }
        used.extend(block.result);
    }
}

impl fmt::Display for LossKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
