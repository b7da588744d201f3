//! Concrete checker types as the runtime's data types, which data loaders
//! and generators check examples against.

use super::Checked;
use super::types::{Ty, TyDisplay};
use cdlc_runtime::data::TargetType;
use cdlc_runtime::value::{CtorDecl, DataDecl, DataType};
use std::sync::Arc;

/// The runtime type of a concrete (size-free) type, if it has one: tensors,
/// products and data types whose constructors hold such types and `X`.
pub fn data_type(checked: &Checked, t: &Ty) -> Option<DataType> {
    Some(match t {
        Ty::Tensor(s, _) => DataType::Tensor(concrete(s)?),
        Ty::Tuple(ts) => DataType::Tuple(
            ts.iter()
                .map(|t| data_type(checked, t))
                .collect::<Option<_>>()?,
        ),
        Ty::X => DataType::Rec(0),
        Ty::Data { functor, args, .. } => {
            let f = &checked.functors[functor.0 as usize];
            let name = TyDisplay {
                ty: t,
                namer: checked,
            }
            .to_string();
            let mut ctors = Vec::new();
            for c in &f.ctors {
                let mut fields = Vec::new();
                for ft in &c.fields {
                    let field = ft.instantiate(args, Some(&Ty::X));
                    // `X` under another data type (rose trees) is not a
                    // runtime type yet.
                    if matches!(&field, Ty::Data { .. } if field.mentions_x()) {
                        return None;
                    }
                    fields.push(data_type(checked, &field)?);
                }
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
