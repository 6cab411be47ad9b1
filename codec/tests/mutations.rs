//! Mutations of valid packets: decoding a packet with a byte changed, inserted or removed
//! never panics, the borrowing decoder agrees, and whatever decodes re-encodes to bytes that
//! decode to the same packet.

use mqtt_codec::bytes::BytesMut;
use mqtt_codec::{Decoded, Decoder, Packet, ProtocolVersion};
use proptest::collection::vec;
use proptest::prelude::*;

use crate::generators::any_packet;
use crate::{VERSIONS, decode_one, encode};

#[derive(Clone, Debug)]
enum Mutation {
    Set(prop::sample::Index, u8),
    Insert(prop::sample::Index, u8),
    Remove(prop::sample::Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<prop::sample::Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        1 => (any::<prop::sample::Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        1 => any::<prop::sample::Index>().prop_map(Mutation::Remove),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    if bytes.is_empty() {
        return;
    }
    match m {
        Mutation::Set(i, b) => {
            let i = i.index(bytes.len());
            bytes[i] = *b;
        }
        Mutation::Insert(i, b) => bytes.insert(i.index(bytes.len() + 1), *b),
        Mutation::Remove(i) => {
            bytes.remove(i.index(bytes.len()));
        }
    }
}

/// The version a decoded packet re-encodes under: CONNECT carries its own.
fn own_version(packet: &Packet, version: ProtocolVersion) -> ProtocolVersion {
    match packet {
        Packet::Connect(c) => c.protocol,
        _ => version,
    }
}

fn check(version: ProtocolVersion, bytes: &[u8]) -> Result<(), TestCaseError> {
    let mut buf = BytesMut::from(bytes);
    let Ok(Decoded::Packet(packet)) = Decoder::new(version).decode(&mut buf) else {
        return Ok(());
    };
    let taken = bytes.len() - buf.len();
    // decode_one checks the borrowing decoder and the buffer contract.
    prop_assert_eq!(decode_one(version, &bytes[..taken]), Ok(packet.clone()));
    let v = own_version(&packet, version);
    let again = encode(&packet, v);
    prop_assert!(again.len() <= taken, "re-encoding grew the packet");
    prop_assert_eq!(decode_one(v, &again), Ok(packet));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn mutated_packets_decode_to_packets_that_round_trip(
        (version, packet) in prop::sample::select(VERSIONS.to_vec())
            .prop_flat_map(|v| (Just(v), any_packet(v))),
        mutations in vec(mutation(), 1..4),
    ) {
        let mut bytes = encode(&packet, version);
        for m in &mutations {
            apply(&mut bytes, m);
        }
        for v in VERSIONS {
            check(v, &bytes)?;
        }
    }
}
