//! The reverse derivative's former "not supported yet" sites
//! (`AdError::Unsupported`, E0617 at the model), each either built and
//! reached by a program of `tests/cases/grad/reverse_sites.cdl`, or now an
//! internal error (`AdError::Internal`, E0619) whose invariant the
//! nearest programs show:
//!
//! - a missing zero cotangent of a type without zeros: `paired_tree`'s
//!   `skip` case ignores its `R[2] * Tree(X)` field, whose zero cotangent
//!   is a tuple of a tensor and a structure. Built (`Type::has_zeros`
//!   takes each component's zeros); checked by finite differences in f64.
//!   The types still without zeros are sequences of structures, classes
//!   and tapes, which no active value has (below).
//! - a fold over a mapped structure whose plain field has no cotangent:
//!   `listed` hoisted, whose nodes hold a list beside their children.
//!   Built: the list is input data, its zero cotangent is never read by
//!   the map's rule.
//! - a `map` over a structure computed from parameters: the same model,
//!   whose list's own fold the hoisting pass maps inside the fold's
//!   region; the list was active only because every plain field of a fold
//!   over a mapped structure was. Now only the fields the map appended are
//!   active, the map reads data, and the site is an internal error.
//! - adding two cotangents of a sequence of structures: the nearest
//!   programs fold to a carrier holding a list or unfold a stream of lists,
//!   which are E0617 at the fold or unfold before any derivative
//!   (`tests/cases/unsupported/`), so every sequence an active value holds
//!   has tensor elements; the site is an internal error.

use cdlc::training::{init_params, loss_for, prepare, prepare_hoisted};
use cdlc_ir::Op;
use cdlc_runtime::value::{Example, Target, Tensor, Value};

use crate::grad::{check_batch_gradient, grad_case};

fn vec2(k: &mut f64) -> Value {
    *k += 1.0;
    Value::Tensor(Tensor::new(
        vec![2],
        vec![(*k * 0.37).sin(), (*k * 0.83).cos()],
    ))
}

/// A binary tree of these leaves, split in halves.
fn tree(mut leaves: Vec<Value>) -> Value {
    if leaves.len() == 1 {
        return Value::leaf(leaves.pop().expect("one leaf"));
    }
    let right = leaves.split_off(leaves.len() / 2);
    Value::node(tree(leaves), tree(right))
}

/// A `Paired` structure `depth` levels deep: `node`s and `skip`s of `n`
/// children at their tree's leaves.
fn paired(n: usize, depth: usize, k: &mut f64) -> Value {
    let a = vec2(k);
    if depth == 0 {
        return Value::Node {
            ctor: 0,
            fields: vec![a],
        };
    }
    let kids = (0..n).map(|i| paired(n - i % 2, depth - 1, k)).collect();
    let m = vec2(k);
    Value::Node {
        ctor: 1 + (depth % 2) as u32,
        fields: vec![a, Value::Tuple(vec![m, tree(kids)])],
    }
}

/// A `Listed` tree `depth` levels deep whose nodes hold lists of
/// `depth` vectors.
fn listed(depth: usize, k: &mut f64) -> Value {
    let a = vec2(k);
    if depth == 0 {
        return Value::Node {
            ctor: 0,
            fields: vec![a],
        };
    }
    let xs = Value::list((0..depth).map(|_| vec2(k)).collect());
    let (l, r) = (listed(depth - 1, k), listed(depth / 2, k));
    Value::Node {
        ctor: 1,
        fields: vec![a, xs, l, r],
    }
}

fn examples(xs: Vec<Value>) -> Vec<Example> {
    xs.into_iter()
        .enumerate()
        .map(|(i, x)| Example {
            x,
            y: Target::Class(i % 3),
        })
        .collect()
}

#[test]
fn an_ignored_tuple_of_a_tensor_and_a_structure_has_a_zero_cotangent() {
    let (p, params) = grad_case("reverse_sites", "paired_tree");
    let mut k = 0.0;
    let xs = vec![
        paired(2, 2, &mut k),
        paired(1, 1, &mut k),
        paired(3, 3, &mut k),
        paired(2, 0, &mut k),
    ];
    for x in &xs {
        cdlc_runtime::data::check_value(x, &p.inst.inputs[0]).expect("fits the model");
    }
    check_batch_gradient("paired_tree", &p, &params, &examples(xs));
}

#[test]
fn a_hoisted_fold_over_nodes_holding_lists_differentiates() {
    let path = crate::cases_dir("grad").join("reverse_sites.cdl");
    let c = crate::check_clean(&path);
    let model = cdlc::entry_model(&c, Some("listed")).expect("the model");
    let loss = loss_for(&c, model);
    let plain = prepare(&c, model, loss).expect("the model differentiates");
    let hoisted = prepare_hoisted(&c, model, loss).expect("hoisted, it differentiates too");
    // The tree's leaf embeddings and, inside the node's region, the list's
    // input projections.
    let f = &hoisted.inst.module.functions[hoisted.inst.func];
    let maps = f
        .values
        .keys()
        .filter(|&v| matches!(f.op(v), Some(Op::Map(_))))
        .count();
    assert_eq!(maps, 2, "two folds hoisted");
    let params = init_params(&plain.inst, 7);
    let mut k = 0.0;
    let batch = examples(vec![
        listed(3, &mut k),
        listed(0, &mut k),
        listed(2, &mut k),
    ]);
    check_batch_gradient("listed (hoisted)", &hoisted, &params, &batch);
    let run = |p: &cdlc::training::Prepared| {
        cdlc_ir::interp::loss_and_grad(&p.inst.module, p.train, &params, &batch)
            .expect("the batch runs")
    };
    let ((l1, g1), (l2, g2)) = (run(&plain), run(&hoisted));
    assert!((l1 - l2).abs() <= 1e-10 * l1.abs(), "{l1} != {l2}");
    for (a, b) in g1.iter().zip(&g2) {
        for (x, y) in a.data.iter().zip(&b.data) {
            assert!((x - y).abs() <= 1e-10 * x.abs().max(1.0), "{x} != {y}");
        }
    }
}

#[test]
fn sequences_of_structures_are_refused_before_the_reverse_derivative() {
    // The nearest programs to adding two cotangents of a sequence of
    // structures (or needing its zero): a carrier or a stream holding
    // lists. The checked program is refused at the fold or unfold with
    // E0617 by instantiation, never by the reverse derivative.
    for name in ["fold_carrier_holds_a_list", "unfold_emits_a_list"] {
        let path = crate::cases_dir("unsupported").join(format!("{name}.cdl"));
        let c = crate::check_clean(&path);
        let model = cdlc::entry_model(&c, None).expect("the case's model");
        match prepare(&c, model, loss_for(&c, model)) {
            Err(cdlc::training::PrepareError::Unsupported(u)) => {
                assert!(u.what.contains("holds a list"), "{name}: {}", u.what)
            }
            other => panic!("{name}: refused by instantiation, got {other:?}"),
        }
    }
}
