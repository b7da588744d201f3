//! `Scalar`: the number types the interpreter runs in (f64 and f32), and
//! `Array`, a dense row-major tensor of them.

use std::fmt::Debug;
use std::ops::{Add, Div, Mul, Neg, Sub};

use cdlc_runtime::value::Tensor;

/// A floating-point type the interpreter can compute in.
pub trait Scalar:
    Copy
    + PartialOrd
    + Debug
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + 'static
{
    /// Converts from f64 (rounding for f32).
    fn from_f64(x: f64) -> Self;
    /// Converts to f64 (exactly).
    fn to_f64(self) -> f64;
    /// `e^x`.
    fn exp(self) -> Self;
    /// `ln x`.
    fn ln(self) -> Self;
    /// `tanh x`.
    fn tanh(self) -> Self;
    /// `√x`.
    fn sqrt(self) -> Self;
    /// `|x|`.
    fn abs(self) -> Self;
    /// `ln(1 + x)`, accurate near 0.
    fn ln_1p(self) -> Self;

    /// 0.
    fn zero() -> Self {
        Self::from_f64(0.0)
    }
    /// 1.
    fn one() -> Self {
        Self::from_f64(1.0)
    }
}

macro_rules! impl_scalar {
    ($t:ty) => {
        impl Scalar for $t {
            fn from_f64(x: f64) -> Self {
                x as $t
            }
            fn to_f64(self) -> f64 {
                self as f64
            }
            fn exp(self) -> Self {
                <$t>::exp(self)
            }
            fn ln(self) -> Self {
                <$t>::ln(self)
            }
            fn tanh(self) -> Self {
                <$t>::tanh(self)
            }
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
            fn abs(self) -> Self {
                <$t>::abs(self)
            }
            fn ln_1p(self) -> Self {
                <$t>::ln_1p(self)
            }
        }
    };
}
impl_scalar!(f64);
impl_scalar!(f32);

/// A dense row-major tensor of `T`.
#[derive(Clone, Debug, PartialEq)]
pub struct Array<T> {
    /// The extent of each axis; empty for a scalar.
    pub shape: Vec<usize>,
    /// The entries, row-major.
    pub data: Vec<T>,
}

impl<T: Scalar> Array<T> {
    /// An array of the given shape and entries.
    pub fn new(shape: Vec<usize>, data: Vec<T>) -> Array<T> {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len());
        Array { shape, data }
    }

    /// Zeros of a shape.
    pub fn zeros(shape: &[usize]) -> Array<T> {
        Array {
            shape: shape.to_vec(),
            data: vec![T::zero(); shape.iter().product()],
        }
    }

    /// A scalar.
    pub fn scalar(x: T) -> Array<T> {
        Array {
            shape: Vec::new(),
            data: vec![x],
        }
    }

    /// Converts a runtime tensor.
    pub fn from_tensor(t: &Tensor) -> Array<T> {
        Array {
            shape: t.shape.clone(),
            data: t.data.iter().map(|&x| T::from_f64(x)).collect(),
        }
    }

    /// Converts to a runtime tensor.
    pub fn to_tensor(&self) -> Tensor {
        Tensor::new(
            self.shape.clone(),
            self.data.iter().map(|x| x.to_f64()).collect(),
        )
    }

    /// The same entries with `f` applied.
    pub fn map(&self, f: impl Fn(T) -> T) -> Array<T> {
        Array {
            shape: self.shape.clone(),
            data: self.data.iter().map(|&x| f(x)).collect(),
        }
    }
}
