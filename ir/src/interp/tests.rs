//! Tests of the interpreter's API: outputs of unfolds, data errors, f32
//! against f64, deep lists, permutations. Exact values of small programs
//! (regions' evaluation order, the shape `halves` builds) are case files
//! under `tests/cases/ir/run/` (the `cdlc-tests` crate's `ir_cases`
//! runner).

use cdlc_runtime::value::{Tensor, Value};

use crate::example_error::ExampleError;
use crate::interp::{InterpError, forward, forward_as};
use crate::rng::Rng;
use crate::testmodels::{dense_model, mealy_model, random_params, random_value, stream_model};

fn vector(xs: &[f64]) -> Value {
    Value::Tensor(Tensor::new(vec![xs.len()], xs.to_vec()))
}

fn tensor(v: &Value) -> &Tensor {
    v.as_tensor().expect("a tensor output")
}

#[test]
fn unfolds_emit_one_output_per_step() {
    let mut rng = Rng::new(1);
    let m = mealy_model();
    let f = &m.module.functions[m.forward];
    let params = random_params(f, &mut rng);
    let xs = Value::list(
        (0..5)
            .map(|_| vector(&[rng.normal(), rng.normal()]))
            .collect(),
    );
    let out = forward(&m.module, m.forward, &params, &xs).unwrap();
    let items = out.as_list().expect("a list output");
    assert_eq!(items.len(), 5);
    assert!(items.iter().all(|v| tensor(v).shape == vec![2]));

    let s = stream_model();
    let f = &s.module.functions[s.forward];
    let params = random_params(f, &mut rng);
    let out = forward(&s.module, s.forward, &params, &vector(&[0.1, 0.2, 0.3])).unwrap();
    assert_eq!(out.as_list().expect("a list output").len(), 3);
}

#[test]
fn an_input_of_the_wrong_shape_is_a_data_error() {
    let m = dense_model();
    let mut rng = Rng::new(2);
    let params = random_params(&m.module.functions[m.forward], &mut rng);
    let err = forward(&m.module, m.forward, &params, &vector(&[1.0, 2.0])).unwrap_err();
    let InterpError::Example(ExampleError::Input(m)) = &err else {
        panic!("not an input error: {err}");
    };
    assert_eq!((m.path.as_str(), m.found.as_str()), ("x", "R[2]"), "{err}");
}

#[test]
fn a_malformed_structure_is_a_data_error() {
    let m = crate::testmodels::elman_model();
    let mut rng = Rng::new(3);
    let params = random_params(&m.module.functions[m.forward], &mut rng);
    let bad = Value::Node {
        ctor: 1,
        fields: vec![vector(&[1.0, 2.0])],
    };
    let err = forward(&m.module, m.forward, &params, &bad).unwrap_err();
    let InterpError::Example(ExampleError::Input(m)) = &err else {
        panic!("not an input error: {err}");
    };
    assert_eq!(
        (m.path.as_str(), m.expected.as_str(), m.found.as_str()),
        ("x", "cons with 2 fields", "1 fields"),
        "{err}"
    );
}

#[test]
fn f32_agrees_with_f64() {
    let mut rng = Rng::new(4);
    for (name, m) in crate::testmodels::all_models() {
        let f = &m.module.functions[m.forward];
        let params = random_params(f, &mut rng);
        let x = if f.inputs.len() == 1 {
            random_value(&m.module, &f.inputs[0], &mut rng)
        } else {
            Value::Tuple(
                f.inputs
                    .iter()
                    .map(|t| random_value(&m.module, t, &mut rng))
                    .collect(),
            )
        };
        let a = forward(&m.module, m.forward, &params, &x).unwrap();
        let b = forward_as::<f32>(&m.module, m.forward, &params, &x).unwrap();
        assert_close(&a, &b, 1e-5, name);
    }
}

fn assert_close(a: &Value, b: &Value, tol: f64, what: &str) {
    match (a, b) {
        (Value::Tensor(x), Value::Tensor(y)) => {
            assert_eq!(x.shape, y.shape, "{what}");
            for (p, q) in x.data.iter().zip(&y.data) {
                assert!((p - q).abs() <= tol, "{what}: {p} vs {q}");
            }
        }
        (Value::Node { fields: xs, .. }, Value::Node { fields: ys, .. })
        | (Value::Tuple(xs), Value::Tuple(ys)) => {
            assert_eq!(xs.len(), ys.len(), "{what}");
            for (x, y) in xs.iter().zip(ys) {
                assert_close(x, y, tol, what);
            }
        }
        _ => panic!("{what}: {a:?} and {b:?} differ in kind"),
    }
}

#[test]
fn a_long_list_does_not_exhaust_the_stack() {
    let m = crate::testmodels::elman_model();
    let mut rng = Rng::new(6);
    let params = random_params(&m.module.functions[m.forward], &mut rng);
    let xs = Value::list(
        (0..100_000)
            .map(|i| vector(&[(i % 7) as f64 * 0.1, 0.5]))
            .collect(),
    );
    let y = forward(&m.module, m.forward, &params, &xs).unwrap();
    assert!(tensor(&y).data.iter().all(|x| x.is_finite()));
    // The backward pass walks the same nodes through its tape.
    let mut m = m;
    let train = crate::testmodels::train_fn(&mut m);
    let batch = [cdlc_runtime::value::Example {
        x: xs,
        y: cdlc_runtime::value::Target::Class(1),
    }];
    let (loss, grads) = crate::interp::loss_and_grad(&m.module, train, &params, &batch).unwrap();
    assert!(loss.is_finite());
    assert!(grads.iter().all(|g| g.data.iter().all(|x| x.is_finite())));
}

#[test]
fn permute_moves_every_entry_to_its_permuted_index() {
    use crate::interp::kernels::permute;
    use crate::interp::scalar::Array;
    // x[i, j, k] = 100 i + 10 j + k over [2, 3, 4]; result axis d is axis
    // perm[d] of x, so y[k, i, j] = x[i, j, k] for perm = [2, 0, 1].
    let data: Vec<f64> = (0..24)
        .map(|n| (100 * (n / 12) + 10 * (n / 4 % 3) + n % 4) as f64)
        .collect();
    let x = Array::new(vec![2, 3, 4], data);
    let y = permute(&x, &[2, 0, 1]);
    assert_eq!(y.shape, vec![4, 2, 3]);
    for k in 0..4 {
        for i in 0..2 {
            for j in 0..3 {
                let at = (k * 2 + i) * 3 + j;
                assert_eq!(
                    y.data[at],
                    (100 * i + 10 * j + k) as f64,
                    "y[{k}, {i}, {j}]"
                );
            }
        }
    }
    // A scalar and the identity permutation are unchanged.
    let s = Array::new(vec![], vec![7.0]);
    assert_eq!(permute(&s, &[]).data, vec![7.0]);
    assert_eq!(permute(&x, &[0, 1, 2]).data, x.data);
}
