//! The language's built-in vocabulary in one place: every built-in
//! function (pointwise maps, reductions and the others), structural
//! coalgebra, loss, initialiser and synthetic data set, with its name and
//! what it takes.
//!
//! Name resolution reads it (these names may not be declared again), the
//! checker reads it (arities, named arguments, "did you mean" candidates),
//! and the equivariance prover and instantiation match on each entry's
//! `Builtin` identity. It sits below `resolve` and `check`, so neither imports the
//! other for it. Optimizers are validated by the runtime's own rules
//! (`cdlc_runtime::optim`, called from `check/train.rs`).

/// What a built-in function does to its argument's shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FunctionKind {
    /// Maps a tensor to one of the same shape, entry by entry.
    Pointwise,
    /// Sums, averages or maximises over all axes, or over `axis = k`.
    Reduction,
    /// Any other built-in function.
    Other,
}

/// Which built-in function a table entry is. The stages after `check`
/// match on it exhaustively, so an entry added to the tables that a stage
/// does not handle is a compile error there, not a fall-through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Builtin {
    /// `relu`.
    Relu,
    /// `tanh`.
    Tanh,
    /// `sigmoid`.
    Sigmoid,
    /// `exp`.
    Exp,
    /// `log`.
    Log,
    /// `softplus`.
    Softplus,
    /// `gelu`.
    Gelu,
    /// `abs`.
    Abs,
    /// `sqrt`.
    Sqrt,
    /// `sum`.
    Sum,
    /// `mean`.
    Mean,
    /// `max`.
    Max,
    /// `softmax`.
    Softmax,
    /// `log_softmax`.
    LogSoftmax,
    /// `norm`.
    Norm,
    /// `gate`.
    Gate,
    /// `outer`.
    Outer,
    /// `concat`.
    Concat,
    /// `chunks`.
    Chunks,
}

/// A built-in function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Function {
    /// Which function it is.
    pub id: Builtin,
    /// Its name.
    pub name: &'static str,
    /// What kind of function it is.
    pub kind: FunctionKind,
    /// How many positional (tensor) arguments it takes.
    pub arguments: usize,
    /// The named arguments it accepts (each optional).
    pub named: &'static [&'static str],
}

const fn pointwise(id: Builtin, name: &'static str) -> Function {
    Function {
        id,
        name,
        kind: FunctionKind::Pointwise,
        arguments: 1,
        named: &[],
    }
}

const fn reduction(id: Builtin, name: &'static str) -> Function {
    Function {
        id,
        name,
        kind: FunctionKind::Reduction,
        arguments: 1,
        named: &["axis"],
    }
}

const fn other(id: Builtin, name: &'static str, arguments: usize) -> Function {
    Function {
        id,
        name,
        kind: FunctionKind::Other,
        arguments,
        named: &[],
    }
}

/// Pointwise maps, applied or composed (`relu(x)`, `f >> relu`).
const POINTWISE_FUNCTIONS: &[Function] = &[
    pointwise(Builtin::Relu, "relu"),
    pointwise(Builtin::Tanh, "tanh"),
    pointwise(Builtin::Sigmoid, "sigmoid"),
    pointwise(Builtin::Exp, "exp"),
    pointwise(Builtin::Log, "log"),
    pointwise(Builtin::Softplus, "softplus"),
    pointwise(Builtin::Gelu, "gelu"),
    pointwise(Builtin::Abs, "abs"),
    pointwise(Builtin::Sqrt, "sqrt"),
];

/// The other built-in functions, only applied (`sum(x, axis = 1)`).
const APPLIED_FUNCTIONS: &[Function] = &[
    reduction(Builtin::Sum, "sum"),
    reduction(Builtin::Mean, "mean"),
    reduction(Builtin::Max, "max"),
    other(Builtin::Softmax, "softmax", 1),
    other(Builtin::LogSoftmax, "log_softmax", 1),
    other(Builtin::Norm, "norm", 1),
    other(Builtin::Gate, "gate", 1),
    other(Builtin::Outer, "outer", 2),
    other(Builtin::Concat, "concat", 2),
    Function {
        id: Builtin::Chunks,
        name: "chunks",
        kind: FunctionKind::Other,
        arguments: 1,
        named: &["parts"],
    },
];

/// The names of a table of functions, in order.
const fn names<const N: usize>(fs: &[Function]) -> [&'static str; N] {
    let mut out = [""; N];
    let mut i = 0;
    while i < N {
        out[i] = fs[i].name;
        i += 1;
    }
    out
}

const POINTWISE_NAMES: [&str; POINTWISE_FUNCTIONS.len()] = names(POINTWISE_FUNCTIONS);
const APPLIED_NAMES: [&str; APPLIED_FUNCTIONS.len()] = names(APPLIED_FUNCTIONS);

/// The names of the pointwise functions.
pub const POINTWISE: &[&str] = &POINTWISE_NAMES;

/// The names of the other built-in functions.
pub const BUILTINS: &[&str] = &APPLIED_NAMES;

/// The built-in function called `name`.
pub fn function(name: &str) -> Option<&'static Function> {
    POINTWISE_FUNCTIONS
        .iter()
        .chain(APPLIED_FUNCTIONS)
        .find(|f| f.name == name)
}

/// Structural coalgebras, the second part of `hylo alg by c`.
pub const STRUCTURAL_COALGEBRAS: &[&str] = &["halves"];

/// The losses a train block may name.
pub const LOSSES: &[&str] = &["mse", "cross_entropy", "binary_cross_entropy"];

/// Initialisers and how many numbers each takes (`normal(0.1)`,
/// `uniform(-1, 1)`).
pub const INITS: &[(&str, usize)] = &[
    ("zeros", 0),
    ("ones", 0),
    ("normal", 1),
    ("uniform", 2),
    ("glorot", 0),
    ("he", 0),
    ("orthogonal", 0),
];

/// Built-in data sets (`synthetic.NAME(...)`) and their argument names.
pub const SYNTHETIC: &[(&str, &[&str])] = &[
    ("spirals", &["classes", "samples"]),
    ("parity", &["min_length", "max_length", "samples"]),
    ("running_parity", &["min_length", "max_length", "samples"]),
    (
        "sum_trees",
        &["modulus", "min_leaves", "max_leaves", "samples"],
    ),
    ("counting", &["digits", "steps", "samples"]),
    ("set_mode", &["points", "digits", "samples"]),
    ("triangles", &["nodes", "edge_prob", "samples"]),
    ("ring_smooth", &["points", "samples"]),
    ("causal_filter", &["length", "samples"]),
    ("rotated_patterns", &["size", "classes", "samples"]),
    ("vector_pairs", &["samples"]),
    ("labelled_trees", &["max_depth", "samples"]),
];

#[cfg(test)]
mod tests;
