//! Values of one example, and the types that describe them.
//!
//! A model is written for one example; an example's input is a `Value` and
//! its target a `Target`. Values are stored in f64 so that the reference
//! interpreter and gradient checks run in full precision; kernels convert
//! to their own dtype when they gather a batch.
//!
//! Inductive data (lists, trees, user data types) is a tree of `Node`s: the
//! constructor's index in the functor's declaration order, and its fields in
//! order, where a recursive position (`X`) holds the child value. The prelude
//! fixes `ListF = nil | cons(A, X)` (nil = 0, cons = 1) and
//! `TreeF = leaf(A) | node(X, X)` (leaf = 0, node = 1).

use std::fmt;
use std::sync::Arc;

/// A dense row-major tensor of f64.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    /// The extent of each axis; empty for a scalar.
    pub shape: Vec<usize>,
    /// `shape.iter().product()` numbers, row-major.
    pub data: Vec<f64>,
}

impl Tensor {
    /// A tensor of the given shape and data.
    ///
    /// Panics if the lengths disagree: callers build tensors from shapes they
    /// have already checked.
    pub fn new(shape: Vec<usize>, data: Vec<f64>) -> Tensor {
        assert_eq!(
            shape.iter().product::<usize>(),
            data.len(),
            "tensor data does not fill its shape {shape:?}"
        );
        Tensor { shape, data }
    }

    /// A tensor of zeros.
    pub fn zeros(shape: Vec<usize>) -> Tensor {
        let n = shape.iter().product();
        Tensor {
            shape,
            data: vec![0.0; n],
        }
    }

    /// A rank-0 tensor.
    pub fn scalar(x: f64) -> Tensor {
        Tensor {
            shape: Vec::new(),
            data: vec![x],
        }
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

mod deep;

/// The value of an input (or output) of one example. `Clone`, `PartialEq`
/// and `Drop` do not recurse (`deep.rs`), so values of any depth can be
/// copied, compared and dropped.
#[derive(Debug)]
pub enum Value {
    /// A tensor (a scalar `R` is a rank-0 tensor).
    Tensor(Tensor),
    /// A product: pairs, or the several inputs of a model.
    Tuple(Vec<Value>),
    /// A node of an inductive data type.
    Node {
        /// The constructor's index in the functor's declaration order.
        ctor: u32,
        /// The constructor's fields in order.
        fields: Vec<Value>,
    },
}

/// Constructor indices of the prelude's `ListF`.
pub const LIST_NIL: u32 = 0;
/// See `LIST_NIL`.
pub const LIST_CONS: u32 = 1;
/// Constructor indices of the prelude's `TreeF`.
pub const TREE_LEAF: u32 = 0;
/// See `TREE_LEAF`.
pub const TREE_NODE: u32 = 1;

impl Value {
    /// The list `[items...]` as a `nil`/`cons` chain.
    pub fn list(items: Vec<Value>) -> Value {
        let mut v = Value::Node {
            ctor: LIST_NIL,
            fields: Vec::new(),
        };
        for item in items.into_iter().rev() {
            v = Value::Node {
                ctor: LIST_CONS,
                fields: vec![item, v],
            };
        }
        v
    }

    /// The elements of a `nil`/`cons` chain, or `None` if this is not a list.
    pub fn as_list(&self) -> Option<Vec<&Value>> {
        let mut out = Vec::new();
        let mut cur = self;
        loop {
            match cur {
                Value::Node { ctor, fields } if *ctor == LIST_NIL && fields.is_empty() => {
                    return Some(out);
                }
                Value::Node { ctor, fields } if *ctor == LIST_CONS && fields.len() == 2 => {
                    out.push(&fields[0]);
                    cur = &fields[1];
                }
                _ => return None,
            }
        }
    }

    /// A tree leaf holding `x`.
    pub fn leaf(x: Value) -> Value {
        Value::Node {
            ctor: TREE_LEAF,
            fields: vec![x],
        }
    }

    /// A tree node with two children.
    pub fn node(l: Value, r: Value) -> Value {
        Value::Node {
            ctor: TREE_NODE,
            fields: vec![l, r],
        }
    }

    /// The tensor, if this value is one.
    pub fn as_tensor(&self) -> Option<&Tensor> {
        match self {
            Value::Tensor(t) => Some(t),
            _ => None,
        }
    }
}

impl Drop for Value {
    /// Long lists are deep chains; drop them iteratively so that a list of a
    /// million elements does not overflow the stack.
    fn drop(&mut self) {
        let mut stack: Vec<Value> = Vec::new();
        if let Value::Node { fields, .. } | Value::Tuple(fields) = self {
            stack.append(fields);
        }
        while let Some(mut v) = stack.pop() {
            if let Value::Node { fields, .. } | Value::Tuple(fields) = &mut v {
                stack.append(fields);
            }
        }
    }
}

/// The target of one example, as the loss expects it.
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    /// A class index (`cross_entropy`).
    Class(usize),
    /// A tensor (`mse`, `binary_cross_entropy`).
    Tensor(Tensor),
    /// One target per position of a `List` output.
    Seq(Vec<Target>),
}

/// One example: an input and its target.
#[derive(Clone, Debug, PartialEq)]
pub struct Example {
    /// The model's input; a `Tuple` when the model takes several.
    pub x: Value,
    /// What the loss compares the output with.
    pub y: Target,
}

/// The type of a value, as data loaders and generators check it.
#[derive(Clone, Debug, PartialEq)]
pub enum DataType {
    /// A tensor of this shape (`[]` for `R`).
    Tensor(Vec<usize>),
    /// A product.
    Tuple(Vec<DataType>),
    /// An inductive data type.
    Data(Arc<DataDecl>),
    /// A recursive position: `Rec(0)` is the innermost enclosing `Data`,
    /// `Rec(1)` the one around it (a rose tree's `List(X)` field holds
    /// `Rec(1)` for its elements and `Rec(0)` for the list's tail).
    Rec(u32),
}

/// An inductive data type: a named sum of constructors.
#[derive(Clone, Debug, PartialEq)]
pub struct DataDecl {
    /// The type's name as written, with its arguments (`List(R[2])`).
    pub name: String,
    /// The constructors in declaration order.
    pub ctors: Vec<CtorDecl>,
}

/// One constructor of a data type.
#[derive(Clone, Debug, PartialEq)]
pub struct CtorDecl {
    /// The constructor's name.
    pub name: String,
    /// Its field types.
    pub fields: Vec<DataType>,
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataType::Tensor(s) if s.is_empty() => write!(f, "R"),
            DataType::Tensor(s) => {
                write!(f, "R[")?;
                for (i, d) in s.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{d}")?;
                }
                write!(f, "]")
            }
            DataType::Tuple(ts) => {
                for (i, t) in ts.iter().enumerate() {
                    if i > 0 {
                        write!(f, " * ")?;
                    }
                    write!(f, "{t}")?;
                }
                Ok(())
            }
            DataType::Data(d) => write!(f, "{}", d.name),
            DataType::Rec(0) => write!(f, "X"),
            DataType::Rec(k) => write!(f, "X{k}"),
        }
    }
}

impl DataType {
    /// The prelude's `List(elem) = fix ListF(elem)`: `nil | cons(elem, X)`.
    ///
    /// `elem` is written as it appears at the use site; a recursive position
    /// inside it (the `X` of a rose tree's `List(X)`) is shifted by one so
    /// that it still names the same enclosing data type from inside the list.
    pub fn list(elem: DataType) -> DataType {
        let name = format!("List({elem})");
        DataType::Data(Arc::new(DataDecl {
            name,
            ctors: vec![
                CtorDecl {
                    name: "nil".into(),
                    fields: Vec::new(),
                },
                CtorDecl {
                    name: "cons".into(),
                    fields: vec![elem.shifted(1, 0), DataType::Rec(0)],
                },
            ],
        }))
    }

    /// The prelude's `Tree(elem) = fix TreeF(elem)`: `leaf(elem) | node(X, X)`.
    ///
    /// Recursive positions inside `elem` are shifted as in [`DataType::list`].
    pub fn tree(elem: DataType) -> DataType {
        let name = format!("Tree({elem})");
        DataType::Data(Arc::new(DataDecl {
            name,
            ctors: vec![
                CtorDecl {
                    name: "leaf".into(),
                    fields: vec![elem.shifted(1, 0)],
                },
                CtorDecl {
                    name: "node".into(),
                    fields: vec![DataType::Rec(0), DataType::Rec(0)],
                },
            ],
        }))
    }

    /// This type with every recursive position that points outside `cutoff`
    /// enclosing data types moved `by` levels further out (de Bruijn shift).
    pub fn shifted(&self, by: u32, cutoff: u32) -> DataType {
        match self {
            DataType::Tensor(s) => DataType::Tensor(s.clone()),
            DataType::Tuple(ts) => {
                DataType::Tuple(ts.iter().map(|t| t.shifted(by, cutoff)).collect())
            }
            DataType::Rec(k) if *k >= cutoff => DataType::Rec(k + by),
            DataType::Rec(k) => DataType::Rec(*k),
            DataType::Data(d) if !d.mentions_outer(0) => DataType::Data(d.clone()),
            DataType::Data(d) => DataType::Data(Arc::new(DataDecl {
                name: d.name.clone(),
                ctors: d
                    .ctors
                    .iter()
                    .map(|c| CtorDecl {
                        name: c.name.clone(),
                        fields: c.fields.iter().map(|f| f.shifted(by, cutoff + 1)).collect(),
                    })
                    .collect(),
            })),
        }
    }
}

impl DataDecl {
    /// Whether this is the prelude's list shape: `nil | cons(A, X)`.
    pub fn is_list(&self) -> bool {
        matches!(
            self.ctors.as_slice(),
            [nil, cons] if nil.name == "nil"
                && nil.fields.is_empty()
                && cons.name == "cons"
                && cons.fields.len() == 2
                && cons.fields[1] == DataType::Rec(0)
        )
    }

    /// Whether a field refers to a data type enclosing this one by more than
    /// `depth` levels (a recursive position that is free in this declaration).
    fn mentions_outer(&self, depth: u32) -> bool {
        fn mentions(t: &DataType, depth: u32) -> bool {
            match t {
                DataType::Tensor(_) => false,
                DataType::Tuple(ts) => ts.iter().any(|t| mentions(t, depth)),
                DataType::Rec(k) => *k > depth,
                DataType::Data(d) => d.mentions_outer(depth + 1),
            }
        }
        self.ctors
            .iter()
            .any(|c| c.fields.iter().any(|f| mentions(f, depth)))
    }
}
