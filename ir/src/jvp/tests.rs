//! Every forward rule against central finite differences in f64: for a
//! small function of each op, `J_f(x) t` from `NAME.jvp` must match
//! `(f(x + εt) − f(x − εt)) / 2ε` entry by entry along a random direction.

use crate::builder::FunctionBuilder;
use crate::gradcheck::{EPS, TOLERANCE, rel_error};
use crate::interp::{Array, IVal, run};
use crate::ir::{FuncId, Module, Op, ReduceOp, Type, UnOp, Value};
use crate::jvp::{JvpError, jvp};
use crate::rng::Rng;
use crate::testmodels::{elman_model, random_params};

/// Inputs drawn positive (for `log` and `sqrt`) or standard normal.
#[derive(Clone, Copy, PartialEq)]
enum Draw {
    Normal,
    Positive,
}

fn random(shape: &[usize], draw: Draw, rng: &mut Rng) -> Array<f64> {
    let n = shape.iter().product();
    let data = (0..n)
        .map(|_| match draw {
            Draw::Normal => rng.normal(),
            Draw::Positive => 0.5 + rng.uniform(),
        })
        .collect();
    Array::new(shape.to_vec(), data)
}

fn flat(v: &IVal<f64>) -> Vec<f64> {
    match v {
        IVal::Tensor(a) => a.data.clone(),
        IVal::Tuple(vs) => vs.iter().flat_map(flat).collect(),
        other => panic!("not a tensor output: {other:?}"),
    }
}

/// Builds `f` from `body` over inputs of the given shapes (and any
/// parameters the body declares), then checks its JVP against finite
/// differences at a random point along a random direction; returns the
/// largest relative error.
#[track_caller]
fn check(
    shapes: &[&[usize]],
    draw: Draw,
    body: impl FnOnce(&mut FunctionBuilder, &[Value]) -> Value,
) -> f64 {
    let mut module = Module::new();
    let mut b = FunctionBuilder::new(&module, "f");
    let xs: Vec<Value> = shapes.iter().map(|s| b.input(Type::tensor(s))).collect();
    let y = body(&mut b, &xs);
    let forward = module.add_function(b.finish(y));
    let tangent_fn = jvp(&mut module, forward).expect("a forward rule for every op");
    let mut rng = Rng::new(17);
    let params = random_params(&module.functions[forward], &mut rng);
    let params: Vec<Array<f64>> = params.iter().map(Array::from_tensor).collect();
    let x: Vec<Array<f64>> = shapes.iter().map(|s| random(s, draw, &mut rng)).collect();
    let t: Vec<Array<f64>> = shapes
        .iter()
        .map(|s| random(s, Draw::Normal, &mut rng))
        .collect();
    let eval = |f: FuncId, inputs: Vec<Array<f64>>| {
        let inputs = inputs.into_iter().map(IVal::Tensor).collect();
        run(&module, f, &params, inputs).expect("runs")
    };
    let shifted = |sign: f64| -> Vec<Array<f64>> {
        x.iter()
            .zip(&t)
            .map(|(x, t)| {
                let data = x
                    .data
                    .iter()
                    .zip(&t.data)
                    .map(|(a, b)| a + sign * EPS * b)
                    .collect();
                Array::new(x.shape.clone(), data)
            })
            .collect()
    };
    let (plus, minus) = (
        flat(&eval(forward, shifted(1.0))),
        flat(&eval(forward, shifted(-1.0))),
    );
    let out = eval(tangent_fn, x.iter().chain(&t).cloned().collect());
    let IVal::Tuple(parts) = &out else {
        panic!("the JVP function returns (y, ẏ)");
    };
    let analytic = flat(&parts[1]);
    assert_eq!(
        flat(&parts[0]),
        flat(&eval(forward, x.clone())),
        "the primal output is f(x)"
    );
    assert_eq!(analytic.len(), plus.len());
    plus.iter()
        .zip(&minus)
        .zip(&analytic)
        .map(|((p, m), a)| rel_error(*a, (p - m) / (2.0 * EPS)))
        .fold(0.0, f64::max)
}

#[track_caller]
fn assert_rule(what: &str, e: f64) {
    assert!(
        e <= TOLERANCE,
        "{what}: JVP differs from finite differences by {e:e}"
    );
}

#[test]
fn binary_rules_with_broadcasting() {
    for (name, op) in [("add", 0), ("sub", 1), ("mul", 2), ("div", 3)] {
        let e = check(&[&[3, 2], &[3]], Draw::Positive, |b, x| {
            let f = |b: &mut FunctionBuilder, p: Value, q: Value| match op {
                0 => b.add(p, q),
                1 => b.sub(p, q),
                2 => b.mul(p, q),
                _ => b.div(p, q),
            };
            let y = f(b, x[0], x[1]);
            f(b, x[1], y)
        });
        assert_rule(name, e);
    }
}

#[test]
fn pointwise_rules() {
    let ops = [
        (UnOp::Neg, Draw::Normal),
        (UnOp::Relu, Draw::Normal),
        (UnOp::Tanh, Draw::Normal),
        (UnOp::Sigmoid, Draw::Normal),
        (UnOp::Exp, Draw::Normal),
        (UnOp::Log, Draw::Positive),
        (UnOp::Softplus, Draw::Normal),
        (UnOp::Gelu, Draw::Normal),
        (UnOp::Abs, Draw::Normal),
        (UnOp::Sqrt, Draw::Positive),
        (UnOp::Step, Draw::Normal),
        (UnOp::Sign, Draw::Normal),
    ];
    for (op, draw) in ops {
        let e = check(&[&[5]], draw, |b, x| b.unary(op, x[0]));
        assert_rule(op.name(), e);
    }
}

#[test]
fn contraction_with_a_parameter_and_between_inputs() {
    let e = check(&[&[3, 4]], Draw::Normal, |b, x| {
        let w = b.param("w", &[2, 3]);
        b.matmul(w, x[0])
    });
    assert_rule("param @ x", e);
    let e = check(&[&[3, 4], &[4, 2]], Draw::Normal, |b, x| {
        let xt = b.transpose(x[0]);
        let g = b.matmul(x[0], x[1]);
        let o = b.contract(xt, g, 1);
        let v = b.outer(x[1], x[1]);
        let s = b.sum(v);
        b.mul(o, s)
    });
    assert_rule("x @ y, transpose, outer", e);
}

#[test]
fn reduction_rules() {
    for op in [ReduceOp::Sum, ReduceOp::Mean, ReduceOp::Max] {
        for axis in [None, Some(0), Some(1)] {
            let e = check(&[&[3, 4]], Draw::Normal, |b, x| b.reduce(op, x[0], axis));
            assert_rule(&format!("{op:?} along {axis:?}"), e);
        }
    }
}

#[test]
fn structural_rules() {
    let e = check(&[&[3], &[2]], Draw::Normal, |b, x| {
        let c = b.concat(x[0], x[1]);
        let s = b.op(Op::Slice {
            x: c,
            start: 1,
            len: 3,
        });
        let e = b.op(Op::Expand {
            x: s,
            axis: 1,
            n: 2,
        });
        let t = b.op(Op::BroadcastTo {
            x: x[0],
            shape: vec![3, 4],
        });
        let u = b.op(Op::SumTo {
            x: t,
            shape: vec![3],
        });
        let p = b.tuple(vec![e, u]);
        let first = b.get(p, 0);
        let second = b.get(p, 1);
        let q = b.sum(first);
        b.mul(second, q)
    });
    assert_rule("concat, slice, expand, broadcast_to, sum_to, tuple, get", e);
}

#[test]
fn softmax_norm_and_gate_rules() {
    let e = check(&[&[6]], Draw::Normal, |b, x| b.softmax(x[0]));
    assert_rule("softmax", e);
    let e = check(&[&[6]], Draw::Normal, |b, x| b.log_softmax(x[0]));
    assert_rule("log_softmax", e);
    let e = check(&[&[2, 3]], Draw::Normal, |b, x| b.norm(x[0], 1));
    assert_rule("norm", e);
    let e = check(&[&[2, 3]], Draw::Normal, |b, x| b.gate(x[0], 1));
    assert_rule("gate", e);
}

#[test]
fn values_without_an_input_have_no_tangent() {
    // y = p ⊙ p + x: the tangent is ẋ exactly, and the parameter's square
    // is never differentiated.
    let e = check(&[&[4]], Draw::Normal, |b, x| {
        let p = b.param("p", &[4]);
        let pp = b.mul(p, p);
        let c = b.scalar(3.0);
        let k = b.mul(pp, c);
        b.add(k, x[0])
    });
    assert_rule("constant subexpression", e);
}

#[test]
fn folds_are_refused_with_a_reason() {
    let mut m = elman_model();
    match jvp(&mut m.module, m.forward) {
        Err(JvpError::Unsupported { message, .. }) => {
            assert!(
                message.contains("data structure") || message.contains("regions"),
                "{message}"
            );
        }
        other => panic!("a fold is not followed, got {other:?}"),
    }
}
