//! Folds over data types nobody wrote by hand: seeded random polynomial
//! functors (two to four constructors mixing the element `A`, the carrier
//! `X`, fixed tensors and tuples `R[k] * X`), a random smooth algebra for
//! each (one weight per field, a bias per constructor, an activation and
//! sometimes a gate multiplying two terms), and batches of random values
//! of the data type in which every constructor occurs. Each program must
//! check clean; its reverse derivative is then checked against finite
//! differences in f64 on the interpreter, and the JIT's loss, gradients and
//! outputs against the interpreter's.

use std::fmt::Write;

use cdlc::training::{init_params, prepare};
use cdlc_runtime::value::{Example, Target, Tensor, Value};

use crate::jit::{forward_agrees, training_agrees};
use cdlc_ir::rng::Rng;

/// A field of a constructor.
#[derive(Clone, Copy, Debug)]
enum Field {
    /// The element `A` (`R[d]`).
    Elem,
    /// The carrier `X`.
    Carrier,
    /// A tensor `R[k]` of its own.
    Fixed(usize),
    /// A tuple `R[k] * X`.
    Labelled(usize),
    /// A list of carriers, `List(X)` (a rose node's children).
    Kids,
    /// A binary tree of carriers, `Tree(X)`.
    Grove,
}

impl Field {
    fn holds_carrier(self) -> bool {
        !matches!(self, Field::Elem | Field::Fixed(_))
    }

    fn type_text(self) -> String {
        match self {
            Field::Elem => "A".to_string(),
            Field::Carrier => "X".to_string(),
            Field::Fixed(k) => format!("R[{k}]"),
            Field::Labelled(k) => format!("R[{k}] * X"),
            Field::Kids => "List(X)".to_string(),
            Field::Grove => "Tree(X)".to_string(),
        }
    }
}

/// A random functor: constructor `c0` has no carrier field, and at least
/// one constructor has one.
fn functor(rng: &mut Rng) -> Vec<Vec<Field>> {
    let n = 2 + rng.below(3);
    (0..n)
        .map(|c| {
            let len = if c == 0 {
                rng.below(3)
            } else {
                1 + rng.below(3)
            };
            let mut fields: Vec<Field> = (0..len)
                .map(|_| match rng.below(if c == 0 { 2 } else { 7 }) {
                    0 => Field::Elem,
                    1 => Field::Fixed(1 + rng.below(3)),
                    2 => Field::Labelled(1 + rng.below(3)),
                    3 => Field::Kids,
                    4 => Field::Grove,
                    _ => Field::Carrier,
                })
                .collect();
            if c == 1 && !fields.iter().any(|f| f.holds_carrier()) {
                fields.push(Field::Carrier);
            }
            fields
        })
        .collect()
}

/// The algebras that fold a node's nested field of carriers to one
/// carrier, each with a weight of its own.
const NESTED_ALGEBRAS: &str = "\
algebra kids[h] : ListF(R[h]) -> R[h] {
  param z: R[h] = zeros
  param K: R[h, h] = glorot
  nil => z
  cons(x, acc) => tanh(x + K @ acc)
}

algebra grove[h] : TreeF(R[h]) -> R[h] {
  param G: R[h, h] = glorot
  leaf(x) => x
  node(l, r) => tanh(G @ (l + r))
}

";

/// The program: the functor, its data type, a random algebra and a model
/// folding it, with `h` numbers in the carrier and three classes.
fn program(rng: &mut Rng, ctors: &[Vec<Field>], d: usize, h: usize) -> String {
    let mut src = String::new();
    let uses = |f: fn(&Field) -> bool| ctors.iter().flatten().any(f);
    if uses(|f| matches!(f, Field::Kids)) {
        src.push_str(
            NESTED_ALGEBRAS
                .split("algebra grove")
                .next()
                .expect("two algebras"),
        );
    }
    if uses(|f| matches!(f, Field::Grove)) {
        let at = NESTED_ALGEBRAS
            .find("algebra grove")
            .expect("the tree algebra");
        src.push_str(&NESTED_ALGEBRAS[at..]);
    }
    let decl: Vec<String> = ctors
        .iter()
        .enumerate()
        .map(|(c, fields)| {
            if fields.is_empty() {
                format!("k{c}")
            } else {
                let ts: Vec<String> = fields.iter().map(|f| f.type_text()).collect();
                format!("k{c}({})", ts.join(", "))
            }
        })
        .collect();
    writeln!(src, "functor ShapeF(A) = {}", decl.join(" | ")).unwrap();
    writeln!(src, "data Shape(A) = fix ShapeF(A)\n").unwrap();
    writeln!(src, "algebra alg[d, h] : ShapeF(R[d]) -> R[h] {{").unwrap();
    let mut cases = String::new();
    for (c, fields) in ctors.iter().enumerate() {
        writeln!(src, "  param b{c}: R[h] = zeros").unwrap();
        let mut lets = Vec::new();
        let mut terms = Vec::new();
        let names: Vec<String> = (0..fields.len()).map(|i| format!("f{i}")).collect();
        for (i, f) in fields.iter().enumerate() {
            let w = format!("w{c}_{i}");
            let (shape, arg) = match f {
                Field::Elem => ("h, d".to_string(), names[i].clone()),
                Field::Carrier => ("h, h".to_string(), names[i].clone()),
                Field::Kids => ("h, h".to_string(), format!("fold kids[h] ({})", names[i])),
                Field::Grove => ("h, h".to_string(), format!("fold grove[h] ({})", names[i])),
                Field::Fixed(k) => (format!("h, {k}"), names[i].clone()),
                Field::Labelled(k) => {
                    lets.push(format!("let (u{i}, v{i}) = f{i};"));
                    let v = format!("v{c}_{i}");
                    writeln!(src, "  param {v}: R[h, h] = glorot").unwrap();
                    terms.push(format!("{v} @ v{i}"));
                    (format!("h, {k}"), format!("u{i}"))
                }
            };
            writeln!(src, "  param {w}: R[{shape}] = glorot").unwrap();
            terms.push(format!("{w} @ {arg}"));
        }
        let act = ["tanh", "sigmoid", "softplus"][rng.below(3)];
        let sum = std::iter::once(format!("b{c}"))
            .chain(terms.iter().cloned())
            .collect::<Vec<_>>()
            .join(" + ");
        // Sometimes a gate: one term's sigmoid times the activation.
        let body = if terms.len() >= 2 && rng.below(2) == 0 {
            format!("sigmoid({}) * {act}({sum})", terms[0])
        } else {
            format!("{act}({sum})")
        };
        let pattern = if fields.is_empty() {
            format!("k{c}")
        } else {
            format!("k{c}({})", names.join(", "))
        };
        if lets.is_empty() {
            writeln!(cases, "  {pattern} => {body}").unwrap();
        } else {
            writeln!(cases, "  {pattern} => {{").unwrap();
            for l in &lets {
                writeln!(cases, "    {l}").unwrap();
            }
            writeln!(cases, "    {body}\n  }}").unwrap();
        }
    }
    src.push_str(&cases);
    src.push_str("}\n\n");
    writeln!(
        src,
        "model m(t: Shape(R[{d}])) -> R[3] {{\n  param V: R[3, {h}] = glorot\n  \
         V @ fold alg[{d}, {h}] (t)\n}}"
    )
    .unwrap();
    src
}

fn tensor(rng: &mut Rng, n: usize) -> Value {
    Value::Tensor(Tensor::new(
        vec![n],
        (0..n).map(|_| 2.0 * rng.uniform() - 1.0).collect(),
    ))
}

/// A random value of the data type whose root is constructor `root`,
/// below which constructors are drawn at random (carrier-free ones once
/// `depth` reaches 3).
fn value(rng: &mut Rng, ctors: &[Vec<Field>], d: usize, root: usize, depth: usize) -> Value {
    let fields = ctors[root]
        .iter()
        .map(|f| {
            let child = |rng: &mut Rng| {
                let leaves: Vec<usize> = (0..ctors.len())
                    .filter(|&c| !ctors[c].iter().any(|f| f.holds_carrier()))
                    .collect();
                let c = if depth >= 2 || rng.below(3) == 0 {
                    leaves[rng.below(leaves.len())]
                } else {
                    rng.below(ctors.len())
                };
                value(rng, ctors, d, c, depth + 1)
            };
            match *f {
                Field::Elem => tensor(rng, d),
                Field::Fixed(k) => tensor(rng, k),
                Field::Carrier => child(rng),
                Field::Labelled(k) => Value::Tuple(vec![tensor(rng, k), child(rng)]),
                // At the root, at least one child and one join, so that the
                // nested algebras' weights take part.
                Field::Kids => {
                    let len = if depth == 0 {
                        1 + rng.below(3)
                    } else {
                        rng.below(4)
                    };
                    Value::list((0..len).map(|_| child(rng)).collect())
                }
                Field::Grove => {
                    let mut t = Value::leaf(child(rng));
                    let joins = if depth == 0 {
                        1 + rng.below(2)
                    } else {
                        rng.below(3)
                    };
                    for _ in 0..joins {
                        let other = Value::leaf(child(rng));
                        t = if rng.below(2) == 0 {
                            Value::node(t, other)
                        } else {
                            Value::node(other, t)
                        };
                    }
                    t
                }
            }
        })
        .collect();
    Value::Node {
        ctor: root as u32,
        fields,
    }
}

#[test]
fn random_folds_agree_with_finite_differences_and_the_interpreter() {
    let mut rng = Rng::new(2026);
    for case in 0..40 {
        let ctors = functor(&mut rng);
        let (d, h) = (1 + rng.below(3), 2 + rng.below(3));
        let src = program(&mut rng, &ctors, d, h);
        let c = cdlc::compile("random.cdl", &src);
        assert!(
            c.diagnostics.is_empty(),
            "case {case} should check clean:\n{src}\n{}",
            crate::render_human(&c.diagnostics, &c.sources, false)
        );
        let model = cdlc::entry_model(&c, Some("m")).expect("the model");
        let p = prepare(&c, model, cdlc::training::loss_for(&c, model))
            .unwrap_or_else(|e| panic!("case {case}: {e:?}\n{src}"));
        // Off the initial values, where zero biases would make a carrier
        // of zeros and its weights' gradients zero.
        let params: Vec<Tensor> = init_params(&p.inst, case)
            .into_iter()
            .map(|t| {
                let data = t.data.iter().map(|x| x + 0.3 * rng.normal()).collect();
                Tensor::new(t.shape, data)
            })
            .collect();
        // Every constructor is some example's root, so every weight takes
        // part; then a few more examples of random roots.
        let roots: Vec<usize> = (0..ctors.len())
            .chain((0..3).map(|_| rng.below(ctors.len())))
            .collect();
        let batch: Vec<Example> = roots
            .iter()
            .enumerate()
            .map(|(i, &root)| Example {
                x: value(&mut rng, &ctors, d, root, 0),
                y: Target::Class(i % 3),
            })
            .collect();
        let name = format!("random fold {case}:\n{src}");
        crate::grad::check_batch_gradient(&name, &p, &params, &batch);
        training_agrees(&name, &p, &params, &batch);
        forward_agrees(&name, &p, &params, &batch);
    }
}
