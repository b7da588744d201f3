//! Backward regions that read the node's own carrier (`jit/src/lower/own.rs`)
//! instead of recomputing it: the training kernels with the pass against
//! the same kernels recomputing it, and against the interpreter, on the
//! benchmark RNNs (W2's Elman cell, W6's GRU, W7's Tree-LSTM), on the cells
//! of `tests/cases/jit/wide.cdl` (an LSTM and a Tree-LSTM with pair
//! carriers, the standard GRU) and on rose trees (a child-sum Tree-LSTM,
//! an Elman node over a list of children), after checking the smaller
//! models' reverse derivatives by finite differences. Both plans pass the
//! plan verifier; the plan with the pass reads the own carrier and runs
//! fewer products where the recomputation was one.
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
        own.contains(" own [v"),
        "{name}: no region reads its own carrier\n{own}"
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

#[test]
fn w6_gru_recomputes_its_gates_as_written() {
    // The backward needs the gates, not the new state: nothing is read
    // from the carrier and the plan is unchanged.
    let (p, params, batch) = bench_case("w6_gru", 4);
    own_equals_recomputed("w6", &p, &params, &batch, None);
}

#[test]
fn w7_tree_lstm_reads_its_pair_carrier() {
    // The memory cell `c` is read, not recomputed from the gates, which
    // the backward still needs: no product is saved.
    let (p, params, batch) = bench_case("w7_treelstm", 3);
    own_equals_recomputed("w7", &p, &params, &batch, Some(0));
}

#[test]
fn an_lstm_with_a_pair_carrier_reads_it() {
    // As W7: the cell is read, the gates are recomputed.
    check_case("jit", "wide.cdl", "lstm_list", &[3], Some(0));
}

#[test]
fn a_tree_lstm_with_a_pair_carrier_reads_it() {
    check_case("jit", "wide.cdl", "treelstm_pair", &[2], Some(0));
}

#[test]
fn the_standard_gru_recomputes_as_written() {
    // As W6.
    check_case("jit", "wide.cdl", "std_gru", &[3], None);
}

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
    // are not recomputed. The node's own `tanh(U a + fold … + b)` still
    // is, since it reads the inner fold's result and ops with regions are
    // never paired.
    check_rose("elman_tree", Some(2));
}

#[test]
fn a_rose_child_sum_tree_lstm_recomputes_as_written() {
    // Its node reads the children's fold, so nothing is paired.
    check_rose("childsum_tree", None);
}
