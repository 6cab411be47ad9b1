//! PUBLISH (section 3.3): an application message in either direction.

use std::ops::Range;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use bytestring::ByteString;

use super::QoS;
use crate::error::Error;
use crate::ids::PacketType;
use crate::primitives::{Cursor, Reader, binary_len, put_binary};
use crate::properties::{self, Properties, PropertyContext, PropertyId, Seen};
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

    /// Decodes a PUBLISH body.
    ///
    /// The payload is a zero-copy slice of the body. The topic and the property bytes are
    /// copied: they are short, and on small machines one allocation costs less than the two
    /// atomic reference-count operations a shared slice would.
    pub(crate) fn decode(
        flags: u8,
        body: &mut Reader,
        version: ProtocolVersion,
    ) -> Result<Self, Error> {
        let mut bytes = body.rest();
        let (layout, topic) = Layout::parse(flags, &bytes, version)?;
        let topic = ByteString::from(topic);
        let properties = layout.properties(&bytes);
        bytes.advance(layout.payload_start);
        Ok(layout.publish(topic, properties, bytes))
    }

    /// [`Publish::decode`] for the packet at the front of `buf`, whose fixed header (`header_len`
    /// bytes, announcing a body of `body_len`) is known to be followed by the whole body.
    ///
    /// The body is validated in place before anything is cut off the buffer, and only the
    /// payload is split off as `Bytes`; the packet's bytes leave the buffer whatever the outcome.
    pub(crate) fn decode_front(
        flags: u8,
        buf: &mut BytesMut,
        header_len: usize,
        body_len: usize,
        version: ProtocolVersion,
    ) -> Result<Self, Error> {
        let body = buf
            .get(header_len..header_len + body_len)
            .unwrap_or_default();
        let parsed = Layout::parse(flags, body, version).map(|(layout, topic)| {
            let properties = layout.properties(body);
            (layout, ByteString::from(topic), properties)
        });
        let (layout, topic, properties) = match parsed {
            Ok(parsed) => parsed,
            Err(e) => {
                buf.advance(header_len + body_len);
                return Err(e);
            }
        };
        buf.advance(header_len + layout.payload_start);
        let payload = if body_len == layout.payload_start {
            Bytes::new()
        } else {
            buf.split_to(body_len - layout.payload_start).freeze()
        };
        Ok(layout.publish(topic, properties, payload))
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

/// A PUBLISH decoded in place: every field borrows from the input.
///
/// Validated exactly as [`Publish`] is (both come from one parser); see
/// [`crate::Decoder::decode_borrowed`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishRef<'a> {
    /// DUP.
    pub dup: bool,
    /// QoS.
    pub qos: QoS,
    /// RETAIN.
    pub retain: bool,
    /// The Topic Name.
    pub topic: &'a str,
    /// The packet identifier (0 for QoS 0).
    pub packet_id: u16,
    /// The validated 5.0 property bytes, without their length prefix.
    pub properties: &'a [u8],
    /// The application message.
    pub payload: &'a [u8],
}

impl<'a> PublishRef<'a> {
    pub(crate) fn parse(
        flags: u8,
        body: &'a [u8],
        version: ProtocolVersion,
    ) -> Result<Self, Error> {
        let (layout, topic) = Layout::parse(flags, body, version)?;
        Ok(Self {
            dup: layout.dup,
            qos: layout.qos,
            retain: layout.retain,
            topic,
            packet_id: layout.packet_id,
            properties: body.get(layout.properties.clone()).unwrap_or_default(),
            payload: body.get(layout.payload_start..).unwrap_or_default(),
        })
    }

    /// The properties, copied out.
    pub fn properties(&self) -> Properties {
        Properties::from_validated(Bytes::copy_from_slice(self.properties))
    }

    /// An owned copy.
    pub fn to_owned(&self) -> Publish {
        Publish {
            dup: self.dup,
            qos: self.qos,
            retain: self.retain,
            topic: ByteString::from(self.topic),
            packet_id: self.packet_id,
            properties: self.properties(),
            payload: Bytes::copy_from_slice(self.payload),
        }
    }
}

/// Where the fields of a validated PUBLISH body sit: the one parser behind [`Publish`] and
/// [`PublishRef`].
struct Layout {
    dup: bool,
    qos: QoS,
    retain: bool,
    packet_id: u16,
    properties: Range<usize>,
    payload_start: usize,
}

impl Layout {
    /// The validated properties of `body`, the PUBLISH body this layout was parsed from, copied
    /// out (they are short; see [`Publish::decode`]).
    fn properties(&self, body: &[u8]) -> Properties {
        match body.get(self.properties.clone()) {
            Some(props) if !props.is_empty() => {
                Properties::from_validated(Bytes::copy_from_slice(props))
            }
            _ => Properties::new(),
        }
    }

    /// The owned packet these fields describe, from its decoded topic, properties and payload.
    fn publish(self, topic: ByteString, properties: Properties, payload: Bytes) -> Publish {
        Publish {
            dup: self.dup,
            qos: self.qos,
            retain: self.retain,
            topic,
            packet_id: self.packet_id,
            properties,
            payload,
        }
    }

    /// Validates a PUBLISH body; returns where its fields sit, and the topic.
    fn parse(flags: u8, body: &[u8], version: ProtocolVersion) -> Result<(Self, &str), Error> {
        // QoS 3 is malformed (MQTT-3.3.1-4).
        let qos = QoS::from_u8((flags >> 1) & 0x03).ok_or(Error::PublishQoS3)?;
        let dup = flags & 0x08 != 0;
        // DUP must be 0 on QoS 0 (MQTT-3.3.1-2); enforced on receipt in 5.0.
        if dup && qos == QoS::AtMostOnce && version.is_v5() {
            return Err(Error::DupOnQoS0);
        }
        let mut c = Cursor::new(body);
        let topic_bytes = c.binary("topic name")?;
        // Wildcards and U+0000 are not allowed in a Topic Name (MQTT-3.3.2-2, MQTT-4.7.3-2);
        // emptiness is judged below, once the properties say whether a Topic Alias is used.
        if !topic_bytes.is_empty() {
            match crate::topic::validate_name_bytes(topic_bytes) {
                Ok(()) => {}
                Err(TopicError::Null) => {
                    return Err(Error::NullCharacter {
                        field: "topic name",
                    });
                }
                Err(e) => return Err(Error::InvalidTopicName(e)),
            }
        }
        // Well-formed UTF-8, which also rules out surrogates (MQTT-1.5.3-1 / MQTT-1.5.4-1).
        let topic = crate::primitives::utf8(topic_bytes).ok_or(Error::InvalidUtf8 {
            field: "topic name",
        })?;
        let packet_id = if qos == QoS::AtMostOnce {
            0
        } else {
            let id = c.u16("packet identifier")?;
            // A QoS 1 or 2 PUBLISH needs a non-zero identifier (3.1.1 MQTT-2.3.1-1).
            if id == 0 {
                return Err(Error::ZeroPacketId {
                    packet_type: PacketType::Publish,
                });
            }
            id
        };
        let mut properties = 0..0;
        let mut seen = Seen::default();
        if version.is_v5() {
            let len = c.varint("property length")? as usize;
            let start = body.len() - c.remaining();
            let props = c.take(len, "properties")?;
            seen = properties::validate(props, PropertyContext::Publish)?;
            properties = start..start + len;
        }
        if topic_bytes.is_empty() {
            // An empty Topic Name is allowed only with a Topic Alias in 5.0 (3.3.2.3.4);
            // otherwise at least one character is required (MQTT-4.7.3-1).
            if !version.is_v5() {
                return Err(Error::InvalidTopicName(TopicError::Empty));
            }
            if !seen.contains(PropertyId::TOPIC_ALIAS) {
                return Err(Error::EmptyTopicWithoutAlias);
            }
        }
        let layout = Self {
            dup,
            qos,
            retain: flags & 0x01 != 0,
            packet_id,
            properties,
            payload_start: body.len() - c.remaining(),
        };
        Ok((layout, topic))
    }
}
