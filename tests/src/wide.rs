//! Wide products: the training and forward kernels with products that share
//! their left operand run as one wide product, against the same kernels
//! without the pass, on W6's and W7's models and on
//! `tests/cases/jit/wide.cdl` (an LSTM and a Tree-LSTM with pair carriers,
//! the standard library's GRU, products of different widths, a transposed
//! operand, products on both sides of a fold region's boundary), after
//! checking those models' reverse derivatives by finite differences and
//! the plain and the wide kernels against the interpreter. Both plans
//! pass the plan verifier, and the wide plan has fewer products where the
//! pass applies. The pass is off by default (`CDLC_WIDE` turns it on), so
//! the tests choose it explicitly (`Passes`).
//!
//! Each output element is the same sum over the same terms with or without
//! the pass, but the runtime picks its product kernel by the product's
//! shape, and kernels may order a sum's terms differently: values are
//! compared to a relative 1e-12 in f64 (and 1e-5 in f32).

use crate::jit::{forward_agrees, training_agrees};
use crate::jit_inputs::case_in;
use crate::{cases_dir, check_clean};
use cdlc_jit::{Dtype, Passes};
use cdlc_runtime::value::{Example, Tensor};

/// The loss and the flat gradient of one training step, as f64.
fn step(
    p: &cdlc::training::Prepared,
    params: &[Tensor],
    batch: &[Example],
    dtype: Dtype,
    wide: bool,
) -> (f64, Vec<f64>) {
    crate::passes::train_step(p, params, batch, dtype, Passes::new(false, wide))
}

/// The forward kernel's outputs in f64, flattened.
fn forward(
    p: &cdlc::training::Prepared,
    params: &[Tensor],
    batch: &[Example],
    wide: bool,
) -> Vec<f64> {
    crate::passes::forward_outputs(p, params, batch, Dtype::F64, Passes::new(false, wide))
}

/// The products of `p`'s training plan with and without the pass, both
/// plans verified.
fn products(p: &cdlc::training::Prepared) -> (usize, usize) {
    let count = |wide: bool| {
        let plan =
            cdlc_jit::lower_plan_passes(&p.inst.module, p.train, true, Passes::new(false, wide))
                .expect("the plan lowers");
        plan.verify()
            .unwrap_or_else(|e| panic!("wide {wide}: {e}\n{plan}"));
        plan.to_string().matches(" <- gemm ").count()
    };
    (count(true), count(false))
}

/// `a` and `b` agree to a relative `tol` of the largest magnitude in `b`
/// (at least 1e-3, as the interpreter suites measure).
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

/// The wide kernel agrees with the interpreter in f64, and with the plain
/// kernel: loss, every gradient entry and the forward outputs, in f64 and
/// f32; the wide plan has `fewer` fewer products.
#[track_caller]
fn wide_equals_plain(
    name: &str,
    p: &cdlc::training::Prepared,
    params: &[Tensor],
    batch: &[Example],
    fewer: usize,
) {
    let (wide, plain) = products(p);
    assert_eq!(
        plain - wide,
        fewer,
        "{name}: {wide} products with the pass, {plain} without"
    );
    // The wide kernel against the interpreter, in f64, gradient by
    // gradient (the existing suites check the plain kernel).
    let (interp_loss, interp_grads) =
        cdlc_ir::interp::loss_and_grad(&p.inst.module, p.train, params, batch)
            .expect("the interpreter runs");
    let (loss, grads) = step(p, params, batch, Dtype::F64, true);
    close(
        &format!("{name} loss against the interpreter"),
        &[loss],
        &[interp_loss],
        1e-9,
    );
    let mut at = 0;
    for (want, slot) in interp_grads.iter().zip(&p.inst.slots) {
        let got = &grads[at..at + want.data.len()];
        at += want.data.len();
        close(
            &format!("{name}: gradient of {} against the interpreter", slot.name),
            got,
            &want.data,
            1e-9,
        );
    }
    for (dtype, tol) in [(Dtype::F64, 1e-12), (Dtype::F32, 1e-5)] {
        let (loss, grads) = step(p, params, batch, dtype, true);
        let (want_loss, want_grads) = step(p, params, batch, dtype, false);
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
    let (a, b) = (
        forward(p, params, batch, true),
        forward(p, params, batch, false),
    );
    close(&format!("{name} forward"), &a, &b, 1e-12);
}

/// A model of `tests/cases/jit/wide.cdl`: its reverse derivative by finite
/// differences, the wide kernels against the interpreter, then against the
/// plain kernels, on batches of `sizes` examples.
#[track_caller]
fn check_model(name: &str, sizes: &[usize], fewer: usize) {
    let path = cases_dir("jit").join("wide.cdl");
    for &n in sizes {
        let (p, params, batch) = case_in(&path, Some(name), n);
        crate::grad::check_batch_gradient(name, &p, &params, &batch);
        training_agrees(name, &p, &params, &batch);
        forward_agrees(name, &p, &params, &batch);
        wide_equals_plain(name, &p, &params, &batch, fewer);
    }
}

#[test]
fn an_lstm_with_a_pair_carrier_wide_equals_plain() {
    // Forward: four gates from the element and four from the state,
    // eight products to two (6 fewer; the backward reads the gates the
    // fold kept, `lower/own.rs`, and recomputes none). The backward's
    // weight gradients: per gate, `gᵀ x` and `gᵀ h` to one (4 fewer).
    check_model("lstm_list", &[3, 7], 10);
}

#[test]
fn a_tree_lstm_with_a_pair_carrier_wide_equals_plain() {
    // As W7: per child, the five gates to one, forward and for the
    // input cotangents (both children's weights against one gate's
    // cotangent); per gate, both children's weight gradients to one; the
    // leaves' three gates to one (the backward recomputes no gate: the
    // fold kept them).
    check_model("treelstm_pair", &[2, 5], 20);
}

#[test]
fn the_standard_gru_wide_equals_plain() {
    // The state's two gates and the element's three, forward (3 fewer;
    // the backward reads the gates the fold kept); per gate, the
    // element's and the state's weight gradients (3 fewer).
    check_model("std_gru", &[3, 6], 6);
}

#[test]
fn products_of_different_widths_wide_equal_plain() {
    // `A x` and `B x` (widths 7 and 4) to one.
    check_model("different_widths", &[4, 9], 1);
}

#[test]
fn a_transposed_operand_stays_apart() {
    // `m C` and `m D` to one; `mᵀ E` reads `m` transposed and stays.
    check_model("transposed", &[3, 8], 1);
}

#[test]
fn products_across_a_regions_boundary_stay_apart() {
    // The cell's six, as in `the_standard_gru_wide_equals_plain`, and the
    // two read-outs outside the region to one: no product of the region
    // joins one outside it.
    check_model("boundary", &[3, 5], 7);
}

/// A benchmark program (`bench/NAME.cdl`) with `n` examples of different
/// shapes.
fn bench_case(name: &str, n: usize) -> (cdlc::training::Prepared, Vec<Tensor>, Vec<Example>) {
    let path = crate::examples_dir()
        .join("../bench")
        .join(format!("{name}.cdl"));
    check_clean(&path);
    case_in(&path, None, n)
}

#[test]
fn w6_wide_equals_plain() {
    let (p, params, batch) = bench_case("w6_gru", 5);
    training_agrees("w6", &p, &params, &batch);
    wide_equals_plain("w6", &p, &params, &batch, 6);
}

#[test]
fn w7_wide_equals_plain() {
    let (p, params, batch) = bench_case("w7_treelstm", 3);
    training_agrees("w7", &p, &params, &batch);
    wide_equals_plain("w7", &p, &params, &batch, 20);
}

#[test]
fn every_examples_wide_plan_verifies() {
    use cdlc::training::{loss_for, prepare};
    let files = crate::cdl_files(&crate::examples_dir());
    let mut widened = 0;
    for path in &files {
        let c = check_clean(path);
        let model = cdlc::entry_model(&c, None).expect("the example has a model");
        let p =
            prepare(&c, model, loss_for(&c, model)).unwrap_or_else(|e| panic!("{path:?}: {e:?}"));
        for (func, train) in [(p.inst.func, false), (p.train, true)] {
            let lower = |wide| {
                cdlc_jit::lower_plan_passes(&p.inst.module, func, train, Passes::new(false, wide))
                    .unwrap_or_else(|e| panic!("{path:?} (train: {train}): {e}"))
            };
            let plan = lower(true);
            if let Err(e) = plan.verify() {
                panic!("{path:?} (train: {train}): {e}\n{plan}");
            }
            let count =
                |plan: &cdlc_jit::LoweredPlan| plan.to_string().matches(" <- gemm ").count();
            if count(&plan) < count(&lower(false)) {
                widened += 1;
            }
        }
    }
    assert!(files.len() >= 15, "only {} examples", files.len());
    assert!(widened > 0, "no example's plan was widened");
}
