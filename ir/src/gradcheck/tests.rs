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
