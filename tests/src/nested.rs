//! Nested data types (`tests/cases/grad/nested_data.cdl`,
//! `tests/cases/grad/nested_pairs.cdl`): `X` under another data type in a
//! functor (`Tree(X)`, `List(R[2] * X)`, a user's `Opt(X)`,
//! `List(Tree(X))`, `X * X`, `X * (X * X)`, `Tree(X * X)`). Their reverse
//! derivatives against finite differences in f64 on structures of several
//! shapes, a batch against its examples one by one (f64 and f32), their
//! JSON lines, and a structure that does not fit its type. Tuples holding
//! tensors beside the children (`R[2] * X`) are in `nested/labels.rs`.

mod labels;

use cdlc_runtime::value::{Example, Target, Tensor, Value};

/// A model of the case files, prepared for training, with initial
/// weights: `nested_pairs.cdl` has the models of pairs of children,
/// `nested_data.cdl` the others.
pub(crate) fn model(name: &str) -> (cdlc::training::Prepared, Vec<Tensor>) {
    let file = match name {
        "twins" | "triples" | "pair_tree" => "nested_pairs",
        "labs" | "lab_tree" | "pair_list" => "nested_labels",
        _ => "nested_data",
    };
    crate::grad::grad_case(file, name)
}

/// Builds structures whose vectors `R[2]` are distinct, deterministic
/// numbers.
pub(crate) struct Values(pub(crate) f64);

impl Values {
    fn vec2(&mut self) -> Value {
        self.0 += 1.0;
        let x = self.0;
        Value::Tensor(Tensor::new(
            vec![2],
            vec![(x * 0.37).sin(), (x * 0.91).cos()],
        ))
    }

    fn node(ctor: u32, fields: Vec<Value>) -> Value {
        Value::Node { ctor, fields }
    }

    /// `tip(a)`, constructor 0 of every tree-like functor of the case.
    pub(crate) fn tip(&mut self) -> Value {
        let a = self.vec2();
        Values::node(0, vec![a])
    }

    /// A binary tree (`Tree`) with these leaves, split in halves.
    fn tree(mut leaves: Vec<Value>) -> Value {
        if leaves.len() == 1 {
            return Value::leaf(leaves.pop().expect("one leaf"));
        }
        let right = leaves.split_off(leaves.len() / 2);
        Value::node(Values::tree(leaves), Values::tree(right))
    }

    /// `KidTree`: `node(a, Tree(X))` with `n` children at the tree's leaves,
    /// `depth` levels of such nodes.
    pub(crate) fn kid_tree(&mut self, n: usize, depth: usize) -> Value {
        if depth == 0 {
            return self.tip();
        }
        let kids = (0..n)
            .map(|i| self.kid_tree(n - i % 2, depth - 1))
            .collect();
        let a = self.vec2();
        Values::node(1, vec![a, Values::tree(kids)])
    }

    /// `Labelled`: `node(a, List(R[2] * X))` with `n` labelled subtrees.
    pub(crate) fn labelled(&mut self, n: usize, depth: usize) -> Value {
        if depth == 0 {
            return self.tip();
        }
        let edges = (0..n)
            .map(|i| {
                let label = self.vec2();
                Value::Tuple(vec![label, self.labelled(n + i % 2, depth - 1)])
            })
            .collect();
        let a = self.vec2();
        Values::node(1, vec![a, Value::list(edges)])
    }

    /// `Chain`: `length` links (at least one), the last one's `Opt(X)`
    /// being `none`.
    pub(crate) fn chain(&mut self, length: usize) -> Value {
        let a = self.vec2();
        let mut chain = Values::node(0, vec![a, Values::node(0, Vec::new())]);
        for _ in 1..length {
            let a = self.vec2();
            chain = Values::node(0, vec![a, Values::node(1, vec![chain])]);
        }
        chain
    }

    /// `Twin`: `twin(a, (l, r))` nodes `depth` levels deep on the left,
    /// half as deep on the right.
    pub(crate) fn twins(&mut self, depth: usize) -> Value {
        if depth == 0 {
            return self.tip();
        }
        let l = self.twins(depth - 1);
        let r = self.twins(depth / 2);
        let a = self.vec2();
        Values::node(1, vec![a, Value::Tuple(vec![l, r])])
    }

    /// `Triple`: `three((x, (y, z)), a)` nodes, the children one, two and
    /// three levels shallower.
    pub(crate) fn triples(&mut self, depth: usize) -> Value {
        if depth == 0 {
            return self.tip();
        }
        let x = self.triples(depth - 1);
        let y = self.triples(depth.saturating_sub(2));
        let z = self.triples(depth.saturating_sub(3));
        let a = self.vec2();
        Values::node(1, vec![Value::Tuple(vec![x, Value::Tuple(vec![y, z])]), a])
    }

    /// `PairTree`: `node(a, Tree(X * X))` with `n` pairs of children at the
    /// tree's leaves, `depth` levels of such nodes.
    pub(crate) fn pair_tree(&mut self, n: usize, depth: usize) -> Value {
        if depth == 0 {
            return self.tip();
        }
        let pairs = (0..n)
            .map(|i| {
                let l = self.pair_tree(n - i % 2, depth - 1);
                Value::Tuple(vec![l, self.pair_tree(n, depth.saturating_sub(2))])
            })
            .collect();
        let a = self.vec2();
        Values::node(1, vec![a, Values::tree(pairs)])
    }

    /// `Forest`: a node with a list of trees of subforests, a `twin`, and
    /// tips.
    pub(crate) fn forest(&mut self, depth: usize) -> Value {
        if depth == 0 {
            return self.tip();
        }
        let trees = vec![
            Values::tree(vec![self.forest(depth - 1), self.tip(), self.tip()]),
            Values::tree(vec![self.forest(depth - 1)]),
        ];
        let a = self.vec2();
        let node = Values::node(1, vec![a, Value::list(trees)]);
        let twin = Value::Tuple(vec![node, self.forest(depth - 1)]);
        Values::node(2, vec![twin])
    }
}

/// The structures each model is checked on: several shapes, from one
/// tip to a few levels.
pub(crate) fn structures(name: &str) -> Vec<Value> {
    let mut v = Values(0.0);
    match name {
        "kid_tree" => vec![
            v.tip(),
            v.kid_tree(1, 1),
            v.kid_tree(3, 2),
            v.kid_tree(2, 3),
        ],
        "labelled" => vec![
            v.tip(),
            v.labelled(0, 1),
            v.labelled(2, 2),
            v.labelled(1, 3),
        ],
        "chain" => vec![v.chain(1), v.chain(2), v.chain(5)],
        "forest" => vec![v.tip(), v.forest(1), v.forest(2)],
        "twins" => vec![v.tip(), v.twins(1), v.twins(3), v.twins(2)],
        "triples" => vec![v.triples(2), v.tip(), v.triples(1), v.triples(4)],
        "pair_tree" => vec![
            v.tip(),
            v.pair_tree(1, 1),
            v.pair_tree(3, 2),
            v.pair_tree(2, 3),
        ],
        "labs" => vec![v.labs(2), v.tip(), v.labs(1), v.labs(4)],
        "lab_tree" => vec![
            v.tip(),
            v.lab_tree(1, 1),
            v.lab_tree(3, 2),
            v.lab_tree(2, 3),
        ],
        "pair_list" => vec![
            v.tip(),
            v.pair_list(0, 1),
            v.pair_list(2, 2),
            v.pair_list(1, 3),
        ],
        other => panic!("no structures for {other}"),
    }
}

/// Examples of the structures, each checked against the model's input
/// type as the data loaders check it, with class targets.
pub(crate) fn examples(p: &cdlc::training::Prepared, xs: Vec<Value>) -> Vec<Example> {
    xs.into_iter()
        .enumerate()
        .map(|(i, x)| {
            cdlc_runtime::data::check_value(&x, &p.inst.inputs[0])
                .unwrap_or_else(|e| panic!("structure {i} does not fit the model: {e:?}"));
            Example {
                x,
                y: Target::Class(i % 3),
            }
        })
        .collect()
}

#[track_caller]
fn check_gradient(name: &str) {
    let (p, params) = model(name);
    let batch = examples(&p, structures(name));
    crate::grad::check_batch_gradient(name, &p, &params, &batch);
}

#[test]
fn children_at_the_leaves_of_a_binary_tree() {
    check_gradient("kid_tree");
}

#[test]
fn a_list_of_labelled_subtrees() {
    check_gradient("labelled");
}

#[test]
fn an_optional_next_link() {
    check_gradient("chain");
}

#[test]
fn a_list_of_trees_of_children_and_a_pair_of_children() {
    check_gradient("forest");
}

#[test]
fn a_pair_of_children() {
    check_gradient("twins");
}

#[test]
fn a_triple_of_children_nested_in_pairs_under_a_pair_carrier() {
    check_gradient("triples");
}

#[test]
fn pairs_of_children_at_the_leaves_of_a_binary_tree() {
    check_gradient("pair_tree");
}

#[test]
fn a_batch_equals_its_examples_one_by_one() {
    for name in [
        "kid_tree",
        "labelled",
        "chain",
        "forest",
        "twins",
        "triples",
        "pair_tree",
        "labs",
        "lab_tree",
        "pair_list",
    ] {
        let (p, params) = model(name);
        let batch = examples(&p, structures(name));
        let m = &p.inst.module;
        let (loss, grads) =
            cdlc_ir::interp::loss_and_grad(m, p.train, &params, &batch).expect("the batch runs");
        let n = batch.len() as f64;
        let mut mean_loss = 0.0;
        let mut mean: Vec<Vec<f64>> = grads.iter().map(|g| vec![0.0; g.len()]).collect();
        for ex in &batch {
            let (l, gs) =
                cdlc_ir::interp::loss_and_grad(m, p.train, &params, std::slice::from_ref(ex))
                    .expect("one example runs");
            mean_loss += l / n;
            for (acc, g) in mean.iter_mut().zip(&gs) {
                for (a, x) in acc.iter_mut().zip(&g.data) {
                    *a += x / n;
                }
            }
        }
        assert!(
            (loss - mean_loss).abs() < 1e-12,
            "{name}: {loss} != {mean_loss}"
        );
        for (g, mg) in grads.iter().zip(&mean) {
            for (a, b) in g.data.iter().zip(mg) {
                assert!((a - b).abs() < 1e-12, "{name}: {a} != {b}");
            }
        }
        let (loss32, grads32) =
            cdlc_ir::interp::loss_and_grad_as::<f32>(m, p.train, &params, &batch)
                .expect("the batch runs in f32");
        assert!(
            (loss - loss32).abs() < 1e-5,
            "{name}: f32 loss {loss32} != {loss}"
        );
        for (g, g32) in grads.iter().zip(&grads32) {
            for (a, b) in g.data.iter().zip(&g32.data) {
                assert!((a - b).abs() < 1e-4, "{name}: f32 gradient {b} != {a}");
            }
        }
    }
}

#[test]
fn json_lines_of_nested_structures_load_and_bad_ones_name_the_line() {
    let (p, _) = model("labelled");
    let ty = &p.inst.inputs[0];
    let good = concat!(
        r#"{"x": {"tip": [[0.1, 0.2]]}, "y": 0}"#,
        "\n",
        r#"{"x": {"node": [[0.5, 0.5], [[[1.0, 0.0], {"tip": [[0.3, 0.4]]}], [[0.0, 1.0], {"node": [[0.1, 0.1], []]}]]]}, "y": 2}"#,
        "\n"
    );
    let target = cdlc_runtime::data::TargetType::Class(3);
    let xs =
        cdlc_runtime::data::jsonl::parse(good, std::path::Path::new("train.jsonl"), ty, &target)
            .expect("the lines load");
    assert_eq!(xs.len(), 2);
    let (loss, _) = cdlc_ir::interp::loss_and_grad(
        &p.inst.module,
        p.train,
        &cdlc::training::init_params(&p.inst, 7),
        &xs,
    )
    .expect("the loaded examples run");
    assert!(loss.is_finite());
    // A subtree where a (label, subtree) pair belongs.
    let bad = concat!(
        r#"{"x": {"tip": [[0.1, 0.2]]}, "y": 0}"#,
        "\n",
        r#"{"x": {"node": [[0.5, 0.5], [{"tip": [[0.3, 0.4]]}]]}, "y": 1}"#,
        "\n"
    );
    let e = cdlc_runtime::data::jsonl::parse(bad, std::path::Path::new("train.jsonl"), ty, &target)
        .expect_err("a subtree is not a pair");
    let shown = e.to_string();
    assert!(shown.contains("train.jsonl, line 2"), "{shown}");
    // The subtree's type is named, not numbered (`X1`).
    assert!(shown.contains("expected R[2] * Labelled(R[2])"), "{shown}");
}
