//! One forward rule per op.
//!
//! A rule gets the forward op (value `y`) and returns the tangent of `y`
//! from the tangents of the operands, as ops emitted into the new function,
//! or `None` when every operand's tangent is zero. Primal values are the
//! new function's copies (`j.primal`). Above each rule is its formula, with
//! `ẋ` the tangent of `x`.

use cdlc_runtime::value::Tensor;

use super::{Jvp, JvpError};
use crate::ir::{BinOp, Op, ReduceOp, UnOp, Value};

/// The tangent of forward value `y`, defined by `op`.
pub(super) fn tangent(j: &mut Jvp, y: Value, op: &Op) -> Result<Option<Value>, JvpError> {
    match op {
        Op::Param(_) | Op::Input(_) | Op::Const(_) | Op::Zeros(_) => Ok(None),
        Op::Binary(bop, a, b) => Ok(binary(j, y, *bop, *a, *b)),
        Op::Unary(uop, x) => match j.tangent(*x) {
            None => Ok(None),
            Some(tx) => unary(j, y, *uop, *x, tx)
                .map(Some)
                .ok_or_else(|| j.no_rule(op)),
        },
        // y = Σ_K a b  ⇒  ẏ = Σ_K ȧ b + Σ_K a ḃ.
        Op::Contract { a, b, axes } => {
            let (ta, tb) = (j.tangent(*a), j.tangent(*b));
            let left = ta.map(|ta| {
                let pb = j.primal(*b);
                j.b.contract(ta, pb, *axes)
            });
            let right = tb.map(|tb| {
                let pa = j.primal(*a);
                j.b.contract(pa, tb, *axes)
            });
            Ok(sum(j, left, right))
        }
        // y = max x  ⇒  ẏ = ẋ at the first maximal entry: the mask of the
        // reverse rule (MaxGrad of ones), times ẋ, summed.
        Op::Reduce {
            op: ReduceOp::Max,
            x,
            axis,
        } => {
            let Some(tx) = j.tangent(*x) else {
                return Ok(None);
            };
            let shape = j.b.shape_of(j.primal(y)).to_vec();
            let n = shape.iter().product();
            let ones = j.b.constant(Tensor::new(shape, vec![1.0; n]));
            let px = j.primal(*x);
            let mask = j.b.op(Op::MaxGrad {
                x: px,
                g: ones,
                axis: *axis,
            });
            let picked = j.b.mul(mask, tx);
            Ok(Some(j.b.reduce(ReduceOp::Sum, picked, *axis)))
        }
        // Linear ops: ẏ is the op applied to the tangents.
        Op::Reduce { .. }
        | Op::Permute { .. }
        | Op::Expand { .. }
        | Op::BroadcastTo { .. }
        | Op::SumTo { .. }
        | Op::Concat(..)
        | Op::Slice { .. }
        | Op::Tuple(_)
        | Op::Get(..)
        | Op::BasisExpand { .. }
        | Op::BasisProject { .. } => Ok(linear(j, op)),
        // y = softmax x  ⇒  ẏ = y ⊙ (ẋ − Σ y ⊙ ẋ).
        Op::Softmax(x) => Ok(j.tangent(*x).map(|tx| {
            let py = j.primal(y);
            let yt = j.b.mul(py, tx);
            let s = j.b.sum(yt);
            let d = j.b.sub(tx, s);
            j.b.mul(py, d)
        })),
        // y = log_softmax x  ⇒  ẏ = ẋ − Σ e^y ⊙ ẋ.
        Op::LogSoftmax(x) => Ok(j.tangent(*x).map(|tx| {
            let py = j.primal(y);
            let p = j.b.unary(UnOp::Exp, py);
            let pt = j.b.mul(p, tx);
            let s = j.b.sum(pt);
            j.b.sub(tx, s)
        })),
        // y = ‖x‖ over the trailing axes  ⇒  ẏ = Σ x ⊙ ẋ / y.
        Op::Norm { x, .. } => Ok(j.tangent(*x).map(|tx| {
            let (px, py) = (j.primal(*x), j.primal(y));
            let shape = j.b.shape_of(py).to_vec();
            let xt = j.b.mul(px, tx);
            let s = j.b.op(Op::SumTo { x: xt, shape });
            j.b.div(s, py)
        })),
        Op::Fold(_) | Op::Unfold(_) => Err(j.unsupported(
            "internal error: folds and unfolds are followed by the walker (recursion.rs)",
        )),
        Op::Map(_) => Err(j.unsupported("maps over structures are not followed")),
        Op::NormGrad { .. }
        | Op::MaxGrad { .. }
        | Op::Loss { .. }
        | Op::LossGrad { .. }
        | Op::FoldBackward(_)
        | Op::MapBackward(_)
        | Op::UnfoldBackward(_) => Err(j.no_rule(op)),
    }
}

/// `a + b` of two optional tangents.
fn sum(j: &mut Jvp, a: Option<Value>, b: Option<Value>) -> Option<Value> {
    match (a, b) {
        (Some(a), Some(b)) => Some(j.b.add(a, b)),
        (a, None) => a,
        (None, b) => b,
    }
}

/// `t` repeated over the trailing axes of `y`, when it is smaller (an
/// operand of a prefix-broadcast binary op).
fn fit(j: &mut Jvp, t: Value, y: Value) -> Value {
    let shape = j.b.shape_of(j.primal(y)).to_vec();
    if j.b.shape_of(t) == shape.as_slice() {
        t
    } else {
        j.b.op(Op::BroadcastTo { x: t, shape })
    }
}

fn binary(j: &mut Jvp, y: Value, op: BinOp, a: Value, b: Value) -> Option<Value> {
    let (ta, tb) = (j.tangent(a), j.tangent(b));
    if ta.is_none() && tb.is_none() {
        return None;
    }
    match op {
        // y = a ± b  ⇒  ẏ = ȧ ± ḃ.
        BinOp::Add | BinOp::Sub => {
            let ta = ta.map(|t| fit(j, t, y));
            let tb = tb.map(|t| {
                let t = fit(j, t, y);
                if op == BinOp::Sub { j.b.neg(t) } else { t }
            });
            sum(j, ta, tb)
        }
        // y = a b  ⇒  ẏ = ȧ b + a ḃ.
        BinOp::Mul => {
            let left = ta.map(|ta| {
                let pb = j.primal(b);
                j.b.mul(ta, pb)
            });
            let right = tb.map(|tb| {
                let pa = j.primal(a);
                j.b.mul(pa, tb)
            });
            sum(j, left, right)
        }
        // y = a / b  ⇒  ẏ = (ȧ − y ḃ) / b.
        BinOp::Div => {
            let pb = j.primal(b);
            let left = ta.map(|ta| j.b.div(ta, pb));
            let right = tb.map(|tb| {
                let py = j.primal(y);
                let ytb = j.b.mul(py, tb);
                let q = j.b.div(ytb, pb);
                j.b.neg(q)
            });
            sum(j, left, right)
        }
    }
}

/// `f'(x) ⊙ ẋ` for a pointwise `f`, using `y = f(x)` where it is simpler.
fn unary(j: &mut Jvp, y: Value, op: UnOp, x: Value, tx: Value) -> Option<Value> {
    let (px, py) = (j.primal(x), j.primal(y));
    let factor = match op {
        // (−x)' = −1.
        UnOp::Neg => return Some(j.b.neg(tx)),
        // relu' = step (0 at 0, as in the reverse rule).
        UnOp::Relu => j.b.unary(UnOp::Step, px),
        // tanh' = 1 − y².
        UnOp::Tanh => {
            let one = j.b.scalar(1.0);
            let yy = j.b.mul(py, py);
            j.b.sub(one, yy)
        }
        // σ' = y (1 − y).
        UnOp::Sigmoid => {
            let one = j.b.scalar(1.0);
            let c = j.b.sub(one, py);
            j.b.mul(py, c)
        }
        // exp' = y.
        UnOp::Exp => py,
        // log' = 1 / x.
        UnOp::Log => return Some(j.b.div(tx, px)),
        // softplus' = σ(x).
        UnOp::Softplus => j.b.unary(UnOp::Sigmoid, px),
        UnOp::Gelu => j.b.unary(UnOp::GeluDeriv, px),
        // |x|' = sign x (0 at 0).
        UnOp::Abs => j.b.unary(UnOp::Sign, px),
        // √x' = 1 / (2 y).
        UnOp::Sqrt => {
            let two = j.b.scalar(2.0);
            let d = j.b.mul(two, py);
            return Some(j.b.div(tx, d));
        }
        // Piecewise constant: the derivative is 0 almost everywhere.
        UnOp::Step | UnOp::Sign => {
            let ty = j.src.types[y].clone();
            return Some(j.b.zeros(ty));
        }
        // Occurs only in reverse derivatives.
        UnOp::GeluDeriv => return None,
    };
    Some(j.b.mul(factor, tx))
}

/// A linear op applied to its operands' tangents (zeros where an operand
/// has none); `None` when no operand has one.
fn linear(j: &mut Jvp, op: &Op) -> Option<Value> {
    let operands: Vec<Value> = op.clone().operands_mut().into_iter().map(|v| *v).collect();
    if operands.iter().all(|&v| j.tangent(v).is_none()) {
        return None;
    }
    let mut new = op.clone();
    for o in new.operands_mut() {
        *o = j.tangent_or_zero(*o);
    }
    Some(j.b.op(new))
}
