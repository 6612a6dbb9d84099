//! `Memo`: a bounded map for memoising values that never change for their key (a
//! signature check that passed, a Merkle node once written). Two generations of at
//! most `capacity` entries each: inserts go to the current one; when it is full it
//! becomes the older one and the older one is dropped whole. Memory is fixed, a lookup
//! is a hash-map probe, and an entry used while in the older generation moves forward,
//! so what is in use survives. Simpler than an LRU list and as good for these loads.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard};

pub(crate) struct Memo<K, V> {
    current: HashMap<K, V>,
    older: HashMap<K, V>,
    capacity: usize,
}

impl<K: Copy + Eq + Hash, V: Clone> Memo<K, V> {
    /// A memo of at most `2 * capacity` entries.
    pub(crate) fn new(capacity: usize) -> Self {
        Self { current: HashMap::new(), older: HashMap::new(), capacity: capacity.max(1) }
    }

    pub(crate) fn get(&mut self, key: &K) -> Option<V> {
        if let Some(v) = self.current.get(key) {
            return Some(v.clone());
        }
        // A hit in the older generation moves the entry forward so it survives the next drop.
        let v = self.older.remove(key)?;
        self.insert(*key, v.clone());
        Some(v)
    }

    pub(crate) fn insert(&mut self, key: K, value: V) {
        if self.current.len() >= self.capacity {
            self.older = std::mem::take(&mut self.current);
        }
        self.current.insert(key, value);
    }

    pub(crate) fn len(&self) -> usize {
        self.current.len() + self.older.len()
    }
}

/// Locks a mutex around a memo. A memo is consistent between any two of its calls, so
/// a panic elsewhere while the lock was held leaves nothing half-done: the poison is
/// ignored.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Sha256Digest;

    #[test]
    fn bounded_to_two_generations_and_keeps_what_is_used() {
        let mut g = Memo::new(2);
        let k = |i: u8| Sha256Digest::of(&[i]);
        g.insert(k(1), ());
        g.insert(k(2), ());
        g.insert(k(3), ()); // 1 and 2 move to the older generation
        assert!(g.get(&k(1)).is_some()); // moved forward again
        g.insert(k(4), ()); // current {3, 1} is full: it becomes the older one
        assert!(g.get(&k(2)).is_none(), "dropped with its generation");
        assert!(g.get(&k(1)).is_some() && g.get(&k(3)).is_some());
        assert!(g.len() <= 4);
    }
}
