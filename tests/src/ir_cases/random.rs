//! Seeded random parameters, inputs and targets for an IR function, for
//! any data type the IR holds: lists of 1 to 7 elements, trees of 1 to 9
//! leaves in random shapes, rose trees and other declarations by random
//! constructors down to a small depth.

use cdlc_ir::rng::Rng;
use cdlc_ir::{FuncId, Function, LossKind, Module, Type};
use cdlc_runtime::value::{DataDecl, DataType, Example, Target, Tensor, Value};

/// Parameter entries and tensor inputs are drawn from `[-RANGE, RANGE)`.
const RANGE: f64 = 0.8;
/// The longest random input list.
const MAX_LIST: usize = 7;
/// The most leaves of a random tree.
const MAX_LEAVES: usize = 9;
/// How deep other random structures go.
const DEPTH: u32 = 3;

/// A tensor with entries uniform in `[-RANGE, RANGE)`.
pub fn tensor(shape: &[usize], rng: &mut Rng) -> Tensor {
    let n = shape.iter().product();
    Tensor::new(
        shape.to_vec(),
        (0..n).map(|_| rng.range(-RANGE, RANGE)).collect(),
    )
}

/// A tensor input: entries uniform in `[-RANGE, RANGE)`, or in `[0.5, 1.5)`
/// when `positive`.
pub fn input_tensor(shape: &[usize], positive: bool, rng: &mut Rng) -> Tensor {
    if !positive {
        return tensor(shape, rng);
    }
    let n = shape.iter().product();
    Tensor::new(
        shape.to_vec(),
        (0..n).map(|_| rng.range(0.5, 1.5)).collect(),
    )
}

/// Random values for every parameter slot of `func`.
pub fn params(func: &Function, rng: &mut Rng) -> Vec<Tensor> {
    func.params
        .iter()
        .map(|(_, p)| tensor(&p.shape, rng))
        .collect()
}

/// A random input for `func`: one value, or a tuple for several inputs.
pub fn input(module: &Module, func: &Function, rng: &mut Rng) -> Value {
    let mut xs: Vec<Value> = func.inputs.iter().map(|t| value(module, t, rng)).collect();
    if xs.len() == 1 {
        xs.pop().expect("one input")
    } else {
        Value::Tuple(xs)
    }
}

/// A random value of an input type.
pub fn value(module: &Module, ty: &Type, rng: &mut Rng) -> Value {
    match ty {
        Type::Tensor(s) => Value::Tensor(tensor(s, rng)),
        Type::Tuple(ts) => Value::Tuple(ts.iter().map(|t| value(module, t, rng)).collect()),
        Type::Data(d) => data(&module.data[*d].decl, &[], DEPTH, rng),
        other => panic!("no random input of type {other:?}"),
    }
}

/// A random value of a runtime data type; `outer` holds the enclosing
/// declarations, innermost last, for recursive positions.
fn field(t: &DataType, outer: &[&DataDecl], depth: u32, rng: &mut Rng) -> Value {
    match t {
        DataType::Tensor(s) => Value::Tensor(tensor(s, rng)),
        DataType::Tuple(ts) => {
            Value::Tuple(ts.iter().map(|t| field(t, outer, depth, rng)).collect())
        }
        DataType::Data(d) => data(d, outer, depth, rng),
        DataType::Rec(k) => {
            let at = outer.len() - 1 - *k as usize;
            data(outer[at], &outer[..at], depth.saturating_sub(1), rng)
        }
    }
}

/// A random structure of `decl`.
fn data(decl: &DataDecl, outer: &[&DataDecl], depth: u32, rng: &mut Rng) -> Value {
    let mut inner = outer.to_vec();
    inner.push(decl);
    if decl.is_list() {
        let elem = &decl.ctors[1].fields[0];
        let n = if mentions_rec(elem) {
            // A rose node's children: none at the bottom, else up to three.
            if depth == 0 { 0 } else { rng.below(4) }
        } else {
            1 + rng.below(MAX_LIST)
        };
        return Value::list((0..n).map(|_| field(elem, &inner, depth, rng)).collect());
    }
    if let [leaf, node] = decl.ctors.as_slice()
        && leaf.fields.len() == 1
        && !mentions_rec(&leaf.fields[0])
        && node.fields == [DataType::Rec(0), DataType::Rec(0)]
    {
        let leaves = 1 + rng.below(MAX_LEAVES);
        return tree(&leaf.fields[0], &inner, leaves, depth, rng);
    }
    // At the bottom, a constructor that does not hold this structure
    // again (it may hold an enclosing structure's child, which ends at
    // that structure's own bottom).
    let finite: Vec<usize> = (0..decl.ctors.len())
        .filter(|&i| !decl.ctors[i].fields.iter().any(|f| mentions_own(f, 0)))
        .collect();
    let ctor = if depth == 0 && !finite.is_empty() {
        finite[rng.below(finite.len())]
    } else {
        rng.below(decl.ctors.len())
    };
    let fields = decl.ctors[ctor]
        .fields
        .iter()
        .map(|f| field(f, &inner, depth, rng))
        .collect();
    Value::Node {
        ctor: u32::try_from(ctor).expect("few constructors"),
        fields,
    }
}

/// A tree of `leaves` leaves, split (j, n − j) with j uniform in 1..n−1.
/// A leaf holding an enclosing structure's child (a nested field's tree)
/// continues from the tree's own `depth`, never from the top: otherwise
/// a structure whose nodes hold trees of its own nodes would never end.
fn tree(leaf: &DataType, outer: &[&DataDecl], leaves: usize, depth: u32, rng: &mut Rng) -> Value {
    if leaves == 1 {
        return Value::leaf(field(leaf, outer, depth, rng));
    }
    let j = 1 + rng.below(leaves - 1);
    let l = tree(leaf, outer, j, depth, rng);
    let r = tree(leaf, outer, leaves - j, depth, rng);
    Value::node(l, r)
}

/// Whether a field holds a recursive position of the structure `k`
/// declarations out (0: the one whose constructor holds the field).
fn mentions_own(t: &DataType, k: u32) -> bool {
    match t {
        DataType::Tensor(_) => false,
        DataType::Tuple(ts) => ts.iter().any(|t| mentions_own(t, k)),
        DataType::Rec(j) => *j == k,
        DataType::Data(d) => d
            .ctors
            .iter()
            .any(|c| c.fields.iter().any(|f| mentions_own(f, k + 1))),
    }
}

/// Whether a field holds a recursive position.
fn mentions_rec(t: &DataType) -> bool {
    match t {
        DataType::Tensor(_) => false,
        DataType::Tuple(ts) => ts.iter().any(mentions_rec),
        DataType::Rec(_) => true,
        DataType::Data(d) => d.ctors.iter().any(|c| c.fields.iter().any(mentions_rec)),
    }
}

/// A random target for an output of type `out` under `loss`; `positions`
/// says how many positions a `Seq` output has.
pub fn target(loss: LossKind, out: &Type, positions: usize, rng: &mut Rng) -> Target {
    match (loss, out) {
        (_, Type::Seq(elem)) => {
            Target::Seq((0..positions).map(|_| target(loss, elem, 0, rng)).collect())
        }
        (LossKind::CrossEntropy, Type::Tensor(s)) => Target::Class(rng.below(s[0])),
        (LossKind::BinaryCrossEntropy, Type::Tensor(s)) => {
            let n = s.iter().product();
            Target::Tensor(Tensor::new(
                s.clone(),
                (0..n).map(|_| rng.uniform()).collect(),
            ))
        }
        (LossKind::Mse, Type::Tensor(s)) => Target::Tensor(tensor(s, rng)),
        _ => panic!("no {loss} target for an output of type {out:?}"),
    }
}

/// A batch of `n` random examples for `forward`, with targets that fit its
/// output under `loss` (as many positions as the output has, for a `Seq`).
pub fn batch(
    module: &Module,
    forward: FuncId,
    loss: LossKind,
    params: &[Tensor],
    n: usize,
    rng: &mut Rng,
) -> Vec<Example> {
    let f = &module.functions[forward];
    let out = f.types[f.output()].clone();
    (0..n)
        .map(|_| {
            let x = input(module, f, rng);
            let y = cdlc_ir::interp::forward(module, forward, params, &x)
                .unwrap_or_else(|e| panic!("`{}` runs on a random input: {e:?}", f.name));
            let positions = y.as_list().map_or(0, |l| l.len());
            Example {
                x,
                y: target(loss, &out, positions, rng),
            }
        })
        .collect()
}
