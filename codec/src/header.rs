//! The fixed header: packet type, flags and remaining length.
//!
//! ```text
//!   bit    7   6   5   4   3   2   1   0
//! byte 1  [ packet type  ] [   flags    ]
//! byte 2… [ remaining length: 1 to 4 bytes, Variable Byte Integer ]
//! ```

use bytes::BufMut;

use crate::error::Error;
use crate::ids::PacketType;
use crate::varint::{self, VarInt};

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
        assert_eq!(
            FixedHeader::parse(&[0x00, 0x00]),
            Err(Error::ReservedPacketType)
        );
        assert_eq!(
            FixedHeader::parse(&[0x81, 0x00]),
            Err(Error::InvalidFlags {
                packet_type: PacketType::Subscribe,
                flags: 1
            })
        );
    }
}
