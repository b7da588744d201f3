//! Times full training steps (forward, backward, SGD update) of the peer
//! benchmark workloads W1-W5 on JIT kernels, with the SplitMix64 data and
//! initial weights the peers use, and prints the first step's loss so that
//! it can be compared with theirs.
//!
//! Usage: `cargo run --release -p cdlc-jit --example bench -- [W1 ...] [--steps N]`

use std::time::Instant;

use cdlc_ir::{FunctionBuilder, LossKind, Module, ReduceOp, Type, Value as V};
use cdlc_jit::{Dtype, Options, compile_train};
use cdlc_runtime::data::splitmix::{labels, make_tree, uniform, weight};
use cdlc_runtime::value::{DataType, Example, Target, Tensor, Value};

struct Workload {
    module: Module,
    train: cdlc_ir::FuncId,
    params: Vec<f32>,
    batch: Vec<Example>,
}

fn finish(
    mut module: Module,
    f: cdlc_ir::Function,
    params: Vec<Vec<f32>>,
    batch: Vec<Example>,
) -> Workload {
    let fwd = module.add_function(f);
    let train = cdlc_ir::autodiff::differentiate(&mut module, fwd, LossKind::CrossEntropy)
        .expect("differentiable");
    Workload {
        module,
        train,
        params: params.concat(),
        batch,
    }
}

fn tensor(shape: &[usize], data: &[f32]) -> Value {
    Value::Tensor(Tensor::new(
        shape.to_vec(),
        data.iter().map(|&x| f64::from(x)).collect(),
    ))
}

fn targets(n: usize, classes: usize) -> Vec<Target> {
    labels(2, n, classes)
        .into_iter()
        .map(Target::Class)
        .collect()
}

fn dense(b: &mut FunctionBuilder, name: &str, n: usize, m: usize, x: V) -> V {
    let w = b.param(format!("{name}.W"), &[m, n]);
    let bias = b.param(format!("{name}.b"), &[m]);
    let y = b.matmul(w, x);
    b.add(y, bias)
}

fn w1() -> Workload {
    let (bsz, d, h, c) = (128, 784, 256, 10);
    let module = Module::new();
    let mut b = FunctionBuilder::new(&module, "mlp");
    let x = b.input(Type::tensor(&[d]));
    let y = dense(&mut b, "l1", d, h, x);
    let y = b.relu(y);
    let y = dense(&mut b, "l2", h, c, y);
    let f = b.finish(y);
    let xs = uniform(1, &[bsz, d], 1.0);
    let batch = targets(bsz, c)
        .into_iter()
        .enumerate()
        .map(|(i, y)| Example {
            x: tensor(&[d], &xs[i * d..(i + 1) * d]),
            y,
        })
        .collect();
    let params = vec![
        weight(11, h, d),
        vec![0.0; h],
        weight(12, c, h),
        vec![0.0; c],
    ];
    finish(module, f, params, batch)
}

/// The Elman fold of W2 and W3: `h_{t+1} = tanh(W h_t + U x_t + b)`.
fn elman(d: usize, h: usize, t: usize, bsz: usize) -> Workload {
    let c = 10;
    let mut module = Module::new();
    let DataType::Data(decl) = DataType::list(DataType::Tensor(vec![d])) else {
        unreachable!("a list")
    };
    let list = module.add_data(decl);
    let mut b = FunctionBuilder::new(&module, "rnn");
    let xs = b.input(Type::Data(list));
    let w = b.param("elman.W", &[h, h]);
    let u = b.param("elman.U", &[h, d]);
    let bias = b.param("elman.b", &[h]);
    let h0 = b.zeros(Type::tensor(&[h]));
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
    let y = dense(&mut b, "out", h, c, s);
    let f = b.finish(y);
    let x = uniform(1, &[t, bsz, d], 1.0);
    // A fold over `cons(x, rest)` meets the last element first, so the
    // list holds the time steps in reverse.
    let batch = targets(bsz, c)
        .into_iter()
        .enumerate()
        .map(|(e, y)| {
            let items = (0..t)
                .rev()
                .map(|s| tensor(&[d], &x[(s * bsz + e) * d..][..d]))
                .collect();
            Example {
                x: Value::list(items),
                y,
            }
        })
        .collect();
    let params = vec![
        weight(11, h, h),
        weight(12, h, d),
        vec![0.0; h],
        weight(13, c, h),
        vec![0.0; c],
    ];
    finish(module, f, params, batch)
}

fn w4() -> Workload {
    let (trees, leaves, f_dim, h, c) = (16, 32, 16, 64, 5);
    let mut module = Module::new();
    let DataType::Data(decl) = DataType::tree(DataType::Tensor(vec![f_dim])) else {
        unreachable!("a tree")
    };
    let tree = module.add_data(decl);
    let mut b = FunctionBuilder::new(&module, "treernn");
    let t = b.input(Type::Data(tree));
    let e = b.param("E", &[h, f_dim]);
    let cb = b.param("c", &[h]);
    let wl = b.param("Wl", &[h, h]);
    let wr = b.param("Wr", &[h, h]);
    let bias = b.param("b", &[h]);
    let r = b.fold(tree, t, Type::tensor(&[h]), |b, ctor, args| match ctor {
        0 => {
            let y = b.matmul(e, args[0]);
            let y = b.add(y, cb);
            b.tanh(y)
        }
        _ => {
            let l = b.matmul(wl, args[0]);
            let r = b.matmul(wr, args[1]);
            let y = b.add(l, r);
            let y = b.add(y, bias);
            b.tanh(y)
        }
    });
    let y = dense(&mut b, "out", h, c, r);
    let f = b.finish(y);
    let x = uniform(1, &[trees, leaves, f_dim], 1.0);
    let batch = targets(trees, c)
        .into_iter()
        .enumerate()
        .map(|(ti, y)| {
            let shape = make_tree(ti as u64, leaves);
            let v = shape.to_value(&mut |i| {
                let off = (ti * leaves + i) * f_dim;
                Tensor::new(
                    vec![f_dim],
                    x[off..off + f_dim].iter().map(|&v| f64::from(v)).collect(),
                )
            });
            Example { x: v, y }
        })
        .collect();
    let params = vec![
        weight(11, h, f_dim),
        vec![0.0; h],
        weight(12, h, h),
        weight(13, h, h),
        vec![0.0; h],
        weight(14, c, h),
        vec![0.0; c],
    ];
    finish(module, f, params, batch)
}

fn w5() -> Workload {
    let (bsz, n, d, ch, c) = (64, 64, 32, 64, 10);
    let module = Module::new();
    let mut b = FunctionBuilder::new(&module, "deepsets");
    let mut x = b.input(Type::tensor(&[n, d]));
    let mut params = Vec::new();
    let mut fan_in = d;
    for i in 0..3u64 {
        let lam = b.param(format!("l{i}.Lambda"), &[fan_in, ch]);
        let gam = b.param(format!("l{i}.Gamma"), &[fan_in, ch]);
        let bias = b.param(format!("l{i}.b"), &[ch]);
        let a = 1.0 / ((2 * fan_in) as f64).sqrt();
        params.push(uniform(20 + 3 * i, &[fan_in, ch], a));
        params.push(uniform(21 + 3 * i, &[fan_in, ch], a));
        params.push(vec![0.0; ch]);
        let xl = b.contract(x, lam, 1);
        let m = b.reduce(ReduceOp::Mean, x, Some(0));
        let mg = b.contract(m, gam, 1);
        let mg = b.op(cdlc_ir::Op::Expand {
            x: mg,
            axis: 0,
            n: n as u32,
        });
        let bb = b.op(cdlc_ir::Op::Expand {
            x: bias,
            axis: 0,
            n: n as u32,
        });
        let y = b.add(xl, mg);
        let y = b.add(y, bb);
        x = b.relu(y);
        fan_in = ch;
    }
    let pooled = b.reduce(ReduceOp::Sum, x, Some(0));
    let y = dense(&mut b, "out", ch, c, pooled);
    let f = b.finish(y);
    params.push(weight(40, c, ch));
    params.push(vec![0.0; c]);
    let xs = uniform(1, &[bsz, n, d], 1.0);
    let batch = targets(bsz, c)
        .into_iter()
        .enumerate()
        .map(|(i, y)| Example {
            x: tensor(&[n, d], &xs[i * n * d..(i + 1) * n * d]),
            y,
        })
        .collect();
    finish(module, f, params, batch)
}

fn run(name: &str, w: Workload, steps: usize) {
    let t0 = Instant::now();
    let opts = Options {
        dtype: Dtype::F32,
        batch: w.batch.len(),
    };
    let mut k = compile_train(&w.module, w.train, &opts).expect("compiles");
    let compile_ms = t0.elapsed().as_secs_f64() * 1e3;
    let t1 = Instant::now();
    let prepared = k.prepare(&w.batch).expect("prepares");
    let schedule_us = t1.elapsed().as_secs_f64() * 1e6;
    let mut params = w.params.clone();
    let mut grads = vec![0.0f32; params.len()];
    let mut first = None;
    let mut times = Vec::with_capacity(steps);
    let mut update = Vec::with_capacity(steps);
    for i in 0..steps + 5 {
        let t = Instant::now();
        let s = k.step(&params, &prepared, &mut grads).expect("a step");
        let tu = Instant::now();
        for (p, g) in params.iter_mut().zip(&grads) {
            *p -= 0.01 * g;
        }
        if i >= 5 {
            times.push(t.elapsed().as_secs_f64());
            update.push(tu.elapsed().as_secs_f64());
        }
        first.get_or_insert(s.loss);
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    update.sort_by(f64::total_cmp);
    println!(
        "{name}: compile_ms: {compile_ms:.1} schedule_us: {schedule_us:.0} step_us: {:.1} update_us: {:.1} steps_per_s: {:.1} first_loss: {:.5}",
        median * 1e6,
        update[update.len() / 2] * 1e6,
        1.0 / median,
        first.expect("at least one step")
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let steps = args
        .iter()
        .position(|a| a == "--steps")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let all = ["W1", "W2", "W3", "W4", "W5"];
    let chosen: Vec<&str> = all
        .iter()
        .copied()
        .filter(|w| args.is_empty() || args.iter().any(|a| a == w))
        .collect();
    let chosen = if chosen.is_empty() {
        all.to_vec()
    } else {
        chosen
    };
    for w in chosen {
        let workload = match w {
            "W1" => w1(),
            "W2" => elman(32, 128, 64, 32),
            "W3" => elman(4, 16, 20, 1),
            "W4" => w4(),
            _ => w5(),
        };
        run(w, workload, steps);
    }
}
