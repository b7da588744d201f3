//! `jvp: fd`: forward-mode derivatives against finite differences in f64.
//!
//! For each model `f` the runner builds `f.jvp` with `cdlc_ir::jvp::jvp`
//! (inputs `x..., t...`, output `(f(x), J_f(x) t)`), draws a point `x`, a
//! direction `t` (standard normal) and the parameters from the seed, and
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
    let shapes: Vec<Vec<usize>> = f
        .inputs
        .iter()
        .map(|t| match t {
            Type::Tensor(s) => Ok(s.clone()),
            other => Err(format!("`jvp: fd` takes tensor inputs, not {other:?}")),
        })
        .collect::<Result<_, _>>()?;
    let x: Vec<Tensor> = shapes
        .iter()
        .map(|s| random::input_tensor(s, header.positive, &mut rng))
        .collect();
    let t: Vec<Tensor> = shapes
        .iter()
        .map(|s| {
            let n = s.iter().product();
            Tensor::new(s.clone(), (0..n).map(|_| rng.normal()).collect())
        })
        .collect();
    let run = |func: FuncId, inputs: Vec<Tensor>| -> Result<Vec<Value>, String> {
        let mut vs: Vec<Value> = inputs.into_iter().map(Value::Tensor).collect();
        let x = if vs.len() == 1 {
            vs.pop().expect("one input")
        } else {
            Value::Tuple(vs)
        };
        let v = interp::forward(module, func, &params, &x)
            .map_err(|e| format!("the interpreter fails: {e:?}"))?;
        Ok(match &v {
            Value::Tuple(parts) if func == m.jvp => parts.clone(),
            _ => vec![v],
        })
    };
    let along = |sign: f64| -> Vec<Tensor> {
        x.iter()
            .zip(&t)
            .map(|(x, t)| {
                let data = x.data.iter().zip(&t.data).map(|(a, b)| a + sign * EPS * b);
                Tensor::new(x.shape.clone(), data.collect())
            })
            .collect()
    };
    let plus = flat(&run(m.forward, along(1.0))?);
    let minus = flat(&run(m.forward, along(-1.0))?);
    let at = flat(&run(m.forward, x.clone())?);
    let both = run(m.jvp, x.iter().chain(&t).cloned().collect())?;
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
        Ok(())
    } else {
        Err(format!(
            "`{}`, seed {seed}: the forward derivative differs from finite differences by {worst:e} > {TOLERANCE:e}",
            m.name
        ))
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
