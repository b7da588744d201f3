//! Nested fields in level schedules: a field that holds the scheduled
//! type's recursive position under another data type or in a tuple
//! (`Tree(X)`, `List(A * X)`, `X * X`). The subtrees at those positions are
//! children of the node like its other children; they are found by walking
//! the field's value along its type, in one fixed order (depth first, fields
//! left to right) that a backend walking the same value again relies on.

use crate::value::{DataDecl, DataType, Value};

use super::ScheduleError;

/// A value still to walk: the value, its type, and the data types entered
/// since the field (the innermost last), which its `Rec` positions name.
struct Pending<'a, 't> {
    value: &'a Value,
    ty: &'t DataType,
    path: Vec<&'t DataDecl>,
}

/// Pushes the subtrees at the recursive positions of the scheduled type in
/// `v`, the value of a field of type `ty` (seen from the scheduled type's
/// constructor, so the scheduled type is `Rec(k)` after `k` data types
/// entered), onto `out` in walking order, and returns how many there were.
/// `example` names the example in an error.
pub fn holes<'a>(
    v: &'a Value,
    ty: &DataType,
    example: usize,
    out: &mut Vec<&'a Value>,
) -> Result<u32, ScheduleError> {
    let mut n = 0u32;
    let mut stack = vec![Pending {
        value: v,
        ty,
        path: Vec::new(),
    }];
    while let Some(Pending { value, ty, path }) = stack.pop() {
        let bad = |what: &str| ScheduleError::BadNode {
            example,
            ty: what.to_string(),
            found: crate::data::describe(value),
        };
        match ty {
            DataType::Rec(k) if *k as usize == path.len() => {
                out.push(value);
                n += 1;
            }
            DataType::Rec(k) => {
                let decl = path[path.len() - 1 - *k as usize];
                let path = path[..path.len() - *k as usize].to_vec();
                push_node(&mut stack, value, decl, path).map_err(|()| bad(&decl.name))?;
            }
            DataType::Data(d) => {
                let mut path = path;
                path.push(d);
                push_node(&mut stack, value, d, path).map_err(|()| bad(&d.name))?;
            }
            DataType::Tuple(ts) => match value {
                Value::Tuple(vs) if vs.len() == ts.len() => {
                    for (v, t) in vs.iter().zip(ts).rev() {
                        stack.push(Pending {
                            value: v,
                            ty: t,
                            path: path.clone(),
                        });
                    }
                }
                _ => return Err(bad(&ty.to_string())),
            },
            DataType::Tensor(_) => {}
        }
    }
    Ok(n)
}

/// Pushes the fields of `value`, a node of `decl` (the last data type of
/// `path`), onto the stack so that they are walked left to right.
fn push_node<'a, 't>(
    stack: &mut Vec<Pending<'a, 't>>,
    value: &'a Value,
    decl: &'t DataDecl,
    path: Vec<&'t DataDecl>,
) -> Result<(), ()> {
    let Value::Node { ctor, fields } = value else {
        return Err(());
    };
    let c = decl.ctors.get(*ctor as usize).ok_or(())?;
    if c.fields.len() != fields.len() {
        return Err(());
    }
    for (v, t) in fields.iter().zip(&c.fields).rev() {
        stack.push(Pending {
            value: v,
            ty: t,
            path: path.clone(),
        });
    }
    Ok(())
}

/// Whether a constructor's field of type `ty` holds the scheduled type's
/// own recursive position (a recursive field, a list of children, a nested
/// field): the fields a `Group` does not list among its `fields`.
pub fn mentions_own(ty: &DataType) -> bool {
    super::mentions_self(ty, 0)
}
