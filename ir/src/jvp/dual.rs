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

/// How a field of a dual structure holds a value with its tangent, which
/// the differentiated case splits into the two.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Layout {
    /// The pair `(x, ẋ)`: a plain field of an ordinary dual, a tensor, or a
    /// recursive position (the fold's carrier pair).
    Pair,
    /// A tuple whose components hold their own duals: a tuple inside a
    /// nested field, paired at its leaves (`((a, ȧ), (c, ċ))` for `A * X`).
    Tuple(Vec<Layout>),
    /// A structure or a sequence, bound whole as its own dual.
    Whole,
}

/// The dual of one data type: its id and the layout of each constructor's
/// fields.
#[derive(Clone, Debug)]
pub(super) struct DualOf {
    /// The dual data type.
    pub(super) id: DataId,
    /// The layout of each constructor's fields, in order.
    pub(super) fields: Vec<Vec<Layout>>,
}

/// The dual of each data type a function folds or takes as input.
#[derive(Clone, Debug, Default)]
pub(super) struct Duals {
    map: BTreeMap<DataId, DualOf>,
}

impl Duals {
    /// The dual of `d`, which `add_duals` added.
    pub(super) fn of(&self, d: DataId) -> DataId {
        self.get(d).id
    }

    /// The layouts of the fields of constructor `ctor` of `d`'s dual.
    pub(super) fn layouts(&self, d: DataId, ctor: usize) -> &[Layout] {
        &self.get(d).fields[ctor]
    }

    fn get(&self, d: DataId) -> &DualOf {
        self.map
            .get(&d)
            .unwrap_or_else(|| panic!("internal error: {d} has no dual"))
    }

    /// Records the dual of `d`, or says why two uses of `d` need duals of
    /// different layouts.
    pub(super) fn insert(
        &mut self,
        module: &Module,
        d: DataId,
        dual: DualOf,
    ) -> Result<(), String> {
        match self.map.get(&d) {
            Some(old) if old.fields != dual.fields => Err(format!(
                "the structure type {} is both a nested field's value and another \
                 structure, whose tangents are laid out differently",
                module.data[d].decl.name
            )),
            Some(_) => Ok(()),
            None => {
                self.map.insert(d, dual);
                Ok(())
            }
        }
    }
}

/// Adds to `module` the dual of every data type that `forward` takes as
/// input, folds, or unfolds over.
pub(super) fn add_duals(module: &mut Module, forward: FuncId) -> Result<Duals, JvpError> {
    let name = module.functions[forward].name.clone();
    let unsupported = |message| JvpError::Unsupported {
        function: name.clone(),
        message,
    };
    let mut duals = Duals::default();
    // The structures folds bind at nested fields first: their duals are
    // laid out by the field they came from, not by their own type.
    for (data, carrier) in folds(&module.functions[forward]) {
        add_nested(module, &mut duals, data, &carrier).map_err(unsupported)?;
    }
    let inputs: Vec<Type> = module.functions[forward].inputs.clone();
    for d in used(module, forward) {
        if let Some(nested) = duals.map.get(&d) {
            // An input's dual is built field by field (`dual_value`).
            if inputs.contains(&Type::Data(d)) && nested.fields != ordinary_layouts(module, d) {
                return Err(unsupported(format!(
                    "the input type {} is also a nested field's structure, whose \
                     tangents are laid out differently",
                    module.data[d].decl.name
                )));
            }
            continue;
        }
        let decl = dual_decl(module, d).map_err(unsupported)?;
        let fields = ordinary_layouts(module, d);
        let id = module.add_data(Arc::new(decl));
        duals
            .insert(module, d, DualOf { id, fields })
            .map_err(unsupported)?;
    }
    Ok(duals)
}

/// Every fold of `f` (its regions' included): the data type and carrier.
fn folds(f: &crate::ir::Function) -> Vec<(DataId, Type)> {
    f.values
        .iter()
        .filter_map(|(_, def)| match def {
            crate::ir::ValueDef::Op(Op::Fold(fold)) => Some((fold.data, fold.carrier.clone())),
            _ => None,
        })
        .collect()
}

/// The data types `forward` takes as input, folds or unfolds over, and
/// those their plain fields hold.
fn used(module: &Module, forward: FuncId) -> Vec<DataId> {
    let f = &module.functions[forward];
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
    used
}

/// The layouts of an ordinary dual's fields: each plain tensor or tuple
/// field is a pair, structures are whole.
fn ordinary_layouts(module: &Module, d: DataId) -> Vec<Vec<Layout>> {
    module.data[d]
        .decl
        .ctors
        .iter()
        .zip(&module.data[d].ctors)
        .map(|(decl, ir)| {
            decl.fields
                .iter()
                .zip(&ir.fields)
                .map(|(t, f)| match f {
                    Field::Rec => Layout::Pair,
                    Field::RecList => Layout::Whole,
                    Field::Nested(_) => super::nested::layout(t),
                    Field::Plain(p) if p.is_differentiable() => Layout::Pair,
                    Field::Plain(_) => Layout::Whole,
                })
                .collect()
        })
        .collect()
}

/// Adds the duals of the structures a fold over `data` with this carrier
/// binds at its nested fields.
fn add_nested(
    module: &mut Module,
    duals: &mut Duals,
    data: DataId,
    carrier: &Type,
) -> Result<(), String> {
    let fields: Vec<DataType> = module.data[data]
        .ctors
        .iter()
        .flat_map(|c| &c.fields)
        .filter_map(|f| match f {
            Field::Nested(t) => Some(t.clone()),
            _ => None,
        })
        .collect();
    for field in fields {
        super::nested::add_field(module, duals, &field, carrier)?;
    }
    Ok(())
}

/// The declaration of the dual of `d`: each plain field `T` becomes `T * T`,
/// and a nested field holds its tensors paired at the leaves
/// (`super::nested::lift`).
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
                    Field::Nested(_) => Ok(super::nested::lift(t)),
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
            Field::Nested(ty) => super::nested::dual_part(module, data, ty, &mut Vec::new(), x, t),
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
