//! Typed `u32` handles, the arenas that own what they name, and side tables.
//!
//! IR entities refer to each other by index, never by reference: a handle is
//! a `u32` newtype that is only meaningful for the arena that issued it. An
//! index is cheap to copy, prints as a short name (`%3`), and lets later
//! stages attach facts to entities in a `SecondaryMap` without changing the
//! entity itself.

use std::fmt;
use std::marker::PhantomData;
use std::ops::{Index, IndexMut};

/// A handle into an arena.
pub trait EntityRef: Copy + Eq + fmt::Debug {
    /// The handle of the `index`-th entity.
    fn new(index: usize) -> Self;
    /// The position of the entity in its arena.
    fn index(self) -> usize;
}

/// Declares a `u32` handle type whose `Display` prints `prefix` and the index.
macro_rules! entity {
    ($(#[$meta:meta])* $name:ident, $prefix:literal) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(u32);

        impl $crate::entity::EntityRef for $name {
            fn new(index: usize) -> Self {
                $name(u32::try_from(index).expect("fewer than 2^32 entities"))
            }
            fn index(self) -> usize {
                self.0 as usize
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, concat!($prefix, "{}"), self.0)
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Display::fmt(self, f)
            }
        }
    };
}
pub(crate) use entity;

/// An arena that owns its entities and issues their handles (Cranelift's
/// `PrimaryMap`). Entities are never removed, so handles stay valid.
#[derive(Clone, PartialEq)]
pub struct Arena<K, V> {
    items: Vec<V>,
    _key: PhantomData<K>,
}

impl<K: EntityRef, V> Arena<K, V> {
    /// An empty arena.
    pub fn new() -> Self {
        Arena {
            items: Vec::new(),
            _key: PhantomData,
        }
    }

    /// Adds an entity and returns its handle.
    pub fn push(&mut self, value: V) -> K {
        self.items.push(value);
        K::new(self.items.len() - 1)
    }

    /// The number of entities.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether the arena is empty.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Whether `key` names an entity of this arena.
    pub fn contains(&self, key: K) -> bool {
        key.index() < self.items.len()
    }

    /// The entity named by `key`, if it exists.
    pub fn get(&self, key: K) -> Option<&V> {
        self.items.get(key.index())
    }

    /// All handles, in creation order.
    pub fn keys(&self) -> impl Iterator<Item = K> + use<K, V> {
        (0..self.items.len()).map(K::new)
    }

    /// All entities with their handles, in creation order.
    pub fn iter(&self) -> impl Iterator<Item = (K, &V)> {
        self.items.iter().enumerate().map(|(i, v)| (K::new(i), v))
    }
}

impl<K: EntityRef, V> Default for Arena<K, V> {
    fn default() -> Self {
        Arena::new()
    }
}

impl<K: EntityRef, V> Index<K> for Arena<K, V> {
    type Output = V;
    fn index(&self, key: K) -> &V {
        &self.items[key.index()]
    }
}

impl<K: EntityRef, V> IndexMut<K> for Arena<K, V> {
    fn index_mut(&mut self, key: K) -> &mut V {
        &mut self.items[key.index()]
    }
}

impl<K: EntityRef, V: fmt::Debug> fmt::Debug for Arena<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// A side table: a fact per entity of some arena, stored beside it rather
/// than in it. Entities without a fact have none (`get` returns `None`).
#[derive(Clone, PartialEq)]
pub struct SecondaryMap<K, V> {
    items: Vec<Option<V>>,
    _key: PhantomData<K>,
}

impl<K: EntityRef, V> SecondaryMap<K, V> {
    /// An empty table.
    pub fn new() -> Self {
        SecondaryMap {
            items: Vec::new(),
            _key: PhantomData,
        }
    }

    /// Records the fact for `key`, replacing any earlier one.
    pub fn insert(&mut self, key: K, value: V) {
        let i = key.index();
        if i >= self.items.len() {
            self.items.resize_with(i + 1, || None);
        }
        self.items[i] = Some(value);
    }

    /// The fact for `key`, if one was recorded.
    pub fn get(&self, key: K) -> Option<&V> {
        self.items.get(key.index()).and_then(Option::as_ref)
    }

    /// The fact for `key`, mutably, if one was recorded.
    pub fn get_mut(&mut self, key: K) -> Option<&mut V> {
        self.items.get_mut(key.index()).and_then(Option::as_mut)
    }

    /// Removes and returns the fact for `key`.
    pub fn remove(&mut self, key: K) -> Option<V> {
        self.items.get_mut(key.index()).and_then(Option::take)
    }
}

impl<K: EntityRef, V> Default for SecondaryMap<K, V> {
    fn default() -> Self {
        SecondaryMap::new()
    }
}

impl<K: EntityRef, V> Index<K> for SecondaryMap<K, V> {
    type Output = V;
    fn index(&self, key: K) -> &V {
        self.get(key)
            .unwrap_or_else(|| panic!("side table has no entry for {key:?}"))
    }
}

impl<K: EntityRef, V: fmt::Debug> fmt::Debug for SecondaryMap<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(
                self.items
                    .iter()
                    .enumerate()
                    .filter_map(|(i, v)| v.as_ref().map(|v| (K::new(i), v))),
            )
            .finish()
    }
}
