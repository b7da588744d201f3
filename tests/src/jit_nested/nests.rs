//! The JIT against the interpreter on nested fields inside nested fields
//! (`tests/cases/grad/nested_nests.cdl`): a node's field holds a structure
//! whose own nodes hold a nested field of their own, whose recursive
//! positions are that structure's children (a stem's tree of stems, an
//! optional next wrap, three levels of them, a rose tree of stems, a tree
//! and an optional stem in a tuple, a vector beside the stem, the stem
//! folded twice). Each model's reverse derivative is checked against
//! finite differences in f64 first, then the JIT's loss and gradients
//! (f64 and f32) and outputs (f64) against the interpreter, on batches
//! mixing lone tips, stems that stop, empty inner structures (an `Opt`
//! with nothing, a rose with no children), one stem and deep ones, so that
//! the nodes of one level hold structures of different shapes.

use cdlc_runtime::value::Value;

use super::Gen;
use crate::grad::grad_case;

/// What a stem-like node holds beside its value, in its nested field of
/// its own: a binary tree of stems, an optional stem, a rose tree of
/// stems, or a tree and an optional stem in a tuple.
#[derive(Clone, Copy)]
enum Holds {
    Tree,
    Opt,
    Rose,
    Pair,
}

impl Gen {
    /// A stem-like structure `levels` deep (`stop(a)`, constructor 0, at
    /// level 0; `stem(a, field)`, constructor 1, above), each value drawn
    /// by `a`; a stem holds one to three stems a level lower, or none in
    /// an empty `Opt` or a rose without children.
    fn stem(&mut self, levels: usize, holds: Holds, a: &mut dyn FnMut(&mut Gen) -> Value) -> Value {
        let v = a(self);
        if levels == 0 {
            return Value::Node {
                ctor: 0,
                fields: vec![v],
            };
        }
        let n = 1 + (self.k as usize) % 3;
        let mut below = Vec::new();
        for _ in 0..n {
            below.push(self.stem(levels - 1, holds, a));
        }
        let opt = |mut below: Vec<Value>| match below.len() {
            1 => Value::Node {
                ctor: 0,
                fields: vec![],
            },
            _ => Value::Node {
                ctor: 1,
                fields: vec![below.pop().expect("a stem")],
            },
        };
        let field = match holds {
            Holds::Tree => Gen::tree(below),
            Holds::Opt => opt(below),
            Holds::Rose => {
                // The first stem at the root, the others as its children
                // (a rose without children when there is one).
                let mut it = below.into_iter();
                let root = it.next().expect("a stem");
                let kids = it
                    .map(|s| Value::Node {
                        ctor: 0,
                        fields: vec![s, Value::list(vec![])],
                    })
                    .collect();
                Value::Node {
                    ctor: 0,
                    fields: vec![root, Value::list(kids)],
                }
            }
            Holds::Pair => {
                let first = below[0].clone();
                Value::Tuple(vec![Gen::tree(below), opt(vec![first])])
            }
        };
        Value::Node {
            ctor: 1,
            fields: vec![v, field],
        }
    }

    /// A branch `levels` deep (`leafy(a)` or `branch(a, twig)`), whose
    /// twig's nodes hold branches a level lower.
    fn crown_branch(&mut self, levels: usize, a: &mut dyn FnMut(&mut Gen) -> Value) -> Value {
        if levels == 0 {
            let v = a(self);
            return Value::Node {
                ctor: 0,
                fields: vec![v],
            };
        }
        let v = a(self);
        let twig = self.stem(levels, Holds::Tree, &mut |g| g.crown_branch(levels - 1, a));
        Value::Node {
            ctor: 1,
            fields: vec![v, twig],
        }
    }

    /// A structure of model `name`'s input type, `depth` deep, its nested
    /// structures `levels` deep.
    fn nest(&mut self, name: &str, depth: usize, levels: usize) -> Value {
        if depth == 0 {
            return self.tip();
        }
        // Every third child is a lone tip, the others a level less deep.
        let mut child = |g: &mut Gen| match (g.k as usize) % 3 {
            0 => g.tip(),
            _ => g.nest(name, depth - 1, levels),
        };
        let field = match name {
            "stems" | "twice" => self.stem(levels, Holds::Tree, &mut child),
            "wraps" => self.stem(levels, Holds::Opt, &mut child),
            "rosestems" => self.stem(levels, Holds::Rose, &mut child),
            "paired" => self.stem(levels, Holds::Pair, &mut child),
            "branches" => self.crown_branch(levels.min(2), &mut child),
            "tupled" => {
                let v = self.vec2();
                Value::Tuple(vec![v, self.stem(levels, Holds::Tree, &mut child)])
            }
            other => panic!("no structures for {other}"),
        };
        self.node(1, field)
    }
}

/// Structures of model `name`'s input type: a lone tip, a stem that
/// stops, one level of stems, deep ones, and nodes whose children hold
/// stems of their own.
fn structures(name: &str) -> Vec<Value> {
    let mut g = Gen::new(0.0, (0.43, 0.29));
    [(2, 2), (0, 0), (1, 0), (1, 1), (1, 4), (2, 1), (3, 1)]
        .into_iter()
        .map(|(depth, levels)| g.nest(name, depth, levels))
        .collect()
}

/// Model `name` of `nested_nests.cdl` on `xs`: finite differences in f64,
/// then the JIT against the interpreter.
#[track_caller]
fn check_on(name: &str, xs: Vec<Value>) {
    let (p, params) = grad_case("nested_nests", name);
    super::agrees_after_finite_differences(name, &p, &params, xs);
}

#[track_caller]
fn check(name: &str) {
    check_on(name, structures(name));
}

#[test]
fn a_stem_whose_nodes_hold_trees_of_stems() {
    check("stems");
}

#[test]
fn a_stem_folded_twice() {
    // Both folds over the stem add into the field's pool; each stem
    // group's own pool is laid out and scattered once per fold.
    check("twice");
}

#[test]
fn an_optional_next_wrap() {
    // `wrap(a, Opt(X))`: an empty `Opt` holds no stem, so its pool row
    // stays empty.
    check("wraps");
}

#[test]
fn three_levels_of_nested_fields() {
    // A crown's branch's twigs, whose nodes hold trees of twigs: pools
    // inside pools inside pools.
    check("branches");
}

#[test]
fn a_rose_tree_of_stems_inside_a_stem() {
    check("rosestems");
}

#[test]
fn a_tree_and_an_optional_stem_in_a_tuple() {
    check("paired");
}

#[test]
fn a_vector_beside_a_stem() {
    check("tupled");
}

#[test]
fn forty_structures_in_one_batch() {
    let xs = (0..6).flat_map(|_| structures("stems")).take(40).collect();
    check_on("stems", xs);
}

#[test]
fn single_examples() {
    // One structure a batch: a lone tip, a stem that stops, one level, a
    // deep one (some leave slots without a gradient, so only the JIT is
    // compared with the interpreter here).
    let (p, params) = grad_case("nested_nests", "stems");
    let mut g = Gen::new(50.0, (0.43, 0.29));
    for (depth, levels) in [(0, 0), (1, 0), (1, 1), (2, 4)] {
        super::jit_agrees("stems", &p, &params, vec![g.nest("stems", depth, levels)]);
    }
}
