//! The reference interpreter: runs forward and training functions on
//! examples, in f64 or f32.
//!
//! It is the oracle for the JIT, so it is written to be obviously right, not
//! fast: every value of a function lives in one environment indexed by
//! value, blocks run their ops in order, and a fold first lays out the
//! concrete structure's nodes children-before-parents (iteratively, so long
//! lists do not exhaust the stack) and then runs one case region per node.
//! Functions must have passed the verifier. Each example is checked against
//! the function's types first (`example_error::ExampleTypes::check`, the
//! check the JIT makes too), so the errors reported here are about the data
//! (`ExampleError`: an input or target of the wrong type, an empty list
//! split by halves, a target of the wrong length); a structure the walk
//! cannot read after that check is an internal error.

mod kernels;
mod map;
mod map_backward;
mod nested;
mod scalar;

use std::fmt;
use std::rc::Rc;

use cdlc_runtime::value::{Example, Target, Tensor, Value as Data};

use crate::example_error::{ExampleError, ExampleTypes};
use crate::ir::{
    Block, Field, FoldBackwardOp, FoldOp, FuncId, Function, Module, Op, Source, Split, Type,
    UnfoldBackwardOp, UnfoldOp, Value,
};
use kernels::TargetRef;
pub use scalar::{Array, Scalar};

/// A run-time value of the interpreter.
#[derive(Clone, Debug)]
pub enum IVal<T> {
    /// A tensor.
    Tensor(Array<T>),
    /// A tuple.
    Tuple(Vec<IVal<T>>),
    /// An input structure, as loaded.
    Data(Rc<Data>),
    /// The outputs of an unfold (or their cotangents, or per-position
    /// targets).
    Seq(Vec<IVal<T>>),
    /// A class index.
    Class(usize),
    /// A recording recursion op's tape.
    Tape(Rc<Tape<T>>),
    /// A computed structure: what a fold binds at a nested field
    /// (`Tree(X)`, `List(A * X)`), the field's value with the children's
    /// carriers in its recursive positions; or such a structure's
    /// cotangent.
    Node {
        /// The constructor's index.
        ctor: u32,
        /// Its fields in order.
        fields: Vec<IVal<T>>,
    },
    /// The zero cotangent of a computed structure, zero in every field.
    Zero,
}

/// What a recording recursion op saves for its backward op.
#[derive(Clone, Debug)]
pub enum Tape<T> {
    /// A fold's nodes, children before parents (the root last), and
    /// whether it walked a loaded structure (`IVal::Data`: an input or a
    /// `map`'s result) rather than a computed one (`IVal::Node`); its
    /// structure cotangent takes the same form.
    Fold(Vec<TapeNode<T>>, bool),
    /// An unfold's step arguments, first step first.
    Unfold(Vec<Vec<IVal<T>>>),
}

/// One node of a recorded fold.
#[derive(Clone, Debug)]
pub struct TapeNode<T> {
    /// Which case region ran.
    pub ctor: usize,
    /// The region's arguments.
    pub args: Vec<IVal<T>>,
    /// The tape indices of the children, in field order (the children of a
    /// list of recursive positions in list order, one after the other).
    pub children: Vec<usize>,
}

/// Why a function could not be run on an example.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InterpError {
    /// The example does not fit the function, or cannot be run (the same
    /// error the JIT gives for it).
    Example(ExampleError),
    /// A value the walk cannot read although the example passed the check:
    /// a structure the model computed, or a value given to `run` directly,
    /// that does not have its type. This is a bug, not a data problem.
    Internal(String),
}

impl fmt::Display for InterpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InterpError::Example(e) => write!(f, "{e}"),
            InterpError::Internal(m) => write!(f, "internal error in the interpreter: {m}"),
        }
    }
}

impl std::error::Error for InterpError {}

impl From<ExampleError> for InterpError {
    fn from(e: ExampleError) -> InterpError {
        InterpError::Example(e)
    }
}

/// A value the walk cannot read (see `InterpError::Internal`).
fn input_error<R>(message: String) -> Result<R, InterpError> {
    Err(InterpError::Internal(message))
}

/// Checks an example against `func`'s types (`training`: its last input is
/// the target) before it is walked.
fn check_example(
    module: &Module,
    func: FuncId,
    training: bool,
    x: &Data,
    y: Option<&Target>,
) -> Result<(), InterpError> {
    match ExampleTypes::of(module, func, training) {
        Some(types) => Ok(types.check(x, y)?),
        None => Ok(()),
    }
}

/// Runs `func` on parameter values and input values, in `T`.
pub fn run<T: Scalar>(
    module: &Module,
    func: FuncId,
    params: &[Array<T>],
    inputs: Vec<IVal<T>>,
) -> Result<IVal<T>, InterpError> {
    let f = &module.functions[func];
    assert_eq!(params.len(), f.params.len(), "one value per parameter slot");
    for (p, (_, decl)) in params.iter().zip(f.params.iter()) {
        assert_eq!(
            p.shape, decl.shape,
            "parameter `{}` has the wrong shape",
            decl.name
        );
    }
    let mut eval = Eval {
        module,
        func: f,
        params,
        inputs,
        env: vec![None; f.values.len()],
    };
    eval.block(f.entry, Vec::new())
}

/// Runs the forward function `func` on one example input `x` in f64 and
/// returns its output (a `List` output as a `nil`/`cons` chain).
pub fn forward(
    module: &Module,
    func: FuncId,
    params: &[Tensor],
    x: &Data,
) -> Result<Data, InterpError> {
    forward_as::<f64>(module, func, params, x)
}

/// `forward`, computing in `T`.
pub fn forward_as<T: Scalar>(
    module: &Module,
    func: FuncId,
    params: &[Tensor],
    x: &Data,
) -> Result<Data, InterpError> {
    let f = &module.functions[func];
    check_example(module, func, false, x, None)?;
    let inputs = example_inputs(f, f.inputs.len(), x)?;
    let params: Vec<Array<T>> = params.iter().map(Array::from_tensor).collect();
    Ok(to_data(&run(module, func, &params, inputs)?))
}

/// The mean loss over `batch` and the mean gradient of every parameter slot,
/// from the training function `train` (made by `autodiff::differentiate`),
/// in f64. An empty batch gives loss 0 and zero gradients.
pub fn loss_and_grad(
    module: &Module,
    train: FuncId,
    params: &[Tensor],
    batch: &[Example],
) -> Result<(f64, Vec<Tensor>), InterpError> {
    loss_and_grad_as::<f64>(module, train, params, batch)
}

/// `loss_and_grad`, computing in `T` (results are converted to f64).
pub fn loss_and_grad_as<T: Scalar>(
    module: &Module,
    train: FuncId,
    params: &[Tensor],
    batch: &[Example],
) -> Result<(f64, Vec<Tensor>), InterpError> {
    let f = &module.functions[train];
    let arrays: Vec<Array<T>> = params.iter().map(Array::from_tensor).collect();
    let mut loss = 0.0;
    let mut grads: Vec<Tensor> = params
        .iter()
        .map(|p| Tensor::zeros(p.shape.clone()))
        .collect();
    for ex in batch {
        check_example(module, train, true, &ex.x, Some(&ex.y))?;
        let n_x = f.inputs.len() - 1;
        let mut inputs = example_inputs(f, n_x, &ex.x)?;
        inputs.push(target_value(&f.inputs[n_x], &ex.y)?);
        let out = run(module, train, &arrays, inputs)?;
        let IVal::Tuple(parts) = out else {
            panic!(
                "internal error: training function `{}` does not return a tuple",
                f.name
            );
        };
        let mut parts = parts.into_iter();
        loss += as_array(&parts.next().expect("the loss comes first")).data[0].to_f64();
        for (g, part) in grads.iter_mut().zip(parts) {
            for (acc, x) in g.data.iter_mut().zip(&as_array(&part).data) {
                *acc += x.to_f64();
            }
        }
    }
    if !batch.is_empty() {
        let n = batch.len() as f64;
        loss /= n;
        for g in &mut grads {
            g.data.iter_mut().for_each(|x| *x /= n);
        }
    }
    Ok((loss, grads))
}

/// Splits an example's `x` over the function's first `n` inputs: the value
/// itself for one input, the components of a tuple for several.
fn example_inputs<T: Scalar>(
    f: &Function,
    n: usize,
    x: &Data,
) -> Result<Vec<IVal<T>>, InterpError> {
    if n == 1 {
        return Ok(vec![to_ival(&f.inputs[0], x)?]);
    }
    match x {
        Data::Tuple(xs) if xs.len() == n => f.inputs[..n]
            .iter()
            .zip(xs)
            .map(|(t, x)| to_ival(t, x))
            .collect(),
        _ => input_error(format!("expected a tuple of {n} inputs")),
    }
}

/// Converts an input value to the interpreter's form, checking its type.
/// Structures are checked when a fold walks them.
pub fn to_ival<T: Scalar>(ty: &Type, x: &Data) -> Result<IVal<T>, InterpError> {
    match (ty, x) {
        (Type::Tensor(s), Data::Tensor(t)) if t.shape == *s => {
            Ok(IVal::Tensor(Array::from_tensor(t)))
        }
        (Type::Tuple(ts), Data::Tuple(xs)) if ts.len() == xs.len() => ts
            .iter()
            .zip(xs)
            .map(|(t, x)| to_ival(t, x))
            .collect::<Result<_, _>>()
            .map(IVal::Tuple),
        (Type::Data(_), Data::Node { .. }) => Ok(IVal::Data(Rc::new(clone_data(x)))),
        _ => input_error(format!(
            "expected a value of type {ty:?}, found {}",
            describe(x)
        )),
    }
}

fn target_value<T: Scalar>(ty: &Type, y: &Target) -> Result<IVal<T>, InterpError> {
    let bad = || input_error(format!("expected the target type {ty:?}, found {y:?}"));
    match (ty, y) {
        (Type::Class(n), Target::Class(c)) if c < n => Ok(IVal::Class(*c)),
        (Type::Tensor(s), Target::Tensor(t)) if t.shape == *s => {
            Ok(IVal::Tensor(Array::from_tensor(t)))
        }
        (Type::Seq(t), Target::Seq(ys)) => ys
            .iter()
            .map(|y| target_value(t, y))
            .collect::<Result<_, _>>()
            .map(IVal::Seq),
        _ => bad(),
    }
}

/// Converts an interpreter value back to a runtime value.
pub fn to_data<T: Scalar>(v: &IVal<T>) -> Data {
    match v {
        IVal::Tensor(a) => Data::Tensor(a.to_tensor()),
        IVal::Tuple(vs) => Data::Tuple(vs.iter().map(to_data).collect()),
        IVal::Data(d) => clone_data(d),
        IVal::Seq(vs) => Data::list(vs.iter().map(to_data).collect()),
        IVal::Class(c) => Data::Tensor(Tensor::scalar(*c as f64)),
        IVal::Node { ctor, fields } => Data::Node {
            ctor: *ctor,
            fields: fields.iter().map(to_data).collect(),
        },
        IVal::Tape(_) | IVal::Zero => panic!("internal error: not a runtime value"),
    }
}

/// A deep copy of a runtime value, built iteratively: the derived `Clone`
/// recurses once per list element and would exhaust the stack on long
/// lists.
fn clone_data(root: &Data) -> Data {
    enum Work<'a> {
        Visit(&'a Data),
        Build(&'a Data),
    }
    let mut work = vec![Work::Visit(root)];
    let mut done: Vec<Data> = Vec::new();
    while let Some(w) = work.pop() {
        match w {
            Work::Visit(Data::Tensor(t)) => done.push(Data::Tensor(t.clone())),
            Work::Visit(d @ (Data::Tuple(fields) | Data::Node { fields, .. })) => {
                work.push(Work::Build(d));
                work.extend(fields.iter().rev().map(Work::Visit));
            }
            Work::Build(d) => {
                let n = match d {
                    Data::Tuple(fs) | Data::Node { fields: fs, .. } => fs.len(),
                    Data::Tensor(_) => 0,
                };
                let fields = done.split_off(done.len() - n);
                done.push(match d {
                    Data::Node { ctor, .. } => Data::Node {
                        ctor: *ctor,
                        fields,
                    },
                    _ => Data::Tuple(fields),
                });
            }
        }
    }
    done.pop().expect("the root was built")
}

/// A one-level description of a runtime value for error messages (the
/// derived `Debug` of a long list is as long as the list).
fn describe(x: &Data) -> String {
    match x {
        Data::Tensor(t) => format!("a tensor of shape {:?}", t.shape),
        Data::Tuple(fs) => format!("a tuple of {}", fs.len()),
        Data::Node { ctor, fields } => {
            format!("constructor {ctor} with {} fields", fields.len())
        }
    }
}

fn as_array<T: Scalar>(v: &IVal<T>) -> &Array<T> {
    match v {
        IVal::Tensor(a) => a,
        other => panic!("internal error: expected a tensor, found {other:?}"),
    }
}

/// Zeros of a tensor or tuple-of-tensors type. The zero cotangent of a
/// sequence is the empty sequence, read as zeros at every position.
fn zeros_of<T: Scalar>(ty: &Type) -> IVal<T> {
    match ty {
        Type::Tensor(s) => IVal::Tensor(Array::zeros(s)),
        Type::Tuple(ts) => IVal::Tuple(ts.iter().map(zeros_of).collect()),
        Type::Seq(_) => IVal::Seq(Vec::new()),
        Type::Data(_) => IVal::Zero,
        other => panic!("internal error: no zeros of type {other:?}"),
    }
}

/// `a + b` of two cotangents of the same tensor, tuple or sequence type (an
/// empty sequence is zero at every position).
fn add_vals<T: Scalar>(a: &IVal<T>, b: &IVal<T>) -> IVal<T> {
    match (a, b) {
        (IVal::Zero, y) => y.clone(),
        (x, IVal::Zero) => x.clone(),
        (IVal::Node { ctor, fields: xs }, IVal::Node { fields: ys, .. }) => IVal::Node {
            ctor: *ctor,
            fields: xs.iter().zip(ys).map(|(x, y)| add_vals(x, y)).collect(),
        },
        (IVal::Seq(xs), IVal::Seq(ys)) if xs.is_empty() => IVal::Seq(ys.clone()),
        (IVal::Seq(xs), IVal::Seq(ys)) if ys.is_empty() => IVal::Seq(xs.clone()),
        (IVal::Seq(xs), IVal::Seq(ys)) => {
            assert_eq!(
                xs.len(),
                ys.len(),
                "internal error: adding sequence cotangents of different lengths"
            );
            IVal::Seq(xs.iter().zip(ys).map(|(x, y)| add_vals(x, y)).collect())
        }
        (IVal::Tensor(x), IVal::Tensor(y)) => {
            IVal::Tensor(kernels::binary(crate::ir::BinOp::Add, x, y))
        }
        (IVal::Tuple(xs), IVal::Tuple(ys)) => {
            IVal::Tuple(xs.iter().zip(ys).map(|(x, y)| add_vals(x, y)).collect())
        }
        _ => panic!("internal error: adding cotangents of different types"),
    }
}

/// An argument of a fold node before the children have run.
enum Slot<T> {
    Plain(IVal<T>),
    Child(usize),
    /// A list of children (a rose tree's `List(X)` field).
    Children(Vec<usize>),
    /// A nested field (`Tree(X)`): its shape, filled with these children's
    /// carriers.
    Nested(nested::Shape<T>, Vec<usize>),
}

/// A node of the structure a fold walks, children before parents.
struct PlanNode<T> {
    ctor: usize,
    slots: Vec<Slot<T>>,
}

struct Eval<'a, T> {
    module: &'a Module,
    func: &'a Function,
    params: &'a [Array<T>],
    inputs: Vec<IVal<T>>,
    env: Vec<Option<IVal<T>>>,
}

impl<T: Scalar> Eval<'_, T> {
    fn val(&self, v: Value) -> &IVal<T> {
        self.env[crate::entity::EntityRef::index(v)]
            .as_ref()
            .expect("verified: values are defined before use")
    }

    fn arr(&self, v: Value) -> &Array<T> {
        as_array(self.val(v))
    }

    fn set(&mut self, v: Value, x: IVal<T>) {
        self.env[crate::entity::EntityRef::index(v)] = Some(x);
    }

    fn block(&mut self, b: Block, args: Vec<IVal<T>>) -> Result<IVal<T>, InterpError> {
        let data = &self.func.blocks[b];
        for (&a, x) in data.args.iter().zip(args) {
            self.set(a, x);
        }
        for &v in &data.insts {
            let op = self.func.op(v).expect("verified: insts are ops");
            let x = self.op(op)?;
            self.set(v, x);
        }
        let r = data.result.expect("verified: blocks have results");
        Ok(self.val(r).clone())
    }

    fn op(&mut self, op: &Op) -> Result<IVal<T>, InterpError> {
        let t = |a: Array<T>| Ok(IVal::Tensor(a));
        match op {
            Op::Param(p) => t(self.params[crate::entity::EntityRef::index(*p)].clone()),
            Op::Input(i) => Ok(self.inputs[*i as usize].clone()),
            Op::Const(c) => t(Array::from_tensor(c)),
            Op::Zeros(ty) => Ok(zeros_of(ty)),
            Op::Binary(_, a, b) if matches!(self.func.types[*a], Type::Seq(_) | Type::Data(_)) => {
                Ok(add_vals(self.val(*a), self.val(*b)))
            }
            Op::Binary(o, a, b) => t(kernels::binary(*o, self.arr(*a), self.arr(*b))),
            Op::Unary(o, x) => t(self.arr(*x).map(|v| kernels::unary(*o, v))),
            Op::Contract { a, b, axes } => t(kernels::contract(
                self.arr(*a),
                self.arr(*b),
                *axes as usize,
            )),
            Op::Permute { x, perm } => t(kernels::permute(self.arr(*x), perm)),
            Op::Reduce { op, x, axis } => t(kernels::reduce(*op, self.arr(*x), *axis)),
            Op::Expand { x, axis, n } => {
                t(kernels::expand(self.arr(*x), *axis as usize, *n as usize))
            }
            Op::BroadcastTo { x, shape } => t(kernels::broadcast_to(self.arr(*x), shape)),
            Op::SumTo { x, shape } => t(kernels::sum_to(self.arr(*x), shape)),
            Op::Softmax(x) => t(kernels::softmax(self.arr(*x))),
            Op::LogSoftmax(x) => t(kernels::log_softmax(self.arr(*x))),
            Op::Norm { x, keep } => t(kernels::norm(self.arr(*x), *keep as usize)),
            Op::NormGrad { x, y, g } => {
                t(kernels::norm_grad(self.arr(*x), self.arr(*y), self.arr(*g)))
            }
            Op::MaxGrad { x, g, axis } => t(kernels::max_grad(self.arr(*x), self.arr(*g), *axis)),
            Op::Concat(a, b) => {
                let (a, b) = (self.arr(*a), self.arr(*b));
                let data = a.data.iter().chain(&b.data).copied().collect();
                t(Array::new(vec![a.data.len() + b.data.len()], data))
            }
            Op::Slice { x, start, len } => {
                let (s, n) = (*start as usize, *len as usize);
                t(Array::new(vec![n], self.arr(*x).data[s..s + n].to_vec()))
            }
            Op::Tuple(vs) => Ok(IVal::Tuple(
                vs.iter().map(|v| self.val(*v).clone()).collect(),
            )),
            Op::Get(v, i) => match self.val(*v) {
                IVal::Tuple(xs) => Ok(xs[*i as usize].clone()),
                other => panic!("internal error: get of a non-tuple {other:?}"),
            },
            Op::BasisExpand { coeffs, basis } => {
                let b = &self.module.bases[*basis];
                t(kernels::basis_expand(
                    self.arr(*coeffs),
                    &b.elements,
                    &b.shape,
                ))
            }
            Op::BasisProject { x, basis } => {
                let b = &self.module.bases[*basis];
                t(kernels::basis_project(
                    self.arr(*x),
                    &b.elements,
                    &b.coeff_shape,
                ))
            }
            Op::Loss { kind, out, target } => {
                let (l, _) = self.loss(*kind, *out, *target)?;
                t(Array::scalar(l))
            }
            Op::LossGrad {
                kind,
                out,
                target,
                seed,
            } => {
                let (_, g) = self.loss(*kind, *out, *target)?;
                let s = IVal::Tensor(self.arr(*seed).clone());
                Ok(scale(&g, &s))
            }
            Op::Fold(f) => self.fold(f),
            Op::FoldBackward(f) => self.fold_backward(f),
            Op::Unfold(u) => self.unfold(u),
            Op::UnfoldBackward(u) => self.unfold_backward(u),
            Op::Map(m) => self.map(m),
            Op::MapBackward(m) => self.map_backward(m),
        }
    }

    /// The loss of one example and its gradient with respect to `out`; a
    /// sequence's loss is the mean over positions (0 when empty).
    fn loss(
        &self,
        kind: crate::ir::LossKind,
        out: Value,
        target: Value,
    ) -> Result<(T, IVal<T>), InterpError> {
        fn one<T: Scalar>(kind: crate::ir::LossKind, out: &IVal<T>, y: &IVal<T>) -> (T, IVal<T>) {
            let target = match y {
                IVal::Class(c) => TargetRef::Class(*c),
                IVal::Tensor(a) => TargetRef::Tensor(a),
                other => panic!("internal error: target {other:?}"),
            };
            let (l, g) = kernels::loss(kind, as_array(out), target);
            (l, IVal::Tensor(g))
        }
        match (self.val(out), self.val(target)) {
            (IVal::Seq(outs), IVal::Seq(ys)) => {
                if outs.len() != ys.len() {
                    return Err(ExampleError::TargetLength {
                        outputs: outs.len(),
                        targets: ys.len(),
                    }
                    .into());
                }
                let n = T::from_f64(outs.len().max(1) as f64);
                let mut total = T::zero();
                let mut grads = Vec::with_capacity(outs.len());
                for (o, y) in outs.iter().zip(ys) {
                    let (l, g) = one(kind, o, y);
                    total = total + l;
                    grads.push(scale(&g, &IVal::Tensor(Array::scalar(T::one() / n))));
                }
                Ok((total / n, IVal::Seq(grads)))
            }
            (o, y) => Ok(one(kind, o, y)),
        }
    }

    fn fold(&mut self, f: &FoldOp) -> Result<IVal<T>, InterpError> {
        let loaded = matches!(self.val(f.input), IVal::Data(_));
        let plan = match (f.split, self.val(f.input).clone()) {
            (Split::Structure, IVal::Seq(items)) => plan_seq(items),
            (Split::Structure, IVal::Data(input)) => plan_structure(self.module, f.data, &*input)?,
            (Split::Structure, input @ IVal::Node { .. }) => {
                plan_structure(self.module, f.data, &input)?
            }
            (Split::Halves, IVal::Data(input)) => {
                let leaf = self
                    .module
                    .tree_leaf(f.data)
                    .expect("verified: a TreeF algebra");
                plan_halves(list_elements(leaf, &input)?, false)?
            }
            (Split::Halves, IVal::Seq(items)) => plan_halves(items, true)?,
            (_, other) => panic!("internal error: fold input is not a structure: {other:?}"),
        };
        let mut carriers: Vec<Option<IVal<T>>> = Vec::with_capacity(plan.len());
        let mut tape = Vec::new();
        for node in plan {
            let mut children = Vec::new();
            let args: Vec<IVal<T>> = node
                .slots
                .into_iter()
                .map(|s| match s {
                    Slot::Plain(x) => x,
                    Slot::Child(c) => {
                        children.push(c);
                        carriers[c]
                            .take()
                            .expect("each child is used once, after it ran")
                    }
                    Slot::Nested(shape, cs) => {
                        children.extend(&cs);
                        let mut kids = cs.into_iter().map(|c| {
                            carriers[c]
                                .take()
                                .expect("each child is used once, after it ran")
                        });
                        nested::fill(shape, &mut kids)
                    }
                    Slot::Children(cs) => {
                        children.extend(&cs);
                        IVal::Seq(
                            cs.into_iter()
                                .map(|c| {
                                    carriers[c]
                                        .take()
                                        .expect("each child is used once, after it ran")
                                })
                                .collect(),
                        )
                    }
                })
                .collect();
            let r = self.block(f.cases[node.ctor], args.clone())?;
            if f.record {
                tape.push(TapeNode {
                    ctor: node.ctor,
                    args,
                    children,
                });
            }
            carriers.push(Some(r));
        }
        let root = carriers.pop().flatten().expect("a structure has a root");
        Ok(if f.record {
            IVal::Tuple(vec![root, IVal::Tape(Rc::new(Tape::Fold(tape, loaded)))])
        } else {
            root
        })
    }

    fn fold_backward(&mut self, f: &FoldBackwardOp) -> Result<IVal<T>, InterpError> {
        let IVal::Tape(tape) = self.val(f.tape).clone() else {
            panic!("internal error: fold_backward without a tape");
        };
        let Tape::Fold(nodes, loaded) = &*tape else {
            panic!("internal error: fold_backward given an unfold's tape");
        };
        let mut acc: Vec<IVal<T>> = f
            .captures
            .iter()
            .map(|c| zeros_of(&self.func.types[*c]))
            .collect();
        let mut cts: Vec<Option<IVal<T>>> = vec![None; nodes.len()];
        if let Some(last) = cts.last_mut() {
            *last = Some(self.val(f.cotangent).clone());
        }
        let mut elements = Vec::new();
        // With `structure`, each node's field cotangents, by tape index.
        let mut per_node: Vec<Vec<IVal<T>>> =
            vec![Vec::new(); if f.structure { nodes.len() } else { 0 }];
        // Parents come after their children on the tape, so walking it
        // backwards visits every parent before its children (and, for a
        // list, its elements first to last).
        for (i, node) in nodes.iter().enumerate().rev() {
            let mut args = node.args.clone();
            args.push(cts[i].take().expect("a node's parent ran before it"));
            let IVal::Tuple(parts) = self.block(f.cases[node.ctor], args)? else {
                panic!("internal error: a backward region yields a tuple");
            };
            let fields = self
                .module
                .cotangent_fields(f.data, node.ctor, &f.carrier, f.elements);
            let (dfields, dcaps) = parts.split_at(fields.len());
            let mut children = node.children.iter();
            let ctor = &self.module.data[f.data].ctors[node.ctor];
            for ((j, _), d) in fields.iter().zip(dfields) {
                match &ctor.fields[*j] {
                    Field::Rec => {
                        let c = children.next().expect("one child per recursive field");
                        cts[*c] = Some(d.clone());
                    }
                    Field::RecList => {
                        let IVal::Seq(kids) = &node.args[*j] else {
                            panic!("internal error: a list of children is not a sequence");
                        };
                        let IVal::Seq(ds) = d else {
                            panic!("internal error: the children's cotangent is not a sequence");
                        };
                        for k in 0..kids.len() {
                            let c = children.next().expect("one child per list element");
                            // An empty cotangent sequence is zero everywhere.
                            cts[*c] =
                                Some(ds.get(k).cloned().unwrap_or_else(|| zeros_of(&f.carrier)));
                        }
                    }
                    Field::Nested(ty) => {
                        let mut kid_cts = Vec::new();
                        let bound = (&node.args[*j], d);
                        nested::hole_cotangents(
                            ty,
                            &mut Vec::new(),
                            bound,
                            &f.carrier,
                            &mut kid_cts,
                        );
                        for ct in kid_cts {
                            let c = children.next().expect("one child per recursive position");
                            cts[*c] = Some(ct);
                        }
                    }
                    Field::Plain(_) => elements.push(d.clone()),
                }
            }
            if f.structure {
                per_node[i] = dfields.to_vec();
            }
            for (a, d) in acc.iter_mut().zip(dcaps) {
                *a = add_vals(a, d);
            }
        }
        if f.structure && *loaded {
            // A deep chain of `IVal::Node`s could not be dropped without
            // exhausting the stack; a loaded structure's cotangent is data.
            let d = self.loaded_cotangent(f, nodes, per_node);
            acc.push(IVal::Data(Rc::new(d)));
        } else if f.structure {
            acc.push(self.structure_cotangent(f, nodes, per_node));
        } else if f.elements {
            acc.push(IVal::Seq(elements));
        }
        Ok(IVal::Tuple(acc))
    }

    /// The cotangent of a computed structure a fold walked, from each
    /// node's field cotangents (those `Module::cotangent_fields` names):
    /// built children first, each node holding its plain fields'
    /// cotangents and its children's structures.
    fn structure_cotangent(
        &self,
        f: &FoldBackwardOp,
        nodes: &[TapeNode<T>],
        per_node: Vec<Vec<IVal<T>>>,
    ) -> IVal<T> {
        let mut built: Vec<Option<IVal<T>>> = Vec::with_capacity(nodes.len());
        for (node, dfields) in nodes.iter().zip(per_node) {
            let ctor = &self.module.data[f.data].ctors[node.ctor];
            let mut kids = node.children.iter();
            let mut take = || {
                let c = kids.next().expect("one child per recursive position");
                built[*c]
                    .take()
                    .expect("each child is built once, before its parent")
            };
            let mut dfields = dfields.into_iter();
            let mut fields = Vec::with_capacity(ctor.fields.len());
            for (j, field) in ctor.fields.iter().enumerate() {
                fields.push(match field {
                    Field::Rec => {
                        dfields.next();
                        take()
                    }
                    Field::RecList => {
                        dfields.next();
                        let IVal::Seq(ks) = &node.args[j] else {
                            panic!("internal error: a list of children is not a sequence");
                        };
                        let items: Vec<IVal<T>> = (0..ks.len()).map(|_| take()).collect();
                        items.into_iter().rev().fold(
                            IVal::Node {
                                ctor: 0,
                                fields: Vec::new(),
                            },
                            |tail, x| IVal::Node {
                                ctor: 1,
                                fields: vec![x, tail],
                            },
                        )
                    }
                    Field::Nested(ty) => {
                        let d = dfields.next().expect("a nested field's cotangent");
                        nested::with_children(ty, (&node.args[j], &d), &mut |_| take())
                    }
                    Field::Plain(_) => dfields.next().expect("a plain field's cotangent"),
                });
            }
            built.push(Some(IVal::Node {
                ctor: node.ctor as u32,
                fields,
            }));
        }
        built.pop().flatten().expect("a structure has a root")
    }

    fn unfold(&mut self, u: &UnfoldOp) -> Result<IVal<T>, InterpError> {
        let inputs: Vec<Option<IVal<T>>> = match u.source {
            Source::Over(xs) => match self.val(xs).clone() {
                IVal::Seq(items) => items.into_iter().map(Some).collect(),
                IVal::Data(list) => {
                    let elem = self
                        .module
                        .over_element(&self.func.types[xs])
                        .expect("verified: a list type");
                    list_elements(elem, &list)?.into_iter().map(Some).collect()
                }
                other => panic!("internal error: unfold over a non-list {other:?}"),
            },
            Source::Take(k) => vec![None; k as usize],
        };
        let mut state = self.val(u.init).clone();
        let mut outs = Vec::with_capacity(inputs.len());
        let mut tape = Vec::new();
        for x in inputs {
            let mut args = vec![state];
            args.extend(x);
            let r = self.block(u.body, args.clone())?;
            let IVal::Tuple(mut pair) = r else {
                panic!("internal error: a step yields a pair");
            };
            state = pair.pop().expect("a pair");
            outs.push(pair.pop().expect("a pair"));
            if u.record {
                tape.push(args);
            }
        }
        let seq = IVal::Seq(outs);
        Ok(if u.record {
            IVal::Tuple(vec![seq, IVal::Tape(Rc::new(Tape::Unfold(tape)))])
        } else {
            seq
        })
    }

    fn unfold_backward(&mut self, u: &UnfoldBackwardOp) -> Result<IVal<T>, InterpError> {
        let IVal::Tape(tape) = self.val(u.tape).clone() else {
            panic!("internal error: unfold_backward without a tape");
        };
        let Tape::Unfold(steps) = &*tape else {
            panic!("internal error: unfold_backward given a fold's tape");
        };
        let IVal::Seq(douts) = self.val(u.cotangent).clone() else {
            panic!("internal error: unfold_backward cotangent is not a sequence");
        };
        assert_eq!(
            douts.len(),
            steps.len(),
            "internal error: one cotangent per step"
        );
        let mut acc: Vec<IVal<T>> = u
            .captures
            .iter()
            .map(|c| zeros_of(&self.func.types[*c]))
            .collect();
        // The final state is not an output, so its cotangent is zero.
        let mut dnext = zeros_of(&u.state);
        // The elements' cotangents, last step first.
        let mut delements = Vec::new();
        for (args, dout) in steps.iter().zip(douts).rev() {
            let mut args = args.clone();
            args.push(dout);
            args.push(dnext);
            let IVal::Tuple(mut parts) = self.block(u.body, args)? else {
                panic!("internal error: a backward step yields a tuple");
            };
            let dcaps = parts.split_off(if u.elements { 2 } else { 1 });
            if u.elements {
                delements.push(parts.pop().expect("the element's cotangent is second"));
            }
            dnext = parts.pop().expect("the state's cotangent comes first");
            for (a, d) in acc.iter_mut().zip(&dcaps) {
                *a = add_vals(a, d);
            }
        }
        let mut out = vec![dnext];
        out.extend(acc);
        if u.elements {
            delements.reverse();
            out.push(IVal::Seq(delements));
        }
        Ok(IVal::Tuple(out))
    }
}

/// `s * g` for a scalar `s` and a tensor or sequence of tensors `g`.
fn scale<T: Scalar>(g: &IVal<T>, s: &IVal<T>) -> IVal<T> {
    match g {
        IVal::Tensor(a) => IVal::Tensor(kernels::binary(crate::ir::BinOp::Mul, a, as_array(s))),
        IVal::Seq(gs) => IVal::Seq(gs.iter().map(|g| scale(g, s)).collect()),
        other => panic!("internal error: scaling {other:?}"),
    }
}

/// Converts a plain field of a structure to the interpreter's form.
fn plain<T: Scalar>(ty: &Type, x: &Data) -> Result<IVal<T>, InterpError> {
    to_ival(ty, x)
}

/// The declaration of a node's constructor `ctor`, checked to exist and to
/// have as many fields as the node.
fn declared_ctor(
    def: &crate::ir::DataDef,
    ctor: u32,
    fields: usize,
) -> Result<&crate::ir::CtorDef, InterpError> {
    let Some(cdef) = def.ctors.get(ctor as usize) else {
        return input_error(format!("{} has no constructor {ctor}", def.decl.name));
    };
    if fields != cdef.fields.len() {
        return input_error(format!(
            "constructor `{}` has {} fields, found {fields}",
            cdef.name,
            cdef.fields.len(),
        ));
    }
    Ok(cdef)
}

/// Lays out the nodes of `root` (of data type `data`: loaded input or a
/// computed structure) children before parents, checking each against the
/// declaration.
fn plan_structure<T: Scalar, P: nested::Part<T>>(
    module: &Module,
    data: crate::ir::DataId,
    root: &P,
) -> Result<Vec<PlanNode<T>>, InterpError> {
    let def = &module.data[data];
    let mut plan = Vec::new();
    // Indices of finished nodes, in the order they finished.
    let mut done: Vec<usize> = Vec::new();
    let mut stack: Vec<(&P, bool)> = vec![(root, false)];
    while let Some((node, expanded)) = stack.pop() {
        let Some((ctor, fields)) = node.node() else {
            return input_error(format!(
                "expected a {} node, found {}",
                def.decl.name,
                node.describe()
            ));
        };
        let cdef = declared_ctor(def, ctor, fields.len())?;
        let mut recs: Vec<&P> = Vec::new();
        let mut kids_per_field = Vec::new();
        let mut shapes = Vec::new();
        for (f, x) in cdef.fields.iter().zip(fields) {
            match f {
                Field::Rec => recs.push(x),
                Field::RecList => {
                    let Some(items) = nested::list_items(x) else {
                        return input_error(format!(
                            "expected the list of children of a `{}` node, found {}",
                            cdef.name,
                            x.describe()
                        ));
                    };
                    kids_per_field.push(items.len());
                    recs.extend(items);
                }
                Field::Nested(ty) => {
                    let before = recs.len();
                    shapes.push(nested::template(ty, &mut Vec::new(), x, &mut recs)?);
                    kids_per_field.push(recs.len() - before);
                }
                Field::Plain(_) => {}
            }
        }
        if !expanded {
            stack.push((node, true));
            stack.extend(recs.into_iter().rev().map(|c| (c, false)));
            continue;
        }
        let mut children = done.split_off(done.len() - recs.len()).into_iter();
        let mut kids_per_field = kids_per_field.into_iter();
        let mut shapes = shapes.into_iter();
        let slots = cdef
            .fields
            .iter()
            .zip(fields)
            .map(|(f, x)| match f {
                Field::Rec => Ok(Slot::Child(
                    children.next().expect("one per recursive field"),
                )),
                Field::RecList => {
                    let k = kids_per_field.next().expect("counted above");
                    Ok(Slot::Children(children.by_ref().take(k).collect()))
                }
                Field::Nested(_) => {
                    let k = kids_per_field.next().expect("counted above");
                    let shape = shapes.next().expect("one shape per nested field");
                    Ok(Slot::Nested(shape, children.by_ref().take(k).collect()))
                }
                Field::Plain(t) => x.plain(t).map(Slot::Plain),
            })
            .collect::<Result<_, _>>()?;
        plan.push(PlanNode {
            ctor: ctor as usize,
            slots,
        });
        done.push(plan.len() - 1);
    }
    Ok(plan)
}

/// Lays out a computed sequence as the list `nil | cons(x, X)` it stands
/// for, children before parents: `nil` first, the first element last.
fn plan_seq<T>(items: Vec<IVal<T>>) -> Vec<PlanNode<T>> {
    let mut plan = vec![PlanNode {
        ctor: 0,
        slots: Vec::new(),
    }];
    for x in items.into_iter().rev() {
        let tail = plan.len() - 1;
        plan.push(PlanNode {
            ctor: 1,
            slots: vec![Slot::Plain(x), Slot::Child(tail)],
        });
    }
    plan
}

/// The elements of a list, converted to `elem`.
fn list_elements<T: Scalar>(elem: &Type, list: &Data) -> Result<Vec<IVal<T>>, InterpError> {
    let Some(items) = list.as_list() else {
        return input_error(format!("expected a list, found {}", describe(list)));
    };
    items.into_iter().map(|x| plain(elem, x)).collect()
}

/// Lays out the tree that `halves` unfolds from a list's elements,
/// children before parents: one element gives `leaf`, n > 1 gives `node`
/// of the first ⌊n/2⌋ elements and the rest. With `right_first` each
/// node's right half is laid out before its left, so that the backward
/// walk (parents first, from the end of the tape) meets the leaves in list
/// order and gives a computed sequence its elements' cotangents in order.
fn plan_halves<T>(items: Vec<IVal<T>>, right_first: bool) -> Result<Vec<PlanNode<T>>, InterpError> {
    let mut items: Vec<Option<IVal<T>>> = items.into_iter().map(Some).collect();
    if items.is_empty() {
        return Err(ExampleError::EmptyHalves.into());
    }
    fn split<T>(
        items: &mut [Option<IVal<T>>],
        right_first: bool,
        plan: &mut Vec<PlanNode<T>>,
    ) -> usize {
        if items.len() == 1 {
            let x = items[0].take().expect("each element is used once");
            plan.push(PlanNode {
                ctor: 0,
                slots: vec![Slot::Plain(x)],
            });
        } else {
            let (l, r) = items.split_at_mut(items.len() / 2);
            let (li, ri) = if right_first {
                let ri = split(r, right_first, plan);
                (split(l, right_first, plan), ri)
            } else {
                let li = split(l, right_first, plan);
                (li, split(r, right_first, plan))
            };
            plan.push(PlanNode {
                ctor: 1,
                slots: vec![Slot::Child(li), Slot::Child(ri)],
            });
        }
        plan.len() - 1
    }
    let mut plan = Vec::new();
    split(&mut items, right_first, &mut plan);
    Ok(plan)
}

#[cfg(test)]
mod tests;
