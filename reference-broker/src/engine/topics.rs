//! The subscription tree: topic filters per level, `+`/`#` matching, the `$` rule, and shared
//! subscriptions (`$share/{group}/{filter}`).
//!
//! Topic names and filters are validated by the codec when packets are decoded; this module
//! only stores and matches them. Matching follows section 4.7 of both specs: `+` matches one
//! whole level, `#` matches any number of levels including the parent (`a/#` matches `a`),
//! filters starting with a wildcard never match topics starting with `$` (MQTT-4.7.2-1), and
//! comparison is byte-exact, so case-sensitive (MQTT-4.7.3-4).
//!
//! A shared subscription is stored under its inner filter, in a group. A message matching a
//! group goes to exactly one member, chosen round-robin among members the caller says are
//! connected (any member when none is).

use std::cell::Cell;
use std::collections::HashMap;

use mqtt_codec::{ByteString, SubscriptionOptions};

use super::trie::{self, Node, Trie};

/// One subscription's options as stored in the tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SubEntry {
    pub(crate) options: SubscriptionOptions,
    /// 5.0 Subscription Identifier.
    pub(crate) id: Option<u32>,
}

/// One matching subscription.
#[derive(Clone, Debug)]
pub(crate) struct Match {
    pub(crate) client: ByteString,
    pub(crate) entry: SubEntry,
    pub(crate) shared: bool,
}

#[derive(Debug, Default)]
struct SharedGroup {
    members: Vec<(ByteString, SubEntry)>,
    next: Cell<usize>,
}

/// The subscriptions stored at one filter.
#[derive(Debug, Default)]
struct Subs {
    plain: HashMap<ByteString, SubEntry>,
    shared: HashMap<Box<str>, SharedGroup>,
}

impl trie::Value for Subs {
    fn is_empty(&self) -> bool {
        self.plain.is_empty() && self.shared.is_empty()
    }
}

/// Every subscription of every session.
#[derive(Debug, Default)]
pub(crate) struct SubscriptionTree {
    tree: Trie<Subs>,
    count: usize,
}

impl SubscriptionTree {
    /// Adds or replaces `client`'s subscription to `filter`; true if it replaced one.
    pub(crate) fn insert(&mut self, filter: &str, client: &ByteString, entry: SubEntry) -> bool {
        let (group, inner) = split(filter);
        let node = self.tree.entry(inner);
        let existed = match group {
            None => node.plain.insert(client.clone(), entry).is_some(),
            Some(group) => {
                let g = node.shared.entry(group.into()).or_default();
                if let Some(slot) = g.members.iter_mut().find(|(c, _)| c == client) {
                    slot.1 = entry;
                    true
                } else {
                    g.members.push((client.clone(), entry));
                    false
                }
            }
        };
        if !existed {
            self.count += 1;
        }
        existed
    }

    /// Removes `client`'s subscription to `filter`; true if there was one.
    pub(crate) fn remove(&mut self, filter: &str, client: &ByteString) -> bool {
        let (group, inner) = split(filter);
        let Some(node) = self.tree.get_mut(inner) else {
            return false;
        };
        let removed = match group {
            None => node.plain.remove(client).is_some(),
            Some(group) => {
                let Some(g) = node.shared.get_mut(group) else {
                    return false;
                };
                let before = g.members.len();
                g.members.retain(|(c, _)| c != client);
                let removed = g.members.len() != before;
                if g.members.is_empty() {
                    node.shared.remove(group);
                }
                removed
            }
        };
        if removed {
            self.count = self.count.saturating_sub(1);
            self.tree.prune(inner);
        }
        removed
    }

    /// How many subscriptions are stored.
    pub(crate) fn len(&self) -> usize {
        self.count
    }

    /// Every subscription matching `topic`: all non-shared ones, and one member per shared
    /// group, preferring members for which `connected` is true.
    pub(crate) fn matches(
        &self,
        topic: &str,
        connected: impl Fn(&ByteString) -> bool,
    ) -> Vec<Match> {
        let mut out = Vec::new();
        for node in matching_nodes(self.tree.root(), topic) {
            for (client, entry) in &node.value.plain {
                out.push(Match {
                    client: client.clone(),
                    entry: *entry,
                    shared: false,
                });
            }
            for group in node.value.shared.values() {
                if let Some(m) = pick(group, &connected) {
                    out.push(m);
                }
            }
        }
        out
    }
}

/// Splits a filter into its share group (if any) and the filter proper.
pub(crate) fn split(filter: &str) -> (Option<&str>, &str) {
    match mqtt_codec::topic::parse_shared(filter) {
        Some(Ok((group, inner))) => (Some(group), inner),
        _ => (None, filter),
    }
}

fn pick(group: &SharedGroup, connected: &impl Fn(&ByteString) -> bool) -> Option<Match> {
    let n = group.members.len();
    if n == 0 {
        return None;
    }
    let start = group.next.get() % n;
    let chosen = (0..n)
        .map(|i| (start + i) % n)
        .find(|&i| group.members.get(i).is_some_and(|(c, _)| connected(c)))
        .unwrap_or(start);
    group.next.set(chosen + 1);
    group.members.get(chosen).map(|(client, entry)| Match {
        client: client.clone(),
        entry: *entry,
        shared: true,
    })
}

/// The nodes whose filter matches `topic`, walked with an explicit stack (section 4.7).
fn matching_nodes<'a>(root: &'a Node<Subs>, topic: &str) -> Vec<&'a Node<Subs>> {
    let levels: Vec<&str> = topic.split('/').collect();
    let dollar = topic.starts_with('$');
    let mut out = Vec::new();
    let mut stack = vec![(root, 0usize)];
    while let Some((node, idx)) = stack.pop() {
        let Some(level) = levels.get(idx) else {
            out.push(node);
            // `#` also matches the parent level: `a/#` matches `a`.
            out.extend(node.child("#"));
            continue;
        };
        // Pushed exact first, `+` second: the `+` branch is walked first, as a recursion
        // would.
        if *level != "+" && *level != "#" {
            if let Some(child) = node.child(level) {
                stack.push((child, idx + 1));
            }
        }
        // MQTT-4.7.2-1: a wildcard in the first level never matches a `$` topic.
        if !(idx == 0 && dollar) {
            out.extend(node.child("#"));
            if let Some(plus) = node.child("+") {
                stack.push((plus, idx + 1));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> SubEntry {
        SubEntry {
            options: SubscriptionOptions::default(),
            id: None,
        }
    }

    fn clients(tree: &SubscriptionTree, topic: &str) -> Vec<String> {
        let mut v: Vec<String> = tree
            .matches(topic, |_| true)
            .into_iter()
            .map(|m| m.client.to_string())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn matches_wildcards_and_the_parent_level() {
        let mut t = SubscriptionTree::default();
        t.insert("a/+/c", &"plus".into(), entry());
        t.insert("a/#", &"hash".into(), entry());
        t.insert("#", &"all".into(), entry());
        t.insert("A/b/c", &"upper".into(), entry());
        assert_eq!(clients(&t, "a/b/c"), ["all", "hash", "plus"]);
        assert_eq!(clients(&t, "a"), ["all", "hash"]);
        assert_eq!(clients(&t, "A/b/c"), ["all", "upper"]);
    }

    #[test]
    fn wildcards_in_the_first_level_do_not_match_dollar_topics() {
        let mut t = SubscriptionTree::default();
        t.insert("#", &"all".into(), entry());
        t.insert("+/x", &"plus".into(), entry());
        t.insert("$SYS/#", &"sys".into(), entry());
        assert_eq!(clients(&t, "$SYS/x"), ["sys"]);
    }

    #[test]
    fn removes_and_prunes() {
        let mut t = SubscriptionTree::default();
        t.insert("a/b", &"c".into(), entry());
        assert!(t.remove("a/b", &"c".into()));
        assert!(!t.remove("a/b", &"c".into()));
        assert!(t.tree.is_empty());
    }

    #[test]
    fn a_filter_of_65535_slashes_is_stored_matched_and_removed() {
        // The recursive walks overflowed the stack here (one frame per level).
        let deep = "/".repeat(65_535);
        let mut t = SubscriptionTree::default();
        t.insert(&deep, &"deep".into(), entry());
        t.insert(&format!("{deep}#"), &"hash".into(), entry());
        assert_eq!(clients(&t, &deep), ["deep", "hash"]);
        assert!(t.remove(&deep, &"deep".into()));
        assert_eq!(clients(&t, &deep), ["hash"]);
        drop(t);
    }

    #[test]
    fn shared_groups_deliver_round_robin() {
        let mut t = SubscriptionTree::default();
        t.insert("$share/g/a", &"one".into(), entry());
        t.insert("$share/g/a", &"two".into(), entry());
        let first = clients(&t, "a");
        let second = clients(&t, "a");
        assert_eq!(first.len(), 1);
        assert_ne!(first, second);
    }
}
