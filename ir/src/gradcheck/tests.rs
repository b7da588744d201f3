use cdlc_runtime::value::Tensor;

use crate::builder::FunctionBuilder;
use crate::gradcheck::{GradCheck, TOLERANCE, gradcheck};
use crate::ir::{LossKind, Module, Op, ReduceOp, Type, UnOp, Value};
use crate::rng::Rng;
use crate::testmodels::{
    TestModel, all_models, circulant_basis, random_batch, random_params, train_fn,
};

/// Differentiates `m`, checks its gradient on a batch of 3 random examples,
/// and asserts every error is within `TOLERANCE`.
#[track_caller]
fn check_model(name: &str, mut m: TestModel, seed: u64) -> GradCheck {
    let train = train_fn(&mut m);
    let mut rng = Rng::new(seed);
    let params = random_params(&m.module.functions[m.forward], &mut rng);
    let batch = random_batch(&m, &params, 3, &mut rng);
    let report = gradcheck(&m.module, train, &params, &batch, seed).expect("valid batch");
    assert!(
        report.passed(),
        "{name}: max relative error {:e} > {TOLERANCE:e}\n{report:#?}\n{}",
        report.max_rel_error(),
        crate::print::print_function(&m.module, &m.module.functions[train])
    );
    report
}

#[test]
fn every_test_model_passes_gradcheck() {
    for (i, (name, m)) in all_models().into_iter().enumerate() {
        let n_params = m.module.functions[m.forward].params.len();
        let report = check_model(name, m, 100 + i as u64);
        assert_eq!(report.params.len(), n_params);
    }
}

#[test]
fn models_pass_gradcheck_at_several_seeds() {
    for seed in 0..4 {
        check_model("elman", crate::testmodels::elman_model(), seed);
        check_model("tree", crate::testmodels::tree_model(), seed);
        check_model("hylo", crate::testmodels::hylo_model(), seed);
        check_model("mealy", crate::testmodels::mealy_model(), seed);
        check_model("nested", crate::testmodels::nested_model(), seed);
    }
}

/// A model of one op: parameters `P` (and `Q`) of the given shapes, the op
/// builds the output from them, trained with mse.
#[track_caller]
fn check_op(
    name: &str,
    p: &[usize],
    q: &[usize],
    op: impl FnOnce(&mut FunctionBuilder, Value, Value) -> Value,
) {
    check_op_in(Module::new(), name, p, q, op);
}

#[track_caller]
fn check_op_in(
    module: Module,
    name: &str,
    p: &[usize],
    q: &[usize],
    op: impl FnOnce(&mut FunctionBuilder, Value, Value) -> Value,
) {
    let mut module = module;
    let mut b = FunctionBuilder::new(&module, name);
    let x = b.input(Type::scalar());
    let pv = b.param("P", p);
    let qv = b.param("Q", q);
    // Scale by the scalar input so the model has an input to batch over.
    let ps = b.mul(pv, x);
    let y = op(&mut b, ps, qv);
    let f = b.finish(y);
    let forward = module.add_function(f);
    check_model(
        name,
        TestModel {
            module,
            forward,
            loss: LossKind::Mse,
        },
        7,
    );
}

#[test]
fn elementwise_ops_with_broadcasting() {
    for (bop, name) in [
        (crate::ir::BinOp::Add, "add"),
        (crate::ir::BinOp::Sub, "sub"),
        (crate::ir::BinOp::Mul, "mul"),
    ] {
        check_op(name, &[2, 3], &[2, 3], |b, p, q| b.binary(bop, p, q));
        check_op(name, &[2, 3], &[2], |b, p, q| b.binary(bop, p, q));
        check_op(name, &[], &[2, 3], |b, p, q| b.binary(bop, p, q));
    }
    // Keep divisors away from 0: q² + 1.
    let positive = |b: &mut FunctionBuilder, q: Value| {
        let qq = b.mul(q, q);
        let one = b.scalar(1.0);
        b.add(qq, one)
    };
    check_op("div", &[2, 3], &[2, 3], |b, p, q| {
        let d = positive(b, q);
        b.div(p, d)
    });
    check_op("div broadcast", &[2, 3], &[2], |b, p, q| {
        let d = positive(b, q);
        b.div(p, d)
    });
    check_op("div by a tensor", &[], &[3], |b, p, q| {
        let d = positive(b, q);
        b.div(p, d)
    });
}

#[test]
fn pointwise_ops() {
    for op in [
        UnOp::Neg,
        UnOp::Relu,
        UnOp::Tanh,
        UnOp::Sigmoid,
        UnOp::Exp,
        UnOp::Softplus,
        UnOp::Gelu,
        UnOp::Abs,
    ] {
        check_op(op.name(), &[2, 3], &[1], |b, p, _| b.unary(op, p));
    }
    for op in [UnOp::Log, UnOp::Sqrt] {
        check_op(op.name(), &[2, 3], &[1], |b, p, _| {
            let pp = b.mul(p, p);
            let one = b.scalar(0.5);
            let pos = b.add(pp, one);
            b.unary(op, pos)
        });
    }
}

#[test]
fn contractions() {
    check_op("matvec", &[3, 4], &[4], |b, p, q| b.matmul(p, q));
    check_op("vecmat", &[3], &[3, 4], |b, p, q| b.matmul(p, q));
    check_op("matmat", &[2, 3], &[3, 4], |b, p, q| b.matmul(p, q));
    check_op("rank3 @ rank2", &[2, 3, 4], &[4, 2], |b, p, q| {
        b.matmul(p, q)
    });
    check_op("equivariant apply", &[2, 3, 2, 2], &[2, 2], |b, p, q| {
        b.apply(p, q)
    });
    check_op("outer", &[3], &[2, 2], |b, p, q| b.outer(p, q));
    check_op("dot", &[3], &[3], |b, p, q| b.matmul(p, q));
    check_op("transpose", &[2, 3], &[1], |b, p, _| b.transpose(p));
    check_op("permute", &[2, 3, 4], &[1], |b, p, _| {
        b.permute(p, vec![2, 0, 1])
    });
}

#[test]
fn reductions() {
    for op in [ReduceOp::Sum, ReduceOp::Mean, ReduceOp::Max] {
        check_op(op.name(), &[2, 3], &[1], |b, p, _| b.reduce(op, p, None));
        check_op(op.name(), &[2, 3, 2], &[1], |b, p, _| {
            b.reduce(op, p, Some(1))
        });
        check_op(op.name(), &[2, 3], &[1], |b, p, _| b.reduce(op, p, Some(0)));
    }
    check_op("expand", &[2, 3], &[1], |b, p, _| {
        b.op(Op::Expand {
            x: p,
            axis: 1,
            n: 4,
        })
    });
    check_op("broadcast_to", &[2], &[1], |b, p, _| {
        b.op(Op::BroadcastTo {
            x: p,
            shape: vec![2, 3],
        })
    });
    check_op("sum_to", &[2, 3], &[1], |b, p, _| {
        b.op(Op::SumTo {
            x: p,
            shape: vec![2],
        })
    });
}

#[test]
fn built_ins() {
    check_op("softmax", &[4], &[1], |b, p, _| b.softmax(p));
    check_op("log_softmax", &[4], &[1], |b, p, _| b.log_softmax(p));
    check_op("norm", &[3, 2, 2], &[1], |b, p, _| b.norm(p, 1));
    check_op("norm all", &[3], &[1], |b, p, _| b.norm(p, 0));
    check_op("gate", &[3, 4], &[1], |b, p, _| b.gate(p, 1));
    check_op("concat", &[2], &[3], |b, p, q| b.concat(p, q));
    check_op("slice", &[5], &[1], |b, p, _| {
        b.op(Op::Slice {
            x: p,
            start: 1,
            len: 2,
        })
    });
    check_op("slice at the start", &[5], &[1], |b, p, _| {
        b.op(Op::Slice {
            x: p,
            start: 0,
            len: 5,
        })
    });
    check_op("tuple and get", &[2], &[2], |b, p, q| {
        let t = b.tuple(vec![p, q, p]);
        let a = b.get(t, 0);
        let c = b.get(t, 2);
        let s = b.add(a, c);
        let u = b.tuple(vec![t, s]);
        let inner = b.get(u, 0);
        let qq = b.get(inner, 1);
        let s2 = b.get(u, 1);
        b.mul(s2, qq)
    });
    check_op("const and zeros", &[2], &[1], |b, p, _| {
        let c = b.constant(Tensor::new(vec![2], vec![0.5, -2.0]));
        let z = b.zeros(Type::tensor(&[2]));
        let y = b.mul(p, c);
        b.add(y, z)
    });
}

#[test]
fn basis_expand_and_project() {
    let mut module = Module::new();
    let basis = module.add_basis(circulant_basis());
    check_op_in(module.clone(), "basis_expand", &[3], &[4], |b, p, q| {
        let w = b.basis_expand(p, basis);
        b.apply(w, q)
    });
    check_op_in(module, "basis_project", &[4, 4], &[1], |b, p, _| {
        b.op(Op::BasisProject { x: p, basis })
    });
}

#[test]
fn losses() {
    // cross-entropy (mlp), binary cross-entropy (siamese) and mse (dense)
    // are checked with the models; here each on a matrix output.
    for loss in [LossKind::BinaryCrossEntropy, LossKind::Mse] {
        let mut module = Module::new();
        let mut b = FunctionBuilder::new(&module, loss.name());
        let x = b.input(Type::tensor(&[3]));
        let w = b.param("W", &[2, 3, 3]);
        let y = b.matmul(w, x);
        let f = b.finish(y);
        let forward = module.add_function(f);
        check_model(
            loss.name(),
            TestModel {
                module,
                forward,
                loss,
            },
            3,
        );
    }
}

/// `loss = Σ scale_i · relu(p_i)` over one slot, with its gradient.
fn relu_loss(p: &[Tensor], scale: f64) -> Result<(f64, Vec<Tensor>), ()> {
    let t = &p[0];
    let loss = t.data.iter().map(|x| scale * x.max(0.0)).sum();
    let grad = t
        .data
        .iter()
        .map(|x| if *x > 0.0 { scale } else { 0.0 })
        .collect();
    Ok((loss, vec![Tensor::new(t.shape.clone(), grad)]))
}

#[test]
fn a_check_that_skipped_everything_fails() {
    use crate::gradcheck::{EPS, Sampling, check};
    // Every entry sits just past a ReLU kink: within EPS but not EPS / 2,
    // so the two differences disagree and every entry is skipped.
    let params = vec![Tensor::new(vec![4], vec![0.7 * EPS; 4])];
    let sampling = Sampling {
        directions: 0,
        ..Sampling::FULL
    };
    let r = check(&["P".to_string()], &params, 1, sampling, |p| {
        relu_loss(p, 1.0)
    })
    .unwrap();
    assert_eq!(r.params[0].skipped, 4, "{r:#?}");
    assert_eq!(r.compared(), 0);
    assert_eq!(r.max_rel_error(), 0.0);
    assert!(!r.passed(), "a check that compared nothing must fail");
}

#[test]
fn a_zero_gradient_does_not_pass() {
    use crate::gradcheck::{Sampling, check};
    // A loss that does not depend on the parameter: its finite differences
    // agree with the zero gradient, which proves nothing.
    let params = vec![Tensor::new(vec![3], vec![-1.0, -2.0, -3.0])];
    let r = check(&["P".to_string()], &params, 1, Sampling::FULL, |p| {
        relu_loss(p, 1.0)
    })
    .unwrap();
    assert!(r.compared() > 0);
    assert!(r.zero_gradient);
    assert!(!r.passed());
}

#[test]
fn a_sampled_check_is_bounded_and_reaches_every_slot() {
    use crate::gradcheck::{Coords, Sampling, check};
    let mut rng = Rng::new(9);
    let shapes = [vec![1000], vec![3], vec![1]];
    let params: Vec<Tensor> = shapes
        .iter()
        .map(|s| Tensor::new(s.clone(), (0..s[0]).map(|_| rng.normal()).collect()))
        .collect();
    let names: Vec<String> = ["W", "b", "c"].iter().map(|s| s.to_string()).collect();
    // loss = Σ_slots Σ_i (slot + 1) · p_i², gradient 2 (slot + 1) p.
    let quadratic = |p: &[Tensor], wrong_slot: Option<usize>| {
        let mut loss = 0.0;
        let mut grads = Vec::new();
        for (s, t) in p.iter().enumerate() {
            let k = (s + 1) as f64;
            loss += t.data.iter().map(|x| k * x * x).sum::<f64>();
            let off = if wrong_slot == Some(s) { 1.5 } else { 1.0 };
            let g = t.data.iter().map(|x| off * 2.0 * k * x).collect();
            grads.push(Tensor::new(t.shape.clone(), g));
        }
        Ok::<_, ()>((loss, grads))
    };
    let sampling = Sampling {
        coords: Coords::Sample(10),
        directions: 2,
    };
    let mut evaluations = 0;
    let r = check(&names, &params, 4, sampling, |p| {
        evaluations += 1;
        quadratic(p, None)
    })
    .unwrap();
    assert!(r.passed(), "{r:#?}");
    let picked: Vec<usize> = r.params.iter().map(|p| p.compared + p.skipped).collect();
    assert!(
        picked.iter().all(|&n| n >= 1),
        "every slot is sampled: {picked:?}"
    );
    assert!(picked.iter().sum::<usize>() <= 10, "{picked:?}");
    assert_eq!(r.directions_compared, 2);
    // One gradient, and two evaluations per entry and per direction: on a
    // quadratic the difference at EPS agrees with the gradient at once.
    assert_eq!(evaluations, 1 + 2 * picked.iter().sum::<usize>() + 2 * 2);
    // A wrong gradient in the one-entry slot is found by its sampled entry
    // and by the directions.
    let r = check(&names, &params, 4, sampling, |p| quadratic(p, Some(2))).unwrap();
    assert!(!r.passed());
    assert!(r.params[2].max_rel_error > 0.1, "{r:#?}");
    assert!(r.direction_rel_error > 0.0);
}
