//! Nested fields that are tuples of the enclosing fold's children and
//! tensors (`twin(X * X)`, `lab(R[2] * X)`, `fork(X * (R[3] * X))`): there
//! is no structure to fold, the region reads the children and tensors
//! directly. Each child is gathered like a recursive field (one entry of
//! `CaseCode::rec_args` per child, in field order, which is the order
//! `batch/nested.rs` merges the field's children into the group's), and
//! its cotangent goes back to it like a recursive field's. Each tensor is
//! a view of the prepared field rows like a plain field's (one entry of
//! `CaseCode::field_views`, in field order, which is the order
//! `batch.rs` gathers the tuple's tensors in among the plain fields'); as
//! data, it gets no cotangent.

use cdlc_runtime::value::DataType;

use super::super::*;

/// How many children of the enclosing fold a nested field of type `ty`
/// holds, if it is a tuple of nothing but children and tensors
/// (`X * X`, `R[2] * X`, `X * (R[3] * X)`) holding at least one child.
pub(in crate::lower) fn children(ty: &DataType) -> Option<usize> {
    match ty {
        DataType::Tuple(_) => leaf_children(ty).filter(|&n| n > 0),
        _ => None,
    }
}

/// The children at one component of a tuple: one at the recursive
/// position, none in a tensor, a nested tuple's count, `None` for
/// anything else (a data type).
fn leaf_children(ty: &DataType) -> Option<usize> {
    match ty {
        DataType::Rec(0) => Some(1),
        DataType::Tensor(_) => Some(0),
        DataType::Tuple(ts) => ts.iter().map(leaf_children).sum(),
        _ => None,
    }
}

/// Appends the sizes of the tensors of a nested tuple field of type `ty`
/// (depth first, the order `batch.rs` gathers them in).
pub(in crate::lower) fn tensor_sizes(ty: &DataType, sizes: &mut Vec<usize>) {
    match ty {
        DataType::Tensor(shape) => sizes.push(shape.iter().product()),
        DataType::Tuple(ts) => ts.iter().for_each(|t| tensor_sizes(t, sizes)),
        DataType::Rec(_) | DataType::Data(_) => {}
    }
}

impl Lowerer<'_> {
    /// The argument of a nested tuple field of type `ty`: the tuple of its
    /// children's carriers, each in buffers of its own appended to
    /// `rec_args`, and its tensors, each a view appended to `views`.
    pub(in crate::lower) fn nested_tuple_arg(
        &mut self,
        ty: &DataType,
        carrier: &Type,
        rec_args: &mut Vec<Vec<usize>>,
        views: &mut Vec<usize>,
    ) -> Result<Repr, JitError> {
        match ty {
            DataType::Rec(0) => {
                let (r, flat) = self.alloc(carrier)?;
                rec_args.push(flat.iter().map(|x| x.0).collect());
                Ok(r)
            }
            DataType::Tensor(shape) => {
                let (r, v) = self.alloc_views(&Type::Tensor(shape.clone()))?;
                views.extend(v);
                Ok(r)
            }
            DataType::Tuple(ts) => Ok(Repr::Tuple(
                ts.iter()
                    .map(|t| self.nested_tuple_arg(t, carrier, rec_args, views))
                    .collect::<Result<_, _>>()?,
            )),
            other => Err(JitError::Internal(format!(
                "a nested tuple field with a component of type {other}"
            ))),
        }
    }

    /// The cotangents of a nested tuple field's children, in the order of
    /// its argument: `r` is the backward region's cotangent of the tuple,
    /// each child's carrier cotangent flattened onto `rec`. A tensor's
    /// cotangent is dropped: the tensor is data.
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
            (DataType::Tensor(_), _) => Ok(()),
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
