//! The JIT against the interpreter on nested fields whose structure holds
//! other structures of children (`tests/cases/jit/held_nested.cdl`): a
//! list of binary trees (`List(Tree(X))`), a binary tree of lists
//! (`Tree(List(X))`), an optional tree (`Opt(Tree(X))`) and a list of
//! trees of lists (`List(Tree(List(X)))`), with a list node's tree folded
//! twice and ignored. Each model's reverse derivative is checked against
//! finite differences in f64 first, then the JIT's loss and gradients
//! (f64 and f32) and outputs (f64) against the interpreter, on batches
//! mixing depths, empty lists, one-leaf trees, absent trees and lone
//! tips, so that the nodes of one level hold structures of different
//! shapes.

use cdlc::training::{init_params, loss_for, prepare};
use cdlc_runtime::value::Value;

use super::Gen;

impl Gen {
    /// `Grove`: a node holding `n` trees (none when `n` is 0), tree `i`
    /// with `i % 3 + 1` leaves (a one-leaf tree first).
    fn grove(&mut self, n: usize, depth: usize) -> Value {
        if depth == 0 {
            return self.tip();
        }
        let trees = (0..n)
            .map(|i| {
                let kids = self.children(i % 3 + 1, depth, |g, d| g.grove(n, d));
                Gen::tree(kids)
            })
            .collect();
        self.node(1, Value::list(trees))
    }

    /// `Thicket`: a node holding a tree of `n` lists (at least one leaf),
    /// list `i` of `i % 3` children (the first one empty).
    fn thicket(&mut self, n: usize, depth: usize) -> Value {
        if depth == 0 {
            return self.tip();
        }
        let lists = (0..n.max(1))
            .map(|i| Value::list(self.children(i % 3, depth, |g, d| g.thicket(n, d))))
            .collect();
        self.node(1, Gen::tree(lists))
    }

    /// `Branch`: a node holding no tree when `n` is 0, else a tree of `n`
    /// children.
    fn branch(&mut self, n: usize, depth: usize) -> Value {
        if depth == 0 {
            return self.tip();
        }
        let opt = match n {
            0 => Value::Node {
                ctor: 0,
                fields: Vec::new(),
            },
            _ => Value::Node {
                ctor: 1,
                fields: vec![Gen::tree(self.children(n, depth, |g, d| g.branch(n, d)))],
            },
        };
        self.node(1, opt)
    }

    /// `Weald`: a node holding `n` trees of lists, tree `i` with
    /// `i % 2 + 1` leaves, each a list of up to two children.
    fn weald(&mut self, n: usize, depth: usize) -> Value {
        if depth == 0 {
            return self.tip();
        }
        let trees = (0..n)
            .map(|i| {
                let lists = (0..i % 2 + 1)
                    .map(|j| Value::list(self.children((i + j) % 3, depth, |g, d| g.weald(n, d))))
                    .collect();
                Gen::tree(lists)
            })
            .collect();
        self.node(1, Value::list(trees))
    }
}

/// Structures of model `name`'s input type: shallow and deep, wide and
/// narrow, beside lone tips.
fn structures(name: &str) -> Vec<Value> {
    let mut g = Gen::new(0.0, (0.53, 0.29));
    match name {
        "grove" | "grove_twice" | "grove_ignored" => vec![
            g.grove(3, 2),
            g.tip(),
            g.grove(0, 1),
            g.grove(1, 1),
            g.grove(2, 3),
            g.grove(4, 1),
        ],
        "thicket" => vec![
            g.thicket(3, 2),
            g.thicket(1, 1),
            g.tip(),
            g.thicket(2, 3),
            g.thicket(5, 1),
        ],
        "branch" => vec![
            g.branch(2, 3),
            g.branch(0, 1),
            g.tip(),
            g.branch(1, 2),
            g.branch(4, 2),
        ],
        "weald" => vec![
            g.weald(2, 2),
            g.tip(),
            g.weald(0, 1),
            g.weald(3, 2),
            g.weald(1, 3),
        ],
        other => panic!("no structures for {other}"),
    }
}

/// Model `name` of `held_nested.cdl` on `xs`: finite differences in f64,
/// then the JIT against the interpreter.
#[track_caller]
fn check_on(name: &str, xs: Vec<Value>) {
    let path = crate::cases_dir("jit").join("held_nested.cdl");
    let c = crate::check_clean(&path);
    let model = cdlc::entry_model(&c, Some(name)).expect("a model of the case");
    let p = prepare(&c, model, loss_for(&c, model)).unwrap_or_else(|e| panic!("{name}: {e:?}"));
    let params = init_params(&p.inst, 7);
    super::agrees_after_finite_differences(name, &p, &params, xs);
}

#[track_caller]
fn check(name: &str) {
    check_on(name, structures(name));
}

#[test]
fn a_list_of_trees_of_children() {
    check("grove");
}

#[test]
fn a_list_nodes_tree_folded_twice() {
    // Both folds of a tree add into the list's pool cotangents.
    check("grove_twice");
}

#[test]
fn a_list_nodes_tree_ignored() {
    // The tree's zero cotangent: the children get none through it.
    check("grove_ignored");
}

#[test]
fn a_tree_of_lists_of_children() {
    check("thicket");
}

#[test]
fn an_optional_tree_of_children() {
    check("branch");
}

#[test]
fn a_list_of_trees_of_lists_of_children() {
    // Three data types deep: a tree held in a list node holds lists.
    check("weald");
}

#[test]
fn one_batch_of_many_shapes() {
    // Forty structures in one batch: a level's group holds list nodes of
    // many examples, whose trees are scheduled together.
    let xs = (0..7).flat_map(|_| structures("grove")).take(40).collect();
    check_on("grove", xs);
}

#[test]
fn single_examples() {
    // One structure a batch: a lone tip, an empty list, one one-leaf tree
    // (each leaves some slots without a gradient, so only the JIT is
    // compared with the interpreter here).
    let path = crate::cases_dir("jit").join("held_nested.cdl");
    let c = crate::check_clean(&path);
    let model = cdlc::entry_model(&c, Some("grove")).expect("the grove model");
    let p = prepare(&c, model, loss_for(&c, model)).expect("grove prepares");
    let params = init_params(&p.inst, 7);
    let mut g = Gen::new(50.0, (0.53, 0.29));
    for x in [g.tip(), g.grove(0, 1), g.grove(1, 1)] {
        super::jit_agrees("grove", &p, &params, vec![x]);
    }
}
