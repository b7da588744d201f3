//! How many numbers a buffer holds and how many an access touches, as
//! functions of row counts that are only known when a batch runs.
//!
//! A buffer is laid out over one kind of rows (`Rows`) with a fixed number
//! of values per row: the batch's examples, the nodes of one level group
//! of a fold, every node of a fold, the steps of an unfold times the
//! examples. An access made while running code over `R` rows touches
//! `slope · R + constant` numbers from its pointer (a GEMM operand's last
//! element plus one, for example). An access fits a buffer for every batch
//! when both are over the same rows and the inequality holds at `R = 1`
//! and in its slope: both sides are affine in `R` and `R ≥ 1`.

use std::fmt;

/// The rows a buffer is laid out over, or an access runs over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Rows {
    /// A single row, shared by every row of any context.
    One,
    /// The batch's examples.
    Batch,
    /// The nodes of the level group being run by fold `f`'s region.
    Group(usize),
    /// Every node of fold `f`'s structures.
    Nodes(usize),
    /// The nodes of constructor `c` of fold `f`'s structures, `(f, c)` (a
    /// `map`'s region).
    Ctor(usize, usize),
    /// Unfold `u`'s steps times the examples.
    Steps(usize),
    /// Unfold `u`'s steps plus one (the initial state), times the examples.
    States(usize),
}

impl fmt::Display for Rows {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rows::One => write!(f, "1"),
            Rows::Batch => write!(f, "batch"),
            Rows::Group(i) => write!(f, "group(f{i})"),
            Rows::Nodes(i) => write!(f, "nodes(f{i})"),
            Rows::Ctor(i, c) => write!(f, "nodes(f{i}, c{c})"),
            Rows::Steps(u) => write!(f, "steps(u{u}) x batch"),
            Rows::States(u) => write!(f, "(steps(u{u}) + 1) x batch"),
        }
    }
}

/// What a buffer or view holds: `size` numbers per row of `rows`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Layout {
    pub rows: Rows,
    pub size: usize,
}

impl Layout {
    /// `size` numbers per row of `rows`.
    pub fn new(rows: Rows, size: usize) -> Layout {
        Layout { rows, size }
    }
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.rows {
            Rows::One => write!(f, "{}", self.size),
            rows => write!(f, "{rows} x {}", self.size),
        }
    }
}

/// The numbers an access touches from its pointer: `slope · R + constant`
/// over the `R` rows of `rows` (`slope` is zero for a one-row access).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Access {
    pub rows: Rows,
    pub slope: i64,
    pub constant: i64,
}

impl Access {
    /// `size` numbers per row of `rows` (one row of `size` if `rows` is
    /// `One`).
    pub fn rows(rows: Rows, size: usize) -> Access {
        match rows {
            Rows::One => Access::one(size),
            rows => Access {
                rows,
                slope: size as i64,
                constant: 0,
            },
        }
    }

    /// One row of `size` numbers.
    pub fn one(size: usize) -> Access {
        Access {
            rows: Rows::One,
            slope: 0,
            constant: size as i64,
        }
    }

    /// Whether the access touches nothing for every row count.
    pub fn is_empty(&self) -> bool {
        self.slope == 0 && self.constant <= 0
    }

    /// Whether every number touched lies inside `layout`, for every row
    /// count `R ≥ 1`: the same rows, and `slope · R + constant ≤ size · R`
    /// at `R = 1` and in the slope (for one row: `constant ≤ size`).
    pub fn fits(&self, layout: Layout) -> bool {
        let size = layout.size as i64;
        match self.rows {
            Rows::One => self.constant <= size,
            _ => self.slope <= size && self.slope + self.constant <= size,
        }
    }
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.rows, self.constant) {
            (Rows::One, c) => write!(f, "{c}"),
            (rows, 0) => write!(f, "{rows} x {}", self.slope),
            (rows, c) if c < 0 => write!(f, "{rows} x {} - {}", self.slope, -c),
            (rows, c) => write!(f, "{rows} x {} + {c}", self.slope),
        }
    }
}

/// One GEMM operand's extent: a `p x q` matrix with row stride `rs` and
/// column stride `cs`, repeated `count` times `step` apart. Dimensions are
/// `(slope, constant)` pairs in the row count; a matrix with an empty
/// dimension touches nothing.
pub(crate) fn matrix_access(
    rows: Rows,
    p: (i64, i64),
    q: (i64, i64),
    rs: usize,
    cs: usize,
    count: (i64, i64),
    step: usize,
) -> Access {
    let empty = |d: (i64, i64)| d.0 == 0 && d.1 == 0;
    if empty(p) || empty(q) || empty(count) {
        return Access::one(0);
    }
    let (rs, cs, step) = (rs as i64, cs as i64, step as i64);
    // The last element is at (p - 1) rs + (q - 1) cs + (count - 1) step.
    let slope = p.0 * rs + q.0 * cs + count.0 * step;
    let constant = (p.1 - 1) * rs + (q.1 - 1) * cs + (count.1 - 1) * step + 1;
    if slope == 0 {
        return Access::one(constant.max(0) as usize);
    }
    Access {
        rows,
        slope,
        constant,
    }
}
