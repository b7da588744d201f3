//! A forward kernel's outputs read back as values, one per example, led by
//! the function's output type: a tensor is its row, a tuple its
//! components, and a sequence (an unfold's outputs) the list of its steps
//! up to the example's length, each element built from the sequence's
//! buffers (one per tensor of the element, depth first, for a sequence of
//! tuples).

use cdlc_ir::Type;
use cdlc_runtime::value::{Tensor, Value};

use crate::plan::{PartKind, Repr};
use crate::{Elem, JitError, Kernel, batch, lower, part_of};

/// The value of example `row` of `r`, a value of type `ty`, after `k` ran
/// on batch `b`.
pub(crate) fn value<T: Elem>(
    k: &Kernel,
    r: &Repr,
    ty: &Type,
    row: usize,
    params: &[T],
    b: &batch::Batch<T>,
) -> Result<Value, JitError> {
    match (r, ty) {
        (Repr::Tensor { shape, .. }, _) => {
            let p = part_of(r)?;
            let all = k.part(&p, params, b);
            let off = if p.kind == PartKind::Batched {
                row * p.size
            } else {
                0
            };
            Ok(tensor(&all[off..off + p.size], shape.clone()))
        }
        (_, Type::Seq(elem)) => {
            let Some((unfold, parts)) = lower::seq_parts(r) else {
                return unreadable(r);
            };
            let bufs = &k.state::<T>().bufs;
            let items = (0..b.unfolds[unfold].lens[row])
                .map(|t| {
                    let mut at = parts.iter().map(|&(buf, size)| {
                        let off = (t * b.rows + row) * size;
                        &bufs[buf][off..off + size]
                    });
                    element(elem, &mut at)
                })
                .collect();
            Ok(Value::list(items))
        }
        (Repr::Tuple(rs), Type::Tuple(ts)) if rs.len() == ts.len() => Ok(Value::Tuple(
            rs.iter()
                .zip(ts)
                .map(|(r, t)| value(k, r, t, row, params, b))
                .collect::<Result<_, _>>()?,
        )),
        _ => unreadable(r),
    }
}

/// One element of a sequence of type `elem` whose tensors are the next
/// rows of `rows`: a tensor, or a tuple of them.
fn element<'a, T: Elem>(elem: &Type, rows: &mut impl Iterator<Item = &'a [T]>) -> Value {
    match elem {
        Type::Tuple(ts) => Value::Tuple(ts.iter().map(|t| element(t, rows)).collect()),
        _ => {
            let data = rows.next().expect("one buffer per tensor of the element");
            let shape = elem.shape().map_or(vec![data.len()], <[usize]>::to_vec);
            tensor(data, shape)
        }
    }
}

fn tensor<T: Elem>(data: &[T], shape: Vec<usize>) -> Value {
    Value::Tensor(Tensor::new(
        shape,
        data.iter().map(|x| x.to_f64()).collect(),
    ))
}

fn unreadable<V>(r: &Repr) -> Result<V, JitError> {
    Err(JitError::Unsupported {
        op: format!("a model output of the form {r:?}"),
        at: None,
    })
}
