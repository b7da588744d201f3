//! The bookkeeping of iterative walks over deep values: field paths and
//! data-type scopes kept as links to their parents in flat vectors.
//!
//! A walk that recurses can keep a position's path and its enclosing data
//! types on the call stack; a walk with its own stack of pending work needs
//! them elsewhere, and building each path as a new string (`x.node[1]` from
//! `x`) costs the path's length at every level, which is quadratic along a
//! deep spine. Here a path is one link to its parent plus the last
//! segment, so extending it costs a constant, and its text is rendered
//! only when a mismatch is reported.

use std::fmt;

use super::Mismatch;
use crate::value::DataDecl;

/// How many segments a long path shows at each end.
const SHOWN: usize = 6;

/// A path into a value: an index into [`Paths`].
pub(crate) type PathId = usize;

/// The last segment of a path.
#[derive(Clone, Copy, Debug)]
enum Segment<'t> {
    /// The example's `x` or `y`.
    Root(&'static str),
    /// An index `[i]` into a tuple, a tensor or a list.
    Index(usize),
    /// A constructor's field `.name[i]`.
    Field(&'t str, usize),
}

impl fmt::Display for Segment<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Segment::Root(name) => write!(f, "{name}"),
            Segment::Index(i) => write!(f, "[{i}]"),
            Segment::Field(ctor, i) => write!(f, ".{ctor}[{i}]"),
        }
    }
}

/// Every path a walk has made, each a link to its parent.
#[derive(Debug)]
pub(crate) struct Paths<'t> {
    links: Vec<(PathId, Segment<'t>)>,
}

impl<'t> Paths<'t> {
    /// The paths of a walk from `root` (`x` or `y`); the root is path 0.
    pub(crate) fn new(root: &'static str) -> Paths<'t> {
        Paths {
            links: vec![(0, Segment::Root(root))],
        }
    }

    /// The root path.
    pub(crate) fn root(&self) -> PathId {
        0
    }

    /// `parent` followed by `[i]`.
    pub(crate) fn index(&mut self, parent: PathId, i: usize) -> PathId {
        self.links.push((parent, Segment::Index(i)));
        self.links.len() - 1
    }

    /// `parent` followed by the constructor field `.ctor[i]`.
    pub(crate) fn field(&mut self, parent: PathId, ctor: &'t str, i: usize) -> PathId {
        self.links.push((parent, Segment::Field(ctor, i)));
        self.links.len() - 1
    }

    /// The text of a path, e.g. `x.node[1].node[0]`. A path of more than
    /// `2 * SHOWN` segments below its root shows its first and last
    /// `SHOWN` and how many were left out between them, so an error deep
    /// in a tree stays one readable line.
    pub(crate) fn render(&self, id: PathId) -> String {
        let mut segments = Vec::new();
        let mut at = id;
        loop {
            let (parent, segment) = self.links[at];
            segments.push(segment);
            if matches!(segment, Segment::Root(_)) {
                break;
            }
            at = parent;
        }
        segments.reverse();
        let below = segments.len() - 1;
        if below <= 2 * SHOWN {
            return segments.iter().map(|s| s.to_string()).collect();
        }
        let head: String = segments[..=SHOWN].iter().map(|s| s.to_string()).collect();
        let tail: String = segments[segments.len() - SHOWN..]
            .iter()
            .map(|s| s.to_string())
            .collect();
        format!("{head}<{} more>{tail}", below - 2 * SHOWN)
    }

    /// A mismatch at path `id`.
    pub(crate) fn mismatch(
        &self,
        id: PathId,
        expected: impl fmt::Display,
        found: impl Into<String>,
    ) -> Mismatch {
        Mismatch {
            path: self.render(id),
            expected: expected.to_string(),
            found: found.into(),
        }
    }
}

/// A scope: an index into [`Scopes`].
pub(crate) type ScopeId = usize;

/// The data types enclosing the positions of a walk: each scope is a
/// declaration and a link to the scope around it, so `Rec(k)` names the
/// scope `k` links up.
#[derive(Debug, Default)]
pub(crate) struct Scopes<'t> {
    links: Vec<(&'t DataDecl, Option<ScopeId>)>,
}

impl<'t> Scopes<'t> {
    /// The scope inside `decl`, nested in `parent`.
    pub(crate) fn enter(&mut self, decl: &'t DataDecl, parent: Option<ScopeId>) -> ScopeId {
        self.links.push((decl, parent));
        self.links.len() - 1
    }

    /// The declaration scope `id` is inside.
    pub(crate) fn decl(&self, id: ScopeId) -> &'t DataDecl {
        self.links[id].0
    }

    /// `text`, a type as printed from inside scope `at`, with each
    /// recursive position (`X`, `X1`, …) replaced by the name of the data
    /// type it stands for there, so that a message inside a nested field
    /// says `R[2] * Labelled(R[2])` rather than `R[2] * X1`. A position
    /// outside every scope stays as it is.
    pub(crate) fn named(&self, text: &str, at: Option<ScopeId>) -> String {
        let chars: Vec<char> = text.chars().collect();
        let word = |c: char| c.is_alphanumeric() || c == '_';
        let mut out = String::new();
        let mut i = 0;
        while i < chars.len() {
            let starts = chars[i] == 'X' && (i == 0 || !word(chars[i - 1]));
            let digits = chars[i + 1..]
                .iter()
                .take_while(|c| c.is_ascii_digit())
                .count();
            let end = i + 1 + digits;
            if starts && chars.get(end).is_none_or(|&c| !word(c)) {
                let k: u32 = chars[i + 1..end]
                    .iter()
                    .collect::<String>()
                    .parse()
                    .unwrap_or(0);
                if let Some(s) = self.up(at, k) {
                    // The name is written where that data type sits: one
                    // scope further out.
                    out += &self.named(&self.decl(s).name, self.up(Some(s), 1));
                    i = end;
                    continue;
                }
            }
            out.push(chars[i]);
            i += 1;
        }
        out
    }

    /// The scope `k` levels out from `id` (the one `Rec(k)` names), if any.
    pub(crate) fn up(&self, id: Option<ScopeId>, k: u32) -> Option<ScopeId> {
        let mut at = id?;
        for _ in 0..k {
            at = self.links[at].1?;
        }
        Some(at)
    }
}

#[cfg(test)]
mod tests;
