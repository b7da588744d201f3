//! `cdlc run`: loads trained weights and prints the model's output for
//! every input line.

use super::trainer::Trainer;
use cdlc::instantiate::Instantiated;
use cdlc_runtime::checkpoint;
use cdlc_runtime::optim::first_non_finite;
use cdlc_runtime::value::{Tensor, Value};
use std::path::Path;

/// Loads weights for `inst`, refusing a checkpoint trained for another
/// model (naming it), whose names or shapes do not fit the model, that
/// holds NaN or infinity, or (with `source_hash`) that was trained from
/// another version of the program or does not say which program it was
/// trained from. Every refusal is E0607; the caller prints it as
/// `error[E0607]: MESSAGE`.
pub fn load_weights(
    path: &Path,
    inst: &Instantiated,
    source_hash: Option<&str>,
) -> Result<Vec<Tensor>, String> {
    let model = &inst.module.functions[inst.func].name;
    let whole = checkpoint::read(path).map_err(|e| e.to_string())?;
    if let Some(trained) = whole.metadata.get("model")
        && trained != model
    {
        return Err(format!(
            "{} holds the weights of model `{trained}`, not `{model}`; run it with `--entry {trained}`, or pass the weights trained for `{model}`",
            path.display()
        ));
    }
    let expected: Vec<(&str, &[usize])> = inst
        .slots
        .iter()
        .map(|s| (s.name.as_str(), s.stored_shape.as_slice()))
        .collect();
    let ck = checkpoint::load(path, &expected).map_err(|e| e.to_string())?;
    if source_hash.is_some() && !ck.metadata.contains_key("source_sha256") {
        return Err(format!(
            "{} does not record which program it was trained from (no `source_sha256` in its metadata); retrain it with this version of cdlc",
            path.display()
        ));
    }
    if let (Some(h), Some(source_hash)) = (ck.metadata.get("source_sha256"), source_hash)
        && h != source_hash
    {
        return Err(format!(
            "{} was trained from a different version of this program (source hash {}…, this file {}…); retrain, or run it with the program it was trained from",
            path.display(),
            &h[..h.len().min(12)],
            &source_hash[..source_hash.len().min(12)]
        ));
    }
    let params: Vec<Tensor> = ck
        .params
        .iter()
        .zip(&inst.slots)
        .map(|(p, s)| Tensor::new(s.shape.clone(), p.data.to_f64()))
        .collect();
    for (p, s) in params.iter().zip(&inst.slots) {
        if let Some(at) = first_non_finite(&p.data) {
            return Err(format!(
                "{}: parameter `{}` holds {} at index {at}; these weights cannot give finite outputs, so retrain them",
                path.display(),
                s.name,
                p.data[at]
            ));
        }
    }
    Ok(params)
}

/// A model output as JSON: a tensor as nested arrays, a list as an array.
pub fn to_json(v: &Value) -> serde_json::Value {
    match v {
        Value::Tensor(t) => tensor_json(&t.shape, &t.data),
        Value::Tuple(vs) => serde_json::Value::Array(vs.iter().map(to_json).collect()),
        other => match other.as_list() {
            Some(items) => serde_json::Value::Array(items.into_iter().map(to_json).collect()),
            None => serde_json::Value::Null,
        },
    }
}

fn tensor_json(shape: &[usize], data: &[f64]) -> serde_json::Value {
    match shape {
        [] => serde_json::json!(data[0]),
        [_] => serde_json::json!(data),
        [n, rest @ ..] => {
            let k: usize = rest.iter().product();
            serde_json::Value::Array(
                (0..*n)
                    .map(|i| tensor_json(rest, &data[i * k..(i + 1) * k]))
                    .collect(),
            )
        }
    }
}

/// Runs the model on every example of `inputs` and prints one JSON line each.
pub fn run(trainer: &mut dyn Trainer, inputs: &[Value]) -> Result<(), String> {
    for chunk in inputs.chunks(256) {
        let xs: Vec<&Value> = chunk.iter().collect();
        for y in trainer.forward(&xs)? {
            super::stdout::print(format_args!("{}\n", to_json(&y)));
        }
    }
    Ok(())
}
