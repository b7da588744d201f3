//! Concrete checker types as the runtime's data types, which data loaders
//! and generators check examples against.

use super::Checked;
use super::types::{Ty, TyDisplay};
use cdlc_runtime::data::TargetType;
use cdlc_runtime::value::{CtorDecl, DataDecl, DataType};
use std::sync::Arc;

/// The runtime type of a concrete (size-free) type, if it has one: tensors,
/// products and data types whose constructors hold such types and `X`,
/// also under another data type (a rose tree's `List(X)`, whose elements are
/// `Rec(1)` from inside the list).
pub fn data_type(checked: &Checked, t: &Ty) -> Option<DataType> {
    convert(checked, t, &[])
}

/// `t` as a runtime type, where `Ty::Param(i)` stands for `params[i]` (the
/// enclosing declaration's arguments: the checker type, for names, and the
/// runtime type as seen from inside the declaration) and `X` for the
/// innermost enclosing data type.
fn convert(checked: &Checked, t: &Ty, params: &[(Ty, DataType)]) -> Option<DataType> {
    Some(match t {
        Ty::Tensor(s, _) => DataType::Tensor(concrete(s)?),
        Ty::Tuple(ts) => DataType::Tuple(
            ts.iter()
                .map(|t| convert(checked, t, params))
                .collect::<Option<_>>()?,
        ),
        Ty::X => DataType::Rec(0),
        Ty::Param(i) => params.get(*i as usize)?.1.clone(),
        Ty::Data { co, functor, args } => {
            let f = &checked.functors[functor.0 as usize];
            let param_tys: Vec<Ty> = params.iter().map(|(t, _)| t.clone()).collect();
            // The arguments as written at this level; inside the new
            // declaration every recursive position they mention is one
            // level further out.
            let mut inner = Vec::new();
            for a in args {
                let ty = a.instantiate(&param_tys, None);
                let dt = convert(checked, a, params)?.shifted(1, 0);
                inner.push((ty, dt));
            }
            let shown = Ty::Data {
                co: *co,
                functor: *functor,
                args: inner.iter().map(|(t, _)| t.clone()).collect(),
            };
            let name = TyDisplay {
                ty: &shown,
                namer: checked,
            }
            .to_string();
            let mut ctors = Vec::new();
            for c in &f.ctors {
                let fields = c
                    .fields
                    .iter()
                    .map(|ft| convert(checked, ft, &inner))
                    .collect::<Option<_>>()?;
                ctors.push(CtorDecl {
                    name: c.name.clone(),
                    fields,
                });
            }
            DataType::Data(Arc::new(DataDecl { name, ctors }))
        }
        _ => return None,
    })
}

/// The target a loss needs for a model output of type `out`.
pub fn target_type(
    loss: super::LossKind,
    out: &Ty,
    list: Option<super::types::FunctorId>,
) -> Option<TargetType> {
    match out {
        Ty::Data {
            co: false,
            functor,
            args,
        } if Some(*functor) == list && args.len() == 1 => Some(TargetType::Seq(Box::new(
            target_type(loss, &args[0], list)?,
        ))),
        Ty::Tensor(s, _) => {
            let s = concrete(s)?;
            match loss {
                super::LossKind::CrossEntropy if s.len() == 1 => Some(TargetType::Class(s[0])),
                super::LossKind::CrossEntropy => None,
                _ => Some(TargetType::Tensor(s)),
            }
        }
        _ => None,
    }
}

fn concrete(s: &[super::size::Poly]) -> Option<Vec<usize>> {
    s.iter()
        .map(|p| p.as_constant().and_then(|v| usize::try_from(v).ok()))
        .collect()
}
