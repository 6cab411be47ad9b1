//! Deadlines ordered by time, so that finding and running the due ones costs O(log n) each
//! rather than a scan of every connection and session.
//!
//! Each key has at most one deadline; setting it again moves it. Keep-alive deadlines are not
//! moved on every packet: the engine re-arms a connection's timer lazily, when it fires early
//! (see [`super::Engine::handle_timeout`]), so a busy connection costs one timer event per
//! keep-alive period and an idle one nothing until its deadline.

use std::collections::{BTreeSet, HashMap};
use std::hash::Hash;
use std::time::Instant;

/// A set of keys, each with one deadline.
#[derive(Debug)]
pub(crate) struct Timers<K> {
    by_key: HashMap<K, Instant>,
    order: BTreeSet<(Instant, K)>,
}

impl<K> Default for Timers<K> {
    fn default() -> Self {
        Self {
            by_key: HashMap::new(),
            order: BTreeSet::new(),
        }
    }
}

impl<K: Clone + Eq + Hash + Ord> Timers<K> {
    /// Sets `key`'s deadline to `at`, replacing any earlier one; `None` removes it.
    pub(crate) fn set(&mut self, key: K, at: Option<Instant>) {
        self.remove(&key);
        if let Some(at) = at {
            self.order.insert((at, key.clone()));
            self.by_key.insert(key, at);
        }
    }

    /// Removes `key`'s deadline, if any.
    pub(crate) fn remove(&mut self, key: &K) {
        if let Some(at) = self.by_key.remove(key) {
            self.order.remove(&(at, key.clone()));
        }
    }

    /// `key`'s deadline.
    pub(crate) fn get(&self, key: &K) -> Option<Instant> {
        self.by_key.get(key).copied()
    }

    /// The earliest deadline.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.order.first().map(|(at, _)| *at)
    }

    /// Removes and returns the key with the earliest deadline if that deadline is at or before
    /// `now`. Keys due at the same instant come out in key order, so runs are deterministic.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<K> {
        let (at, _) = self.order.first()?;
        if *at > now {
            return None;
        }
        let (_, key) = self.order.pop_first()?;
        self.by_key.remove(&key);
        Some(key)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn pops_due_keys_in_deadline_order_and_moves_a_reset_key() {
        let t0 = Instant::now();
        let at = |s| Some(t0 + Duration::from_secs(s));
        let mut timers = Timers::default();
        timers.set("a", at(5));
        timers.set("b", at(3));
        timers.set("c", at(3));
        timers.set("a", at(1));
        timers.set("d", at(2));
        timers.set("d", None);
        assert_eq!(timers.next(), at(1));
        let now = t0 + Duration::from_secs(3);
        let due: Vec<_> = std::iter::from_fn(|| timers.pop_due(now)).collect();
        assert_eq!(due, ["a", "b", "c"]);
        assert_eq!(timers.next(), None);
    }
}
