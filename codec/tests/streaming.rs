//! Streaming: bytes that arrive one at a time, or in arbitrary chunks, decode to the same
//! packets as the whole stream at once, and every prefix that does not yet hold a whole packet
//! is `Decoded::Incomplete` with nothing taken from the buffer.

use mqtt_codec::bytes::BytesMut;
use mqtt_codec::{Decoded, Decoder, Packet, ProtocolVersion};
use proptest::collection::vec;
use proptest::prelude::*;

use crate::encode;
use crate::generators::any_packet;

/// Packets of one connection under `version`, and their concatenated encoding with the offset
/// at which each packet ends.
fn stream(version: ProtocolVersion) -> impl Strategy<Value = (Vec<Packet>, Vec<u8>, Vec<usize>)> {
    vec(any_packet(version), 1..6).prop_map(move |packets| {
        let mut bytes = Vec::new();
        let mut ends = Vec::new();
        for p in &packets {
            bytes.extend(encode(p, version));
            ends.push(bytes.len());
        }
        (packets, bytes, ends)
    })
}

/// Decodes every whole packet at the front of `buf`.
fn drain(decoder: &mut Decoder, buf: &mut BytesMut) -> Result<Vec<Packet>, TestCaseError> {
    let mut out = Vec::new();
    loop {
        let before = buf.len();
        match decoder.decode(buf) {
            Ok(Decoded::Packet(p)) => out.push(p),
            Ok(Decoded::Incomplete) => {
                prop_assert_eq!(buf.len(), before, "Incomplete took bytes");
                return Ok(out);
            }
            Err(e) => return Err(TestCaseError::fail(format!("{e:?}"))),
        }
    }
}

fn check_byte_at_a_time(
    version: ProtocolVersion,
    packets: &[Packet],
    bytes: &[u8],
    ends: &[usize],
) -> Result<(), TestCaseError> {
    let mut whole = BytesMut::from(bytes);
    let all_at_once = drain(&mut Decoder::new(version), &mut whole)?;
    prop_assert_eq!(&all_at_once, packets);
    prop_assert!(whole.is_empty());

    let mut decoder = Decoder::new(version);
    let mut buf = BytesMut::new();
    let mut got = Vec::new();
    for (i, &b) in bytes.iter().enumerate() {
        buf.extend_from_slice(&[b]);
        let new = drain(&mut decoder, &mut buf)?;
        // A packet comes out exactly when its last byte arrives, and never before.
        let expected = usize::from(ends.contains(&(i + 1)));
        prop_assert_eq!(new.len(), expected, "after byte {}", i);
        got.extend(new);
    }
    prop_assert!(buf.is_empty());
    prop_assert_eq!(got, all_at_once);
    Ok(())
}

fn check_chunks(
    version: ProtocolVersion,
    packets: &[Packet],
    bytes: &[u8],
    cuts: &[prop::sample::Index],
) -> Result<(), TestCaseError> {
    let mut offsets: Vec<usize> = cuts.iter().map(|c| c.index(bytes.len() + 1)).collect();
    offsets.push(bytes.len());
    offsets.sort_unstable();
    let mut decoder = Decoder::new(version);
    let mut buf = BytesMut::new();
    let mut got = Vec::new();
    let mut from = 0;
    for to in offsets {
        buf.extend_from_slice(&bytes[from..to]);
        got.extend(drain(&mut decoder, &mut buf)?);
        from = to;
    }
    prop_assert!(buf.is_empty());
    prop_assert_eq!(got, packets);
    Ok(())
}

macro_rules! streaming {
    ($($bytes:ident, $chunks:ident: $version:ident;)*) => {
        proptest! {
            #![proptest_config(ProptestConfig::with_cases(128))]
            $(
                #[test]
                fn $bytes((packets, bytes, ends) in stream(ProtocolVersion::$version)) {
                    check_byte_at_a_time(ProtocolVersion::$version, &packets, &bytes, &ends)?;
                }

                #[test]
                fn $chunks(
                    (packets, bytes, _) in stream(ProtocolVersion::$version),
                    cuts in vec(any::<prop::sample::Index>(), 0..8),
                ) {
                    check_chunks(ProtocolVersion::$version, &packets, &bytes, &cuts)?;
                }
            )*
        }
    };
}

streaming! {
    byte_at_a_time_decodes_as_whole_in_3_1, chunks_decode_as_whole_in_3_1: V3_1;
    byte_at_a_time_decodes_as_whole_in_3_1_1, chunks_decode_as_whole_in_3_1_1: V3_1_1;
    byte_at_a_time_decodes_as_whole_in_5_0, chunks_decode_as_whole_in_5_0: V5_0;
}

/// A fixed header that is still being received is Incomplete, including the longest one.
#[test]
fn partial_fixed_header_is_incomplete() {
    for prefix in [
        &[][..],
        &[0x30],                   // PUBLISH, no remaining length yet
        &[0x30, 0x80],             // remaining length, first of two or more bytes
        &[0x30, 0x80, 0x80],       // ... of three or more
        &[0x30, 0xFF, 0xFF, 0xFF], // ... of four
    ] {
        let mut buf = BytesMut::from(prefix);
        assert_eq!(
            Decoder::new(ProtocolVersion::V5_0).decode(&mut buf),
            Ok(Decoded::Incomplete),
            "{prefix:02X?}"
        );
        assert_eq!(&buf[..], prefix);
    }
}
