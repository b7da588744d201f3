//! The typing rule of every op: its result type from its operands' types.
//!
//! The builder uses this to fill the type side table, and the verifier uses
//! it to check that table, so there is one statement of each op's shape
//! rule. Region signatures (block arguments and results) are checked by the
//! verifier; here only the op's own operands are looked at.

use crate::ir::{BinOp, Function, LossKind, Module, Op, Source, Type, Value};

/// Prefix broadcasting: equal shapes, or the shorter is a prefix of the
/// longer. Returns the result shape.
pub fn broadcast(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    (long[..short.len()] == *short).then(|| long.to_vec())
}

/// The result type of `op` in `func`, or a description of why it has none.
/// Operand handles must be valid (the verifier checks them first).
pub fn result_type(module: &Module, func: &Function, op: &Op) -> Result<Type, String> {
    let ty = |v: Value| -> Result<&Type, String> {
        func.types
            .get(v)
            .ok_or_else(|| format!("operand {v} has no type"))
    };
    let shape = |v: Value| -> Result<Vec<usize>, String> {
        match ty(v)? {
            Type::Tensor(s) => Ok(s.clone()),
            other => Err(format!("operand {v} is not a tensor but {other:?}")),
        }
    };
    let vector = |v: Value| -> Result<usize, String> {
        match shape(v)?.as_slice() {
            [n] => Ok(*n),
            s => Err(format!("operand {v} is not a vector but has shape {s:?}")),
        }
    };
    match op {
        Op::Param(p) => func
            .params
            .get(*p)
            .map(|d| Type::Tensor(d.shape.clone()))
            .ok_or_else(|| format!("no parameter slot {p}")),
        Op::Input(i) => func
            .inputs
            .get(*i as usize)
            .cloned()
            .ok_or_else(|| format!("no input {i}")),
        Op::Const(t) => Ok(Type::Tensor(t.shape.clone())),
        Op::Zeros(t) if t.has_zeros() => Ok(t.clone()),
        Op::Zeros(t) => Err(format!("zeros of a non-tensor type {t:?}")),
        // Two sequence cotangents add position by position, two structure
        // cotangents field by field.
        Op::Binary(BinOp::Add, a, b) if matches!(ty(*a)?, Type::Seq(_) | Type::Data(_)) => {
            match (ty(*a)?, ty(*b)?) {
                (Type::Seq(ta), tb) if ta.is_differentiable() && ty(*a)? == tb => Ok(tb.clone()),
                (Type::Data(_), tb) if ty(*a)? == tb => Ok(tb.clone()),
                (ta, tb) => Err(format!("cannot add {ta:?} and {tb:?}")),
            }
        }
        Op::Binary(_, a, b) => {
            let (sa, sb) = (shape(*a)?, shape(*b)?);
            broadcast(&sa, &sb)
                .map(Type::Tensor)
                .ok_or_else(|| format!("shapes {sa:?} and {sb:?} do not broadcast"))
        }
        Op::Unary(_, x) => Ok(Type::Tensor(shape(*x)?)),
        Op::Contract { a, b, axes } => {
            let (sa, sb, k) = (shape(*a)?, shape(*b)?, *axes as usize);
            if sa.len() < k || sb.len() < k || sa[sa.len() - k..] != sb[..k] {
                return Err(format!(
                    "cannot contract {k} axes of shapes {sa:?} and {sb:?}"
                ));
            }
            let mut out = sa[..sa.len() - k].to_vec();
            out.extend_from_slice(&sb[k..]);
            Ok(Type::Tensor(out))
        }
        Op::Permute { x, perm } => {
            let s = shape(*x)?;
            let mut sorted: Vec<u32> = perm.clone();
            sorted.sort_unstable();
            if sorted != (0..s.len() as u32).collect::<Vec<_>>() {
                return Err(format!(
                    "{perm:?} is not a permutation of the axes of {s:?}"
                ));
            }
            Ok(Type::Tensor(perm.iter().map(|&p| s[p as usize]).collect()))
        }
        Op::Reduce { x, axis, .. } => {
            let mut s = shape(*x)?;
            match axis {
                None => Ok(Type::scalar()),
                Some(a) if (*a as usize) < s.len() => {
                    s.remove(*a as usize);
                    Ok(Type::Tensor(s))
                }
                Some(a) => Err(format!("axis {a} out of range for shape {s:?}")),
            }
        }
        Op::Expand { x, axis, n } => {
            let mut s = shape(*x)?;
            if *axis as usize > s.len() {
                return Err(format!("axis {axis} out of range for shape {s:?}"));
            }
            s.insert(*axis as usize, *n as usize);
            Ok(Type::Tensor(s))
        }
        Op::BroadcastTo { x, shape: to } => {
            let s = shape(*x)?;
            if s.len() <= to.len() && to[..s.len()] == *s {
                Ok(Type::Tensor(to.clone()))
            } else {
                Err(format!("shape {s:?} does not broadcast to {to:?}"))
            }
        }
        Op::SumTo { x, shape: to } => {
            let s = shape(*x)?;
            if to.len() <= s.len() && s[..to.len()] == *to {
                Ok(Type::Tensor(to.clone()))
            } else {
                Err(format!("shape {to:?} is not a prefix of {s:?}"))
            }
        }
        Op::Softmax(x) | Op::LogSoftmax(x) => vector(*x).map(|n| Type::tensor(&[n])),
        Op::Norm { x, keep } => {
            let s = shape(*x)?;
            if *keep as usize > s.len() {
                return Err(format!("cannot keep {keep} axes of shape {s:?}"));
            }
            Ok(Type::tensor(&s[..*keep as usize]))
        }
        Op::NormGrad { x, y, g } => {
            let (sx, sy, sg) = (shape(*x)?, shape(*y)?, shape(*g)?);
            if sy != sg || sy.len() > sx.len() || sx[..sy.len()] != *sy {
                return Err(format!("norm_grad shapes {sx:?}, {sy:?}, {sg:?} disagree"));
            }
            Ok(Type::Tensor(sx))
        }
        Op::MaxGrad { x, g, axis } => {
            let (sx, sg) = (shape(*x)?, shape(*g)?);
            let mut reduced = sx.clone();
            match axis {
                None => reduced.clear(),
                Some(a) if (*a as usize) < sx.len() => {
                    reduced.remove(*a as usize);
                }
                Some(a) => return Err(format!("axis {a} out of range for shape {sx:?}")),
            }
            if reduced != sg {
                return Err(format!(
                    "max_grad cotangent {sg:?} does not match {reduced:?}"
                ));
            }
            Ok(Type::Tensor(sx))
        }
        Op::Concat(a, b) => Ok(Type::tensor(&[vector(*a)? + vector(*b)?])),
        Op::Slice { x, start, len } => {
            let n = vector(*x)?;
            if (*start + *len) as usize > n {
                return Err(format!("slice {start}..{} of a vector of {n}", start + len));
            }
            Ok(Type::tensor(&[*len as usize]))
        }
        Op::Tuple(vs) => vs
            .iter()
            .map(|v| ty(*v).cloned())
            .collect::<Result<_, _>>()
            .map(Type::Tuple),
        Op::Get(t, i) => match ty(*t)? {
            Type::Tuple(ts) => ts
                .get(*i as usize)
                .cloned()
                .ok_or_else(|| format!("tuple {t} has no component {i}")),
            other => Err(format!("{t} is not a tuple but {other:?}")),
        },
        Op::BasisExpand { coeffs, basis } => {
            let b = module
                .bases
                .get(*basis)
                .ok_or_else(|| format!("no basis {basis}"))?;
            let s = shape(*coeffs)?;
            if s != b.coeff_shape {
                return Err(format!(
                    "coefficients of shape {s:?} for a basis of {} elements whose coefficients have shape {:?}",
                    b.elements.len(),
                    b.coeff_shape
                ));
            }
            Ok(Type::Tensor(b.shape.clone()))
        }
        Op::BasisProject { x, basis } => {
            let b = module
                .bases
                .get(*basis)
                .ok_or_else(|| format!("no basis {basis}"))?;
            let s = shape(*x)?;
            if s != b.shape {
                return Err(format!("shape {s:?} is not the basis shape {:?}", b.shape));
            }
            Ok(Type::Tensor(b.coeff_shape.clone()))
        }
        Op::Loss { kind, out, target } => {
            check_target(*kind, ty(*out)?, ty(*target)?)?;
            Ok(Type::scalar())
        }
        Op::LossGrad {
            kind,
            out,
            target,
            seed,
        } => {
            check_target(*kind, ty(*out)?, ty(*target)?)?;
            if !shape(*seed)?.is_empty() {
                return Err("loss_grad seed is not a scalar".into());
            }
            Ok(ty(*out)?.clone())
        }
        Op::Fold(f) => {
            let input = ty(f.input)?;
            if !module.data.contains(f.data) {
                return Err(format!("no data type {}", f.data));
            }
            let expected = match (f.split, input) {
                // A list-shaped algebra also folds a computed sequence.
                (crate::ir::Split::Structure, Type::Seq(elem))
                    if module.list_element(f.data) == Some(&**elem) =>
                {
                    input.clone()
                }
                (crate::ir::Split::Structure, _) => Type::Data(f.data),
                (crate::ir::Split::Halves, _) => {
                    let leaf = module
                        .tree_leaf(f.data)
                        .ok_or_else(|| format!("{} is not shaped like TreeF", f.data))?;
                    // An input list, or a computed sequence of leaves.
                    let element = match input {
                        Type::Data(list) => module.list_element(*list),
                        Type::Seq(elem) => Some(&**elem),
                        _ => return Err(format!("hylo input {} is not a list", f.input)),
                    };
                    if element != Some(leaf) {
                        return Err(format!(
                            "hylo input {} is not a list of the tree's leaves",
                            f.input
                        ));
                    }
                    input.clone()
                }
            };
            if *input != expected {
                return Err(format!("fold input {} has type {input:?}", f.input));
            }
            if !f.carrier.is_differentiable() {
                return Err(format!("carrier {:?} is not built from tensors", f.carrier));
            }
            Ok(recorded(Type::clone(&f.carrier), f.record))
        }
        Op::Map(m) => map_type(module, m, ty(m.input)?),
        Op::FoldBackward(f) => {
            expect(ty(f.tape)?, &Type::Tape, "tape")?;
            expect(ty(f.cotangent)?, &f.carrier, "cotangent")?;
            let Type::Tuple(mut out) = captures_type(&ty, &f.captures, Vec::new())? else {
                unreachable!("captures_type gives a tuple")
            };
            if f.elements && f.structure {
                // A computed structure's cotangent has its type.
                out.push(Type::Data(f.data));
            } else if f.elements {
                // A list's elements, or (split by halves) the tree's leaves.
                let elem = module
                    .list_element(f.data)
                    .or_else(|| module.tree_leaf(f.data))
                    .ok_or_else(|| format!("{} is not a list, so it has no elements", f.data))?;
                out.push(Type::Seq(Box::new(elem.clone())));
            }
            Ok(Type::Tuple(out))
        }
        Op::MapBackward(m) => {
            if *ty(m.input)? != Type::Data(m.data) {
                return Err(format!("map_backward input {} is not {}", m.input, m.data));
            }
            expect(ty(m.cotangent)?, &Type::Data(m.out), "cotangent")?;
            captures_type(&ty, &m.captures, Vec::new())
        }
        Op::Unfold(u) => {
            let state = ty(u.init)?;
            if !state.is_differentiable() || !u.output.is_differentiable() {
                return Err("unfold state and output must be built from tensors".into());
            }
            if let Source::Over(xs) = u.source {
                let xs_ty = ty(xs)?;
                if module.over_element(xs_ty).is_none() {
                    return Err(format!("unfold over a non-list {xs_ty:?}"));
                }
            }
            Ok(recorded(Type::Seq(Box::new(u.output.clone())), u.record))
        }
        Op::UnfoldBackward(u) => {
            expect(ty(u.tape)?, &Type::Tape, "tape")?;
            expect(
                ty(u.cotangent)?,
                &Type::Seq(Box::new(u.output.clone())),
                "cotangent",
            )?;
            let Type::Tuple(mut out) = captures_type(&ty, &u.captures, vec![u.state.clone()])?
            else {
                unreachable!("captures_type gives a tuple")
            };
            if u.elements {
                let elem = u
                    .input
                    .clone()
                    .ok_or("an unfold without a list has no elements")?;
                out.push(Type::Seq(Box::new(elem)));
            }
            Ok(Type::Tuple(out))
        }
    }
}

fn recorded(t: Type, record: bool) -> Type {
    if record {
        Type::Tuple(vec![t, Type::Tape])
    } else {
        t
    }
}

fn expect(found: &Type, want: &Type, what: &str) -> Result<(), String> {
    if found == want {
        Ok(())
    } else {
        Err(format!("{what} has type {found:?}, expected {want:?}"))
    }
}

fn captures_type<'a>(
    ty: &impl Fn(Value) -> Result<&'a Type, String>,
    captures: &[Value],
    mut out: Vec<Type>,
) -> Result<Type, String> {
    for &c in captures {
        let t = ty(c)?;
        if !t.is_differentiable() {
            return Err(format!("capture {c} of type {t:?} has no cotangent"));
        }
        out.push(t.clone());
    }
    Ok(Type::Tuple(out))
}

/// Checks that `target` is the right target type of `kind` for `out`.
pub fn check_target(kind: LossKind, out: &Type, target: &Type) -> Result<(), String> {
    match kind.target_type(out) {
        Some(t) if t == *target => Ok(()),
        Some(t) => Err(format!("{kind} target has type {target:?}, expected {t:?}")),
        None => Err(format!(
            "{kind} does not apply to an output of type {out:?}"
        )),
    }
}

/// The reduced shape of `Reduce`, for callers that have a shape in hand.
pub fn reduced_shape(shape: &[usize], axis: Option<u32>) -> Vec<usize> {
    let mut s = shape.to_vec();
    match axis {
        None => s.clear(),
        Some(a) => {
            s.remove(a as usize);
        }
    }
    s
}

/// The type of a `map`: its input must be a `Data(data)` structure, and
/// `out` must be `data` with tensor fields appended to every constructor.
fn map_type(module: &Module, m: &crate::ir::MapOp, input: &Type) -> Result<Type, String> {
    if *input != Type::Data(m.data) {
        return Err(format!("map input {} has type {input:?}", m.input));
    }
    let n = module.data.get(m.data).map_or(0, |d| d.ctors.len());
    if (0..n).any(|i| module.mapped_fields(m.data, m.out, i).is_none()) || n == 0 {
        return Err(format!(
            "map result {} is not {} with tensor fields appended to each constructor",
            m.out, m.data
        ));
    }
    Ok(Type::Data(m.out))
}
