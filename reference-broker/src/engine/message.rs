//! An application message as the engine stores and routes it.

use std::time::Instant;

use mqtt_codec::bytes::Bytes;
use mqtt_codec::{ByteString, Properties, Property, QoS};

/// A message accepted from a publisher (or a will), shared between the sessions it goes to.
#[derive(Clone, Debug)]
pub(crate) struct Message {
    pub(crate) topic: ByteString,
    pub(crate) payload: Bytes,
    pub(crate) qos: QoS,
    pub(crate) retain: bool,
    /// The properties forwarded unchanged (5.0 3.3.2.3): Payload Format Indicator, Content
    /// Type, Response Topic, Correlation Data and User Properties, in their original order.
    pub(crate) properties: Properties,
    /// When the Message Expiry Interval runs out, if one was given.
    pub(crate) expires_at: Option<Instant>,
    /// Client id of the publisher, for No Local; `None` for wills of expired sessions.
    pub(crate) publisher: Option<ByteString>,
}

impl Message {
    /// Builds a message from a publisher's properties, keeping only what is forwarded.
    pub(crate) fn new(
        topic: ByteString,
        payload: Bytes,
        qos: QoS,
        retain: bool,
        props: &Properties,
        now: Instant,
        publisher: Option<ByteString>,
    ) -> Self {
        let mut properties = Properties::new();
        let mut expires_at = None;
        for p in props.iter() {
            match p {
                Property::MessageExpiryInterval(secs) => {
                    expires_at = now.checked_add(std::time::Duration::from_secs(u64::from(secs)));
                }
                Property::PayloadFormatIndicator(_)
                | Property::ContentType(_)
                | Property::ResponseTopic(_)
                | Property::CorrelationData(_)
                | Property::UserProperty(..) => properties.push(p),
                _ => {}
            }
        }
        Self {
            topic,
            payload,
            qos,
            retain,
            properties,
            expires_at,
            publisher,
        }
    }

    /// Bytes the message holds (topic and payload), for the limits on stored bytes.
    pub(crate) fn size(&self) -> usize {
        self.topic.len().saturating_add(self.payload.len())
    }

    /// Whether the message has expired at `now`.
    pub(crate) fn expired(&self, now: Instant) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }

    /// The Message Expiry Interval to forward at `now`: what is left, rounded up to a second.
    pub(crate) fn remaining_expiry(&self, now: Instant) -> Option<u32> {
        let at = self.expires_at?;
        let left = at.saturating_duration_since(now);
        let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
        Some(u32::try_from(secs).unwrap_or(u32::MAX).max(1))
    }
}
