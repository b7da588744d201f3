//! `cdlc measure`: how equivariant a model is with given weights, under a
//! group the program declares, whether or not the model claims it.
//!
//! The group acts on the model's inputs and output through their declared
//! spaces (a plain output is measured for invariance). For inputs `x` (the
//! data, or standard normal samples):
//!
//! - **discrete generators**: the relative equivariance error
//!   `‖f(g·x) − g·f(x)‖₂ / ‖f(x)‖₂`, for `g` each generator alone and
//!   random words of generators (random lengths), reported as the mean and
//!   the maximum over inputs and elements;
//! - **Lie generators**: the Lie derivative
//!   `L_A f(x) = J_f(x)(dρ_in(A) x) − dρ_out(A) f(x)`, with `J_f(x) v`
//!   computed in forward mode (`cdlc_ir::jvp`, which follows folds and
//!   unfolds: a list input's elements each move along `dρ_in(A) x_i`),
//!   reported per generator as
//!   the mean and maximum of `‖L_A f(x)‖₂ / ‖f(x)‖₂`. It is zero exactly
//!   when `f` commutes with the one-parameter subgroup `exp(tA)`.
//!
//! With `per_layer`, a model written as a chain `f_1 >> … >> f_k` also
//! gets the error of each stage on the inputs it actually sees there (the
//! outputs of the stages before it), so the error can be attributed to the
//! stages that introduce it; a model with a block body gets the error of
//! each named layer applied in it (`measure/layers.rs`).
//!
//! Everything runs in f64 on the reference interpreter. The module does no
//! IO: the caller loads the weights and data.

mod layers;
mod structures;

use super::Env;
use super::numeric::{Act, Input, Sample, apply, input, to_data};
use crate::Compilation;
use crate::check::size::{Poly, Var};
use crate::check::types::Ty;
use crate::diagnostics::Diagnostic;
use crate::hir::{Body, BodyKind, Expr, ExprId};
use crate::instantiate::Instantiated;
use crate::resolve::ItemId;
use cdlc_equivariance::{Element, Group, Rng, Step};
use cdlc_grammar::Span;
use cdlc_grammar::ast::ItemKind;
use cdlc_ir::interp::{Array, IVal};
use cdlc_runtime::value::{Tensor, Value as Data};
use std::collections::HashMap;

/// What to measure.
#[derive(Clone, Debug)]
pub struct MeasureSetup<'a> {
    /// The group's declared name; `None` takes the group of the first
    /// input whose space it acts on.
    pub group: Option<&'a str>,
    /// The inputs; `None` draws `samples` standard normal ones.
    pub data: Option<&'a [Data]>,
    /// How many random inputs to draw without data.
    pub samples: usize,
    /// Random words of generators per input, besides each generator alone.
    pub words: usize,
    /// The seed of every random draw.
    pub seed: u64,
    /// Also measure each stage of a chain `f_1 >> … >> f_k`.
    pub per_layer: bool,
}

/// The mean and maximum of a relative error.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stats {
    /// The mean.
    pub mean: f64,
    /// The maximum.
    pub max: f64,
}

/// The measurements of one function (the model or one stage).
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// The discrete generators' relative errors, if the group has any.
    pub discrete: Option<Stats>,
    /// Per Lie generator, its name and the relative Lie derivative.
    pub lie: Vec<(String, Stats)>,
}

/// The result of `cdlc measure`.
#[derive(Clone, Debug, PartialEq)]
pub struct Measurement {
    /// The model.
    pub model: String,
    /// The group, as declared.
    pub group: String,
    /// How many inputs were measured.
    pub inputs: usize,
    /// The whole model.
    pub whole: Report,
    /// Per stage (with `per_layer`), its name and report, or why it could
    /// not be measured.
    pub layers: Vec<LayerReport>,
}

/// One stage's name and report, or why it could not be measured.
pub type LayerReport = (String, Result<Report, String>);

/// Why a model could not be measured.
#[derive(Clone, Debug, PartialEq)]
pub enum MeasureError {
    /// E0610: no such group, or the model's inputs are not acted on by it.
    Group(String),
    /// E0611: the model's types or structure cannot be measured.
    Model(String),
    /// E0612: the weights or the data do not fit the model.
    Fit(String),
}

impl MeasureError {
    /// The diagnostic code.
    pub fn code(&self) -> &'static str {
        match self {
            MeasureError::Group(_) => "E0610",
            MeasureError::Model(_) => "E0611",
            MeasureError::Fit(_) => "E0612",
        }
    }

    /// The message.
    pub fn message(&self) -> &str {
        match self {
            MeasureError::Group(m) | MeasureError::Model(m) | MeasureError::Fit(m) => m,
        }
    }

    /// The error as a diagnostic at `model`, the span of the model being
    /// measured (or trained with `--augment`), with what to do.
    pub fn to_diagnostic(&self, model: Span) -> Diagnostic {
        let (label, help) = match self {
            MeasureError::Group(_) => (
                "this model's inputs",
                "name a declared group, and declare the model's input type as a space under it",
            ),
            MeasureError::Model(_) => (
                "this model cannot be measured",
                "measure a model of tensors, or drop `--per-layer` for a model that is not a chain",
            ),
            MeasureError::Fit(_) => (
                "the model measured",
                "pass the weights trained for this model and program, and inputs of its input type",
            ),
        };
        Diagnostic::error(self.code(), self.message(), model, label).with_help(help)
    }
}

/// One function to measure: its instantiation, weights and actions.
struct Target<'i> {
    inst: &'i Instantiated,
    params: Vec<Tensor>,
    inputs: Vec<Input>,
    output: Act,
}

/// Measures `model` (instantiated as `inst`) with weights `params`.
pub fn measure(
    c: &Compilation,
    model: ItemId,
    inst: &Instantiated,
    params: &[Tensor],
    setup: &MeasureSetup<'_>,
) -> Result<Measurement, MeasureError> {
    let mut env = Env::new(&c.program, &c.checked, None);
    let info = c
        .checked
        .defs
        .get(&model)
        .ok_or_else(|| MeasureError::Model("the model did not check".to_string()))?;
    let group = find_group(c, &mut env, model, setup.group)?;
    let gname = setup
        .group
        .map(str::to_string)
        .or_else(|| group_decl_name(c, &mut env, &group))
        .unwrap_or_else(|| group.to_string());
    let tys: Vec<Ty> = match &info.dom {
        Ty::Tuple(ts) => ts.clone(),
        t => vec![t.clone()],
    };
    if tys.iter().any(|t| structures::is_structure(c, t)) {
        let s = structures::Structured {
            tys,
            cod: info.cod.clone(),
            inst,
            params,
        };
        return measure_structures(c, &mut env, &info.name, &s, &group, gname, setup);
    }
    let target = make_target(c, &mut env, model, inst, params.to_vec(), &group)?;
    if target.inputs.iter().all(|i| matches!(i.act, Act::Identity)) {
        return Err(MeasureError::Group(format!(
            "no input of `{}` is in a space that {gname} acts on; declare its type as such a space",
            info.name
        )));
    }
    let xs = inputs(&target, setup)?;
    let whole = report(&target, &group, &xs, setup)?;
    let mut layers = Vec::new();
    if setup.per_layer {
        layers = stages(c, &mut env, model, params, inst, &group, &xs, setup)?;
    }
    Ok(Measurement {
        model: info.name.clone(),
        group: gname,
        inputs: xs.len(),
        whole,
        layers,
    })
}

/// A model with a tree or nested structure among its inputs, measured on
/// the given inputs as a whole (`measure/structures.rs`).
fn measure_structures(
    c: &Compilation,
    env: &mut Env<'_>,
    name: &str,
    s: &structures::Structured<'_>,
    group: &Group,
    gname: String,
    setup: &MeasureSetup<'_>,
) -> Result<Measurement, MeasureError> {
    if setup.per_layer {
        return Err(MeasureError::Model(format!(
            "`--per-layer` is not measured on `{name}`, whose input is a tree or nested \
             structure; measure the whole model"
        )));
    }
    let Some(xs) = setup.data else {
        return Err(MeasureError::Model(format!(
            "`{name}` takes a tree or nested structure, and `measure` draws no random \
             structures: pass inputs with `--data`, or give the model a train block whose \
             held-out inputs are measured"
        )));
    };
    if s.params.len() != s.inst.slots.len() {
        return Err(MeasureError::Fit(format!(
            "`{name}` has {} parameter slots, but {} weights were given",
            s.inst.slots.len(),
            s.params.len()
        )));
    }
    let whole = structures::report(c, env, s, group, xs, setup)?;
    Ok(Measurement {
        model: name.to_string(),
        group: gname,
        inputs: xs.len(),
        whole,
        layers: Vec::new(),
    })
}

/// The group named by `--group`, or that of the model's first acted-on input.
fn find_group(
    c: &Compilation,
    env: &mut Env<'_>,
    model: ItemId,
    name: Option<&str>,
) -> Result<Group, MeasureError> {
    if let Some(n) = name {
        return env.group_named(n).ok_or_else(|| {
            let declared: Vec<String> = c
                .program
                .item_ids()
                .filter(|&id| matches!(c.program.item(id).kind, ItemKind::Group(_)))
                .map(|id| format!("`{}`", item_name(c, id)))
                .collect();
            MeasureError::Group(if declared.is_empty() {
                format!("`{n}` is not a group of this program, which declares none")
            } else {
                format!(
                    "`{n}` is not a group of this program; it declares {}",
                    declared.join(", ")
                )
            })
        });
    }
    let info = &c.checked.defs[&model];
    let tys: Vec<Ty> = match &info.dom {
        Ty::Tuple(ts) => ts.clone(),
        t => vec![t.clone()],
    };
    for t in &tys {
        let elem = match t {
            Ty::Data { args, .. } if args.len() == 1 => &args[0],
            other => other,
        };
        if let Ty::Tensor(_, Some(sid)) = elem
            && let Some(s) = env.space_tag(*sid)
            && !s.is_trivial_action()
            && let Some(g) = s.group()
        {
            return Ok(g.clone());
        }
    }
    Err(MeasureError::Group(format!(
        "no input of `{}` is in a space under a group; name the group with `--group G`",
        info.name
    )))
}

fn item_name(c: &Compilation, id: ItemId) -> String {
    match &c.program.item(id).kind {
        ItemKind::Group(g) => g.name.node.clone(),
        _ => String::new(),
    }
}

/// The declared name of a group, for the report.
fn group_decl_name(c: &Compilation, env: &mut Env<'_>, g: &Group) -> Option<String> {
    c.program
        .item_ids()
        .filter(|&id| matches!(c.program.item(id).kind, ItemKind::Group(_)))
        .find(|&id| env.group(id).as_ref() == Some(g))
        .map(|id| item_name(c, id))
}

fn make_target<'i>(
    c: &Compilation,
    env: &mut Env<'_>,
    def: ItemId,
    inst: &'i Instantiated,
    params: Vec<Tensor>,
    group: &Group,
) -> Result<Target<'i>, MeasureError> {
    make_target_sized(c, env, def, inst, params, group, &HashMap::new())
}

/// `make_target` for a definition instantiated at `sizes` (its size
/// parameters' values).
fn make_target_sized<'i>(
    c: &Compilation,
    env: &mut Env<'_>,
    def: ItemId,
    inst: &'i Instantiated,
    params: Vec<Tensor>,
    group: &Group,
    sizes: &HashMap<Var, i64>,
) -> Result<Target<'i>, MeasureError> {
    let info = &c.checked.defs[&def];
    let at = |t: &Ty| t.subst_sizes(&|v| sizes.get(&v).map(|n| Poly::constant(*n)));
    let tys: Vec<Ty> = match at(&info.dom) {
        Ty::Tuple(ts) => ts,
        t => vec![t],
    };
    let inputs = tys
        .iter()
        .map(|t| input(c, env, t, group))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|m| MeasureError::Model(format!("`{}`: {m}", info.name)))?;
    let output = input(c, env, &at(&info.cod), group)
        .map_err(|m| MeasureError::Model(format!("`{}`: {m}", info.name)))?;
    if output.list {
        return Err(MeasureError::Model(format!(
            "`{}` returns a list; `measure` compares tensor outputs",
            info.name
        )));
    }
    if params.len() != inst.slots.len() {
        return Err(MeasureError::Fit(format!(
            "`{}` has {} parameter slots, but {} weights were given",
            info.name,
            inst.slots.len(),
            params.len()
        )));
    }
    Ok(Target {
        inst,
        params,
        inputs,
        output: output.act,
    })
}

/// The inputs as samples: the data's, or standard normal draws.
fn inputs(target: &Target<'_>, setup: &MeasureSetup<'_>) -> Result<Vec<Vec<Sample>>, MeasureError> {
    match setup.data {
        Some(data) => data.iter().map(|x| sample_of(target, x)).collect(),
        None => {
            let mut rng = Rng::new(setup.seed);
            Ok((0..setup.samples.max(1))
                .map(|_| {
                    target
                        .inputs
                        .iter()
                        .map(|i| {
                            let len = if i.list { 1 + rng.below(4) } else { 1 };
                            let n = i.shape.iter().product::<usize>();
                            (0..len)
                                .map(|_| (0..n).map(|_| rng.normal()).collect())
                                .collect()
                        })
                        .collect()
                })
                .collect())
        }
    }
}

/// One input value as samples (a tensor, or a list of tensors, per input).
fn sample_of(target: &Target<'_>, x: &Data) -> Result<Vec<Sample>, MeasureError> {
    let parts: Vec<&Data> = match (x, target.inputs.len()) {
        (x, 1) => vec![x],
        (Data::Tuple(xs), n) if xs.len() == n => xs.iter().collect(),
        _ => {
            return Err(MeasureError::Fit(format!(
                "an input has not the model's {} arguments",
                target.inputs.len()
            )));
        }
    };
    parts
        .iter()
        .zip(&target.inputs)
        .map(|(d, i)| {
            let tensors: Vec<&Tensor> = if i.list {
                d.as_list()
                    .ok_or_else(|| MeasureError::Fit("an input is not a list".to_string()))?
                    .into_iter()
                    .map(|e| {
                        e.as_tensor().ok_or_else(|| {
                            MeasureError::Fit("a list element is not a tensor".to_string())
                        })
                    })
                    .collect::<Result<_, _>>()?
            } else {
                vec![
                    d.as_tensor()
                        .ok_or_else(|| MeasureError::Fit("an input is not a tensor".to_string()))?,
                ]
            };
            tensors
                .iter()
                .map(|t| {
                    if t.shape == i.shape {
                        Ok(t.data.clone())
                    } else {
                        Err(MeasureError::Fit(format!(
                            "an input has shape {:?}, the model expects {:?}",
                            t.shape, i.shape
                        )))
                    }
                })
                .collect()
        })
        .collect()
}

/// Runs the target on samples; its output flattened.
fn run(target: &Target<'_>, xs: &[Sample]) -> Result<Vec<f64>, MeasureError> {
    run_in(target, &target.inst.module, xs)
}

/// `run` with the target's function taken from `module` (its own module,
/// or a copy whose function returns a value inside it).
fn run_in(
    target: &Target<'_>,
    module: &cdlc_ir::Module,
    xs: &[Sample],
) -> Result<Vec<f64>, MeasureError> {
    let tensors: Vec<Data> = xs
        .iter()
        .zip(&target.inputs)
        .map(|(x, i)| to_data(i, x))
        .collect();
    let x = if tensors.len() == 1 {
        tensors.into_iter().next().expect("one input")
    } else {
        Data::Tuple(tensors)
    };
    let y = cdlc_ir::interp::forward(module, target.inst.func, &target.params, &x)
        .map_err(|e| MeasureError::Fit(e.to_string()))?;
    y.as_tensor()
        .map(|t| t.data.clone())
        .ok_or_else(|| MeasureError::Model("the output is not a tensor".to_string()))
}

fn norm2(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

/// `‖a − b‖₂ / ‖scale‖₂`, 0 when both are zero.
fn relative(a: &[f64], b: &[f64], scale: &[f64]) -> f64 {
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    let (n, s) = (norm2(&d), norm2(scale));
    if n == 0.0 {
        0.0
    } else if s == 0.0 {
        f64::INFINITY
    } else {
        n / s
    }
}

fn stats(v: &[f64]) -> Stats {
    Stats {
        mean: v.iter().sum::<f64>() / v.len().max(1) as f64,
        max: v.iter().copied().fold(0.0, f64::max),
    }
}

/// The discrete and Lie measurements of one target.
fn report(
    target: &Target<'_>,
    group: &Group,
    xs: &[Vec<Sample>],
    setup: &MeasureSetup<'_>,
) -> Result<Report, MeasureError> {
    let discrete = if group.num_discrete() > 0 {
        Some(discrete(target, group, xs, setup)?)
    } else {
        None
    };
    let lie = if group.num_lie() > 0 {
        lie(target, group, xs)?
    } else {
        Vec::new()
    };
    Ok(Report { discrete, lie })
}

/// Each discrete generator alone, then random words of random lengths.
fn elements(group: &Group, rng: &mut Rng, words: usize) -> Vec<Element> {
    let mut out: Vec<Element> = (0..group.num_discrete())
        .map(|k| Element {
            steps: vec![Step::Generator(k)],
        })
        .collect();
    for _ in 0..words {
        let len = 2 + rng.below(4);
        let steps = (0..len)
            .map(|_| Step::Generator(rng.below(group.num_discrete())))
            .collect();
        out.push(Element { steps });
    }
    out
}

fn discrete(
    target: &Target<'_>,
    group: &Group,
    xs: &[Vec<Sample>],
    setup: &MeasureSetup<'_>,
) -> Result<Stats, MeasureError> {
    let mut rng = Rng::new(setup.seed ^ 0x6d65_6173);
    let mut errors = Vec::new();
    for x in xs {
        let fx = run(target, x)?;
        for g in elements(group, &mut rng, setup.words) {
            let gx: Vec<Sample> = x
                .iter()
                .zip(&target.inputs)
                .map(|(s, i)| s.iter().map(|e| apply(&i.act, &g, e)).collect())
                .collect();
            let lhs = run(target, &gx)?;
            let rhs = apply(&target.output, &g, &fx);
            errors.push(relative(&lhs, &rhs, &fx));
        }
    }
    Ok(stats(&errors))
}

fn lie(
    target: &Target<'_>,
    group: &Group,
    xs: &[Vec<Sample>],
) -> Result<Vec<(String, Stats)>, MeasureError> {
    lie_errors(
        target.inst,
        &target.params,
        group,
        &target.output,
        xs.len(),
        &mut |module, jvp, k, i| jvp_args(module, jvp, target, k, &xs[i]),
    )
}

/// The inputs of the forward derivative `jvp` (in `module`) for Lie
/// generator `k` at sample `i`.
type JvpArgs<'f> = dyn FnMut(&cdlc_ir::Module, cdlc_ir::FuncId, usize, usize) -> Result<Vec<IVal<f64>>, MeasureError>
    + 'f;

/// The equivariance error under each Lie generator `A_k` of `group`:
/// per sample, the forward derivative `dy` of the model along `dρ(A_k) x`
/// against `dρ_out(A_k) y`, over `samples` samples whose derivative
/// inputs `args` gives. Tensor inputs and structures share this loop.
pub(super) fn lie_errors(
    inst: &Instantiated,
    params: &[Tensor],
    group: &Group,
    output: &Act,
    samples: usize,
    args: &mut JvpArgs<'_>,
) -> Result<Vec<(String, Stats)>, MeasureError> {
    let mut module = inst.module.clone();
    let jvp = cdlc_ir::jvp::jvp(&mut module, inst.func)
        .map_err(|e| MeasureError::Model(e.to_string()))?;
    let params: Vec<Array<f64>> = params.iter().map(Array::from_tensor).collect();
    let mut out = Vec::new();
    for (k, name) in group.lie_generators().into_iter().enumerate() {
        let mut errors = Vec::new();
        for i in 0..samples {
            let inputs = args(&module, jvp, k, i)?;
            let r = cdlc_ir::interp::run(&module, jvp, &params, inputs)
                .map_err(|e| MeasureError::Fit(e.to_string()))?;
            let IVal::Tuple(parts) = r else {
                return Err(MeasureError::Model(
                    "the forward derivative is not a pair".to_string(),
                ));
            };
            let (IVal::Tensor(y), IVal::Tensor(dy)) = (&parts[0], &parts[1]) else {
                return Err(MeasureError::Model(
                    "the output is not a tensor".to_string(),
                ));
            };
            let rho_y = lie_apply(output, k, &y.data);
            errors.push(relative(&dy.data, &rho_y, &y.data));
        }
        out.push((name, stats(&errors)));
    }
    Ok(out)
}

/// The inputs of the forward derivative at `x` along `dρ(A_k) x`: each
/// tensor input, a list input as its dual (every element paired with its
/// tangent, which a fold over the list follows), then each tensor input's
/// tangent.
fn jvp_args(
    module: &cdlc_ir::Module,
    jvp: cdlc_ir::FuncId,
    target: &Target<'_>,
    k: usize,
    x: &[Sample],
) -> Result<Vec<IVal<f64>>, MeasureError> {
    let tensor = |i: &Input, v: Vec<f64>| Data::Tensor(Tensor::new(i.shape.clone(), v));
    let mut args = Vec::new();
    let mut tangents = Vec::new();
    for (s, i) in x.iter().zip(&target.inputs) {
        if i.list {
            let items = s
                .iter()
                .map(|e| {
                    Data::Tuple(vec![
                        tensor(i, e.clone()),
                        tensor(i, lie_apply(&i.act, k, e)),
                    ])
                })
                .collect();
            args.push(Data::list(items));
        } else {
            args.push(tensor(i, s[0].clone()));
            tangents.push(tensor(i, lie_apply(&i.act, k, &s[0])));
        }
    }
    args.extend(tangents);
    args.iter()
        .zip(&module.functions[jvp].inputs)
        .map(|(d, t)| cdlc_ir::interp::to_ival(t, d))
        .collect::<Result<_, _>>()
        .map_err(|e| MeasureError::Fit(e.to_string()))
}

/// `dρ(A_k) x`, zero for a plain tensor.
fn lie_apply(act: &Act, k: usize, x: &[f64]) -> Vec<f64> {
    match act {
        Act::Identity => vec![0.0; x.len()],
        Act::Space(s) => s.lie_maps()[k].apply(x),
    }
}

/// The stages of a chain `f_1 >> … >> f_k`, each measured on the outputs
/// of the stages before it.
#[allow(clippy::too_many_arguments)]
fn stages(
    c: &Compilation,
    env: &mut Env<'_>,
    model: ItemId,
    params: &[Tensor],
    inst: &Instantiated,
    group: &Group,
    xs: &[Vec<Sample>],
    setup: &MeasureSetup<'_>,
) -> Result<Vec<LayerReport>, MeasureError> {
    let Some(chain) = chain_of(c, model) else {
        return layers::block_layers(c, env, model, params, inst, group, xs, setup);
    };
    // The chain's slots are its stages' slots, stage after stage.
    let mut next = 0;
    let mut current: Vec<Vec<Sample>> = xs.to_vec();
    let mut out = Vec::new();
    for id in chain {
        let name = c.checked.defs[&id].name.clone();
        let stage = crate::instantiate::instantiate_with(&c.program, &c.checked, &c.tyings, id)
            .map_err(|u| {
                MeasureError::Model(format!("`{name}` cannot be instantiated: {}", u.what))
            })?;
        let mut weights = Vec::new();
        for s in &stage.slots {
            match (inst.slots.get(next), params.get(next)) {
                (Some(slot), Some(p)) if slot.shape == s.shape => weights.push(p.clone()),
                _ => {
                    return Err(MeasureError::Fit(format!(
                        "the model's slots do not follow its stages at `{name}`"
                    )));
                }
            }
            next += 1;
        }
        let target = make_target(c, env, id, &stage, weights, group)?;
        let measured = if target.inputs.iter().all(|i| matches!(i.act, Act::Identity)) {
            Err(format!(
                "the input of `{name}` is not in a space that the group acts on"
            ))
        } else {
            report(&target, group, &current, setup).map_err(|e| e.message().to_string())
        };
        out.push((name, measured));
        current = current
            .iter()
            .map(|x| run(&target, x).map(|y| vec![vec![y]]))
            .collect::<Result<_, _>>()?;
    }
    Ok(out)
}

/// The layers of a point-free chain, in order of application (read from
/// the HIR: each stage a layer or model named without sizes).
fn chain_of(c: &Compilation, model: ItemId) -> Option<Vec<ItemId>> {
    let body = c.checked.hir.body(model)?;
    let BodyKind::PointFree(e) = &body.kind else {
        return None;
    };
    let mut out = Vec::new();
    collect_chain(c, body, *e, &mut out)?;
    Some(out)
}

fn collect_chain(c: &Compilation, body: &Body, e: ExprId, out: &mut Vec<ItemId>) -> Option<()> {
    match &body.exprs[e] {
        Expr::Compose(a, b) => {
            collect_chain(c, body, *a, out)?;
            collect_chain(c, body, *b, out)
        }
        Expr::Inst { item, sizes } if sizes.is_empty() => {
            if !c.checked.defs.contains_key(item) {
                return None;
            }
            out.push(*item);
            Some(())
        }
        _ => None,
    }
}
