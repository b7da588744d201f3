//! Forward mode through nested fields (`Tree(X)`, `List(A * X)`, `X * X`).
//!
//! A fold over a dual structure binds a nested field as the field's value
//! with each child's (carrier, tangent) pair in its recursive positions.
//! For that value to be a dual itself, the dual data type holds a nested
//! field's tensors paired at the leaves (`lift`): at `List(R[2] * X)` with
//! carrier `C` the fold binds a list of `((a, ȧ), (c, ċ))`. That list's
//! data type is recorded as the dual of the forward structure
//! `List(R[2] * C)` which the case folds, with the layout of each field
//! (`Layout::Tuple` for the pair), and the differentiated case splits such
//! a field into the forward value `(a, c)` and its tangent `(ȧ, ċ)`
//! (`split`). By induction every nested fold then folds the dual of its
//! forward structure, exactly as a fold over an input does.

use std::sync::Arc;

use cdlc_runtime::value::{CtorDecl, DataDecl, DataType, Value as Data};

use super::dual::{DualOf, Duals, Layout, dual_value};
use super::{Jvp, JvpError};
use crate::ir::{DataId, Module, Type, Value};

/// A nested field's type with each tensor `T` replaced by `T * T`; the
/// recursive positions stay, and are filled with carrier pairs.
pub(super) fn lift(t: &DataType) -> DataType {
    match t {
        DataType::Tensor(_) => DataType::Tuple(vec![t.clone(), t.clone()]),
        DataType::Rec(_) => t.clone(),
        DataType::Tuple(ts) => DataType::Tuple(ts.iter().map(lift).collect()),
        DataType::Data(d) => DataType::Data(Arc::new(DataDecl {
            name: format!("Dual({})", d.name),
            ctors: d
                .ctors
                .iter()
                .map(|c| CtorDecl {
                    name: c.name.clone(),
                    fields: c.fields.iter().map(lift).collect(),
                })
                .collect(),
        })),
    }
}

/// How a lifted value of type `t` (a nested field or a part of one) holds
/// its tangent: tensors and recursive positions (carriers) as pairs,
/// tuples component by component, structures whole.
pub(super) fn layout(t: &DataType) -> Layout {
    match t {
        DataType::Tensor(_) | DataType::Rec(_) => Layout::Pair,
        DataType::Tuple(ts) => Layout::Tuple(ts.iter().map(layout).collect()),
        DataType::Data(_) => Layout::Whole,
    }
}

/// Records the duals of the structures a fold with this carrier binds at
/// the nested field `field`: the structure's data type and those inside
/// it, each with its fields' layouts.
pub(super) fn add_field(
    module: &mut Module,
    duals: &mut Duals,
    field: &DataType,
    carrier: &Type,
) -> Result<(), String> {
    let pair = Type::Tuple(vec![carrier.clone(), carrier.clone()]);
    let (Some(forward), Some(dual)) = (
        Module::nested_decl(field, carrier),
        Module::nested_decl(&lift(field), &pair),
    ) else {
        return Err(format!(
            "the carrier {carrier:?} of a fold over a nested field is not made of tensors"
        ));
    };
    register(module, duals, field, &forward, &dual)
}

/// Walks a nested field's type `f`, the forward structure's type `fwd` and
/// the dual's type `dual` together, recording each data type's dual.
fn register(
    module: &mut Module,
    duals: &mut Duals,
    f: &DataType,
    fwd: &DataType,
    dual: &DataType,
) -> Result<(), String> {
    match (f, fwd, dual) {
        (DataType::Tuple(fs), DataType::Tuple(ns), DataType::Tuple(ds)) => {
            for ((f, n), d) in fs.iter().zip(ns).zip(ds) {
                register(module, duals, f, n, d)?;
            }
            Ok(())
        }
        (DataType::Data(fd), DataType::Data(nd), DataType::Data(dd)) => {
            let forward: DataId = module.add_data(nd.clone());
            let id = module.add_data(dd.clone());
            let fields = fd
                .ctors
                .iter()
                .map(|c| c.fields.iter().map(layout).collect())
                .collect();
            duals.insert(module, forward, DualOf { id, fields })?;
            for ((fc, nc), dc) in fd.ctors.iter().zip(&nd.ctors).zip(&dd.ctors) {
                for ((f, n), d) in fc.fields.iter().zip(&nc.fields).zip(&dc.fields) {
                    register(module, duals, f, n, d)?;
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// The forward value and the tangent held by `v`, a region argument of
/// this layout: `(get v 0, get v 1)` for a pair, component by component
/// for a tuple paired at its leaves.
pub(super) fn split(j: &mut Jvp, v: Value, layout: &Layout) -> Result<(Value, Value), JvpError> {
    match layout {
        Layout::Pair => Ok((j.b.get(v, 0), j.b.get(v, 1))),
        Layout::Tuple(parts) => {
            let (mut ys, mut ts) = (Vec::new(), Vec::new());
            for (i, l) in parts.iter().enumerate() {
                let c = j.b.get(v, u32::try_from(i).expect("few components"));
                let (y, t) = split(j, c, l)?;
                ys.push(y);
                ts.push(t);
            }
            Ok((j.b.tuple(ys), j.b.tuple(ts)))
        }
        Layout::Whole => Err(j.unsupported(
            "a structure inside a tuple of a nested field has no tangent in forward mode",
        )),
    }
}

/// The dual of a nested field's value `x` with tangent `t`, of the field's
/// type `ty` seen from `scope` (the data types entered so far): tensors
/// paired, each child of `outer` replaced by its dual (`dual_value`).
pub(super) fn dual_part(
    module: &Module,
    outer: DataId,
    ty: &DataType,
    scope: &mut Vec<Arc<DataDecl>>,
    x: &Data,
    t: &Data,
) -> Result<Data, String> {
    let depth = u32::try_from(scope.len()).expect("few levels");
    match ty {
        DataType::Rec(k) if *k == depth => dual_value(module, outer, x, t),
        DataType::Rec(k) => {
            // A node of the data type `k` levels out, seen from its own level.
            let rest = scope.split_off(scope.len() - 1 - *k as usize);
            let r = dual_node(module, outer, &rest[0], scope, x, t);
            scope.extend(rest);
            r
        }
        DataType::Tensor(s) => match (x, t) {
            (Data::Tensor(a), Data::Tensor(b)) if a.shape == *s && b.shape == *s => {
                Ok(Data::Tuple(vec![x.clone(), t.clone()]))
            }
            _ => Err(format!(
                "expected a tensor of shape {s:?} and its tangent in a nested field"
            )),
        },
        DataType::Tuple(ts) => match (x, t) {
            (Data::Tuple(xs), Data::Tuple(tt)) if xs.len() == ts.len() && tt.len() == ts.len() => {
                ts.iter()
                    .zip(xs.iter().zip(tt))
                    .map(|(ty, (x, t))| dual_part(module, outer, ty, scope, x, t))
                    .collect::<Result<_, _>>()
                    .map(Data::Tuple)
            }
            _ => Err(format!(
                "expected two tuples of {} in a nested field",
                ts.len()
            )),
        },
        DataType::Data(d) => dual_node(module, outer, d, scope, x, t),
    }
}

/// The dual of a node of `decl` inside a nested field.
fn dual_node(
    module: &Module,
    outer: DataId,
    decl: &Arc<DataDecl>,
    scope: &mut Vec<Arc<DataDecl>>,
    x: &Data,
    t: &Data,
) -> Result<Data, String> {
    let (
        Data::Node { ctor, fields },
        Data::Node {
            ctor: tctor,
            fields: tfields,
        },
    ) = (x, t)
    else {
        return Err(format!("expected two {} nodes", decl.name));
    };
    let Some(c) = decl.ctors.get(*ctor as usize) else {
        return Err(format!("{} has no constructor {ctor}", decl.name));
    };
    if ctor != tctor || fields.len() != c.fields.len() || tfields.len() != fields.len() {
        return Err(format!(
            "the tangent of a `{}` node is not a `{}` node with the same fields",
            c.name, c.name
        ));
    }
    scope.push(decl.clone());
    let duals = c
        .fields
        .iter()
        .zip(fields.iter().zip(tfields))
        .map(|(ty, (x, t))| dual_part(module, outer, ty, scope, x, t))
        .collect::<Result<_, _>>();
    scope.pop();
    Ok(Data::Node {
        ctor: *ctor,
        fields: duals?,
    })
}
