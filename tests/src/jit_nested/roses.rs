//! The JIT against the interpreter on rose trees inside nested fields
//! (`tests/cases/grad/nested_roses.cdl`): a nested structure whose nodes
//! hold a list of their own children (`node(A, Rose(X))`), folded with
//! its children summed, by an Elman cell, twice, or ignoring them; a list
//! of rose trees (`List(Rose(X))`); rose nodes holding a vector beside the
//! child, two children or a binary tree of children; a binary tree of rose
//! trees; a vector beside a rose tree; and the rose tree under a (hidden,
//! cell) carrier. Each model's reverse derivative is checked against
//! finite differences in f64 first, then the JIT's loss and gradients
//! (f64 and f32) and outputs (f64) against the interpreter, on batches
//! mixing rose nodes with no children, one child and many, deep chains
//! and lone tips, so that the nodes of one level hold rose trees of
//! different shapes.

use cdlc_runtime::value::Value;

use super::Gen;
use crate::grad::grad_case;

/// The shape of a structure: its enclosing tree's `depth`, and for each
/// rose tree in it, the root's number of children (`width`) and its
/// `height` (a root with one child and height `h` is a chain of `h + 1`
/// rose nodes).
#[derive(Clone, Copy)]
struct Shape {
    depth: usize,
    width: usize,
    height: usize,
}

impl Gen {
    /// A rose tree whose root holds `width` children (none at height 0);
    /// its first child has one child of its own, child `i > 0` has
    /// `i % 3`, down to the height. Each node's value is `elem`'s.
    fn rose(
        &mut self,
        width: usize,
        height: usize,
        elem: &mut dyn FnMut(&mut Gen) -> Value,
    ) -> Value {
        let a = elem(self);
        let n = if height == 0 { 0 } else { width };
        let kids = (0..n)
            .map(|i| {
                let w = if i == 0 { width.min(1) } else { i % 3 };
                self.rose(w, height - 1, elem)
            })
            .collect();
        Value::Node {
            ctor: 0,
            fields: vec![a, Value::list(kids)],
        }
    }

    /// A structure of model `name`'s input type of shape `s`.
    fn structure(&mut self, name: &str, s: Shape) -> Value {
        if s.depth == 0 {
            return self.tip();
        }
        let below = Shape {
            depth: s.depth - 1,
            ..s
        };
        // Every third child is a lone tip, the others a level less deep.
        let mut child = |g: &mut Gen| match (g.k as usize) % 3 {
            0 => g.tip(),
            _ => g.structure(name, below),
        };
        let (w, h) = (s.width, s.height);
        let field = match name {
            "bush" | "bush_elman" | "bush_twice" | "bush_flat" | "cells" => {
                self.rose(w, h, &mut child)
            }
            "copse" => {
                let roses = (0..w).map(|i| self.rose(i % 3, h, &mut child)).collect();
                Value::list(roses)
            }
            "labelled" => self.rose(w, h, &mut |g| Value::Tuple(vec![g.vec2(), child(g)])),
            "paired" => self.rose(w, h, &mut |g| Value::Tuple(vec![child(g), child(g)])),
            "rosetrees" => self.rose(w, h, &mut |g| {
                let n = (g.k as usize) % 3 + 1;
                Gen::tree((0..n).map(|_| child(g)).collect())
            }),
            "treeroses" => {
                let roses = (0..w.max(1))
                    .map(|i| self.rose(i % 3, h, &mut child))
                    .collect();
                Gen::tree(roses)
            }
            "tupled" => {
                let v = self.vec2();
                Value::Tuple(vec![v, self.rose(w, h, &mut child)])
            }
            other => panic!("no structures for {other}"),
        };
        self.node(1, field)
    }
}

/// A shape.
fn shape(depth: usize, width: usize, height: usize) -> Shape {
    Shape {
        depth,
        width,
        height,
    }
}

/// Structures of model `name`'s input type: a rose with no children, one
/// child and many, a deep chain, a wide and deep one, beside a lone tip.
fn structures(name: &str) -> Vec<Value> {
    let mut g = Gen::new(0.0, (0.47, 0.31));
    [
        shape(2, 3, 2),
        shape(0, 0, 0),
        shape(1, 0, 1),
        shape(1, 1, 1),
        shape(1, 1, 4),
        shape(1, 5, 1),
        shape(2, 2, 2),
    ]
    .into_iter()
    .map(|s| g.structure(name, s))
    .collect()
}

/// Model `name` of `nested_roses.cdl` on `xs`: finite differences in f64,
/// then the JIT against the interpreter.
#[track_caller]
fn check_on(name: &str, xs: Vec<Value>) {
    let (p, params) = grad_case("nested_roses", name);
    super::agrees_after_finite_differences(name, &p, &params, xs);
}

#[track_caller]
fn check(name: &str) {
    check_on(name, structures(name));
}

#[test]
fn a_rose_tree_of_children() {
    check("bush");
}

#[test]
fn a_rose_tree_whose_nodes_fold_their_children_by_an_elman_cell() {
    check("bush_elman");
}

#[test]
fn a_rose_tree_folded_twice() {
    // Both folds' backward add into the field's pool; the rose nodes'
    // lists get the sum of both folds' cotangents.
    check("bush_twice");
}

#[test]
fn a_rose_tree_whose_nodes_ignore_their_children() {
    // The lists of children get the zero cotangent: only the rose nodes'
    // own values (the enclosing tree's children) get one.
    check("bush_flat");
}

#[test]
fn a_list_of_rose_trees() {
    check("copse");
}

#[test]
fn rose_nodes_holding_a_vector_beside_the_child() {
    check("labelled");
}

#[test]
fn rose_nodes_holding_two_children() {
    check("paired");
}

#[test]
fn rose_nodes_holding_binary_trees_of_children() {
    check("rosetrees");
}

#[test]
fn a_binary_tree_of_rose_trees() {
    check("treeroses");
}

#[test]
fn a_vector_beside_a_rose_tree() {
    check("tupled");
}

#[test]
fn a_rose_tree_under_a_pair_carrier() {
    check("cells");
}

#[test]
fn forty_structures_in_one_batch() {
    // A level's group holds rose nodes of many examples, whose lists of
    // children are laid out together.
    let xs = (0..6).flat_map(|_| structures("bush")).take(40).collect();
    check_on("bush", xs);
}

#[test]
fn single_examples() {
    // One structure a batch: a lone tip, a rose without children, one
    // child, a deep chain (some leave slots without a gradient, so only
    // the JIT is compared with the interpreter here).
    let (p, params) = grad_case("nested_roses", "bush");
    let mut g = Gen::new(50.0, (0.47, 0.31));
    for s in [
        shape(0, 0, 0),
        shape(1, 0, 0),
        shape(1, 1, 1),
        shape(1, 1, 5),
    ] {
        super::jit_agrees("bush", &p, &params, vec![g.structure("bush", s)]);
    }
}
