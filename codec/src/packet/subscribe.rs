//! SUBSCRIBE (section 3.8): topic filters with their subscription options.

use bytes::BufMut;
use bytestring::ByteString;

use super::{QoS, check_packet_id};
use crate::error::Error;
use crate::ids::PacketType;
use crate::primitives::{Cursor, binary_len, check_str, put_binary};
use crate::properties::{self, Properties, PropertyContext};
use crate::topic;
use crate::version::ProtocolVersion;

/// A SUBSCRIBE packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscribe {
    /// The packet identifier (non-zero).
    pub packet_id: u16,
    /// 5.0 properties (Subscription Identifier, User Property).
    pub properties: Properties,
    /// The requested subscriptions, at least one.
    pub filters: Vec<Subscription>,
}

/// One topic filter and its options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscription {
    /// The Topic Filter.
    pub filter: ByteString,
    /// The options byte.
    pub options: SubscriptionOptions,
}

/// The subscription options byte; in 3.1.1 only the QoS.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct SubscriptionOptions {
    /// Maximum QoS.
    pub qos: QoS,
    /// 5.0 No Local.
    pub no_local: bool,
    /// 5.0 Retain As Published.
    pub retain_as_published: bool,
    /// 5.0 Retain Handling.
    pub retain_handling: RetainHandling,
}

/// When retained messages are sent for a new subscription (5.0 3.8.3.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum RetainHandling {
    /// 0: at the time of the subscribe.
    #[default]
    SendAtSubscribe,
    /// 1: at subscribe only if the subscription did not exist.
    SendIfNew,
    /// 2: never at subscribe.
    DoNotSend,
}

impl SubscriptionOptions {
    /// Options asking for `qos` and nothing else.
    pub fn qos(qos: QoS) -> Self {
        Self {
            qos,
            ..Self::default()
        }
    }

    /// The options byte.
    pub fn to_byte(self) -> u8 {
        let rh = match self.retain_handling {
            RetainHandling::SendAtSubscribe => 0,
            RetainHandling::SendIfNew => 1,
            RetainHandling::DoNotSend => 2,
        };
        self.qos.as_u8()
            | u8::from(self.no_local) << 2
            | u8::from(self.retain_as_published) << 3
            | rh << 4
    }

    fn from_byte(b: u8, version: ProtocolVersion) -> Result<Self, Error> {
        // Reserved bits must be 0: bits 7-2 in 3.1.1 (MQTT-3.8.3-4), 7-6 in 5.0 (MQTT-3.8.3-5).
        let reserved = if version.is_v5() { 0xc0 } else { 0xfc };
        if b & reserved != 0 {
            return Err(Error::SubscriptionOptionsReserved { options: b });
        }
        let qos = QoS::from_u8(b & 0x03).ok_or(Error::SubscriptionQoS3)?;
        let retain_handling = match (b >> 4) & 0x03 {
            0 => RetainHandling::SendAtSubscribe,
            1 => RetainHandling::SendIfNew,
            2 => RetainHandling::DoNotSend,
            // Retain Handling 3 is a Protocol Error (5.0 3.8.3.1).
            _ => return Err(Error::RetainHandling3),
        };
        Ok(Self {
            qos,
            no_local: b & 0x04 != 0,
            retain_as_published: b & 0x08 != 0,
            retain_handling,
        })
    }
}

impl Subscribe {
    /// A SUBSCRIBE for one filter at `qos`.
    pub fn single(packet_id: u16, filter: impl Into<ByteString>, qos: QoS) -> Self {
        Self {
            packet_id,
            properties: Properties::new(),
            filters: vec![Subscription {
                filter: filter.into(),
                options: SubscriptionOptions::qos(qos),
            }],
        }
    }

    /// Decodes a SUBSCRIBE body from a slice: nothing of it is kept (the filters and the
    /// property bytes are copied, being short), so the caller need not cut a `Bytes` for it.
    pub(crate) fn decode(body: &[u8], version: ProtocolVersion) -> Result<Self, Error> {
        let mut r = Cursor::new(body);
        let packet_id = check_packet_id(r.u16("packet identifier")?, PacketType::Subscribe)?;
        let properties = if version.is_v5() {
            properties::decode_slice(&mut r, PropertyContext::Subscribe)?
        } else {
            Properties::new()
        };
        let mut filters = Vec::new();
        while !r.is_empty() {
            let filter = check_str(r.binary("topic filter")?, "topic filter")?;
            topic::validate_filter(filter).map_err(Error::InvalidTopicFilter)?;
            let options = SubscriptionOptions::from_byte(r.u8("subscription options")?, version)?;
            // No Local on a shared subscription is a Protocol Error (5.0 MQTT-3.8.3-4).
            if options.no_local && topic::parse_shared(filter).is_some() {
                return Err(Error::NoLocalOnSharedSubscription);
            }
            filters.push(Subscription {
                filter: ByteString::from(filter),
                options,
            });
        }
        // At least one filter (3.1.1 MQTT-3.8.3-3, 5.0 MQTT-3.8.3-2).
        if filters.is_empty() {
            return Err(Error::NoTopicFilters {
                packet_type: PacketType::Subscribe,
            });
        }
        Ok(Self {
            packet_id,
            properties,
            filters,
        })
    }

    pub(crate) fn body_len(&self, version: ProtocolVersion) -> usize {
        2 + if version.is_v5() {
            self.properties.encoded_len()
        } else {
            0
        } + self
            .filters
            .iter()
            .map(|s| binary_len(s.filter.as_bytes()) + 1)
            .sum::<usize>()
    }

    pub(crate) fn encode_body(
        &self,
        version: ProtocolVersion,
        buf: &mut impl BufMut,
    ) -> Result<(), Error> {
        buf.put_u16(self.packet_id);
        if version.is_v5() {
            self.properties.encode(buf)?;
        }
        for s in &self.filters {
            put_binary(buf, s.filter.as_bytes(), "topic filter")?;
            buf.put_u8(s.options.to_byte());
        }
        Ok(())
    }
}
