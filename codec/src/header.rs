//! The fixed header: packet type, flags and remaining length.
//!
//! ```text
//!   bit    7   6   5   4   3   2   1   0
//! byte 1  [ packet type  ] [   flags    ]
//! byte 2… [ remaining length: 1 to 4 bytes, Variable Byte Integer ]
//! ```

use std::fmt;

use bytes::BufMut;

use crate::error::Error;
use crate::varint::{self, VarInt};

/// The packet type in the high nibble of the first byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum PacketType {
    /// 1: client request to connect.
    Connect,
    /// 2: connect acknowledgement.
    ConnAck,
    /// 3: publish message.
    Publish,
    /// 4: QoS 1 acknowledgement.
    PubAck,
    /// 5: QoS 2 delivery, part 1.
    PubRec,
    /// 6: QoS 2 delivery, part 2.
    PubRel,
    /// 7: QoS 2 delivery, part 3.
    PubComp,
    /// 8: subscribe request.
    Subscribe,
    /// 9: subscribe acknowledgement.
    SubAck,
    /// 10: unsubscribe request.
    Unsubscribe,
    /// 11: unsubscribe acknowledgement.
    UnsubAck,
    /// 12: ping request.
    PingReq,
    /// 13: ping response.
    PingResp,
    /// 14: disconnect notification.
    Disconnect,
    /// 15: authentication exchange (5.0 only).
    Auth,
}

impl PacketType {
    /// The type for the high nibble of a first byte; 0 is reserved.
    #[inline]
    pub fn from_nibble(nibble: u8) -> Option<Self> {
        Some(match nibble {
            1 => Self::Connect,
            2 => Self::ConnAck,
            3 => Self::Publish,
            4 => Self::PubAck,
            5 => Self::PubRec,
            6 => Self::PubRel,
            7 => Self::PubComp,
            8 => Self::Subscribe,
            9 => Self::SubAck,
            10 => Self::Unsubscribe,
            11 => Self::UnsubAck,
            12 => Self::PingReq,
            13 => Self::PingResp,
            14 => Self::Disconnect,
            15 => Self::Auth,
            _ => return None,
        })
    }

    /// The high nibble of the first byte.
    pub fn nibble(self) -> u8 {
        match self {
            Self::Connect => 1,
            Self::ConnAck => 2,
            Self::Publish => 3,
            Self::PubAck => 4,
            Self::PubRec => 5,
            Self::PubRel => 6,
            Self::PubComp => 7,
            Self::Subscribe => 8,
            Self::SubAck => 9,
            Self::Unsubscribe => 10,
            Self::UnsubAck => 11,
            Self::PingReq => 12,
            Self::PingResp => 13,
            Self::Disconnect => 14,
            Self::Auth => 15,
        }
    }

    /// The flags every packet but PUBLISH must carry (3.1.1 2.2.2, 5.0 2.1.3).
    #[inline]
    pub fn required_flags(self) -> Option<u8> {
        match self {
            Self::Publish => None,
            Self::PubRel | Self::Subscribe | Self::Unsubscribe => Some(0b0010),
            _ => Some(0),
        }
    }
}

impl fmt::Display for PacketType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Connect => "CONNECT",
            Self::ConnAck => "CONNACK",
            Self::Publish => "PUBLISH",
            Self::PubAck => "PUBACK",
            Self::PubRec => "PUBREC",
            Self::PubRel => "PUBREL",
            Self::PubComp => "PUBCOMP",
            Self::Subscribe => "SUBSCRIBE",
            Self::SubAck => "SUBACK",
            Self::Unsubscribe => "UNSUBSCRIBE",
            Self::UnsubAck => "UNSUBACK",
            Self::PingReq => "PINGREQ",
            Self::PingResp => "PINGRESP",
            Self::Disconnect => "DISCONNECT",
            Self::Auth => "AUTH",
        })
    }
}

/// A parsed fixed header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FixedHeader {
    /// The packet type.
    pub packet_type: PacketType,
    /// The low nibble of the first byte.
    pub flags: u8,
    /// The number of bytes after the fixed header.
    pub remaining_length: u32,
    /// The size of the fixed header itself (2 to 5 bytes).
    pub header_len: usize,
}

impl FixedHeader {
    /// The header of a packet of `packet_type` with `flags` in the low nibble and
    /// `remaining_length` bytes after the header. No check: a test may build what the spec
    /// forbids; a length over [`MAX_VARINT`](crate::MAX_VARINT) encodes to five bytes.
    pub fn new(packet_type: PacketType, flags: u8, remaining_length: u32) -> Self {
        Self {
            packet_type,
            flags,
            remaining_length,
            header_len: 1 + varint::len(remaining_length),
        }
    }

    /// Parses the fixed header at the front of `bytes`; `None` until all of it is there.
    ///
    /// The type nibble and the reserved flags are checked here, before the body arrives, so a
    /// receiver can close at once (3.1.1 MQTT-2.2.2-2; 5.0 MQTT-2.1.3-1 and 4.13); so is the
    /// remaining length's encoding (at most four bytes; the fewest, 5.0 MQTT-1.5.5-1).
    #[inline]
    pub fn parse(bytes: &[u8]) -> Result<Option<Self>, Error> {
        let Some(&first) = bytes.first() else {
            return Ok(None);
        };
        let nibble = first >> 4;
        let flags = first & 0x0f;
        let packet_type = PacketType::from_nibble(nibble).ok_or(Error::ReservedPacketType)?;
        if let Some(required) = packet_type.required_flags() {
            if flags != required {
                return Err(Error::InvalidFlags { packet_type, flags });
            }
        }
        // Most packets are shorter than 128 bytes after the fixed header: one length byte.
        if let Some(&len) = bytes.get(1) {
            if len < 0x80 {
                return Ok(Some(Self {
                    packet_type,
                    flags,
                    remaining_length: u32::from(len),
                    header_len: 2,
                }));
            }
        }
        match varint::read(bytes.get(1..).unwrap_or_default(), "remaining length")? {
            VarInt::Value(remaining_length, n) => Ok(Some(Self {
                packet_type,
                flags,
                remaining_length,
                header_len: 1 + n,
            })),
            VarInt::Incomplete => Ok(None),
        }
    }

    /// The first byte: the type in the high nibble, the flags in the low one.
    pub fn first_byte(&self) -> u8 {
        self.packet_type.nibble() << 4 | (self.flags & 0x0f)
    }

    /// Writes the header: the first byte, then the remaining length.
    pub fn encode(&self, buf: &mut impl BufMut) {
        buf.put_u8(self.first_byte());
        varint::write(buf, self.remaining_length);
    }

    /// The size of the whole packet.
    #[inline]
    pub fn packet_len(&self) -> usize {
        self.header_len + self.remaining_length as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_and_parse_agree() {
        for len in [0, 127, 128, 16_383, 16_384, 2_097_152, crate::MAX_VARINT] {
            let header = FixedHeader::new(PacketType::Subscribe, 0b0010, len);
            let mut wire = Vec::new();
            header.encode(&mut wire);
            assert_eq!(wire.len(), header.header_len);
            assert_eq!(wire[0], 0x82);
            assert_eq!(FixedHeader::parse(&wire), Ok(Some(header)));
            assert_eq!(FixedHeader::parse(&wire[..wire.len() - 1]), Ok(None));
        }
    }

    #[test]
    fn parse_checks_type_and_flags() {
        assert_eq!(FixedHeader::parse(&[]), Ok(None));
        assert_eq!(FixedHeader::parse(&[0x00, 0x00]), Err(Error::ReservedPacketType));
        assert_eq!(
            FixedHeader::parse(&[0x81, 0x00]),
            Err(Error::InvalidFlags {
                packet_type: PacketType::Subscribe,
                flags: 1
            })
        );
    }
}
