//! `cdlc measure` on models whose inputs are trees or nested structures.
//!
//! The group acts on a structure through its type's arguments, as it acts
//! on a list element by element: every tensor at a position typed by a
//! space under the group is transformed and the structure's shape is
//! kept, so that a fold is equivariant when its algebra's cases are (the
//! language's rule for `fold`). Plain tensors beside them (a label
//! `R[2]`) are left as they are. The measurements are those of tensor
//! inputs, on given inputs (the data, or the train block's held-out
//! examples; there is no random structure to draw): the relative errors of
//! the discrete generators, and the Lie derivatives in forward mode, each
//! structure input given as its dual (`cdlc_ir::jvp::dual_value`) with the
//! tangent `dρ(A) x` at every acted-on tensor and zero elsewhere.

use super::super::Env;
use super::super::numeric::{Act, apply, input, tensor_act};
use super::{MeasureError, MeasureSetup, Report, elements, lie_apply, relative, stats};
use crate::Compilation;
use crate::check::types::Ty;
use crate::instantiate::Instantiated;
use cdlc_equivariance::{Group, Rng};
use cdlc_ir::interp::IVal;
use cdlc_runtime::value::{Tensor, Value as Data};

/// The deepest structure walked: each level is one call.
const MAX_DEPTH: usize = 2_000;

/// Whether input type `t` is measured as a structure: a data type other
/// than a list of tensors, or a tuple holding one.
pub(super) fn is_structure(c: &Compilation, t: &Ty) -> bool {
    match t {
        Ty::Data {
            co: false,
            functor,
            args,
        } => {
            let list = c
                .checked
                .functors
                .get(functor.0 as usize)
                .is_some_and(|f| f.name == "ListF");
            !(list && matches!(args.as_slice(), [Ty::Tensor(..)]))
        }
        Ty::Tuple(ts) => ts.iter().any(|t| is_structure(c, t)),
        _ => false,
    }
}

/// What the structure measurement needs besides the inputs.
pub(super) struct Structured<'a> {
    /// The model's input types, one per argument.
    pub tys: Vec<Ty>,
    /// Its output type.
    pub cod: Ty,
    /// The instantiated model and its weights.
    pub inst: &'a Instantiated,
    /// The weights, in slot order.
    pub params: &'a [Tensor],
}

/// Measures a model with structure inputs on `xs`.
pub(super) fn report(
    c: &Compilation,
    env: &mut Env<'_>,
    s: &Structured<'_>,
    group: &Group,
    xs: &[Data],
    setup: &MeasureSetup<'_>,
) -> Result<Report, MeasureError> {
    let out = input(c, env, &s.cod, group).map_err(MeasureError::Model)?;
    if out.list {
        return Err(MeasureError::Model(
            "the model returns a list; `measure` compares tensor outputs".to_string(),
        ));
    }
    let discrete = if group.num_discrete() > 0 {
        Some(discrete(c, env, s, group, &out.act, xs, setup)?)
    } else {
        None
    };
    let lie = if group.num_lie() > 0 {
        lie(c, env, s, group, &out.act, xs)?
    } else {
        Vec::new()
    };
    Ok(Report { discrete, lie })
}

/// The model's arguments in `x` (a tuple of them for several).
fn parts<'x>(s: &Structured<'_>, x: &'x Data) -> Result<Vec<&'x Data>, MeasureError> {
    match (x, s.tys.len()) {
        (x, 1) => Ok(vec![x]),
        (Data::Tuple(xs), n) if xs.len() == n => Ok(xs.iter().collect()),
        _ => Err(MeasureError::Fit(format!(
            "an input has not the model's {} arguments",
            s.tys.len()
        ))),
    }
}

/// The arguments as one input value.
fn joined(mut xs: Vec<Data>) -> Data {
    if xs.len() == 1 {
        xs.pop().expect("one argument")
    } else {
        Data::Tuple(xs)
    }
}

/// The model's output on `x`, flattened.
fn run(s: &Structured<'_>, x: &Data) -> Result<Vec<f64>, MeasureError> {
    let y = cdlc_ir::interp::forward(&s.inst.module, s.inst.func, s.params, x)
        .map_err(|e| MeasureError::Fit(e.to_string()))?;
    y.as_tensor()
        .map(|t| t.data.clone())
        .ok_or_else(|| MeasureError::Model("the output is not a tensor".to_string()))
}

fn discrete(
    c: &Compilation,
    env: &mut Env<'_>,
    s: &Structured<'_>,
    group: &Group,
    out: &Act,
    xs: &[Data],
    setup: &MeasureSetup<'_>,
) -> Result<super::Stats, MeasureError> {
    let mut rng = Rng::new(setup.seed ^ 0x6d65_6173);
    let mut errors = Vec::new();
    for x in xs {
        let fx = run(s, x)?;
        let args = parts(s, x)?;
        for g in elements(group, &mut rng, setup.words) {
            let mut moved = Vec::with_capacity(args.len());
            for (a, t) in args.iter().zip(&s.tys) {
                let mut moving = |act: &Act, v: &Tensor| apply(act, &g, &v.data);
                moved.push(map_tensors(c, env, group, t, a, &mut moving, 0)?);
            }
            let lhs = run(s, &joined(moved))?;
            let rhs = apply(out, &g, &fx);
            errors.push(relative(&lhs, &rhs, &fx));
        }
    }
    Ok(stats(&errors))
}

fn lie(
    c: &Compilation,
    env: &mut Env<'_>,
    s: &Structured<'_>,
    group: &Group,
    out: &Act,
    xs: &[Data],
) -> Result<Vec<(String, super::Stats)>, MeasureError> {
    super::lie_errors(
        s.inst,
        s.params,
        group,
        out,
        xs.len(),
        &mut |module, jvp, k, i| jvp_args(c, env, s, group, module, jvp, k, &xs[i]),
    )
}

/// The forward derivative's inputs at `x` along Lie generator `k`: each
/// structure as its dual, each tensor, then the tensors' tangents.
#[allow(clippy::too_many_arguments)]
fn jvp_args(
    c: &Compilation,
    env: &mut Env<'_>,
    s: &Structured<'_>,
    group: &Group,
    module: &cdlc_ir::Module,
    jvp: cdlc_ir::FuncId,
    k: usize,
    x: &Data,
) -> Result<Vec<IVal<f64>>, MeasureError> {
    let mut args = Vec::new();
    let mut tangents = Vec::new();
    let inputs = &module.functions[s.inst.func].inputs;
    for ((a, t), ir_ty) in parts(s, x)?.into_iter().zip(&s.tys).zip(inputs) {
        let mut along = |act: &Act, v: &Tensor| lie_apply(act, k, &v.data);
        let tangent = map_tensors(c, env, group, t, a, &mut along, 0)?;
        match ir_ty {
            cdlc_ir::Type::Data(d) => args.push(
                cdlc_ir::jvp::dual_value(module, *d, a, &tangent).map_err(MeasureError::Fit)?,
            ),
            cdlc_ir::Type::Tensor(_) => {
                args.push(a.clone());
                tangents.push(tangent);
            }
            _ => {
                return Err(MeasureError::Model(
                    "Lie derivatives of a model with a pair argument are not measured; \
                     write its parts as separate arguments"
                        .to_string(),
                ));
            }
        }
    }
    args.extend(tangents);
    args.iter()
        .zip(&module.functions[jvp].inputs)
        .map(|(d, t)| cdlc_ir::interp::to_ival(t, d))
        .collect::<Result<_, _>>()
        .map_err(|e| MeasureError::Fit(e.to_string()))
}

/// `x` (of type `ty`) with every tensor replaced by `f` of it and its
/// action: a data type's fields are walked with the type's arguments and
/// `X` substituted, so a nested field (`List(R[2] * X)`) is walked as the
/// list it is, its `X` positions as the enclosing structure.
fn map_tensors(
    c: &Compilation,
    env: &mut Env<'_>,
    group: &Group,
    ty: &Ty,
    x: &Data,
    f: &mut dyn FnMut(&Act, &Tensor) -> Vec<f64>,
    depth: usize,
) -> Result<Data, MeasureError> {
    if depth > MAX_DEPTH {
        return Err(MeasureError::Fit(format!(
            "an input is deeper than {MAX_DEPTH} levels, which `measure` does not walk"
        )));
    }
    let unfit = || MeasureError::Fit("an input does not have the model's input type".to_string());
    match (ty, x) {
        (Ty::Tensor(..), Data::Tensor(t)) => {
            let (shape, act) = tensor_act(env, ty, group).map_err(MeasureError::Model)?;
            if shape != t.shape {
                return Err(MeasureError::Fit(format!(
                    "an input has shape {:?}, the model expects {shape:?}",
                    t.shape
                )));
            }
            Ok(Data::Tensor(Tensor::new(shape, f(&act, t))))
        }
        (Ty::Tuple(ts), Data::Tuple(xs)) if ts.len() == xs.len() => Ok(Data::Tuple(
            ts.iter()
                .zip(xs)
                .map(|(t, x)| map_tensors(c, env, group, t, x, f, depth + 1))
                .collect::<Result<_, _>>()?,
        )),
        (
            Ty::Data {
                co: false,
                functor,
                args,
            },
            Data::Node { ctor, fields },
        ) => {
            let info = c
                .checked
                .functors
                .get(functor.0 as usize)
                .ok_or_else(unfit)?;
            let ctor_info = info.ctors.get(*ctor as usize).ok_or_else(unfit)?;
            if ctor_info.fields.len() != fields.len() {
                return Err(unfit());
            }
            let fields = ctor_info
                .fields
                .iter()
                .zip(fields)
                .map(|(ft, x)| {
                    let ft = ft.instantiate(args, Some(ty));
                    map_tensors(c, env, group, &ft, x, f, depth + 1)
                })
                .collect::<Result<_, _>>()?;
            Ok(Data::Node {
                ctor: *ctor,
                fields,
            })
        }
        _ => Err(unfit()),
    }
}
