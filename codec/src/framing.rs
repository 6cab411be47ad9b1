//! Incremental decoding of a byte stream into packets.
//!
//! [`Decoder::decode`] looks at the front of a `BytesMut` that a socket reader appends to. It
//! returns [`Decoded::Incomplete`] until a whole packet is there (a status, never an error),
//! checks the announced size against the maximum as soon as the fixed header is complete (so an
//! oversized packet is refused before its body is buffered), then cuts exactly the packet's
//! bytes off the buffer and decodes them zero-copy.

use bytes::{Buf, Bytes, BytesMut};

use crate::error::{DecodeError, Error};
use crate::header::FixedHeader;
use crate::ids::PacketType;
use crate::packet::{Connect, Packet, Publish, PublishRef};
use crate::varint::MAX_VARINT;
use crate::version::ProtocolVersion;

/// The largest packet the protocol can express: a 5-byte fixed header plus the largest
/// remaining length. The default maximum, so that only a configured limit refuses packets.
pub const MAX_PACKET_SIZE: usize = 5 + MAX_VARINT as usize;

/// The most [`Decoder::decode`] reserves ahead for a packet still arriving. Enough for nearly
/// every packet in one allocation; a peer that announces a huge packet and then sends nothing
/// costs no more than this, rather than the announced size (up to 256 MiB).
const MAX_RESERVE: usize = 64 * 1024;

/// The size of the packet at the front of `buf`, fixed header included, as soon as its fixed
/// header is complete (`None` before that): for splitting a byte stream at packet boundaries
/// without decoding the packets. The fixed header's own checks apply, as in [`Decoder::decode`].
pub fn packet_len(buf: &[u8]) -> Result<Option<usize>, Error> {
    Ok(FixedHeader::parse(buf)?.map(|header| header.packet_len()))
}

/// What [`Decoder::decode`] found at the front of the buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decoded {
    /// A whole packet, removed from the buffer.
    Packet(Packet),
    /// Not enough bytes yet; nothing was removed.
    Incomplete,
}

/// What [`Decoder::decode_borrowed`] found at the front of the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Borrowed<'a> {
    /// A PUBLISH, decoded in place, and the number of input bytes it took.
    Publish(PublishRef<'a>, usize),
    /// Any other packet, decoded as usual (they hold little or nothing to borrow), and the
    /// number of input bytes it took.
    Packet(Packet, usize),
    /// Not enough bytes yet.
    Incomplete,
}

/// A streaming decoder for one connection.
#[derive(Clone, Debug)]
pub struct Decoder {
    version: ProtocolVersion,
    max_packet_size: usize,
}

impl Decoder {
    /// A decoder for `version` with no size limit beyond the protocol's own.
    ///
    /// A server starts with any version: CONNECT carries its own, and the server then calls
    /// [`Decoder::set_version`].
    pub fn new(version: ProtocolVersion) -> Self {
        Self {
            version,
            max_packet_size: MAX_PACKET_SIZE,
        }
    }

    /// Sets the largest packet (fixed header included) this decoder accepts.
    pub fn with_max_packet_size(mut self, max: usize) -> Self {
        self.max_packet_size = max;
        self
    }

    /// Switches the wire format, e.g. after CONNECT.
    pub fn set_version(&mut self, version: ProtocolVersion) {
        self.version = version;
    }

    /// The wire format in use.
    pub fn version(&self) -> ProtocolVersion {
        self.version
    }

    /// Sets the maximum packet size.
    pub fn set_max_packet_size(&mut self, max: usize) {
        self.max_packet_size = max;
    }

    /// The maximum packet size in force.
    pub fn max_packet_size(&self) -> usize {
        self.max_packet_size
    }

    /// Decodes the packet at the front of `buf`, if it is complete.
    ///
    /// On an error the connection cannot be resynchronised and should be closed. An error in
    /// the fixed header (or a packet over the size limit) leaves the buffer as it was; an
    /// error in the body comes after the packet's bytes were taken off the buffer.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Decoded, Error> {
        let Some(header) = FixedHeader::parse(buf)? else {
            return Ok(Decoded::Incomplete);
        };
        let size = header.packet_len();
        if size > self.max_packet_size {
            return Err(Error::PacketTooLarge {
                size,
                max: self.max_packet_size,
            });
        }
        if buf.len() < size {
            buf.reserve((size - buf.len()).min(MAX_RESERVE));
            return Ok(Decoded::Incomplete);
        }
        // PUBLISH is validated in place and only its payload is cut off as `Bytes`; packets
        // that keep nothing of their body are parsed from the slice; the rest get their own
        // `Bytes`.
        if header.packet_type == PacketType::Publish {
            let body_len = size - header.header_len;
            return Publish::decode_front(
                header.flags,
                buf,
                header.header_len,
                body_len,
                self.version,
            )
            .map(|publish| Decoded::Packet(Packet::Publish(publish)));
        }
        let body = buf.get(header.header_len..size).unwrap_or_default();
        if let Some(packet) = Packet::decode_slice(&header, body, self.version) {
            buf.advance(size);
            return packet.map(Decoded::Packet);
        }
        let mut frame = buf.split_to(size);
        frame.advance(header.header_len);
        Packet::decode(&header, frame.freeze(), self.version).map(Decoded::Packet)
    }

    /// [`Decoder::decode`], with an error that also says which packet failed and, for a
    /// CONNECT, its protocol level: what a server needs to answer a bad packet.
    ///
    /// The context is read before decoding (a body error has cut the packet off the buffer
    /// by the time it is reported); for packets other than CONNECT that costs one byte read.
    pub fn decode_in_context(&mut self, buf: &mut BytesMut) -> Result<Decoded, DecodeError> {
        let packet_type = buf.first().and_then(|&b| PacketType::from_nibble(b >> 4));
        let connect_level = match packet_type {
            Some(PacketType::Connect) => Connect::peek_level(buf),
            _ => None,
        };
        self.decode(buf).map_err(|error| DecodeError {
            error,
            packet_type,
            connect_level,
        })
    }

    /// Decodes the packet at the front of `input` without taking ownership of its bytes.
    ///
    /// The same checks as [`Decoder::decode`]; a PUBLISH comes back as a [`PublishRef`] that
    /// borrows its topic, properties and payload from `input`, so routing a message costs no
    /// allocation and no reference counting. The caller advances its buffer by the length
    /// returned.
    pub fn decode_borrowed<'a>(&mut self, input: &'a [u8]) -> Result<Borrowed<'a>, Error> {
        let Some(header) = FixedHeader::parse(input)? else {
            return Ok(Borrowed::Incomplete);
        };
        let size = header.packet_len();
        if size > self.max_packet_size {
            return Err(Error::PacketTooLarge {
                size,
                max: self.max_packet_size,
            });
        }
        let Some(body) = input.get(header.header_len..size) else {
            return Ok(Borrowed::Incomplete);
        };
        if header.packet_type == PacketType::Publish {
            return PublishRef::parse(header.flags, body, self.version)
                .map(|publish| Borrowed::Publish(publish, size));
        }
        if let Some(packet) = Packet::decode_slice(&header, body, self.version) {
            return packet.map(|packet| Borrowed::Packet(packet, size));
        }
        let body = if body.is_empty() {
            Bytes::new()
        } else {
            Bytes::copy_from_slice(body)
        };
        Packet::decode(&header, body, self.version).map(|packet| Borrowed::Packet(packet, size))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packet_len_needs_only_the_fixed_header() {
        assert_eq!(packet_len(&[]), Ok(None));
        assert_eq!(packet_len(&[0x30, 0x80]), Ok(None));
        assert_eq!(packet_len(&[0x30, 0x80, 0x01]), Ok(Some(3 + 128)));
        assert_eq!(packet_len(&[0xc0, 0x00, 0xff]), Ok(Some(2)));
        assert_eq!(packet_len(&[0x00, 0x00]), Err(Error::ReservedPacketType));
    }

    #[test]
    fn a_failed_connect_says_its_level() {
        // CONNECT, level 5, with the reserved CONNECT flag set: malformed, level readable.
        let wire = [0x10, 0x0a, 0, 4, b'M', b'Q', b'T', b'T', 5, 0x01, 0, 0x3c];
        let mut buf = BytesMut::from(&wire[..]);
        let failure = Decoder::new(ProtocolVersion::V3_1_1)
            .decode_in_context(&mut buf)
            .unwrap_err();
        assert_eq!(failure.error, Error::ConnectReservedFlag);
        assert_eq!(failure.packet_type, Some(PacketType::Connect));
        assert_eq!(failure.connect_level, Some(5));
        // A header error: the bytes stay, the type is known, no level for other types.
        let mut buf = BytesMut::from(&[0x81, 0x00][..]);
        let failure = Decoder::new(ProtocolVersion::V5_0)
            .decode_in_context(&mut buf)
            .unwrap_err();
        assert_eq!(failure.packet_type, Some(PacketType::Subscribe));
        assert_eq!(failure.connect_level, None);
        let mut buf = BytesMut::from(&[0x00, 0x00][..]);
        let failure = Decoder::new(ProtocolVersion::V5_0)
            .decode_in_context(&mut buf)
            .unwrap_err();
        assert_eq!(
            (failure.error, failure.packet_type),
            (Error::ReservedPacketType, None)
        );
    }

    /// Found while fuzzing `decode`: every input announcing a large remaining length made the
    /// decoder reserve all of it at once, 256 MiB for `30 FF FF FF 7F`.
    #[test]
    fn an_announced_huge_packet_reserves_a_bounded_amount() {
        let mut buf = BytesMut::from(&[0x30, 0xff, 0xff, 0xff, 0x7f][..]);
        let decoded = Decoder::new(ProtocolVersion::V5_0).decode(&mut buf);
        assert_eq!(decoded, Ok(Decoded::Incomplete));
        assert!(buf.capacity() <= 5 + MAX_RESERVE, "{}", buf.capacity());
    }
}
