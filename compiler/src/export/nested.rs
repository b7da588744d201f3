//! Layouts of nested fields: a constructor's field that holds the data
//! type's recursive positions under another data type or in a tuple
//! (`Tree(X)`, `List(R[2] * X)`, `Opt(X)`, `List(Tree(X))`, `X * X`).
//!
//! A fold binds such a field as a computed structure: the field's value
//! with the child's carrier in every recursive position. The encoder lays
//! the field out on the host in the layout of that computed structure,
//! with one difference: where a carrier belongs it stores the child's row
//! in the node table, marked `("ref",)`. When the fold reaches the node,
//! it gathers the children's carriers into those places, and the region
//! receives exactly the layout a plain field of the computed type has.
//!
//! Data types inside a nested field that hold the recursive positions are
//! laid out by templates: entries of `DATA` under the keys `"n0"`,
//! `"n1"`, ... whose constructors mirror the computed data type's, with
//! `("value", ("ref",))` (or a layout holding refs) where the carrier goes.
//! A field of such an inner type that again holds the inner type's own
//! recursive positions under another data type (a nested field of a nested
//! field) is not laid out, and is E0802.

use super::{ExportError, body, input_spec};
use cdlc_ir::{Module, Type};
use cdlc_runtime::value::{DataDecl, DataType};

/// The templates met while laying out nested fields, in order of first use.
#[derive(Default)]
pub struct Templates {
    /// Per template: the inner data type, how many data types it sits
    /// inside (the outer type's recursive position is `Rec(depth + 1)` in
    /// its fields), and its constructors as the `DATA` entry writes them.
    entries: Vec<(DataDecl, u32, String)>,
    /// Module data types the templates' plain fields hold, which `DATA`
    /// must list too.
    pub structures: Vec<cdlc_ir::DataId>,
}

impl Templates {
    /// The layout of a nested field of type `t` (seen from the outer
    /// constructor: its recursive position is `Rec(0)`).
    pub fn field(&mut self, m: &Module, t: &DataType) -> Result<String, ExportError> {
        self.spec(m, t, 0)
    }

    /// The `DATA` entries of the templates, one line each.
    pub fn entries(&self) -> String {
        let mut out = String::new();
        for (k, (decl, _, ctors)) in self.entries.iter().enumerate() {
            out += &format!(
                "    \"n{k}\": {{\"name\": {:?}, \"ctors\": [{ctors}], \"refs\": True}},\n",
                decl.name
            );
        }
        out
    }

    /// The layout of `t`, seen from `depth` data types inside the field.
    fn spec(&mut self, m: &Module, t: &DataType, depth: u32) -> Result<String, ExportError> {
        match t {
            DataType::Rec(k) if *k == depth => Ok("(\"ref\",)".to_string()),
            DataType::Rec(_) => Err(inner_recursion()),
            _ if !mentions(t, depth) => {
                let ty = self.plain_type(m, t)?;
                input_spec(m, &ty, None, false)
            }
            DataType::Tensor(_) => unreachable!("a tensor mentions no recursive position"),
            DataType::Tuple(ts) => {
                let inner: Vec<String> = ts
                    .iter()
                    .map(|t| self.spec(m, t, depth))
                    .collect::<Result<_, _>>()?;
                Ok(format!("(\"tuple\", [{}])", inner.join(", ")))
            }
            DataType::Data(d) if d.is_list() => match &d.ctors[1].fields[0] {
                DataType::Data(e) if !e.is_list() => Ok(format!(
                    "(\"structlist\", \"n{}\")",
                    self.template(m, e, depth + 1)?
                )),
                elem => Ok(format!("(\"seqof\", {})", self.spec(m, elem, depth + 1)?)),
            },
            DataType::Data(d) => Ok(format!("(\"data\", \"n{}\")", self.template(m, d, depth)?)),
        }
    }

    /// The template of data type `d` met `depth` data types inside the
    /// field (its own fields see the outer position as `Rec(depth + 1)`):
    /// its index among the templates.
    fn template(&mut self, m: &Module, d: &DataDecl, depth: u32) -> Result<usize, ExportError> {
        if let Some(k) = self
            .entries
            .iter()
            .position(|(e, at, _)| *at == depth && e == d)
        {
            return Ok(k);
        }
        // Reserve the index first: a template's fields may name others.
        let k = self.entries.len();
        self.entries.push((d.clone(), depth, String::new()));
        let mut ctors = String::new();
        for c in &d.ctors {
            let fields: Vec<String> = c
                .fields
                .iter()
                .map(|f| self.inner_field(m, f, depth + 1))
                .collect::<Result<_, _>>()?;
            ctors += &format!("({:?}, [{}]), ", c.name, fields.join(", "));
        }
        self.entries[k].2 = ctors;
        Ok(k)
    }

    /// One field of a template's constructor, `depth` data types inside
    /// the nested field (the outer position is `Rec(depth)` here).
    fn inner_field(&mut self, m: &Module, f: &DataType, depth: u32) -> Result<String, ExportError> {
        match f {
            DataType::Rec(0) => Ok("(\"rec\",)".to_string()),
            DataType::Data(l) if l.is_list() && l.ctors[1].fields[0] == DataType::Rec(1) => {
                Ok("(\"reclist\",)".to_string())
            }
            _ if mentions(f, 0) => Err(inner_recursion()),
            _ if mentions(f, depth) => Ok(format!("(\"value\", {})", self.spec(m, f, depth)?)),
            _ => {
                let ty = self.plain_type(m, f)?;
                plain_field(m, &ty)
            }
        }
    }

    /// The module type of a runtime type without recursive positions,
    /// noting the structures it holds.
    fn plain_type(&mut self, m: &Module, t: &DataType) -> Result<Type, ExportError> {
        Ok(match t {
            DataType::Tensor(s) => Type::Tensor(s.clone()),
            DataType::Tuple(ts) => Type::Tuple(
                ts.iter()
                    .map(|t| self.plain_type(m, t))
                    .collect::<Result<_, _>>()?,
            ),
            DataType::Data(d) => {
                let id = m.find_data(d).ok_or_else(|| {
                    ExportError::Data(format!(
                        "the data type {} inside a nested field is not in the model",
                        d.name
                    ))
                })?;
                self.structures.push(id);
                Type::Data(id)
            }
            DataType::Rec(_) => return Err(inner_recursion()),
        })
    }
}

/// A plain field as `DATA` writes it: a tensor, a list of tensors, or any
/// other value with its input layout.
pub fn plain_field(m: &Module, t: &Type) -> Result<String, ExportError> {
    match t {
        Type::Tensor(s) => Ok(format!("(\"plain\", {})", body::tuple(s))),
        Type::Data(l) => match m.list_element(*l) {
            Some(Type::Tensor(s)) => Ok(format!("(\"plainlist\", {})", body::tuple(s))),
            _ => Ok(format!("(\"value\", {})", input_spec(m, t, None, false)?)),
        },
        _ => Ok(format!("(\"value\", {})", input_spec(m, t, None, false)?)),
    }
}

/// What a nested field of a nested field is refused with.
fn inner_recursion() -> ExportError {
    ExportError::Data(
        "a data type inside a nested field holds its own recursive positions under another data type (a nested field of a nested field), which the encoder does not lay out".to_string(),
    )
}

/// Whether `t`, seen from `depth` data types inside a field, holds the
/// recursive position `Rec(depth)` of the type around the field.
fn mentions(t: &DataType, depth: u32) -> bool {
    match t {
        DataType::Tensor(_) => false,
        DataType::Tuple(ts) => ts.iter().any(|t| mentions(t, depth)),
        DataType::Rec(k) => *k == depth,
        DataType::Data(d) => d
            .ctors
            .iter()
            .any(|c| c.fields.iter().any(|f| mentions(f, depth + 1))),
    }
}
