use cdlc_runtime::value::{Tensor, Value};

use crate::builder::FunctionBuilder;
use crate::interp::{InterpError, forward, forward_as};
use crate::ir::{Module, Type};
use crate::rng::Rng;
use crate::testmodels::{
    dense_model, mealy_model, random_params, random_value, stream_model, vec_list, vec_tree,
};

fn vector(xs: &[f64]) -> Value {
    Value::Tensor(Tensor::new(vec![xs.len()], xs.to_vec()))
}

fn tensor(v: &Value) -> &Tensor {
    v.as_tensor().expect("a tensor output")
}

#[test]
fn dense_computes_w_x_plus_b() {
    let m = dense_model();
    let w = Tensor::new(vec![2, 3], vec![1.0, 2.0, 3.0, -1.0, 0.0, 1.0]);
    let b = Tensor::new(vec![2], vec![0.5, -0.5]);
    let y = forward(&m.module, m.forward, &[w, b], &vector(&[1.0, 1.0, 2.0])).unwrap();
    assert_eq!(
        tensor(&y).data,
        vec![1.0 + 2.0 + 6.0 + 0.5, -1.0 + 2.0 - 0.5]
    );
}

/// `hylo` with `leaf(x) = x` and `node(l, r) = 2 l + 3 r` reveals the shape
/// `halves` builds: [a, b, c] splits as node(leaf a, node(leaf b, leaf c)).
#[test]
fn halves_splits_the_first_half_off() {
    let mut module = Module::new();
    let list = vec_list(&mut module, 1);
    let tree = vec_tree(&mut module, 1);
    let mut b = FunctionBuilder::new(&module, "halves");
    let xs = b.input(Type::Data(list));
    let r = b.hylo_halves(tree, xs, Type::tensor(&[1]), |b, ctor, args| match ctor {
        0 => args[0],
        _ => {
            let two = b.scalar(2.0);
            let three = b.scalar(3.0);
            let l = b.mul(two, args[0]);
            let r = b.mul(three, args[1]);
            b.add(l, r)
        }
    });
    let f = b.finish(r);
    let id = module.add_function(f);
    let run = |items: &[f64]| {
        let xs = Value::list(items.iter().map(|&x| vector(&[x])).collect());
        forward(&module, id, &[], &xs)
    };
    assert_eq!(tensor(&run(&[5.0]).unwrap()).data, vec![5.0]);
    assert_eq!(
        tensor(&run(&[1.0, 10.0, 100.0]).unwrap()).data,
        vec![2.0 + 60.0 + 900.0]
    );
    // [a, b, c, d] splits as node(node(a, b), node(c, d)).
    assert_eq!(
        tensor(&run(&[1.0, 10.0, 100.0, 1000.0]).unwrap()).data,
        vec![2.0 * (2.0 + 30.0) + 3.0 * (200.0 + 3000.0)]
    );
    assert_eq!(run(&[]), Err(InterpError::EmptyHalves));
}

/// A fold with `nil = 0` and `cons(x, s) = x + 10 s` reads a list's
/// digits, which fixes the order in which the regions run.
#[test]
fn a_list_fold_runs_from_the_tail() {
    let mut module = Module::new();
    let list = vec_list(&mut module, 1);
    let mut b = FunctionBuilder::new(&module, "digits");
    let xs = b.input(Type::Data(list));
    let r = b.fold(list, xs, Type::tensor(&[1]), |b, ctor, args| match ctor {
        0 => b.zeros(Type::tensor(&[1])),
        _ => {
            let ten = b.scalar(10.0);
            let s = b.mul(ten, args[1]);
            b.add(args[0], s)
        }
    });
    let f = b.finish(r);
    let id = module.add_function(f);
    let xs = Value::list(vec![vector(&[1.0]), vector(&[2.0]), vector(&[3.0])]);
    assert_eq!(
        tensor(&forward(&module, id, &[], &xs).unwrap()).data,
        vec![321.0]
    );
    let empty = Value::list(vec![]);
    assert_eq!(
        tensor(&forward(&module, id, &[], &empty).unwrap()).data,
        vec![0.0]
    );
}

/// A tree fold with `leaf(x) = x` and `node(l, r) = l - r` depends on the
/// shape, not just the leaves.
#[test]
fn a_tree_fold_follows_the_shape() {
    let mut module = Module::new();
    let tree = vec_tree(&mut module, 1);
    let mut b = FunctionBuilder::new(&module, "shape");
    let t = b.input(Type::Data(tree));
    let r = b.fold(tree, t, Type::tensor(&[1]), |b, ctor, args| match ctor {
        0 => args[0],
        _ => b.sub(args[0], args[1]),
    });
    let f = b.finish(r);
    let id = module.add_function(f);
    let leaf = |x: f64| Value::leaf(vector(&[x]));
    let left = Value::node(Value::node(leaf(1.0), leaf(2.0)), leaf(4.0));
    let right = Value::node(leaf(1.0), Value::node(leaf(2.0), leaf(4.0)));
    assert_eq!(
        tensor(&forward(&module, id, &[], &left).unwrap()).data,
        vec![-5.0]
    );
    assert_eq!(
        tensor(&forward(&module, id, &[], &right).unwrap()).data,
        vec![3.0]
    );
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
    assert!(matches!(err, InterpError::Input { .. }), "{err}");
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
    assert!(
        err.to_string().contains("constructor `cons` has 2 fields"),
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
