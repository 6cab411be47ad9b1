//! A tree keyed by topic levels, shared by the subscription tree (values: subscriptions) and
//! the retained store (values: one message per topic).
//!
//! Every walk here is a loop, never a recursion per level, and so is `Drop`: a filter or topic
//! may have up to 32,768 levels (65,535 bytes of `/`), and a recursion that deep overflows the
//! stack. The engine also bounds levels ([`crate::Limits::max_topic_levels`]), but the tree
//! does not rely on it.

use std::collections::BTreeMap;

/// What a node holds; a node whose value is empty and has no children is pruned.
pub(crate) trait Value: Default {
    fn is_empty(&self) -> bool;
}

/// One level of the tree. Children are ordered, so walks visit topics in a stable order.
#[derive(Debug, Default)]
pub(crate) struct Node<V: Value> {
    children: BTreeMap<Box<str>, Node<V>>,
    pub(crate) value: V,
}

impl<V: Value> Node<V> {
    /// The child for `level`, if any.
    pub(crate) fn child(&self, level: &str) -> Option<&Node<V>> {
        self.children.get(level)
    }

    /// Every child with its level, in level order.
    pub(crate) fn children(&self) -> impl DoubleEndedIterator<Item = (&str, &Node<V>)> {
        self.children.iter().map(|(k, v)| (&**k, v))
    }

    fn is_empty(&self) -> bool {
        self.children.is_empty() && self.value.is_empty()
    }
}

impl<V: Value> Drop for Node<V> {
    /// Frees the subtree with an explicit stack: the default drop recurses once per level.
    fn drop(&mut self) {
        let mut stack: Vec<Node<V>> = Vec::new();
        while let Some((_, child)) = self.children.pop_first() {
            stack.push(child);
        }
        while let Some(mut node) = stack.pop() {
            while let Some((_, child)) = node.children.pop_first() {
                stack.push(child);
            }
            // `node` now has no children: dropping it does not recurse.
        }
    }
}

/// The tree: a root whose children are the first levels of the paths stored.
#[derive(Debug, Default)]
pub(crate) struct Trie<V: Value> {
    root: Node<V>,
}

impl<V: Value> Trie<V> {
    /// The root node (its value is that of the empty path, which the engine never stores).
    pub(crate) fn root(&self) -> &Node<V> {
        &self.root
    }

    /// The value at `path`, created (with its nodes) if missing.
    pub(crate) fn entry(&mut self, path: &str) -> &mut V {
        let mut node = &mut self.root;
        for level in path.split('/') {
            node = node.children.entry(level.into()).or_default();
        }
        &mut node.value
    }

    /// The value at `path`, if its node exists.
    pub(crate) fn get(&self, path: &str) -> Option<&V> {
        let mut node = &self.root;
        for level in path.split('/') {
            node = node.children.get(level)?;
        }
        Some(&node.value)
    }

    /// The value at `path`, if its node exists.
    pub(crate) fn get_mut(&mut self, path: &str) -> Option<&mut V> {
        let mut node = &mut self.root;
        for level in path.split('/') {
            node = node.children.get_mut(level)?;
        }
        Some(&mut node.value)
    }

    /// Removes the nodes along `path` left empty (after a value there was emptied): the
    /// deepest run of nodes with an empty value and no other child is cut off at its top.
    pub(crate) fn prune(&mut self, path: &str) {
        let levels: Vec<&str> = path.split('/').collect();
        // The depth (1-based) of the shallowest node to remove, found walking down once.
        let mut cut = None;
        let mut node = &self.root;
        for (depth, level) in levels.iter().enumerate() {
            let Some(child) = node.children.get(*level) else {
                return;
            };
            let alone = child.value.is_empty() && child.children.len() <= 1;
            match (alone, cut) {
                (true, None) => cut = Some(depth),
                (false, _) => cut = None,
                (true, Some(_)) => {}
            }
            node = child;
        }
        if !node.is_empty() {
            return;
        }
        let Some(cut) = cut else {
            return;
        };
        let mut parent = &mut self.root;
        for level in levels.iter().take(cut) {
            let Some(next) = parent.children.get_mut(*level) else {
                return;
            };
            parent = next;
        }
        if let Some(level) = levels.get(cut) {
            // Dropped with the iterative `Drop` above.
            parent.children.remove(*level);
        }
    }

    /// Whether nothing is stored.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.root.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Value for Option<u8> {
        fn is_empty(&self) -> bool {
            self.is_none()
        }
    }

    #[test]
    fn prunes_only_the_empty_branch() {
        let mut t: Trie<Option<u8>> = Trie::default();
        *t.entry("a/b/c") = Some(1);
        *t.entry("a/x") = Some(2);
        *t.get_mut("a/b/c").unwrap() = None;
        t.prune("a/b/c");
        assert!(t.get("a/b").is_none());
        assert_eq!(t.get("a/x"), Some(&Some(2)));
        *t.get_mut("a/x").unwrap() = None;
        t.prune("a/x");
        assert!(t.is_empty());
    }

    #[test]
    fn keeps_a_node_that_still_holds_a_value() {
        let mut t: Trie<Option<u8>> = Trie::default();
        *t.entry("a") = Some(1);
        *t.entry("a/b") = Some(2);
        *t.get_mut("a/b").unwrap() = None;
        t.prune("a/b");
        assert_eq!(t.get("a"), Some(&Some(1)));
        assert!(t.get("a/b").is_none());
    }

    #[test]
    fn a_very_deep_path_is_stored_pruned_and_dropped_without_recursion() {
        // 65,535 bytes of `/`: 65,536 empty levels, as deep as a topic can be.
        let deep = "/".repeat(65_535);
        let mut t: Trie<Option<u8>> = Trie::default();
        *t.entry(&deep) = Some(1);
        assert_eq!(t.get(&deep), Some(&Some(1)));
        *t.get_mut(&deep).unwrap() = None;
        t.prune(&deep);
        assert!(t.is_empty());
        *t.entry(&deep) = Some(1);
        drop(t);
    }
}
