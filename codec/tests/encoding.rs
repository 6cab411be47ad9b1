//! Encoding: it writes what it is given without validating it, so a test can send a packet the
//! spec forbids; its only errors are fields too long for their length prefix and values no
//! encoding can carry. Also the tokio-util adapter, when the `tokio` feature is on.

use mqtt_codec::bytes::{Bytes, BytesMut};
use mqtt_codec::{
    Error, Packet, PacketType, Properties, Property, PropertyId, ProtocolVersion, Publish, QoS,
    Subscribe, TopicError,
};

use crate::{decode_one, encode};

const V311: ProtocolVersion = ProtocolVersion::V3_1_1;
const V5: ProtocolVersion = ProtocolVersion::V5_0;

fn encode_err(packet: &Packet, version: ProtocolVersion) -> Error {
    let mut buf = BytesMut::new();
    packet
        .encode(version, &mut buf)
        .expect_err("encoding should fail")
}

#[test]
fn encodes_forbidden_packets_that_decoding_then_refuses() {
    let cases: Vec<(ProtocolVersion, Packet, Error)> = vec![
        (
            V311,
            Packet::Publish(Publish::new("a/+", "x")),
            Error::InvalidTopicName(TopicError::Wildcard),
        ),
        (
            V311,
            Packet::Publish(Publish {
                qos: QoS::AtLeastOnce,
                packet_id: 0,
                ..Publish::new("a", "x")
            }),
            Error::ZeroPacketId {
                packet_type: PacketType::Publish,
            },
        ),
        (
            V5,
            Packet::Publish(Publish {
                dup: true,
                ..Publish::new("a", "x")
            }),
            Error::DupOnQoS0,
        ),
        (
            V5,
            Packet::Subscribe(Subscribe::single(0, "a", QoS::AtMostOnce)),
            Error::ZeroPacketId {
                packet_type: PacketType::Subscribe,
            },
        ),
        (
            V5,
            Packet::Subscribe(Subscribe::single(1, "a/#/b", QoS::AtMostOnce)),
            Error::InvalidTopicFilter(TopicError::MisplacedMultiLevel),
        ),
        (
            V5,
            Packet::Publish(Publish {
                properties: Properties::from(vec![
                    Property::TopicAlias(1),
                    Property::TopicAlias(2),
                ]),
                ..Publish::new("a", "x")
            }),
            Error::DuplicateProperty {
                property: PropertyId::TOPIC_ALIAS,
            },
        ),
        (
            V5,
            Packet::Publish(Publish {
                properties: Properties::from(vec![Property::SessionExpiryInterval(1)]),
                ..Publish::new("a", "x")
            }),
            Error::PropertyNotAllowed {
                property: PropertyId::SESSION_EXPIRY_INTERVAL,
                context: "PUBLISH",
            },
        ),
        (
            V5,
            Packet::Publish(Publish {
                properties: Properties::from(vec![Property::SubscriptionIdentifier(0)]),
                ..Publish::new("a", "x")
            }),
            Error::PropertyOutOfRange {
                property: PropertyId::SUBSCRIPTION_IDENTIFIER,
                value: 0,
            },
        ),
    ];
    for (version, packet, error) in cases {
        let bytes = encode(&packet, version);
        assert_eq!(decode_one(version, &bytes), Err(error), "{packet:?}");
    }
}

#[test]
fn refuses_a_string_longer_than_its_length_prefix() {
    let long = "a".repeat(65_536);
    let cases = [
        (
            Packet::Publish(Publish::new(long.as_str(), "x")),
            "topic name",
        ),
        (
            Packet::Publish(Publish {
                properties: Properties::from(vec![Property::ReasonString(long.as_str().into())]),
                ..Publish::new("a", "x")
            }),
            "property string",
        ),
        (
            Packet::Publish(Publish {
                properties: Properties::from(vec![Property::UserProperty(
                    long.as_str().into(),
                    "v".into(),
                )]),
                ..Publish::new("a", "x")
            }),
            "user property name",
        ),
        (
            Packet::Publish(Publish {
                properties: Properties::from(vec![Property::CorrelationData(Bytes::from(
                    vec![0; 65_536],
                ))]),
                ..Publish::new("a", "x")
            }),
            "property binary data",
        ),
    ];
    for (packet, field) in cases {
        assert_eq!(
            encode_err(&packet, V5),
            Error::FieldTooLong { field, len: 65_536 }
        );
    }
    // 65,535 bytes is the longest a string may be, and fits.
    let longest = "a".repeat(65_535);
    let packet = Packet::Publish(Publish::new(longest.as_str(), "x"));
    assert_eq!(decode_one(V311, &encode(&packet, V311)), Ok(packet));
}

#[test]
fn refuses_a_packet_longer_than_a_remaining_length_can_say() {
    // Zeroed memory is mapped lazily, so this costs no 256 MB of writes; encoding fails
    // before it reads the payload.
    let payload = Bytes::from(vec![0u8; 268_435_455 - 3 + 1]);
    let packet = Packet::Publish(Publish::new("a", payload));
    // No size is exact for a packet that cannot be written; it must at least fail every
    // maximum-size check.
    assert!(packet.encoded_len(V311) > mqtt_codec::MAX_PACKET_SIZE);
    assert_eq!(
        encode_err(&packet, V311),
        Error::RemainingLengthTooLarge { len: 268_435_456 }
    );
}

#[test]
fn refuses_a_subscription_identifier_beyond_a_variable_byte_integer() {
    let packet = Packet::Publish(Publish {
        properties: Properties::from(vec![Property::SubscriptionIdentifier(268_435_456)]),
        ..Publish::new("a", "x")
    });
    assert_eq!(
        encode_err(&packet, V5),
        Error::PropertyOutOfRange {
            property: PropertyId::SUBSCRIPTION_IDENTIFIER,
            value: 268_435_456,
        }
    );
}

#[cfg(feature = "tokio")]
mod tokio_adapter {
    use mqtt_codec::bytes::BytesMut;
    use mqtt_codec::codec::{MqttCodec, StreamError};
    use mqtt_codec::{Error, Packet, ProtocolVersion, Publish};
    use tokio_util::codec::{Decoder as _, Encoder as _};

    #[test]
    fn frames_packets_and_reports_errors() {
        let mut codec = MqttCodec::new(ProtocolVersion::V5_0);
        let mut buf = BytesMut::new();
        let publish = Packet::Publish(Publish::new("a/b", "hi"));
        codec.encode(publish.clone(), &mut buf).expect("encodes");
        codec.encode(Packet::PingReq, &mut buf).expect("encodes");
        let whole = buf.clone();

        // Byte by byte: nothing until a packet is complete.
        let mut fed = BytesMut::new();
        let mut got = Vec::new();
        for &b in whole.iter() {
            fed.extend_from_slice(&[b]);
            if let Some(p) = codec.decode(&mut fed).expect("decodes") {
                got.push(p);
            }
        }
        assert_eq!(got, vec![publish, Packet::PingReq]);
        assert_eq!(codec.decode(&mut fed).expect("empty is fine"), None);

        let mut bad = BytesMut::from(&[0x36, 0x00][..]); // PUBLISH with QoS 3
        match codec.decode(&mut bad) {
            Err(StreamError::Packet(e)) => assert_eq!(e, Error::PublishQoS3),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn honours_the_maximum_packet_size_and_version_switch() {
        let mut codec = MqttCodec::new(ProtocolVersion::V3_1_1);
        codec.decoder_mut().set_max_packet_size(4);
        let mut buf = BytesMut::from(&[0x30, 0x03][..]); // 5 bytes announced, body not sent
        match codec.decode(&mut buf) {
            Err(StreamError::Packet(e)) => {
                assert_eq!(e, Error::PacketTooLarge { size: 5, max: 4 });
            }
            other => panic!("{other:?}"),
        }
        codec.decoder_mut().set_version(ProtocolVersion::V5_0);
        assert_eq!(codec.decoder().version(), ProtocolVersion::V5_0);
        let mut auth = BytesMut::from(&[0xF0, 0x00][..]);
        assert_eq!(
            codec.decode(&mut auth).expect("AUTH in 5.0"),
            Some(Packet::Auth(Default::default()))
        );
    }
}
