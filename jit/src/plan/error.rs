//! What `plan::verify` reports: a coded error at a site of the plan.
//!
//! A failed check is a bug in the JIT's lowering, never a problem of the
//! user's program: the driver reports it as an internal error, with the
//! code, the site and the facts below, so that a bug report carries them.

use std::fmt;

/// One step of the path from a plan's code to an instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Instruction `i` of the current code.
    Code(usize),
    /// The region of a fold's constructor `c`.
    Case(usize),
    /// An unfold's step region.
    Body,
    /// What a recursion op or its region yields.
    Result,
    /// The setup of a recursion op: its buffers and the views it points.
    Setup,
    /// The plan's output.
    Output,
    /// The constants the plan fills before running.
    Init,
    /// Fused kernel `k`.
    Kernel(usize),
    /// A prepared batch's schedule of fold `f` (`batch::check`).
    Fold(usize),
    /// A prepared batch's steps of unfold `u`.
    Unfold(usize),
    /// Level `h` of a fold's schedule.
    Level(usize),
    /// Group `k` of a level.
    Group(usize),
    /// Nested field `j` of a group's constructor: its pool and the
    /// schedule of its structures.
    NestedField(usize),
}

/// Where in a plan a check failed: the path from the top-level code.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Site(pub Vec<Step>);

impl fmt::Display for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return write!(f, "the plan");
        }
        for (i, s) in self.0.iter().enumerate() {
            if i > 0 {
                write!(f, " / ")?;
            }
            match s {
                Step::Code(i) => write!(f, "code[{i}]")?,
                Step::Case(c) => write!(f, "case {c}")?,
                Step::Body => write!(f, "body")?,
                Step::Result => write!(f, "result")?,
                Step::Setup => write!(f, "setup")?,
                Step::Output => write!(f, "output")?,
                Step::Init => write!(f, "init")?,
                Step::Kernel(k) => write!(f, "kernel k{k}")?,
                Step::Fold(i) => write!(f, "batch fold {i}")?,
                Step::Unfold(u) => write!(f, "batch unfold {u}")?,
                Step::Level(h) => write!(f, "level {h}")?,
                Step::Group(k) => write!(f, "group {k}")?,
                Step::NestedField(j) => write!(f, "nested field {j}")?,
            }
        }
        Ok(())
    }
}

/// What a failed check found. Locations and layouts are given in the
/// plan printer's notation (`b3`, `v1`, `param@16`, `in0`; `batch x 12`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlanErrorKind {
    /// P001: an index past the end of what it indexes (a buffer, view,
    /// kernel, fold, unfold, leaf or parameter slot).
    OutOfRange {
        /// What is indexed.
        what: &'static str,
        /// The index found.
        index: usize,
        /// How many there are.
        count: usize,
    },
    /// P002: a buffer read before any instruction wrote it, or a view that
    /// no enclosing recursion op points.
    Undefined {
        /// The location.
        loc: String,
    },
    /// P003: an access that reaches past the end of its buffer.
    OutOfBounds {
        /// The location.
        loc: String,
        /// The numbers the access touches, in the rows of its context.
        touches: String,
        /// What the location holds.
        holds: String,
    },
    /// P004: a per-row access to a buffer laid out over other rows (an
    /// outer batch read inside a fold region without being gathered, a
    /// one-row read of a batched buffer).
    RowsMismatch {
        /// The location.
        loc: String,
        /// The rows of the access.
        reads: String,
        /// The rows the location is laid out over.
        holds: String,
    },
    /// P005: an instruction's output shares storage with one of its inputs
    /// where the executor needs them apart.
    Overlap {
        /// The output.
        written: String,
        /// The input it shares storage with.
        read: String,
    },
    /// P006: two outputs of one instruction share storage.
    WritesOverlap {
        /// The buffer written twice.
        loc: String,
    },
    /// P007: an instruction writes to parameters, inputs or a view.
    ReadOnly {
        /// The location.
        loc: String,
    },
    /// P008: two counts or sizes that must agree do not (a kernel's steps
    /// and its operands, a region's result and the buffers it goes to).
    Mismatch {
        /// What is compared.
        what: String,
        /// The size the executor assumes.
        expected: usize,
        /// The size the plan gives.
        found: usize,
    },
    /// P009: a leaf used as what it is not (a class target that is not a
    /// class leaf, a tensor read of a structure).
    LeafKind {
        /// The leaf.
        leaf: usize,
        /// What it was used as.
        expected: &'static str,
    },
    /// P010: a row op's index table reaches past its input or output.
    RowOpIndex {
        /// The row op.
        op: &'static str,
        /// The largest index (exclusive bound) the table needs.
        needs: usize,
        /// The size available.
        len: usize,
    },
    /// P011: a prepared batch's schedule index past what it indexes (a
    /// child, list child or root past the fold's nodes, an example past the
    /// rows, an element row past its sequence).
    ScheduleIndex {
        /// What is indexed.
        what: &'static str,
        /// The index found.
        index: usize,
        /// How many there are.
        count: usize,
    },
    /// P012: a node of a fold scheduled by no group (`times` 0) or by more
    /// than one.
    NodeCount {
        /// The node's number.
        node: usize,
        /// How often it was met (0, or 2 at the second time).
        times: usize,
    },
    /// P013: a node's child not scheduled at a lower level than the node.
    ChildOrder {
        /// The parent's number.
        parent: usize,
        /// The child's number.
        child: usize,
    },
    /// P014: a prepared batch's table whose length disagrees with the
    /// group or unfold it belongs to.
    ScheduleShape {
        /// The table.
        what: String,
        /// The length the executor assumes.
        expected: usize,
        /// The length found.
        found: usize,
    },
    /// P015: a child, element or root that belongs to another example
    /// than its parent (or than the root's row).
    OtherExample {
        /// What was checked.
        what: &'static str,
        /// The node (or element row).
        node: usize,
        /// The example it belongs to.
        example: usize,
        /// The example it should belong to.
        expected: usize,
    },
}

/// A failed check of `plan::verify`: a code, the site and the facts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanError {
    /// Where the check failed.
    pub site: Site,
    /// What it found.
    pub kind: PlanErrorKind,
}

impl PlanError {
    /// The stable code of the check that failed (`P001` to `P015`).
    pub fn code(&self) -> &'static str {
        match self.kind {
            PlanErrorKind::OutOfRange { .. } => "P001",
            PlanErrorKind::Undefined { .. } => "P002",
            PlanErrorKind::OutOfBounds { .. } => "P003",
            PlanErrorKind::RowsMismatch { .. } => "P004",
            PlanErrorKind::Overlap { .. } => "P005",
            PlanErrorKind::WritesOverlap { .. } => "P006",
            PlanErrorKind::ReadOnly { .. } => "P007",
            PlanErrorKind::Mismatch { .. } => "P008",
            PlanErrorKind::LeafKind { .. } => "P009",
            PlanErrorKind::RowOpIndex { .. } => "P010",
            PlanErrorKind::ScheduleIndex { .. } => "P011",
            PlanErrorKind::NodeCount { .. } => "P012",
            PlanErrorKind::ChildOrder { .. } => "P013",
            PlanErrorKind::ScheduleShape { .. } => "P014",
            PlanErrorKind::OtherExample { .. } => "P015",
        }
    }
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] at {}: ", self.code(), self.site)?;
        match &self.kind {
            PlanErrorKind::OutOfRange { what, index, count } => {
                write!(f, "{what} {index} does not exist (there are {count})")
            }
            PlanErrorKind::Undefined { loc } => {
                write!(f, "{loc} is read before anything defines it")
            }
            PlanErrorKind::OutOfBounds {
                loc,
                touches,
                holds,
            } => write!(
                f,
                "{loc} is read or written over {touches} but holds {holds}"
            ),
            PlanErrorKind::RowsMismatch { loc, reads, holds } => write!(
                f,
                "{loc} is accessed over {reads} rows but laid out over {holds} rows"
            ),
            PlanErrorKind::Overlap { written, read } => write!(
                f,
                "the output {written} shares storage with the input {read}"
            ),
            PlanErrorKind::WritesOverlap { loc } => {
                write!(f, "{loc} is written twice by one instruction")
            }
            PlanErrorKind::ReadOnly { loc } => {
                write!(f, "{loc} is written but is read-only")
            }
            PlanErrorKind::Mismatch {
                what,
                expected,
                found,
            } => write!(f, "{what}: expected {expected}, found {found}"),
            PlanErrorKind::LeafKind { leaf, expected } => {
                write!(f, "leaf {leaf} is used as {expected} but is not one")
            }
            PlanErrorKind::RowOpIndex { op, needs, len } => write!(
                f,
                "the index table of `{op}` needs {needs} numbers but has {len}"
            ),
            PlanErrorKind::ScheduleIndex { what, index, count } => {
                write!(f, "{what} {index} is past the {count} there are")
            }
            PlanErrorKind::NodeCount { node, times: 0 } => {
                write!(f, "node {node} is in no group of the schedule")
            }
            PlanErrorKind::NodeCount { node, .. } => {
                write!(f, "node {node} is in more than one group of the schedule")
            }
            PlanErrorKind::ChildOrder { parent, child } => write!(
                f,
                "node {parent}'s child {child} is not scheduled at a lower level"
            ),
            PlanErrorKind::ScheduleShape {
                what,
                expected,
                found,
            } => write!(f, "{what}: expected {expected}, found {found}"),
            PlanErrorKind::OtherExample {
                what,
                node,
                example,
                expected,
            } => write!(
                f,
                "{what} {node} belongs to example {example}, not {expected}"
            ),
        }
    }
}

impl std::error::Error for PlanError {}
