//! Nested tuples holding tensors beside the enclosing fold's children
//! (`tests/cases/grad/nested_labels.cdl`): a node with one labelled child
//! (`lab(A, R[2] * X)`), two children with a vector between them before a
//! plain field (`fork(X * (R[3] * X), A)`), labelled children at a binary
//! tree's leaves (`Tree(R[2] * X)`) and a list of items holding a vector
//! and two children (`List(R[3] * X * X)`). Their structures, and their
//! reverse derivatives against finite differences in f64.

use cdlc_runtime::value::{Tensor, Value};

use super::{Values, check_gradient};

impl Values {
    fn vec3(&mut self) -> Value {
        self.0 += 1.0;
        let x = self.0;
        Value::Tensor(Tensor::new(
            vec![3],
            vec![(x * 0.53).sin(), (x * 0.29).cos(), (x * 0.71).sin()],
        ))
    }

    /// `Lab`: `depth` levels, a `lab(a, (label, child))` at odd depths and
    /// a `fork((l, (m, r)), a)` at even ones, the right child half as
    /// deep as the left.
    pub(crate) fn labs(&mut self, depth: usize) -> Value {
        if depth == 0 {
            return self.tip();
        }
        if depth % 2 == 1 {
            let label = self.vec2();
            let child = self.labs(depth - 1);
            let a = self.vec2();
            return Values::node(1, vec![a, Value::Tuple(vec![label, child])]);
        }
        let l = self.labs(depth - 1);
        let m = self.vec3();
        let r = self.labs(depth / 2);
        let a = self.vec2();
        Values::node(2, vec![Value::Tuple(vec![l, Value::Tuple(vec![m, r])]), a])
    }

    /// `LabTree`: `node(a, Tree(R[2] * X))` with `n` labelled children at
    /// the tree's leaves, `depth` levels of such nodes.
    pub(crate) fn lab_tree(&mut self, n: usize, depth: usize) -> Value {
        if depth == 0 {
            return self.tip();
        }
        let kids = (0..n)
            .map(|i| {
                let label = self.vec2();
                Value::Tuple(vec![label, self.lab_tree(n - i % 2, depth - 1)])
            })
            .collect();
        let a = self.vec2();
        Values::node(1, vec![a, Values::tree(kids)])
    }

    /// `PairList`: `node(a, List(R[3] * X * X))` with `n` items, `depth`
    /// levels of such nodes; an item's second child is shallower.
    pub(crate) fn pair_list(&mut self, n: usize, depth: usize) -> Value {
        if depth == 0 {
            return self.tip();
        }
        let items = (0..n)
            .map(|i| {
                let m = self.vec3();
                let l = self.pair_list(n - i % 2, depth - 1);
                let r = self.pair_list(n, depth.saturating_sub(2));
                Value::Tuple(vec![m, l, r])
            })
            .collect();
        let a = self.vec2();
        Values::node(1, vec![a, Value::list(items)])
    }
}

#[test]
fn a_labelled_child_and_a_vector_between_two_children() {
    check_gradient("labs");
}

#[test]
fn labelled_children_at_the_leaves_of_a_binary_tree() {
    check_gradient("lab_tree");
}

#[test]
fn a_list_of_items_holding_a_vector_and_two_children() {
    check_gradient("pair_list");
}
