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

#[derive(Debug, Default)]
struct Node {
    children: HashMap<Box<str>, Node>,
    subs: HashMap<ByteString, SubEntry>,
    shared: HashMap<Box<str>, SharedGroup>,
}

impl Node {
    fn is_empty(&self) -> bool {
        self.children.is_empty() && self.subs.is_empty() && self.shared.is_empty()
    }
}

/// Every subscription of every session.
#[derive(Debug, Default)]
pub(crate) struct SubscriptionTree {
    root: Node,
    count: usize,
}

impl SubscriptionTree {
    /// Adds or replaces `client`'s subscription to `filter`; true if it replaced one.
    pub(crate) fn insert(&mut self, filter: &str, client: &ByteString, entry: SubEntry) -> bool {
        let (group, inner) = split(filter);
        let mut node = &mut self.root;
        for level in inner.split('/') {
            node = node.children.entry(level.into()).or_default();
        }
        let existed = match group {
            None => node.subs.insert(client.clone(), entry).is_some(),
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
        let levels: Vec<&str> = inner.split('/').collect();
        let removed = remove_at(&mut self.root, &levels, group, client);
        if removed {
            self.count = self.count.saturating_sub(1);
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
        let levels: Vec<&str> = topic.split('/').collect();
        let mut nodes = Vec::new();
        collect(&self.root, &levels, 0, topic.starts_with('$'), &mut nodes);
        let mut out = Vec::new();
        for node in nodes {
            for (client, entry) in &node.subs {
                out.push(Match {
                    client: client.clone(),
                    entry: *entry,
                    shared: false,
                });
            }
            for group in node.shared.values() {
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

fn collect<'a>(node: &'a Node, levels: &[&str], idx: usize, dollar: bool, out: &mut Vec<&'a Node>) {
    let Some(level) = levels.get(idx) else {
        out.push(node);
        // `#` also matches the parent level: `a/#` matches `a`.
        if let Some(hash) = node.children.get("#") {
            out.push(hash);
        }
        return;
    };
    // MQTT-4.7.2-1: a wildcard in the first level never matches a `$` topic.
    if !(idx == 0 && dollar) {
        if let Some(hash) = node.children.get("#") {
            out.push(hash);
        }
        if let Some(plus) = node.children.get("+") {
            collect(plus, levels, idx + 1, dollar, out);
        }
    }
    if *level != "+" && *level != "#" {
        if let Some(child) = node.children.get(*level) {
            collect(child, levels, idx + 1, dollar, out);
        }
    }
}

fn remove_at(node: &mut Node, levels: &[&str], group: Option<&str>, client: &ByteString) -> bool {
    let Some((first, rest)) = levels.split_first() else {
        return match group {
            None => node.subs.remove(client).is_some(),
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
    };
    let Some(child) = node.children.get_mut(*first) else {
        return false;
    };
    let removed = remove_at(child, rest, group, client);
    if child.is_empty() {
        node.children.remove(*first);
    }
    removed
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
        assert!(t.root.is_empty());
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
