//! Sizes as polynomials over size parameters, in a normal form.
//!
//! Definitions are checked generically, once: `R[d]` and `R[h]` are
//! different types unless their normal forms are equal. A polynomial is a
//! sum of monomials with integer coefficients; a monomial is a sorted list
//! of variables (repeated for powers). Integer (not natural) coefficients
//! let `n - 1` be represented; whether a size is a natural number is decided
//! once it is concrete.
//!
//! Arithmetic is checked: a coefficient that would leave the range of
//! `i64` makes the result an *overflowed* polynomial, which stays
//! overflowed through every later operation, equals no ordinary size, and
//! prints as such. The checker reports E0702 where it first appears.

use std::collections::BTreeMap;
use std::fmt;

/// A size variable: one size parameter of one definition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Var(pub u32);

/// A polynomial in size variables with integer coefficients, normalised:
/// no zero coefficients, monomials sorted.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Poly {
    terms: BTreeMap<Vec<Var>, i64>,
    /// Whether some coefficient overflowed `i64` on the way here.
    overflow: bool,
}

impl Poly {
    /// The constant `c`.
    pub fn constant(c: i64) -> Poly {
        let mut terms = BTreeMap::new();
        if c != 0 {
            terms.insert(Vec::new(), c);
        }
        Poly {
            terms,
            overflow: false,
        }
    }

    /// A polynomial whose arithmetic overflowed.
    fn overflowed_value() -> Poly {
        Poly {
            terms: BTreeMap::new(),
            overflow: true,
        }
    }

    /// Whether some coefficient overflowed `i64` while computing this.
    pub fn overflowed(&self) -> bool {
        self.overflow
    }

    /// The variable `v`.
    pub fn var(v: Var) -> Poly {
        let mut terms = BTreeMap::new();
        terms.insert(vec![v], 1);
        Poly {
            terms,
            overflow: false,
        }
    }

    /// The value, if the polynomial is constant.
    pub fn as_constant(&self) -> Option<i64> {
        if self.overflow {
            return None;
        }
        match self.terms.len() {
            0 => Some(0),
            1 => self.terms.get(&Vec::new()).copied(),
            _ => None,
        }
    }

    /// `self + other`.
    pub fn add(&self, other: &Poly) -> Poly {
        if self.overflow || other.overflow {
            return Poly::overflowed_value();
        }
        let mut terms = self.terms.clone();
        for (m, c) in &other.terms {
            let slot = terms.entry(m.clone()).or_insert(0);
            match slot.checked_add(*c) {
                Some(v) => *slot = v,
                None => return Poly::overflowed_value(),
            }
        }
        Poly::normalised(terms)
    }

    /// A polynomial of `terms` without its zero coefficients.
    fn normalised(mut terms: BTreeMap<Vec<Var>, i64>) -> Poly {
        terms.retain(|_, c| *c != 0);
        Poly {
            terms,
            overflow: false,
        }
    }

    /// `self - other`.
    pub fn sub(&self, other: &Poly) -> Poly {
        self.add(&other.scale(-1))
    }

    /// `c * self`.
    pub fn scale(&self, c: i64) -> Poly {
        if self.overflow {
            return Poly::overflowed_value();
        }
        let terms: Option<BTreeMap<Vec<Var>, i64>> = self
            .terms
            .iter()
            .map(|(m, k)| k.checked_mul(c).map(|v| (m.clone(), v)))
            .collect();
        terms.map_or_else(Poly::overflowed_value, Poly::normalised)
    }

    /// `self * other`.
    pub fn mul(&self, other: &Poly) -> Poly {
        if self.overflow || other.overflow {
            return Poly::overflowed_value();
        }
        let mut terms: BTreeMap<Vec<Var>, i64> = BTreeMap::new();
        for (ma, ca) in &self.terms {
            for (mb, cb) in &other.terms {
                let mut m = ma.clone();
                m.extend(mb.iter().copied());
                m.sort();
                let slot = terms.entry(m).or_insert(0);
                match ca.checked_mul(*cb).and_then(|p| slot.checked_add(p)) {
                    Some(v) => *slot = v,
                    None => return Poly::overflowed_value(),
                }
            }
        }
        Poly::normalised(terms)
    }

    /// `self / other` when the division is provably exact: `other` is a
    /// single nonzero monomial that divides every term of `self`.
    pub fn div_exact(&self, other: &Poly) -> Option<Poly> {
        if self.overflow || other.overflow {
            return Some(Poly::overflowed_value());
        }
        if other.terms.len() != 1 {
            return None;
        }
        let (dm, dc) = other.terms.iter().next().expect("one term");
        let mut terms = BTreeMap::new();
        for (m, c) in &self.terms {
            if c.checked_rem(*dc) != Some(0) {
                return None;
            }
            let mut rest = m.clone();
            for v in dm {
                let pos = rest.iter().position(|x| x == v)?;
                rest.remove(pos);
            }
            terms.insert(rest, c.checked_div(*dc)?);
        }
        Some(Poly::normalised(terms))
    }

    /// Replaces every variable by a polynomial (variables not in `subst`
    /// stay as they are).
    pub fn substitute(&self, subst: &dyn Fn(Var) -> Option<Poly>) -> Poly {
        if self.overflow {
            return Poly::overflowed_value();
        }
        let mut out = Poly::constant(0);
        for (m, c) in &self.terms {
            let mut term = Poly::constant(*c);
            for v in m {
                let p = subst(*v).unwrap_or_else(|| Poly::var(*v));
                term = term.mul(&p);
            }
            out = out.add(&term);
        }
        out
    }

    /// Writes the polynomial with variable names from `name`.
    pub fn display<'a>(&'a self, name: &'a dyn Fn(Var) -> String) -> PolyDisplay<'a> {
        PolyDisplay { poly: self, name }
    }
}

/// A polynomial with a way to name its variables, for printing.
pub struct PolyDisplay<'a> {
    poly: &'a Poly,
    name: &'a dyn Fn(Var) -> String,
}

impl fmt::Display for PolyDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.poly.overflow {
            return write!(f, "(a size beyond 2^63)");
        }
        if self.poly.terms.is_empty() {
            return write!(f, "0");
        }
        // Highest degree first, constants last: `2*n + 1`.
        let mut terms: Vec<(&Vec<Var>, &i64)> = self.poly.terms.iter().collect();
        terms.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.0.cmp(b.0)));
        for (i, (m, c)) in terms.iter().enumerate() {
            let c = **c;
            let neg = c < 0;
            if i == 0 {
                if neg {
                    write!(f, "-")?;
                }
            } else {
                write!(f, "{}", if neg { " - " } else { " + " })?;
            }
            let a = c.unsigned_abs();
            if m.is_empty() {
                write!(f, "{a}")?;
                continue;
            }
            if a != 1 {
                write!(f, "{a}*")?;
            }
            for (j, v) in m.iter().enumerate() {
                if j > 0 {
                    write!(f, "*")?;
                }
                write!(f, "{}", (self.name)(*v))?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Poly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = |v: Var| format!("v{}", v.0);
        write!(f, "{}", self.display(&name))
    }
}
