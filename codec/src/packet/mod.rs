//! The [`Packet`] enum and one module per packet type.
//!
//! Every packet type has the same shape: a struct with named fields, `decode` (given the
//! fixed-header flags, the body cut to exactly its remaining length, and the protocol version),
//! `body_len` and `encode_body`. [`Packet::encode`] adds the fixed header. Encoding never
//! validates, so a test can send what the spec forbids; decoding always does.

mod ack;
mod auth;
mod connack;
mod connect;
mod disconnect;
mod publish;
mod suback;
mod subscribe;
mod unsuback;
mod unsubscribe;

use bytes::{BufMut, Bytes};

pub use ack::{PubAck, PubComp, PubRec, PubRel};
pub use auth::Auth;
pub use connack::ConnAck;
pub use connect::{Connect, Will};
pub use disconnect::Disconnect;
pub use publish::{Publish, PublishRef};
pub use suback::SubAck;
pub use subscribe::{RetainHandling, Subscribe, Subscription, SubscriptionOptions};
pub use unsuback::UnsubAck;
pub use unsubscribe::Unsubscribe;

use crate::error::Error;
use crate::header::FixedHeader;
use crate::ids::PacketType;
use crate::primitives::Reader;
use crate::varint;
use crate::version::ProtocolVersion;

/// Quality of service of a message delivery.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum QoS {
    /// 0: at most once.
    #[default]
    AtMostOnce,
    /// 1: at least once.
    AtLeastOnce,
    /// 2: exactly once.
    ExactlyOnce,
}

impl QoS {
    /// The QoS for a two-bit value; `None` for 3.
    pub fn from_u8(value: u8) -> Option<Self> {
        match value {
            0 => Some(Self::AtMostOnce),
            1 => Some(Self::AtLeastOnce),
            2 => Some(Self::ExactlyOnce),
            _ => None,
        }
    }

    /// The numeric value.
    pub fn as_u8(self) -> u8 {
        self as u8
    }
}

/// Any MQTT control packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Packet {
    /// CONNECT, boxed: it is by far the largest packet and the rarest, and every other
    /// packet would otherwise be moved around at its size.
    Connect(Box<Connect>),
    /// CONNACK.
    ConnAck(ConnAck),
    /// PUBLISH.
    Publish(Publish),
    /// PUBACK.
    PubAck(PubAck),
    /// PUBREC.
    PubRec(PubRec),
    /// PUBREL.
    PubRel(PubRel),
    /// PUBCOMP.
    PubComp(PubComp),
    /// SUBSCRIBE.
    Subscribe(Subscribe),
    /// SUBACK.
    SubAck(SubAck),
    /// UNSUBSCRIBE.
    Unsubscribe(Unsubscribe),
    /// UNSUBACK.
    UnsubAck(UnsubAck),
    /// PINGREQ.
    PingReq,
    /// PINGRESP.
    PingResp,
    /// DISCONNECT.
    Disconnect(Disconnect),
    /// AUTH (5.0 only).
    Auth(Auth),
}

impl Packet {
    /// The packet's type.
    pub fn packet_type(&self) -> PacketType {
        match self {
            Self::Connect(_) => PacketType::Connect,
            Self::ConnAck(_) => PacketType::ConnAck,
            Self::Publish(_) => PacketType::Publish,
            Self::PubAck(_) => PacketType::PubAck,
            Self::PubRec(_) => PacketType::PubRec,
            Self::PubRel(_) => PacketType::PubRel,
            Self::PubComp(_) => PacketType::PubComp,
            Self::Subscribe(_) => PacketType::Subscribe,
            Self::SubAck(_) => PacketType::SubAck,
            Self::Unsubscribe(_) => PacketType::Unsubscribe,
            Self::UnsubAck(_) => PacketType::UnsubAck,
            Self::PingReq => PacketType::PingReq,
            Self::PingResp => PacketType::PingResp,
            Self::Disconnect(_) => PacketType::Disconnect,
            Self::Auth(_) => PacketType::Auth,
        }
    }

    /// Decodes a packet body cut to exactly `header.remaining_length` bytes.
    ///
    /// CONNECT reads its own protocol version; every other packet uses `version`.
    pub fn decode(
        header: &FixedHeader,
        body: Bytes,
        version: ProtocolVersion,
    ) -> Result<Self, Error> {
        let flags = header.flags;
        let mut r = Reader::new(body);
        let packet = match header.packet_type {
            PacketType::Connect => Self::Connect(Box::new(Connect::decode(&mut r)?)),
            PacketType::ConnAck => Self::ConnAck(ConnAck::decode(&mut r, version)?),
            PacketType::Publish => Self::Publish(Publish::decode(flags, &mut r, version)?),
            PacketType::PubAck => Self::PubAck(PubAck::decode(&mut r, version)?),
            PacketType::PubRec => Self::PubRec(PubRec::decode(&mut r, version)?),
            PacketType::PubRel => Self::PubRel(PubRel::decode(&mut r, version)?),
            PacketType::PubComp => Self::PubComp(PubComp::decode(&mut r, version)?),
            PacketType::Subscribe => Self::Subscribe(Subscribe::decode(&r.rest(), version)?),
            PacketType::SubAck => Self::SubAck(SubAck::decode(&mut r, version)?),
            PacketType::Unsubscribe => Self::Unsubscribe(Unsubscribe::decode(&mut r, version)?),
            PacketType::UnsubAck => Self::UnsubAck(UnsubAck::decode(&mut r, version)?),
            PacketType::PingReq => Self::PingReq,
            PacketType::PingResp => Self::PingResp,
            PacketType::Disconnect => Self::Disconnect(Disconnect::decode(&mut r, version)?),
            PacketType::Auth => {
                if !version.is_v5() {
                    return Err(Error::PacketTypeNotInVersion {
                        packet_type: PacketType::Auth,
                        version,
                    });
                }
                Self::Auth(Auth::decode(&mut r)?)
            }
        };
        r.finish(header.packet_type)?;
        Ok(packet)
    }

    /// Decodes, straight from a slice of the body, the packets that keep none of its bytes:
    /// PINGREQ and PINGRESP, the two-byte forms of PUBACK, PUBREC, PUBREL and PUBCOMP, and
    /// SUBSCRIBE (which copies its filters). `None` for any other packet, or another form, which
    /// [`Packet::decode`] then handles; both give the same result for the same bytes.
    #[inline]
    pub(crate) fn decode_slice(
        header: &FixedHeader,
        body: &[u8],
        version: ProtocolVersion,
    ) -> Option<Result<Self, Error>> {
        let packet_type = header.packet_type;
        let ack_id = || {
            let id = u16::from_be_bytes(body.try_into().ok()?);
            Some(check_packet_id(id, packet_type))
        };
        Some(match packet_type {
            PacketType::PingReq if body.is_empty() => Ok(Self::PingReq),
            PacketType::PingResp if body.is_empty() => Ok(Self::PingResp),
            // In 5.0 a two-byte acknowledgement means Success without properties (3.4.2.1).
            PacketType::PubAck => ack_id()?.map(|id| Self::PubAck(PubAck::new(id))),
            PacketType::PubRec => ack_id()?.map(|id| Self::PubRec(PubRec::new(id))),
            PacketType::PubRel => ack_id()?.map(|id| Self::PubRel(PubRel::new(id))),
            PacketType::PubComp => ack_id()?.map(|id| Self::PubComp(PubComp::new(id))),
            PacketType::Subscribe => Subscribe::decode(body, version).map(Self::Subscribe),
            _ => return None,
        })
    }

    /// The low nibble of the first byte this packet is encoded with.
    pub fn flags(&self) -> u8 {
        match self {
            Self::Publish(p) => p.flags(),
            other => other.packet_type().required_flags().unwrap_or(0),
        }
    }

    /// The remaining length this packet encodes to.
    pub fn body_len(&self, version: ProtocolVersion) -> usize {
        match self {
            Self::Connect(p) => p.body_len(),
            Self::ConnAck(p) => p.body_len(version),
            Self::Publish(p) => p.body_len(version),
            Self::PubAck(p) => p.body_len(version),
            Self::PubRec(p) => p.body_len(version),
            Self::PubRel(p) => p.body_len(version),
            Self::PubComp(p) => p.body_len(version),
            Self::Subscribe(p) => p.body_len(version),
            Self::SubAck(p) => p.body_len(version),
            Self::Unsubscribe(p) => p.body_len(version),
            Self::UnsubAck(p) => p.body_len(version),
            Self::PingReq | Self::PingResp => 0,
            Self::Disconnect(p) => p.body_len(version),
            Self::Auth(p) => p.body_len(),
        }
    }

    /// The exact size of the encoded packet, fixed header included, so a caller can check a
    /// Maximum Packet Size before writing.
    pub fn encoded_len(&self, version: ProtocolVersion) -> usize {
        let body = self.body_len(version);
        1 + varint::len(u32::try_from(body).unwrap_or(u32::MAX)) + body
    }

    /// Encodes the packet, fixed header included.
    ///
    /// No validation: packet id 0, forbidden properties and the like are written as given. The
    /// only errors are fields too long for their length prefix; on error `buf` may hold a
    /// partial packet.
    pub fn encode(&self, version: ProtocolVersion, buf: &mut impl BufMut) -> Result<(), Error> {
        let body = self.body_len(version);
        let remaining = u32::try_from(body)
            .ok()
            .filter(|&len| len <= varint::MAX_VARINT)
            .ok_or(Error::RemainingLengthTooLarge { len: body })?;
        FixedHeader::new(self.packet_type(), self.flags(), remaining).encode(buf);
        match self {
            Self::Connect(p) => p.encode_body(buf),
            Self::ConnAck(p) => p.encode_body(version, buf),
            Self::Publish(p) => p.encode_body(version, buf),
            Self::PubAck(p) => p.encode_body(version, buf),
            Self::PubRec(p) => p.encode_body(version, buf),
            Self::PubRel(p) => p.encode_body(version, buf),
            Self::PubComp(p) => p.encode_body(version, buf),
            Self::Subscribe(p) => p.encode_body(version, buf),
            Self::SubAck(p) => p.encode_body(version, buf),
            Self::Unsubscribe(p) => p.encode_body(version, buf),
            Self::UnsubAck(p) => p.encode_body(version, buf),
            Self::PingReq | Self::PingResp => Ok(()),
            Self::Disconnect(p) => p.encode_body(version, buf),
            Self::Auth(p) => p.encode_body(buf),
        }
    }

    /// Encodes into a new buffer.
    pub fn to_bytes(&self, version: ProtocolVersion) -> Result<Bytes, Error> {
        let mut buf = bytes::BytesMut::with_capacity(self.encoded_len(version));
        self.encode(version, &mut buf)?;
        Ok(buf.freeze())
    }
}

macro_rules! from_impls {
    ($($variant:ident),*) => {
        $(impl From<$variant> for Packet {
            fn from(p: $variant) -> Self {
                Self::$variant(p)
            }
        })*
    };
}

impl From<Connect> for Packet {
    fn from(p: Connect) -> Self {
        Self::Connect(Box::new(p))
    }
}

from_impls!(
    ConnAck,
    Publish,
    PubAck,
    PubRec,
    PubRel,
    PubComp,
    Subscribe,
    SubAck,
    Unsubscribe,
    UnsubAck,
    Disconnect,
    Auth
);

/// Reads a packet identifier that must not be 0 (3.1.1 MQTT-2.3.1-1, 5.0 2.2.1).
pub(crate) fn read_packet_id(r: &mut Reader, packet_type: PacketType) -> Result<u16, Error> {
    check_packet_id(r.u16("packet identifier")?, packet_type)
}

/// Checks a packet identifier that must not be 0 (3.1.1 MQTT-2.3.1-1, 5.0 2.2.1).
#[inline]
pub(crate) fn check_packet_id(id: u16, packet_type: PacketType) -> Result<u16, Error> {
    if id == 0 {
        return Err(Error::ZeroPacketId { packet_type });
    }
    Ok(id)
}

/// Checks a 5.0 reason code against the codes `packet_type` may carry.
pub(crate) fn check_reason(
    code: u8,
    allowed: &[u8],
    packet_type: PacketType,
) -> Result<crate::ReasonCode, Error> {
    if allowed.contains(&code) {
        Ok(crate::ReasonCode(code))
    } else {
        Err(Error::InvalidReasonCode { packet_type, code })
    }
}
