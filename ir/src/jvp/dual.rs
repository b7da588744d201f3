//! Dual data types: a structure whose plain fields carry their tangents.
//!
//! The dual of a data type has the same constructors and recursive
//! positions, and each plain field `x: T` becomes the pair `(x, ẋ): (T, T)`.
//! A fold over a structure input becomes a fold over its dual, so the
//! derivative of a fold needs no new op: the differentiated algebra reads
//! each field's tangent beside the field. `dual_value` builds a dual
//! structure from a structure and its tangent (the same nodes, with
//! tangents in the plain fields).

use std::collections::BTreeMap;
use std::sync::Arc;

use cdlc_runtime::value::{CtorDecl, DataDecl, DataType, Value as Data};

use super::JvpError;
use crate::ir::{DataId, Field, FuncId, Module, Op, Source, Type};

/// The dual of each data type a function folds or takes as input.
#[derive(Clone, Debug, Default)]
pub(super) struct Duals {
    map: BTreeMap<DataId, DataId>,
}

impl Duals {
    /// The dual of `d`, which `add_duals` added.
    pub(super) fn of(&self, d: DataId) -> DataId {
        *self
            .map
            .get(&d)
            .unwrap_or_else(|| panic!("internal error: {d} has no dual"))
    }
}

/// Adds to `module` the dual of every data type that `forward` takes as
/// input, folds, or unfolds over.
pub(super) fn add_duals(module: &mut Module, forward: FuncId) -> Result<Duals, JvpError> {
    let f = &module.functions[forward];
    let name = f.name.clone();
    let mut used: Vec<DataId> = Vec::new();
    let data_of = |t: &Type| match t {
        Type::Data(d) => Some(*d),
        _ => None,
    };
    used.extend(f.inputs.iter().filter_map(data_of));
    for (_, def) in f.values.iter() {
        let crate::ir::ValueDef::Op(op) = def else {
            continue;
        };
        match op {
            Op::Fold(fold) => {
                used.push(fold.data);
                used.extend(data_of(&f.types[fold.input]));
            }
            Op::Unfold(u) => {
                if let Source::Over(xs) = u.source {
                    used.extend(data_of(&f.types[xs]));
                }
            }
            _ => {}
        }
    }
    // A plain field may hold a structure of another data type (a tree of
    // lists): its dual is needed too.
    let mut k = 0;
    while k < used.len() {
        for c in &module.data[used[k]].ctors {
            for f in &c.fields {
                if let Field::Plain(Type::Data(inner)) = f
                    && !used.contains(inner)
                {
                    used.push(*inner);
                }
            }
        }
        k += 1;
    }
    let mut duals = Duals::default();
    for d in used {
        if duals.map.contains_key(&d) {
            continue;
        }
        let decl = dual_decl(module, d).map_err(|message| JvpError::Unsupported {
            function: name.clone(),
            message,
        })?;
        let id = module.add_data(Arc::new(decl));
        duals.map.insert(d, id);
    }
    Ok(duals)
}

/// The declaration of the dual of `d`: each plain field `T` becomes `T * T`.
fn dual_decl(module: &Module, d: DataId) -> Result<DataDecl, String> {
    let def = &module.data[d];
    let ctors = def
        .decl
        .ctors
        .iter()
        .zip(&def.ctors)
        .map(|(decl, ir)| {
            let fields = decl
                .fields
                .iter()
                .zip(&ir.fields)
                .map(|(t, f)| match f {
                    Field::Rec | Field::RecList => Ok(t.clone()),
                    Field::Plain(p) if p.is_differentiable() => {
                        Ok(DataType::Tuple(vec![t.clone(), t.clone()]))
                    }
                    Field::Plain(Type::Data(inner)) => {
                        Ok(DataType::Data(Arc::new(dual_decl(module, *inner)?)))
                    }
                    Field::Plain(_) => Err(format!(
                        "the field `{t}` of `{}` in {} is a structure, which has no tangent",
                        decl.name, def.decl.name
                    )),
                    Field::Nested(_) => Err(format!(
                        "the nested field `{t}` of `{}` in {} has no tangent in forward mode yet",
                        decl.name, def.decl.name
                    )),
                })
                .collect::<Result<_, String>>()?;
            Ok(CtorDecl {
                name: decl.name.clone(),
                fields,
            })
        })
        .collect::<Result<_, String>>()?;
    Ok(DataDecl {
        name: format!("Dual({})", def.decl.name),
        ctors,
    })
}

/// The dual of structure `x` of data type `data`, with tangent `t`: the
/// same structure, each plain field `x_i` replaced by the pair `(x_i, t_i)`.
/// An error names the first place where `x` and `t` differ in shape.
pub fn dual_value(module: &Module, data: DataId, x: &Data, t: &Data) -> Result<Data, String> {
    let def = &module.data[data];
    let (
        Data::Node { ctor, fields },
        Data::Node {
            ctor: tctor,
            fields: tfields,
        },
    ) = (x, t)
    else {
        return Err(format!("expected two {} nodes", def.decl.name));
    };
    let Some(cdef) = def.ctors.get(*ctor as usize) else {
        return Err(format!("{} has no constructor {ctor}", def.decl.name));
    };
    if ctor != tctor || fields.len() != cdef.fields.len() || tfields.len() != fields.len() {
        return Err(format!(
            "the tangent of a `{}` node is not a `{}` node with the same fields",
            cdef.name, cdef.name
        ));
    }
    let fields = cdef
        .fields
        .iter()
        .zip(fields.iter().zip(tfields))
        .map(|(f, (x, t))| match f {
            Field::Rec => dual_value(module, data, x, t),
            Field::RecList => dual_children(module, data, x, t),
            Field::Plain(Type::Data(inner)) => dual_value(module, *inner, x, t),
            Field::Plain(_) => Ok(Data::Tuple(vec![x.clone(), t.clone()])),
            Field::Nested(_) => Err(format!(
                "the nested field of a `{}` node has no tangent in forward mode yet",
                cdef.name
            )),
        })
        .collect::<Result<_, _>>()?;
    Ok(Data::Node {
        ctor: *ctor,
        fields,
    })
}

/// The dual of a rose node's list of children.
fn dual_children(module: &Module, data: DataId, x: &Data, t: &Data) -> Result<Data, String> {
    let (Some(xs), Some(ts)) = (x.as_list(), t.as_list()) else {
        return Err("expected two lists of children".to_string());
    };
    if xs.len() != ts.len() {
        return Err(format!(
            "a node has {} children but its tangent has {}",
            xs.len(),
            ts.len()
        ));
    }
    let kids = xs
        .into_iter()
        .zip(ts)
        .map(|(x, t)| dual_value(module, data, x, t))
        .collect::<Result<_, _>>()?;
    Ok(Data::list(kids))
}
