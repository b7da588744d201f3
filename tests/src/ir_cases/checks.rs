//! The three checks a case file can ask for: a call's exact value, the JIT
//! against the interpreter, and the reverse derivative against finite
//! differences. Each returns what went wrong as a sentence.

use cdlc_ir::rng::Rng;
use cdlc_ir::{FuncId, LossKind, Module, interp};
use cdlc_jit::{Dtype, Options, compile_forward, compile_train};
use cdlc_runtime::value::{Example, Tensor, Value};

use super::header::Header;
use super::{literal, random};

/// A call's output may differ from the expected value by this much,
/// relative to the larger magnitude (or absolutely, below 1).
pub const EXACT: f64 = 1e-12;
/// f64 kernels must agree with the f64 interpreter to this relative error.
const TOL_F64: f64 = 1e-9;
/// f32 kernels must agree with the f32 interpreter to this relative error.
const TOL_F32: f64 = 1e-4;

/// `run: NAME(ARGS) == VALUE` in the interpreter.
pub fn call(
    module: &Module,
    header: &Header,
    function: &str,
    args: &str,
    want: &str,
) -> Result<(), String> {
    let id = module
        .function_by_name(function)
        .ok_or_else(|| format!("no function named `{function}` in the file"))?;
    let f = &module.functions[id];
    let params = param_values(module, header, id)?;
    let parts = literal::split_top(args);
    if parts.len() != f.inputs.len() {
        return Err(format!(
            "`{function}` takes {} inputs, the call gives {}",
            f.inputs.len(),
            parts.len()
        ));
    }
    let mut xs = f
        .inputs
        .iter()
        .zip(&parts)
        .map(|(t, a)| literal::read(module, t, a).map_err(|e| format!("argument `{a}`: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    let x = if xs.len() == 1 {
        xs.pop().expect("one input")
    } else {
        Value::Tuple(xs)
    };
    let result = interp::forward(module, id, &params, &x);
    if let Some(words) = want.strip_prefix("error ") {
        return match result {
            Err(e) if format!("{e:?}").contains(words.trim()) => Ok(()),
            Err(e) => Err(format!(
                "`{function}` fails with {e:?}, expected an error `{words}`"
            )),
            Ok(v) => Err(format!(
                "`{function}` gives {v:?}, expected an error `{words}`"
            )),
        };
    }
    let out_ty = f.types[f.output()].clone();
    let want = literal::read(module, &out_ty, want).map_err(|e| format!("expected value: {e}"))?;
    let got = result.map_err(|e| format!("the interpreter fails: {e:?}"))?;
    if close(&got, &want) {
        Ok(())
    } else {
        Err(format!("`{function}` gives {got:?}, expected {want:?}"))
    }
}

/// The values of `function`'s parameters from the `; param:` lines.
fn param_values(module: &Module, header: &Header, id: FuncId) -> Result<Vec<Tensor>, String> {
    let f = &module.functions[id];
    f.params
        .iter()
        .map(|(_, p)| {
            let (_, _, text) = header
                .params
                .iter()
                .find(|(_, n, _)| *n == p.name)
                .ok_or_else(|| {
                    format!(
                        "no value for parameter `{}`: add `; param: {} = ...`",
                        p.name, p.name
                    )
                })?;
            match literal::read(module, &cdlc_ir::Type::Tensor(p.shape.clone()), text) {
                Ok(v) => Ok(v
                    .as_tensor()
                    .expect("a tensor type reads as a tensor")
                    .clone()),
                Err(e) => Err(format!("parameter `{}`: {e}", p.name)),
            }
        })
        .collect()
}

/// Whether two values have the same structure and numbers within `EXACT`.
fn close(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Tensor(x), Value::Tensor(y)) => {
            x.shape == y.shape
                && x.data
                    .iter()
                    .zip(&y.data)
                    .all(|(p, q)| (p - q).abs() <= EXACT * p.abs().max(q.abs()).max(1.0))
        }
        (Value::Tuple(xs), Value::Tuple(ys)) => {
            xs.len() == ys.len() && xs.iter().zip(ys).all(|(x, y)| close(x, y))
        }
        (
            Value::Node {
                ctor: c1,
                fields: f1,
            },
            Value::Node {
                ctor: c2,
                fields: f2,
            },
        ) => c1 == c2 && f1.len() == f2.len() && f1.iter().zip(f2).all(|(x, y)| close(x, y)),
        _ => false,
    }
}

/// A model, its loss and its training function.
pub struct Model {
    /// The model function's name.
    pub name: String,
    /// The model function.
    pub forward: FuncId,
    /// Its training function.
    pub train: FuncId,
    /// The loss.
    pub loss: LossKind,
}

/// The models the random checks run on: the one `; model:` names, else
/// every function of the file but training functions. A model's training
/// function is `NAME.train` if the file has one; otherwise the model is
/// differentiated under the file's loss.
pub fn models(module: &mut Module, header: &Header) -> Result<Vec<Model>, String> {
    let loss = header
        .loss
        .ok_or("`run: jit == interp` and `grad: fd` need `; loss: ...`")?;
    let forwards: Vec<FuncId> = match &header.model {
        Some(name) => vec![
            module
                .function_by_name(name)
                .ok_or_else(|| format!("no function named `{name}` (from `; model:`)"))?,
        ],
        None => module
            .functions
            .iter()
            .filter(|(_, f)| !f.name.ends_with(".train"))
            .map(|(id, _)| id)
            .collect(),
    };
    if forwards.is_empty() {
        return Err("the file has no model function".to_string());
    }
    forwards
        .into_iter()
        .map(|forward| {
            let name = module.functions[forward].name.clone();
            let train = match module.function_by_name(&format!("{name}.train")) {
                Some(t) => t,
                None => cdlc_ir::autodiff::differentiate(module, forward, loss)
                    .map_err(|e| format!("`{name}` cannot be differentiated: {e:?}"))?,
            };
            Ok(Model {
                name,
                forward,
                train,
                loss,
            })
        })
        .collect()
}

/// Random parameters and a random batch for the model, from `seed`.
fn draw(module: &Module, m: &Model, n: usize, seed: u64) -> (Vec<Tensor>, Vec<Example>) {
    let mut rng = Rng::new(seed);
    let params = random::params(&module.functions[m.forward], &mut rng);
    let batch = random::batch(module, m.forward, m.loss, &params, n, &mut rng);
    (params, batch)
}

/// `grad: fd`: every gradient entry and a random direction against central
/// differences of the interpreter's loss, in f64.
pub fn finite_differences(module: &Module, m: &Model, n: usize, seed: u64) -> Result<(), String> {
    let (params, batch) = draw(module, m, n, seed);
    let r = cdlc_ir::gradcheck::gradcheck(module, m.train, &params, &batch, seed)
        .map_err(|e| format!("the interpreter fails: {e:?}"))?;
    if r.passed() {
        return Ok(());
    }
    let worst: Vec<String> = r
        .params
        .iter()
        .map(|p| format!("{} {:e}", p.name, p.max_rel_error))
        .collect();
    Err(format!(
        "`{}`, seed {seed}: the gradient disagrees with finite differences: max relative error {:e} > {:e} \
         (compared {}, zero gradient: {}; per slot: {})",
        m.name,
        r.max_rel_error(),
        cdlc_ir::gradcheck::TOLERANCE,
        r.compared(),
        r.zero_gradient,
        worst.join(", ")
    ))
}

/// `run: jit == interp`: the training step's loss and gradients, and the
/// forward outputs, in f64 and f32.
pub fn jit_against_interpreter(
    module: &Module,
    m: &Model,
    n: usize,
    seed: u64,
) -> Result<(), String> {
    jit_agrees(module, m, n, seed).map_err(|e| format!("`{}`, seed {seed}, {e}", m.name))
}

/// `jit_against_interpreter`, failing with the dtype and what differs.
fn jit_agrees(module: &Module, m: &Model, n: usize, seed: u64) -> Result<(), String> {
    let (params, batch) = draw(module, m, n, seed);
    for dtype in [Dtype::F64, Dtype::F32] {
        let tol = match dtype {
            Dtype::F64 => TOL_F64,
            Dtype::F32 => TOL_F32,
        };
        let (loss, grads, outs) = jit_run(module, m, &params, &batch, dtype)?;
        let (want_loss, want_grads) = match dtype {
            Dtype::F64 => interp::loss_and_grad(module, m.train, &params, &batch),
            Dtype::F32 => interp::loss_and_grad_as::<f32>(module, m.train, &params, &batch),
        }
        .map_err(|e| format!("the interpreter fails: {e:?}"))?;
        let le = (loss - want_loss).abs() / want_loss.abs().max(1e-3);
        if le > tol {
            return Err(format!(
                "{dtype:?}: the JIT's loss {loss} differs from the interpreter's {want_loss}"
            ));
        }
        let ge = rel_err(&grads, &flat(&want_grads));
        if ge > tol {
            return Err(format!(
                "{dtype:?}: the JIT's gradient differs from the interpreter's by {ge:e}"
            ));
        }
        let mut got_out = Vec::new();
        let mut want_out = Vec::new();
        for (e, o) in batch.iter().zip(&outs) {
            let w = match dtype {
                Dtype::F64 => interp::forward(module, m.forward, &params, &e.x),
                Dtype::F32 => interp::forward_as::<f32>(module, m.forward, &params, &e.x),
            }
            .map_err(|e| format!("the interpreter fails: {e:?}"))?;
            values_flat(o, &mut got_out);
            values_flat(&w, &mut want_out);
        }
        let oe = rel_err(&got_out, &want_out);
        if oe > tol {
            return Err(format!(
                "{dtype:?}: the JIT's forward outputs differ from the interpreter's by {oe:e}"
            ));
        }
    }
    Ok(())
}

/// The JIT's loss, flat gradient and forward outputs on `batch`.
fn jit_run(
    module: &Module,
    m: &Model,
    params: &[Tensor],
    batch: &[Example],
    dtype: Dtype,
) -> Result<(f64, Vec<f64>, Vec<Value>), String> {
    let opts = Options {
        dtype,
        batch: batch.len(),
    };
    let mut k = compile_train(module, m.train, &opts)
        .map_err(|e| format!("the training kernel does not compile: {e}"))?;
    let mut fk = compile_forward(module, m.forward, &opts)
        .map_err(|e| format!("the forward kernel does not compile: {e}"))?;
    let xs: Vec<Value> = batch.iter().map(|e| e.x.clone()).collect();
    let failed = |e: cdlc_jit::JitError| format!("the kernel fails: {e}");
    Ok(match dtype {
        Dtype::F64 => {
            let p = flat(params);
            let mut g = vec![0.0; p.len()];
            let s = k.step_examples(&p, batch, &mut g).map_err(failed)?;
            (s.loss, g, fk.run(&p, &xs).map_err(failed)?)
        }
        Dtype::F32 => {
            let p: Vec<f32> = flat(params).iter().map(|&x| x as f32).collect();
            let mut g = vec![0.0f32; p.len()];
            let s = k.step_examples(&p, batch, &mut g).map_err(failed)?;
            let g = g.iter().map(|&x| f64::from(x)).collect();
            (s.loss, g, fk.run(&p, &xs).map_err(failed)?)
        }
    })
}

fn flat(params: &[Tensor]) -> Vec<f64> {
    params.iter().flat_map(|t| t.data.iter().copied()).collect()
}

/// `‖a − b‖∞ / max(‖b‖∞, 1e-3)`.
fn rel_err(a: &[f64], b: &[f64]) -> f64 {
    if a.len() != b.len() {
        return f64::INFINITY;
    }
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
