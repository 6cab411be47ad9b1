//! Integration tests of `mqtt-codec` through its public API, as one test binary.
//!
//! - `roundtrip`: proptest round trips of every packet type under every protocol level.
//! - `streaming`: byte-at-a-time and chunked feeding give the same packets as feeding whole.
//! - `malformed`: a table of malformed inputs, each with the exact [`Error`] it must produce.
//! - `mutations`: valid packets with bytes changed decode without panicking, and round trip.
//! - `vectors`: the byte examples of the specs, one file per case under `tests/vectors/`.
//! - `snapshots`: insta snapshots of the canonical encoding of every packet type and level.
//! - `sweeps`: every value of each one-byte field, expecting a packet or a specific error.
//! - `errors`: the reason code and normative statement each error maps to.
//! - `encoding`: what the encoder refuses and what it writes without validating; the tokio
//!   adapter.
//!
//! `generators` holds the proptest strategies for valid packets, and the spec tables (reason
//! codes, allowed properties) the other modules check against.

mod encoding;
mod errors;
mod generators;
mod malformed;
mod mutations;
mod roundtrip;
mod snapshots;
mod streaming;
mod sweeps;
mod vectors;

use std::fmt::Write as _;

use mqtt_codec::bytes::BytesMut;
use mqtt_codec::{Borrowed, Decoded, Decoder, Error, Packet, ProtocolVersion};

/// Every protocol level, oldest first.
const VERSIONS: [ProtocolVersion; 3] = [
    ProtocolVersion::V3_1,
    ProtocolVersion::V3_1_1,
    ProtocolVersion::V5_0,
];

/// Decodes the packet at the front of `bytes` through [`Decoder::decode`].
///
/// On success the packet must have taken exactly its own bytes. On an error the buffer must
/// be as `Decoder::decode` documents: untouched after an error in the fixed header (or a packet
/// over the size limit), without the packet's bytes after an error in the body. Running out of
/// bytes is a test failure: every input here is meant to be complete.
fn decode_one(version: ProtocolVersion, bytes: &[u8]) -> Result<Packet, Error> {
    decode_one_with(Decoder::new(version), bytes)
}

/// [`decode_one`] with a configured decoder.
///
/// [`Decoder::decode_borrowed`] must agree with [`Decoder::decode`] on every input: the same
/// packet taking the same bytes, or the same error.
fn decode_one_with(mut decoder: Decoder, bytes: &[u8]) -> Result<Packet, Error> {
    let borrowed = decoder.clone().decode_borrowed(bytes);
    let mut buf = BytesMut::from(bytes);
    let result = decoder.decode(&mut buf);
    let rest = match &result {
        Err(e) if is_header_error(e) => bytes,
        Ok(Decoded::Incomplete) => panic!("incomplete: {}", to_hex(bytes)),
        _ => bytes.get(packet_len(bytes)..).expect("a complete packet"),
    };
    assert_eq!(
        to_hex(&buf),
        to_hex(rest),
        "the decoder left the wrong bytes after {result:?}"
    );
    let taken = bytes.len() - rest.len();
    match (&result, borrowed) {
        (Ok(Decoded::Packet(Packet::Publish(owned))), Ok(Borrowed::Publish(r, n))) => {
            assert_eq!(
                (&r.to_owned(), n),
                (owned, taken),
                "decode_borrowed differs"
            );
        }
        (Ok(Decoded::Packet(owned)), Ok(Borrowed::Packet(p, n))) => {
            assert_eq!((&p, n), (owned, taken), "decode_borrowed differs");
        }
        (Err(e), Err(f)) => assert_eq!(e, &f, "decode_borrowed gives another error"),
        (owned, borrowed) => panic!("decode gives {owned:?}, decode_borrowed {borrowed:?}"),
    }
    result.map(|decoded| match decoded {
        Decoded::Packet(packet) => packet,
        Decoded::Incomplete => unreachable!("handled above"),
    })
}

/// Whether `e` is found from the fixed header alone, before the body is taken.
fn is_header_error(e: &Error) -> bool {
    matches!(
        e,
        Error::ReservedPacketType
            | Error::InvalidFlags { .. }
            | Error::PacketTooLarge { .. }
            | Error::MalformedVarInt {
                field: "remaining length"
            }
            | Error::NonMinimalVarInt {
                field: "remaining length"
            }
    )
}

/// The size of the packet at the front of `bytes`, from its fixed header (test inputs only:
/// the header must be well-formed).
fn packet_len(bytes: &[u8]) -> usize {
    let mut remaining = 0usize;
    for (i, &b) in bytes.iter().enumerate().skip(1).take(4) {
        remaining |= usize::from(b & 0x7F) << (7 * (i - 1));
        if b & 0x80 == 0 {
            return 1 + i + remaining;
        }
    }
    panic!("no complete fixed header in {}", to_hex(bytes));
}

/// Encodes `packet`, checking that `encoded_len` and `to_bytes` agree with `encode`.
fn encode(packet: &Packet, version: ProtocolVersion) -> Vec<u8> {
    let mut buf = BytesMut::new();
    packet
        .encode(version, &mut buf)
        .expect("the packet encodes");
    assert_eq!(
        packet.encoded_len(version),
        buf.len(),
        "encoded_len disagrees with encode for {packet:?}"
    );
    let bytes = packet.to_bytes(version).expect("the packet encodes");
    assert_eq!(&bytes[..], &buf[..], "to_bytes disagrees with encode");
    buf.to_vec()
}

/// Bytes as upper-case hex pairs separated by spaces.
fn to_hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        write!(out, "{b:02X}").expect("writing to a String cannot fail");
    }
    out
}

/// Parses hex pairs, ignoring whitespace and anything from `#` to the end of a line.
fn from_hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text
        .lines()
        .map(|line| line.split('#').next().unwrap_or_default())
        .flat_map(str::bytes)
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    assert!(digits.len() % 2 == 0, "odd number of hex digits");
    digits
        .chunks(2)
        .map(|pair| {
            let pair = std::str::from_utf8(pair).expect("ASCII hex digits");
            u8::from_str_radix(pair, 16).expect("hex digits")
        })
        .collect()
}
