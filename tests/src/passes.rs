//! One training step and one forward run of a JIT kernel compiled with
//! chosen plan passes (fused epilogues, wide products), for the suites
//! that compare a pass against the plain plan.

use cdlc::training::Prepared;
use cdlc_jit::{Dtype, Options, Passes};
use cdlc_runtime::value::{Example, Tensor, Value};

/// The loss and the flat gradient of one training step under `passes`,
/// in `dtype`, as f64.
pub(crate) fn train_step(
    p: &Prepared,
    params: &[Tensor],
    batch: &[Example],
    dtype: Dtype,
    passes: Passes,
) -> (f64, Vec<f64>) {
    let opts = Options {
        dtype,
        batch: batch.len(),
    };
    let mut k = cdlc_jit::compile_train_passes(&p.inst.module, p.train, &opts, passes)
        .expect("the kernel compiles");
    let flat = params.iter().flat_map(|t| t.data.iter().copied());
    match dtype {
        Dtype::F64 => {
            let ps: Vec<f64> = flat.collect();
            let mut g = vec![0.0; ps.len()];
            let s = k
                .step_examples(&ps, batch, &mut g)
                .expect("the kernel runs");
            (s.loss, g)
        }
        Dtype::F32 => {
            let ps: Vec<f32> = flat.map(|x| x as f32).collect();
            let mut g = vec![0.0f32; ps.len()];
            let s = k
                .step_examples(&ps, batch, &mut g)
                .expect("the kernel runs");
            (s.loss, g.into_iter().map(f64::from).collect())
        }
    }
}

/// The forward kernel's tensor outputs under `passes`, in `dtype`,
/// flattened as f64.
pub(crate) fn forward_outputs(
    p: &Prepared,
    params: &[Tensor],
    batch: &[Example],
    dtype: Dtype,
    passes: Passes,
) -> Vec<f64> {
    let opts = Options {
        dtype,
        batch: batch.len(),
    };
    let mut k = cdlc_jit::compile_forward_passes(&p.inst.module, p.inst.func, &opts, passes)
        .expect("the kernel compiles");
    let xs: Vec<Value> = batch.iter().map(|e| e.x.clone()).collect();
    let flat = params.iter().flat_map(|t| t.data.iter().copied());
    let outs = match dtype {
        Dtype::F64 => k.run(&flat.collect::<Vec<f64>>(), &xs),
        Dtype::F32 => k.run(&flat.map(|x| x as f32).collect::<Vec<f32>>(), &xs),
    }
    .expect("the kernel runs");
    outs.iter()
        .flat_map(|v| match v {
            Value::Tensor(t) => t.data.clone(),
            other => panic!("a tensor output, not {other:?}"),
        })
        .collect()
}
