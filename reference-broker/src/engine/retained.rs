//! Retained messages: one per topic, replaced by a newer retained PUBLISH and cleared by a
//! retained PUBLISH with an empty payload (MQTT-3.3.1-10/11 in 3.1.1, 3.3.1-6/7 in 5.0).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use super::message::Message;

/// The retained message store.
#[derive(Debug, Default)]
pub(crate) struct Retained {
    by_topic: HashMap<String, Arc<Message>>,
}

impl Retained {
    /// Stores, replaces or (empty payload) clears the retained message of its topic.
    pub(crate) fn update(&mut self, msg: &Arc<Message>) {
        if msg.payload.is_empty() {
            self.by_topic.remove(&*msg.topic);
        } else {
            self.by_topic.insert(msg.topic.to_string(), Arc::clone(msg));
        }
    }

    /// The unexpired retained messages matching `filter` (not a `$share` filter), oldest topic
    /// order unspecified.
    pub(crate) fn matching(&mut self, filter: &str, now: Instant) -> Vec<Arc<Message>> {
        self.by_topic.retain(|_, m| !m.expired(now));
        let mut out: Vec<Arc<Message>> = self
            .by_topic
            .iter()
            .filter(|(topic, _)| mqtt_codec::topic::matches(filter, topic))
            .map(|(_, m)| Arc::clone(m))
            .collect();
        out.sort_by(|a, b| a.topic.cmp(&b.topic));
        out
    }
}
