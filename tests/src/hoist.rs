//! The hoisting pass on every example: the module after the pass computes
//! the same outputs as before it, in f64, on each example's data; it
//! verifies and prints and reads back; and the examples whose folds have
//! element-only work are exactly those hoisted.

use crate::{cases_dir, cdl_files, check_clean, example_case, examples_dir};
use cdlc_ir::Op;
use cdlc_runtime::value::{Tensor, Value};

/// Largest relative difference allowed between the two modules' outputs.
const TOLERANCE: f64 = 1e-12;

fn flat(v: &Value) -> Vec<f64> {
    match v {
        Value::Tensor(t) => t.data.clone(),
        Value::Tuple(vs) => vs.iter().flat_map(flat).collect(),
        other => other
            .as_list()
            .map(|xs| xs.iter().flat_map(|x| flat(x)).collect())
            .unwrap_or_default(),
    }
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / a.abs().max(b.abs()).max(f64::MIN_POSITIVE)
}

/// How many ops of `func` satisfy `pred`, in every block.
fn count_ops(f: &cdlc_ir::Function, pred: impl Fn(&Op) -> bool) -> usize {
    f.values
        .keys()
        .filter(|&v| f.op(v).is_some_and(&pred))
        .count()
}

/// Hoists a copy of `p`'s module and checks it against the original on
/// `inputs`: it verifies, reads back, and computes the same outputs.
/// Returns the number of folds rewritten.
#[track_caller]
fn agrees(name: &str, p: &cdlc::training::Prepared, params: &[Tensor], inputs: &[Value]) -> usize {
    let mut module = p.inst.module.clone();
    let n = cdlc_ir::passes::hoist::hoist_function(&mut module, p.inst.func);
    let f = &module.functions[p.inst.func];
    assert_eq!(count_ops(f, |op| matches!(op, Op::Map(_))), n, "{name}");
    if n == 0 {
        let before = cdlc_ir::print::print_module(&p.inst.module);
        assert_eq!(cdlc_ir::print::print_module(&module), before, "{name}");
        return 0;
    }
    cdlc_ir::verify::verify(&module).unwrap_or_else(|e| panic!("{name}: {e:?}"));
    let text = cdlc_ir::print::print_module(&module);
    let read = cdlc_ir::parse::module(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(
        cdlc_ir::print::print_module(&read),
        text,
        "{name}: round trip"
    );
    for x in inputs {
        let want = cdlc_ir::interp::forward(&p.inst.module, p.inst.func, params, x)
            .expect("the interpreter runs");
        let got = cdlc_ir::interp::forward(&module, p.inst.func, params, x)
            .expect("the hoisted module runs");
        let (a, b) = (flat(&got), flat(&want));
        assert_eq!(a.len(), b.len(), "{name}: output sizes differ");
        let worst = a
            .iter()
            .zip(&b)
            .map(|(x, y)| rel(*x, *y))
            .fold(0.0, f64::max);
        assert!(worst <= TOLERANCE, "{name}: outputs differ by {worst:e}");
    }
    n
}

/// A rose node with a value of size `d` drawn from `k`, and these children.
fn rose(d: usize, k: usize, kids: Vec<Value>) -> Value {
    let a = (0..d)
        .map(|j| (1.3 * k as f64 + 0.7 * j as f64).sin())
        .collect();
    Value::Node {
        ctor: 0,
        fields: vec![Value::Tensor(Tensor::new(vec![d], a)), Value::list(kids)],
    }
}

/// Rose trees of several shapes: a leaf, a node of three leaves, a chain,
/// and a root whose children have children.
fn roses(d: usize) -> Vec<Value> {
    let leaf = |k| rose(d, k, Vec::new());
    let three = rose(d, 4, vec![leaf(1), leaf(2), leaf(3)]);
    let chain = rose(d, 7, vec![rose(d, 6, vec![leaf(5)])]);
    let mixed = rose(
        d,
        11,
        vec![leaf(8), three.clone(), rose(d, 10, vec![leaf(9)])],
    );
    vec![leaf(0), three, chain, mixed]
}

#[test]
fn hoisted_rose_tree_models_compute_the_same_outputs() {
    use cdlc::training::{init_params, loss_for, prepare};
    let c = check_clean(&cases_dir("grad").join("rose.cdl"));
    // Each node's own projection `U a` (the Tree-LSTM's two) is hoisted;
    // the forest's fold over a list of trees has its nested rose fold
    // hoisted inside its region.
    let models = [
        "elman_tree",
        "two_views_tree",
        "own_value_tree",
        "treelstm_tree",
        "mealy_tree",
        "forest_of_trees",
    ];
    for name in models {
        let model = cdlc::entry_model(&c, Some(name)).expect("a model of the case");
        let p = prepare(&c, model, loss_for(&c, model)).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let params = init_params(&p.inst, 7);
        let trees = roses(2);
        let inputs = if name == "forest_of_trees" {
            vec![
                Value::list(trees.clone()),
                Value::list(trees[1..3].to_vec()),
            ]
        } else {
            trees
        };
        for x in &inputs {
            cdlc_runtime::data::check_value(x, &p.inst.inputs[0])
                .unwrap_or_else(|e| panic!("{name}: the input does not fit: {e:?}"));
        }
        assert_eq!(agrees(name, &p, &params, &inputs), 1, "{name}");
    }
}

#[test]
fn hoisted_examples_compute_the_same_outputs() {
    let mut hoisted = Vec::new();
    for path in cdl_files(&examples_dir()) {
        let name = path
            .file_stem()
            .expect("a name")
            .to_string_lossy()
            .to_string();
        let (p, params, batch) = example_case(&name, 8);
        let inputs: Vec<Value> = batch.iter().map(|e| e.x.clone()).collect();
        if agrees(&name, &p, &params, &inputs) > 0 {
            hoisted.push(name);
        }
    }
    // The folds of these examples have element-only work (an input
    // projection or a leaf embedding); the others have no fold over an
    // input structure (`hylo_parity` folds the tree `halves` builds from
    // its list, which the pass leaves alone).
    assert_eq!(hoisted, ["gru_parity", "rnn_parity", "tree_sum"]);
}
