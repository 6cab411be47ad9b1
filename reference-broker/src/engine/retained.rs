//! Retained messages: one per topic, replaced by a newer retained PUBLISH and cleared by a
//! retained PUBLISH with an empty payload (MQTT-3.3.1-10/11 in 3.1.1, 3.3.1-6/7 in 5.0).
//!
//! The store is a tree by topic level, so a filter visits only the branches it can match
//! (`+` fans out one level, `#` takes a subtree) instead of rescanning every topic, and the
//! messages are handed to a visitor one by one rather than collected: a SUBSCRIBE delivers
//! them straight into the subscriber's bounded queue and stops when it is full. Count and
//! bytes are bounded ([`crate::Limits::max_retained_messages`],
//! [`crate::Limits::max_retained_bytes`]).

use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Instant;

use super::message::Message;
use super::trie::{self, Node, Trie};

type Slot = Option<Arc<Message>>;

impl trie::Value for Slot {
    fn is_empty(&self) -> bool {
        self.is_none()
    }
}

/// Why a retained message was not stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct StoreFull;

/// The retained message store.
#[derive(Debug, Default)]
pub(crate) struct Retained {
    tree: Trie<Slot>,
    count: usize,
    bytes: usize,
}

impl Retained {
    /// Stores, replaces or (empty payload) clears the retained message of its topic. A new
    /// message that would take the store past `max_count` messages or `max_bytes` bytes is
    /// not stored.
    pub(crate) fn update(
        &mut self,
        msg: &Arc<Message>,
        max_count: usize,
        max_bytes: usize,
    ) -> Result<(), StoreFull> {
        let old = self
            .tree
            .get(&msg.topic)
            .and_then(Option::as_ref)
            .map(|m| m.size());
        if msg.payload.is_empty() {
            self.remove(&msg.topic);
            return Ok(());
        }
        let count = self.count + usize::from(old.is_none());
        let bytes = (self.bytes - old.unwrap_or(0)).saturating_add(msg.size());
        if count > max_count || bytes > max_bytes {
            return Err(StoreFull);
        }
        *self.tree.entry(&msg.topic) = Some(Arc::clone(msg));
        (self.count, self.bytes) = (count, bytes);
        Ok(())
    }

    fn remove(&mut self, topic: &str) {
        if let Some(old) = self.tree.get_mut(topic).and_then(Option::take) {
            self.count -= 1;
            self.bytes -= old.size();
            self.tree.prune(topic);
        }
    }

    /// Whether a message is stored for `topic`.
    pub(crate) fn contains(&self, topic: &str) -> bool {
        self.tree.get(topic).is_some_and(Option::is_some)
    }

    /// How many messages and bytes are stored.
    pub(crate) fn usage(&self) -> (usize, usize) {
        (self.count, self.bytes)
    }

    /// Hands every unexpired retained message matching `filter` (not a `$share` filter) to
    /// `visit`, in topic-level order, until it breaks. Expired messages met on the way are
    /// removed.
    pub(crate) fn for_each_matching(
        &mut self,
        filter: &str,
        now: Instant,
        mut visit: impl FnMut(&Arc<Message>) -> ControlFlow<()>,
    ) {
        let mut expired = Vec::new();
        walk(self.tree.root(), filter, |msg| {
            if msg.expired(now) {
                expired.push(msg.topic.clone());
                ControlFlow::Continue(())
            } else {
                visit(msg)
            }
        });
        for topic in expired {
            self.remove(&topic);
        }
    }
}

/// Visits the messages whose topic `filter` matches (section 4.7), with an explicit stack.
fn walk(root: &Node<Slot>, filter: &str, mut visit: impl FnMut(&Arc<Message>) -> ControlFlow<()>) {
    let levels: Vec<&str> = filter.split('/').collect();
    // (node, index of the filter level to match against its children)
    let mut stack = vec![(root, 0usize)];
    while let Some((node, idx)) = stack.pop() {
        let first = idx == 0;
        // MQTT-4.7.2-1: a wildcard in the first level never matches a `$` topic.
        let wild_ok = |level: &str| !(first && level.starts_with('$'));
        match levels.get(idx).copied() {
            None => {
                if let Some(msg) = &node.value {
                    if visit(msg).is_break() {
                        return;
                    }
                }
            }
            Some("#") => {
                // `#` matches the parent level too: `a/#` matches `a`.
                if !first {
                    if let Some(msg) = &node.value {
                        if visit(msg).is_break() {
                            return;
                        }
                    }
                }
                let mut subtree: Vec<&Node<Slot>> = node
                    .children()
                    .rev()
                    .filter(|(level, _)| wild_ok(level))
                    .map(|(_, child)| child)
                    .collect();
                while let Some(n) = subtree.pop() {
                    if let Some(msg) = &n.value {
                        if visit(msg).is_break() {
                            return;
                        }
                    }
                    subtree.extend(n.children().rev().map(|(_, child)| child));
                }
            }
            Some("+") => stack.extend(
                node.children()
                    .rev()
                    .filter(|(level, _)| wild_ok(level))
                    .map(|(_, child)| (child, idx + 1)),
            ),
            Some(level) => stack.extend(node.child(level).map(|child| (child, idx + 1))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mqtt_codec::{Properties, QoS};

    fn msg(topic: &str, payload: &'static str, now: Instant) -> Arc<Message> {
        let props = Properties::new();
        Arc::new(Message::new(
            topic.into(),
            payload.into(),
            QoS::AtMostOnce,
            true,
            &props,
            now,
            None,
        ))
    }

    fn topics(store: &mut Retained, filter: &str, now: Instant) -> Vec<String> {
        let mut out = Vec::new();
        store.for_each_matching(filter, now, |m| {
            out.push(m.topic.to_string());
            ControlFlow::Continue(())
        });
        out
    }

    #[test]
    fn matches_filters_like_section_4_7() {
        let now = Instant::now();
        let mut s = Retained::default();
        for t in ["a", "a/b", "a/b/c", "a/c", "$SYS/x", "/x"] {
            s.update(&msg(t, "p", now), 100, 10_000).unwrap();
        }
        assert_eq!(topics(&mut s, "a/#", now), ["a", "a/b", "a/b/c", "a/c"]);
        assert_eq!(topics(&mut s, "a/+", now), ["a/b", "a/c"]);
        assert_eq!(topics(&mut s, "#", now), ["/x", "a", "a/b", "a/b/c", "a/c"]);
        assert_eq!(topics(&mut s, "+/x", now), ["/x"]);
        assert_eq!(topics(&mut s, "$SYS/#", now), ["$SYS/x"]);
        assert_eq!(topics(&mut s, "a/b", now), ["a/b"]);
    }

    #[test]
    fn count_and_bytes_are_bounded_and_an_empty_payload_frees_room() {
        let now = Instant::now();
        let mut s = Retained::default();
        s.update(&msg("a", "12345", now), 2, 100).unwrap();
        s.update(&msg("b", "12345", now), 2, 100).unwrap();
        assert_eq!(s.update(&msg("c", "1", now), 2, 100), Err(StoreFull));
        // Replacing an existing topic is not a new message.
        s.update(&msg("a", "x", now), 2, 100).unwrap();
        s.update(&msg("a", "", now), 2, 100).unwrap();
        s.update(&msg("c", "1", now), 2, 100).unwrap();
        assert_eq!(s.usage().0, 2);
        assert_eq!(s.update(&msg("d", "1", now), 10, 8), Err(StoreFull));
    }

    #[test]
    fn the_visitor_stops_the_walk() {
        let now = Instant::now();
        let mut s = Retained::default();
        for i in 0..100 {
            s.update(&msg(&format!("t/{i}"), "p", now), 1000, 100_000)
                .unwrap();
        }
        let mut seen = 0;
        s.for_each_matching("#", now, |_| {
            seen += 1;
            if seen == 3 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        });
        assert_eq!(seen, 3);
    }
}
