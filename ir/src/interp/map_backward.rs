//! The interpreter's reverse of a `map`: the cotangent structure a fold's
//! backward builds for a mapped input, and `map_backward`, which walks it
//! beside the map's input and sums the captures' contributions.
//!
//! Both walks are iterative, like the fold's plan and the map, so that long
//! lists do not exhaust the stack.

use cdlc_runtime::value::Value as Data;

use super::map::Role;
use super::{Eval, IVal, InterpError, Scalar, TapeNode, add_vals, plain, to_data, zeros_of};
use crate::ir::{Field, FoldBackwardOp, MapBackwardOp};

impl<T: Scalar> Eval<'_, T> {
    /// The cotangent of a loaded structure a fold walked (a `map`'s
    /// result), from each node's field cotangents (those
    /// `Module::cotangent_fields` names): the structure rebuilt from the
    /// tape, children before parents, each node's plain fields holding
    /// their cotangents.
    pub(super) fn loaded_cotangent(
        &self,
        f: &FoldBackwardOp,
        nodes: &[TapeNode<T>],
        per_node: Vec<Vec<IVal<T>>>,
    ) -> Data {
        let def = &self.module.data[f.data];
        let mut built: Vec<Option<Data>> = Vec::with_capacity(nodes.len());
        for (node, ds) in nodes.iter().zip(per_node) {
            let mut children = node.children.iter();
            let mut ds = ds.iter();
            let mut take = |c: Option<&usize>| {
                let c = *c.expect("one child per recursive position");
                built[c].take().expect("each child is used once")
            };
            let mut fields = Vec::new();
            for (j, field) in def.ctors[node.ctor].fields.iter().enumerate() {
                // Each field has a cotangent entry (`cotangent_fields`
                // with `elements`); a recursive one's went to the children.
                let d = ds.next().expect("one cotangent per field");
                fields.push(match field {
                    Field::Rec => take(children.next()),
                    Field::RecList => {
                        let IVal::Seq(kids) = &node.args[j] else {
                            panic!("internal error: a list of children is not a sequence");
                        };
                        Data::list((0..kids.len()).map(|_| take(children.next())).collect())
                    }
                    // A field holding a list or a structure is input data:
                    // its zero cotangent has no runtime form and is kept
                    // as the empty tuple, which `map_backward` never reads
                    // (it reads the appended fields' cotangents only).
                    Field::Plain(_) if matches!(d, IVal::Zero) => Data::Tuple(Vec::new()),
                    Field::Plain(_) => to_data(d),
                    Field::Nested(_) => {
                        panic!("internal error: a map's structure has no nested field")
                    }
                });
            }
            built.push(Some(Data::Node {
                ctor: node.ctor as u32,
                fields,
            }));
        }
        built
            .pop()
            .flatten()
            .expect("a structure has a root, last on the tape")
    }

    /// Runs `m`: at every node of the input structure, the backward region
    /// on the node's plain fields and the cotangents of its mapped fields
    /// (read from the cotangent structure at the same position); the
    /// captures' contributions are summed over all nodes.
    pub(super) fn map_backward(&mut self, m: &MapBackwardOp) -> Result<IVal<T>, InterpError> {
        let IVal::Data(input) = self.val(m.input).clone() else {
            panic!("internal error: map_backward of a non-structure");
        };
        let mut acc: Vec<IVal<T>> = m
            .captures
            .iter()
            .map(|c| zeros_of(&self.func.types[*c]))
            .collect();
        // A zero cotangent contributes nothing.
        let dout = match self.val(m.cotangent).clone() {
            IVal::Zero => return Ok(IVal::Tuple(acc)),
            IVal::Data(d) => d,
            other => panic!("internal error: a map's cotangent is {other:?}"),
        };
        let mut work: Vec<(&Data, &Data, Role)> = vec![(&input, &dout, Role::Node)];
        while let Some((x, dx, role)) = work.pop() {
            let roles = self.field_roles(m.data, x, role)?;
            let (
                Data::Node { ctor, fields },
                Data::Node {
                    fields: dfields, ..
                },
            ) = (x, dx)
            else {
                unreachable!("field_roles accepts nodes only, and the cotangent has their shape")
            };
            for ((f, d), r) in fields.iter().zip(dfields).zip(roles) {
                if !matches!(r, Role::Plain) {
                    work.push((f, d, r));
                }
            }
            if let Role::Node = role {
                let parts = self.map_backward_node(m, *ctor as usize, fields, dfields)?;
                for (a, d) in acc.iter_mut().zip(&parts) {
                    *a = add_vals(a, d);
                }
            }
        }
        Ok(IVal::Tuple(acc))
    }

    /// Runs backward region `ctor` on one node: its plain fields, then the
    /// cotangents of the fields the map appended.
    fn map_backward_node(
        &mut self,
        m: &MapBackwardOp,
        ctor: usize,
        fields: &[Data],
        dfields: &[Data],
    ) -> Result<Vec<IVal<T>>, InterpError> {
        let cdef = &self.module.data[m.data].ctors[ctor];
        let mut args = cdef
            .fields
            .iter()
            .zip(fields)
            .filter_map(|(f, x)| match f {
                Field::Plain(t) => Some(plain(t, x)),
                // The hoisting pass leaves data types with nested fields
                // alone.
                Field::Rec | Field::RecList | Field::Nested(_) => None,
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mapped = self
            .module
            .mapped_fields(m.data, m.out, ctor)
            .expect("verified: the result is the input's type with fields appended");
        for (t, d) in mapped.iter().zip(&dfields[cdef.fields.len()..]) {
            args.push(plain(t, d)?);
        }
        match self.block(m.cases[ctor], args)? {
            IVal::Tuple(vs) => Ok(vs),
            other => panic!("internal error: a map_backward region yielded {other:?}"),
        }
    }
}
