//! Unfolds nobody wrote by hand: seeded random Mealy machines and stream
//! coalgebras (random sizes, activations and outputs that read the state,
//! the input or both, sometimes gated), run four ways: a machine tagging
//! every position of a list, a fold reading a machine's outputs, a stream
//! unfolded from a model's input, and a machine over another machine's
//! outputs. Each program must check clean; its reverse derivative is then
//! checked against finite differences in f64 on the interpreter, and the
//! JIT's loss, gradients and outputs against the interpreter's, on lists of
//! different lengths (one element to seven). Each model's output work is
//! also hoisted out of its unfolds and checked the same way
//! (`hoist_unfold::check`).

use std::fmt::Write;

use cdlc::check::LossKind;
use cdlc_ir::rng::Rng;
use cdlc_runtime::value::{Example, Target, Value};

use crate::jit::{forward_agrees, training_agrees};
use crate::random_folds::{prepared, tensor};

const ACTIVATIONS: [&str; 3] = ["tanh", "sigmoid", "softplus"];

fn pick<'a>(rng: &mut Rng, of: &[&'a str]) -> &'a str {
    of[rng.below(of.len())]
}

/// A Mealy machine `NAME[i, o, h]` whose output reads the new state, the
/// input, or both.
fn machine(rng: &mut Rng, name: &str) -> String {
    let act = pick(rng, &ACTIVATIONS);
    let out = match rng.below(3) {
        0 => "V @ s2".to_string(),
        1 => format!("{}(V @ s2) + Q @ x", pick(rng, &ACTIVATIONS)),
        _ => "sigmoid(Q @ x) * tanh(V @ s2)".to_string(),
    };
    let q = if out.contains('Q') {
        "  param Q: R[o, i] = glorot\n"
    } else {
        ""
    };
    format!(
        "coalgebra {name}[i, o, h] : R[h] -> Mealy(R[i], R[o]) {{\n  \
         param W: R[h, h] = orthogonal\n  param U: R[h, i] = glorot\n  \
         param b: R[h] = zeros\n  param V: R[o, h] = glorot\n{q}  \
         step(s, x) => {{\n    let s2 = {act}(W @ s + U @ x + b);\n    ({out}, s2)\n  }}\n}}\n\n"
    )
}

/// A stream `emit[o, h]`: each step emits a read of the state and moves it.
fn stream(rng: &mut Rng) -> String {
    let act = pick(rng, &ACTIVATIONS);
    let (out, c) = if rng.below(2) == 0 {
        ("C @ s", "")
    } else {
        ("tanh(C @ s) + c", "  param c: R[o] = zeros\n")
    };
    format!(
        "coalgebra emit[o, h] : R[h] -> StreamF(R[o]) {{\n  \
         param A: R[h, h] = orthogonal\n  param C: R[o, h] = glorot\n  param a: R[h] = zeros\n{c}  \
         next(s) => ({out}, {act}(A @ s + a))\n}}\n\n"
    )
}

/// The ways a model runs its unfolds.
#[derive(Clone, Copy, Debug)]
enum Shape {
    /// `unfold mm from s0 over xs`: a class per position.
    Tagger,
    /// `fold cell (unfold mm from s0 over xs)`: one class.
    Reader,
    /// `unfold emit from tanh(E @ z) take k`: a class per step.
    Stream(usize),
    /// `unfold top from t0 over (unfold mm from s0 over xs)`.
    Stacked,
}

/// The program of `shape` with input width `i`, states of `h` numbers and
/// intermediate outputs of `o`.
fn program(rng: &mut Rng, shape: Shape, i: usize, o: usize, h: usize) -> String {
    let mut src = String::new();
    match shape {
        Shape::Tagger => {
            src += &machine(rng, "mm");
            writeln!(
                src,
                "model m(xs: List(R[{i}])) -> List(R[3]) {{\n  param s0: R[{h}] = zeros\n  \
                 unfold mm[{i}, 3, {h}] from s0 over xs\n}}"
            )
        }
        Shape::Reader => {
            src += &machine(rng, "mm");
            src += "algebra cell[d, k] : ListF(R[d]) -> R[k] {\n  param W: R[k, k] = orthogonal\n  \
                    param U: R[k, d] = glorot\n  param z: R[k] = zeros\n  nil => z\n  \
                    cons(x, s) => tanh(W @ s + U @ x)\n}\n\n";
            writeln!(
                src,
                "model m(xs: List(R[{i}])) -> R[3] {{\n  param s0: R[{h}] = zeros\n  \
                 param P: R[3, 5] = glorot\n  \
                 P @ fold cell[{o}, 5] (unfold mm[{i}, {o}, {h}] from s0 over xs)\n}}"
            )
        }
        Shape::Stream(k) => {
            src += &stream(rng);
            writeln!(
                src,
                "model m(z: R[{i}]) -> List(R[3]) {{\n  param E: R[{h}, {i}] = glorot\n  \
                 unfold emit[3, {h}] from tanh(E @ z) take {k}\n}}"
            )
        }
        Shape::Stacked => {
            src += &machine(rng, "mm");
            src += &machine(rng, "top");
            writeln!(
                src,
                "model m(xs: List(R[{i}])) -> List(R[3]) {{\n  param s0: R[{h}] = zeros\n  \
                 param t0: R[4] = zeros\n  \
                 unfold top[{o}, 3, 4] from t0 over (unfold mm[{i}, {o}, {h}] from s0 over xs)\n}}"
            )
        }
    }
    .expect("writing to a string");
    src
}

/// A class per position, `len` of them.
fn classes(rng: &mut Rng, len: usize) -> Target {
    Target::Seq((0..len).map(|_| Target::Class(rng.below(3))).collect())
}

#[test]
fn random_unfolds_agree_with_finite_differences_and_the_interpreter() {
    let mut rng = Rng::new(2027);
    let mut hoisted = 0;
    for case in 0..24 {
        let shape = match case % 4 {
            0 => Shape::Tagger,
            1 => Shape::Reader,
            2 => Shape::Stream(2 + rng.below(5)),
            _ => Shape::Stacked,
        };
        let (i, o, h) = (1 + rng.below(3), 1 + rng.below(4), 2 + rng.below(4));
        let src = program(&mut rng, shape, i, o, h);
        let (p, params) = prepared(case, &src, LossKind::CrossEntropy, &mut rng);
        let batch: Vec<Example> = (0..5)
            .map(|_| {
                let len = 1 + rng.below(7);
                match shape {
                    Shape::Stream(k) => Example {
                        x: tensor(&mut rng, i),
                        y: classes(&mut rng, k),
                    },
                    _ => Example {
                        x: Value::list((0..len).map(|_| tensor(&mut rng, i)).collect()),
                        y: match shape {
                            Shape::Reader => Target::Class(rng.below(3)),
                            _ => classes(&mut rng, len),
                        },
                    },
                }
            })
            .collect();
        let name = format!("random unfold {case} ({shape:?}):\n{src}");
        crate::grad::check_batch_gradient(&name, &p, &params, &batch);
        training_agrees(&name, &p, &params, &batch);
        forward_agrees(&name, &p, &params, &batch);
        if crate::hoist_unfold::check(&name, &p, &params, &batch) {
            hoisted += 1;
        }
    }
    // Every output head reads the state through a product (`V @ s2`,
    // `C @ s`), so every unfold's output work is hoisted (with the input
    // too where the head reads it).
    assert_eq!(hoisted, 24);
}
