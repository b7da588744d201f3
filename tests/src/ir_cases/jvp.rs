//! `jvp: fd`: forward-mode derivatives against finite differences in f64.
//!
//! For each model `f` the runner builds `f.jvp` with `cdlc_ir::jvp::jvp`
//! (inputs `x..., t...`, a structure input given once as its dual; output
//! `(f(x), J_f(x) t)`), draws a point `x` (random structures too), a
//! direction `t` (standard normal in every tensor of `x`) and the
//! parameters from the seed, and
//! compares every entry of `J_f(x) t` with `(f(x + εt) − f(x − εt)) / 2ε`;
//! the primal output must equal `f(x)` exactly.

use cdlc_ir::gradcheck::{EPS, TOLERANCE, rel_error};
use cdlc_ir::rng::Rng;
use cdlc_ir::{FuncId, Module, Type, interp};
use cdlc_runtime::value::{Tensor, Value};

use super::header::Header;
use super::random;

/// A model and its forward-derivative function.
pub struct Tangent {
    /// The model's name.
    pub name: String,
    /// The model.
    pub forward: FuncId,
    /// `NAME.jvp`.
    pub jvp: FuncId,
}

/// Builds `NAME.jvp` for every model of the file (the one `; model:`
/// names, else every function but training functions).
pub fn prepare(module: &mut Module, header: &Header) -> Result<Vec<Tangent>, String> {
    let forwards: Vec<FuncId> = module
        .functions
        .iter()
        .filter(|(_, f)| match &header.model {
            Some(name) => f.name == *name,
            None => !f.name.ends_with(".train"),
        })
        .map(|(id, _)| id)
        .collect();
    if forwards.is_empty() {
        return Err("the file has no model function".to_string());
    }
    forwards
        .into_iter()
        .map(|forward| {
            let name = module.functions[forward].name.clone();
            let jvp = cdlc_ir::jvp::jvp(module, forward)
                .map_err(|e| format!("`{name}` has no forward derivative: {e}"))?;
            Ok(Tangent { name, forward, jvp })
        })
        .collect()
}

/// Checks one model's forward derivative at a point drawn from `seed`.
pub fn check(module: &Module, header: &Header, m: &Tangent, seed: u64) -> Result<(), String> {
    let f = &module.functions[m.forward];
    let mut rng = Rng::new(seed);
    let params = random::params(f, &mut rng);
    let x: Vec<Value> = f
        .inputs
        .iter()
        .map(|ty| match ty {
            Type::Tensor(s) => Value::Tensor(random::input_tensor(s, header.positive, &mut rng)),
            other => random::value(module, other, &mut rng),
        })
        .collect();
    // The direction: standard normal entries in every tensor of the input.
    let t: Vec<Value> = x
        .iter()
        .map(|x| {
            zip_tensors(x, x, &mut |a, _| {
                Tensor::new(
                    a.shape.clone(),
                    a.data.iter().map(|_| rng.normal()).collect(),
                )
            })
        })
        .collect();
    compare(module, m, &params, &x, &t)
        .map(|_| ())
        .map_err(|e| format!("seed {seed}: {e}"))
}

/// Compares `m.jvp` at point `x` along direction `t` (one value per input)
/// with central finite differences of `m.forward`, with these parameters.
/// Returns the largest magnitude of the analytic tangent.
pub fn compare(
    module: &Module,
    m: &Tangent,
    params: &[Tensor],
    x: &[Value],
    t: &[Value],
) -> Result<f64, String> {
    let f = &module.functions[m.forward];
    let run = |func: FuncId, mut vs: Vec<Value>| -> Result<Vec<Value>, String> {
        let x = if vs.len() == 1 {
            vs.pop().expect("one input")
        } else {
            Value::Tuple(vs)
        };
        let v = interp::forward(module, func, params, &x)
            .map_err(|e| format!("the interpreter fails: {e:?}"))?;
        Ok(match &v {
            Value::Tuple(parts) if func == m.jvp => parts.clone(),
            _ => vec![v],
        })
    };
    let along = |sign: f64| -> Vec<Value> {
        x.iter()
            .zip(t)
            .map(|(x, t)| {
                zip_tensors(x, t, &mut |x, t| {
                    let data = x.data.iter().zip(&t.data).map(|(a, b)| a + sign * EPS * b);
                    Tensor::new(x.shape.clone(), data.collect())
                })
            })
            .collect()
    };
    let plus = flat(&run(m.forward, along(1.0))?);
    let minus = flat(&run(m.forward, along(-1.0))?);
    let at = flat(&run(m.forward, x.to_vec())?);
    let both = run(m.jvp, jvp_inputs(module, f, x, t)?)?;
    let [primal, tangent] = both.as_slice() else {
        return Err(format!("`{}.jvp` does not return (y, ẏ)", m.name));
    };
    if flat(std::slice::from_ref(primal)) != at {
        return Err(format!("`{}.jvp`'s primal output is not f(x)", m.name));
    }
    let analytic = flat(std::slice::from_ref(tangent));
    if analytic.len() != plus.len() {
        return Err(format!("`{}.jvp`'s tangent has the wrong size", m.name));
    }
    let worst = plus
        .iter()
        .zip(&minus)
        .zip(&analytic)
        .map(|((p, q), a)| rel_error(*a, (p - q) / (2.0 * EPS)))
        .fold(0.0, f64::max);
    if worst <= TOLERANCE {
        Ok(analytic.iter().fold(0.0, |m, a| m.max(a.abs())))
    } else {
        Err(format!(
            "`{}`: the forward derivative differs from finite differences by {worst:e} > {TOLERANCE:e}",
            m.name
        ))
    }
}

/// A standard normal direction with the structure of `x`.
pub fn direction(x: &Value, rng: &mut Rng) -> Value {
    zip_tensors(x, x, &mut |a, _| {
        Tensor::new(
            a.shape.clone(),
            a.data.iter().map(|_| rng.normal()).collect(),
        )
    })
}

/// The inputs of `NAME.jvp`: each input (a structure as its dual), then the
/// tangent of each tensor or tuple input.
pub fn jvp_inputs(
    module: &Module,
    f: &cdlc_ir::Function,
    x: &[Value],
    t: &[Value],
) -> Result<Vec<Value>, String> {
    let mut primal = Vec::new();
    let mut tangents = Vec::new();
    for ((ty, x), t) in f.inputs.iter().zip(x).zip(t) {
        match ty {
            Type::Data(d) => primal.push(cdlc_ir::jvp::dual_value(module, *d, x, t)?),
            _ => {
                primal.push(x.clone());
                tangents.push(t.clone());
            }
        }
    }
    primal.extend(tangents);
    Ok(primal)
}

/// `a` with each tensor replaced by `f` of it and the tensor at the same
/// place in `b`, which has the same structure.
fn zip_tensors(a: &Value, b: &Value, f: &mut impl FnMut(&Tensor, &Tensor) -> Tensor) -> Value {
    match (a, b) {
        (Value::Tensor(x), Value::Tensor(y)) => Value::Tensor(f(x, y)),
        (Value::Tuple(xs), Value::Tuple(ys)) => Value::Tuple(
            xs.iter()
                .zip(ys)
                .map(|(x, y)| zip_tensors(x, y, f))
                .collect(),
        ),
        (Value::Node { ctor, fields }, Value::Node { fields: gs, .. }) => Value::Node {
            ctor: *ctor,
            fields: fields
                .iter()
                .zip(gs)
                .map(|(x, y)| zip_tensors(x, y, f))
                .collect(),
        },
        _ => panic!("internal error: a point and its direction differ in structure"),
    }
}

/// Every number of some values, in order.
fn flat(vs: &[Value]) -> Vec<f64> {
    fn go(v: &Value, out: &mut Vec<f64>) {
        match v {
            Value::Tensor(t) => out.extend(&t.data),
            Value::Tuple(vs) | Value::Node { fields: vs, .. } => vs.iter().for_each(|v| go(v, out)),
        }
    }
    let mut out = Vec::new();
    vs.iter().for_each(|v| go(v, &mut out));
    out
}
