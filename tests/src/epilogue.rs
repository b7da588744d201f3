//! Fused epilogues: the training and forward kernels with products fused
//! with the elementwise kernels that read them against the same kernels
//! unfused, bit for bit, in f64 and f32; on the benchmark models W1, W2,
//! W4, W5, W6 and W7 and on the ragged shapes of `tests/cases/jit/epilogue.cdl`
//! (sizes that are not multiples of the vector width, a product too large
//! for the direct kernel, a fold's cell, DeepSets layers), after checking
//! those models' reverse derivatives by finite differences and their
//! fused kernels against the interpreter.

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
    fuse: impl Into<cdlc_jit::Fusion>,
) -> (f64, Vec<f64>) {
    crate::passes::train_step(p, params, batch, dtype, Passes::new(fuse, false))
}

/// The forward kernel's outputs in f32, flattened.
fn forward(
    p: &cdlc::training::Prepared,
    params: &[Tensor],
    batch: &[Example],
    fuse: bool,
) -> Vec<f64> {
    crate::passes::forward_outputs(p, params, batch, Dtype::F32, Passes::new(fuse, false))
}

/// How many steps of `p`'s training plan are fused.
fn fused_steps(p: &cdlc::training::Prepared) -> usize {
    let plan =
        cdlc_jit::lower_plan_fused(&p.inst.module, p.train, true, true).expect("the plan lowers");
    plan.to_string().matches("] fused ").count()
}

/// Fused and unfused kernels give the same bits: loss, every gradient
/// entry and the forward outputs, in f64 and f32; and the plan has fused
/// steps at all.
#[track_caller]
fn fused_equals_unfused(
    name: &str,
    p: &cdlc::training::Prepared,
    params: &[Tensor],
    batch: &[Example],
) {
    assert!(fused_steps(p) > 0, "{name}: nothing was fused");
    for dtype in [Dtype::F64, Dtype::F32] {
        let (loss, grads) = step(p, params, batch, dtype, true);
        let (want_loss, want_grads) = step(p, params, batch, dtype, false);
        assert_eq!(
            loss.to_bits(),
            want_loss.to_bits(),
            "{name} {dtype:?}: loss {loss} vs {want_loss}"
        );
        assert!(
            grads.iter().any(|&g| g != 0.0),
            "{name} {dtype:?}: all gradients are zero"
        );
        for (i, (a, b)) in grads.iter().zip(&want_grads).enumerate() {
            assert_eq!(
                a.to_bits(),
                b.to_bits(),
                "{name} {dtype:?}: gradient entry {i}: {a} vs {b}"
            );
        }
    }
    let (a, b) = (
        forward(p, params, batch, true),
        forward(p, params, batch, false),
    );
    assert_eq!(a, b, "{name}: forward outputs differ");
}

/// A model of `tests/cases/jit/epilogue.cdl`: its reverse derivative by
/// finite differences (when `gradcheck`), the fused kernels against the
/// interpreter, then against the unfused kernels, on batches of `sizes`
/// examples (one to eight rows, and more than one block of eight).
#[track_caller]
fn check_model(name: &str, gradcheck: bool, sizes: &[usize]) {
    let path = cases_dir("jit").join("epilogue.cdl");
    for &n in sizes {
        let (p, params, batch) = case_in(&path, Some(name), n);
        if gradcheck {
            crate::grad::check_batch_gradient(name, &p, &params, &batch);
        }
        training_agrees(name, &p, &params, &batch);
        forward_agrees(name, &p, &params, &batch);
        fused_equals_unfused(name, &p, &params, &batch);
    }
}

#[test]
fn ragged_layers_fused_equal_unfused() {
    check_model("ragged", true, &[3, 13]);
}

#[test]
fn a_product_too_large_for_the_direct_kernel_fused() {
    check_model("wide", false, &[5, 21]);
}

#[test]
fn a_folds_cell_fused_equals_unfused() {
    check_model("elman_ragged", true, &[6, 11]);
}

#[test]
fn deep_sets_layers_fused_equal_unfused() {
    check_model("sets", true, &[4, 9]);
}

/// A benchmark program (`bench/NAME.cdl`) with `n` examples of different
/// shapes.
pub(crate) fn bench_case(
    name: &str,
    n: usize,
) -> (cdlc::training::Prepared, Vec<Tensor>, Vec<Example>) {
    let path = crate::examples_dir()
        .join("../bench")
        .join(format!("{name}.cdl"));
    check_clean(&path);
    case_in(&path, None, n)
}

#[test]
fn w1_fused_equals_unfused() {
    // 19 and 150 rows run W1's large products in the blocked kernel (150
    // in two blocks of rows), its epilogue in registers; the training
    // step's loss and gradients against the interpreter too.
    for n in [7, 19, 150] {
        let (p, params, batch) = bench_case("w1_mlp", n);
        fused_equals_unfused("w1", &p, &params, &batch);
        training_agrees("w1", &p, &params, &batch);
    }
}

#[test]
fn w2_fused_equals_unfused() {
    let (p, params, batch) = bench_case("w2_elman", 9);
    fused_equals_unfused("w2", &p, &params, &batch);
}

#[test]
fn w5_fused_equals_unfused() {
    let (p, params, batch) = bench_case("w5_deepsets", 5);
    // Each layer's pooled term is a broadcast operand of its fused step.
    let plan =
        cdlc_jit::lower_plan_fused(&p.inst.module, p.train, true, true).expect("the plan lowers");
    assert_eq!(plan.to_string().matches(" broadcast from ").count(), 5);
    fused_equals_unfused("w5", &p, &params, &batch);
}

#[test]
fn w4_fused_equals_unfused() {
    // A tree's cell: `tanh` of two children's products and a bias.
    let (p, params, batch) = bench_case("w4_treenn", 3);
    fused_equals_unfused("w4", &p, &params, &batch);
}

#[test]
fn w6_fused_equals_unfused() {
    // A GRU's gates: sigmoids and `tanh`, several outputs per kernel, and
    // long backward kernels (up to 24 ops) over lists of unequal lengths.
    let (p, params, batch) = bench_case("w6_gru", 5);
    fused_equals_unfused("w6", &p, &params, &batch);
}

#[test]
fn w7_fused_equals_unfused() {
    // A Tree-LSTM's gates over a pair carrier.
    let (p, params, batch) = bench_case("w7_treelstm", 3);
    fused_equals_unfused("w7", &p, &params, &batch);
}

/// How many steps of `p`'s training plan `fuse` fuses, and how many of
/// them read a broadcast operand.
fn fused_and_broadcast(p: &cdlc::training::Prepared, fuse: cdlc_jit::Fusion) -> (usize, usize) {
    let plan = cdlc_jit::lower_plan_fused(&p.inst.module, p.train, true, fuse)
        .expect("the plan lowers")
        .to_string();
    (
        plan.matches("] fused ").count(),
        plan.matches(" broadcast from ").count(),
    )
}

#[test]
fn the_default_fuses_products_over_rows_and_not_per_example_batches() {
    use cdlc_jit::Fusion;
    // W2's products are over a level's rows: all of them are fused.
    let (p, _, _) = bench_case("w2_elman", 2);
    assert_eq!(
        fused_and_broadcast(&p, Fusion::Rows),
        fused_and_broadcast(&p, Fusion::All)
    );
    // W5's layers are products per set: only the last dense layer's product,
    // over the batch's rows, is fused, and nothing is read as a broadcast.
    let (p, params, batch) = bench_case("w5_deepsets", 3);
    assert_eq!(fused_and_broadcast(&p, Fusion::All), (6, 5));
    assert_eq!(fused_and_broadcast(&p, Fusion::Rows), (1, 0));
    assert_eq!(fused_and_broadcast(&p, Fusion::Off), (0, 0));
    let rows = step(&p, &params, &batch, Dtype::F32, Fusion::Rows);
    let off = step(&p, &params, &batch, Dtype::F32, Fusion::Off);
    assert_eq!(rows.0.to_bits(), off.0.to_bits());
    assert!(
        rows.1
            .iter()
            .zip(&off.1)
            .all(|(a, b)| a.to_bits() == b.to_bits())
    );
}

#[test]
fn two_threads_fused_equal_one() {
    // Large fused steps are cut in halves of their rows between this thread
    // and the helper; each half sums as the whole does.
    let (p, params, batch) = bench_case("w1_mlp", 64);
    let one = step(&p, &params, &batch, Dtype::F32, true);
    cdlc_runtime::gemm::set_threads(2);
    let two = step(&p, &params, &batch, Dtype::F32, true);
    assert_eq!(one.0.to_bits(), two.0.to_bits());
    assert!(
        one.1
            .iter()
            .zip(&two.1)
            .all(|(a, b)| a.to_bits() == b.to_bits())
    );
}
