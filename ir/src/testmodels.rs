//! Small models built through the builder, shared by the unit tests of
//! this crate and, with the `test-models` feature, of the JIT.
//!
//! Each function returns a module holding one forward function, plus the
//! loss it is trained with. Sizes are tiny so that finite differences over
//! every parameter entry stay fast.

use std::sync::Arc;

use cdlc_runtime::value::{DataDecl, DataType, Example, Target, Tensor, Value};

use crate::builder::FunctionBuilder;
use crate::ir::{Basis, DataId, FuncId, LossKind, Module, Type, Value as IrValue};
use crate::rng::Rng;

/// A model for the tests: a module, its forward function and its loss.
pub struct TestModel {
    /// The module holding the model's function and data types.
    pub module: Module,
    /// The forward function.
    pub forward: FuncId,
    /// The loss it is trained with.
    pub loss: LossKind,
}

fn finish(mut module: Module, f: crate::ir::Function, loss: LossKind) -> TestModel {
    let forward = module.add_function(f);
    TestModel {
        module,
        forward,
        loss,
    }
}

/// The prelude's `List(elem)`.
pub fn list_decl(elem: DataType) -> Arc<DataDecl> {
    let DataType::Data(decl) = DataType::list(elem) else {
        unreachable!("a list is a data type")
    };
    decl
}

/// The prelude's `Tree(elem)`.
pub fn tree_decl(elem: DataType) -> Arc<DataDecl> {
    let DataType::Data(decl) = DataType::tree(elem) else {
        unreachable!("a tree is a data type")
    };
    decl
}

/// `List(R[d])`, added to `module`.
pub fn vec_list(module: &mut Module, d: usize) -> DataId {
    module.add_data(list_decl(DataType::Tensor(vec![d])))
}

/// `Tree(R[d])`, added to `module`.
pub fn vec_tree(module: &mut Module, d: usize) -> DataId {
    module.add_data(tree_decl(DataType::Tensor(vec![d])))
}

/// `W @ x + b` with fresh parameters named `name.W`, `name.b`.
pub fn dense(b: &mut FunctionBuilder, name: &str, n: usize, m: usize, x: IrValue) -> IrValue {
    let w = b.param(format!("{name}.W"), &[m, n]);
    let bias = b.param(format!("{name}.b"), &[m]);
    let y = b.matmul(w, x);
    b.add(y, bias)
}

/// `dense[3, 2]`, trained with mse.
pub fn dense_model() -> TestModel {
    let module = Module::new();
    let mut b = FunctionBuilder::new(&module, "dense");
    let x = b.input(Type::tensor(&[3]));
    let y = dense(&mut b, "dense", 3, 2, x);
    let f = b.finish(y);
    finish(module, f, LossKind::Mse)
}

/// `dense[3, 4] >> relu >> dense[4, 3]`, cross-entropy.
pub fn mlp_model() -> TestModel {
    let module = Module::new();
    let mut b = FunctionBuilder::new(&module, "mlp");
    let x = b.input(Type::tensor(&[3]));
    let h = dense(&mut b, "l1", 3, 4, x);
    let h = b.relu(h);
    let y = dense(&mut b, "l2", 4, 3, h);
    let f = b.finish(y);
    finish(module, f, LossKind::CrossEntropy)
}

/// A siamese model: one `dense[3, 4]` instance applied to both inputs (its
/// parameters fan out), `tanh` of each, and the sum of their product, as a
/// one-entry vector for binary cross-entropy.
pub fn siamese_model() -> TestModel {
    let module = Module::new();
    let mut b = FunctionBuilder::new(&module, "siamese");
    let x1 = b.input(Type::tensor(&[3]));
    let x2 = b.input(Type::tensor(&[3]));
    let w = b.param("enc.W", &[4, 3]);
    let bias = b.param("enc.b", &[4]);
    let enc = |b: &mut FunctionBuilder, x| {
        let y = b.matmul(w, x);
        let y = b.add(y, bias);
        b.tanh(y)
    };
    let e1 = enc(&mut b, x1);
    let e2 = enc(&mut b, x2);
    let p = b.mul(e1, e2);
    let s = b.sum(p);
    let out = b.op(crate::ir::Op::BroadcastTo {
        x: s,
        shape: vec![1],
    });
    let f = b.finish(out);
    finish(module, f, LossKind::BinaryCrossEntropy)
}

/// The Elman algebra of the spec (`d` inputs, `h` hidden) folded over a
/// list, then `dense[h, 2]`; cross-entropy.
pub fn elman_model() -> TestModel {
    let (d, h) = (2, 3);
    let mut module = Module::new();
    let list = vec_list(&mut module, d);
    let mut b = FunctionBuilder::new(&module, "rnn");
    let xs = b.input(Type::Data(list));
    let s = elman_fold(&mut b, list, xs, d, h);
    let y = dense(&mut b, "out", h, 2, s);
    let f = b.finish(y);
    finish(module, f, LossKind::CrossEntropy)
}

/// `fold elman[d, h] (xs)`.
pub fn elman_fold(
    b: &mut FunctionBuilder,
    list: DataId,
    xs: IrValue,
    d: usize,
    h: usize,
) -> IrValue {
    let w = b.param("elman.W", &[h, h]);
    let u = b.param("elman.U", &[h, d]);
    let bias = b.param("elman.b", &[h]);
    let h0 = b.param("elman.h0", &[h]);
    b.fold(list, xs, Type::tensor(&[h]), |b, ctor, args| match ctor {
        0 => h0,
        _ => {
            let ws = b.matmul(w, args[1]);
            let ux = b.matmul(u, args[0]);
            let z = b.add(ws, ux);
            let z = b.add(z, bias);
            b.tanh(z)
        }
    })
}

/// The `treenn[k, h]` algebra of the standard library.
pub fn treenn_cases(
    b: &mut FunctionBuilder,
    k: usize,
    h: usize,
) -> impl FnMut(&mut FunctionBuilder, usize, &[IrValue]) -> IrValue + use<> {
    let e = b.param("treenn.E", &[h, k]);
    let c = b.param("treenn.c", &[h]);
    let l = b.param("treenn.L", &[h, h]);
    let m = b.param("treenn.M", &[h, h]);
    let bias = b.param("treenn.b", &[h]);
    move |b, ctor, args| match ctor {
        0 => {
            let y = b.matmul(e, args[0]);
            let y = b.add(y, c);
            b.tanh(y)
        }
        _ => {
            let y = b.matmul(l, args[0]);
            let z = b.matmul(m, args[1]);
            let y = b.add(y, z);
            let y = b.add(y, bias);
            b.tanh(y)
        }
    }
}

/// `fold treenn[2, 3] >> dense[3, 3]` over trees; cross-entropy.
pub fn tree_model() -> TestModel {
    let mut module = Module::new();
    let tree = vec_tree(&mut module, 2);
    let mut b = FunctionBuilder::new(&module, "tree");
    let t = b.input(Type::Data(tree));
    let cases = treenn_cases(&mut b, 2, 3);
    let r = b.fold(tree, t, Type::tensor(&[3]), cases);
    let y = dense(&mut b, "out", 3, 3, r);
    let f = b.finish(y);
    finish(module, f, LossKind::CrossEntropy)
}

/// `hylo treenn[2, 3] by halves (xs) >> dense[3, 2]`; cross-entropy.
pub fn hylo_model() -> TestModel {
    let mut module = Module::new();
    let list = vec_list(&mut module, 2);
    let tree = vec_tree(&mut module, 2);
    let mut b = FunctionBuilder::new(&module, "hylo");
    let xs = b.input(Type::Data(list));
    let cases = treenn_cases(&mut b, 2, 3);
    let r = b.hylo_halves(tree, xs, Type::tensor(&[3]), cases);
    let y = dense(&mut b, "out", 3, 2, r);
    let f = b.finish(y);
    finish(module, f, LossKind::CrossEntropy)
}

/// `unfold mealy[2, 2, 3] from s0 over xs`, per-position cross-entropy.
pub fn mealy_model() -> TestModel {
    let (i, o, h) = (2, 2, 3);
    let mut module = Module::new();
    let list = vec_list(&mut module, i);
    let mut b = FunctionBuilder::new(&module, "mealy");
    let xs = b.input(Type::Data(list));
    let s0 = b.param("s0", &[h]);
    let w = b.param("mealy.W", &[h, h]);
    let u = b.param("mealy.U", &[h, i]);
    let v = b.param("mealy.V", &[o, h]);
    let out = b.unfold_over(s0, xs, |b, s, x| {
        let ws = b.matmul(w, s);
        let ux = b.matmul(u, x);
        let z = b.add(ws, ux);
        let s2 = b.tanh(z);
        let y = b.matmul(v, s2);
        b.tuple(vec![y, s2])
    });
    let f = b.finish(out);
    finish(module, f, LossKind::CrossEntropy)
}

/// `unfold emit[3, 4] from tanh(P @ x) take 3`, per-position cross-entropy.
pub fn stream_model() -> TestModel {
    stream_model_with(LossKind::CrossEntropy, 3)
}

/// `unfold emit[3, 4] from tanh(P @ x) take steps`, per-position `loss`.
pub fn stream_model_with(loss: LossKind, steps: u32) -> TestModel {
    let module = Module::new();
    let mut b = FunctionBuilder::new(&module, "stream");
    let x = b.input(Type::tensor(&[3]));
    let p = b.param("P", &[4, 3]);
    let a = b.param("emit.A", &[4, 4]);
    let c = b.param("emit.C", &[3, 4]);
    let px = b.matmul(p, x);
    let s0 = b.tanh(px);
    let out = b.unfold_take(s0, steps, |b, s| {
        let y = b.matmul(c, s);
        let a_s = b.matmul(a, s);
        let next = b.tanh(a_s);
        b.tuple(vec![y, next])
    });
    let f = b.finish(out);
    finish(module, f, loss)
}

/// A tree whose leaves are lists: the leaf case folds the Elman algebra over
/// its list (a nested fold), the node case combines; cross-entropy.
pub fn nested_model() -> TestModel {
    let (d, h) = (2, 3);
    let mut module = Module::new();
    let list = vec_list(&mut module, d);
    let list_ty = DataType::Data(list_decl(DataType::Tensor(vec![d])));
    let tree = module.add_data(tree_decl(list_ty));
    let mut b = FunctionBuilder::new(&module, "nested");
    let t = b.input(Type::Data(tree));
    let l = b.param("node.L", &[h, h]);
    let m = b.param("node.M", &[h, h]);
    let r = b.fold(tree, t, Type::tensor(&[h]), |b, ctor, args| match ctor {
        0 => elman_fold(b, list, args[0], d, h),
        _ => {
            let y = b.matmul(l, args[0]);
            let z = b.matmul(m, args[1]);
            let y = b.add(y, z);
            b.tanh(y)
        }
    });
    let y = dense(&mut b, "out", h, 2, r);
    let f = b.finish(y);
    finish(module, f, LossKind::CrossEntropy)
}

/// The circulant matrices on 4 points as a hand-written basis: shift by 0,
/// by +1 and by -1 (a circular convolution with kernel 3).
pub fn circulant_basis() -> Basis {
    let n = 4u32;
    let shift =
        |k: u32| -> Vec<(u32, f64)> { (0..n).map(|i| (i * n + (i + k) % n, 1.0)).collect() };
    Basis::vector(
        "conv.K".into(),
        vec![4, 4],
        vec![shift(0), shift(1), shift(n - 1)],
    )
}

/// `K @ x` with `K: equivariant Ring -> Ring where local(1)`, stored as
/// three basis coefficients, then `gelu`; mse.
pub fn basis_model() -> TestModel {
    let mut module = Module::new();
    let basis = module.add_basis(circulant_basis());
    let mut b = FunctionBuilder::new(&module, "ring");
    let x = b.input(Type::tensor(&[4]));
    let c = b.param("conv.K", &[3]);
    let k = b.basis_expand(c, basis);
    let y = b.apply(k, x);
    let y = b.unary(crate::ir::UnOp::Gelu, y);
    let f = b.finish(y);
    finish(module, f, LossKind::Mse)
}

/// Pairs: `let p = (W @ x, tanh x) in concat(fst p, snd p * fst p[..2])`
/// style plumbing through `tuple` and `get`; mse.
pub fn pair_model() -> TestModel {
    let module = Module::new();
    let mut b = FunctionBuilder::new(&module, "pairs");
    let x = b.input(Type::tensor(&[2]));
    let w = b.param("W", &[2, 2]);
    let wx = b.matmul(w, x);
    let tx = b.tanh(x);
    let p = b.tuple(vec![wx, tx]);
    let q = b.tuple(vec![p, wx]);
    let p2 = b.get(q, 0);
    let a = b.get(p2, 0);
    let c = b.get(p2, 1);
    let d = b.get(q, 1);
    let ac = b.mul(a, c);
    let y = b.concat(ac, d);
    let f = b.finish(y);
    finish(module, f, LossKind::Mse)
}

/// Every model above, by name.
pub fn all_models() -> Vec<(&'static str, TestModel)> {
    vec![
        ("dense", dense_model()),
        ("mlp", mlp_model()),
        ("siamese", siamese_model()),
        ("elman", elman_model()),
        ("tree", tree_model()),
        ("hylo", hylo_model()),
        ("mealy", mealy_model()),
        ("stream", stream_model()),
        ("nested", nested_model()),
        ("basis", basis_model()),
        ("pairs", pair_model()),
    ]
}

/// Random parameters for every slot of a function, entries in [-0.8, 0.8).
pub fn random_params(func: &crate::ir::Function, rng: &mut Rng) -> Vec<Tensor> {
    func.params
        .iter()
        .map(|(_, p)| random_tensor(&p.shape, rng))
        .collect()
}

/// A tensor with entries uniform in [-0.8, 0.8).
pub fn random_tensor(shape: &[usize], rng: &mut Rng) -> Tensor {
    let n = shape.iter().product();
    Tensor::new(
        shape.to_vec(),
        (0..n).map(|_| rng.range(-0.8, 0.8)).collect(),
    )
}

/// A random input value of `ty`; lists have 1 to 4 elements, trees 1 to 5
/// leaves in random shapes.
pub fn random_value(module: &Module, ty: &Type, rng: &mut Rng) -> Value {
    match ty {
        Type::Tensor(s) => Value::Tensor(random_tensor(s, rng)),
        Type::Tuple(ts) => Value::Tuple(ts.iter().map(|t| random_value(module, t, rng)).collect()),
        Type::Data(d) => {
            if let Some(elem) = module.list_element(*d) {
                let n = 1 + rng.below(4);
                Value::list((0..n).map(|_| random_value(module, elem, rng)).collect())
            } else if let Some(leaf) = module.tree_leaf(*d) {
                let n = 1 + rng.below(5);
                random_tree(module, leaf, n, rng)
            } else {
                panic!("no generator for {ty:?}")
            }
        }
        other => panic!("no generator for {other:?}"),
    }
}

/// A tree of `n` leaves, split (j, n − j) with j uniform in 1..n−1.
pub fn random_tree(module: &Module, leaf: &Type, n: usize, rng: &mut Rng) -> Value {
    if n == 1 {
        return Value::leaf(random_value(module, leaf, rng));
    }
    let j = 1 + rng.below(n - 1);
    let l = random_tree(module, leaf, j, rng);
    let r = random_tree(module, leaf, n - j, rng);
    Value::node(l, r)
}

/// A random target for an output of type `out` under `loss`; `positions`
/// says how many positions a `Seq` output has.
pub fn random_target(loss: LossKind, out: &Type, positions: usize, rng: &mut Rng) -> Target {
    match (loss, out) {
        (_, Type::Seq(elem)) => Target::Seq(
            (0..positions)
                .map(|_| random_target(loss, elem, 0, rng))
                .collect(),
        ),
        (LossKind::CrossEntropy, Type::Tensor(s)) => Target::Class(rng.below(s[0])),
        (LossKind::BinaryCrossEntropy, Type::Tensor(s)) => {
            let n = s.iter().product();
            Target::Tensor(Tensor::new(
                s.clone(),
                (0..n).map(|_| rng.uniform()).collect(),
            ))
        }
        (LossKind::Mse, Type::Tensor(s)) => Target::Tensor(random_tensor(s, rng)),
        _ => panic!("no target for {out:?}"),
    }
}

/// A random input for a function: one value, or a tuple for several inputs.
pub fn random_input(module: &Module, func: &crate::ir::Function, rng: &mut Rng) -> Value {
    match func.inputs.as_slice() {
        [t] => random_value(module, t, rng),
        ts => Value::Tuple(ts.iter().map(|t| random_value(module, t, rng)).collect()),
    }
}

/// A batch of `n` random examples for a model, with targets that fit its
/// output (as many positions as the output has, for a `List` output).
pub fn random_batch(m: &TestModel, params: &[Tensor], n: usize, rng: &mut Rng) -> Vec<Example> {
    let f = &m.module.functions[m.forward];
    let out_ty = f.types[f.output()].clone();
    (0..n)
        .map(|_| {
            let x = random_input(&m.module, f, rng);
            let out =
                crate::interp::forward(&m.module, m.forward, params, &x).expect("valid input");
            let positions = out.as_list().map_or(0, |l| l.len());
            let y = random_target(m.loss, &out_ty, positions, rng);
            Example { x, y }
        })
        .collect()
}

/// Differentiates a model and returns its training function.
pub fn train_fn(m: &mut TestModel) -> FuncId {
    crate::autodiff::differentiate(&mut m.module, m.forward, m.loss).expect("differentiable")
}
