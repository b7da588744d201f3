//! Data augmentation by a declared group: `cdlc FILE --emit jit --augment G`.
//!
//! Each time a training example is used, its input is replaced by `g·x` for
//! a fresh random element `g` of the group (a word of one to four discrete
//! generators, or `exp` of random Lie-algebra elements), acting through the
//! spaces of the model's input types; a tensor target in a space under the
//! group is transformed by the same `g`, a class or a plain target is kept
//! (the task is taken to be invariant). This is how an unconstrained model is
//! taught a symmetry from data, to be compared (with `cdlc measure`) with a
//! model that has it built in.

use super::Env;
use super::measure::MeasureError;
use super::numeric::{Act, Input, apply, input};
use crate::Compilation;
use crate::check::types::Ty;
use crate::resolve::ItemId;
use cdlc_equivariance::{Element, Group, Rng};
use cdlc_runtime::value::{Example, Target, Tensor, Value};

/// Transforms examples by random elements of a group.
pub struct Augmenter {
    group: Group,
    inputs: Vec<Input>,
    output: Act,
}

impl Augmenter {
    /// The augmenter of `model`'s examples under the declared group
    /// `group` (E0610 when there is none of that name or it acts on no
    /// input, E0611 when an input or the output is not a tensor or list).
    pub fn new(c: &Compilation, model: ItemId, group: &str) -> Result<Augmenter, MeasureError> {
        let mut env = Env::new(&c.program, &c.checked, None);
        let g = env.group_named(group).ok_or_else(|| {
            MeasureError::Group(format!("`{group}` is not a group of this program"))
        })?;
        let info = c
            .checked
            .defs
            .get(&model)
            .ok_or_else(|| MeasureError::Model("the model did not check".to_string()))?;
        let tys: Vec<Ty> = match &info.dom {
            Ty::Tuple(ts) => ts.clone(),
            t => vec![t.clone()],
        };
        let model_error = |m: String| MeasureError::Model(format!("`{}`: {m}", info.name));
        let inputs = tys
            .iter()
            .map(|t| input(c, &mut env, t, &g))
            .collect::<Result<Vec<_>, _>>()
            .map_err(model_error)?;
        if inputs.iter().all(|i| matches!(i.act, Act::Identity)) {
            return Err(MeasureError::Group(format!(
                "no input of `{}` is in a space that {group} acts on",
                info.name
            )));
        }
        let output = match input(c, &mut env, &info.cod, &g) {
            Ok(i) if !i.list => i.act,
            _ => Act::Identity,
        };
        Ok(Augmenter {
            group: g,
            inputs,
            output,
        })
    }

    /// `(g·x, g·y)` for a random element `g` drawn from `seed`.
    pub fn apply(&self, ex: &Example, seed: u64) -> Example {
        let rng = &mut Rng::new(seed);
        let len = 1 + rng.below(4);
        let g = Element::random(&self.group, rng, len);
        let x = match (&ex.x, self.inputs.len()) {
            (x, 1) => act_value(&self.inputs[0], &g, x),
            (Value::Tuple(xs), _) => Value::Tuple(
                xs.iter()
                    .zip(&self.inputs)
                    .map(|(x, i)| act_value(i, &g, x))
                    .collect(),
            ),
            (x, _) => x.clone(),
        };
        let y = match &ex.y {
            Target::Tensor(t) => Target::Tensor(Tensor::new(
                t.shape.clone(),
                apply(&self.output, &g, &t.data),
            )),
            other => other.clone(),
        };
        Example { x, y }
    }
}

/// `g` applied to a tensor, or to every element of a list.
fn act_value(i: &Input, g: &Element, x: &Value) -> Value {
    match x {
        Value::Tensor(t) => Value::Tensor(Tensor::new(t.shape.clone(), apply(&i.act, g, &t.data))),
        Value::Node { ctor, fields } => Value::Node {
            ctor: *ctor,
            fields: fields.iter().map(|f| act_value(i, g, f)).collect(),
        },
        other => other.clone(),
    }
}
