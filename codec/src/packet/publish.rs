//! PUBLISH (section 3.3): an application message in either direction.

use bytes::{BufMut, Bytes};
use bytestring::ByteString;

use super::{QoS, read_packet_id};
use crate::error::Error;
use crate::header::PacketType;
use crate::primitives::{Reader, binary_len, put_binary, to_string};
use crate::properties::{self, Properties, PropertyContext, PropertyId};
use crate::topic::TopicError;
use crate::version::ProtocolVersion;

/// A PUBLISH packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Publish {
    /// DUP: this is a re-delivery.
    pub dup: bool,
    /// QoS of this delivery.
    pub qos: QoS,
    /// RETAIN.
    pub retain: bool,
    /// The Topic Name; empty only when a 5.0 Topic Alias stands for it.
    pub topic: ByteString,
    /// The packet identifier; present on the wire only for QoS 1 and 2 (0 for QoS 0).
    pub packet_id: u16,
    /// 5.0 properties.
    pub properties: Properties,
    /// The application message.
    pub payload: Bytes,
}

impl Publish {
    /// A PUBLISH with no flags, no properties and no packet identifier.
    pub fn new(topic: impl Into<ByteString>, payload: impl Into<Bytes>) -> Self {
        Self {
            dup: false,
            qos: QoS::AtMostOnce,
            retain: false,
            topic: topic.into(),
            packet_id: 0,
            properties: Properties::new(),
            payload: payload.into(),
        }
    }

    pub(crate) fn flags(&self) -> u8 {
        u8::from(self.dup) << 3 | self.qos.as_u8() << 1 | u8::from(self.retain)
    }

    pub(crate) fn decode(
        flags: u8,
        r: &mut Reader,
        version: ProtocolVersion,
    ) -> Result<Self, Error> {
        // QoS 3 is malformed (MQTT-3.3.1-4).
        let qos = QoS::from_u8((flags >> 1) & 0x03).ok_or(Error::PublishQoS3)?;
        let dup = flags & 0x08 != 0;
        // DUP must be 0 on QoS 0 (MQTT-3.3.1-2); enforced on receipt in 5.0.
        if dup && qos == QoS::AtMostOnce && version.is_v5() {
            return Err(Error::DupOnQoS0);
        }
        let topic_bytes = r.binary("topic name")?;
        // Wildcards and U+0000 are not allowed in a Topic Name (MQTT-3.3.2-2, MQTT-4.7.3-2);
        // emptiness is judged below, once the properties say whether a Topic Alias is used.
        if !topic_bytes.is_empty() {
            match crate::topic::validate_name_bytes(&topic_bytes) {
                Ok(()) => {}
                Err(TopicError::Null) => {
                    return Err(Error::NullCharacter {
                        field: "topic name",
                    });
                }
                Err(e) => return Err(Error::InvalidTopicName(e)),
            }
        }
        let topic = to_string(topic_bytes, "topic name")?;
        let packet_id = if qos == QoS::AtMostOnce {
            0
        } else {
            read_packet_id(r, PacketType::Publish)?
        };
        let properties = if version.is_v5() {
            properties::decode(r, PropertyContext::Publish)?
        } else {
            Properties::new()
        };
        if topic.is_empty() {
            // An empty Topic Name is allowed only with a Topic Alias in 5.0 (3.3.2.3.4);
            // otherwise at least one character is required (MQTT-4.7.3-1).
            let has_alias = properties.contains(PropertyId::TOPIC_ALIAS);
            if !version.is_v5() {
                return Err(Error::InvalidTopicName(TopicError::Empty));
            }
            if !has_alias {
                return Err(Error::EmptyTopicWithoutAlias);
            }
        }
        let payload = r.rest();
        Ok(Self {
            dup,
            qos,
            retain: flags & 0x01 != 0,
            topic,
            packet_id,
            properties,
            payload,
        })
    }

    pub(crate) fn body_len(&self, version: ProtocolVersion) -> usize {
        binary_len(self.topic.as_bytes())
            + if self.qos == QoS::AtMostOnce { 0 } else { 2 }
            + if version.is_v5() {
                self.properties.encoded_len()
            } else {
                0
            }
            + self.payload.len()
    }

    pub(crate) fn encode_body(
        &self,
        version: ProtocolVersion,
        buf: &mut impl BufMut,
    ) -> Result<(), Error> {
        put_binary(buf, self.topic.as_bytes(), "topic name")?;
        if self.qos != QoS::AtMostOnce {
            buf.put_u16(self.packet_id);
        }
        if version.is_v5() {
            self.properties.encode(buf)?;
        }
        buf.put_slice(&self.payload);
        Ok(())
    }
}
