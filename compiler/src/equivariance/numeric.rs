//! `cdlc check --numeric`: every claim tested numerically.
//!
//! For a layer or model claimed `equivariant G` (or `invariant G`), the
//! definition is instantiated with its derived tying and initialised
//! parameters (slots initialised to constants, such as `zeros` biases,
//! get random values instead, so that they are tested too), and for random inputs `x` and random group elements `g`
//! (each discrete generator alone, then words of generators of random
//! lengths, and `exp` of random Lie-algebra elements) the
//! reference interpreter computes `f(g·x)` and `g·f(x)` (for an invariant
//! claim, `f(x)`). The largest relative error `‖f(g·x) − g·f(x)‖∞ /
//! max(‖f(g·x)‖∞, ‖g·f(x)‖∞)` over the trials is reported per claim.
//!
//! Inputs may be tensors or lists of tensors (random lengths 1 to
//! [`MAX_LIST`], `g` acting on every element), so folds are tested too.
//! Definitions with size parameters cannot be instantiated on their own
//! and are skipped, as are claims with other inputs or outputs than tensors
//! and lists of tensors.

use super::Env;
use crate::Compilation;
use crate::check::types::Ty;
use cdlc_equivariance::{Element, Group, Rng, Space};
use cdlc_grammar::ast::{DefBody, ItemKind};
use cdlc_runtime::value::{Tensor, Value as Data};

/// The largest relative error allowed when computing in f32.
pub const F32_TOLERANCE: f64 = 1e-4;
/// The largest relative error allowed when computing in f64.
pub const F64_TOLERANCE: f64 = 1e-9;
/// Random inputs and group elements tried per claim.
pub const TRIALS: usize = 6;
/// Generators (or `exp` steps) per random group element.
pub const WORD_LENGTH: usize = 4;
/// The longest random list given to a list input.
pub const MAX_LIST: usize = 4;

/// The outcome of testing one claim.
#[derive(Clone, Debug, PartialEq)]
pub struct ClaimCheck {
    /// The layer or model.
    pub name: String,
    /// The claim as written, `equivariant S`.
    pub claim: String,
    /// The largest relative error over the trials, or why it was not tested.
    pub outcome: Result<f64, String>,
    /// The tolerance for the precision used.
    pub tolerance: f64,
}

impl ClaimCheck {
    /// False when the error exceeds the tolerance (a skipped claim passes).
    pub fn passed(&self) -> bool {
        self.outcome.as_ref().map_or(true, |e| *e <= self.tolerance)
    }
}

/// One input: a tensor, or a list of tensors, of this shape and action.
pub(super) struct Input {
    /// The tensor's (or each element's) shape.
    pub(super) shape: Vec<usize>,
    /// How the group acts on it.
    pub(super) act: Act,
    /// A list of tensors.
    pub(super) list: bool,
}

/// A random value of one input: a tensor, or the elements of a list.
pub(super) type Sample = Vec<Vec<f64>>;

/// How one input or the output is acted on.
pub(super) enum Act {
    /// By the identity (a plain tensor, or a trivial action).
    Identity,
    /// By a space under the claim's group.
    Space(Space),
}

/// Tests every claim of a compilation that checked without errors.
pub fn check_claims(c: &Compilation, f32: bool, seed: u64) -> Vec<ClaimCheck> {
    let mut env = Env::new(&c.program, &c.checked, None);
    let tolerance = if f32 { F32_TOLERANCE } else { F64_TOLERANCE };
    let mut out = Vec::new();
    for id in c.program.item_ids() {
        if !c.program.is_user_item(id) {
            continue;
        }
        let ItemKind::Def(d) = &c.program.item(id).kind else {
            continue;
        };
        let DefBody::Block {
            claim: Some(claim), ..
        } = &d.body
        else {
            continue;
        };
        let word = if claim.invariant {
            "invariant"
        } else {
            "equivariant"
        };
        let outcome = if d.size_params.is_empty() {
            test_claim(
                c,
                &mut env,
                id,
                &claim.group.node,
                claim.invariant,
                f32,
                seed,
            )
        } else {
            Err("has size parameters; tested where it is instantiated".to_string())
        };
        out.push(ClaimCheck {
            name: d.name.node.clone(),
            claim: format!("{word} {}", claim.group.node),
            outcome,
            tolerance,
        });
    }
    out
}

fn test_claim(
    c: &Compilation,
    env: &mut Env<'_>,
    id: crate::resolve::ItemId,
    group_name: &str,
    invariant: bool,
    f32: bool,
    seed: u64,
) -> Result<f64, String> {
    let group = env
        .group_named(group_name)
        .ok_or_else(|| format!("group `{group_name}` could not be built"))?;
    let info = c
        .checked
        .defs
        .get(&id)
        .ok_or_else(|| "not checked".to_string())?;
    let arg_tys: Vec<Ty> = match &info.dom {
        Ty::Tuple(ts) => ts.clone(),
        t => vec![t.clone()],
    };
    let mut inputs = Vec::new();
    for t in &arg_tys {
        inputs.push(input(c, env, t, &group)?);
    }
    // The output is a tensor or a list of tensors; g acts on each element.
    let output = if invariant {
        Act::Identity
    } else {
        input(c, env, &info.cod, &group)?.act
    };
    let inst = crate::instantiate::instantiate_with(&c.program, &c.checked, &c.tyings, id)
        .map_err(|u| format!("cannot be instantiated: {}", u.what))?;
    let params: Vec<Tensor> = inst
        .slots
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let slot_seed = seed.wrapping_add(1 + i as u64);
            if matches!(
                s.init,
                cdlc_runtime::init::Init::Zeros | cdlc_runtime::init::Init::Ones
            ) {
                // A claim holds for every parameter value, not only the
                // initial zeros that would hide a non-invariant bias.
                let mut rng = Rng::new(slot_seed);
                let n = s.shape.iter().product();
                Tensor::new(
                    s.shape.clone(),
                    (0..n).map(|_| 0.5 * rng.normal()).collect(),
                )
            } else {
                s.initial_values(slot_seed)
            }
        })
        .collect();
    let run = |xs: &[Sample]| -> Result<Vec<Vec<f64>>, String> {
        let tensors: Vec<Data> = xs.iter().zip(&inputs).map(|(x, i)| to_data(i, x)).collect();
        let x = if tensors.len() == 1 {
            tensors.into_iter().next().expect("one input")
        } else {
            Data::Tuple(tensors)
        };
        let y = if f32 {
            cdlc_ir::interp::forward_as::<f32>(&inst.module, inst.func, &params, &x)
        } else {
            cdlc_ir::interp::forward(&inst.module, inst.func, &params, &x)
        }
        .map_err(|e| e.to_string())?;
        match &y {
            Data::Tensor(t) => Ok(vec![t.data.clone()]),
            other => other
                .as_list()
                .and_then(|items| {
                    items
                        .iter()
                        .map(|e| e.as_tensor().map(|t| t.data.clone()))
                        .collect::<Option<Vec<_>>>()
                })
                .ok_or_else(|| "the output is not a tensor or a list of tensors".to_string()),
        }
    };
    let mut rng = Rng::new(seed ^ 0x5eed_e901);
    let mut worst: f64 = 0.0;
    for trial in 0..TRIALS {
        let xs: Vec<Sample> = inputs
            .iter()
            .map(|i| {
                let len = if i.list { 1 + rng.below(MAX_LIST) } else { 1 };
                let n = i.shape.iter().product::<usize>();
                (0..len)
                    .map(|_| (0..n).map(|_| rng.normal()).collect())
                    .collect()
            })
            .collect();
        // Each discrete generator alone first, then words of random
        // length: words of one fixed length would all be the identity in a
        // group of order 2.
        let g = if trial < group.num_discrete() {
            Element {
                steps: vec![cdlc_equivariance::Step::Generator(trial)],
            }
        } else {
            let len = 1 + rng.below(WORD_LENGTH);
            Element::random(&group, &mut rng, len)
        };
        let gxs: Vec<Sample> = xs
            .iter()
            .zip(&inputs)
            .map(|(x, i)| x.iter().map(|e| apply(&i.act, &g, e)).collect())
            .collect();
        let lhs: Vec<f64> = run(&gxs)?.concat();
        let rhs: Vec<f64> = run(&xs)?
            .iter()
            .flat_map(|y| apply(&output, &g, y))
            .collect();
        worst = worst.max(relative_error(&lhs, &rhs));
    }
    Ok(worst)
}

/// An input of a tensor type or a `List` of one.
pub(super) fn input(
    c: &Compilation,
    env: &mut Env<'_>,
    t: &Ty,
    group: &Group,
) -> Result<Input, String> {
    if let Ty::Data {
        co: false,
        functor,
        args,
    } = t
    {
        let is_list = c
            .checked
            .functors
            .get(functor.0 as usize)
            .is_some_and(|f| f.name == "ListF");
        if let (true, [elem]) = (is_list, args.as_slice()) {
            let (shape, act) = tensor_act(env, elem, group)?;
            return Ok(Input {
                shape,
                act,
                list: true,
            });
        }
    }
    let (shape, act) = tensor_act(env, t, group)?;
    Ok(Input {
        shape,
        act,
        list: false,
    })
}

/// A sample as the interpreter's value: a tensor, or a `nil`/`cons` chain.
pub(super) fn to_data(i: &Input, x: &Sample) -> Data {
    let tensor = |v: &Vec<f64>| Data::Tensor(Tensor::new(i.shape.clone(), v.clone()));
    if !i.list {
        return tensor(&x[0]);
    }
    let mut list = Data::Node {
        ctor: cdlc_runtime::value::LIST_NIL,
        fields: Vec::new(),
    };
    for e in x.iter().rev() {
        list = Data::Node {
            ctor: cdlc_runtime::value::LIST_CONS,
            fields: vec![tensor(e), list],
        };
    }
    list
}

/// The shape of a tensor type and how the claim's group acts on it.
pub(super) fn tensor_act(
    env: &mut Env<'_>,
    t: &Ty,
    group: &Group,
) -> Result<(Vec<usize>, Act), String> {
    let Ty::Tensor(shape, tag) = t else {
        return Err("its inputs and output must be tensors or lists of tensors".to_string());
    };
    let shape = super::build::concrete(shape).ok_or_else(|| "a size is not known".to_string())?;
    let Some(sid) = tag else {
        return Ok((shape, Act::Identity));
    };
    let space = env
        .space_tag(*sid)
        .ok_or_else(|| "a space could not be built".to_string())?;
    if space.is_trivial_action() {
        return Ok((shape, Act::Identity));
    }
    if space.group() != Some(group) {
        return Err("a space is under another group than the claim's".to_string());
    }
    Ok((shape, Act::Space(space)))
}

pub(super) fn apply(act: &Act, g: &Element, x: &[f64]) -> Vec<f64> {
    match act {
        Act::Identity => x.to_vec(),
        Act::Space(s) => s.act(g, x),
    }
}

/// `‖a − b‖∞ / max(‖a‖∞, ‖b‖∞)`, 0 when both are zero.
fn relative_error(a: &[f64], b: &[f64]) -> f64 {
    let inf = |v: &[f64]| v.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    let diff = a
        .iter()
        .zip(b)
        .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()));
    let scale = inf(a).max(inf(b));
    if scale == 0.0 { 0.0 } else { diff / scale }
}
