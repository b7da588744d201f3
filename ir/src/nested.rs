//! Nested data types: fields that hold a data type's recursive positions
//! under another data type or in a tuple (`Tree(X)`, `List(A * X)`,
//! `A * X`), and the computed structures a fold binds there.
//!
//! A runtime type names recursive positions by de Bruijn levels: seen from
//! a constructor's field, `Rec(0)` is the enclosing data type itself, and
//! from inside `k` further data types it is `Rec(k)`. A fold over the
//! enclosing type binds such a field as the same structure with the
//! child's carrier in each of those positions (the field's type with `X`
//! replaced by the carrier), which a nested fold then consumes. That
//! structure's type is an ordinary data type of the module, found by
//! shape: constructors and fields, whatever its printed name.

use std::sync::Arc;

use cdlc_runtime::value::{CtorDecl, DataDecl, DataType};

use crate::ir::{DataId, Module, Type};

/// Whether `t`, seen from `depth` data types inside the field, mentions the
/// enclosing data type's recursive position (`Rec(depth)`).
pub(crate) fn mentions(t: &DataType, depth: u32) -> bool {
    mentions_within(t, depth, 0)
}

/// As `mentions`, counting also a mention of any of the `base` outermost
/// data types entered (`Rec(k)` names the one entered at level
/// `depth - 1 - k`), when each of those is known to hold the position.
pub(crate) fn mentions_within(t: &DataType, depth: u32, base: u32) -> bool {
    match t {
        DataType::Tensor(_) => false,
        DataType::Tuple(ts) => ts.iter().any(|t| mentions_within(t, depth, base)),
        DataType::Rec(k) => *k == depth || (*k < depth && depth - 1 - *k < base),
        DataType::Data(d) => d
            .ctors
            .iter()
            .any(|c| c.fields.iter().any(|f| mentions_within(f, depth + 1, base))),
    }
}

/// `t` with `with` (a type without recursive positions) in place of the
/// enclosing data type's recursive position, seen from `depth` levels in.
fn fill(t: &DataType, depth: u32, with: &DataType) -> DataType {
    match t {
        DataType::Rec(k) if *k == depth => with.clone(),
        DataType::Tensor(_) | DataType::Rec(_) => t.clone(),
        DataType::Tuple(ts) => DataType::Tuple(ts.iter().map(|t| fill(t, depth, with)).collect()),
        DataType::Data(d) if !mentions(t, depth) => DataType::Data(d.clone()),
        DataType::Data(d) => DataType::Data(Arc::new(DataDecl {
            name: d.name.clone(),
            ctors: d
                .ctors
                .iter()
                .map(|c| CtorDecl {
                    name: c.name.clone(),
                    fields: c.fields.iter().map(|f| fill(f, depth + 1, with)).collect(),
                })
                .collect(),
        })),
    }
}

/// Whether two runtime types have the same shape: equal but for the
/// printed names of their data types.
fn same_shape(a: &DataType, b: &DataType) -> bool {
    match (a, b) {
        (DataType::Tuple(xs), DataType::Tuple(ys)) => {
            xs.len() == ys.len() && xs.iter().zip(ys).all(|(x, y)| same_shape(x, y))
        }
        (DataType::Data(x), DataType::Data(y)) => same_decl(x, y),
        (x, y) => x == y,
    }
}

/// Whether two declarations have the same constructors and field shapes.
pub(crate) fn same_decl(a: &DataDecl, b: &DataDecl) -> bool {
    a.ctors.len() == b.ctors.len()
        && a.ctors.iter().zip(&b.ctors).all(|(x, y)| {
            x.name == y.name
                && x.fields.len() == y.fields.len()
                && x.fields
                    .iter()
                    .zip(&y.fields)
                    .all(|(f, g)| same_shape(f, g))
        })
}

/// A carrier type (tensors and tuples) as a runtime type.
fn carrier_data(t: &Type) -> Option<DataType> {
    Some(match t {
        Type::Tensor(s) => DataType::Tensor(s.clone()),
        Type::Tuple(ts) => DataType::Tuple(ts.iter().map(carrier_data).collect::<Option<_>>()?),
        _ => return None,
    })
}

impl Module {
    /// The runtime type of the structure a fold with this carrier binds at
    /// a `Field::Nested` of type `field`: the field with the carrier in its
    /// recursive positions. Its data types must be in the module before a
    /// fold binds it (`Module::find_data`).
    pub fn nested_decl(field: &DataType, carrier: &Type) -> Option<DataType> {
        Some(fill(field, 0, &carrier_data(carrier)?))
    }

    /// The IR type of the structure a fold with this carrier binds at a
    /// `Field::Nested` of type `field`. A structure whose data type the
    /// module lacks has the type `Tape`, which no region argument can have,
    /// so that the verifier reports it rather than this panicking.
    pub fn nested_type(&self, field: &DataType, carrier: &Type) -> Type {
        Module::nested_decl(field, carrier)
            .and_then(|t| self.ir_type_of(&t))
            .unwrap_or(Type::Tape)
    }

    /// The IR type of a runtime type without recursive positions, its data
    /// types found in the module by shape.
    fn ir_type_of(&self, t: &DataType) -> Option<Type> {
        Some(match t {
            DataType::Tensor(s) => Type::Tensor(s.clone()),
            DataType::Tuple(ts) => Type::Tuple(
                ts.iter()
                    .map(|t| self.ir_type_of(t))
                    .collect::<Option<_>>()?,
            ),
            DataType::Data(d) => Type::Data(self.find_data(d)?),
            DataType::Rec(_) => return None,
        })
    }

    /// The first data type of the module with the shape of `decl`
    /// (constructors and fields; names aside): the one every lookup by a
    /// declaration agrees on.
    pub fn find_data(&self, decl: &DataDecl) -> Option<DataId> {
        self.data
            .iter()
            .find(|(_, d)| d.decl.as_ref() == decl || same_decl(&d.decl, decl))
            .map(|(id, _)| id)
    }
}
