//! Tests of `differentiate`: shared instances, batch means, f32 against
//! f64, pruning, errors, and snapshots of reverse functions. Exact
//! gradients of small programs (ReLU at 0, a value used twice) are case
//! files under `tests/cases/ir/run/` (the `cdlc-tests` crate's `ir_cases`
//! runner).

use cdlc_runtime::value::{Example, Target, Tensor, Value};

use crate::autodiff::{AdError, differentiate};
use crate::builder::FunctionBuilder;
use crate::gradcheck::gradcheck;
use crate::interp::{loss_and_grad, loss_and_grad_as};
use crate::ir::{LossKind, Module, Op, Type, UnOp, ValueDef};
use crate::print::print_function;
use crate::rng::Rng;
use crate::testmodels::{
    TestModel, dense_model, elman_model, mealy_model, random_batch, random_params, siamese_model,
    stream_model, train_fn, tree_model,
};

fn vector(xs: &[f64]) -> Tensor {
    Tensor::new(vec![xs.len()], xs.to_vec())
}

#[test]
fn shared_instances_sum_their_gradients() {
    // The siamese model applies one encoder to both inputs. With equal
    // inputs, each use contributes the same amount, so the gradient is twice
    // the gradient through either use alone, computed here by finite
    // differences of a model with the encoder's two uses split.
    let mut m = siamese_model();
    let train = train_fn(&mut m);
    let mut rng = Rng::new(9);
    let params = random_params(&m.module.functions[m.forward], &mut rng);
    let a = Value::Tensor(vector(&[0.3, -0.2, 0.5]));
    let batch = [Example {
        x: Value::Tuple(vec![a.clone(), a]),
        y: Target::Tensor(vector(&[1.0])),
    }];
    let report = gradcheck(&m.module, train, &params, &batch, 1).unwrap();
    assert!(report.passed(), "{report:#?}");
    let (_, grads) = loss_and_grad(&m.module, train, &params, &batch).unwrap();
    assert!(grads.iter().all(|g| g.data.iter().any(|x| *x != 0.0)));
}

#[test]
fn a_batch_gives_the_mean_of_its_examples() {
    let mut rng = Rng::new(21);
    for mut m in [elman_model(), tree_model(), mealy_model(), stream_model()] {
        let train = train_fn(&mut m);
        let params = random_params(&m.module.functions[m.forward], &mut rng);
        let batch = random_batch(&m, &params, 5, &mut rng);
        let (loss, grads) = loss_and_grad(&m.module, train, &params, &batch).unwrap();
        let mut mean_loss = 0.0;
        let mut mean_grads: Vec<Vec<f64>> = grads.iter().map(|g| vec![0.0; g.data.len()]).collect();
        for ex in &batch {
            let (l, gs) =
                loss_and_grad(&m.module, train, &params, std::slice::from_ref(ex)).unwrap();
            mean_loss += l / batch.len() as f64;
            for (acc, g) in mean_grads.iter_mut().zip(&gs) {
                for (a, x) in acc.iter_mut().zip(&g.data) {
                    *a += x / batch.len() as f64;
                }
            }
        }
        assert!((loss - mean_loss).abs() < 1e-12);
        for (g, mg) in grads.iter().zip(&mean_grads) {
            for (x, y) in g.data.iter().zip(mg) {
                assert!((x - y).abs() < 1e-12, "{x} vs {y}");
            }
        }
    }
}

#[test]
fn f32_gradients_agree_with_f64() {
    let mut rng = Rng::new(5);
    let mut m = elman_model();
    let train = train_fn(&mut m);
    let params = random_params(&m.module.functions[m.forward], &mut rng);
    let batch = random_batch(&m, &params, 4, &mut rng);
    let (l64, g64) = loss_and_grad(&m.module, train, &params, &batch).unwrap();
    let (l32, g32) = loss_and_grad_as::<f32>(&m.module, train, &params, &batch).unwrap();
    assert!((l64 - l32).abs() < 1e-5);
    for (a, b) in g64.iter().zip(&g32) {
        for (x, y) in a.data.iter().zip(&b.data) {
            assert!((x - y).abs() < 1e-5, "{x} vs {y}");
        }
    }
}

#[test]
fn gradcheck_catches_a_wrong_gradient() {
    let mut m = dense_model();
    let train = train_fn(&mut m);
    // Double the loss's cotangent seed: the gradient doubles, the loss does
    // not, and the check must notice.
    let f = &mut m.module.functions[train];
    let seed = f
        .values
        .keys()
        .find(|v| matches!(f.op(*v), Some(Op::Const(t)) if t.data == [1.0]))
        .expect("the seed constant");
    f.values[seed] = ValueDef::Op(Op::Const(Tensor::scalar(2.0)));
    let mut rng = Rng::new(3);
    let params = random_params(&m.module.functions[m.forward], &mut rng);
    let batch = random_batch(&m, &params, 2, &mut rng);
    let report = gradcheck(&m.module, train, &params, &batch, 3).unwrap();
    assert!(!report.passed());
    assert!(
        report.params.iter().all(|p| p.max_rel_error > 0.4),
        "{report:#?}"
    );
}

#[test]
fn values_that_do_not_reach_a_parameter_are_pruned() {
    // y = W x + exp(x): the exp branch is data only, so the reverse pass has
    // no rule applications for it (no `mul` by exp) and no cotangent for x.
    let mut module = Module::new();
    let mut b = FunctionBuilder::new(&module, "pruned");
    let x = b.input(Type::tensor(&[2]));
    let w = b.param("W", &[2, 2]);
    let wx = b.matmul(w, x);
    let e = b.unary(UnOp::Exp, x);
    let y = b.add(wx, e);
    let f = b.finish(y);
    let forward = module.add_function(f);
    let train = differentiate(&mut module, forward, LossKind::Mse).unwrap();
    let text = print_function(&module, &module.functions[train]);
    assert_eq!(text.matches(" = exp ").count(), 1, "{text}");
    assert!(!text.contains(" = mul "), "{text}");
    assert!(!text.contains(" = permute "), "{text}");
}

#[test]
fn an_op_without_a_rule_is_an_internal_error_naming_it() {
    let mut module = Module::new();
    let mut b = FunctionBuilder::new(&module, "second_order");
    b.input(Type::scalar());
    let p = b.param("p", &[2]);
    let y = b.unary(UnOp::GeluDeriv, p);
    let f = b.finish(y);
    let forward = module.add_function(f);
    let err = differentiate(&mut module, forward, LossKind::Mse).unwrap_err();
    assert!(
        matches!(
            err,
            AdError::NoRule {
                op: "gelu_deriv",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "internal error: no reverse rule for `gelu_deriv` (at %2 in function `second_order`)"
    );
}

#[test]
fn a_loss_that_does_not_fit_is_reported() {
    let mut m = dense_model();
    let err = differentiate(&mut m.module, m.forward, LossKind::CrossEntropy);
    // cross-entropy fits a vector output; a matrix output does not.
    assert!(err.is_ok());
    let mut module = Module::new();
    let mut b = FunctionBuilder::new(&module, "matrix");
    let p = b.param("p", &[2, 2]);
    let f = b.finish(p);
    let forward = module.add_function(f);
    let err = differentiate(&mut module, forward, LossKind::CrossEntropy).unwrap_err();
    assert!(matches!(err, AdError::LossDoesNotFit { .. }), "{err:?}");
}

fn snapshot_of(mut m: TestModel) -> String {
    let train = train_fn(&mut m);
    print_function(&m.module, &m.module.functions[train])
}

#[test]
fn dense_reverse() {
    insta::assert_snapshot!(snapshot_of(dense_model()));
}

#[test]
fn elman_reverse() {
    insta::assert_snapshot!(snapshot_of(elman_model()));
}

#[test]
fn mealy_reverse() {
    insta::assert_snapshot!(snapshot_of(mealy_model()));
}

/// A data type named `name` of `nil()` and `cons(R[2], X, extra...)`.
fn list_with(name: &str, extra: &[usize]) -> std::sync::Arc<cdlc_runtime::value::DataDecl> {
    use cdlc_runtime::value::{CtorDecl, DataDecl, DataType};
    let mut fields = vec![DataType::Tensor(vec![2]), DataType::Rec(0)];
    fields.extend(extra.iter().map(|&n| DataType::Tensor(vec![n])));
    std::sync::Arc::new(DataDecl {
        name: name.into(),
        ctors: vec![
            CtorDecl {
                name: "nil".into(),
                fields: Vec::new(),
            },
            CtorDecl {
                name: "cons".into(),
                fields,
            },
        ],
    })
}

#[test]
fn a_map_over_a_structure_that_depends_on_a_parameter_is_an_internal_error() {
    // `map (tanh u)` over the result of `map (W x)` over a list, folded:
    // the second map's input depends on `W`. The hoisting pass never
    // builds this (it maps data only), so the reverse derivative reports a
    // compiler bug (E0619), not an unsupported program.
    use crate::ir::MapOp;
    let mut module = Module::new();
    let list = module.add_data(list_with("List(R[2])", &[]));
    let once = module.add_data(list_with("Mapped(List(R[2]); () | (R[3]))", &[3]));
    let twice = module.add_data(list_with("Mapped(..; () | (R[3], R[3]))", &[3, 3]));
    let mut b = FunctionBuilder::new(&module, "maps");
    let xs = b.input(Type::Data(list));
    let w = b.param("W", &[3, 2]);
    let empty = |b: &mut FunctionBuilder, plain: &[Type]| {
        b.begin_region(plain);
        let t = b.tuple(Vec::new());
        b.end_region(t)
    };
    let nil1 = empty(&mut b, &[]);
    let a = b.begin_region(&[Type::tensor(&[2])]);
    let y = b.matmul(w, a[0]);
    let t = b.tuple(vec![y]);
    let cons1 = b.end_region(t);
    let m1 = b.op(Op::Map(MapOp {
        data: list,
        out: once,
        input: xs,
        cases: vec![nil1, cons1],
    }));
    let nil2 = empty(&mut b, &[]);
    let a = b.begin_region(&[Type::tensor(&[2]), Type::tensor(&[3])]);
    let y = b.tanh(a[1]);
    let t = b.tuple(vec![y]);
    let cons2 = b.end_region(t);
    let m2 = b.op(Op::Map(MapOp {
        data: once,
        out: twice,
        input: m1,
        cases: vec![nil2, cons2],
    }));
    let r = b.fold(twice, m2, Type::tensor(&[3]), |b, ctor, args| match ctor {
        0 => b.zeros(Type::tensor(&[3])),
        _ => b.add(args[1], args[3]),
    });
    let f = b.finish(r);
    let forward = module.add_function(f);
    match differentiate(&mut module, forward, LossKind::Mse) {
        Err(e @ AdError::Internal { .. }) => {
            assert!(e.to_string().contains("`map` over a structure"), "{e}")
        }
        other => panic!("expected an internal error, got {other:?}"),
    }
}
