//! Scalars that generators are written with: exact rationals or floats.
//!
//! Every built-in generator is an integer matrix, and a decimal literal such
//! as `0.5` is an exact rational, so most problems never see a float. A
//! [`Number::Float`] enters only when the caller has a value that is not a
//! rational (for example a computed `cos(1)`), and it switches the solver to
//! floating point for every problem that involves that generator.

use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{One, Signed, ToPrimitive, Zero};
use std::fmt;

/// An exact rational number.
pub type Rational = BigRational;

/// One entry of a generator matrix as the caller wrote it.
#[derive(Clone, Debug, PartialEq)]
pub enum Number {
    /// An exact rational (integers and decimal literals are exact).
    Exact(Rational),
    /// A floating-point value with no exact meaning.
    Float(f64),
}

impl Number {
    /// An exact integer.
    pub fn int(n: i64) -> Number {
        Number::Exact(Rational::from_integer(BigInt::from(n)))
    }

    /// An exact fraction `num / den`; `den` must not be zero.
    pub fn ratio(num: i64, den: i64) -> Number {
        assert!(den != 0, "Number::ratio with a zero denominator");
        Number::Exact(Rational::new(BigInt::from(num), BigInt::from(den)))
    }

    /// Parses a decimal literal (`-3`, `0.25`, `1e-3`, `2/3`) exactly.
    ///
    /// Returns `None` when the text is not a number of that form.
    pub fn parse_exact(text: &str) -> Option<Number> {
        parse_decimal(text.trim()).map(Number::Exact)
    }

    /// The value as an `f64`.
    pub fn to_f64(&self) -> f64 {
        match self {
            Number::Exact(q) => rational_to_f64(q),
            Number::Float(x) => *x,
        }
    }

    /// The value when it is exact.
    pub fn as_exact(&self) -> Option<&Rational> {
        match self {
            Number::Exact(q) => Some(q),
            Number::Float(_) => None,
        }
    }
}

impl From<i64> for Number {
    fn from(n: i64) -> Number {
        Number::int(n)
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Number::Exact(q) => write!(f, "{}", show_rational(q)),
            Number::Float(x) => write!(f, "{x}"),
        }
    }
}

/// Converts a rational to the nearest `f64` (through its parts, which is
/// exact enough for the small values generators hold).
pub fn rational_to_f64(q: &Rational) -> f64 {
    let n = q.numer().to_f64().unwrap_or(f64::NAN);
    let d = q.denom().to_f64().unwrap_or(f64::NAN);
    n / d
}

/// The integer `n` as a rational.
pub fn rat(n: i64) -> Rational {
    Rational::from_integer(BigInt::from(n))
}

/// Prints `3`, `-1/2`.
pub fn show_rational(q: &Rational) -> String {
    if q.denom().is_one() {
        q.numer().to_string()
    } else {
        format!("{}/{}", q.numer(), q.denom())
    }
}

/// True when `|q| = 1`.
pub fn is_unit(q: &Rational) -> bool {
    q.denom().is_one() && q.numer().abs().is_one()
}

fn parse_decimal(text: &str) -> Option<Rational> {
    if let Some((a, b)) = text.split_once('/') {
        let a = parse_decimal(a.trim())?;
        let b = parse_decimal(b.trim())?;
        return if b.is_zero() { None } else { Some(a / b) };
    }
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(k) => (&text[..k], text[k + 1..].parse::<i32>().ok()?),
        None => (text, 0),
    };
    let (negative, digits) = match mantissa.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, mantissa.strip_prefix('+').unwrap_or(mantissa)),
    };
    let (int_part, frac_part) = digits.split_once('.').unwrap_or((digits, ""));
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    let all = format!("{int_part}{frac_part}");
    if !all.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let mut value = Rational::from_integer(all.parse::<BigInt>().ok()?);
    // value = digits · 10^(exponent − #fraction digits)
    let shift = exponent - frac_part.len() as i32;
    let ten = Rational::from_integer(BigInt::from(10));
    for _ in 0..shift.unsigned_abs() {
        if shift > 0 {
            value *= ten.clone();
        } else {
            value /= ten.clone();
        }
    }
    Some(if negative { -value } else { value })
}
