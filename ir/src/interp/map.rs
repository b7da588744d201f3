//! The interpreter's `map`: rebuilds a structure with every node's mapped
//! fields appended.
//!
//! The walk is iterative, like the fold's plan, so that long lists do not
//! exhaust the stack: each node is visited, its fields are rebuilt, and then
//! the node is rebuilt from them with the region's results appended.

use std::rc::Rc;

use cdlc_runtime::value::{LIST_CONS, LIST_NIL, Value as Data};

use super::{
    Eval, IVal, InterpError, Scalar, declared_ctor, describe, input_error, plain, to_data,
};
use crate::ir::{DataId, Field, MapOp};

/// What a part of the input structure is.
#[derive(Clone, Copy)]
pub(super) enum Role {
    /// A node of the mapped data type.
    Node,
    /// A rose node's list of children: `nil`, or `cons` of a node and the
    /// rest of the list.
    Children,
    /// A plain field, kept as it is.
    Plain,
}

/// A step of the walk: visit a part, or rebuild it once its fields are done.
enum Work<'a> {
    Visit(&'a Data, Role),
    Build(&'a Data, Role),
}

impl<T: Scalar> Eval<'_, T> {
    /// Runs `m`: the same structure, each node's region results appended to
    /// its fields.
    pub(super) fn map(&mut self, m: &MapOp) -> Result<IVal<T>, InterpError> {
        let IVal::Data(root) = self.val(m.input).clone() else {
            panic!("internal error: map input is not a structure");
        };
        let mut done: Vec<Data> = Vec::new();
        let mut work = vec![Work::Visit(&root, Role::Node)];
        while let Some(w) = work.pop() {
            match w {
                Work::Visit(x, Role::Plain) => done.push(x.clone()),
                Work::Visit(x, role) => {
                    let roles = self.field_roles(m.data, x, role)?;
                    work.push(Work::Build(x, role));
                    let Data::Node { fields, .. } = x else {
                        unreachable!("field_roles accepts nodes only")
                    };
                    for (f, r) in fields.iter().zip(roles).rev() {
                        work.push(Work::Visit(f, r));
                    }
                }
                Work::Build(x, role) => {
                    let Data::Node { ctor, fields } = x else {
                        unreachable!("only nodes are rebuilt")
                    };
                    let mut new = done.split_off(done.len() - fields.len());
                    if let Role::Node = role {
                        new.extend(self.map_node(m, *ctor as usize, fields)?);
                    }
                    done.push(Data::Node {
                        ctor: *ctor,
                        fields: new,
                    });
                }
            }
        }
        let out = done.pop().expect("the walk rebuilds the root");
        Ok(IVal::Data(Rc::new(out)))
    }

    /// The roles of the fields of `x`, checked against the declaration.
    pub(super) fn field_roles(
        &self,
        data: DataId,
        x: &Data,
        role: Role,
    ) -> Result<Vec<Role>, InterpError> {
        let def = &self.module.data[data];
        let Data::Node { ctor, fields } = x else {
            return input_error(format!(
                "expected a {} node, found {}",
                def.decl.name,
                describe(x)
            ));
        };
        if let Role::Children = role {
            return match (*ctor, fields.len()) {
                (LIST_NIL, 0) => Ok(Vec::new()),
                (LIST_CONS, 2) => Ok(vec![Role::Node, Role::Children]),
                _ => input_error(format!(
                    "expected a list of {} children, found {}",
                    def.decl.name,
                    describe(x)
                )),
            };
        }
        let cdef = declared_ctor(def, *ctor, fields.len())?;
        Ok(cdef
            .fields
            .iter()
            .map(|f| match f {
                Field::Rec => Role::Node,
                Field::RecList => Role::Children,
                // Never met: the hoisting pass leaves folds over data types
                // with nested fields alone.
                Field::Plain(_) | Field::Nested(_) => Role::Plain,
            })
            .collect())
    }

    /// Runs region `ctor` on a node's plain fields and returns its results
    /// as the fields to append.
    fn map_node(
        &mut self,
        m: &MapOp,
        ctor: usize,
        fields: &[Data],
    ) -> Result<Vec<Data>, InterpError> {
        let cdef = &self.module.data[m.data].ctors[ctor];
        let args = cdef
            .fields
            .iter()
            .zip(fields)
            .filter_map(|(f, x)| match f {
                Field::Plain(t) => Some(plain(t, x)),
                Field::Rec | Field::RecList | Field::Nested(_) => None,
            })
            .collect::<Result<Vec<_>, _>>()?;
        match self.block(m.cases[ctor], args)? {
            IVal::Tuple(vs) => Ok(vs.iter().map(to_data).collect()),
            other => panic!("internal error: a map region yielded {other:?}"),
        }
    }
}
