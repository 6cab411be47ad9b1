//! PUBACK, PUBREC, PUBREL and PUBCOMP (sections 3.4 to 3.7): four packets with one layout.
//!
//! A packet identifier, then in 5.0 a reason code and properties. The 5.0 short forms leave out
//! the properties (remaining length 3) or both (remaining length 2, meaning Success); encoding
//! picks the shortest form that carries the fields.

use bytes::BufMut;

use super::{check_reason, read_packet_id};
use crate::error::Error;
use crate::ids::PacketType;
use crate::primitives::Reader;
use crate::properties::{self, Properties, PropertyContext};
use crate::reason::{ReasonCode, allowed};
use crate::version::ProtocolVersion;

macro_rules! ack_packet {
    ($(#[$doc:meta])* $name:ident, $packet_type:expr, $allowed:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub struct $name {
            /// The packet identifier of the PUBLISH this acknowledges.
            pub packet_id: u16,
            /// 5.0 reason code; Success in 3.1.1.
            pub reason: ReasonCode,
            /// 5.0 properties.
            pub properties: Properties,
        }

        impl $name {
            /// A successful acknowledgement of `packet_id`.
            pub fn new(packet_id: u16) -> Self {
                Self { packet_id, reason: ReasonCode::SUCCESS, properties: Properties::new() }
            }

            pub(crate) fn decode(r: &mut Reader, version: ProtocolVersion) -> Result<Self, Error> {
                let (packet_id, reason, properties) =
                    decode_ack(r, version, $packet_type, $allowed)?;
                Ok(Self { packet_id, reason, properties })
            }

            pub(crate) fn body_len(&self, version: ProtocolVersion) -> usize {
                ack_body_len(version, self.reason, &self.properties)
            }

            pub(crate) fn encode_body(
                &self,
                version: ProtocolVersion,
                buf: &mut impl BufMut,
            ) -> Result<(), Error> {
                encode_ack(buf, version, self.packet_id, self.reason, &self.properties)
            }
        }
    };
}

ack_packet!(
    /// PUBACK: acknowledges a QoS 1 PUBLISH.
    PubAck, PacketType::PubAck, allowed::PUBACK
);
ack_packet!(
    /// PUBREC: first answer to a QoS 2 PUBLISH.
    PubRec, PacketType::PubRec, allowed::PUBACK
);
ack_packet!(
    /// PUBREL: releases a QoS 2 message after PUBREC.
    PubRel, PacketType::PubRel, allowed::PUBREL
);
ack_packet!(
    /// PUBCOMP: completes a QoS 2 exchange.
    PubComp, PacketType::PubComp, allowed::PUBREL
);

fn decode_ack(
    r: &mut Reader,
    version: ProtocolVersion,
    packet_type: PacketType,
    allowed: &[u8],
) -> Result<(u16, ReasonCode, Properties), Error> {
    let packet_id = read_packet_id(r, packet_type)?;
    if !version.is_v5() || r.is_empty() {
        return Ok((packet_id, ReasonCode::SUCCESS, Properties::new()));
    }
    let reason = check_reason(r.u8("reason code")?, allowed, packet_type)?;
    let properties = if r.is_empty() {
        Properties::new()
    } else {
        properties::decode(r, PropertyContext::Ack)?
    };
    Ok((packet_id, reason, properties))
}

fn ack_body_len(version: ProtocolVersion, reason: ReasonCode, properties: &Properties) -> usize {
    if !version.is_v5() || (reason == ReasonCode::SUCCESS && properties.is_empty()) {
        2
    } else if properties.is_empty() {
        3
    } else {
        3 + properties.encoded_len()
    }
}

fn encode_ack(
    buf: &mut impl BufMut,
    version: ProtocolVersion,
    packet_id: u16,
    reason: ReasonCode,
    properties: &Properties,
) -> Result<(), Error> {
    buf.put_u16(packet_id);
    match ack_body_len(version, reason, properties) {
        2 => {}
        3 => buf.put_u8(reason.0),
        _ => {
            buf.put_u8(reason.0);
            properties.encode(buf)?;
        }
    }
    Ok(())
}
