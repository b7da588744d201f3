//! Arenas and typed handles: the nodes of one body live in an [`Arena`],
//! and refer to each other by [`Handle`], a `u32` index that names the
//! kind of node it points to. A handle is only meaningful in the arena
//! that made it; the HIR never mixes the arenas of two bodies.

use cdlc_grammar::Span;
use std::fmt;
use std::marker::PhantomData;

/// The index of a node of type `T` in its arena.
pub struct Handle<T> {
    index: u32,
    marker: PhantomData<fn() -> T>,
}

impl<T> Handle<T> {
    fn new(index: usize) -> Handle<T> {
        Handle {
            index: u32::try_from(index).expect("fewer than 2^32 nodes in one body"),
            marker: PhantomData,
        }
    }

    /// The position in the arena, for side tables indexed alike.
    pub fn index(self) -> usize {
        self.index as usize
    }
}

// Written by hand: the derives would ask `T` for the same traits.
impl<T> Clone for Handle<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Handle<T> {}

impl<T> PartialEq for Handle<T> {
    fn eq(&self, other: &Self) -> bool {
        self.index == other.index
    }
}

impl<T> Eq for Handle<T> {}

impl<T> std::hash::Hash for Handle<T> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.index.hash(state);
    }
}

impl<T> fmt::Debug for Handle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.index)
    }
}

/// Nodes of one kind, each with the span of the source it came from.
pub struct Arena<T> {
    items: Vec<T>,
    spans: Vec<Span>,
}

impl<T> Default for Arena<T> {
    fn default() -> Self {
        Arena {
            items: Vec::new(),
            spans: Vec::new(),
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for Arena<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.items.iter().enumerate())
            .finish()
    }
}

impl<T> Arena<T> {
    /// Adds a node and returns its handle.
    pub fn append(&mut self, item: T, span: Span) -> Handle<T> {
        self.items.push(item);
        self.spans.push(span);
        Handle::new(self.items.len() - 1)
    }

    /// The number of nodes.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether the arena holds no node.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The span of a node.
    pub fn span(&self, h: Handle<T>) -> Span {
        self.spans[h.index()]
    }

    /// Every node with its handle, in the order they were added.
    pub fn iter(&self) -> impl Iterator<Item = (Handle<T>, &T)> {
        self.items
            .iter()
            .enumerate()
            .map(|(i, x)| (Handle::new(i), x))
    }
}

impl<T> std::ops::Index<Handle<T>> for Arena<T> {
    type Output = T;
    fn index(&self, h: Handle<T>) -> &T {
        &self.items[h.index()]
    }
}
