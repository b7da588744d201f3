//! Backward regions that read the node's own carrier (`jit/src/lower/own.rs`)
//! instead of recomputing it: the training kernels with the pass against
//! the same kernels recomputing it, and against the interpreter, on the
//! benchmark RNNs (W2's Elman cell, W6's GRU, W7's Tree-LSTM), on the cells
//! of `tests/cases/jit/wide.cdl` (an LSTM and a Tree-LSTM with pair
//! carriers, the standard GRU) and on rose trees (a child-sum Tree-LSTM,
//! an Elman node over a list of children), after checking the smaller
//! models' reverse derivatives by finite differences. Both plans pass the
//! plan verifier; the plan with the pass reads the own carrier, or the
//! values the forward fold kept for the backward (a gated cell's gates),
//! and runs fewer products where the recomputation was one.
//!
//! The carrier holds the value the backward region recomputed from the
//! same operands by the same ops, but the forward may fuse a product with
//! its epilogue where the backward's recomputation did not (or the other
//! way round), and a fused tile may round a sum differently: values are
//! compared to a relative 1e-12 in f64 and 1e-5 in f32, and the largest
//! difference seen is reported by the assertion when it fails.

use crate::jit::training_agrees;
use crate::jit_inputs::case_in;
use crate::{cases_dir, check_clean};
use cdlc::training::Prepared;
use cdlc_jit::{Dtype, Passes};
use cdlc_runtime::value::{Example, Tensor};

/// The passes with the own carrier read (`true`) or recomputed.
fn passes(own: bool) -> Passes {
    Passes::new(true, false).with_own(own)
}

/// The training plan's text under `passes(own)`, verified.
fn plan_text(p: &Prepared, own: bool) -> String {
    let plan = cdlc_jit::lower_plan_passes(&p.inst.module, p.train, true, passes(own))
        .expect("the plan lowers");
    plan.verify()
        .unwrap_or_else(|e| panic!("own {own}: {e}\n{plan}"));
    plan.to_string()
}

/// `a` and `b` agree to a relative `tol` of the largest magnitude in `b`.
#[track_caller]
fn close(what: &str, a: &[f64], b: &[f64], tol: f64) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    let scale = b.iter().fold(1e-3f64, |m, x| m.max(x.abs()));
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= tol * scale,
            "{what}: entry {i}: {x} vs {y}"
        );
    }
}

/// The kernel reading the own carrier agrees with the interpreter and with
/// the kernel recomputing it (loss and every gradient entry, f64 and f32);
/// its plan reads the own carrier and has `fewer` fewer products.
#[track_caller]
fn own_equals_recomputed(
    name: &str,
    p: &Prepared,
    params: &[Tensor],
    batch: &[Example],
    fewer: Option<usize>,
) {
    let (own, recomputed) = (plan_text(p, true), plan_text(p, false));
    assert!(
        !recomputed.contains(" own [v"),
        "{name}: the pass was off\n{recomputed}"
    );
    let Some(fewer) = fewer else {
        // No backward region reads the result: the plans are the same.
        assert_eq!(own, recomputed, "{name}: a region reads its own carrier");
        return training_agrees(name, p, params, batch);
    };
    assert!(
        own.contains(" own [v") || own.contains(" kept [v"),
        "{name}: no region reads its own carrier or a kept value\n{own}"
    );
    let products = |t: &str| t.matches(" <- gemm ").count();
    assert_eq!(
        products(&recomputed) - products(&own),
        fewer,
        "{name}: {} products reading the own carrier, {} recomputing it",
        products(&own),
        products(&recomputed)
    );
    training_agrees(name, p, params, batch);
    for (dtype, tol) in [(Dtype::F64, 1e-12), (Dtype::F32, 1e-5)] {
        let (loss, grads) = crate::passes::train_step(p, params, batch, dtype, passes(true));
        let (want_loss, want_grads) =
            crate::passes::train_step(p, params, batch, dtype, passes(false));
        close(
            &format!("{name} {dtype:?} loss"),
            &[loss],
            &[want_loss],
            tol,
        );
        assert!(
            grads.iter().any(|&g| g != 0.0),
            "{name} {dtype:?}: all gradients are zero"
        );
        close(
            &format!("{name} {dtype:?} gradients"),
            &grads,
            &want_grads,
            tol,
        );
    }
}

/// A model of a case file: its reverse derivative by finite differences,
/// then the pass against the interpreter and the recomputing kernel.
#[track_caller]
fn check_case(kind: &str, file: &str, name: &str, sizes: &[usize], fewer: Option<usize>) {
    let path = cases_dir(kind).join(file);
    for &n in sizes {
        let (p, params, batch) = case_in(&path, Some(name), n);
        crate::grad::check_batch_gradient(name, &p, &params, &batch);
        own_equals_recomputed(name, &p, &params, &batch, fewer);
    }
}

/// A benchmark program (`bench/NAME.cdl`) with `n` examples.
fn bench_case(name: &str, n: usize) -> (Prepared, Vec<Tensor>, Vec<Example>) {
    let path = crate::examples_dir()
        .join("../bench")
        .join(format!("{name}.cdl"));
    check_clean(&path);
    case_in(&path, None, n)
}

#[test]
fn w2_reads_the_elman_state_instead_of_two_products() {
    // `tanh(W s + U x + b)`: `W s` and `U x` are not recomputed.
    let (p, params, batch) = bench_case("w2_elman", 3);
    own_equals_recomputed("w2", &p, &params, &batch, Some(2));
}

/// Whether the training plan of `p` keeps values for the backward and
/// which: the forward fold's slots and what its regions keep.
#[track_caller]
fn assert_keeps(name: &str, p: &Prepared, keeps: usize) {
    let plan = plan_text(p, true);
    let kept: usize = plan
        .lines()
        .filter_map(|l| {
            l.split_once(" keeps [")
                .map(|(_, k)| k.matches(" to s").count())
        })
        .sum();
    assert_eq!(kept, keeps, "{name}: values kept per node\n{plan}");
}

#[test]
fn w6_gru_keeps_its_gates() {
    // The backward needs the gates, not the new state: the fold keeps
    // them and no gate is recomputed.
    let (p, params, batch) = bench_case("w6_gru", 4);
    own_equals_recomputed("w6", &p, &params, &batch, Some(GRU_PRODUCTS));
}

#[test]
fn w7_tree_lstm_reads_its_pair_carrier_and_keeps_its_gates() {
    // The memory cell `c` is read, not recomputed; the gates the
    // derivative reads are kept by the forward fold: a leaf's three
    // products and an inner node's ten are not run again.
    let (p, params, batch) = bench_case("w7_treelstm", 3);
    own_equals_recomputed("w7", &p, &params, &batch, Some(13));
    // A leaf's three gates and `tanh c`, an inner node's five and `tanh c`.
    assert_keeps("w7", &p, 10);
}

#[test]
fn an_lstm_with_a_pair_carrier_reads_it() {
    // As W7: the cell is read, the gates are kept.
    check_case("jit", "wide.cdl", "lstm_list", &[3], Some(8));
}

#[test]
fn a_tree_lstm_with_a_pair_carrier_reads_it() {
    check_case("jit", "wide.cdl", "treelstm_pair", &[2], Some(13));
}

#[test]
fn the_standard_gru_keeps_its_gates() {
    // As W6.
    check_case("jit", "wide.cdl", "std_gru", &[3], Some(GRU_PRODUCTS));
}

/// A GRU's backward recomputes its three gates from two products each.
const GRU_PRODUCTS: usize = 6;

/// A rose-tree model of `tests/cases/grad/rose.cdl` on trees of every
/// shape the executor treats apart (a leaf, a chain, a wide node, mixed
/// depths): its reverse derivative by finite differences, then the pass.
#[track_caller]
fn check_rose(name: &str, fewer: Option<usize>) {
    let (p, params) = crate::grad::rose_model(name);
    let mut t = crate::grad::Roses::new(2);
    let trees = vec![
        t.mixed(),
        t.leaf(),
        t.deep(3),
        t.wide(),
        t.node_of_leaves(3),
    ];
    let batch = crate::grad::rose_examples(&p, trees);
    crate::grad::check_batch_gradient(name, &p, &params, &batch);
    own_equals_recomputed(name, &p, &params, &batch, fewer);
}

#[test]
fn a_rose_elman_node_reads_its_state() {
    // The children's Elman cell reads its own state: its `W s` and `U x`
    // are not recomputed. The node's own `tanh(U a + fold … + b)` reads
    // the inner fold's result, and ops with regions are never paired: its
    // `U a` is kept by the forward fold, the rest recomputed.
    check_rose("elman_tree", Some(3));
}

#[test]
fn a_rose_child_sum_tree_lstm_keeps_its_input_products() {
    // Its node reads the children's fold, so only the products of the
    // node's own input are paired: the forward fold keeps them.
    check_rose("childsum_tree", Some(4));
}
