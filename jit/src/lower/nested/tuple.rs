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
//! data, it gets no cotangent. Each structure (`R[2] * Tree(X)`) is bound
//! like a nested field of its own: a pool per structure (an entry of
//! `CaseCode::nested`, in walking order, which is the order
//! `batch/nested.rs` prepares the pools in), folded over its schedule.

use cdlc_runtime::value::DataType;

use super::super::*;

/// How many children of the enclosing fold a nested field of type `ty`
/// holds directly, if it is a tuple of children, tensors and structures
/// (`X * X`, `R[2] * X`, `X * (R[3] * X)`, `R[2] * Tree(X)`).
pub(in crate::lower) fn children(ty: &DataType) -> Option<usize> {
    match ty {
        DataType::Tuple(_) => leaf_children(ty),
        _ => None,
    }
}

/// The children at one component of a tuple: one at the recursive
/// position, none in a tensor or a structure (which has a pool of its
/// own), a nested tuple's count, `None` for anything else.
fn leaf_children(ty: &DataType) -> Option<usize> {
    match ty {
        DataType::Rec(0) => Some(1),
        DataType::Tensor(_) | DataType::Data(_) => Some(0),
        DataType::Tuple(ts) => ts.iter().map(leaf_children).sum(),
        DataType::Rec(_) => None,
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
    /// The argument of a nested field of type `ty` of constructor `ctor`:
    /// a structure with a pool appended to `cc.nested`, or for a tuple, the
    /// tuple of its children's carriers, each in buffers of its
    /// own appended to `cc.rec_args`, its tensors, each a view appended to
    /// `cc.field_views`, and its structures, each with a pool appended to
    /// `cc.nested`.
    pub(in crate::lower) fn nested_tuple_arg(
        &mut self,
        ty: &DataType,
        carrier: &Type,
        ctor: usize,
        cc: &mut CaseCode,
    ) -> Result<Repr, JitError> {
        match ty {
            DataType::Rec(0) => {
                let (r, flat) = self.alloc(carrier)?;
                cc.rec_args.push(flat.iter().map(|x| x.0).collect());
                Ok(r)
            }
            DataType::Tensor(shape) => {
                let (r, v) = self.alloc_views(&Type::Tensor(shape.clone()))?;
                cc.field_views.extend(v);
                Ok(r)
            }
            DataType::Data(_) => {
                let (r, pool) = self.nested_arg(ty, carrier, ctor, cc.nested.len())?;
                cc.nested.push(pool);
                Ok(r)
            }
            DataType::Tuple(ts) => Ok(Repr::Tuple(
                ts.iter()
                    .map(|t| self.nested_tuple_arg(t, carrier, ctor, cc))
                    .collect::<Result<_, _>>()?,
            )),
            other => Err(JitError::Internal(format!(
                "a nested tuple field with a component of type {other}"
            ))),
        }
    }

    /// The cotangents of a nested field's children, in the order of its
    /// argument: `r` is the backward region's cotangent of the field,
    /// each child's carrier cotangent flattened onto `rec`, each
    /// structure's pool cotangents set on `pools[*next]` (counting it). A
    /// tensor's cotangent is dropped: the tensor is data.
    pub(in crate::lower) fn nested_tuple_ct(
        &mut self,
        ty: &DataType,
        r: &Repr,
        code: &mut Vec<Instr>,
        rec: &mut Vec<Vec<Part>>,
        pools: &mut [RecList],
        next: &mut usize,
    ) -> Result<(), JitError> {
        match (ty, r) {
            (DataType::Rec(0), r) => {
                rec.push(self.flatten(r, code)?);
                Ok(())
            }
            (DataType::Tensor(_), _) => Ok(()),
            (DataType::Data(_), r) => {
                super::set_pool_ct(r, &mut pools[*next])?;
                *next += 1;
                Ok(())
            }
            (DataType::Tuple(ts), Repr::Tuple(rs)) if ts.len() == rs.len() => {
                for (t, r) in ts.iter().zip(rs) {
                    self.nested_tuple_ct(t, r, code, rec, pools, next)?;
                }
                Ok(())
            }
            _ => Err(JitError::Internal(format!(
                "the cotangent of a nested field of type {ty} does not match it"
            ))),
        }
    }
}
