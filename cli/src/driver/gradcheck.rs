//! `cdlc gradcheck`: the reverse derivative of the loss against central
//! finite differences in f64, for every parameter slot.

use cdlc::training::{Prepared, init_params, split};
use cdlc_runtime::value::{DataType, Example, Target, Tensor, Value};

/// Examples to check on: the first `n` of the train block's data, or
/// random inputs of the model's type with random targets.
pub fn examples(
    dataset: Option<Vec<Example>>,
    prepared: &Prepared,
    n: usize,
    seed: u64,
) -> Vec<Example> {
    if let Some(examples) = dataset {
        let (train, _) = split(examples, 1.0, seed);
        return train.into_iter().take(n).collect();
    }
    let inst = &prepared.inst;
    let forward = &inst.module.functions[inst.func];
    let out = forward.types[forward.output()].clone();
    let mut rng = cdlc_ir::rng::Rng::new(seed);
    (0..n)
        .map(|_| {
            let xs: Vec<Value> = inst
                .inputs
                .iter()
                .map(|t| random_value(t, &mut rng, 0, &[]))
                .collect();
            let x = if xs.len() == 1 {
                xs.into_iter().next().expect("one")
            } else {
                Value::Tuple(xs)
            };
            Example {
                x,
                y: random_target(
                    &prepared.loss.target_type(&out).expect("the loss fits"),
                    &mut rng,
                    3,
                ),
            }
        })
        .collect()
}

/// A random value of type `t`. `scope` holds the data types enclosing a
/// position, innermost first, so that `Rec(k)` names `scope[k]` (a rose
/// tree's `List(X)` holds `Rec(1)`, the rose, from inside the list).
fn random_value(
    t: &DataType,
    rng: &mut cdlc_ir::rng::Rng,
    depth: usize,
    scope: &[&DataType],
) -> Value {
    match t {
        DataType::Tensor(s) => Value::Tensor(random_tensor(s, rng)),
        DataType::Tuple(ts) => Value::Tuple(
            ts.iter()
                .map(|t| random_value(t, rng, depth, scope))
                .collect(),
        ),
        DataType::Data(d) => {
            // A small random structure: recursive constructors while shallow.
            let base: Vec<usize> = (0..d.ctors.len())
                .filter(|i| {
                    !d.ctors[*i]
                        .fields
                        .iter()
                        .any(|f| matches!(f, DataType::Rec(_)))
                })
                .collect();
            let pick = if depth >= 3 || base.len() == d.ctors.len() {
                base[(rng.uniform() * base.len() as f64) as usize % base.len().max(1)]
            } else {
                let rec: Vec<usize> = (0..d.ctors.len()).filter(|i| !base.contains(i)).collect();
                rec[(rng.uniform() * rec.len() as f64) as usize % rec.len()]
            };
            let mut inner = vec![t];
            inner.extend_from_slice(scope);
            let fields = d.ctors[pick]
                .fields
                .iter()
                .map(|f| random_value(f, rng, depth + 1, &inner))
                .collect();
            Value::Node {
                ctor: pick as u32,
                fields,
            }
        }
        DataType::Rec(k) => {
            let k = *k as usize;
            let outer = scope
                .get(k)
                .expect("a checked data type's recursive positions are bound");
            random_value(outer, rng, depth, &scope[k + 1..])
        }
    }
}

fn random_tensor(s: &[usize], rng: &mut cdlc_ir::rng::Rng) -> Tensor {
    let n: usize = s.iter().product();
    Tensor::new(s.to_vec(), (0..n).map(|_| rng.normal()).collect())
}

fn random_target(t: &cdlc_ir::Type, rng: &mut cdlc_ir::rng::Rng, len: usize) -> Target {
    match t {
        cdlc_ir::Type::Class(n) => Target::Class((rng.uniform() * *n as f64) as usize % n),
        cdlc_ir::Type::Tensor(s) => Target::Tensor(random_tensor(s, rng)),
        cdlc_ir::Type::Seq(e) => {
            Target::Seq((0..len).map(|_| random_target(e, rng, len)).collect())
        }
        other => unreachable!("no target of type {other:?}"),
    }
}

/// Runs the check, with the reference interpreter or (`jit`) the compiled
/// f64 training kernel; returns the report's lines and the largest error.
pub fn check(
    prepared: &Prepared,
    examples: &[Example],
    seed: u64,
    jit: bool,
) -> Result<(Vec<String>, f64), String> {
    let inst = &prepared.inst;
    let params: Vec<Tensor> = init_params(inst, seed);
    let r = if jit {
        let opts = cdlc_jit::Options {
            dtype: cdlc_jit::Dtype::F64,
            batch: examples.len(),
        };
        let mut kernel = cdlc_jit::compile_train(&inst.module, prepared.train, &opts)
            .map_err(|e| e.to_string())?;
        let names: Vec<String> = inst.slots.iter().map(|s| s.name.clone()).collect();
        let mut grads = vec![0.0f64; kernel.num_params()];
        cdlc_ir::gradcheck::gradcheck_with(&names, &params, seed, |p: &[Tensor]| {
            let flat: Vec<f64> = p.iter().flat_map(|t| t.data.iter().copied()).collect();
            let stats = kernel
                .step_examples(&flat, examples, &mut grads)
                .map_err(|e| e.to_string())?;
            let mut at = 0;
            let per_slot = p
                .iter()
                .map(|t| {
                    let n = t.data.len();
                    at += n;
                    Tensor::new(t.shape.clone(), grads[at - n..at].to_vec())
                })
                .collect();
            Ok::<_, String>((stats.loss, per_slot))
        })?
    } else {
        cdlc_ir::gradcheck::gradcheck(&inst.module, prepared.train, &params, examples, seed)
            .map_err(|e| e.to_string())?
    };
    let width = r.params.iter().map(|p| p.name.len()).max().unwrap_or(0);
    let mut lines: Vec<String> = r
        .params
        .iter()
        .map(|p| {
            let skipped = if p.skipped > 0 {
                format!("  ({} entries at non-smooth points skipped)", p.skipped)
            } else {
                String::new()
            };
            format!(
                "{:<width$}  max relative error {:.3e}{skipped}",
                p.name, p.max_rel_error
            )
        })
        .collect();
    lines.push(format!(
        "{:<width$}  relative error {:.3e}",
        "(random direction)", r.direction_rel_error
    ));
    Ok((lines, r.max_rel_error()))
}
