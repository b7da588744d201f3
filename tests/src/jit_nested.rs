//! The JIT against the interpreter on nested data types
//! (`tests/cases/grad/nested_data.cdl`, `examples/labelled_trees.cdl`,
//! `tests/cases/grad/nested_pairs.cdl`): children at the leaves of a
//! binary tree (`Tree(X)`), a list of labelled subtrees (`List(R[2] * X)`),
//! an optional next link (a user's `Opt(X)`), pairs of children read
//! directly (`X * X`, `X * (X * X)`), pairs at a tree's leaves
//! (`Tree(X * X)`), and tuples holding tensors beside children read
//! directly (`R[2] * X`, `X * (R[3] * X)`) or under another data type
//! (`Tree(R[2] * X)`, `List(R[3] * X * X)`), on batches whose structures differ in shape (a lone
//! tip, empty inner lists, wide and deep nodes), so that the nodes of one
//! level hold structures of different shapes. The interpreter's reverse
//! derivatives of these models are checked against finite differences in
//! `nested.rs`; here the JIT's loss, gradients (f64 and f32) and outputs
//! must agree with it; so must a region that ignores its structure and
//! one that folds it twice (`tests/cases/jit/nested.cdl`, whose reverse
//! derivatives are checked against finite differences here). The form
//! the JIT does not build (a structure two data types deep) is refused by
//! name.

use crate::jit::{forward_agrees, training_agrees};
use crate::nested::{Values, examples, model, structures};
use cdlc::training::Prepared;
use cdlc_runtime::value::{Tensor, Value};

/// The JIT against the interpreter on `xs` (loss and gradients in f64
/// and f32, outputs).
#[track_caller]
fn jit_agrees(name: &str, p: &Prepared, params: &[Tensor], xs: Vec<Value>) {
    let batch = examples(p, xs);
    training_agrees(name, p, params, &batch);
    forward_agrees(name, p, params, &batch);
}

/// The interpreter's gradient on `xs` against finite differences in f64,
/// then the JIT against the interpreter.
#[track_caller]
fn agrees_after_finite_differences(name: &str, p: &Prepared, params: &[Tensor], xs: Vec<Value>) {
    let batch = examples(p, xs);
    crate::grad::check_batch_gradient(name, p, params, &batch);
    training_agrees(name, p, params, &batch);
    forward_agrees(name, p, params, &batch);
}

/// Wide and deep structures of each model, beside a lone tip.
fn wide_and_deep(name: &str) -> Vec<Value> {
    let mut v = Values(100.0);
    match name {
        "kid_tree" => vec![
            v.kid_tree(6, 1),
            v.tip(),
            v.kid_tree(2, 4),
            v.kid_tree(1, 5),
            v.kid_tree(4, 2),
        ],
        "labelled" => vec![
            v.labelled(7, 1),
            v.labelled(0, 1),
            v.labelled(1, 5),
            v.tip(),
            v.labelled(3, 2),
        ],
        "chain" => vec![v.chain(12), v.chain(1), v.chain(3), v.chain(7)],
        "twins" => vec![v.twins(9), v.tip(), v.twins(1), v.twins(6)],
        "triples" => vec![v.triples(7), v.triples(3), v.tip(), v.triples(5)],
        "pair_tree" => vec![
            v.pair_tree(5, 1),
            v.tip(),
            v.pair_tree(1, 4),
            v.pair_tree(3, 2),
        ],
        "labs" => vec![v.labs(7), v.tip(), v.labs(3), v.labs(6), v.labs(1)],
        "lab_tree" => vec![
            v.lab_tree(5, 1),
            v.tip(),
            v.lab_tree(1, 4),
            v.lab_tree(3, 2),
        ],
        "pair_list" => vec![
            v.pair_list(4, 1),
            v.pair_list(0, 1),
            v.tip(),
            v.pair_list(2, 3),
        ],
        "forest" => vec![v.forest(3), v.tip(), v.forest(1), v.forest(4)],
        other => panic!("no structures for {other}"),
    }
}

#[track_caller]
fn check(name: &str) {
    let (p, params) = model(name);
    for xs in [structures(name), wide_and_deep(name)] {
        let batch = examples(&p, xs);
        training_agrees(name, &p, &params, &batch);
        forward_agrees(name, &p, &params, &batch);
    }
}

#[test]
fn children_at_the_leaves_of_a_binary_tree() {
    check("kid_tree");
}

#[test]
fn a_list_of_labelled_subtrees() {
    check("labelled");
}

#[test]
fn an_optional_next_link() {
    check("chain");
}

#[test]
fn a_pair_of_children() {
    // `twin(a, (l, r))`: the children are gathered like recursive fields.
    check("twins");
}

#[test]
fn a_triple_of_children_nested_in_pairs_under_a_pair_carrier() {
    // `three((x, (y, z)), a)`: three children read directly, each with a
    // (hidden, cell) carrier, one cell ignored (its cotangent is zero).
    check("triples");
}

#[test]
fn pairs_of_children_at_the_leaves_of_a_binary_tree() {
    // `Tree(X * X)`: each leaf of a node's tree reads two pool rows.
    check("pair_tree");
}

#[test]
fn a_labelled_child_and_a_vector_between_two_children() {
    // `lab(a, (label, c))` and `fork((l, (m, r)), a)`: the tuples'
    // tensors are gathered with the plain fields' in field order (`label`
    // after `a`, `m` before `a`), their children like recursive fields.
    check("labs");
}

#[test]
fn labelled_children_at_the_leaves_of_a_binary_tree() {
    check("lab_tree");
}

#[test]
fn a_list_of_items_holding_a_vector_and_two_children() {
    check("pair_list");
}

#[test]
fn a_batch_of_many_structures() {
    // Forty structures: a level's group holds nodes of many examples,
    // each with its own inner structure.
    for name in [
        "kid_tree",
        "labelled",
        "chain",
        "twins",
        "triples",
        "pair_tree",
        "labs",
        "lab_tree",
        "pair_list",
    ] {
        let (p, params) = model(name);
        let xs = (0..4)
            .flat_map(|_| structures(name).into_iter().chain(wide_and_deep(name)))
            .collect();
        let batch = examples(&p, xs);
        training_agrees(name, &p, &params, &batch);
    }
}

#[test]
fn the_labelled_trees_example() {
    let (p, params, batch) = crate::example_case("labelled_trees", 24);
    training_agrees("labelled_trees", &p, &params, &batch);
    forward_agrees("labelled_trees", &p, &params, &batch);
}

/// Model `name` of `tests/cases/jit/nested.cdl` on kid trees of several
/// shapes.
#[track_caller]
fn check_case_file(name: &str) {
    use cdlc::training::{init_params, loss_for, prepare};
    let path = crate::cases_dir("jit").join("nested.cdl");
    let c = crate::check_clean(&path);
    let model = cdlc::entry_model(&c, Some(name)).expect("a model of the case");
    let p = prepare(&c, model, loss_for(&c, model)).unwrap_or_else(|e| panic!("{name}: {e:?}"));
    let params = init_params(&p.inst, 11);
    let xs = structures("kid_tree")
        .into_iter()
        .chain(wide_and_deep("kid_tree"));
    let batch = examples(&p, xs.collect());
    crate::grad::check_batch_gradient(name, &p, &params, &batch);
    training_agrees(name, &p, &params, &batch);
    forward_agrees(name, &p, &params, &batch);
}

#[test]
fn a_region_that_ignores_its_structure() {
    // The backward region yields the structure's zero cotangent: the
    // children's cotangents are zero.
    check_case_file("ignored");
}

#[test]
fn a_structure_folded_twice() {
    // The two folds' cotangents of the structure are summed in the pool.
    check_case_file("twice");
}

#[test]
fn a_list_of_trees_of_children() {
    // `List(Tree(X))` beside `X * X`: the list's nodes hold trees whose
    // leaves read the pool; their backward adds into the list's pool.
    check("forest");
}

/// Builds structures of the cases' data types from distinct,
/// deterministic vectors `R[2]`: the `k`-th is `(sin(k a), cos(k b))` for
/// the frequencies `(a, b)` a module chose.
struct Gen {
    k: f64,
    freq: (f64, f64),
}

impl Gen {
    fn new(start: f64, freq: (f64, f64)) -> Gen {
        Gen { k: start, freq }
    }

    fn vec2(&mut self) -> Value {
        self.k += 1.0;
        let (a, b) = self.freq;
        Value::Tensor(cdlc_runtime::value::Tensor::new(
            vec![2],
            vec![(self.k * a).sin(), (self.k * b).cos()],
        ))
    }

    /// `tip(a)`, constructor 0 of every functor of the cases.
    fn tip(&mut self) -> Value {
        let a = self.vec2();
        Value::Node {
            ctor: 0,
            fields: vec![a],
        }
    }

    /// Constructor `ctor` holding a vector and the nested field `field`
    /// (`node(a, field)` is constructor 1).
    fn node(&mut self, ctor: u32, field: Value) -> Value {
        let a = self.vec2();
        Value::Node {
            ctor,
            fields: vec![a, field],
        }
    }

    /// A binary tree with these leaves (at least one), split in halves.
    fn tree(mut leaves: Vec<Value>) -> Value {
        if leaves.len() == 1 {
            return Value::leaf(leaves.pop().expect("one leaf"));
        }
        let right = leaves.split_off(leaves.len() / 2);
        Value::node(Gen::tree(leaves), Gen::tree(right))
    }

    /// `n` children of `depth - 1`, every third a lone tip.
    fn children(
        &mut self,
        n: usize,
        depth: usize,
        mut child: impl FnMut(&mut Gen, usize) -> Value,
    ) -> Vec<Value> {
        (0..n)
            .map(|i| match i % 3 {
                2 => self.tip(),
                _ => child(self, depth - 1),
            })
            .collect()
    }
}

mod held;
mod nests;
mod roses;
mod tuples;
