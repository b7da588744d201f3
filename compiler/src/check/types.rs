//! The checker's types: tensors with static (possibly generic) shapes,
//! products, data types as fixed points of functors, and morphisms.

use super::size::{Poly, Var};
use std::fmt;

/// A static shape: one size per axis.
pub type Shape = Vec<Poly>;

/// Index of a functor in the checker's functor table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FunctorId(pub u32);

/// Index of a declared space in the checker's space table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpaceId(pub u32);

/// A type.
#[derive(Clone, Debug)]
pub enum Ty {
    /// A tensor; `R` has the empty shape. The space tag, when known, says
    /// which declared space the value lives in (for `norm`, `gate` and the
    /// equivariance proofs); it does not take part in type equality.
    Tensor(Shape, Option<SpaceId>),
    /// An equivariant parameter: a linear map between the shapes of two
    /// spaces, applied with `@` to the whole domain.
    Map {
        /// The domain's shape.
        from: Shape,
        /// The codomain's shape.
        to: Shape,
        /// The codomain's space, given to `W @ x`.
        to_space: Option<SpaceId>,
    },
    /// The unit type `1`.
    Unit,
    /// A product of two or more types.
    Tuple(Vec<Ty>),
    /// `fix F(args)` (or `cofix` when `co`): a data type.
    Data {
        /// `true` for a final coalgebra.
        co: bool,
        /// The functor.
        functor: FunctorId,
        /// Its arguments.
        args: Vec<Ty>,
    },
    /// A Para morphism used as a value: `let enc = dense[16, 8]`.
    Morph(Box<Ty>, Box<Ty>),
    /// The i-th type parameter of the functor or data type being declared.
    Param(u32),
    /// The carrier position `X` of the functor being declared.
    X,
    /// `I -> T` inside a functor constructor.
    Arrow(Box<Ty>, Box<Ty>),
    /// The type of an expression that already has an error reported.
    Error,
}

impl Ty {
    /// A tensor with no space tag.
    pub fn tensor(shape: Shape) -> Ty {
        Ty::Tensor(shape, None)
    }

    /// The scalar type `R`.
    pub fn real() -> Ty {
        Ty::Tensor(Vec::new(), None)
    }

    /// Whether this is the error type (so no further error is reported).
    pub fn is_error(&self) -> bool {
        matches!(self, Ty::Error)
    }

    /// Structural equality, ignoring space tags; the error type equals
    /// everything so that one mistake is reported once.
    pub fn same(&self, other: &Ty) -> bool {
        match (self, other) {
            (Ty::Error, _) | (_, Ty::Error) => true,
            (Ty::Tensor(a, _), Ty::Tensor(b, _)) => a == b,
            (
                Ty::Map {
                    from: f1, to: t1, ..
                },
                Ty::Map {
                    from: f2, to: t2, ..
                },
            ) => f1 == f2 && t1 == t2,
            (Ty::Unit, Ty::Unit) | (Ty::X, Ty::X) => true,
            (Ty::Tuple(a), Ty::Tuple(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.same(y))
            }
            (
                Ty::Data {
                    co: c1,
                    functor: f1,
                    args: a1,
                },
                Ty::Data {
                    co: c2,
                    functor: f2,
                    args: a2,
                },
            ) => {
                c1 == c2
                    && f1 == f2
                    && a1.len() == a2.len()
                    && a1.iter().zip(a2).all(|(x, y)| x.same(y))
            }
            (Ty::Morph(d1, c1), Ty::Morph(d2, c2)) | (Ty::Arrow(d1, c1), Ty::Arrow(d2, c2)) => {
                d1.same(d2) && c1.same(c2)
            }
            (Ty::Param(a), Ty::Param(b)) => a == b,
            _ => false,
        }
    }

    /// The shape, if this is a tensor.
    pub fn shape(&self) -> Option<&Shape> {
        match self {
            Ty::Tensor(s, _) => Some(s),
            _ => None,
        }
    }

    /// Replaces `Param(i)` by `args[i]` and `X` by `carrier`.
    pub fn instantiate(&self, args: &[Ty], carrier: Option<&Ty>) -> Ty {
        match self {
            Ty::Param(i) => args.get(*i as usize).cloned().unwrap_or(Ty::Error),
            Ty::X => carrier.cloned().unwrap_or(Ty::X),
            Ty::Tuple(ts) => Ty::Tuple(ts.iter().map(|t| t.instantiate(args, carrier)).collect()),
            Ty::Data {
                co,
                functor,
                args: a,
            } => Ty::Data {
                co: *co,
                functor: *functor,
                args: a.iter().map(|t| t.instantiate(args, carrier)).collect(),
            },
            Ty::Arrow(a, b) => Ty::Arrow(
                Box::new(a.instantiate(args, carrier)),
                Box::new(b.instantiate(args, carrier)),
            ),
            Ty::Morph(a, b) => Ty::Morph(
                Box::new(a.instantiate(args, carrier)),
                Box::new(b.instantiate(args, carrier)),
            ),
            other => other.clone(),
        }
    }

    /// Applies a size substitution to every shape in the type.
    pub fn subst_sizes(&self, subst: &dyn Fn(Var) -> Option<Poly>) -> Ty {
        let sh = |s: &Shape| s.iter().map(|p| p.substitute(subst)).collect::<Shape>();
        match self {
            Ty::Tensor(s, sp) => Ty::Tensor(sh(s), *sp),
            Ty::Map { from, to, to_space } => Ty::Map {
                from: sh(from),
                to: sh(to),
                to_space: *to_space,
            },
            Ty::Tuple(ts) => Ty::Tuple(ts.iter().map(|t| t.subst_sizes(subst)).collect()),
            Ty::Data { co, functor, args } => Ty::Data {
                co: *co,
                functor: *functor,
                args: args.iter().map(|t| t.subst_sizes(subst)).collect(),
            },
            Ty::Arrow(a, b) => Ty::Arrow(
                Box::new(a.subst_sizes(subst)),
                Box::new(b.subst_sizes(subst)),
            ),
            Ty::Morph(a, b) => Ty::Morph(
                Box::new(a.subst_sizes(subst)),
                Box::new(b.subst_sizes(subst)),
            ),
            other => other.clone(),
        }
    }

    /// Whether the carrier `X` occurs anywhere in the type.
    pub fn mentions_x(&self) -> bool {
        match self {
            Ty::X => true,
            Ty::Tuple(ts) => ts.iter().any(Ty::mentions_x),
            Ty::Data { args, .. } => args.iter().any(Ty::mentions_x),
            Ty::Arrow(a, b) | Ty::Morph(a, b) => a.mentions_x() || b.mentions_x(),
            _ => false,
        }
    }
}

/// How to print the names the types refer to.
pub trait Namer {
    /// The name of a size variable.
    fn var(&self, v: Var) -> String;
    /// How to print a data type `fix F(args)`: the data type's name if one
    /// is declared, else `fix F`.
    fn data(&self, co: bool, f: FunctorId) -> String;
    /// The name of a functor's i-th parameter (in functor declarations).
    fn param(&self, i: u32) -> String;
}

/// A type with a namer, for printing.
pub struct TyDisplay<'a> {
    /// The type.
    pub ty: &'a Ty,
    /// The names.
    pub namer: &'a dyn Namer,
}

/// Writes a shape: `R[4, n]`, or `R` for a scalar.
pub fn write_shape(f: &mut dyn fmt::Write, shape: &Shape, namer: &dyn Namer) -> fmt::Result {
    if shape.is_empty() {
        return write!(f, "R");
    }
    write!(f, "R[")?;
    let name = |v: Var| namer.var(v);
    for (i, p) in shape.iter().enumerate() {
        if i > 0 {
            write!(f, ", ")?;
        }
        write!(f, "{}", p.display(&name))?;
    }
    write!(f, "]")
}

impl<'a> fmt::Display for TyDisplay<'a> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = |t: &'a Ty| TyDisplay {
            ty: t,
            namer: self.namer,
        };
        match self.ty {
            Ty::Tensor(s, _) => write_shape(f, s, self.namer),
            Ty::Map { from, to, .. } => {
                write!(f, "equivariant ")?;
                write_shape(f, from, self.namer)?;
                write!(f, " -> ")?;
                write_shape(f, to, self.namer)
            }
            Ty::Unit => write!(f, "1"),
            Ty::Tuple(ts) => {
                for (i, t) in ts.iter().enumerate() {
                    if i > 0 {
                        write!(f, " * ")?;
                    }
                    if matches!(t, Ty::Tuple(_) | Ty::Morph(..) | Ty::Arrow(..)) {
                        write!(f, "({})", d(t))?;
                    } else {
                        write!(f, "{}", d(t))?;
                    }
                }
                Ok(())
            }
            Ty::Data { co, functor, args } => {
                write!(f, "{}", self.namer.data(*co, *functor))?;
                if !args.is_empty() {
                    write!(f, "(")?;
                    for (i, a) in args.iter().enumerate() {
                        if i > 0 {
                            write!(f, ", ")?;
                        }
                        write!(f, "{}", d(a))?;
                    }
                    write!(f, ")")?;
                }
                Ok(())
            }
            Ty::Morph(a, b) => write!(f, "{} -> {}", d(a), d(b)),
            Ty::Arrow(a, b) => write!(f, "[{}, {}]", d(a), d(b)),
            Ty::Param(i) => write!(f, "{}", self.namer.param(*i)),
            Ty::X => write!(f, "X"),
            Ty::Error => write!(f, "{{error}}"),
        }
    }
}
