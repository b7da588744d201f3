//! The interpreter's nested fields (`Tree(X)`, `List(A * X)`): the
//! structure a fold binds there, with the children's carriers in the
//! recursive positions, and the way cotangents go back through it.
//!
//! A field's runtime type names the enclosing data type's recursive
//! position `Rec(depth)` from `depth` data types inside it (`Rec(k)` for a
//! smaller `k` is one of those data types, found in `scope`). The walks
//! here follow the value and its type together, so that the positions are
//! visited in the same order when the children are laid out, when their
//! carriers are put in, and when their cotangents are taken out.

use std::rc::Rc;
use std::sync::Arc;

use cdlc_runtime::value::{DataDecl, DataType, Value as Data};

use super::{
    Array, IVal, InterpError, Scalar, clone_data, describe, input_error, to_ival, zeros_of,
};
use crate::ir::Type;

/// A part of a structure a fold walks: loaded input data or a computed
/// structure.
pub(super) trait Part<T>: Sized {
    /// The constructor and fields, if this is a node.
    fn node(&self) -> Option<(u32, &[Self])>;
    /// The components, if this is a tuple.
    fn tuple(&self) -> Option<&[Self]>;
    /// A plain field of IR type `ty` as the interpreter's value.
    fn plain(&self, ty: &Type) -> Result<IVal<T>, InterpError>;
    /// A tensor of this shape, if this is one.
    fn tensor(&self, shape: &[usize]) -> Option<IVal<T>>;
    /// A data-typed part without recursive positions, kept whole.
    fn whole(&self) -> IVal<T>;
    /// A one-level description for error messages.
    fn describe(&self) -> String;
}

impl<T: Scalar> Part<T> for Data {
    fn node(&self) -> Option<(u32, &[Data])> {
        match self {
            Data::Node { ctor, fields } => Some((*ctor, fields)),
            _ => None,
        }
    }

    fn tuple(&self) -> Option<&[Data]> {
        match self {
            Data::Tuple(xs) => Some(xs),
            _ => None,
        }
    }

    fn plain(&self, ty: &Type) -> Result<IVal<T>, InterpError> {
        to_ival(ty, self)
    }

    fn tensor(&self, shape: &[usize]) -> Option<IVal<T>> {
        match self {
            Data::Tensor(t) if t.shape == shape => Some(IVal::Tensor(Array::from_tensor(t))),
            _ => None,
        }
    }

    fn whole(&self) -> IVal<T> {
        IVal::Data(Rc::new(clone_data(self)))
    }

    fn describe(&self) -> String {
        describe(self)
    }
}

impl<T: Scalar> Part<T> for IVal<T> {
    fn node(&self) -> Option<(u32, &[IVal<T>])> {
        match self {
            IVal::Node { ctor, fields } => Some((*ctor, fields)),
            _ => None,
        }
    }

    fn tuple(&self) -> Option<&[IVal<T>]> {
        match self {
            IVal::Tuple(xs) => Some(xs),
            _ => None,
        }
    }

    fn plain(&self, _: &Type) -> Result<IVal<T>, InterpError> {
        Ok(self.clone())
    }

    fn tensor(&self, shape: &[usize]) -> Option<IVal<T>> {
        match self {
            IVal::Tensor(a) if a.shape == shape => Some(self.clone()),
            _ => None,
        }
    }

    fn whole(&self) -> IVal<T> {
        self.clone()
    }

    fn describe(&self) -> String {
        "a computed value".to_string()
    }
}

/// The elements of a `nil`/`cons` chain of parts.
pub(super) fn list_items<T, P: Part<T>>(x: &P) -> Option<Vec<&P>> {
    let mut out = Vec::new();
    let mut cur = x;
    loop {
        match cur.node()? {
            (0, []) => return Some(out),
            (1, [head, tail]) => {
                out.push(head);
                cur = tail;
            }
            _ => return None,
        }
    }
}

/// Whether a part of type `t`, met inside the data types of `scope`, can
/// hold the enclosing data type's recursive position: it mentions that
/// position, or one of the data types of `scope`, each of which holds it
/// (they are entered only for that reason). The second case is a rose
/// tree's `List(X)` inside a nested field `Rose(X)`: its elements are
/// `Rose` nodes, which hold the enclosing type's children, though the list
/// type alone does not mention them.
fn holds_hole(t: &DataType, scope: &[Arc<DataDecl>]) -> bool {
    let depth = scope.len() as u32;
    crate::nested::mentions_within(t, depth, depth)
}

/// A nested field's value with its recursive positions left open.
#[derive(Debug)]
pub(super) enum Shape<T> {
    /// A recursive position: a child's carrier goes here.
    Hole,
    /// A part without recursive positions.
    Val(IVal<T>),
    /// A tuple.
    Tuple(Vec<Shape<T>>),
    /// A node of a data type inside the field.
    Node(u32, Vec<Shape<T>>),
}

/// The shape of field value `x` of type `ty` (seen `scope.len()` data
/// types in), pushing the children it holds, in order, onto `holes`.
pub(super) fn template<'x, T: Scalar, P: Part<T>>(
    ty: &DataType,
    scope: &mut Vec<Arc<DataDecl>>,
    x: &'x P,
    holes: &mut Vec<&'x P>,
) -> Result<Shape<T>, InterpError> {
    let depth = scope.len() as u32;
    match ty {
        DataType::Rec(k) if *k == depth => {
            holes.push(x);
            Ok(Shape::Hole)
        }
        DataType::Rec(k) => {
            // A node of the data type `k` levels out: seen from inside it,
            // the levels within it are gone.
            let rest = scope.split_off(scope.len() - 1 - *k as usize);
            let r = node_template(&rest[0], scope, x, holes);
            scope.extend(rest);
            r
        }
        DataType::Tensor(s) => match x.tensor(s) {
            Some(v) => Ok(Shape::Val(v)),
            None => input_error(format!(
                "expected a tensor of shape {s:?}, found {}",
                x.describe()
            )),
        },
        DataType::Tuple(ts) => {
            let Some(xs) = x.tuple().filter(|xs| xs.len() == ts.len()) else {
                return input_error(format!(
                    "expected a tuple of {}, found {}",
                    ts.len(),
                    x.describe()
                ));
            };
            ts.iter()
                .zip(xs)
                .map(|(t, x)| template(t, scope, x, holes))
                .collect::<Result<_, _>>()
                .map(Shape::Tuple)
        }
        DataType::Data(d) if holds_hole(ty, scope) => node_template(d, scope, x, holes),
        DataType::Data(_) => match x.node() {
            Some(_) => Ok(Shape::Val(x.whole())),
            None => input_error(format!("expected a node, found {}", x.describe())),
        },
    }
}

/// The shape of a node of `decl` inside a nested field.
fn node_template<'x, T: Scalar, P: Part<T>>(
    decl: &Arc<DataDecl>,
    scope: &mut Vec<Arc<DataDecl>>,
    x: &'x P,
    holes: &mut Vec<&'x P>,
) -> Result<Shape<T>, InterpError> {
    let Some((ctor, fields)) = x.node() else {
        return input_error(format!(
            "expected a {} node, found {}",
            decl.name,
            x.describe()
        ));
    };
    let Some(c) = decl
        .ctors
        .get(ctor as usize)
        .filter(|c| c.fields.len() == fields.len())
    else {
        return input_error(format!(
            "{} has no constructor {ctor} with {} fields",
            decl.name,
            fields.len()
        ));
    };
    scope.push(decl.clone());
    let parts = c
        .fields
        .iter()
        .zip(fields)
        .map(|(t, f)| template(t, scope, f, holes))
        .collect::<Result<_, _>>();
    scope.pop();
    Ok(Shape::Node(ctor, parts?))
}

/// The structure a fold binds: `shape` with the next carrier in each hole.
pub(super) fn fill<T>(shape: Shape<T>, carriers: &mut impl Iterator<Item = IVal<T>>) -> IVal<T> {
    match shape {
        Shape::Hole => carriers.next().expect("one carrier per recursive position"),
        Shape::Val(v) => v,
        Shape::Tuple(ps) => IVal::Tuple(ps.into_iter().map(|p| fill(p, carriers)).collect()),
        Shape::Node(ctor, ps) => IVal::Node {
            ctor,
            fields: ps.into_iter().map(|p| fill(p, carriers)).collect(),
        },
    }
}

/// Component `i` of a cotangent: of a tuple or node, or zero.
fn component<T: Clone>(ct: &IVal<T>, i: usize) -> IVal<T> {
    match ct {
        IVal::Tuple(cs) | IVal::Node { fields: cs, .. } => cs[i].clone(),
        _ => IVal::Zero,
    }
}

/// A zero cotangent of the shape of `v`.
pub(super) fn zero_like<T: Scalar>(v: &IVal<T>) -> IVal<T> {
    match v {
        IVal::Tensor(a) => IVal::Tensor(Array::zeros(&a.shape)),
        IVal::Tuple(vs) => IVal::Tuple(vs.iter().map(zero_like).collect()),
        IVal::Seq(_) => IVal::Seq(Vec::new()),
        _ => IVal::Zero,
    }
}

/// The cotangents of the children in nested field `ty` of the bound
/// structure `bound` (as the fold bound it) from its cotangent `ct`,
/// pushed in the order of the children (zero where `ct` is zero).
pub(super) fn hole_cotangents<T: Scalar>(
    ty: &DataType,
    scope: &mut Vec<Arc<DataDecl>>,
    (bound, ct): (&IVal<T>, &IVal<T>),
    carrier: &Type,
    out: &mut Vec<IVal<T>>,
) {
    rebuild(ty, scope, (bound, ct), &mut |c: &IVal<T>| {
        out.push(match c {
            IVal::Zero => zeros_of(carrier),
            c => c.clone(),
        });
        IVal::Zero
    });
}

/// The cotangent of the input structure at nested field `ty`, from the
/// bound structure's cotangent `ct`: the same, with each child's position
/// holding what `kid` gives for it (the child's own structure cotangent).
pub(super) fn with_children<T: Scalar>(
    ty: &DataType,
    (bound, ct): (&IVal<T>, &IVal<T>),
    kid: &mut impl FnMut(&IVal<T>) -> IVal<T>,
) -> IVal<T> {
    rebuild(ty, &mut Vec::new(), (bound, ct), kid)
}

/// Walks a bound nested field and its cotangent together, rebuilding the
/// cotangent with `hole`'s result at each recursive position.
fn rebuild<T: Scalar>(
    ty: &DataType,
    scope: &mut Vec<Arc<DataDecl>>,
    (bound, ct): (&IVal<T>, &IVal<T>),
    hole: &mut impl FnMut(&IVal<T>) -> IVal<T>,
) -> IVal<T> {
    let depth = scope.len() as u32;
    let decl = match ty {
        DataType::Rec(k) if *k == depth => return hole(ct),
        DataType::Rec(k) => {
            // As in `template`: the levels inside that data type are gone.
            let rest = scope.split_off(scope.len() - 1 - *k as usize);
            let r = rebuild(&DataType::Data(rest[0].clone()), scope, (bound, ct), hole);
            scope.extend(rest);
            return r;
        }
        DataType::Data(d) if holds_hole(ty, scope) => d.clone(),
        DataType::Tuple(ts) if holds_hole(ty, scope) => {
            let IVal::Tuple(bs) = bound else {
                panic!("internal error: a bound tuple is not a tuple");
            };
            return IVal::Tuple(
                ts.iter()
                    .zip(bs)
                    .enumerate()
                    .map(|(i, (t, b))| rebuild(t, scope, (b, &component(ct, i)), hole))
                    .collect(),
            );
        }
        _ => {
            return match ct {
                IVal::Zero => zero_like(bound),
                c => c.clone(),
            };
        }
    };
    let IVal::Node { ctor, fields } = bound else {
        panic!("internal error: a bound node is not a node");
    };
    let c = &decl.ctors[*ctor as usize];
    scope.push(decl.clone());
    let out = c
        .fields
        .iter()
        .zip(fields)
        .enumerate()
        .map(|(i, (t, b))| rebuild(t, scope, (b, &component(ct, i)), hole))
        .collect();
    scope.pop();
    IVal::Node {
        ctor: *ctor,
        fields: out,
    }
}
