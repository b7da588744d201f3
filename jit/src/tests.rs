//! The JIT against the reference interpreter: training steps (mean loss and
//! mean gradients over a batch whose lists and trees have different
//! shapes) and forward outputs, in f64 and f32, on models built with the
//! IR builder in the shapes the compiler produces for the example programs.

use std::sync::Arc;

use cdlc_ir::rng::Rng;
use cdlc_ir::{FuncId, FunctionBuilder, LossKind, Module, Type, UnOp, Value as V, interp};
use cdlc_runtime::value::{CtorDecl, DataDecl, DataType, Example, Target, Tensor, Value};

use crate::{Dtype, Options, compile_forward, compile_train};

/// f64 kernels must agree with the f64 interpreter to this relative error.
const TOL_F64: f64 = 1e-9;
/// f32 kernels must agree with the f32 interpreter to this relative error.
const TOL_F32: f64 = 1e-4;

struct Model {
    module: Module,
    forward: FuncId,
    train: FuncId,
    loss: LossKind,
}

fn finish(mut module: Module, f: cdlc_ir::Function, loss: LossKind) -> Model {
    let forward = module.add_function(f);
    let train =
        cdlc_ir::autodiff::differentiate(&mut module, forward, loss).expect("differentiable");
    Model {
        module,
        forward,
        train,
        loss,
    }
}

use cdlc_ir::testmodels::{
    dense, treenn_cases as treenn, vec_list as list_data, vec_tree as tree_data,
};

fn mlp() -> Model {
    let module = Module::new();
    let mut b = FunctionBuilder::new(&module, "mlp");
    let x = b.input(Type::tensor(&[5]));
    let h = dense(&mut b, "l1", 5, 9, x);
    let h = b.relu(h);
    let h = dense(&mut b, "l2", 9, 6, h);
    let h = b.relu(h);
    let y = dense(&mut b, "l3", 6, 3, h);
    let f = b.finish(y);
    finish(module, f, LossKind::CrossEntropy)
}

/// Every pointwise op, reductions, softmax, norms, concat and slice, and a
/// per-example outer product; mse.
fn zoo() -> Model {
    let module = Module::new();
    let mut b = FunctionBuilder::new(&module, "zoo");
    let x = b.input(Type::tensor(&[4]));
    let a = dense(&mut b, "a", 4, 6, x);
    let mut acc = b.sigmoid(a);
    for op in [
        UnOp::Tanh,
        UnOp::Gelu,
        UnOp::Softplus,
        UnOp::Abs,
        UnOp::Relu,
        UnOp::Neg,
    ] {
        let y = b.unary(op, a);
        acc = b.add(acc, y);
    }
    let e = b.unary(UnOp::Exp, acc);
    let one = b.scalar(1.0);
    let e1 = b.add(e, one);
    let lg = b.unary(UnOp::Log, e1);
    let sq = b.unary(UnOp::Sqrt, e1);
    let q = b.div(lg, sq);
    let sm = b.softmax(q);
    let ls = b.log_softmax(a);
    let m = b.mul(sm, ls);
    let o = b.outer(m, x);
    let r = b.reduce(cdlc_ir::ReduceOp::Sum, o, Some(1));
    let mx = b.reduce(cdlc_ir::ReduceOp::Max, o, Some(0));
    let mean = b.mean(o);
    let c = b.concat(r, mx);
    let n = b.norm(o, 1);
    let y = dense(&mut b, "out", 10, 3, c);
    let y = b.mul(y, mean);
    let s = b.op(cdlc_ir::Op::Slice {
        x: n,
        start: 1,
        len: 3,
    });
    let y = b.add(y, s);
    let f = b.finish(y);
    finish(module, f, LossKind::Mse)
}

fn elman() -> Model {
    let (d, h) = (3, 5);
    let mut module = Module::new();
    let list = list_data(&mut module, d);
    let mut b = FunctionBuilder::new(&module, "rnn");
    let xs = b.input(Type::Data(list));
    let w = b.param("elman.W", &[h, h]);
    let u = b.param("elman.U", &[h, d]);
    let bias = b.param("elman.b", &[h]);
    let h0 = b.param("elman.h0", &[h]);
    let s = b.fold(list, xs, Type::tensor(&[h]), |b, ctor, args| match ctor {
        0 => h0,
        _ => {
            let ws = b.matmul(w, args[1]);
            let ux = b.matmul(u, args[0]);
            let z = b.add(ws, ux);
            let z = b.add(z, bias);
            b.tanh(z)
        }
    });
    let y = dense(&mut b, "out", h, 2, s);
    let f = b.finish(y);
    finish(module, f, LossKind::CrossEntropy)
}

/// A GRU cell folded over a list: sigmoid gates, `1 - z`, products.
fn gru() -> Model {
    let (d, h) = (2, 4);
    let mut module = Module::new();
    let list = list_data(&mut module, d);
    let mut b = FunctionBuilder::new(&module, "gru");
    let xs = b.input(Type::Data(list));
    let p: Vec<(V, V)> = ["z", "r", "n"]
        .iter()
        .map(|g| {
            (
                b.param(format!("gru.W{g}"), &[h, h]),
                b.param(format!("gru.U{g}"), &[h, d]),
            )
        })
        .collect();
    let h0 = b.zeros(Type::tensor(&[h]));
    let s = b.fold(list, xs, Type::tensor(&[h]), |b, ctor, args| match ctor {
        0 => h0,
        _ => {
            let (x, s) = (args[0], args[1]);
            let gate = |b: &mut FunctionBuilder, (w, u): (V, V), s: V| {
                let a = b.matmul(w, s);
                let c = b.matmul(u, x);
                b.add(a, c)
            };
            let z = gate(b, p[0], s);
            let z = b.sigmoid(z);
            let r = gate(b, p[1], s);
            let r = b.sigmoid(r);
            let rs = b.mul(r, s);
            let n = gate(b, p[2], rs);
            let n = b.tanh(n);
            let one = b.scalar(1.0);
            let omz = b.sub(one, z);
            let a = b.mul(omz, n);
            let c = b.mul(z, s);
            b.add(a, c)
        }
    });
    let y = dense(&mut b, "out", h, 2, s);
    let f = b.finish(y);
    finish(module, f, LossKind::CrossEntropy)
}

fn tree() -> Model {
    let mut module = Module::new();
    let tree = tree_data(&mut module, 3);
    let mut b = FunctionBuilder::new(&module, "tree");
    let t = b.input(Type::Data(tree));
    let cases = treenn(&mut b, 3, 6);
    let r = b.fold(tree, t, Type::tensor(&[6]), cases);
    let y = dense(&mut b, "out", 6, 4, r);
    let f = b.finish(y);
    finish(module, f, LossKind::CrossEntropy)
}

/// A tree fold that also reads a per-example input inside its regions.
fn tree_context() -> Model {
    let mut module = Module::new();
    let tree = tree_data(&mut module, 3);
    let mut b = FunctionBuilder::new(&module, "ctx");
    let t = b.input(Type::Data(tree));
    let z = b.input(Type::tensor(&[4]));
    let p = b.param("P", &[4, 4]);
    let pz = b.matmul(p, z);
    let g = b.tanh(pz);
    let e = b.param("E", &[4, 3]);
    let l = b.param("L", &[4, 4]);
    let r = b.fold(tree, t, Type::tensor(&[4]), |b, ctor, args| match ctor {
        0 => {
            let y = b.matmul(e, args[0]);
            let y = b.mul(y, g);
            b.tanh(y)
        }
        _ => {
            let y = b.matmul(l, args[0]);
            let y = b.add(y, args[1]);
            let y = b.add(y, g);
            b.tanh(y)
        }
    });
    let y = dense(&mut b, "out", 4, 2, r);
    let f = b.finish(y);
    finish(module, f, LossKind::CrossEntropy)
}

fn hylo() -> Model {
    let mut module = Module::new();
    let list = list_data(&mut module, 2);
    let tree = tree_data(&mut module, 2);
    let mut b = FunctionBuilder::new(&module, "hylo");
    let xs = b.input(Type::Data(list));
    let cases = treenn(&mut b, 2, 5);
    let r = b.hylo_halves(tree, xs, Type::tensor(&[5]), cases);
    let y = dense(&mut b, "out", 5, 2, r);
    let f = b.finish(y);
    finish(module, f, LossKind::CrossEntropy)
}

/// The IR crate's Mealy machine over lists, with its training function.
fn mealy() -> Model {
    trained(cdlc_ir::testmodels::mealy_model())
}

/// A shared test model with its training function.
fn trained(t: cdlc_ir::testmodels::TestModel) -> Model {
    let mut module = t.module;
    let train =
        cdlc_ir::autodiff::differentiate(&mut module, t.forward, t.loss).expect("differentiable");
    Model {
        module,
        forward: t.forward,
        train,
        loss: t.loss,
    }
}

/// The IR crate's stream unfold, four steps, under `loss`.
fn stream(loss: LossKind) -> Model {
    trained(cdlc_ir::testmodels::stream_model_with(loss, 4))
}

// ----- data -----

/// DeepSets layers (per-element `x Λ`, set mean times `Γ`, expand): the
/// weight gradients are sums over the batch of products of a transposed
/// per-example matrix with a per-example cotangent. A batched 3-axis input
/// contracted over two axes (its gradient transposes a rotation of it), a
/// permutation that is not a rotation, the identity, and a transpose whose
/// split does not match its product.
fn deepsets() -> Model {
    let (n, d, ch) = (5, 3, 4);
    let module = Module::new();
    let mut b = FunctionBuilder::new(&module, "deepsets");
    let mut x = b.input(Type::tensor(&[n, d]));
    let mut fan_in = d;
    for i in 0..2 {
        let lam = b.param(format!("l{i}.Lambda"), &[fan_in, ch]);
        let gam = b.param(format!("l{i}.Gamma"), &[fan_in, ch]);
        let xl = b.contract(x, lam, 1);
        let m = b.reduce(cdlc_ir::ReduceOp::Mean, x, Some(0));
        let mg = b.contract(m, gam, 1);
        let mg = b.op(cdlc_ir::Op::Expand {
            x: mg,
            axis: 0,
            n: n as u32,
        });
        let y = b.add(xl, mg);
        x = b.tanh(y);
        fan_in = ch;
    }
    // [n, ch, 2], contracted over its last two axes.
    let v = b.param("v", &[2]);
    let x3 = b.outer(x, v);
    let p = b.param("P", &[ch, 2, 3]);
    let y = b.contract(x3, p, 2);
    let y = b.permute(y, vec![0, 1]);
    let swapped = b.permute(x3, vec![1, 0, 2]);
    let sw = b.reduce(cdlc_ir::ReduceOp::Max, swapped, Some(2));
    let q = b.param("Q", &[n, ch]);
    let qt = b.permute(q, vec![1, 0]);
    let full = b.contract(qt, sw, 2);
    let pooled = b.reduce(cdlc_ir::ReduceOp::Sum, y, Some(0));
    let pooled = b.mul(pooled, full);
    let out = dense(&mut b, "out", 3, 3, pooled);
    let f = b.finish(out);
    finish(module, f, LossKind::CrossEntropy)
}

/// Equivariant layers: dense maps expanded from coefficients by bases of
/// disjoint 0/1 entries covering the map, of disjoint entries not covering
/// it, and of overlapping weighted entries; their gradients are projected
/// sums of per-example outer products.
fn equivariant() -> Model {
    let (a, c, h, o) = (2, 3, 4, 3);
    let mut module = Module::new();
    // [h, a, c]: entry (i, j, k) in element (i + j + k) % 5, all 1.
    let mut covering = vec![Vec::new(); 5];
    for idx in 0..h * a * c {
        let (i, j, k) = (idx / (a * c), idx / c % a, idx % c);
        covering[(i + j + k) % 5].push((idx as u32, 1.0));
    }
    let b0 = module.add_basis(cdlc_ir::Basis {
        name: "covering".into(),
        shape: vec![h, a, c],
        elements: covering,
    });
    // [h, h]: the diagonal and the first row, 0/1, not covering the map.
    let b1 = module.add_basis(cdlc_ir::Basis {
        name: "sparse".into(),
        shape: vec![h, h],
        elements: vec![
            (0..h).map(|i| ((i * h + i) as u32, 1.0)).collect(),
            (1..h).map(|j| (j as u32, 1.0)).collect(),
        ],
    });
    // [o, h]: overlapping weighted entries.
    let b2 = module.add_basis(cdlc_ir::Basis {
        name: "weighted".into(),
        shape: vec![o, h],
        elements: vec![
            (0..o * h).map(|i| (i as u32, 0.5)).collect(),
            (0..o * h)
                .step_by(2)
                .map(|i| (i as u32, -1.5 + i as f64 / 7.0))
                .collect(),
            vec![(3, 2.0), (5, 0.25)],
        ],
    });
    let mut b = FunctionBuilder::new(&module, "equivariant");
    let x = b.input(Type::tensor(&[a, c]));
    let k0 = b.param("l0.K", &[5]);
    let w0 = b.basis_expand(k0, b0);
    let hx = b.contract(w0, x, 2);
    let hx = b.relu(hx);
    let k1 = b.param("l1.K", &[2]);
    let w1 = b.basis_expand(k1, b1);
    let hh = b.matmul(w1, hx);
    let hh = b.tanh(hh);
    let k2 = b.param("l2.K", &[3]);
    let w2 = b.basis_expand(k2, b2);
    let y = b.matmul(w2, hh);
    let f = b.finish(y);
    finish(module, f, LossKind::CrossEntropy)
}

fn tensor(shape: &[usize], rng: &mut Rng) -> Value {
    let n = shape.iter().product();
    Value::Tensor(Tensor::new(
        shape.to_vec(),
        (0..n).map(|_| rng.range(-1.0, 1.0)).collect(),
    ))
}

fn random_tree(d: usize, leaves: usize, rng: &mut Rng) -> Value {
    if leaves == 1 {
        return Value::leaf(tensor(&[d], rng));
    }
    let k = 1 + rng.below(leaves - 1);
    Value::node(random_tree(d, k, rng), random_tree(d, leaves - k, rng))
}

/// A random value of an input type (lists of 1..=7 elements, trees of
/// 1..=9 leaves).
fn random_input(module: &Module, ty: &Type, rng: &mut Rng) -> Value {
    match ty {
        Type::Tensor(s) => tensor(s, rng),
        Type::Data(d) => {
            if let Some(Type::Tensor(s)) = module.list_element(*d) {
                let n = 1 + rng.below(7);
                Value::list((0..n).map(|_| tensor(s, rng)).collect())
            } else if let Some(Type::Tensor(s)) = module.tree_leaf(*d) {
                random_tree(s[0], 1 + rng.below(9), rng)
            } else {
                panic!("no generator for {d:?}")
            }
        }
        other => panic!("no generator for {other:?}"),
    }
}

fn random_target(loss: LossKind, out: &Type, positions: usize, rng: &mut Rng) -> Target {
    match (out, loss) {
        (Type::Seq(e), _) => Target::Seq(
            (0..positions)
                .map(|_| random_target(loss, e, 0, rng))
                .collect(),
        ),
        (Type::Tensor(s), LossKind::CrossEntropy) => Target::Class(rng.below(s[0])),
        (Type::Tensor(s), LossKind::BinaryCrossEntropy) => {
            let n = s.iter().product();
            Target::Tensor(Tensor::new(
                s.clone(),
                (0..n)
                    .map(|_| f64::from(u8::from(rng.below(2) == 1)))
                    .collect(),
            ))
        }
        (Type::Tensor(s), LossKind::Mse) => {
            let n = s.iter().product();
            Target::Tensor(Tensor::new(
                s.clone(),
                (0..n).map(|_| rng.range(-1.0, 1.0)).collect(),
            ))
        }
        other => panic!("no target for {other:?}"),
    }
}

fn batch(m: &Model, params: &[Tensor], n: usize, seed: u64) -> Vec<Example> {
    let mut rng = Rng::new(seed);
    let f = &m.module.functions[m.forward];
    let out = f.types[f.output()].clone();
    (0..n)
        .map(|_| {
            let xs: Vec<Value> = f
                .inputs
                .iter()
                .map(|t| random_input(&m.module, t, &mut rng))
                .collect();
            let x = if xs.len() == 1 {
                xs.into_iter().next().expect("one")
            } else {
                Value::Tuple(xs)
            };
            let positions = match interp::forward(&m.module, m.forward, params, &x).expect("runs") {
                v @ Value::Node { .. } => v.as_list().map_or(0, |l| l.len()),
                _ => 0,
            };
            let y = random_target(m.loss, &out, positions, &mut rng);
            Example { x, y }
        })
        .collect()
}

fn random_params(m: &Model, seed: u64) -> Vec<Tensor> {
    let mut rng = Rng::new(seed);
    m.module.functions[m.forward]
        .params
        .iter()
        .map(|(_, p)| {
            let n = p.shape.iter().product();
            Tensor::new(
                p.shape.clone(),
                (0..n).map(|_| rng.range(-0.6, 0.6)).collect(),
            )
        })
        .collect()
}

fn flat(params: &[Tensor]) -> Vec<f64> {
    params.iter().flat_map(|t| t.data.iter().copied()).collect()
}

/// `‖a − b‖∞ / max(‖b‖∞, 1e-3)`.
fn rel_err(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    let scale = b.iter().fold(1e-3f64, |m, x| m.max(x.abs()));
    a.iter()
        .zip(b)
        .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()))
        / scale
}

fn values_flat(v: &Value, out: &mut Vec<f64>) {
    match v {
        Value::Tensor(t) => out.extend(&t.data),
        Value::Tuple(vs) | Value::Node { fields: vs, .. } => {
            vs.iter().for_each(|v| values_flat(v, out))
        }
    }
}

/// Compares the JIT's training step and forward outputs with the
/// interpreter's on a batch of `n` examples, in both dtypes.
#[track_caller]
fn check_model(name: &str, m: Model, n: usize) {
    let params = random_params(&m, 7);
    let batch = batch(&m, &params, n, 11);
    let xs: Vec<Value> = batch.iter().map(|e| e.x.clone()).collect();
    for dtype in [Dtype::F64, Dtype::F32] {
        let opts = Options { dtype, batch: n };
        let (want_loss, want_grads) = match dtype {
            Dtype::F64 => interp::loss_and_grad(&m.module, m.train, &params, &batch),
            Dtype::F32 => interp::loss_and_grad_as::<f32>(&m.module, m.train, &params, &batch),
        }
        .expect("the interpreter runs");
        let want = flat(&want_grads);
        let mut k =
            compile_train(&m.module, m.train, &opts).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut fk =
            compile_forward(&m.module, m.forward, &opts).unwrap_or_else(|e| panic!("{name}: {e}"));
        let (loss, got, outs): (f64, Vec<f64>, Vec<Value>) = match dtype {
            Dtype::F64 => {
                let p = flat(&params);
                let mut g = vec![0.0; p.len()];
                let s = k.step_examples(&p, &batch, &mut g).expect("a step");
                (s.loss, g, fk.run(&p, &xs).expect("forward"))
            }
            Dtype::F32 => {
                let p: Vec<f32> = flat(&params).iter().map(|&x| x as f32).collect();
                let mut g = vec![0.0f32; p.len()];
                let s = k.step_examples(&p, &batch, &mut g).expect("a step");
                let g = g.iter().map(|&x| f64::from(x)).collect();
                (s.loss, g, fk.run(&p, &xs).expect("forward"))
            }
        };
        let tol = if dtype == Dtype::F64 {
            TOL_F64
        } else {
            TOL_F32
        };
        let le = (loss - want_loss).abs() / want_loss.abs().max(1e-3);
        assert!(le <= tol, "{name} {dtype:?}: loss {loss} vs {want_loss}");
        let ge = rel_err(&got, &want);
        assert!(
            ge <= tol,
            "{name} {dtype:?}: gradient error {ge}\n got {got:?}\nwant {want:?}"
        );
        let mut got_out = Vec::new();
        let mut want_out = Vec::new();
        for (x, o) in xs.iter().zip(&outs) {
            let w = match dtype {
                Dtype::F64 => interp::forward(&m.module, m.forward, &params, x),
                Dtype::F32 => interp::forward_as::<f32>(&m.module, m.forward, &params, x),
            }
            .expect("forward");
            values_flat(o, &mut got_out);
            values_flat(&w, &mut want_out);
        }
        let oe = rel_err(&got_out, &want_out);
        assert!(oe <= tol, "{name} {dtype:?}: output error {oe}");
    }
}

#[test]
fn mlp_matches_interpreter() {
    check_model("mlp", mlp(), 13);
}

#[test]
fn zoo_matches_interpreter() {
    check_model("zoo", zoo(), 7);
}

#[test]
fn elman_fold_matches_interpreter() {
    check_model("elman", elman(), 9);
}

#[test]
fn gru_fold_matches_interpreter() {
    check_model("gru", gru(), 9);
}

#[test]
fn tree_fold_matches_interpreter() {
    check_model("tree", tree(), 9);
}

#[test]
fn fold_reading_batched_values_matches_interpreter() {
    check_model("tree_context", tree_context(), 6);
}

#[test]
fn hylo_matches_interpreter() {
    check_model("hylo", hylo(), 9);
}

#[test]
fn mealy_unfold_matches_interpreter() {
    check_model("mealy", mealy(), 9);
}

#[test]
fn stream_unfold_matches_interpreter() {
    check_model("stream", stream(LossKind::CrossEntropy), 5);
    check_model("stream_mse", stream(LossKind::Mse), 5);
    check_model("stream_bce", stream(LossKind::BinaryCrossEntropy), 5);
}

#[test]
fn deepsets_matches_interpreter() {
    check_model("deepsets", deepsets(), 7);
}

#[test]
fn rows_split_between_two_threads_match_interpreter() {
    // Batches large enough that elementwise kernels, per-example row ops and
    // per-example products are cut in halves for the helper thread
    // (`exec::split_rows`, the runtime's batches of products). The halves
    // compute each row as one thread would, so the tolerances are the same.
    cdlc_runtime::threads::set_threads(2);
    check_model("deepsets", deepsets(), 3000);
    check_model("equivariant", equivariant(), 1500);
}

#[test]
fn equivariant_matches_interpreter() {
    check_model("equivariant", equivariant(), 9);
}

#[test]
fn permute_maps_match_strided_indexing() {
    let shape = [2usize, 3, 4, 5];
    for perm in [
        [0u32, 1, 2, 3],
        [3, 2, 1, 0],
        [2, 3, 0, 1],
        [1, 0, 3, 2],
        [0, 3, 1, 2],
    ] {
        let map = crate::rowops::permute_map(&shape, &perm);
        let oshape: Vec<usize> = perm.iter().map(|&p| shape[p as usize]).collect();
        let strides = [60, 20, 5, 1];
        for (i, &src) in map.iter().enumerate() {
            let mut rest = i;
            let mut want = 0;
            for d in (0..4).rev() {
                want += rest % oshape[d] * strides[perm[d] as usize];
                rest /= oshape[d];
            }
            assert_eq!(src as usize, want, "{perm:?} at {i}");
        }
    }
}

#[test]
fn basis_tables_are_sorted_and_classified() {
    use crate::plan::BasisTable;
    let t = BasisTable::new(4, &[vec![(3, 1.0), (0, 1.0)], vec![(2, 1.0), (1, 1.0)]]);
    assert_eq!(t.index, [0, 1, 2, 3]);
    assert_eq!(t.element, [0, 1, 1, 0]);
    assert!(t.dense && t.value.is_none());
    let t = BasisTable::new(5, &[vec![(3, 1.0)], vec![(1, 1.0)]]);
    assert!(!t.dense && t.value.is_none());
    let t = BasisTable::new(2, &[vec![(1, 2.0), (0, 1.0)], vec![(1, 1.0)]]);
    assert_eq!(t.index, [0, 1, 1]);
    assert_eq!(t.value.as_deref(), Some(&[1.0, 2.0, 1.0][..]));
    assert!(!t.dense);
}

#[test]
fn unsupported_ops_are_errors() {
    // A fold over a list field of a tree leaf (a nested fold) is reported.
    let mut module = Module::new();
    let list = list_data(&mut module, 2);
    let leaf = DataType::Data(Arc::new(DataDecl {
        name: "L".into(),
        ctors: vec![
            CtorDecl {
                name: "nil".into(),
                fields: vec![],
            },
            CtorDecl {
                name: "cons".into(),
                fields: vec![DataType::Tensor(vec![2]), DataType::Rec(0)],
            },
        ],
    }));
    let _ = list;
    let tree = {
        let DataType::Data(d) = DataType::tree(leaf) else {
            unreachable!("a tree")
        };
        module.add_data(d)
    };
    let inner = module.add_data(Arc::new(DataDecl {
        name: "L".into(),
        ctors: vec![
            CtorDecl {
                name: "nil".into(),
                fields: vec![],
            },
            CtorDecl {
                name: "cons".into(),
                fields: vec![DataType::Tensor(vec![2]), DataType::Rec(0)],
            },
        ],
    }));
    let mut b = FunctionBuilder::new(&module, "nested");
    let t = b.input(Type::Data(tree));
    let w = b.param("W", &[2, 2]);
    let r = b.fold(tree, t, Type::tensor(&[2]), |b, ctor, args| match ctor {
        0 => b.fold(inner, args[0], Type::tensor(&[2]), |b, c, a| match c {
            0 => b.zeros(Type::tensor(&[2])),
            _ => b.add(a[0], a[1]),
        }),
        _ => {
            let y = b.matmul(w, args[0]);
            b.add(y, args[1])
        }
    });
    let f = b.finish(r);
    let id = module.add_function(f);
    let opts = Options {
        dtype: Dtype::F32,
        batch: 4,
    };
    assert!(matches!(
        compile_forward(&module, id, &opts),
        Err(crate::JitError::Unsupported { .. })
    ));
}

#[test]
fn clif_text_is_cranelift_ir() {
    let m = mlp();
    let k = compile_train(
        &m.module,
        m.train,
        &Options {
            dtype: Dtype::F32,
            batch: 8,
        },
    )
    .expect("compiles");
    let text = k.clif_text();
    assert!(text.contains("function"), "{text}");
    assert!(text.contains("f32x4"), "{text}");
}
