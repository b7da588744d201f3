//! Reverse derivatives of whole example models against finite differences
//! in f64, on examples from their own train blocks.

use crate::example_case;

/// Largest relative error a gradient may have against central differences.
const TOLERANCE: f64 = cdlc_ir::gradcheck::TOLERANCE;
/// Entries per slot compared with finite differences in the JIT checks.
const ENTRIES_PER_SLOT: usize = 24;

#[track_caller]
fn check_gradient(name: &str, samples: usize) {
    let (p, params, batch) = example_case(name, samples);
    let r = cdlc_ir::gradcheck::gradcheck(&p.inst.module, p.train, &params, &batch, 11)
        .expect("the check runs");
    assert!(
        r.max_rel_error() <= TOLERANCE,
        "{name}: max relative error {:e} > {TOLERANCE:e}\n{:#?}",
        r.max_rel_error(),
        r.params
    );
}

#[test]
fn mlp() {
    check_gradient("mlp", 4);
}

#[test]
fn rnn_parity() {
    check_gradient("rnn_parity", 3);
}

#[test]
fn gru_parity() {
    check_gradient("gru_parity", 2);
}

#[test]
fn tree_sum() {
    check_gradient("tree_sum", 2);
}

#[test]
fn hylo_parity() {
    check_gradient("hylo_parity", 3);
}

#[test]
fn mealy_parity() {
    check_gradient("mealy_parity", 2);
}

#[test]
fn stream_count() {
    check_gradient("stream_count", 3);
}

#[test]
fn deepsets() {
    // Its equivariant maps are applied through their basis (two elements
    // per channel pair), not expanded: this checks that path's derivative.
    check_gradient("deepsets", 2);
}

/// The same check with the compiled f64 training kernel computing the loss
/// and its gradient: fast enough for the examples whose equivariant maps
/// are expanded to large dense matrices, where the interpreter is slow.
#[track_caller]
fn check_gradient_jit(name: &str, samples: usize) {
    let (p, params, batch) = example_case(name, samples);
    let opts = cdlc_jit::Options {
        dtype: cdlc_jit::Dtype::F64,
        batch: batch.len(),
    };
    let mut kernel =
        cdlc_jit::compile_train(&p.inst.module, p.train, &opts).expect("the kernel compiles");
    let names: Vec<String> = p.inst.slots.iter().map(|s| s.name.clone()).collect();
    let mut grads = vec![0.0f64; kernel.num_params()];
    // Every entry of these slots would cost two kernel runs each on
    // millions-entry dense maps: a spread of entries per slot, and the random
    // direction over all of them.
    let r = cdlc_ir::gradcheck::gradcheck_entries(&names, &params, 11, ENTRIES_PER_SLOT, |ps| {
        let flat: Vec<f64> = ps.iter().flat_map(|t| t.data.iter().copied()).collect();
        let loss = kernel
            .step_examples(&flat, &batch, &mut grads)
            .map_err(|e| e.to_string())?
            .loss;
        let mut at = 0;
        let per_slot = ps
            .iter()
            .map(|t| {
                at += t.data.len();
                cdlc_runtime::value::Tensor::new(
                    t.shape.clone(),
                    grads[at - t.data.len()..at].to_vec(),
                )
            })
            .collect();
        Ok::<_, String>((loss, per_slot))
    })
    .expect("the check runs");
    assert!(
        r.max_rel_error() <= TOLERANCE,
        "{name}: max relative error {:e} > {TOLERANCE:e}\n{:#?}",
        r.max_rel_error(),
        r.params
    );
}

#[test]
fn graph_triangles() {
    check_gradient_jit("graph_triangles", 2);
}

#[test]
fn p4_patterns() {
    check_gradient_jit("p4_patterns", 2);
}
