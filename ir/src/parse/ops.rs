//! One op in the text form: its name and operands (`Head`), then, once its
//! type and regions are read, the `Op` itself.
//!
//! What the printer leaves out because the op's type or regions already say
//! it is taken from there: a constant's and a `broadcast_to`/`sum_to`'s
//! shape and a `zeros`'s type from the type; a fold's carrier and an
//! unfold's output type from the type; a `fold_backward`'s carrier from
//! the last argument of its first region; an `unfold_backward`'s state,
//! list element and output types from its region's arguments (state,
//! element if any, output cotangent, state cotangent).

use cdlc_runtime::value::Tensor;

use super::ParseError;
use super::cursor::Cursor;
use super::decls::{DataNames, read_type};
use crate::entity::EntityRef;
use crate::ir::{
    BasisId, BinOp, Block, DataId, FoldBackwardOp, FoldOp, LossKind, MapBackwardOp, MapOp, Module,
    Op, Param, ReduceOp, Source, Split, Type, UnOp, UnfoldBackwardOp, UnfoldOp, Value,
};

/// A use of a value: the value, its line and column.
pub(super) type Use = (Value, usize, usize);

/// An op as read from its line, before its type and regions.
pub(super) enum Head {
    /// A complete op.
    Done(Op),
    /// `const`: the values; the shape comes from the type.
    Const(Vec<f64>),
    /// `zeros`: the type is the op's type.
    Zeros,
    /// `broadcast_to` / `sum_to` of `x`: the shape comes from the type.
    Shaped { sum: bool, x: Value },
    /// `fold`, `hylo_halves` and their recording forms.
    Fold {
        data: DataId,
        input: Value,
        split: Split,
        record: bool,
    },
    /// `map`: the result data type comes from the op's type.
    Map { data: DataId, input: Value },
    /// `map_backward`: the input's and the result's data types.
    MapBackward {
        data: DataId,
        out: DataId,
        input: Value,
        cotangent: Value,
        captures: Vec<Value>,
    },
    /// `fold_backward`.
    FoldBackward {
        data: DataId,
        tape: Value,
        cotangent: Value,
        captures: Vec<Value>,
        elements: bool,
        structure: bool,
    },
    /// `unfold_over`, `unfold_take` and their recording forms.
    Unfold {
        init: Value,
        source: Source,
        record: bool,
    },
    /// `unfold_backward`.
    UnfoldBackward {
        tape: Value,
        cotangent: Value,
        captures: Vec<Value>,
        elements: bool,
    },
}

/// What the op reader needs from the function being read.
pub(super) struct Scope<'a> {
    /// The module's data types by name.
    pub names: &'a DataNames,
    /// The module (for its bases).
    pub module: &'a Module,
    /// The function's parameter slots by name, in slot order.
    pub params: &'a [String],
    /// The value uses met so far.
    pub uses: &'a mut Vec<Use>,
}

impl Scope<'_> {
    fn value(&mut self, c: &mut Cursor<'_>) -> Result<Value, ParseError> {
        let (v, column) = c.value()?;
        self.uses.push((v, c.line(), column));
        Ok(v)
    }

    /// `n` values separated by commas.
    fn values<const N: usize>(&mut self, c: &mut Cursor<'_>) -> Result<[Value; N], ParseError> {
        let mut out = [Value::new(0); N];
        for (i, slot) in out.iter_mut().enumerate() {
            if i > 0 {
                c.expect(",")?;
            }
            *slot = self.value(c)?;
        }
        Ok(out)
    }

    /// A possibly empty list of values separated by commas, up to `end`.
    fn list(&mut self, c: &mut Cursor<'_>, end: &str) -> Result<Vec<Value>, ParseError> {
        let mut vs = Vec::new();
        c.skip_spaces();
        if c.rest().starts_with('%') {
            loop {
                vs.push(self.value(c)?);
                if !c.eat(",") {
                    break;
                }
            }
        }
        if !end.is_empty() {
            c.expect(end)?;
        }
        Ok(vs)
    }
}

/// Reads the operands of the op called `name`.
pub(super) fn read_head(
    c: &mut Cursor<'_>,
    name: &str,
    column: usize,
    s: &mut Scope<'_>,
) -> Result<Head, ParseError> {
    if let Some(op) = binary(name) {
        let [a, b] = s.values(c)?;
        return Ok(Head::Done(Op::Binary(op, a, b)));
    }
    if let Some(op) = unary(name) {
        let [x] = s.values(c)?;
        return Ok(Head::Done(Op::Unary(op, x)));
    }
    if let Some(op) = reduce(name) {
        let [x] = s.values(c)?;
        let axis = optional_axis(c)?;
        return Ok(Head::Done(Op::Reduce { op, x, axis }));
    }
    if let Some(head) = structural(c, name, s)? {
        return Ok(head);
    }
    if let Some(head) = recursion(c, name, s)? {
        return Ok(head);
    }
    Err(ParseError::expected(
        c.line(),
        column,
        "an op name (see the ops table in docs/ir.md)",
        &format!("`{name}`"),
    ))
}

/// `, axis N` if it follows.
fn optional_axis(c: &mut Cursor<'_>) -> Result<Option<u32>, ParseError> {
    if c.eat(",") {
        c.expect("axis")?;
        return Ok(Some(c.small("an axis")?));
    }
    Ok(None)
}

/// The ops without regions other than the pointwise ones and reductions.
fn structural(
    c: &mut Cursor<'_>,
    name: &str,
    s: &mut Scope<'_>,
) -> Result<Option<Head>, ParseError> {
    let op = match name {
        "param" => return param(c, s).map(|p| Some(Head::Done(Op::Param(p)))),
        "input" => Op::Input(c.small("an input number")?),
        "const" => return constant(c).map(|xs| Some(Head::Const(xs))),
        "zeros" => return Ok(Some(Head::Zeros)),
        "outer" | "matmul" => {
            let [a, b] = s.values(c)?;
            Op::Contract {
                a,
                b,
                axes: u32::from(name == "matmul"),
            }
        }
        "contract" => {
            let [a, b] = s.values(c)?;
            c.expect(",")?;
            c.expect("axes")?;
            let axes = c.small("a number of axes")?;
            Op::Contract { a, b, axes }
        }
        "permute" => {
            let [x] = s.values(c)?;
            c.expect(",")?;
            Op::Permute {
                x,
                perm: index_list(c)?,
            }
        }
        "expand" => {
            let [x] = s.values(c)?;
            c.expect(",")?;
            c.expect("axis")?;
            let axis = c.small("an axis")?;
            c.expect(",")?;
            let n = c.small("an extent")?;
            Op::Expand { x, axis, n }
        }
        "broadcast_to" | "sum_to" => {
            let [x] = s.values(c)?;
            return Ok(Some(Head::Shaped {
                sum: name == "sum_to",
                x,
            }));
        }
        "softmax" => Op::Softmax(s.values::<1>(c)?[0]),
        "log_softmax" => Op::LogSoftmax(s.values::<1>(c)?[0]),
        "norm" => {
            let [x] = s.values(c)?;
            c.expect(",")?;
            c.expect("keep")?;
            Op::Norm {
                x,
                keep: c.small("how many axes to keep")?,
            }
        }
        "norm_grad" => {
            let [x, y, g] = s.values(c)?;
            Op::NormGrad { x, y, g }
        }
        "max_grad" => {
            let [x, g] = s.values(c)?;
            Op::MaxGrad {
                x,
                g,
                axis: optional_axis(c)?,
            }
        }
        "concat" => {
            let [a, b] = s.values(c)?;
            Op::Concat(a, b)
        }
        "slice" => {
            let [x] = s.values(c)?;
            c.expect(",")?;
            let start = c.small("the first index")?;
            c.expect(",")?;
            let len = c.small("a length")?;
            Op::Slice { x, start, len }
        }
        "tuple" => Op::Tuple(s.list(c, "")?),
        "get" => {
            let [t] = s.values(c)?;
            c.expect(",")?;
            Op::Get(t, c.small("a component index")?)
        }
        "basis_expand" => {
            let [coeffs] = s.values(c)?;
            c.expect(",")?;
            Op::BasisExpand {
                coeffs,
                basis: basis(c, s.module)?,
            }
        }
        "basis_project" => {
            let [x] = s.values(c)?;
            c.expect(",")?;
            Op::BasisProject {
                x,
                basis: basis(c, s.module)?,
            }
        }
        "loss" => {
            let kind = loss_kind(c)?;
            let [out, target] = s.values(c)?;
            Op::Loss { kind, out, target }
        }
        "loss_grad" => {
            let kind = loss_kind(c)?;
            let [out, target, seed] = s.values(c)?;
            Op::LossGrad {
                kind,
                out,
                target,
                seed,
            }
        }
        _ => return Ok(None),
    };
    Ok(Some(Head::Done(op)))
}

/// The recursion ops, which own regions.
fn recursion(
    c: &mut Cursor<'_>,
    name: &str,
    s: &mut Scope<'_>,
) -> Result<Option<Head>, ParseError> {
    let record = name.ends_with("_record");
    let head = match name.trim_end_matches("_record") {
        "fold" | "hylo_halves" => {
            let data = data(c, s.names)?;
            let [input] = s.values(c)?;
            let split = if name.starts_with("fold") {
                Split::Structure
            } else {
                Split::Halves
            };
            Head::Fold {
                data,
                input,
                split,
                record,
            }
        }
        "map" if !record => {
            let data = data(c, s.names)?;
            let [input] = s.values(c)?;
            Head::Map { data, input }
        }
        "map_backward" if !record => {
            let data = data(c, s.names)?;
            let out = self::data(c, s.names)?;
            let [input, cotangent] = s.values(c)?;
            c.expect("wrt")?;
            c.expect("[")?;
            let captures = s.list(c, "]")?;
            Head::MapBackward {
                data,
                out,
                input,
                cotangent,
                captures,
            }
        }
        "unfold_over" => {
            let [init, xs] = s.values(c)?;
            Head::Unfold {
                init,
                source: Source::Over(xs),
                record,
            }
        }
        "unfold_take" => {
            let [init] = s.values(c)?;
            c.expect(",")?;
            let k = c.small("a number of steps")?;
            Head::Unfold {
                init,
                source: Source::Take(k),
                record,
            }
        }
        "fold_backward" if !record => {
            let data = data(c, s.names)?;
            let (tape, cotangent, captures, elements) = backward_operands(c, s)?;
            // A computed structure's cotangent: `, elements, structure`.
            let structure = elements && c.eat(",");
            if structure {
                c.expect("structure")?;
            }
            Head::FoldBackward {
                data,
                tape,
                cotangent,
                captures,
                elements,
                structure,
            }
        }
        "unfold_backward" if !record => {
            let (tape, cotangent, captures, elements) = backward_operands(c, s)?;
            Head::UnfoldBackward {
                tape,
                cotangent,
                captures,
                elements,
            }
        }
        _ => return Ok(None),
    };
    Ok(Some(head))
}

/// `%tape, %cotangent wrt [%a, ...]` and an optional `, elements`.
fn backward_operands(
    c: &mut Cursor<'_>,
    s: &mut Scope<'_>,
) -> Result<(Value, Value, Vec<Value>, bool), ParseError> {
    let [tape, cotangent] = s.values(c)?;
    c.expect("wrt")?;
    c.expect("[")?;
    let captures = s.list(c, "]")?;
    let elements = if c.eat(",") {
        c.expect("elements")?;
        true
    } else {
        false
    };
    Ok((tape, cotangent, captures, elements))
}

/// A parameter slot by its qualified name.
fn param(c: &mut Cursor<'_>, s: &Scope<'_>) -> Result<Param, ParseError> {
    c.skip_spaces();
    let column = c.column();
    let name = c.name("a parameter's name")?;
    match s.params.iter().position(|p| p == name) {
        Some(i) => Ok(Param::new(i)),
        None => Err(ParseError::new(
            c.line(),
            column,
            format!("expected a parameter named on the `params` line, found `{name}`"),
        )),
    }
}

/// A constant's values: one number, or `[x, ...]`.
fn constant(c: &mut Cursor<'_>) -> Result<Vec<f64>, ParseError> {
    if !c.eat("[") {
        return Ok(vec![c.number()?]);
    }
    let mut xs = Vec::new();
    if c.eat("]") {
        return Ok(xs);
    }
    loop {
        xs.push(c.number()?);
        if c.eat("]") {
            return Ok(xs);
        }
        c.expect(",")?;
    }
}

/// `[i, ...]` of small integers.
fn index_list(c: &mut Cursor<'_>) -> Result<Vec<u32>, ParseError> {
    c.expect("[")?;
    let mut xs = Vec::new();
    if c.eat("]") {
        return Ok(xs);
    }
    loop {
        xs.push(c.small("an axis")?);
        if c.eat("]") {
            return Ok(xs);
        }
        c.expect(",")?;
    }
}

/// `basisN`, declared above.
fn basis(c: &mut Cursor<'_>, module: &Module) -> Result<BasisId, ParseError> {
    c.skip_spaces();
    let column = c.column();
    c.expect("basis")?;
    let n = c.integer("a basis number, as in `basis0`")?;
    if n >= module.bases.len() {
        return Err(ParseError::new(
            c.line(),
            column,
            format!(
                "expected a basis declared above (there are {}), found `basis{n}`",
                module.bases.len()
            ),
        ));
    }
    Ok(BasisId::new(n))
}

/// A data type by name.
fn data(c: &mut Cursor<'_>, names: &DataNames) -> Result<DataId, ParseError> {
    c.skip_spaces();
    let column = c.column();
    match read_type(c, names) {
        Ok(Type::Data(d)) => Ok(d),
        Ok(_) => Err(ParseError::new(
            c.line(),
            column,
            "expected the name of a data type declared above, found another type",
        )),
        Err(e) => Err(e),
    }
}

/// A loss by the name the language gives it.
fn loss_kind(c: &mut Cursor<'_>) -> Result<LossKind, ParseError> {
    let mark = c.mark();
    let word = c.word("a loss")?;
    [
        LossKind::CrossEntropy,
        LossKind::BinaryCrossEntropy,
        LossKind::Mse,
    ]
    .into_iter()
    .find(|k| k.name() == word)
    .ok_or_else(|| {
        c.reset(mark);
        c.expected("a loss (`cross_entropy`, `binary_cross_entropy` or `mse`)")
    })
}

fn binary(name: &str) -> Option<BinOp> {
    [BinOp::Add, BinOp::Sub, BinOp::Mul, BinOp::Div]
        .into_iter()
        .find(|op| op.name() == name)
}

fn unary(name: &str) -> Option<UnOp> {
    use UnOp::*;
    [
        Neg, Relu, Tanh, Sigmoid, Exp, Log, Softplus, Gelu, Abs, Sqrt, Step, Sign, GeluDeriv,
    ]
    .into_iter()
    .find(|op| op.name() == name)
}

fn reduce(name: &str) -> Option<ReduceOp> {
    [ReduceOp::Sum, ReduceOp::Mean, ReduceOp::Max]
        .into_iter()
        .find(|op| op.name() == name)
}

/// One region as read: its block and its arguments' types.
pub(super) struct Region {
    /// The region's block.
    pub block: Block,
    /// Its arguments' types.
    pub args: Vec<Type>,
}

impl Head {
    /// How many regions the op owns, for a recursion op over `module`'s
    /// data: one per constructor for a fold, one step otherwise; `None`
    /// for an op without regions.
    pub fn region_labels(&self, module: &Module) -> Option<Vec<String>> {
        let ctors = |d: DataId| {
            module.data[d]
                .ctors
                .iter()
                .map(|c| c.name.clone())
                .collect()
        };
        match self {
            Head::Fold { data, .. }
            | Head::FoldBackward { data, .. }
            | Head::Map { data, .. }
            | Head::MapBackward { data, .. } => Some(ctors(*data)),
            Head::Unfold { .. } | Head::UnfoldBackward { .. } => Some(vec!["step".to_string()]),
            _ => None,
        }
    }

    /// The op, given its type and its regions (as many as
    /// `region_labels` says). Fails with a message when the type cannot
    /// be the op's.
    pub fn finish(self, ty: &Type, regions: Vec<Region>) -> Result<Op, String> {
        let blocks: Vec<Block> = regions.iter().map(|r| r.block).collect();
        Ok(match self {
            Head::Done(op) => op,
            Head::Const(xs) => {
                let shape = tensor_shape(ty, "a constant")?;
                let n: usize = shape.iter().product();
                if xs.len() != n {
                    return Err(format!(
                        "the constant has {} values, but its type {} needs {n}",
                        xs.len(),
                        super::shape_text(&shape)
                    ));
                }
                Op::Const(Tensor::new(shape, xs))
            }
            Head::Zeros => Op::Zeros(ty.clone()),
            Head::Shaped { sum, x } => {
                let shape = tensor_shape(ty, "`broadcast_to` and `sum_to`")?;
                if sum {
                    Op::SumTo { x, shape }
                } else {
                    Op::BroadcastTo { x, shape }
                }
            }
            Head::Fold {
                data,
                input,
                split,
                record,
            } => Op::Fold(FoldOp {
                data,
                input,
                split,
                carrier: unrecorded(ty, record, "a fold's type is its carrier")?,
                cases: blocks,
                record,
            }),
            Head::Map { data, input } => {
                let Type::Data(out) = ty else {
                    return Err("a `map`'s type is the data type it builds".to_string());
                };
                Op::Map(MapOp {
                    data,
                    out: *out,
                    input,
                    cases: blocks,
                })
            }
            Head::FoldBackward {
                data,
                tape,
                cotangent,
                captures,
                elements,
                structure,
            } => Op::FoldBackward(FoldBackwardOp {
                data,
                carrier: regions
                    .first()
                    .and_then(|r| r.args.last().cloned())
                    .ok_or("a `fold_backward` region takes the carrier's cotangent last")?,
                tape,
                cotangent,
                cases: blocks,
                captures,
                elements,
                structure,
            }),
            Head::MapBackward {
                data,
                out,
                input,
                cotangent,
                captures,
            } => Op::MapBackward(MapBackwardOp {
                data,
                out,
                input,
                cotangent,
                cases: blocks,
                captures,
            }),
            Head::Unfold {
                init,
                source,
                record,
            } => {
                let seq = unrecorded(ty, record, "an unfold's type is a `Seq` of its outputs")?;
                let Type::Seq(output) = seq else {
                    return Err("an unfold's type is a `Seq` of its outputs".to_string());
                };
                Op::Unfold(UnfoldOp {
                    init,
                    source,
                    output: *output,
                    body: blocks[0],
                    record,
                })
            }
            Head::UnfoldBackward {
                tape,
                cotangent,
                captures,
                elements,
            } => {
                let args = &regions[0].args;
                let (state, input, output) = match args.as_slice() {
                    [s, o, _] => (s.clone(), None, o.clone()),
                    [s, x, o, _] => (s.clone(), Some(x.clone()), o.clone()),
                    _ => {
                        return Err(format!(
                            "an `unfold_backward` step takes 3 or 4 arguments (state, element, \
                             output cotangent, state cotangent), not {}",
                            args.len()
                        ));
                    }
                };
                Op::UnfoldBackward(UnfoldBackwardOp {
                    tape,
                    cotangent,
                    state,
                    input,
                    output,
                    body: blocks[0],
                    captures,
                    elements,
                })
            }
        })
    }
}

/// The shape of a tensor type, or why `what` needs one.
fn tensor_shape(ty: &Type, what: &str) -> Result<Vec<usize>, String> {
    ty.shape()
        .map(<[usize]>::to_vec)
        .ok_or_else(|| format!("the type of {what} must be a tensor type"))
}

/// The type without the tape a recording op adds: `(T, Tape)` → `T`.
fn unrecorded(ty: &Type, record: bool, what: &str) -> Result<Type, String> {
    if !record {
        return Ok(ty.clone());
    }
    match ty {
        Type::Tuple(ts) if ts.len() == 2 && ts[1] == Type::Tape => Ok(ts[0].clone()),
        _ => Err(format!(
            "{what}; a recording op's type is `(that type, Tape)`"
        )),
    }
}
