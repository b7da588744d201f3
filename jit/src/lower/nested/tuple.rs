//! Nested fields that are tuples of the enclosing fold's children
//! (`twin(X * X)`): there is no structure to fold, the region reads the
//! children directly. Each child is gathered like a recursive field (one
//! entry of `CaseCode::rec_args` per child, in field order, which is the
//! order `batch/nested.rs` merges the field's children into the group's),
//! and its cotangent goes back to it like a recursive field's.

use cdlc_runtime::value::DataType;

use super::super::*;

/// How many children of the enclosing fold a nested field of type `ty`
/// holds, if it is a tuple of nothing else (`X * X`, `X * (X * X)`).
pub(in crate::lower) fn children(ty: &DataType) -> Option<usize> {
    match ty {
        DataType::Tuple(ts) => ts.iter().map(leaf_children).sum(),
        _ => None,
    }
}

/// The children at one component of a tuple: one at the recursive
/// position, a nested tuple's count, `None` for anything else.
fn leaf_children(ty: &DataType) -> Option<usize> {
    match ty {
        DataType::Rec(0) => Some(1),
        DataType::Tuple(_) => children(ty),
        _ => None,
    }
}

impl Lowerer<'_> {
    /// The argument of a nested tuple field of type `ty`: the tuple of its
    /// children's carriers, each in buffers of its own appended to
    /// `rec_args`.
    pub(in crate::lower) fn nested_tuple_arg(
        &mut self,
        ty: &DataType,
        carrier: &Type,
        rec_args: &mut Vec<Vec<usize>>,
    ) -> Result<Repr, JitError> {
        match ty {
            DataType::Rec(0) => {
                let (r, flat) = self.alloc(carrier)?;
                rec_args.push(flat.iter().map(|x| x.0).collect());
                Ok(r)
            }
            DataType::Tuple(ts) => Ok(Repr::Tuple(
                ts.iter()
                    .map(|t| self.nested_tuple_arg(t, carrier, rec_args))
                    .collect::<Result<_, _>>()?,
            )),
            other => Err(JitError::Internal(format!(
                "a nested tuple field with a component of type {other}"
            ))),
        }
    }

    /// The cotangents of a nested tuple field's children, in the order of
    /// its argument: `r` is the backward region's cotangent of the tuple,
    /// each child's carrier cotangent flattened onto `rec`.
    pub(in crate::lower) fn nested_tuple_ct(
        &mut self,
        ty: &DataType,
        r: &Repr,
        code: &mut Vec<Instr>,
        rec: &mut Vec<Vec<Part>>,
    ) -> Result<(), JitError> {
        match (ty, r) {
            (DataType::Rec(0), r) => {
                rec.push(self.flatten(r, code)?);
                Ok(())
            }
            (DataType::Tuple(ts), Repr::Tuple(rs)) if ts.len() == rs.len() => {
                for (t, r) in ts.iter().zip(rs) {
                    self.nested_tuple_ct(t, r, code, rec)?;
                }
                Ok(())
            }
            _ => Err(JitError::Internal(format!(
                "the cotangent of a nested tuple field of type {ty} is not a tuple"
            ))),
        }
    }
}
