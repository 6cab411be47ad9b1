//! Round trips: every valid packet of every type, under every protocol level the type exists
//! in, encodes to bytes that decode to the same packet.
//!
//! Decoding goes through `Decoder::decode` on a `BytesMut` that holds the packet followed by a
//! PINGREQ, so the test also sees that the decoder takes exactly the packet's bytes; the size
//! `encoded_len` announces must be the size `encode` writes. `Decoder::decode_borrowed` must
//! read the same packet.

use mqtt_codec::bytes::BytesMut;
use mqtt_codec::{Borrowed, Decoded, Decoder, Packet, ProtocolVersion};
use proptest::prelude::*;

use crate::encode;
use crate::generators::{Kind, packet};

/// A PINGREQ, appended after the packet under test.
const SENTINEL: [u8; 2] = [0xC0, 0x00];

fn round_trip(packet: &Packet, version: ProtocolVersion) -> Result<(), TestCaseError> {
    let bytes = encode(packet, version);
    let mut buf = BytesMut::from(&bytes[..]);
    buf.extend_from_slice(&SENTINEL);
    let mut decoder = Decoder::new(version);
    let decoded = decoder.decode(&mut buf);
    prop_assert_eq!(decoded, Ok(Decoded::Packet(packet.clone())));
    prop_assert_eq!(
        &buf[..],
        &SENTINEL[..],
        "the decoder took more or less than the packet"
    );
    prop_assert_eq!(
        decoder.decode(&mut buf),
        Ok(Decoded::Packet(Packet::PingReq))
    );
    // The borrowing decoder reads the same packet from the same bytes.
    let borrowed = match Decoder::new(version).decode_borrowed(&bytes) {
        Ok(Borrowed::Publish(p, n)) => (Packet::Publish(p.to_owned()), n),
        Ok(Borrowed::Packet(p, n)) => (p, n),
        other => return Err(TestCaseError::fail(format!("decode_borrowed: {other:?}"))),
    };
    prop_assert_eq!(borrowed, (packet.clone(), bytes.len()));
    // Decoding is deterministic and the encoding canonical: the decoded packet re-encodes to
    // the same bytes.
    prop_assert_eq!(encode(packet, version), bytes);
    Ok(())
}

macro_rules! round_trips {
    ($($name:ident: $kind:ident, $version:ident;)*) => {
        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]
            $(
                #[test]
                fn $name(p in packet(Kind::$kind, ProtocolVersion::$version)) {
                    round_trip(&p, ProtocolVersion::$version)?;
                }
            )*
        }
    };
}

round_trips! {
    connect_round_trips_in_3_1: Connect, V3_1;
    connect_round_trips_in_3_1_1: Connect, V3_1_1;
    connect_round_trips_in_5_0: Connect, V5_0;
    connack_round_trips_in_3_1: ConnAck, V3_1;
    connack_round_trips_in_3_1_1: ConnAck, V3_1_1;
    connack_round_trips_in_5_0: ConnAck, V5_0;
    publish_round_trips_in_3_1: Publish, V3_1;
    publish_round_trips_in_3_1_1: Publish, V3_1_1;
    publish_round_trips_in_5_0: Publish, V5_0;
    puback_round_trips_in_3_1: PubAck, V3_1;
    puback_round_trips_in_3_1_1: PubAck, V3_1_1;
    puback_round_trips_in_5_0: PubAck, V5_0;
    pubrec_round_trips_in_3_1: PubRec, V3_1;
    pubrec_round_trips_in_3_1_1: PubRec, V3_1_1;
    pubrec_round_trips_in_5_0: PubRec, V5_0;
    pubrel_round_trips_in_3_1: PubRel, V3_1;
    pubrel_round_trips_in_3_1_1: PubRel, V3_1_1;
    pubrel_round_trips_in_5_0: PubRel, V5_0;
    pubcomp_round_trips_in_3_1: PubComp, V3_1;
    pubcomp_round_trips_in_3_1_1: PubComp, V3_1_1;
    pubcomp_round_trips_in_5_0: PubComp, V5_0;
    subscribe_round_trips_in_3_1: Subscribe, V3_1;
    subscribe_round_trips_in_3_1_1: Subscribe, V3_1_1;
    subscribe_round_trips_in_5_0: Subscribe, V5_0;
    suback_round_trips_in_3_1: SubAck, V3_1;
    suback_round_trips_in_3_1_1: SubAck, V3_1_1;
    suback_round_trips_in_5_0: SubAck, V5_0;
    unsubscribe_round_trips_in_3_1: Unsubscribe, V3_1;
    unsubscribe_round_trips_in_3_1_1: Unsubscribe, V3_1_1;
    unsubscribe_round_trips_in_5_0: Unsubscribe, V5_0;
    unsuback_round_trips_in_3_1: UnsubAck, V3_1;
    unsuback_round_trips_in_3_1_1: UnsubAck, V3_1_1;
    unsuback_round_trips_in_5_0: UnsubAck, V5_0;
    pingreq_round_trips_in_3_1: PingReq, V3_1;
    pingreq_round_trips_in_3_1_1: PingReq, V3_1_1;
    pingreq_round_trips_in_5_0: PingReq, V5_0;
    pingresp_round_trips_in_3_1: PingResp, V3_1;
    pingresp_round_trips_in_3_1_1: PingResp, V3_1_1;
    pingresp_round_trips_in_5_0: PingResp, V5_0;
    disconnect_round_trips_in_3_1: Disconnect, V3_1;
    disconnect_round_trips_in_3_1_1: Disconnect, V3_1_1;
    disconnect_round_trips_in_5_0: Disconnect, V5_0;
    auth_round_trips_in_5_0: Auth, V5_0;
}
