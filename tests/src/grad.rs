//! Reverse derivatives of whole example models against finite differences
//! in f64, on examples from their own train blocks; and of rose-tree models
//! (`tests/cases/grad/rose.cdl`) on trees of chosen shapes, with the
//! interpreter's batches of such trees.

use crate::{TrainCase, cases_dir, check_clean, train_cases};
use cdlc_ir::gradcheck::{Coords, GradCheck, Sampling};
use cdlc_runtime::value::{Example, Target, Tensor, Value};

/// Largest relative error a gradient may have against central differences.
const TOLERANCE: f64 = cdlc_ir::gradcheck::TOLERANCE;

/// How far the examples' parameters are moved from their initial values
/// before the check: zero-initialised biases put ReLUs exactly at their
/// kink on sparse (one-hot) data, where no finite difference tells a
/// derivative; a generic point has no such ties.
const OFF_THE_INIT: f64 = 0.05;

/// Every example's reverse derivative, as the reference interpreter
/// computes it, against central differences in f64, for each of its train
/// blocks, on examples of its own data: a seeded sample of entries of every
/// slot and random directions over all of them (the interpreter expands
/// the large equivariant maps densely, so a full check of `p4_patterns`
/// would take minutes).
#[test]
fn every_examples_reverse_derivative_matches_finite_differences() {
    let sampling = Sampling {
        coords: Coords::Sample(32),
        directions: 2,
    };
    for case in train_cases(2) {
        let params = off_the_init(&case.params);
        let m = &case.prepared;
        let r = cdlc_ir::gradcheck::gradcheck_sampled(
            &m.inst.module,
            m.train,
            &params,
            &case.batch,
            11,
            sampling,
        )
        .expect("the check runs");
        assert_passed(&case, &r);
    }
}

/// The same check with the compiled f64 training kernel computing the loss
/// and its gradient: more entries, since the kernel is fast, and it is a
/// second, independently compiled derivative of the same program.
#[test]
fn every_examples_compiled_derivative_matches_finite_differences() {
    let sampling = Sampling {
        coords: Coords::Sample(96),
        directions: 4,
    };
    for case in train_cases(2) {
        let params = off_the_init(&case.params);
        let opts = cdlc_jit::Options {
            dtype: cdlc_jit::Dtype::F64,
            batch: case.batch.len(),
        };
        let m = &case.prepared;
        let mut kernel =
            cdlc_jit::compile_train(&m.inst.module, m.train, &opts).expect("the kernel compiles");
        let names: Vec<String> = m.inst.slots.iter().map(|s| s.name.clone()).collect();
        let mut grads = vec![0.0f64; kernel.num_params()];
        let r = cdlc_ir::gradcheck::check(&names, &params, 11, sampling, |ps| {
            let flat: Vec<f64> = ps.iter().flat_map(|t| t.data.iter().copied()).collect();
            let loss = kernel
                .step_examples(&flat, &case.batch, &mut grads)
                .map_err(|e| e.to_string())?
                .loss;
            let mut at = 0;
            let per_slot = ps
                .iter()
                .map(|t| {
                    at += t.data.len();
                    Tensor::new(t.shape.clone(), grads[at - t.data.len()..at].to_vec())
                })
                .collect();
            Ok::<_, String>((loss, per_slot))
        })
        .expect("the check runs");
        assert_passed(&case, &r);
    }
}

/// `params`, each entry moved by a seeded normal step of `OFF_THE_INIT`.
fn off_the_init(params: &[Tensor]) -> Vec<Tensor> {
    let mut rng = cdlc_ir::rng::Rng::new(5);
    params
        .iter()
        .map(|t| {
            let data = t
                .data
                .iter()
                .map(|x| x + OFF_THE_INIT * rng.normal())
                .collect();
            Tensor::new(t.shape.clone(), data)
        })
        .collect()
}

/// Asserts that a check passed and compared something in every slot: a
/// slot whose sampled entries were all skipped would be checked only
/// along the random directions.
#[track_caller]
fn assert_passed(case: &TrainCase, r: &GradCheck) {
    assert!(
        r.passed(),
        "{}: max relative error {:e} > {TOLERANCE:e}, or nothing compared\n{r:#?}",
        case.name,
        r.max_rel_error(),
    );
    for slot in &r.params {
        assert!(
            slot.compared > 0,
            "{}: no entry of {} compared\n{r:#?}",
            case.name,
            slot.name
        );
    }
    assert!(
        r.directions_compared > 0,
        "{}: no direction compared\n{r:#?}",
        case.name
    );
}

// ------------------------------------------------------------ rose trees

/// Builds rose trees (`tests/cases/grad/rose.cdl`) whose node values are a
/// fixed, varied sequence, so that no two nodes hold the same value.
pub(crate) struct Roses {
    /// The size of a node's value.
    d: usize,
    /// Nodes built so far.
    count: usize,
}

impl Roses {
    pub(crate) fn new(d: usize) -> Roses {
        Roses { d, count: 0 }
    }

    /// A node with these children.
    pub(crate) fn node(&mut self, kids: Vec<Value>) -> Value {
        self.count += 1;
        let k = self.count as f64;
        let a = (0..self.d)
            .map(|j| (1.7 * k + 0.9 * j as f64).sin())
            .collect();
        Value::Node {
            ctor: 0,
            fields: vec![
                Value::Tensor(Tensor::new(vec![self.d], a)),
                Value::list(kids),
            ],
        }
    }

    /// A node without children.
    pub(crate) fn leaf(&mut self) -> Value {
        self.node(Vec::new())
    }

    /// A root with three children, one of which has a child of its own.
    pub(crate) fn mixed(&mut self) -> Value {
        let kids = vec![self.leaf(), self.node_of_leaves(1), self.leaf()];
        self.node(kids)
    }

    /// A node whose children are `n` leaves.
    pub(crate) fn node_of_leaves(&mut self, n: usize) -> Value {
        let kids = (0..n).map(|_| self.leaf()).collect();
        self.node(kids)
    }

    /// A chain of `depth` nodes, each the only child of the one above.
    pub(crate) fn deep(&mut self, depth: usize) -> Value {
        let mut t = self.leaf();
        for _ in 1..depth {
            t = self.node(vec![t]);
        }
        t
    }

    /// A root with seven children, two of which have two children each.
    pub(crate) fn wide(&mut self) -> Value {
        let kids = (0..7)
            .map(|i| {
                if i == 2 || i == 5 {
                    self.node_of_leaves(2)
                } else {
                    self.leaf()
                }
            })
            .collect();
        self.node(kids)
    }
}

/// A model of `tests/cases/grad/rose.cdl`, prepared for training, with its
/// initial parameters.
pub(crate) fn rose_model(name: &str) -> (cdlc::training::Prepared, Vec<Tensor>) {
    grad_case("rose", name)
}

/// Model `name` of `tests/cases/grad/FILE.cdl`, prepared for training, with
/// its initial parameters.
pub(crate) fn grad_case(file: &str, name: &str) -> (cdlc::training::Prepared, Vec<Tensor>) {
    use cdlc::training::{init_params, loss_for, prepare};
    let c = check_clean(&cases_dir("grad").join(format!("{file}.cdl")));
    let model = cdlc::entry_model(&c, Some(name)).expect("a model of the case");
    let p = prepare(&c, model, loss_for(&c, model)).unwrap_or_else(|e| panic!("{name}: {e:?}"));
    let params = init_params(&p.inst, 7);
    (p, params)
}

/// Checks `name`'s reverse derivative on `batch` against central
/// differences in f64, and that every slot's gradient is nonzero, so that
/// no comparison passes on zeros.
#[track_caller]
pub(crate) fn check_batch_gradient(
    name: &str,
    p: &cdlc::training::Prepared,
    params: &[Tensor],
    batch: &[Example],
) {
    let r = cdlc_ir::gradcheck::gradcheck(&p.inst.module, p.train, params, batch, 11)
        .expect("the check runs");
    assert!(
        r.max_rel_error() <= TOLERANCE,
        "{name}: max relative error {:e} > {TOLERANCE:e}\n{:#?}",
        r.max_rel_error(),
        r.params
    );
    let (_, grads) = cdlc_ir::interp::loss_and_grad(&p.inst.module, p.train, params, batch)
        .expect("the batch runs");
    for (slot, g) in p.inst.slots.iter().zip(&grads) {
        assert!(
            g.data.iter().any(|x| *x != 0.0),
            "{name}: slot {} has a zero gradient",
            slot.name
        );
    }
}

/// Examples of the trees, each checked against the model's input type,
/// with class targets.
pub(crate) fn rose_examples(p: &cdlc::training::Prepared, trees: Vec<Value>) -> Vec<Example> {
    trees
        .into_iter()
        .enumerate()
        .map(|(i, x)| {
            cdlc_runtime::data::check_value(&x, &p.inst.inputs[0])
                .unwrap_or_else(|e| panic!("tree {i} does not fit the model: {e:?}"));
            Example {
                x,
                y: Target::Class(i % 3),
            }
        })
        .collect()
}

#[track_caller]
fn check_rose_gradient(model: &str, trees: Vec<Value>) {
    let (p, params) = rose_model(model);
    let batch = rose_examples(&p, trees);
    check_batch_gradient(model, &p, &params, &batch);
}

#[test]
fn rose_children_folded_by_their_own_elman_cell() {
    let mut t = Roses::new(2);
    let trees = vec![t.mixed(), t.node_of_leaves(2), t.mixed()];
    check_rose_gradient("elman_tree", trees);
}

#[test]
fn rose_tree_that_is_one_leaf() {
    // No node has children, so the Elman cell's `W` and `U` never act on
    // anything; the leaf's case still runs its nil fold (`h0`).
    let (p, params) = rose_model("elman_tree");
    let mut t = Roses::new(2);
    let batch = rose_examples(&p, vec![t.leaf()]);
    let r = cdlc_ir::gradcheck::gradcheck(&p.inst.module, p.train, &params, &batch, 11)
        .expect("the check runs");
    assert!(r.max_rel_error() <= TOLERANCE, "{:#?}", r.params);
    let (_, grads) = cdlc_ir::interp::loss_and_grad(&p.inst.module, p.train, &params, &batch)
        .expect("the batch runs");
    let grad = |name: &str| {
        let i = p
            .inst
            .slots
            .iter()
            .position(|s| s.name == name)
            .expect("a slot of elman_tree");
        &grads[i]
    };
    assert!(grad("elman_node.elman.W").data.iter().all(|x| *x == 0.0));
    assert!(grad("elman_node.elman.U").data.iter().all(|x| *x == 0.0));
    assert!(grad("elman_node.elman.h0").data.iter().any(|x| *x != 0.0));
    assert!(grad("elman_node.U").data.iter().any(|x| *x != 0.0));
}

#[test]
fn rose_trees_deep_and_wide() {
    let mut t = Roses::new(2);
    let trees = vec![t.deep(9), t.wide()];
    check_rose_gradient("elman_tree", trees);
}

#[test]
fn rose_children_folded_twice() {
    // `ks` reaches the output through two folds: its cotangents add.
    let mut t = Roses::new(2);
    let trees = vec![t.wide(), t.mixed(), t.deep(4)];
    check_rose_gradient("two_views_tree", trees);
}

#[test]
fn rose_children_ignored() {
    // The case does not use `ks`: every child's cotangent is zero, and the
    // children's own cases still contribute to `U`.
    let mut t = Roses::new(2);
    let trees = vec![t.mixed(), t.deep(3)];
    check_rose_gradient("own_value_tree", trees);
}

#[test]
fn rose_child_sum_tree_lstm() {
    // The carrier is a pair, so `ks` is a sequence of pairs and its
    // cotangent a sequence of pairs.
    let mut t = Roses::new(2);
    let trees = vec![t.wide(), t.deep(4), t.leaf(), t.mixed()];
    check_rose_gradient("treelstm_tree", trees);
}

#[test]
fn rose_child_sum_tree_lstm_with_forget_gates() {
    // Each child's cell is scaled by its own forget gate inside the list
    // algebra over the pairs (hidden, cell) of the children.
    let mut t = Roses::new(2);
    let trees = vec![t.wide(), t.deep(3), t.leaf(), t.mixed()];
    check_rose_gradient("childsum_tree", trees);
}

#[test]
fn rose_children_run_through_a_mealy_machine() {
    // `unfold ... over ks`: the machine's reverse gives each child's
    // cotangent.
    let mut t = Roses::new(2);
    let trees = vec![t.wide(), t.mixed(), t.deep(3)];
    check_rose_gradient("mealy_tree", trees);
}

#[test]
fn list_of_rose_trees() {
    // Each element of the input list is a rose tree, folded by the list
    // algebra's case.
    let mut t = Roses::new(2);
    let forest = Value::list(vec![t.mixed(), t.leaf(), t.wide()]);
    let other = Value::list(vec![t.deep(3)]);
    check_rose_gradient(
        "forest_of_trees",
        vec![forest, other, Value::list(vec![t.mixed()])],
    );
}

/// Trees of `list_and_one_tree`: `node(a, ks, last)` holds its children
/// in the list before `last` in field order, on the tape and in the
/// backward region's results.
pub(crate) fn list_and_one_trees() -> Vec<Value> {
    let mut tips = 0.0f64;
    let mut tip = || {
        tips += 1.0;
        Value::Node {
            ctor: 0,
            fields: vec![Value::Tensor(Tensor::new(
                vec![2],
                vec![(1.3 * tips).sin(), (0.7 * tips).cos()],
            ))],
        }
    };
    let node = |a: f64, ks: Vec<Value>, last: Value| Value::Node {
        ctor: 1,
        fields: vec![
            Value::Tensor(Tensor::new(vec![2], vec![a, -0.5 * a])),
            Value::list(ks),
            last,
        ],
    };
    let inner = node(0.3, vec![tip(), tip()], tip());
    vec![
        node(0.7, vec![tip(), inner, tip()], tip()),
        node(-0.4, vec![], node(0.9, vec![tip()], tip())),
        tip(),
    ]
}

#[test]
fn list_of_children_beside_a_recursive_field() {
    check_rose_gradient("list_and_one_tree", list_and_one_trees());
}

#[test]
fn rose_fold_visits_every_node_once() {
    // `total` with its initial weights (w = 1, z = 0) sums the values of
    // all nodes.
    let (p, params) = rose_model("total_tree");
    let mut t = Roses::new(1);
    for tree in [t.leaf(), t.mixed(), t.deep(5), t.wide()] {
        let mut expected = 0.0;
        let mut stack = vec![&tree];
        while let Some(Value::Node { fields, .. }) = stack.pop() {
            expected += fields[0].as_tensor().expect("a node value").data[0];
            stack.extend(fields[1].as_list().expect("a list of children"));
        }
        let out = cdlc_ir::interp::forward(&p.inst.module, p.inst.func, &params, &tree)
            .expect("the tree fits");
        let got = out.as_tensor().expect("a tensor output").data[0];
        assert!((got - expected).abs() < 1e-12, "{got} != {expected}");
    }
}

#[test]
fn rose_batch_equals_one_by_one() {
    // A batch of trees of different shapes gives the mean of the losses and
    // gradients of its trees run one by one, in f64 and in f32.
    let (p, params) = rose_model("elman_tree");
    let mut t = Roses::new(2);
    let trees = vec![
        t.leaf(),
        t.wide(),
        t.deep(6),
        t.mixed(),
        t.node_of_leaves(4),
    ];
    let batch = rose_examples(&p, trees);
    let m = &p.inst.module;
    let (loss, grads) =
        cdlc_ir::interp::loss_and_grad(m, p.train, &params, &batch).expect("the batch runs");
    let mut mean_loss = 0.0;
    let mut mean_grads: Vec<Vec<f64>> = grads.iter().map(|g| vec![0.0; g.len()]).collect();
    let n = batch.len() as f64;
    for ex in &batch {
        let (l, gs) = cdlc_ir::interp::loss_and_grad(m, p.train, &params, std::slice::from_ref(ex))
            .expect("one tree runs");
        mean_loss += l / n;
        for (acc, g) in mean_grads.iter_mut().zip(&gs) {
            for (a, x) in acc.iter_mut().zip(&g.data) {
                *a += x / n;
            }
        }
    }
    assert!((loss - mean_loss).abs() < 1e-12, "{loss} != {mean_loss}");
    for (g, mg) in grads.iter().zip(&mean_grads) {
        for (a, b) in g.data.iter().zip(mg) {
            assert!((a - b).abs() < 1e-12, "{a} != {b}");
        }
    }
    let (loss32, grads32) = cdlc_ir::interp::loss_and_grad_as::<f32>(m, p.train, &params, &batch)
        .expect("the batch runs in f32");
    assert!((loss - loss32).abs() < 1e-5, "f32 loss {loss32} != {loss}");
    for (g, g32) in grads.iter().zip(&grads32) {
        for (a, b) in g.data.iter().zip(&g32.data) {
            assert!((a - b).abs() < 1e-4, "f32 gradient {b} != {a}");
        }
    }
}

#[test]
fn fold_over_an_unfolds_output() {
    check_unfold_fold("encode");
}

#[test]
fn unfold_over_an_unfolds_output() {
    // The second machine's reverse gives the cotangents of its inputs, the
    // first machine's outputs.
    check_unfold_fold("chained");
}

#[test]
fn halves_of_an_unfolds_output() {
    // Lists of one, two, three and six outputs: a leaf alone, and trees
    // whose halves are uneven.
    check_list_gradient("halves", "halved", &[1, 3, 2, 6]);
}

#[test]
fn halves_of_an_empty_computed_list_is_an_error() {
    let (p, params) = grad_case("halves", "halved");
    let batch = list_examples(&[2, 0]);
    let e = cdlc_ir::interp::loss_and_grad(&p.inst.module, p.train, &params, &batch)
        .expect_err("an empty list cannot be split");
    assert_eq!(
        e,
        cdlc_ir::interp::InterpError::Example(cdlc_ir::example_error::ExampleError::EmptyHalves)
    );
}

#[track_caller]
fn check_unfold_fold(model: &str) {
    check_list_gradient("unfold_fold", model, &[3, 0, 5]);
}

/// Examples whose inputs are lists of these lengths, with class targets.
pub(crate) fn list_examples(lengths: &[usize]) -> Vec<Example> {
    let list = |n: usize| {
        Value::list(
            (0..n)
                .map(|i| {
                    let x = i as f64;
                    Value::Tensor(Tensor::new(vec![2], vec![(0.7 * x).sin(), (1.3 * x).cos()]))
                })
                .collect(),
        )
    };
    lengths
        .iter()
        .enumerate()
        .map(|(i, &n)| Example {
            x: list(n),
            y: Target::Class(i % 3),
        })
        .collect()
}

/// The reverse derivative of model `model` of `tests/cases/grad/FILE.cdl`
/// against finite differences on lists of these lengths, every slot taking
/// part.
#[track_caller]
fn check_list_gradient(file: &str, model: &str, lengths: &[usize]) {
    let (p, params) = grad_case(file, model);
    check_batch_gradient(model, &p, &params, &list_examples(lengths));
}

#[test]
fn rose_input_type_is_the_runtimes_rose() {
    // The checker's `Rose(R[2])` as the runtime's data type: the list
    // inside a node holds roses, `Rec(1)` from inside the list.
    use cdlc_runtime::value::{CtorDecl, DataDecl, DataType};
    let (p, _) = rose_model("elman_tree");
    let expected = DataType::Data(std::sync::Arc::new(DataDecl {
        name: "Rose(R[2])".into(),
        ctors: vec![CtorDecl {
            name: "rose".into(),
            fields: vec![DataType::Tensor(vec![2]), DataType::list(DataType::Rec(0))],
        }],
    }));
    assert_eq!(p.inst.inputs, vec![expected]);
}

#[test]
fn a_rose_node_without_a_list_of_children_is_a_data_error() {
    let (p, params) = rose_model("elman_tree");
    let a = || Value::Tensor(Tensor::new(vec![2], vec![0.5, -0.5]));
    let bad = Value::Node {
        ctor: 0,
        fields: vec![a(), a()],
    };
    let err = cdlc_ir::interp::forward(&p.inst.module, p.inst.func, &params, &bad)
        .expect_err("a tensor where the children belong");
    use cdlc_ir::example_error::ExampleError;
    let cdlc_ir::interp::InterpError::Example(ExampleError::Input(m)) = &err else {
        panic!("not an input error: {err}");
    };
    assert_eq!(
        (m.path.as_str(), m.expected.as_str(), m.found.as_str()),
        ("x.rose[1]", "List(Rose(R[2]))", "R[2]")
    );
}

#[test]
fn a_deep_rose_tree_does_not_exhaust_the_stack() {
    // The interpreter walks structures iteratively: a chain of 100 000
    // nodes, each the only child of the one above, runs forward and
    // backward.
    let depth = 100_000;
    let (p, params) = rose_model("total_tree");
    let tree = Roses::new(1).deep(depth);
    let expected: f64 = (1..=depth).map(|k| (1.7 * k as f64).sin()).sum();
    let out = cdlc_ir::interp::forward(&p.inst.module, p.inst.func, &params, &tree)
        .expect("the tree fits");
    let got = out.as_tensor().expect("a tensor output").data[0];
    assert!((got - expected).abs() < 1e-9, "{got} != {expected}");

    // Backward through the same chain, with the Elman-cell model.
    let (p, params) = rose_model("elman_tree");
    let batch = [Example {
        x: Roses::new(2).deep(depth),
        y: Target::Class(1),
    }];
    let (loss, grads) = cdlc_ir::interp::loss_and_grad(&p.inst.module, p.train, &params, &batch)
        .expect("the tree runs backward");
    assert!(loss.is_finite());
    // Every node has one child, so the Elman cell's `W` only ever meets
    // its zero `h0`; every other slot's gradient is finite and nonzero.
    for (slot, g) in p.inst.slots.iter().zip(&grads) {
        assert!(g.data.iter().all(|x| x.is_finite()), "slot {}", slot.name);
        let zero = g.data.iter().all(|x| *x == 0.0);
        assert_eq!(
            zero,
            slot.name == "elman_node.elman.W",
            "slot {}",
            slot.name
        );
    }
}

// ------------------------------------------------- lists held in fields

/// A list of `n` tensors `R[2]`, starting at value number `k`.
fn numbered_list(n: usize, k: usize) -> Value {
    Value::list(
        (0..n)
            .map(|i| {
                let x = (k + i) as f64;
                Value::Tensor(Tensor::new(vec![2], vec![(0.7 * x).sin(), (1.3 * x).cos()]))
            })
            .collect(),
    )
}

/// Lists of lists (`tests/cases/grad/region_lists.cdl`): per example, the
/// lengths of its inner lists (empty ones among them), with class targets.
pub(crate) fn lists_of_lists(shapes: &[&[usize]]) -> Vec<Example> {
    shapes
        .iter()
        .enumerate()
        .map(|(e, lens)| Example {
            x: Value::list(
                lens.iter()
                    .enumerate()
                    .map(|(j, &n)| numbered_list(n, 5 * e + j))
                    .collect(),
            ),
            y: Target::Class(e % 3),
        })
        .collect()
}

/// Trees whose leaves hold lists: a leaf, a node of two leaves and a
/// deeper tree, with lists of different lengths (one empty).
pub(crate) fn trees_of_lists() -> Vec<Example> {
    let leaf = |n: usize, k: usize| Value::leaf(numbered_list(n, k));
    let trees = vec![
        leaf(3, 0),
        Value::node(leaf(1, 1), leaf(4, 2)),
        Value::node(Value::node(leaf(0, 3), leaf(2, 4)), leaf(5, 5)),
        Value::node(leaf(2, 6), Value::node(leaf(1, 7), leaf(3, 8))),
    ];
    trees
        .into_iter()
        .enumerate()
        .map(|(i, x)| Example {
            x,
            y: Target::Class(i % 3),
        })
        .collect()
}

/// The inner lists of the list-of-lists examples: uneven, empty ones, an
/// empty outer list.
pub(crate) const LIST_SHAPES: &[&[usize]] = &[&[3, 1], &[0, 4, 2], &[], &[5], &[2, 0, 1, 3]];

#[track_caller]
fn check_region_lists(model: &str, batch: Vec<Example>) {
    let (p, params) = grad_case("region_lists", model);
    check_batch_gradient(model, &p, &params, &batch);
}

#[test]
fn a_list_of_lists_folded_inside_the_region() {
    check_region_lists("lists", lists_of_lists(LIST_SHAPES));
}

#[test]
fn a_list_of_lists_run_through_a_mealy_machine() {
    check_region_lists("mealy_lists", lists_of_lists(LIST_SHAPES));
}

#[test]
fn a_tree_whose_leaves_hold_lists() {
    check_region_lists("tree_of_lists", trees_of_lists());
}

#[test]
fn halves_of_lists_a_list_holds() {
    // `hylo ... by halves` over each inner list inside the outer fold's
    // region (`nested_lists.cdl`); no inner list is empty.
    let (p, params) = grad_case("nested_lists", "split_inner");
    let batch = lists_of_lists(&[&[3, 1], &[2, 5, 1], &[4], &[1, 1, 2]]);
    let r = cdlc_ir::gradcheck::gradcheck(&p.inst.module, p.train, &params, &batch, 11)
        .expect("the check runs");
    assert!(
        r.max_rel_error() <= TOLERANCE,
        "split_inner: {:#?}",
        r.params
    );
}

// --------------------------------------- structures held in fields

/// Lists of lists of lists (`region_structures.cdl`, `deep_lists`): per
/// example, per middle list, the lengths of its inner lists; empty lists
/// at every level.
pub(crate) fn deep_lists() -> Vec<Example> {
    let shapes: &[&[&[usize]]] = &[
        &[&[3, 1], &[], &[2]],
        &[&[0, 4]],
        &[],
        &[&[1], &[2, 2, 0], &[5]],
        &[&[], &[1, 3]],
    ];
    let mut k = 0;
    let mut example = |middles: &[&[usize]]| {
        let middle = middles
            .iter()
            .map(|lens| {
                let inner = lens.iter().map(|&n| {
                    k += 1;
                    numbered_list(n, 3 * k)
                });
                Value::list(inner.collect())
            })
            .collect();
        Value::list(middle)
    };
    let xs: Vec<Value> = shapes.iter().map(|m| example(m)).collect();
    classed(xs)
}

/// Lists of binary trees (`list_of_trees`): trees of one leaf, of two and
/// deeper ones, and an empty list.
pub(crate) fn lists_of_trees() -> Vec<Example> {
    let mut k = 0.0f64;
    let mut leaf = || {
        k += 1.0;
        Value::leaf(Value::Tensor(Tensor::new(
            vec![2],
            vec![(0.9 * k).sin(), (0.4 * k).cos()],
        )))
    };
    let xs = vec![
        Value::list(vec![leaf(), Value::node(leaf(), leaf())]),
        Value::list(vec![Value::node(Value::node(leaf(), leaf()), leaf())]),
        Value::list(vec![]),
        Value::list(vec![
            leaf(),
            leaf(),
            Value::node(leaf(), Value::node(leaf(), leaf())),
        ]),
    ];
    classed(xs)
}

/// Trees whose leaves hold lists of lists (`tree_of_deep_lists`).
pub(crate) fn trees_of_deep_lists() -> Vec<Example> {
    let mut k = 0;
    let mut leaf = |lens: &[usize]| {
        let inner = lens.iter().map(|&n| {
            k += 1;
            numbered_list(n, 2 * k)
        });
        Value::leaf(Value::list(inner.collect()))
    };
    let xs = vec![
        leaf(&[2, 1]),
        Value::node(leaf(&[]), leaf(&[3, 0, 1])),
        Value::node(Value::node(leaf(&[1]), leaf(&[2, 2])), leaf(&[4])),
    ];
    classed(xs)
}

/// Examples of inputs `xs` with class targets `i % 3`.
fn classed(xs: Vec<Value>) -> Vec<Example> {
    xs.into_iter()
        .enumerate()
        .map(|(i, x)| Example {
            x,
            y: Target::Class(i % 3),
        })
        .collect()
}

#[test]
fn three_levels_of_lists_folded_inside_regions() {
    let (p, params) = grad_case("region_structures", "deep_lists");
    check_batch_gradient("deep_lists", &p, &params, &deep_lists());
}

#[test]
fn a_list_of_trees_folded_inside_the_region() {
    let (p, params) = grad_case("region_structures", "list_of_trees");
    check_batch_gradient("list_of_trees", &p, &params, &lists_of_trees());
}

#[test]
fn a_tree_whose_leaves_hold_lists_of_lists() {
    let (p, params) = grad_case("region_structures", "tree_of_deep_lists");
    check_batch_gradient("tree_of_deep_lists", &p, &params, &trees_of_deep_lists());
}

// ------------------------------------------- streams inside regions

/// Trees of `R[2]` leaves (`region_streams.cdl`, `stream_leaves`): a
/// leaf alone, two leaves and deeper trees.
pub(crate) fn vector_trees() -> Vec<Example> {
    let mut k = 0.0f64;
    let mut leaf = || {
        k += 1.0;
        Value::leaf(Value::Tensor(Tensor::new(
            vec![2],
            vec![(1.1 * k).sin(), (0.6 * k).cos()],
        )))
    };
    let xs = vec![
        leaf(),
        Value::node(leaf(), leaf()),
        Value::node(Value::node(leaf(), leaf()), leaf()),
        Value::node(leaf(), Value::node(leaf(), Value::node(leaf(), leaf()))),
    ];
    classed(xs)
}

#[test]
fn streams_started_in_a_trees_leaves() {
    let (p, params) = grad_case("region_streams", "stream_leaves");
    check_batch_gradient("stream_leaves", &p, &params, &vector_trees());
}

#[test]
fn streams_started_in_a_lists_region() {
    let (p, params) = grad_case("region_streams", "stream_list");
    check_batch_gradient("stream_list", &p, &params, &list_examples(&[3, 0, 1, 4]));
}

// ------------------------------- Mealy machines over pairs in regions

/// Lists of lists of pairs `(R[2], R[3])` (`region_pairs.cdl`,
/// `lists_of_pairs`): per example, the lengths of its inner lists.
pub(crate) fn lists_of_pairs(shapes: &[&[usize]]) -> Vec<Example> {
    let mut k = 0.0f64;
    let mut pair = || {
        k += 1.0;
        let t = |n: usize, f: f64| {
            Value::Tensor(Tensor::new(
                vec![n],
                (0..n).map(|i| (f * k + i as f64).sin()).collect(),
            ))
        };
        Value::Tuple(vec![t(2, 0.7), t(3, 1.3)])
    };
    let xs = shapes
        .iter()
        .map(|lens| {
            let inner = lens
                .iter()
                .map(|&n| Value::list((0..n).map(|_| pair()).collect()));
            Value::list(inner.collect())
        })
        .collect();
    classed(xs)
}

#[test]
fn a_mealy_machine_over_pairs_a_list_holds() {
    let (p, params) = grad_case("region_pairs", "lists_of_pairs");
    let batch = lists_of_pairs(&[&[3, 1], &[0, 2], &[], &[4]]);
    check_batch_gradient("lists_of_pairs", &p, &params, &batch);
}

#[test]
fn a_mealy_machine_over_pairs_of_children() {
    let (p, params) = grad_case("region_pairs", "pair_children");
    let mut t = Roses::new(2);
    let trees = vec![t.mixed(), t.wide(), t.leaf(), t.deep(3)];
    let batch = rose_examples(&p, trees);
    check_batch_gradient("pair_children", &p, &params, &batch);
}

#[test]
fn unfolds_emitting_tuples() {
    // Streams and Mealy machines emitting pairs and nested pairs, at the
    // top level and in regions (`pair_unfolds.cdl`), on the batches the
    // JIT is compared on.
    for (model, batch) in crate::jit_pair_unfold::cases() {
        let (p, params) = grad_case("pair_unfolds", model);
        check_batch_gradient(model, &p, &params, &batch);
    }
}
