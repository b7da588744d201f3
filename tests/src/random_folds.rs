//! Folds over data types nobody wrote by hand: seeded random polynomial
//! functors (two to four constructors mixing the element `A`, the carrier
//! `X`, fixed tensors, tuples `R[k] * X` and nested `List(X)` and
//! `Tree(X)`), a random smooth algebra for each (one weight per field, a
//! bias per constructor, an activation, sometimes a gate multiplying two
//! terms; in one program of three a pair carrier, a state and a cell each
//! child's cell joins through a gate, as in a Tree-LSTM), and batches of random values
//! of the data type in which every constructor occurs. Each program must
//! check clean; its reverse derivative is then checked against finite
//! differences in f64 on the interpreter, and the JIT's loss, gradients and
//! outputs against the interpreter's.

use std::fmt::Write;

use cdlc::check::LossKind;
use cdlc::training::{Prepared, init_params, prepare};
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
/// carrier, each with a weight of its own: for carriers `R[h]`, and for
/// pair carriers `R[h] * R[h]` (a state and a cell, as in a Tree-LSTM).
const NESTED_ALGEBRAS: [&str; 2] = [
    "\
algebra kids[h] : ListF(R[h]) -> R[h] {
  param z: R[h] = zeros
  param K: R[h, h] = glorot
  nil => z
  cons(x, acc) => tanh(x + K @ acc)
}

",
    "\
algebra grove[h] : TreeF(R[h]) -> R[h] {
  param G: R[h, h] = glorot
  leaf(x) => x
  node(l, r) => tanh(G @ (l + r))
}

",
];

const NESTED_PAIR_ALGEBRAS: [&str; 2] = [
    "\
algebra kids[h] : ListF(R[h] * R[h]) -> R[h] * R[h] {
  param z: R[h] = zeros
  param K: R[h, h] = glorot
  nil => (z, z)
  cons(x, acc) => {
    let (a, b) = x;
    let (p, q) = acc;
    (tanh(a + K @ p), b + q)
  }
}

",
    "\
algebra grove[h] : TreeF(R[h] * R[h]) -> R[h] * R[h] {
  param G: R[h, h] = glorot
  leaf(x) => x
  node(l, r) => {
    let (a, b) = l;
    let (p, q) = r;
    (tanh(G @ (a + p)), b + q)
  }
}

",
];

/// One constructor's case of the random algebra, as it is written.
struct Body {
    ctor: usize,
    pair: bool,
    /// The declarations of its weights.
    params: String,
    /// Its `let` statements.
    lets: Vec<String>,
    /// The terms of its sum.
    terms: Vec<String>,
    /// With pair carriers: the children's cells, each through a gate.
    cells: Vec<String>,
}

impl Body {
    fn param(&mut self, name: String, shape: &str) -> String {
        writeln!(self.params, "  param {name}: R[{shape}] = glorot").unwrap();
        name
    }

    /// A term `w @ value` for field `i`, with `w: R[h, cols]`.
    fn term(&mut self, i: usize, cols: &str, value: String) {
        let w = self.param(format!("w{}_{i}", self.ctor), &format!("h, {cols}"));
        self.terms.push(format!("{w} @ {value}"));
    }

    /// A child's carrier, given as an expression: its state joins the sum
    /// through a weight; with pairs, its cell joins the new cell.
    fn child(&mut self, i: usize, carrier: String) {
        let w = self.param(format!("x{}_{i}", self.ctor), "h, h");
        if self.pair {
            self.lets.push(format!("let (h{i}, c{i}) = {carrier};"));
            let g = self.param(format!("g{}_{i}", self.ctor), "h, h");
            self.cells.push(format!("sigmoid({g} @ h{i}) * c{i}"));
            self.terms.push(format!("{w} @ h{i}"));
        } else {
            self.terms.push(format!("{w} @ {carrier}"));
        }
    }
}

/// The program: the functor, its data type, a random algebra and a model
/// folding it, with `h` numbers in the carrier (two such, a state and a
/// cell, when `pair`) and three classes.
fn program(rng: &mut Rng, ctors: &[Vec<Field>], d: usize, h: usize, pair: bool) -> String {
    let mut src = String::new();
    let nested = if pair {
        NESTED_PAIR_ALGEBRAS
    } else {
        NESTED_ALGEBRAS
    };
    let uses = |f: fn(&Field) -> bool| ctors.iter().flatten().any(f);
    if uses(|f| matches!(f, Field::Kids)) {
        src.push_str(nested[0]);
    }
    if uses(|f| matches!(f, Field::Grove)) {
        src.push_str(nested[1]);
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
    let carrier = if pair { "R[h] * R[h]" } else { "R[h]" };
    writeln!(src, "functor ShapeF(A) = {}", decl.join(" | ")).unwrap();
    writeln!(src, "data Shape(A) = fix ShapeF(A)\n").unwrap();
    writeln!(src, "algebra alg[d, h] : ShapeF(R[d]) -> {carrier} {{").unwrap();
    let mut cases = String::new();
    for (c, fields) in ctors.iter().enumerate() {
        writeln!(src, "  param b{c}: R[h] = zeros").unwrap();
        let mut b = Body {
            ctor: c,
            pair,
            params: String::new(),
            lets: Vec::new(),
            terms: Vec::new(),
            cells: Vec::new(),
        };
        for (i, f) in fields.iter().enumerate() {
            match f {
                Field::Elem => b.term(i, "d", format!("f{i}")),
                Field::Fixed(k) => b.term(i, &k.to_string(), format!("f{i}")),
                Field::Carrier => b.child(i, format!("f{i}")),
                Field::Kids => b.child(i, format!("fold kids[h] (f{i})")),
                Field::Grove => b.child(i, format!("fold grove[h] (f{i})")),
                Field::Labelled(k) => {
                    b.lets.push(format!("let (u{i}, v{i}) = f{i};"));
                    b.term(i, &k.to_string(), format!("u{i}"));
                    b.child(i, format!("v{i}"));
                }
            }
        }
        src.push_str(&b.params);
        let Body {
            mut lets,
            terms,
            cells,
            ..
        } = b;
        let act = ["tanh", "sigmoid", "softplus"][rng.below(3)];
        let sum = std::iter::once(format!("b{c}"))
            .chain(terms.iter().cloned())
            .collect::<Vec<_>>()
            .join(" + ");
        // Sometimes a gate: one term's sigmoid times the activation.
        let state = if terms.len() >= 2 && rng.below(2) == 0 {
            format!("sigmoid({}) * {act}({sum})", terms[0])
        } else {
            format!("{act}({sum})")
        };
        let body = if pair {
            lets.push(format!("let s = {state};"));
            let cell = std::iter::once("tanh(s)".to_string())
                .chain(cells)
                .collect::<Vec<_>>()
                .join(" + ");
            lets.push(format!("let cell = {cell};"));
            "(s * tanh(cell), cell)".to_string()
        } else {
            state
        };
        let pattern = if fields.is_empty() {
            format!("k{c}")
        } else {
            let names: Vec<String> = (0..fields.len()).map(|i| format!("f{i}")).collect();
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
    let read = if pair {
        format!("{{\n    let (s, cell) = fold alg[{d}, {h}] (t);\n    V @ (s + cell)\n  }}")
    } else {
        format!("V @ fold alg[{d}, {h}] (t)")
    };
    writeln!(
        src,
        "model m(t: Shape(R[{d}])) -> R[3] {{\n  param V: R[3, {h}] = glorot\n  {read}\n}}"
    )
    .unwrap();
    src
}

/// The generated program `src`'s model `m`, checked clean and prepared
/// under `loss`, with its parameters moved off their initial values: zero
/// biases and states would make carriers of zeros and their weights'
/// gradients zero.
pub(crate) fn prepared(
    case: u64,
    src: &str,
    loss: LossKind,
    rng: &mut Rng,
) -> (Prepared, Vec<Tensor>) {
    let c = cdlc::compile("random.cdl", src);
    assert!(
        c.diagnostics.is_empty(),
        "case {case} should check clean:\n{src}\n{}",
        crate::render_human(&c.diagnostics, &c.sources, false)
    );
    let model = cdlc::entry_model(&c, Some("m")).expect("the model");
    let p = prepare(&c, model, loss).unwrap_or_else(|e| panic!("case {case}: {e:?}\n{src}"));
    let params = init_params(&p.inst, case)
        .into_iter()
        .map(|t| {
            let data = t.data.iter().map(|x| x + 0.3 * rng.normal()).collect();
            Tensor::new(t.shape, data)
        })
        .collect();
    (p, params)
}

/// A vector of `n` numbers uniform in [-1, 1).
pub(crate) fn tensor(rng: &mut Rng, n: usize) -> Value {
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
        // One program in three has pair carriers (a state and a cell).
        let src = program(&mut rng, &ctors, d, h, case % 3 == 2);
        let loss = cdlc::check::LossKind::CrossEntropy;
        let (p, params) = prepared(case, &src, loss, &mut rng);
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
