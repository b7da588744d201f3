//! Spaces: tensor types with an action, and the combinators `*`, `+`, `^k`.
//!
//! A [`Space`] is a shape, the group it is under (none for a bare tensor,
//! which is trivial under any group), and one [`LinMap`] per generator of
//! that group, acting on the row-major flattening of the shape. Combinators
//! follow §5.2 of the language: in `A * B` the axes of `A` come first; a
//! space under `G` times one under `H ≠ G` is under `product(G, H)`; `+` is
//! for rank-1 spaces of one group.
//!
//! A space also remembers its leading *channel* factors (factors on which
//! every generator acts trivially), so that the solver can factor them out:
//! `Hom(R[c] ⊗ S, R[d] ⊗ T) = R[d, c] ⊗ Hom(S, T)`.

use crate::group::{Group, GroupKind};
use crate::linmap::{LinMap, NONE};
use std::fmt;

/// What an axis of a space is, for `local(r)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Axis {
    /// A channel axis: the group acts trivially on it; `local` ignores it.
    Channel,
    /// Components of a vector or orientations; `local` ignores it.
    Component,
    /// An axis of points, with the distance `local` measures on it.
    Point(Metric),
    /// The axis of a direct sum; `local` is not defined across it.
    Sum,
}

/// The distance between two points of one axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// `min(|i − j|, n − |i − j|)`: points on a circle (or torus) of size `n`.
    Circular(usize),
    /// `|i − j|`: points on a line.
    Linear,
    /// `0` for the same point, `1` otherwise: points with no geometry
    /// (the symmetric group permutes them all alike).
    Discrete,
}

impl Metric {
    /// The distance between points `i` and `j`.
    pub fn distance(self, i: usize, j: usize) -> usize {
        let d = i.abs_diff(j);
        match self {
            Metric::Circular(n) => d.min(n - d),
            Metric::Linear => d,
            Metric::Discrete => usize::from(d != 0),
        }
    }
}

/// How the discrete generators act, from most to least structured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum DiscreteClass {
    /// Every discrete generator is a permutation matrix.
    Permutation,
    /// Every one is a signed permutation matrix (entries 0, ±1, one per row
    /// and column).
    SignedPermutation,
    /// Every one is a partial permutation (entries 0, 1, at most one per row
    /// and column; rows of zeros allowed, as for `shift_zero`).
    PartialPermutation,
    /// Both: signed, and rows of zeros allowed.
    SignedPartialPermutation,
    /// Anything else.
    General,
}

impl DiscreteClass {
    /// The least class containing both.
    pub fn join(self, other: DiscreteClass) -> DiscreteClass {
        use DiscreteClass::*;
        match (self, other) {
            (a, b) if a == b => a,
            (Permutation, b) => b,
            (a, Permutation) => a,
            (General, _) | (_, General) => General,
            _ => SignedPartialPermutation,
        }
    }
}

/// What the static equivariance rules need to know about an action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ActionClass {
    /// How the discrete generators act.
    pub discrete: DiscreteClass,
    /// True when every Lie-algebra generator acts by 0.
    pub lie_zero: bool,
    /// True when the action is orthogonal: every discrete generator acts by
    /// an orthogonal matrix and every Lie generator by an antisymmetric one.
    pub orthogonal: bool,
}

/// A space that cannot be built (E0503).
#[derive(Clone, Debug, PartialEq)]
pub enum SpaceError {
    /// A direct sum of spaces under different groups.
    DifferentGroups {
        /// The group of the left summand.
        left: String,
        /// The group of the right summand.
        right: String,
    },
    /// A direct sum with a summand that is not of rank 1.
    SumNotRankOne {
        /// The shape of the offending summand.
        shape: Vec<usize>,
    },
    /// `A ^ 0`.
    ZeroPower,
    /// `A ^ k` would have more than `MAX_POINTS` points, or more than
    /// `MAX_POWER` factors.
    TooLarge {
        /// The shape of `A`.
        shape: Vec<usize>,
        /// The power `k`.
        power: usize,
        /// The largest number of points accepted.
        max: usize,
    },
}

/// The largest `k` of a tensor power `A ^ k`.
pub const MAX_POWER: usize = 64;

impl fmt::Display for SpaceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpaceError::DifferentGroups { left, right } => {
                write!(f, "spaces under different groups: {left} and {right}")
            }
            SpaceError::SumNotRankOne { shape } => write!(
                f,
                "a direct sum needs spaces of rank 1, found shape {}",
                show_shape(shape)
            ),
            SpaceError::ZeroPower => write!(f, "a tensor power needs k ≥ 1"),
            SpaceError::TooLarge { shape, power, max } => write!(
                f,
                "{} ^ {power} is too large: spaces of up to {max} points and powers up to {MAX_POWER} are supported",
                show_shape(shape)
            ),
        }
    }
}

impl std::error::Error for SpaceError {}

/// Prints a shape as `R[2, 3]`.
pub fn show_shape(shape: &[usize]) -> String {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    format!("R[{}]", dims.join(", "))
}

/// A tensor type with an action of a group or monoid.
#[derive(Clone, Debug, PartialEq)]
pub struct Space {
    pub(crate) shape: Vec<usize>,
    pub(crate) group: Option<Group>,
    pub(crate) discrete: Vec<LinMap>,
    pub(crate) lie: Vec<LinMap>,
    pub(crate) axes: Vec<Axis>,
    /// The product of the sizes of the leading trivially-acted factors.
    pub(crate) channels: usize,
    /// The space without its channel factors, when `channels > 1`.
    pub(crate) inner: Option<Box<Space>>,
    /// The summands, when this is a direct sum (each lifted to this group).
    pub(crate) summands: Vec<Space>,
}

/// Where a space sits in a group it is lifted to.
enum Slot {
    Bare,
    Same,
    Left,
    Right,
}

impl Space {
    /// A bare tensor `R[shape]`: trivial under any group.
    pub fn bare(shape: &[usize]) -> Space {
        Space::atom(
            shape,
            None,
            vec![],
            vec![],
            vec![Axis::Channel; shape.len()],
        )
    }

    /// The one-dimensional space `R[]` on which `group` acts trivially.
    pub fn scalar(group: Option<&Group>) -> Space {
        let (nd, nl) = group.map_or((0, 0), |g| (g.num_discrete(), g.num_lie()));
        Space::atom(
            &[],
            group.cloned(),
            vec![LinMap::identity(1); nd],
            vec![LinMap::zero(1); nl],
            vec![],
        )
    }

    /// A space built from its parts; the built-in actions use this.
    /// Channels are detected: if every generator acts trivially, the whole
    /// space is channels.
    pub(crate) fn atom(
        shape: &[usize],
        group: Option<Group>,
        discrete: Vec<LinMap>,
        lie: Vec<LinMap>,
        axes: Vec<Axis>,
    ) -> Space {
        let mut s = Space {
            shape: shape.to_vec(),
            group,
            discrete,
            lie,
            axes,
            channels: 1,
            inner: None,
            summands: vec![],
        };
        let dim = s.dim();
        if dim > 1 && s.is_trivial_action() {
            s.channels = dim;
            s.inner = Some(Box::new(Space::scalar(s.group.as_ref())));
        }
        s
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The number of coordinates, `∏ shape`.
    pub fn dim(&self) -> usize {
        self.shape.iter().product()
    }

    /// The group, or `None` for a bare tensor.
    pub fn group(&self) -> Option<&Group> {
        self.group.as_ref()
    }

    /// How each discrete generator acts, in the group's order.
    pub fn discrete_maps(&self) -> &[LinMap] {
        &self.discrete
    }

    /// How each Lie-algebra generator acts, in the group's order.
    pub fn lie_maps(&self) -> &[LinMap] {
        &self.lie
    }

    /// The role of each axis.
    pub fn axes(&self) -> &[Axis] {
        &self.axes
    }

    /// The number of channel coordinates factored out in front, and the rest.
    pub fn split_channels(&self) -> (usize, &Space) {
        match &self.inner {
            Some(inner) => (self.channels, inner),
            None => (1, self),
        }
    }

    /// True when every discrete generator acts by the identity and every Lie
    /// generator by 0.
    pub fn is_trivial_action(&self) -> bool {
        self.discrete.iter().all(LinMap::is_identity) && self.lie.iter().all(LinMap::is_zero)
    }

    /// True when every generator is exact.
    pub fn is_exact(&self) -> bool {
        self.discrete.iter().chain(&self.lie).all(LinMap::is_exact)
    }

    /// Classifies the action for the static equivariance rules (§5.4).
    pub fn classify(&self) -> ActionClass {
        let mut discrete = DiscreteClass::Permutation;
        let mut orthogonal = true;
        for g in &self.discrete {
            let c = classify_map(g);
            discrete = discrete.join(c);
            orthogonal &= match c {
                DiscreteClass::Permutation | DiscreteClass::SignedPermutation => true,
                DiscreteClass::PartialPermutation | DiscreteClass::SignedPartialPermutation => {
                    false
                }
                DiscreteClass::General => match g.to_exact() {
                    Some(e) => e.is_orthogonal(),
                    None => float_orthogonal(g),
                },
            };
        }
        for l in &self.lie {
            orthogonal &= match l.to_exact() {
                Some(e) => e.is_antisymmetric(),
                None => float_antisymmetric(l),
            };
        }
        ActionClass {
            discrete,
            lie_zero: self.lie.iter().all(LinMap::is_zero),
            orthogonal,
        }
    }

    /// The tensor product `self ⊗ other` (`*` in CDL); axes of `self` first.
    pub fn tensor(&self, other: &Space) -> Space {
        let group = match (&self.group, &other.group) {
            (None, None) => None,
            (Some(g), None) | (None, Some(g)) => Some(g.clone()),
            (Some(g), Some(h)) if g == h => Some(g.clone()),
            (Some(g), Some(h)) => Some(Group::product(g.clone(), h.clone())),
        };
        let a = self.lift(group.as_ref());
        let b = other.lift(group.as_ref());
        tensor_same(&a, &b)
    }

    /// The direct sum `self ⊕ other` (`+` in CDL): rank-1 spaces, one group.
    pub fn direct_sum(&self, other: &Space) -> Result<Space, SpaceError> {
        for s in [self, other] {
            if s.shape.len() != 1 {
                return Err(SpaceError::SumNotRankOne {
                    shape: s.shape.clone(),
                });
            }
        }
        let group = match (&self.group, &other.group) {
            (None, None) => None,
            (Some(g), None) | (None, Some(g)) => Some(g.clone()),
            (Some(g), Some(h)) if g == h => Some(g.clone()),
            (Some(g), Some(h)) => {
                return Err(SpaceError::DifferentGroups {
                    left: g.to_string(),
                    right: h.to_string(),
                });
            }
        };
        let a = self.lift(group.as_ref());
        let b = other.lift(group.as_ref());
        let discrete = a
            .discrete
            .iter()
            .zip(&b.discrete)
            .map(|(x, y)| LinMap::block_diag(x, y))
            .collect();
        let lie = a
            .lie
            .iter()
            .zip(&b.lie)
            .map(|(x, y)| LinMap::block_diag(x, y))
            .collect();
        let both_channels = a.axes.iter().chain(&b.axes).all(|x| *x == Axis::Channel);
        let axis = if both_channels {
            Axis::Channel
        } else {
            Axis::Sum
        };
        let mut s = Space::atom(&[a.dim() + b.dim()], group, discrete, lie, vec![axis]);
        if s.inner.is_none() {
            let mut summands = Vec::new();
            for part in [a, b] {
                if part.summands.is_empty() {
                    summands.push(part);
                } else {
                    summands.extend(part.summands);
                }
            }
            s.summands = summands;
        }
        Ok(s)
    }

    /// The k-th tensor power `self ^ k`, `k ≥ 1`.
    pub fn power(&self, k: usize) -> Result<Space, SpaceError> {
        if k == 0 {
            return Err(SpaceError::ZeroPower);
        }
        let points = crate::limits::points(&self.shape)
            .and_then(|n| n.checked_pow(u32::try_from(k).ok()?))
            .filter(|&n| n <= crate::limits::MAX_POINTS);
        if points.is_none() || k > MAX_POWER {
            return Err(SpaceError::TooLarge {
                shape: self.shape.clone(),
                power: k,
                max: crate::limits::MAX_POINTS,
            });
        }
        let mut out = self.clone();
        for _ in 1..k {
            out = out.tensor(self);
        }
        Ok(out)
    }

    /// The same space seen under `target` (which is this space's group, a
    /// product containing it, or anything at all for a bare tensor).
    pub(crate) fn lift(&self, target: Option<&Group>) -> Space {
        let slot = match (&self.group, target) {
            (_, None) => Slot::Same,
            (None, Some(_)) => Slot::Bare,
            (Some(g), Some(t)) if g == t => Slot::Same,
            (Some(g), Some(t)) => match t.kind() {
                GroupKind::Product(x, _) if **x == *g => Slot::Left,
                GroupKind::Product(_, y) if **y == *g => Slot::Right,
                _ => panic!("space under {g} lifted to unrelated group {t}"),
            },
        };
        let Some(t) = target else { return self.clone() };
        let n = self.dim();
        let (discrete, lie) = match (slot, t.kind()) {
            (Slot::Same, _) => return self.clone(),
            (Slot::Bare, _) => (
                vec![LinMap::identity(n); t.num_discrete()],
                vec![LinMap::zero(n); t.num_lie()],
            ),
            (Slot::Left, GroupKind::Product(_, h)) => {
                let mut d = self.discrete.clone();
                d.extend(vec![LinMap::identity(n); h.num_discrete()]);
                let mut l = self.lie.clone();
                l.extend(vec![LinMap::zero(n); h.num_lie()]);
                (d, l)
            }
            (Slot::Right, GroupKind::Product(g, _)) => {
                let mut d = vec![LinMap::identity(n); g.num_discrete()];
                d.extend(self.discrete.iter().cloned());
                let mut l = vec![LinMap::zero(n); g.num_lie()];
                l.extend(self.lie.iter().cloned());
                (d, l)
            }
            _ => unreachable!("slot computed from the target's kind"),
        };
        Space {
            shape: self.shape.clone(),
            group: Some(t.clone()),
            discrete,
            lie,
            axes: self.axes.clone(),
            channels: self.channels,
            inner: self.inner.as_ref().map(|s| Box::new(s.lift(target))),
            summands: self.summands.iter().map(|s| s.lift(target)).collect(),
        }
    }
}

/// `a ⊗ b` for two spaces already under the same group: discrete generators
/// act by `ρ_a(g) ⊗ ρ_b(g)`, Lie generators by `dρ_a(ξ) ⊗ I + I ⊗ dρ_b(ξ)`.
fn tensor_same(a: &Space, b: &Space) -> Space {
    let discrete = a
        .discrete
        .iter()
        .zip(&b.discrete)
        .map(|(x, y)| LinMap::kron(x, y))
        .collect();
    let lie = a
        .lie
        .iter()
        .zip(&b.lie)
        .map(|(x, y)| LinMap::kron_sum(x, y))
        .collect();
    let mut shape = a.shape.clone();
    shape.extend(&b.shape);
    let mut axes = a.axes.clone();
    axes.extend(&b.axes);
    let mut s = Space {
        shape,
        group: a.group.clone(),
        discrete,
        lie,
        axes,
        channels: 1,
        inner: None,
        summands: vec![],
    };
    if a.is_trivial_action() {
        // Leading channels: R[c] ⊗ (R[c'] ⊗ S) has c·c' channels and inner S.
        let (cb, inner_b) = b.split_channels();
        s.channels = a.dim() * cb;
        s.inner = Some(Box::new(inner_b.clone()));
    } else if let Some(inner_a) = &a.inner {
        s.channels = a.channels;
        s.inner = Some(Box::new(tensor_same(inner_a, b)));
    }
    if s.channels == 1 {
        s.inner = None;
    }
    s
}

fn classify_map(g: &LinMap) -> DiscreteClass {
    let LinMap::Monomial(m) = g else {
        return DiscreteClass::General;
    };
    let n = m.src.len();
    let mut hit = vec![false; n];
    let mut partial = false;
    let mut signed = false;
    for (&s, &sg) in m.src.iter().zip(&m.sign) {
        if s == NONE {
            partial = true;
            continue;
        }
        if std::mem::replace(&mut hit[s as usize], true) {
            return DiscreteClass::General;
        }
        signed |= sg < 0;
    }
    match (signed, partial) {
        (false, false) => DiscreteClass::Permutation,
        (true, false) => DiscreteClass::SignedPermutation,
        (false, true) => DiscreteClass::PartialPermutation,
        (true, true) => DiscreteClass::SignedPartialPermutation,
    }
}

fn float_orthogonal(g: &LinMap) -> bool {
    let n = g.dim();
    let d = g.to_dense();
    (0..n).all(|i| {
        (0..n).all(|j| {
            let dot: f64 = (0..n).map(|k| d[i * n + k] * d[j * n + k]).sum();
            (dot - if i == j { 1.0 } else { 0.0 }).abs() <= 1e-9
        })
    })
}

fn float_antisymmetric(l: &LinMap) -> bool {
    let n = l.dim();
    let d = l.to_dense();
    (0..n).all(|i| (0..n).all(|j| (d[i * n + j] + d[j * n + i]).abs() <= 1e-9))
}
