//! `--per-layer` for a model whose body is a block (let bindings, residual
//! connections, branches): every application of a named layer or model in
//! the body is one layer, measured with the model's weights for that
//! instance.
//!
//! The layers of a block body are found in the HIR: each `f(args)` whose
//! `f` names a layer or model without sizes, in body order. Instantiation
//! names the slots of the `k`-th instance of `f` in a body `f.p` for the
//! first and `f#k.p` after it, so each instance's weights are read from
//! the model's slots by name. A layer applied to the model's own input is
//! measured on the model's inputs (the data, or the model's random draws);
//! a layer applied to an intermediate value is measured on the values it
//! receives there: instantiation records the IR value of each application's
//! argument built at the function's top level, and the model's function is
//! evaluated up to it on every input. So an equivariant layer measures at
//! rounding level and a layer that breaks the symmetry measures its own
//! error at the points the model really visits, which is what attributes
//! the model's error to it (the layer-wise decomposition of the Lie
//! derivative paper, for discrete groups and Lie generators alike). A
//! layer applied inside a recursion (a fold's case) has no such value and
//! is reported as not measurable alone.

use std::collections::BTreeMap;

use super::{
    Act, LayerReport, MeasureError, MeasureSetup, Sample, Target, make_target, make_target_sized,
    report, run_in,
};
use crate::Compilation;
use crate::equivariance::Env;
use crate::hir::{BodyKind, Expr, ExprId};
use crate::instantiate::Instantiated;
use crate::resolve::ItemId;
use cdlc_equivariance::Group;
use cdlc_runtime::value::Tensor;

/// One application of a named layer in a model's body.
struct Applied {
    /// The layer or model applied.
    item: ItemId,
    /// The prefix of its instance's slots (`f`, `f#2`, ...).
    prefix: String,
    /// Whether its argument is the model's (only) input.
    on_input: bool,
    /// The application `f(x)` in the body.
    expr: ExprId,
}

/// The applications of named layers in `model`'s block body, in order;
/// `None` if the body is not a block.
fn applied_layers(c: &Compilation, model: ItemId) -> Option<Vec<Applied>> {
    let body = c.checked.hir.body(model)?;
    let BodyKind::Block { args, .. } = &body.kind else {
        return None;
    };
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = Vec::new();
    for (expr, e) in body.exprs.iter() {
        let Expr::Apply { f, args: given } = e else {
            continue;
        };
        let Expr::Inst { item, sizes } = &body.exprs[*f] else {
            continue;
        };
        let Some(info) = c.checked.defs.get(item) else {
            continue;
        };
        let k = seen.entry(info.name.clone()).or_insert(0);
        *k += 1;
        let prefix = if *k == 1 {
            info.name.clone()
        } else {
            format!("{}#{k}", info.name)
        };
        let on_input = sizes.is_empty()
            && args.len() == 1
            && matches!(given.as_slice(), [x] if matches!(body.exprs[*x], Expr::Local(l) if l == args[0]));
        out.push(Applied {
            item: *item,
            prefix,
            on_input,
            expr,
        });
    }
    Some(out)
}

/// Each layer applied in `model`'s block body, measured alone.
#[allow(clippy::too_many_arguments)]
pub(super) fn block_layers(
    c: &Compilation,
    env: &mut Env<'_>,
    model: ItemId,
    params: &[Tensor],
    inst: &Instantiated,
    group: &Group,
    xs: &[Vec<Sample>],
    setup: &MeasureSetup<'_>,
) -> Result<Vec<LayerReport>, MeasureError> {
    let name = &c.checked.defs[&model].name;
    let applied = applied_layers(c, model).filter(|a| !a.is_empty()).ok_or_else(|| {
        MeasureError::Model(format!(
            "`--per-layer` measures the layers a model applies (a chain `f_1 >> ... >> f_k`, or named layers applied in its body), and `{name}` applies none"
        ))
    })?;
    let model_target = make_target(c, env, model, inst, params.to_vec(), group)?;
    Ok(applied
        .iter()
        .map(|a| {
            let seen = received(&model_target, a, xs);
            let measured = seen.and_then(|seen| {
                measure_one(
                    c,
                    env,
                    a,
                    params,
                    inst,
                    group,
                    seen.as_deref().unwrap_or(xs),
                    setup,
                )
            });
            (a.prefix.clone(), measured)
        })
        .collect())
}

/// The values an applied layer receives inside the model, one per
/// example of `xs`: the model's function evaluated up to the layer's
/// argument. `None` for a layer applied to the model's own input (its
/// samples are `xs`).
fn received(
    model: &Target<'_>,
    a: &Applied,
    xs: &[Vec<Sample>],
) -> Result<Option<Vec<Vec<Sample>>>, String> {
    if a.on_input {
        return Ok(None);
    }
    let Some(v) = model
        .inst
        .applied
        .iter()
        .find(|p| p.expr == a.expr)
        .map(|p| p.arg)
    else {
        return Err(format!(
            "the argument of `{}` is computed inside a recursion, where it cannot be read",
            a.prefix
        ));
    };
    let mut module = model.inst.module.clone();
    let f = &mut module.functions[model.inst.func];
    let entry = f.entry;
    f.blocks[entry].result = Some(v);
    xs.iter()
        .map(|x| run_in(model, &module, x).map(|y| vec![vec![y]]))
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
        .map_err(|e| e.message().to_string())
}

/// One applied layer's report, or why it could not be measured.
#[allow(clippy::too_many_arguments)]
fn measure_one(
    c: &Compilation,
    env: &mut Env<'_>,
    a: &Applied,
    params: &[Tensor],
    inst: &Instantiated,
    group: &Group,
    xs: &[Vec<Sample>],
    setup: &MeasureSetup<'_>,
) -> Result<super::Report, String> {
    // The sizes it is applied with in the model (none for a layer without
    // size parameters, or one applied inside a recursion, which `received`
    // has refused already).
    let sizes = inst
        .applied
        .iter()
        .find(|p| p.expr == a.expr)
        .map(|p| p.sizes.clone())
        .unwrap_or_default();
    let stage = crate::instantiate::instantiate_sized(
        &c.program,
        &c.checked,
        &c.tyings,
        a.item,
        sizes.clone(),
    )
    .map_err(|u| format!("it cannot be instantiated alone: {}", u.what))?;
    let weights = stage
        .slots
        .iter()
        .map(|s| {
            let qualified = format!("{}.{}", a.prefix, s.name);
            inst.slots
                .iter()
                .position(|m| m.name == qualified && m.shape == s.shape)
                .and_then(|i| params.get(i).cloned())
                .ok_or_else(|| {
                    format!("the model has no slot `{qualified}` of shape {:?}", s.shape)
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let target: Target<'_> = make_target_sized(c, env, a.item, &stage, weights, group, &sizes)
        .map_err(|e| e.message().to_string())?;
    if target.inputs.iter().all(|i| matches!(i.act, Act::Identity)) {
        return Err(format!(
            "the input of `{}` is not in a space that the group acts on",
            a.prefix
        ));
    }
    report(&target, group, xs, setup).map_err(|e| e.message().to_string())
}
