//! One stored shape per equivariant parameter: whichever way a model
//! applies an equivariant map (expanded from its basis, or per channel
//! pair with a `[out channels, in channels, k]` slot), the parameter is
//! stored as `[free]`, its coefficients in the order of the basis that
//! `--emit tying` prints. Checked here by expanding the stored vector with
//! the derived basis and comparing the dense map's output with the
//! model's.

use cdlc_runtime::value::{Tensor, Value};

/// A DeepSets layer: its map is applied per channel pair (the identity
/// and all-ones elements), so its slot is not `[free]`.
const SET_LAYER: &str = "const n = 5
group S = symmetric(n)
space Pts = R[n] under S by permute
space In  = R[3] * Pts
space Hid = R[4] * Pts

layer phi(x: In) -> Hid equivariant S {
  param W: equivariant In -> Hid = glorot
  W @ x
}

model m = phi
";

#[test]
fn a_map_applied_per_channel_pair_is_stored_as_its_basis_coefficients() {
    use cdlc::training::{init_params, loss_for, prepare};
    let c = cdlc::compile("set.cdl", SET_LAYER);
    assert!(c.diagnostics.is_empty(), "{:?}", c.diagnostics);
    let model = cdlc::entry_model(&c, None).expect("a model");
    let p = prepare(&c, model, loss_for(&c, model)).expect("prepared");
    let tying = c.tyings.params.values().next().expect("one tying");
    let free = tying.basis.free();
    let slot = &p.inst.slots[0];
    assert_eq!(slot.name, "phi.W");
    // The lowering this test is about: a slot of another shape than the
    // stored one, with the same number of coefficients.
    assert_eq!(slot.shape, vec![4, 3, 2]);
    assert_eq!(slot.stored_shape, vec![free]);
    assert_eq!(slot.shape.iter().product::<usize>(), free);

    let params = init_params(&p.inst, 3);
    let coeffs = &params[0].data;
    let x: Vec<f64> = (0..15).map(|i| (0.7 * i as f64 + 0.3).sin()).collect();
    let input = Value::Tensor(Tensor::new(vec![3, 5], x.clone()));
    let out = cdlc_ir::interp::forward(&p.inst.module, p.inst.func, &params, &input)
        .expect("the model runs");
    let Value::Tensor(t) = &out else {
        panic!("a tensor output, not {out:?}")
    };
    let y = &t.data;
    // The dense map from the stored coefficients, in the basis's order.
    let mut w = vec![0.0; 20 * 15];
    for (k, ck) in coeffs.iter().enumerate() {
        for (idx, v) in tying.basis.element(k) {
            w[idx] += ck * v;
        }
    }
    for (i, yi) in y.iter().enumerate() {
        let want: f64 = (0..15).map(|j| w[i * 15 + j] * x[j]).sum();
        assert!((yi - want).abs() <= 1e-12, "output {i}: {yi} vs {want}");
    }
}
