//! The representation of a value, axis by axis, for the static proofs.
//!
//! A value that transforms with the input is a tensor whose axes are
//! grouped into *factors*: the value transforms by `ρ_1(g) ⊗ … ⊗ ρ_k(g)`,
//! one factor after the other in axis order. A factor is either a single
//! channel axis, on which every generator acts trivially, or a space of one
//! or more axes on which the group acts (`Fac::Space`). A declared space
//! `R[c] * S` is the factors `[channel, S]`; `W @ x`, `x^T`, `outer`,
//! reductions along one axis and broadcasting then move, drop or add
//! factors, which is what lets the rules of representation theory
//! (contractions of orthogonal representations, the fixed all-ones vector
//! of a permutation action) be applied to the axes they concern.
//!
//! Channel axes keep their size when it is known (from a declared space) so
//! that a value can be compared with a declared space whose channel axes
//! are not leading; the checker has already made every shape agree, so two
//! channel axes always match.

use cdlc_equivariance::{ActionClass, DiscreteClass, Group, Space};
use std::rc::Rc;

/// One factor of a value's representation.
#[derive(Clone, Debug)]
pub(super) enum Fac {
    /// One axis on which the group acts trivially, with its size if known.
    Chan(Option<usize>),
    /// Axes on which the group acts by this space.
    Space(Rc<Space>),
}

impl Fac {
    /// The number of axes the factor covers.
    pub(super) fn rank(&self) -> usize {
        match self {
            Fac::Chan(_) => 1,
            Fac::Space(s) => s.shape().len(),
        }
    }

    /// The factor as a space, when its size is known.
    fn space(&self) -> Option<Space> {
        match self {
            Fac::Chan(n) => n.map(|n| Space::bare(&[n])),
            Fac::Space(s) => Some((**s).clone()),
        }
    }

    /// How the factor's generators act (a channel: the identity).
    pub(super) fn class(&self) -> ActionClass {
        match self {
            Fac::Chan(_) => ActionClass {
                discrete: DiscreteClass::Permutation,
                lie_zero: true,
                orthogonal: true,
            },
            Fac::Space(s) => s.classify(),
        }
    }

    /// True when every generator maps the all-ones vector to itself (and
    /// every Lie generator to zero).
    pub(super) fn fixes_ones(&self) -> bool {
        match self {
            Fac::Chan(_) => true,
            Fac::Space(s) => s.fixes_ones(),
        }
    }

    /// Whether two factors carry the same representation.
    pub(super) fn same(&self, other: &Fac) -> bool {
        match (self, other) {
            (Fac::Chan(_), Fac::Chan(_)) => true,
            (Fac::Space(a), Fac::Space(b)) => a == b,
            _ => false,
        }
    }
}

/// A value's representation: factors in axis order.
#[derive(Clone, Debug)]
pub(super) struct Rep {
    /// The factors.
    pub(super) facs: Vec<Fac>,
}

impl Rep {
    /// The factors of a declared space: its leading channel axes, then the
    /// rest as one factor.
    pub(super) fn of_space(s: &Space) -> Rep {
        let shape = s.shape();
        if s.is_trivial_action() {
            return Rep::channels_sized(shape);
        }
        let (_, inner) = s.split_channels();
        let lead = shape.len() - inner.shape().len();
        let mut facs: Vec<Fac> = shape[..lead].iter().map(|&n| Fac::Chan(Some(n))).collect();
        split_space(inner, &mut facs);
        Rep { facs }
    }

    /// `rank` channel axes of unknown sizes (an invariant value).
    pub(super) fn channels(rank: usize) -> Rep {
        Rep {
            facs: vec![Fac::Chan(None); rank],
        }
    }

    /// Channel axes of known sizes (a fixed point, or a bare tensor).
    pub(super) fn channels_sized(shape: &[usize]) -> Rep {
        Rep {
            facs: shape.iter().map(|&n| Fac::Chan(Some(n))).collect(),
        }
    }

    /// The number of axes.
    pub(super) fn rank(&self) -> usize {
        self.facs.iter().map(Fac::rank).sum()
    }

    /// True when no factor is acted on non-trivially.
    pub(super) fn is_trivial(&self) -> bool {
        self.facs.iter().all(|f| match f {
            Fac::Chan(_) => true,
            Fac::Space(s) => s.is_trivial_action(),
        })
    }

    /// The group of the first acted-on factor.
    pub(super) fn group(&self) -> Option<&Group> {
        self.facs.iter().find_map(|f| match f {
            Fac::Space(s) => s.group(),
            Fac::Chan(_) => None,
        })
    }

    /// The class of the whole action: the join over the factors (the
    /// tensor product of monomial maps is monomial, of orthogonal maps
    /// orthogonal).
    pub(super) fn class(&self) -> ActionClass {
        self.facs
            .iter()
            .map(Fac::class)
            .fold(Fac::Chan(None).class(), |a, b| ActionClass {
                discrete: a.discrete.join(b.discrete),
                lie_zero: a.lie_zero && b.lie_zero,
                orthogonal: a.orthogonal && b.orthogonal,
            })
    }

    /// The factors covering axes `0..k` and `k..`, if a factor boundary
    /// lies at axis `k`.
    pub(super) fn split_at(&self, k: usize) -> Option<(Rep, Rep)> {
        let mut at = 0;
        for (i, f) in self.facs.iter().enumerate() {
            if at == k {
                return Some(self.cut(i));
            }
            at += f.rank();
        }
        (at == k).then(|| self.cut(self.facs.len()))
    }

    fn cut(&self, i: usize) -> (Rep, Rep) {
        (
            Rep {
                facs: self.facs[..i].to_vec(),
            },
            Rep {
                facs: self.facs[i..].to_vec(),
            },
        )
    }

    /// The index of the factor covering axis `k`.
    pub(super) fn factor_of_axis(&self, k: usize) -> Option<usize> {
        let mut at = 0;
        for (i, f) in self.facs.iter().enumerate() {
            if k < at + f.rank() {
                return Some(i);
            }
            at += f.rank();
        }
        None
    }

    /// The same factors without factor `i`.
    pub(super) fn without(&self, i: usize) -> Rep {
        let mut facs = self.facs.clone();
        facs.remove(i);
        Rep { facs }
    }

    /// `self ⊗ other`: the factors of both, in order.
    pub(super) fn then(&self, other: &Rep) -> Rep {
        let mut facs = self.facs.clone();
        facs.extend(other.facs.iter().cloned());
        Rep { facs }
    }

    /// True when every factor fixes the all-ones vector.
    pub(super) fn fixes_ones(&self) -> bool {
        self.facs.iter().all(Fac::fixes_ones)
    }

    /// The whole action as one space, when every size is known.
    pub(super) fn flat(&self) -> Option<Space> {
        let mut out: Option<Space> = None;
        for f in &self.facs {
            let s = f.space()?;
            out = Some(match out {
                None => s,
                Some(o) => super::build::tensor_within(&o, &s)?,
            });
        }
        out
    }

    /// Consecutive acted-on factors merged into one (their tensor product),
    /// so that `[Pts, Pts]` and a declared `Pts * Pts` compare equal.
    fn merged(&self) -> Vec<Fac> {
        let mut out: Vec<Fac> = Vec::new();
        for f in &self.facs {
            match (out.last_mut(), f) {
                // A product beyond the limits stays two factors; the
                // space it came from was refused with E0703.
                (Some(Fac::Space(a)), Fac::Space(b)) => match super::build::tensor_within(a, b) {
                    Some(ab) => *a = Rc::new(ab),
                    None => out.push(f.clone()),
                },
                _ => out.push(f.clone()),
            }
        }
        out
    }

    /// Whether two values transform alike.
    pub(super) fn same(&self, other: &Rep) -> bool {
        let (a, b) = (self.merged(), other.merged());
        if a.len() == b.len() && a.iter().zip(&b).all(|(x, y)| x.same(y)) {
            return true;
        }
        // The checker made the shapes agree, so a channel axis of unknown
        // size has the size of the other value's axis.
        match (self.flat(), other.flat()) {
            (Some(x), Some(y)) => x == y,
            (None, Some(y)) => self.sized(y.shape()).flat() == Some(y),
            (Some(x), None) => other.sized(x.shape()).flat() == Some(x),
            (None, None) => false,
        }
    }

    /// The same factors with the sizes of unknown channel axes taken from
    /// `shape` (of the same rank).
    fn sized(&self, shape: &[usize]) -> Rep {
        let mut at = 0;
        let facs = self
            .facs
            .iter()
            .map(|f| {
                let g = match f {
                    Fac::Chan(None) => Fac::Chan(shape.get(at).copied()),
                    other => other.clone(),
                };
                at += f.rank();
                g
            })
            .collect();
        Rep { facs }
    }

    /// The elementwise products `a ⊙ b` of a value of `self` and one of
    /// `other` (same factors, monomial actions moving coordinates alike):
    /// factor by factor, the product representation.
    pub(super) fn hadamard(&self, other: &Rep) -> Option<Rep> {
        let (a, b) = (self.merged(), other.merged());
        if a.len() != b.len() {
            return None;
        }
        let facs = a
            .iter()
            .zip(&b)
            .map(|(x, y)| match (x, y) {
                (Fac::Chan(n), Fac::Chan(m)) => Some(Fac::Chan(n.or(*m))),
                (Fac::Space(s), Fac::Space(t)) => s.hadamard(t).map(|h| Fac::Space(Rc::new(h))),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Rep { facs })
    }

    /// A short description for messages: `R[4] ⊗ R[5]`, with `R[_]` for a
    /// channel axis of unknown size.
    pub(super) fn describe(&self) -> String {
        let parts: Vec<String> = self
            .facs
            .iter()
            .map(|f| match f {
                Fac::Chan(Some(n)) => format!("R[{n}]"),
                Fac::Chan(None) => "R[_]".to_string(),
                Fac::Space(s) => cdlc_equivariance::show_shape(s.shape()),
            })
            .collect();
        if parts.is_empty() {
            "R".to_string()
        } else {
            parts.join(" ⊗ ")
        }
    }
}

/// Appends the factors of `s`: cut at the first axis boundary where every
/// generator acts as `X ⊗ Y` (so `Pts * Pts` is two factors), recursively;
/// a trivially acted axis becomes a channel.
fn split_space(s: &Space, out: &mut Vec<Fac>) {
    let rank = s.shape().len();
    if rank == 1 && s.is_trivial_action() {
        out.push(Fac::Chan(Some(s.shape()[0])));
        return;
    }
    for k in 1..rank {
        if let Some((l, r)) = s.split_axes(k) {
            split_space(&l, out);
            split_space(&r, out);
            return;
        }
    }
    out.push(Fac::Space(Rc::new(s.clone())));
}
