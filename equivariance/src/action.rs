//! The built-in actions of §5.2: how each generator of a group moves the
//! coordinates of a tensor of a given shape.
//!
//! Points are numbered from 0 and tensors are flattened row-major, so pixel
//! `(r, c)` of an `s × s` grid is coordinate `r·s + c`. A point map `p ↦ σ(p)`
//! acts on vectors by `(g·x)[σ(p)] = x[p]`. The conventions:
//!
//! - grid rotation by 90° about the centre: `(r, c) ↦ (c, s−1−r)`;
//! - left–right flip: `(r, c) ↦ (r, s−1−c)`;
//! - unit translations of the torus: `(r, c) ↦ (r+1, c)` and `(r, c+1)`, mod s;
//! - `regular` for `p4` on `R[4]`: rotation `o ↦ o+1 mod 4`, translations act
//!   trivially; for `p4m` on `R[8]` (index `4e + o`, the element `r^o f^e`):
//!   rotation `(o, e) ↦ (o+1, e)`, flip `(o, e) ↦ (−o, 1−e)`.

use crate::group::{Group, GroupKind};
use crate::linmap::{LinMap, Monomial, NONE};
use crate::space::{Axis, Metric, Space, show_shape};
use std::fmt;

/// The names of the built-in actions.
pub const ACTIONS: &[&str] = &[
    "trivial",
    "permute",
    "shift",
    "shift_zero",
    "rotate",
    "rotate_flip",
    "rotate_translate",
    "rotate_flip_translate",
    "regular",
    "lorentz",
    "defining",
];

/// An action that cannot be applied (E0505).
#[derive(Clone, Debug, PartialEq)]
pub enum ActionError {
    /// The space has more than `MAX_POINTS` points (or their count
    /// overflows): its action would not fit in memory.
    TooLarge {
        /// The shape given.
        shape: Vec<usize>,
        /// The largest number of points accepted.
        max: usize,
    },
    /// No built-in action has this name.
    Unknown {
        /// The name written.
        action: String,
    },
    /// The action is not defined for this group.
    NotForGroup {
        /// The action.
        action: String,
        /// The group it was applied to.
        group: String,
        /// The groups it is defined for, in words.
        defined_for: &'static str,
    },
    /// The action is defined for this group but not on this shape.
    WrongShape {
        /// The action.
        action: String,
        /// The group.
        group: String,
        /// The shape given.
        shape: Vec<usize>,
        /// The shapes that would work, in words (`R[5]`, `a square grid R[s, s]`).
        expected: String,
    },
}

impl fmt::Display for ActionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ActionError::TooLarge { shape, max } => write!(
                f,
                "a space on {} is too large: spaces of up to {max} points are supported",
                show_shape(shape)
            ),
            ActionError::Unknown { action } => {
                write!(
                    f,
                    "unknown action `{action}`; the actions are {}",
                    ACTIONS.join(", ")
                )
            }
            ActionError::NotForGroup {
                action,
                group,
                defined_for,
            } => {
                write!(
                    f,
                    "action `{action}` is not defined for {group}; it is defined for {defined_for}"
                )
            }
            ActionError::WrongShape {
                action,
                group,
                shape,
                expected,
            } => write!(
                f,
                "action `{action}` of {group} does not fit {}; it acts on {expected}",
                show_shape(shape)
            ),
        }
    }
}

impl std::error::Error for ActionError {}

/// Applies the built-in action `name` of `group` to a tensor of `shape`.
pub fn action(group: &Group, name: &str, shape: &[usize]) -> Result<Space, ActionError> {
    if !crate::limits::fits(shape) {
        return Err(ActionError::TooLarge {
            shape: shape.to_vec(),
            max: crate::limits::MAX_POINTS,
        });
    }
    let cx = Cx { group, name, shape };
    match name {
        "trivial" => Ok(Space::atom(
            shape,
            Some(group.clone()),
            vec![LinMap::identity(shape.iter().product()); group.num_discrete()],
            vec![LinMap::zero(shape.iter().product()); group.num_lie()],
            vec![Axis::Channel; shape.len()],
        )),
        "permute" => permute(&cx),
        "shift" => match group.kind() {
            GroupKind::Cyclic(n) => {
                cx.vector(*n, Metric::Circular(*n), vec![cyclic_shift(*n)], vec![])
            }
            _ => Err(cx.not_for("cyclic groups")),
        },
        "shift_zero" => match group.kind() {
            GroupKind::Shifts(n) => cx.vector(*n, Metric::Linear, vec![zero_shift(*n)], vec![]),
            _ => Err(cx.not_for("shifts monoids")),
        },
        "rotate" => rotate(&cx),
        "rotate_flip" => match group.kind() {
            GroupKind::Dihedral(4) => {
                let s = cx.square_grid()?;
                cx.grid(Metric::Linear, vec![grid_rotation(s), grid_flip(s)])
            }
            _ => Err(cx.not_for("dihedral(4)")),
        },
        "rotate_translate" | "rotate_flip_translate" => rotate_translate(&cx),
        "regular" => regular(&cx),
        "lorentz" => match group.kind() {
            GroupKind::Lorentz => {
                let (discrete, lie) = lorentz_generators();
                cx.components(4, discrete, lie)
            }
            _ => Err(cx.not_for("lorentz")),
        },
        "defining" => match group.kind() {
            GroupKind::Perms { n, generators } => {
                let maps = generators
                    .iter()
                    .map(|g| LinMap::from_point_map(&g.image))
                    .collect();
                cx.vector(*n, Metric::Discrete, maps, vec![])
            }
            GroupKind::Matrices { d, generators } => {
                let maps = generators
                    .iter()
                    .map(|g| LinMap::from_matrix(&g.rows))
                    .collect();
                cx.components(*d, maps, vec![])
            }
            _ => Err(cx.not_for("perms and matrices groups and monoids")),
        },
        _ => Err(ActionError::Unknown {
            action: name.to_string(),
        }),
    }
}

/// The context of one `action` call, for building spaces and errors.
struct Cx<'a> {
    group: &'a Group,
    name: &'a str,
    shape: &'a [usize],
}

impl Cx<'_> {
    fn not_for(&self, defined_for: &'static str) -> ActionError {
        ActionError::NotForGroup {
            action: self.name.to_string(),
            group: self.group.to_string(),
            defined_for,
        }
    }

    fn wrong_shape(&self, expected: String) -> ActionError {
        ActionError::WrongShape {
            action: self.name.to_string(),
            group: self.group.to_string(),
            shape: self.shape.to_vec(),
            expected,
        }
    }

    /// `R[n]` with the given point metric.
    fn vector(
        &self,
        n: usize,
        metric: Metric,
        discrete: Vec<LinMap>,
        lie: Vec<LinMap>,
    ) -> Result<Space, ActionError> {
        if self.shape != [n] {
            return Err(self.wrong_shape(show_shape(&[n])));
        }
        Ok(Space::atom(
            self.shape,
            Some(self.group.clone()),
            discrete,
            lie,
            vec![Axis::Point(metric)],
        ))
    }

    /// `R[d]` whose coordinates are components (no points).
    fn components(
        &self,
        d: usize,
        discrete: Vec<LinMap>,
        lie: Vec<LinMap>,
    ) -> Result<Space, ActionError> {
        if self.shape != [d] {
            return Err(self.wrong_shape(show_shape(&[d])));
        }
        Ok(Space::atom(
            self.shape,
            Some(self.group.clone()),
            discrete,
            lie,
            vec![Axis::Component],
        ))
    }

    /// The side of a square grid `R[s, s]`.
    fn square_grid(&self) -> Result<usize, ActionError> {
        match self.shape {
            [a, b] if a == b && *a > 0 => Ok(*a),
            _ => Err(self.wrong_shape("a square grid R[s, s]".to_string())),
        }
    }

    /// `R[s, s]` as a grid of points.
    fn grid(&self, metric: Metric, discrete: Vec<LinMap>) -> Result<Space, ActionError> {
        let axes = vec![Axis::Point(metric); 2];
        Ok(Space::atom(
            self.shape,
            Some(self.group.clone()),
            discrete,
            vec![],
            axes,
        ))
    }
}

fn permute(cx: &Cx) -> Result<Space, ActionError> {
    match cx.group.kind() {
        GroupKind::Symmetric(n) => {
            let n = *n;
            let maps = if n == 1 {
                vec![]
            } else {
                let mut swap: Vec<usize> = (0..n).collect();
                swap.swap(0, 1);
                let cycle: Vec<usize> = (0..n).map(|i| (i + 1) % n).collect();
                vec![
                    LinMap::from_point_map(&swap),
                    LinMap::from_point_map(&cycle),
                ]
            };
            cx.vector(n, Metric::Discrete, maps, vec![])
        }
        GroupKind::Cyclic(n) => cx.vector(*n, Metric::Circular(*n), vec![cyclic_shift(*n)], vec![]),
        GroupKind::Dihedral(n) => {
            let n = *n;
            let reflect: Vec<usize> = (0..n).map(|i| (n - i) % n).collect();
            let maps = vec![cyclic_shift(n), LinMap::from_point_map(&reflect)];
            cx.vector(n, Metric::Circular(n), maps, vec![])
        }
        GroupKind::Perms { n, generators } => {
            let maps = generators
                .iter()
                .map(|g| LinMap::from_point_map(&g.image))
                .collect();
            cx.vector(*n, Metric::Discrete, maps, vec![])
        }
        _ => Err(cx.not_for("symmetric, cyclic, dihedral and perms groups")),
    }
}

fn rotate(cx: &Cx) -> Result<Space, ActionError> {
    match cx.group.kind() {
        GroupKind::Cyclic(4) => {
            let s = cx.square_grid()?;
            cx.grid(Metric::Linear, vec![grid_rotation(s)])
        }
        GroupKind::SO2 => cx.components(2, vec![], vec![so2_generator()]),
        GroupKind::O2 => cx.components(
            2,
            vec![LinMap::from_integers(&[&[1, 0], &[0, -1]])],
            vec![so2_generator()],
        ),
        GroupKind::SO3 => cx.components(3, vec![], so3_generators()),
        GroupKind::O3 => {
            let inversion = LinMap::from_integers(&[&[-1, 0, 0], &[0, -1, 0], &[0, 0, -1]]);
            cx.components(3, vec![inversion], so3_generators())
        }
        _ => Err(
            cx.not_for("cyclic(4) on square grids, SO(2) and O(2) on R[2], SO(3) and O(3) on R[3]")
        ),
    }
}

fn rotate_translate(cx: &Cx) -> Result<Space, ActionError> {
    let (s, flip) = match (cx.group.kind(), cx.name) {
        (GroupKind::P4(s), "rotate_translate") => (*s, false),
        (GroupKind::P4m(s), "rotate_flip_translate") => (*s, true),
        (_, "rotate_translate") => return Err(cx.not_for("p4 groups")),
        _ => return Err(cx.not_for("p4m groups")),
    };
    if cx.shape != [s, s] {
        return Err(cx.wrong_shape(show_shape(&[s, s])));
    }
    let mut maps = vec![
        grid_rotation(s),
        grid_translation(s, 0),
        grid_translation(s, 1),
    ];
    if flip {
        maps.push(grid_flip(s));
    }
    cx.grid(Metric::Circular(s), maps)
}

fn regular(cx: &Cx) -> Result<Space, ActionError> {
    match cx.group.kind() {
        GroupKind::P4(_) => {
            let rot: Vec<usize> = (0..4).map(|o| (o + 1) % 4).collect();
            let maps = vec![
                LinMap::from_point_map(&rot),
                LinMap::identity(4),
                LinMap::identity(4),
            ];
            cx.components(4, maps, vec![])
        }
        GroupKind::P4m(_) => {
            // Index 4e + o stands for the element r^o f^e.
            let rot: Vec<usize> = (0..8).map(|k| (k / 4) * 4 + (k % 4 + 1) % 4).collect();
            let flip: Vec<usize> = (0..8).map(|k| (1 - k / 4) * 4 + (4 - k % 4) % 4).collect();
            let maps = vec![
                LinMap::from_point_map(&rot),
                LinMap::identity(8),
                LinMap::identity(8),
                LinMap::from_point_map(&flip),
            ];
            cx.components(8, maps, vec![])
        }
        _ => Err(cx.not_for("p4 (on R[4]) and p4m (on R[8])")),
    }
}

/// `(g·x)[i] = x[i−1 mod n]`: the point map `i ↦ i+1 mod n`.
fn cyclic_shift(n: usize) -> LinMap {
    let to: Vec<usize> = (0..n).map(|i| (i + 1) % n).collect();
    LinMap::from_point_map(&to)
}

/// `(s·x)[t] = x[t−1]` and `(s·x)[0] = 0`: the truncating shift.
fn zero_shift(n: usize) -> LinMap {
    let src = (0..n as u32)
        .map(|t| if t == 0 { NONE } else { t - 1 })
        .collect();
    LinMap::Monomial(Monomial {
        src,
        sign: vec![1; n],
    })
}

fn grid_map(s: usize, f: impl Fn(usize, usize) -> (usize, usize)) -> LinMap {
    let to: Vec<usize> = (0..s * s)
        .map(|p| {
            let (r, c) = f(p / s, p % s);
            r * s + c
        })
        .collect();
    LinMap::from_point_map(&to)
}

fn grid_rotation(s: usize) -> LinMap {
    grid_map(s, |r, c| (c, s - 1 - r))
}

fn grid_flip(s: usize) -> LinMap {
    grid_map(s, |r, c| (r, s - 1 - c))
}

fn grid_translation(s: usize, axis: usize) -> LinMap {
    grid_map(s, |r, c| {
        if axis == 0 {
            ((r + 1) % s, c)
        } else {
            (r, (c + 1) % s)
        }
    })
}

/// J = [[0, −1], [1, 0]].
fn so2_generator() -> LinMap {
    LinMap::from_integers(&[&[0, -1], &[1, 0]])
}

/// The infinitesimal rotations about x, y and z: `(L_a)_{bc} = −ε_{abc}`.
fn so3_generators() -> Vec<LinMap> {
    vec![
        LinMap::from_integers(&[&[0, 0, 0], &[0, 0, -1], &[0, 1, 0]]),
        LinMap::from_integers(&[&[0, 0, 1], &[0, 0, 0], &[-1, 0, 0]]),
        LinMap::from_integers(&[&[0, -1, 0], &[1, 0, 0], &[0, 0, 0]]),
    ]
}

/// O(1,3) on (t, x, y, z) with η = diag(1, −1, −1, −1): parity and time
/// reversal; rotations L (antisymmetric on the spatial block) and boosts K
/// (`K_a` has 1 at (0, a) and (a, 0)); each satisfies `ξᵀη + ηξ = 0`.
fn lorentz_generators() -> (Vec<LinMap>, Vec<LinMap>) {
    let diag = |d: [i64; 4]| {
        let rows: Vec<Vec<i64>> = (0..4)
            .map(|i| (0..4).map(|j| if i == j { d[i] } else { 0 }).collect())
            .collect();
        let refs: Vec<&[i64]> = rows.iter().map(Vec::as_slice).collect();
        LinMap::from_integers(&refs)
    };
    let discrete = vec![diag([1, -1, -1, -1]), diag([-1, 1, 1, 1])];
    let mut lie = Vec::new();
    // Rotations: L_a acts on the spatial indices 1..=3 as in SO(3).
    for (b, c) in [(2, 3), (3, 1), (1, 2)] {
        let mut m = vec![vec![0i64; 4]; 4];
        m[c][b] = 1;
        m[b][c] = -1;
        let refs: Vec<&[i64]> = m.iter().map(Vec::as_slice).collect();
        lie.push(LinMap::from_integers(&refs));
    }
    for a in 1..4 {
        let mut m = vec![vec![0i64; 4]; 4];
        m[0][a] = 1;
        m[a][0] = 1;
        let refs: Vec<&[i64]> = m.iter().map(Vec::as_slice).collect();
        lie.push(LinMap::from_integers(&refs));
    }
    (discrete, lie)
}
