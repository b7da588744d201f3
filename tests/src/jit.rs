//! The JIT against the reference interpreter on every example: the loss and
//! every gradient of one batch, in f64 (relative error ≤ 1e-9) and f32
//! (≤ 1e-4), and the outputs of the forward kernel.
//!
//! A gradient's error is measured per slot, relative to the slot's largest
//! entry: in f32 an entry that is small next to its slot's others carries the
//! rounding of the sums that produced it, so entry-by-entry ratios would
//! measure rounding, not agreement.

use crate::train_cases;
use cdlc_jit::{Dtype, Options};
use cdlc_runtime::value::{Example, Tensor, Value};

/// Largest relative difference allowed between the JIT and the interpreter.
const F64_TOLERANCE: f64 = 1e-9;
/// The same in f32, where both round differently.
const F32_TOLERANCE: f64 = 1e-4;
/// Below this magnitude, differences are compared absolutely.
const FLOOR: f64 = 1e-3;

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / a.abs().max(b.abs()).max(FLOOR)
}

/// The numbers of a value, depth first.
pub(crate) fn flat(v: &Value) -> Vec<f64> {
    match v {
        Value::Tensor(t) => t.data.clone(),
        Value::Tuple(vs) => vs.iter().flat_map(flat).collect(),
        other => other
            .as_list()
            .map(|xs| xs.iter().flat_map(|x| flat(x)).collect())
            .unwrap_or_default(),
    }
}

/// Every train block of the examples, its prepared model and a batch of
/// its data.
fn cases() -> Vec<(String, cdlc::training::Prepared, Vec<Tensor>, Vec<Example>)> {
    train_cases(8)
        .into_iter()
        .map(|c| (c.name, c.prepared, c.params, c.batch))
        .collect()
}

#[test]
fn training_kernels_agree_with_the_interpreter() {
    // Large products are split between this thread and the helper (as with
    // `--threads 2`); the halves sum in the same order as one product, so
    // the tolerances are the same. (Process-wide: the other tests of this
    // binary may run either way, with the same results.)
    cdlc_runtime::gemm::set_threads(2);
    for (name, p, params, batch) in cases() {
        training_agrees(&name, &p, &params, &batch);
    }
}

/// The loss and the flat gradient of one training step in `dtype`
/// (parameters and gradients rounded to and from f32 for `Dtype::F32`).
pub(crate) fn flat_step(
    p: &cdlc::training::Prepared,
    params: &[f64],
    batch: &[Example],
    dtype: Dtype,
) -> (f64, Vec<f64>) {
    let opts = Options {
        dtype,
        batch: batch.len(),
    };
    let mut k =
        cdlc_jit::compile_train(&p.inst.module, p.train, &opts).expect("the kernel compiles");
    match dtype {
        Dtype::F64 => {
            let mut g = vec![0.0; params.len()];
            let s = k
                .step_examples(params, batch, &mut g)
                .expect("the kernel runs");
            (s.loss, g)
        }
        Dtype::F32 => {
            let ps: Vec<f32> = params.iter().map(|&x| x as f32).collect();
            let mut g = vec![0.0f32; ps.len()];
            let s = k
                .step_examples(&ps, batch, &mut g)
                .expect("the kernel runs");
            (s.loss, g.into_iter().map(f64::from).collect())
        }
    }
}

/// The training kernel's loss and gradients on `batch` against the
/// interpreter's, in f64 and f32.
#[track_caller]
pub(crate) fn training_agrees(
    name: &str,
    p: &cdlc::training::Prepared,
    params: &[Tensor],
    batch: &[Example],
) {
    let m = &p.inst.module;
    let (want_loss, want_grads) =
        cdlc_ir::interp::loss_and_grad(m, p.train, params, batch).expect("the interpreter runs");
    let sizes: Vec<usize> = want_grads.iter().map(|g| g.data.len()).collect();
    for dtype in [Dtype::F64, Dtype::F32] {
        let opts = Options {
            dtype,
            batch: batch.len(),
        };
        let mut k =
            cdlc_jit::compile_train(m, p.train, &opts).unwrap_or_else(|e| panic!("{name}: {e}"));
        let (loss, grads): (f64, Vec<f64>) = match dtype {
            Dtype::F64 => {
                let ps: Vec<f64> = params.iter().flat_map(|t| t.data.iter().copied()).collect();
                let mut g = vec![0.0; ps.len()];
                let s = k
                    .step_examples(&ps, batch, &mut g)
                    .expect("the kernel runs");
                (s.loss, g)
            }
            Dtype::F32 => {
                let ps: Vec<f32> = params
                    .iter()
                    .flat_map(|t| t.data.iter().map(|&x| x as f32))
                    .collect();
                let mut g = vec![0.0f32; ps.len()];
                let s = k
                    .step_examples(&ps, batch, &mut g)
                    .expect("the kernel runs");
                (s.loss, g.iter().map(|&x| f64::from(x)).collect())
            }
        };
        let tol = if dtype == Dtype::F64 {
            F64_TOLERANCE
        } else {
            F32_TOLERANCE
        };
        assert!(
            rel(loss, want_loss) <= tol,
            "{name} {dtype:?}: loss {loss} vs {want_loss}"
        );
        let mut at = 0;
        for ((n, want), slot) in sizes.iter().zip(&want_grads).zip(&p.inst.slots) {
            let got = &grads[at..at + n];
            at += n;
            let scale = want.data.iter().fold(FLOOR, |m, x| m.max(x.abs()));
            let worst = got
                .iter()
                .zip(&want.data)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max)
                / scale;
            assert!(
                worst <= tol,
                "{name} {dtype:?}: gradient of {} differs by {worst:e}",
                slot.name
            );
        }
    }
}

#[test]
fn forward_kernels_agree_with_the_interpreter() {
    for (name, p, params, batch) in cases() {
        forward_agrees(&name, &p, &params, &batch);
    }
}

/// The forward kernel's outputs on `batch`'s inputs against the
/// interpreter's, in f64.
#[track_caller]
pub(crate) fn forward_agrees(
    name: &str,
    p: &cdlc::training::Prepared,
    params: &[Tensor],
    batch: &[Example],
) {
    let m = &p.inst.module;
    let opts = Options {
        dtype: Dtype::F64,
        batch: batch.len(),
    };
    let mut k =
        cdlc_jit::compile_forward(m, p.inst.func, &opts).unwrap_or_else(|e| panic!("{name}: {e}"));
    let ps: Vec<f64> = params.iter().flat_map(|t| t.data.iter().copied()).collect();
    let xs: Vec<Value> = batch.iter().map(|e| e.x.clone()).collect();
    let outs = k.run(&ps, &xs).expect("the kernel runs");
    for (x, out) in xs.iter().zip(&outs) {
        let want =
            cdlc_ir::interp::forward(m, p.inst.func, params, x).expect("the interpreter runs");
        let (a, b) = (flat(out), flat(&want));
        assert_eq!(a.len(), b.len(), "{name}: output sizes differ");
        let worst = a
            .iter()
            .zip(&b)
            .map(|(x, y)| rel(*x, *y))
            .fold(0.0, f64::max);
        assert!(
            worst <= F64_TOLERANCE,
            "{name}: outputs differ by {worst:e}"
        );
    }
}
