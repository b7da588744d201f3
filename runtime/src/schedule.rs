//! Level schedules: how a batch of lists or trees is folded in batched steps.
//!
//! A fold visits a node after its recursive children. Grouping the nodes of
//! a whole batch by *height* (leaves and `nil` have height 0, a node
//! `1 + max(height of its recursive children)`) gives an order in which one
//! batched kernel call per (height, constructor) pair suffices: every node
//! of height `h` only needs results of heights below `h`.
//!
//! The schedule numbers every node of the batch globally, height by height,
//! and within a height constructor by constructor (in declaration order),
//! and within a group in post-order of the batch (example by example). So
//! each group's nodes are a contiguous range of numbers, every child's
//! number is below its parent's, and a kernel can keep the fold's results
//! in one array indexed by node number. For each node the schedule lists
//! the numbers of its recursive children and references to its other
//! fields (the values the algebra reads, such as a list element).
//!
//! A field is recursive when its type is exactly `X` (`Rec(0)`). A rose
//! tree's `List(X)` field (a list whose elements are `Rec(1)`) holds any
//! number of recursive children: the schedule lists them per node in list
//! order (`Group::list_offsets`, `Group::list_children`), and a node's height
//! counts them like its other children. A field that mentions `X` in any
//! other way (a nested field: `Tree(X)`, `List(A * X)`, `X * X`) holds its
//! subtrees at those positions as children too (`schedule/nested.rs`): the
//! schedule lists them per node in walking order (`Group::nested_offsets`,
//! `Group::nested_children`) next to the field's value
//! (`Group::nested_values`), which a backend lays out as a structure of its
//! own.
//!
//! Building a schedule takes time linear in the number of nodes, never
//! recurses (a list of a million elements is fine), and allocates a fixed
//! number of flat vectors, none per node.

use crate::value::{DataDecl, DataType, Value};

pub mod nested;
#[cfg(test)]
mod tests;

/// The level schedule of a batch.
#[derive(Clone, Debug, PartialEq)]
pub struct Schedule<'a> {
    /// `levels[h]` holds the nodes of height `h`.
    pub levels: Vec<Level<'a>>,
    /// The number of each example's root, in batch order.
    pub roots: Vec<u32>,
    /// The number of nodes in the batch.
    pub num_nodes: usize,
}

/// The nodes of one height.
#[derive(Clone, Debug, PartialEq)]
pub struct Level<'a> {
    /// One group per constructor that occurs at this height, in declaration
    /// order.
    pub groups: Vec<Group<'a>>,
}

/// The nodes of one height built with one constructor.
#[derive(Clone, Debug, PartialEq)]
pub struct Group<'a> {
    /// The constructor's index.
    pub ctor: u32,
    /// The number of the group's first node; its nodes are numbered
    /// `first .. first + len`.
    pub first: u32,
    /// How many nodes the group has.
    pub len: usize,
    /// How many recursive children each node has.
    pub rec_arity: usize,
    /// The children's numbers, `len * rec_arity` of them: node `i`'s `r`-th
    /// recursive child is `children[i * rec_arity + r]`.
    pub children: Vec<u32>,
    /// How many non-recursive fields each node has.
    pub field_arity: usize,
    /// The non-recursive fields, `len * field_arity` of them, in field
    /// order: node `i`'s `f`-th is `fields[i * field_arity + f]`.
    pub fields: Vec<&'a Value>,
    /// How many lists of children (`List(X)` fields) each node has.
    pub list_arity: usize,
    /// Where each node's lists start in `list_children` (`len * list_arity`
    /// offsets and one past the last list): node `i`'s `l`-th list is
    /// `list_children[list_offsets[k]..list_offsets[k + 1]]` with
    /// `k = i * list_arity + l`.
    pub list_offsets: Vec<u32>,
    /// The numbers of the children in the nodes' lists, in list order.
    pub list_children: Vec<u32>,
    /// How many nested fields each node has.
    pub nested_arity: usize,
    /// Where each node's nested fields' children start in
    /// `nested_children`, laid out like `list_offsets`.
    pub nested_offsets: Vec<u32>,
    /// The numbers of the children at the nested fields' recursive
    /// positions, in the order `nested::holes` walks them.
    pub nested_children: Vec<u32>,
    /// The nested fields' values, `len * nested_arity` of them.
    pub nested_values: Vec<&'a Value>,
    /// The example (index in the batch) each node belongs to.
    pub examples: Vec<u32>,
}

/// Why a batch cannot be scheduled.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// The type is not an inductive data type.
    #[error("only values of a data type can be scheduled, not {ty}")]
    NotData {
        /// The type given.
        ty: String,
    },
    /// A value that is not a node of the data type.
    #[error("example {example}: expected a node of {ty}, found {found}")]
    BadNode {
        /// The example's index in the batch.
        example: usize,
        /// The data type's name.
        ty: String,
        /// What was found.
        found: String,
    },
    /// More nodes than node numbers (`u32`).
    #[error("the batch has more than 2^32 - 1 nodes")]
    TooLarge,
}

/// Which fields of each constructor are recursive.
struct Arity {
    rec: Vec<Vec<usize>>,
    /// Per constructor, its `List(X)` fields: (field index, the list's
    /// `cons` constructor).
    lists: Vec<Vec<(usize, u32)>>,
    /// Per constructor, its nested fields: (field index, the field's type).
    nested: Vec<Vec<(usize, DataType)>>,
    other: Vec<Vec<usize>>,
}

impl Arity {
    fn of(decl: &DataDecl) -> Result<Arity, ScheduleError> {
        let mut rec = Vec::new();
        let mut lists = Vec::new();
        let mut other = Vec::new();
        let mut nested = Vec::new();
        for c in &decl.ctors {
            let (mut r, mut l, mut o) = (Vec::new(), Vec::new(), Vec::new());
            let mut n = Vec::new();
            for (i, f) in c.fields.iter().enumerate() {
                if *f == DataType::Rec(0) {
                    r.push(i);
                } else if let Some(cons) = list_of_children(f) {
                    l.push((i, cons));
                } else if mentions_self(f, 0) {
                    n.push((i, f.clone()));
                } else {
                    o.push(i);
                }
            }
            rec.push(r);
            lists.push(l);
            nested.push(n);
            other.push(o);
        }
        Ok(Arity {
            rec,
            lists,
            nested,
            other,
        })
    }
}

/// For a field of type `List(X)` (a list data type whose element is the
/// enclosing type's recursive position, `Rec(1)`), the index of its `cons`
/// constructor.
fn list_of_children(t: &DataType) -> Option<u32> {
    let DataType::Data(d) = t else {
        return None;
    };
    let [a, b] = d.ctors.as_slice() else {
        return None;
    };
    let cons_fields = [DataType::Rec(1), DataType::Rec(0)];
    match (a.fields.as_slice(), b.fields.as_slice()) {
        ([], f) if f == cons_fields => Some(1),
        (f, []) if f == cons_fields => Some(0),
        _ => None,
    }
}

/// Pushes the elements of a list of children (a `List(X)` field's value)
/// onto `out` and returns how many there were.
fn push_list<'a>(
    mut v: &'a Value,
    cons: u32,
    example: usize,
    out: &mut Vec<&'a Value>,
) -> Result<u32, ScheduleError> {
    let mut n = 0u32;
    loop {
        match v {
            Value::Node { ctor, fields } if *ctor == cons && fields.len() == 2 => {
                out.push(&fields[0]);
                v = &fields[1];
                n += 1;
            }
            Value::Node { fields, .. } if fields.is_empty() => return Ok(n),
            other => {
                return Err(ScheduleError::BadNode {
                    example,
                    ty: "a list of children".into(),
                    found: crate::data::describe(other),
                });
            }
        }
    }
}

/// Whether `t`, seen `depth` data types inside the scheduled one, refers to
/// the scheduled type.
fn mentions_self(t: &DataType, depth: u32) -> bool {
    match t {
        DataType::Tensor(_) => false,
        DataType::Rec(k) => *k == depth,
        DataType::Tuple(ts) => ts.iter().any(|t| mentions_self(t, depth)),
        DataType::Data(d) => d
            .ctors
            .iter()
            .any(|c| c.fields.iter().any(|f| mentions_self(f, depth + 1))),
    }
}

/// Checks that `v` is a node of `decl` and returns its constructor.
fn node_ctor<'a>(
    v: &'a Value,
    decl: &DataDecl,
    example: usize,
) -> Result<(u32, &'a [Value]), ScheduleError> {
    let bad = |found: String| ScheduleError::BadNode {
        example,
        ty: decl.name.clone(),
        found,
    };
    match v {
        Value::Node { ctor, fields } => match decl.ctors.get(*ctor as usize) {
            Some(c) if c.fields.len() == fields.len() => Ok((*ctor, fields)),
            Some(c) => Err(bad(format!("`{}` with {} fields", c.name, fields.len()))),
            None => Err(bad(format!("constructor #{ctor}"))),
        },
        _ => Err(bad(crate::data::describe(v))),
    }
}

/// The most nodes a batch's schedule numbers: a node number is a `u32`.
pub const MAX_NODES: usize = u32::MAX as usize;

/// The level schedule of a batch of values of the data type `ty`.
pub fn schedule<'a, I>(batch: I, ty: &DataType) -> Result<Schedule<'a>, ScheduleError>
where
    I: IntoIterator<Item = &'a Value>,
{
    schedule_within(batch, ty, MAX_NODES)
}

/// `schedule`, refusing a batch of more than `max_nodes` nodes (at most
/// `MAX_NODES`) with `ScheduleError::TooLarge`. `schedule` is this with
/// `MAX_NODES`; a smaller limit lets a test reach the refusal without
/// building 2^32 nodes.
pub fn schedule_within<'a, I>(
    batch: I,
    ty: &DataType,
    max_nodes: usize,
) -> Result<Schedule<'a>, ScheduleError>
where
    I: IntoIterator<Item = &'a Value>,
{
    let DataType::Data(decl) = ty else {
        return Err(ScheduleError::NotData { ty: ty.to_string() });
    };
    let arity = Arity::of(decl)?;
    let walk = PostOrder::walk(batch, decl, &arity, max_nodes.min(MAX_NODES))?;
    Ok(walk.into_schedule(&arity, decl.ctors.len()))
}

/// Every node of the batch in post-order, with its height and children.
struct PostOrder<'a> {
    height: Vec<u32>,
    ctor: Vec<u32>,
    example: Vec<u32>,
    fields: Vec<&'a [Value]>,
    /// The post-order indices of each node's children, node after node: its
    /// recursive fields' (as many as its constructor's recursive arity),
    /// then its lists' elements in order.
    children: Vec<u32>,
    /// The length of each node's lists of children, node after node (as
    /// many as its constructor's list arity).
    list_lens: Vec<u32>,
    /// The lists' lengths of the nodes on the walk's path, in path order.
    open_lens: Vec<u32>,
    /// The numbers of children in each node's nested fields, node after
    /// node, and those of the nodes on the path.
    nested_lens: Vec<u32>,
    open_nested: Vec<u32>,
    roots: Vec<u32>,
}

/// A node on the walk's path: its constructor and fields, where its
/// children start in the pending stack, how many it has, and how many have
/// been visited.
struct Open<'a> {
    ctor: u32,
    fields: &'a [Value],
    start: usize,
    count: usize,
    next: usize,
}

impl<'a> PostOrder<'a> {
    fn walk<I>(
        batch: I,
        decl: &DataDecl,
        arity: &Arity,
        max_nodes: usize,
    ) -> Result<PostOrder<'a>, ScheduleError>
    where
        I: IntoIterator<Item = &'a Value>,
    {
        let mut p = PostOrder {
            height: Vec::new(),
            ctor: Vec::new(),
            example: Vec::new(),
            fields: Vec::new(),
            children: Vec::new(),
            list_lens: Vec::new(),
            open_lens: Vec::new(),
            nested_lens: Vec::new(),
            open_nested: Vec::new(),
            roots: Vec::new(),
        };
        // The path from the root to the current node.
        let mut stack: Vec<Open<'a>> = Vec::new();
        // The children of the nodes on the path, each node's in a run.
        let mut pending: Vec<&'a Value> = Vec::new();
        // Finished nodes whose parent is not finished yet.
        let mut done: Vec<u32> = Vec::new();
        for (example, root) in batch.into_iter().enumerate() {
            let (c, f) = node_ctor(root, decl, example)?;
            stack.push(p.open(c, f, arity, example, &mut pending)?);
            while let Some(top) = stack.last_mut() {
                if top.next < top.count {
                    let child = pending[top.start + top.next];
                    top.next += 1;
                    let (cc, cf) = node_ctor(child, decl, example)?;
                    let open = p.open(cc, cf, arity, example, &mut pending)?;
                    stack.push(open);
                    continue;
                }
                let open = stack.pop().expect("the loop's node");
                pending.truncate(open.start);
                let lists = arity.lists[open.ctor as usize].len();
                let from = p.open_lens.len() - lists;
                p.list_lens.extend_from_slice(&p.open_lens[from..]);
                p.open_lens.truncate(from);
                let nested = arity.nested[open.ctor as usize].len();
                let from = p.open_nested.len() - nested;
                p.nested_lens.extend_from_slice(&p.open_nested[from..]);
                p.open_nested.truncate(from);
                if p.height.len() >= max_nodes {
                    return Err(ScheduleError::TooLarge);
                }
                let id = p.height.len() as u32;
                let kids = &done[done.len() - open.count..];
                let h = kids
                    .iter()
                    .map(|&k| p.height[k as usize] + 1)
                    .max()
                    .unwrap_or(0);
                p.children.extend_from_slice(kids);
                done.truncate(done.len() - open.count);
                done.push(id);
                p.height.push(h);
                p.ctor.push(open.ctor);
                p.example.push(example as u32);
                p.fields.push(open.fields);
            }
            p.roots.push(done.pop().expect("the root is finished last"));
        }
        Ok(p)
    }

    /// Opens a node: pushes its children (recursive fields, then the
    /// elements of its lists of children) onto `pending` and its lists'
    /// lengths onto `open_lens`.
    fn open(
        &mut self,
        ctor: u32,
        fields: &'a [Value],
        arity: &Arity,
        example: usize,
        pending: &mut Vec<&'a Value>,
    ) -> Result<Open<'a>, ScheduleError> {
        let start = pending.len();
        let c = ctor as usize;
        pending.extend(arity.rec[c].iter().map(|&i| &fields[i]));
        for &(i, cons) in &arity.lists[c] {
            let n = push_list(&fields[i], cons, example, pending)?;
            self.open_lens.push(n);
        }
        for (i, ty) in &arity.nested[c] {
            let n = nested::holes(&fields[*i], ty, example, pending)?;
            self.open_nested.push(n);
        }
        Ok(Open {
            ctor,
            fields,
            start,
            count: pending.len() - start,
            next: 0,
        })
    }

    fn into_schedule(self, arity: &Arity, n_ctors: usize) -> Schedule<'a> {
        let n = self.height.len();
        let levels = self.height.iter().max().map_or(0, |h| *h as usize + 1);
        // Group sizes, then each group's first number: height-major, then
        // constructor.
        let key = |t: usize| self.height[t] as usize * n_ctors + self.ctor[t] as usize;
        let mut next = vec![0u32; levels * n_ctors];
        for t in 0..n {
            next[key(t)] += 1;
        }
        let sizes = next.clone();
        let mut start = 0u32;
        for slot in next.iter_mut() {
            let size = *slot;
            *slot = start;
            start += size;
        }
        let firsts = next.clone();
        let mut number = vec![0u32; n];
        for (t, num) in number.iter_mut().enumerate() {
            let k = key(t);
            *num = next[k];
            next[k] += 1;
        }
        // Fill the groups.
        let mut groups: Vec<Option<Group<'a>>> = (0..levels * n_ctors)
            .map(|k| {
                let len = sizes[k] as usize;
                let c = k % n_ctors;
                (len > 0).then(|| Group {
                    ctor: c as u32,
                    first: firsts[k],
                    len,
                    rec_arity: arity.rec[c].len(),
                    children: Vec::with_capacity(len * arity.rec[c].len()),
                    field_arity: arity.other[c].len(),
                    fields: Vec::with_capacity(len * arity.other[c].len()),
                    list_arity: arity.lists[c].len(),
                    list_offsets: vec![0],
                    list_children: Vec::new(),
                    nested_arity: arity.nested[c].len(),
                    nested_offsets: vec![0],
                    nested_children: Vec::new(),
                    nested_values: Vec::with_capacity(len * arity.nested[c].len()),
                    examples: Vec::with_capacity(len),
                })
            })
            .collect();
        let (mut offset, mut lens, mut nested) = (0, 0, 0);
        for t in 0..n {
            let g = groups[key(t)]
                .as_mut()
                .expect("every node's group is non-empty");
            let c = self.ctor[t] as usize;
            let kids = &self.children[offset..offset + g.rec_arity];
            offset += g.rec_arity;
            g.children.extend(kids.iter().map(|&k| number[k as usize]));
            for &len in &self.list_lens[lens..lens + g.list_arity] {
                let kids = &self.children[offset..offset + len as usize];
                offset += len as usize;
                g.list_children
                    .extend(kids.iter().map(|&k| number[k as usize]));
                g.list_offsets.push(g.list_children.len() as u32);
            }
            lens += g.list_arity;
            for &len in &self.nested_lens[nested..nested + g.nested_arity] {
                let kids = &self.children[offset..offset + len as usize];
                offset += len as usize;
                g.nested_children
                    .extend(kids.iter().map(|&k| number[k as usize]));
                g.nested_offsets.push(g.nested_children.len() as u32);
            }
            nested += g.nested_arity;
            g.nested_values
                .extend(arity.nested[c].iter().map(|(f, _)| &self.fields[t][*f]));
            g.fields
                .extend(arity.other[c].iter().map(|&f| &self.fields[t][f]));
            g.examples.push(self.example[t]);
        }
        let mut groups = groups.into_iter();
        let levels = (0..levels)
            .map(|_| Level {
                groups: groups.by_ref().take(n_ctors).flatten().collect(),
            })
            .collect();
        Schedule {
            levels,
            roots: self.roots.iter().map(|&r| number[r as usize]).collect(),
            num_nodes: n,
        }
    }
}
