//! `cdlc gradcheck`: the reverse derivative of the loss against central
//! finite differences in f64: a bounded sample of entries of every
//! parameter slot, and random directions of all parameters at once.

use cdlc::training::{Prepared, init_params, split};
use cdlc_ir::gradcheck::{Coords, GradCheck, Sampling};
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
            // A base constructor holds no position of the type itself; one
            // holding only enclosing types' positions (a leaf of `Tree(X)`
            // in a nested field) counts, as those end at their own base.
            let base: Vec<usize> = (0..d.ctors.len())
                .filter(|i| !d.ctors[*i].fields.iter().any(|f| mentions(f, 0)))
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

/// Whether `t`, a field of a data type `level` data types inside it,
/// holds that type's recursive position.
fn mentions(t: &DataType, level: u32) -> bool {
    match t {
        DataType::Rec(k) => *k == level,
        DataType::Tuple(ts) => ts.iter().any(|t| mentions(t, level)),
        DataType::Data(d) => d
            .ctors
            .iter()
            .any(|c| c.fields.iter().any(|f| mentions(f, level + 1))),
        DataType::Tensor(_) => false,
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

/// Random directions of all parameters compared in every check.
pub const DIRECTIONS: usize = 4;

/// Runs the check, with the reference interpreter or (`jit`) the compiled
/// f64 training kernel: `coords` entries compared one by one (spread over
/// the slots; every entry when the model has no more) and `DIRECTIONS`
/// random directions. Returns the report's lines and whether it passed; a
/// check that compared nothing, or whose gradient is zero everywhere, does
/// not pass and says why.
pub fn check(
    prepared: &Prepared,
    examples: &[Example],
    seed: u64,
    jit: bool,
    coords: usize,
) -> Result<(Vec<String>, bool), GradcheckError> {
    let inst = &prepared.inst;
    let params: Vec<Tensor> = init_params(inst, seed);
    let sampling = Sampling {
        coords: Coords::Sample(coords),
        directions: DIRECTIONS,
    };
    let r = if jit {
        jit_check(prepared, examples, &params, seed, sampling)?
    } else {
        cdlc_ir::gradcheck::gradcheck_sampled(
            &inst.module,
            prepared.train,
            &params,
            examples,
            seed,
            sampling,
        )
        .map_err(|e| GradcheckError::Run(e.to_string()))?
    };
    Ok((report(&r), r.passed()))
}

/// The check with the compiled f64 training kernel.
fn jit_check(
    prepared: &Prepared,
    examples: &[Example],
    params: &[Tensor],
    seed: u64,
    sampling: Sampling,
) -> Result<GradCheck, GradcheckError> {
    let inst = &prepared.inst;
    let opts = cdlc_jit::Options {
        dtype: cdlc_jit::Dtype::F64,
        batch: examples.len(),
    };
    let mut kernel = cdlc_jit::compile_train(&inst.module, prepared.train, &opts)
        .map_err(GradcheckError::Jit)?;
    let names: Vec<String> = inst.slots.iter().map(|s| s.name.clone()).collect();
    let mut grads = vec![0.0f64; kernel.num_params()];
    cdlc_ir::gradcheck::check(&names, params, seed, sampling, |p: &[Tensor]| {
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
    })
    .map_err(GradcheckError::Run)
}

/// Why a gradient check could not run.
#[derive(Debug)]
pub enum GradcheckError {
    /// The JIT cannot compile the model (`--backend jit`).
    Jit(cdlc_jit::JitError),
    /// The model cannot run on the check's examples.
    Run(String),
}

impl GradcheckError {
    /// The error as a diagnostic: the JIT's refusal as `fallback::error`
    /// words it, or E0603 at the train block's `data` option (`data`) when
    /// the examples are the train block's.
    pub fn to_diagnostic(
        &self,
        c: &cdlc::Compilation,
        model: cdlc::resolve::ItemId,
        p: &Prepared,
        data: Option<cdlc_grammar::Span>,
    ) -> cdlc::diagnostics::Diagnostic {
        use cdlc::diagnostics::Diagnostic;
        match self {
            GradcheckError::Jit(e) => super::fallback::error(c, model, p, e),
            GradcheckError::Run(m) => {
                let message =
                    format!("the gradient check cannot run the model on its examples: {m}");
                match data {
                    Some(span) => Diagnostic::error("E0603", message, span, "the examples checked"),
                    None => Diagnostic::error_without_span("E0603", message),
                }
                .with_help("check on examples the model accepts (a train block's data), or with fewer `--samples`")
            }
        }
    }
}

/// The printed report: one line per slot, one for the directions, the
/// largest error, and why a check that compared nothing did not pass.
fn report(r: &GradCheck) -> Vec<String> {
    let width = r
        .params
        .iter()
        .map(|p| p.name.len())
        .max()
        .unwrap_or(0)
        .max("(random directions)".len());
    let mut lines: Vec<String> = r
        .params
        .iter()
        .map(|p| {
            let mut counts = format!("{} of {} entries compared", p.compared, p.entries);
            if p.skipped > 0 {
                counts += &format!(", {} skipped at non-smooth points", p.skipped);
            }
            format!(
                "{:<width$}  max relative error {:.3e}  ({counts})",
                p.name, p.max_rel_error
            )
        })
        .collect();
    let mut counts = format!("{} compared", r.directions_compared);
    if r.directions_skipped > 0 {
        counts += &format!(", {} skipped at non-smooth points", r.directions_skipped);
    }
    lines.push(format!(
        "{:<width$}  max relative error {:.3e}  ({counts})",
        "(random directions)", r.direction_rel_error
    ));
    lines.push(format!("max relative error: {:.3e}", r.max_rel_error()));
    if r.zero_gradient {
        lines.push(
            "FAILED: the gradient is zero in every entry, so agreeing with it proves nothing \
             (the loss does not depend on the parameters at these examples); check on more \
             examples (--samples) or with a loss that depends on the parameters"
                .to_string(),
        );
    } else if r.compared() == 0 {
        lines.push(
            "FAILED: every entry and direction was skipped at non-smooth points, so nothing \
             was compared; check on other data (--samples) or more entries (--coords)"
                .to_string(),
        );
    } else if !r.passed() {
        lines.push(format!(
            "FAILED: the largest relative error is above {:.0e}",
            cdlc_ir::gradcheck::TOLERANCE
        ));
    }
    lines
}
