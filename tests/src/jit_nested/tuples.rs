//! The JIT against the interpreter on nested fields whose tuples hold
//! structures of children (each structure reached through a component of
//! the tuple, with a pool of its own): a vector beside a tree of children
//! (`R[2] * Tree(X)`, `paired_tree` of
//! `tests/cases/grad/reverse_sites.cdl`, one case ignoring the tuple), and
//! the models of `tests/cases/grad/nested_tuples.cdl`: two structures in
//! one tuple (`Tree(X) * List(X)`), a child read directly beside a tree of
//! labelled children (`X * Tree(R[2] * X)`), and a vector beside an
//! optional child (`R[2] * Opt(X)`); and structures held inside a tuple of
//! a nested structure's node (`List(Tree(X) * R[2])`,
//! `Tree(List(Opt(X) * R[2]))`, `List(Opt(X) * Tree(X))`), and two trees in
//! one tuple, one folded twice or ignored (`Tree(X) * Tree(X)`). Each model's reverse derivative is
//! checked against finite differences in f64 first, then the JIT's loss
//! and gradients (f64 and f32) and outputs (f64) against the interpreter,
//! on batches mixing depths, empty lists, one-leaf trees, absent children
//! and lone tips.

use cdlc::training::Prepared;
use cdlc_runtime::value::{Tensor, Value};

use super::Gen;

impl Gen {
    /// `Paired`: `node(a, (m, tree))` and `skip(a, (m, tree))` by depth,
    /// a tree of `n` children (at least one).
    fn paired(&mut self, n: usize, depth: usize) -> Value {
        if depth == 0 {
            return self.tip();
        }
        let kids = self.children(n.max(1), depth, |g, d| g.paired(n, d));
        let m = self.vec2();
        self.node(
            1 + (depth % 2) as u32,
            Value::Tuple(vec![m, Gen::tree(kids)]),
        )
    }

    /// `Two`: `node(a, (tree, list))`, a tree of `n` children (at least
    /// one) and a list of `n % 3` (empty when `n` is a multiple of 3).
    fn two(&mut self, n: usize, depth: usize) -> Value {
        if depth == 0 {
            return self.tip();
        }
        let kids = self.children(n.max(1), depth, |g, d| g.two(n, d));
        let listed = self.children(n % 3, depth, |g, d| g.two(n + 1, d));
        self.node(1, Value::Tuple(vec![Gen::tree(kids), Value::list(listed)]))
    }

    /// `Mixed`: `node(a, (first, tree))`, a tree of `n` labelled children
    /// (at least one).
    fn mixed(&mut self, n: usize, depth: usize) -> Value {
        if depth == 0 {
            return self.tip();
        }
        let first = self.mixed(n.saturating_sub(1), depth - 1);
        let leaves = self
            .children(n.max(1), depth, |g, d| g.mixed(n, d))
            .into_iter()
            .map(|c| {
                let label = self.vec2();
                Value::Tuple(vec![label, c])
            })
            .collect();
        self.node(1, Value::Tuple(vec![first, Gen::tree(leaves)]))
    }

    /// `Maybe`: a chain of `length` links and stops (alternating with
    /// `stop_every`), each holding a vector and its next link, absent at
    /// the end.
    fn maybe(&mut self, length: usize, stop_every: usize) -> Value {
        if length == 0 {
            return self.tip();
        }
        let next = Gen::opt((length > 1).then(|| self.maybe(length - 1, stop_every)));
        let m = self.vec2();
        let ctor = if length.is_multiple_of(stop_every) {
            2
        } else {
            1
        };
        self.node(ctor, Value::Tuple(vec![m, next]))
    }

    /// `Woods`: `node(a, [(tree, m), ...])`, `n` elements (none when `n`
    /// is 0), element `i`'s tree of `i % 3 + 1` children.
    fn woods(&mut self, n: usize, depth: usize) -> Value {
        if depth == 0 {
            return self.tip();
        }
        let elems = (0..n)
            .map(|i| {
                let kids = self.children(i % 3 + 1, depth, |g, d| g.woods(n, d));
                let m = self.vec2();
                Value::Tuple(vec![Gen::tree(kids), m])
            })
            .collect();
        self.node(1, Value::list(elems))
    }

    /// `Deep`: `node(a, tree)`, a tree of `n` lists (at least one), list
    /// `i` of `i % 3` elements `(opt, m)`, every other option absent.
    fn deep(&mut self, n: usize, depth: usize) -> Value {
        if depth == 0 {
            return self.tip();
        }
        let lists = (0..n.max(1))
            .map(|i| {
                let elems = (0..i % 3)
                    .map(|j| {
                        let child = ((i + j) % 2 == 1).then(|| self.deep(n, depth - 1));
                        let opt = Gen::opt(child);
                        let m = self.vec2();
                        Value::Tuple(vec![opt, m])
                    })
                    .collect();
                Value::list(elems)
            })
            .collect();
        self.node(1, Gen::tree(lists))
    }

    /// An absent (`none`) or present (`some(c)`) child of a user's `Opt`.
    fn opt(child: Option<Value>) -> Value {
        match child {
            None => Value::Node {
                ctor: 0,
                fields: Vec::new(),
            },
            Some(c) => Value::Node {
                ctor: 1,
                fields: vec![c],
            },
        }
    }

    /// `TwinTrees`: `node(a, (l, r))` and `half(a, (l, r))` by depth, trees
    /// of `n` (at least one) and `n % 2 + 2` children.
    fn twin_trees(&mut self, n: usize, depth: usize) -> Value {
        if depth == 0 {
            return self.tip();
        }
        let l = self.children(n.max(1), depth, |g, d| g.twin_trees(n, d));
        let r = self.children(n % 2 + 2, depth, |g, d| g.twin_trees(n + 1, d));
        self.node(
            1 + (depth % 2) as u32,
            Value::Tuple(vec![Gen::tree(l), Gen::tree(r)]),
        )
    }

    /// `Glen`: `node(a, [(opt, tree), ...])`, `n` elements (none when `n`
    /// is 0), every other option absent, element `i`'s tree of `i % 2 + 1`
    /// children.
    fn glen(&mut self, n: usize, depth: usize) -> Value {
        if depth == 0 {
            return self.tip();
        }
        let elems = (0..n)
            .map(|i| {
                let child = (i % 2 == 1).then(|| self.glen(n, depth - 1));
                let kids = self.children(i % 2 + 1, depth, |g, d| g.glen(n, d));
                Value::Tuple(vec![Gen::opt(child), Gen::tree(kids)])
            })
            .collect();
        self.node(1, Value::list(elems))
    }
}

/// Structures of model `name`'s input type: shallow and deep, wide and
/// narrow, beside lone tips.
fn structures(name: &str) -> Vec<Value> {
    let mut g = Gen::new(0.0, (0.41, 0.67));
    match name {
        "paired_tree" => vec![
            g.paired(2, 2),
            g.tip(),
            g.paired(1, 1),
            g.paired(3, 3),
            g.paired(4, 1),
        ],
        "two" => vec![g.two(2, 2), g.tip(), g.two(3, 1), g.two(1, 3), g.two(4, 2)],
        "mixed" => vec![
            g.mixed(2, 2),
            g.mixed(1, 1),
            g.tip(),
            g.mixed(3, 3),
            g.mixed(0, 2),
        ],
        "maybe" => vec![
            g.maybe(4, 3),
            g.tip(),
            g.maybe(1, 2),
            g.maybe(7, 2),
            g.maybe(3, 5),
        ],
        "woods" => vec![
            g.woods(2, 2),
            g.tip(),
            g.woods(0, 1),
            g.woods(1, 1),
            g.woods(3, 3),
            g.woods(4, 1),
        ],
        "deep" => vec![
            g.deep(3, 2),
            g.tip(),
            g.deep(1, 1),
            g.deep(2, 3),
            g.deep(5, 1),
        ],
        "twin_trees" => vec![
            g.twin_trees(2, 2),
            g.tip(),
            g.twin_trees(1, 1),
            g.twin_trees(3, 3),
            g.twin_trees(0, 2),
        ],
        "glen" => vec![
            g.glen(3, 2),
            g.tip(),
            g.glen(0, 1),
            g.glen(1, 1),
            g.glen(2, 3),
            g.glen(4, 1),
        ],
        other => panic!("no structures for {other}"),
    }
}

/// Model `name` of its case file, prepared for training, with initial
/// weights.
fn model(name: &str) -> (Prepared, Vec<Tensor>) {
    let file = match name {
        "paired_tree" => "reverse_sites",
        _ => "nested_tuples",
    };
    crate::grad::grad_case(file, name)
}

/// Model `name` on `xs`: finite differences in f64, then the JIT against
/// the interpreter.
#[track_caller]
fn check_on(name: &str, xs: Vec<Value>) {
    let (p, params) = model(name);
    super::agrees_after_finite_differences(name, &p, &params, xs);
}

#[track_caller]
fn check(name: &str) {
    check_on(name, structures(name));
}

#[test]
fn a_vector_beside_a_tree_of_children_one_case_ignoring_them() {
    // `skip(a, (m, t))` ignores the tuple: its structure's cotangent is
    // zero and the pool's children get none through it.
    check("paired_tree");
}

#[test]
fn a_tree_and_a_list_of_children_in_one_tuple() {
    // Two pools for one field, in walking order.
    check("two");
}

#[test]
fn a_child_read_directly_beside_a_tree_of_labelled_children() {
    check("mixed");
}

#[test]
fn a_vector_beside_an_optional_child() {
    check("maybe");
}

#[test]
fn a_list_of_trees_of_children_each_paired_with_a_vector() {
    // `List(Tree(X) * R[2])`: each list node's tree is reached through a
    // component of its tuple field.
    check("woods");
}

#[test]
fn an_optional_child_in_a_tuple_in_a_list_in_a_tree() {
    // `Tree(List(Opt(X) * R[2]))`: empty lists, absent children.
    check("deep");
}

#[test]
fn two_trees_in_a_tuple_one_folded_twice_or_ignored() {
    // Two pools of one type; a tree folded twice sums its pool's
    // cotangents, an ignored one gives its children none.
    check("twin_trees");
}

#[test]
fn an_optional_child_and_a_tree_in_a_list_nodes_tuple() {
    // `List(Opt(X) * Tree(X))`: two structures in one tuple of the list
    // node, numbered 0 and 1 among the node's structures.
    check("glen");
}

#[test]
fn one_batch_of_many_shapes() {
    // Forty structures in one batch, so that a level's group holds nodes
    // of many examples whose structures are scheduled together.
    for name in ["paired_tree", "two", "woods"] {
        let xs = (0..8).flat_map(|_| structures(name)).take(40).collect();
        check_on(name, xs);
    }
}

#[test]
fn single_examples() {
    // One structure a batch (some leave slots without a gradient, so only
    // the JIT is compared with the interpreter here).
    let mut g = Gen::new(50.0, (0.41, 0.67));
    let cases = [
        ("paired_tree", vec![g.tip(), g.paired(1, 1), g.paired(2, 2)]),
        ("two", vec![g.two(3, 1), g.two(1, 1)]),
        ("mixed", vec![g.mixed(0, 1)]),
        ("maybe", vec![g.maybe(1, 1), g.maybe(1, 2)]),
        ("woods", vec![g.woods(0, 1), g.woods(1, 1)]),
        ("deep", vec![g.deep(0, 1)]),
    ];
    for (name, xs) in cases {
        let (p, params) = model(name);
        for x in xs {
            super::jit_agrees(name, &p, &params, vec![x]);
        }
    }
}
