//! Bounded places per key: how many `/changes?wait=` requests each account may have waiting,
//! how many connections each address may hold open. A place is given back when its [`Slot`] is
//! dropped, so it can never outlive the request or connection that holds it, and a key with
//! nothing held is forgotten (the map never grows past what is held).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

/// Waiting `/changes` requests one account may have; the next one is refused (503
/// `too_many_waits`) until one of them is answered. A waiting request holds a connection for up
/// to a minute, so without a bound one token could hold every connection the server takes. A
/// client waits with one request at a time, so a person with many machines still fits.
pub const MAX_WAITS_PER_ACCOUNT: usize = 16;

/// At most `max` places held per key; cheap to clone (shared).
#[derive(Debug)]
pub struct Slots<K> {
    max: usize,
    held: Arc<Mutex<HashMap<K, usize>>>,
}

impl<K> Clone for Slots<K> {
    fn clone(&self) -> Self {
        Slots {
            max: self.max,
            held: Arc::clone(&self.held),
        }
    }
}

/// One place, given back when dropped.
#[derive(Debug)]
pub struct Slot<K: Hash + Eq + Clone> {
    slots: Slots<K>,
    key: K,
}

impl<K: Hash + Eq + Clone> Slots<K> {
    pub fn new(max: usize) -> Slots<K> {
        Slots {
            max,
            held: Arc::default(),
        }
    }

    fn held(&self) -> std::sync::MutexGuard<'_, HashMap<K, usize>> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// One more place for `key`, or `None` when it holds the most it may.
    pub fn take(&self, key: K) -> Option<Slot<K>> {
        let mut held = self.held();
        let n = held.entry(key.clone()).or_default();
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(Slot {
            slots: self.clone(),
            key,
        })
    }

    /// How many places `key` holds.
    pub fn holding(&self, key: &K) -> usize {
        self.held().get(key).copied().unwrap_or(0)
    }
}

impl<K: Hash + Eq + Clone> Drop for Slot<K> {
    fn drop(&mut self) {
        let mut held = self.slots.held();
        if let Some(n) = held.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                held.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_holds_a_bounded_number_of_places_and_gets_them_back() {
        let slots = Slots::new(MAX_WAITS_PER_ACCOUNT);
        let held: Vec<_> = (0..MAX_WAITS_PER_ACCOUNT)
            .map(|_| slots.take(1_i64).expect("a place"))
            .collect();
        assert!(slots.take(1).is_none());
        // Another key is not affected.
        let other = slots.take(2).expect("another key's place");
        drop(held);
        assert_eq!(slots.holding(&1), 0);
        assert!(slots.take(1).is_some());
        drop(other);
        assert!(slots.held().is_empty(), "nothing held, nothing kept");
    }
}
