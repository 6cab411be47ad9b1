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

    /// The Message Expiry Interval to forward at `now`: the whole seconds of lifetime left.
    ///
    /// 5.0 MQTT-3.3.2-6: the value sent is "the received value minus the time that the
    /// Application Message has been waiting in the Server". The wait is counted with its
    /// fraction, so the value never promises a second the message does not have (a receiver
    /// that stores or forwards it in turn would keep it past the lifetime its publisher set);
    /// a message forwarded the moment it arrives keeps its received value exactly.
    ///
    /// Below one second left, the interval has not passed, so MQTT-3.3.2-5 (delete the copy
    /// once it has) does not apply and a copy still owed to a subscriber is delivered, with its
    /// whole-second remainder: 0, a lifetime that runs out on arrival, as a received 0 is
    /// forwarded (3.3.2.3.3). A message already in flight whose interval passed before a resend
    /// (MQTT-4.4.0-1; onward delivery started, so -5 does not drop it) also carries 0, never a
    /// second it does not have.
    pub(crate) fn remaining_expiry(&self, now: Instant) -> Option<u32> {
        let left = self.expires_at?.saturating_duration_since(now);
        Some(u32::try_from(left.as_secs()).unwrap_or(u32::MAX))
    }
}
