//! How each decoding error maps to a 5.0 reason code and to the normative statement it breaks,
//! checked against the text of the two specs (5.0 1.2 and 4.13 define Malformed Packet and
//! Protocol Error; each packet's section says which one a given fault is).

use mqtt_codec::{
    Error, ErrorKind, PacketType, PropertyId, ProtocolVersion, ReasonCode, TopicError,
};

const MALFORMED: ReasonCode = ReasonCode::MALFORMED_PACKET;
const PROTOCOL: ReasonCode = ReasonCode::PROTOCOL_ERROR;

/// (error, 5.0 reason code, statement in 3.1.1 numbering, statement in 5.0 numbering).
fn table() -> Vec<(
    Error,
    ReasonCode,
    Option<&'static str>,
    Option<&'static str>,
)> {
    let flags = |packet_type, flags| Error::InvalidFlags { packet_type, flags };
    vec![
        (Error::ReservedPacketType, MALFORMED, None, None),
        // 2.1.3: "If invalid flags are received it is a Malformed Packet."
        (
            flags(PacketType::Connect, 1),
            MALFORMED,
            Some("MQTT-2.2.2-2"),
            Some("MQTT-2.1.3-1"),
        ),
        (
            flags(PacketType::PubRel, 0),
            MALFORMED,
            Some("MQTT-3.6.1-1"),
            Some("MQTT-3.6.1-1"),
        ),
        (
            flags(PacketType::Subscribe, 0),
            MALFORMED,
            Some("MQTT-3.8.1-1"),
            Some("MQTT-3.8.1-1"),
        ),
        (
            flags(PacketType::Unsubscribe, 0),
            MALFORMED,
            Some("MQTT-3.10.1-1"),
            Some("MQTT-3.10.1-1"),
        ),
        (
            flags(PacketType::Disconnect, 1),
            MALFORMED,
            Some("MQTT-3.14.1-1"),
            Some("MQTT-3.14.1-1"),
        ),
        (
            flags(PacketType::Auth, 1),
            MALFORMED,
            Some("MQTT-2.2.2-2"),
            Some("MQTT-3.15.1-1"),
        ),
        (Error::MalformedVarInt { field: "f" }, MALFORMED, None, None),
        (
            Error::NonMinimalVarInt { field: "f" },
            MALFORMED,
            None,
            Some("MQTT-1.5.5-1"),
        ),
        // 1.5.4: ill-formed UTF-8 or U+0000 "is a Malformed Packet".
        (
            Error::InvalidUtf8 { field: "f" },
            MALFORMED,
            Some("MQTT-1.5.3-1"),
            Some("MQTT-1.5.4-1"),
        ),
        (
            Error::NullCharacter { field: "f" },
            MALFORMED,
            Some("MQTT-1.5.3-2"),
            Some("MQTT-1.5.4-2"),
        ),
        (Error::UnexpectedEof { field: "f" }, MALFORMED, None, None),
        (
            Error::TrailingBytes {
                packet_type: PacketType::PingReq,
                count: 1,
            },
            MALFORMED,
            None,
            None,
        ),
        (
            Error::ZeroPacketId {
                packet_type: PacketType::Publish,
            },
            PROTOCOL,
            Some("MQTT-2.3.1-1"),
            Some("MQTT-2.2.1-3"),
        ),
        // 3.3.1.2: both QoS bits set "is a Malformed Packet".
        (
            Error::PublishQoS3,
            MALFORMED,
            Some("MQTT-3.3.1-4"),
            Some("MQTT-3.3.1-4"),
        ),
        (
            Error::DupOnQoS0,
            MALFORMED,
            Some("MQTT-3.3.1-2"),
            Some("MQTT-3.3.1-2"),
        ),
        // 3.1.2.1 and 3.1.2.2: the server may answer CONNACK 0x84 Unsupported Protocol Version.
        (
            Error::InvalidProtocolName,
            ReasonCode::UNSUPPORTED_PROTOCOL_VERSION,
            Some("MQTT-3.1.2-1"),
            Some("MQTT-3.1.2-1"),
        ),
        (
            Error::UnsupportedProtocolLevel { level: 6 },
            ReasonCode::UNSUPPORTED_PROTOCOL_VERSION,
            Some("MQTT-3.1.2-2"),
            Some("MQTT-3.1.2-2"),
        ),
        // 3.1.2.3: "If the reserved flag is not 0 it is a Malformed Packet."
        (
            Error::ConnectReservedFlag,
            MALFORMED,
            Some("MQTT-3.1.2-3"),
            Some("MQTT-3.1.2-3"),
        ),
        // 3.1.2.6: "A value of 3 (0x03) is a Malformed Packet."
        (
            Error::WillQoS3,
            MALFORMED,
            Some("MQTT-3.1.2-14"),
            Some("MQTT-3.1.2-12"),
        ),
        (
            Error::WillFlagsWithoutWill,
            MALFORMED,
            Some("MQTT-3.1.2-11"),
            Some("MQTT-3.1.2-11"),
        ),
        (
            Error::PasswordWithoutUsername,
            MALFORMED,
            Some("MQTT-3.1.2-22"),
            None,
        ),
        // 3.8.3 and 3.10.3: a SUBSCRIBE or UNSUBSCRIBE "with no Payload is a Protocol Error".
        (
            Error::NoTopicFilters {
                packet_type: PacketType::Subscribe,
            },
            PROTOCOL,
            Some("MQTT-3.8.3-3"),
            Some("MQTT-3.8.3-2"),
        ),
        (
            Error::NoTopicFilters {
                packet_type: PacketType::Unsubscribe,
            },
            PROTOCOL,
            Some("MQTT-3.10.3-2"),
            Some("MQTT-3.10.3-2"),
        ),
        // 3.8.3.1: non-zero reserved bits: "treat as malformed" (MQTT-3.8.3-5).
        (
            Error::SubscriptionOptionsReserved { options: 0x40 },
            MALFORMED,
            Some("MQTT-3.8.3-4"),
            Some("MQTT-3.8.3-5"),
        ),
        // 3.8.3.1: "It is a Protocol Error if the Maximum QoS field has the value 3."
        (
            Error::SubscriptionQoS3,
            PROTOCOL,
            Some("MQTT-3.8.3-4"),
            None,
        ),
        // 3.8.3.1: "It is a Protocol Error to send a Retain Handling value of 3."
        (Error::RetainHandling3, PROTOCOL, None, None),
        (
            Error::NoLocalOnSharedSubscription,
            PROTOCOL,
            None,
            Some("MQTT-3.8.3-4"),
        ),
        (
            Error::InvalidTopicName(TopicError::Wildcard),
            ReasonCode::TOPIC_NAME_INVALID,
            Some("MQTT-3.3.2-2"),
            Some("MQTT-3.3.2-2"),
        ),
        (
            Error::InvalidTopicName(TopicError::Empty),
            ReasonCode::TOPIC_NAME_INVALID,
            Some("MQTT-4.7.3-1"),
            Some("MQTT-4.7.3-1"),
        ),
        (
            Error::EmptyTopicWithoutAlias,
            PROTOCOL,
            Some("MQTT-4.7.3-1"),
            Some("MQTT-4.7.3-1"),
        ),
        (
            Error::InvalidTopicFilter(TopicError::MisplacedMultiLevel),
            MALFORMED,
            Some("MQTT-4.7.1-2"),
            Some("MQTT-4.7.1-1"),
        ),
        (
            Error::InvalidTopicFilter(TopicError::MisplacedSingleLevel),
            MALFORMED,
            Some("MQTT-4.7.1-3"),
            Some("MQTT-4.7.1-2"),
        ),
        (
            Error::InvalidTopicFilter(TopicError::Empty),
            MALFORMED,
            Some("MQTT-4.7.3-1"),
            Some("MQTT-4.7.3-1"),
        ),
        // 2.2.2.2: an identifier not valid for the packet type "is a Malformed Packet".
        (Error::UnknownProperty { id: 0 }, MALFORMED, None, None),
        (
            Error::PropertyNotAllowed {
                property: PropertyId::TOPIC_ALIAS,
                context: "CONNECT",
            },
            MALFORMED,
            None,
            None,
        ),
        // 2.2.2.2: "It is a Protocol Error to include the same property more than once."
        (
            Error::DuplicateProperty {
                property: PropertyId::REASON_STRING,
            },
            PROTOCOL,
            None,
            None,
        ),
        // Receive Maximum 0, Maximum Packet Size 0, a flag above 1: "is a Protocol Error".
        (
            Error::PropertyOutOfRange {
                property: PropertyId::RECEIVE_MAXIMUM,
                value: 0,
            },
            PROTOCOL,
            None,
            None,
        ),
        // 3.1.2.11.10: "It is a Protocol Error to include Authentication Data if there is no
        // Authentication Method".
        (Error::AuthenticationDataWithoutMethod, PROTOCOL, None, None),
        // 3.3.2.3.4: Topic Alias 0 is answered with 0x94 Topic Alias invalid.
        (
            Error::PropertyOutOfRange {
                property: PropertyId::TOPIC_ALIAS,
                value: 0,
            },
            ReasonCode::TOPIC_ALIAS_INVALID,
            Some("MQTT-3.3.2-8"),
            Some("MQTT-3.3.2-8"),
        ),
        (
            Error::InvalidReasonCode {
                packet_type: PacketType::PubAck,
                code: 1,
            },
            MALFORMED,
            None,
            None,
        ),
        (
            Error::ConnAckReservedFlags { flags: 2 },
            MALFORMED,
            None,
            Some("MQTT-3.2.2-1"),
        ),
        // 3.2.2.3.6 / 3.1.2.11.4: over the Maximum Packet Size is answered with 0x95.
        (
            Error::PacketTooLarge { size: 10, max: 5 },
            ReasonCode::PACKET_TOO_LARGE,
            None,
            None,
        ),
        (
            Error::PacketTypeNotInVersion {
                packet_type: PacketType::Auth,
                version: ProtocolVersion::V3_1_1,
            },
            PROTOCOL,
            None,
            None,
        ),
    ]
}

#[test]
fn errors_map_to_the_reason_codes_and_statements_of_the_specs() {
    let mut wrong = Vec::new();
    for (error, code, v3, v5) in table() {
        let got = (
            error.reason_code(),
            error.statement(ProtocolVersion::V3_1_1),
            error.statement(ProtocolVersion::V5_0),
        );
        if got != (code, v3, v5) {
            wrong.push(format!(
                "{error:?}: expected {code:?} {v3:?} {v5:?}, got {:?} {:?} {:?}",
                got.0, got.1, got.2
            ));
        }
        // 3.1 has the numbering of 3.1.1 for every statement the codec cites.
        assert_eq!(
            error.statement(ProtocolVersion::V3_1),
            v3,
            "{error:?} under 3.1"
        );
        let kind = if code == MALFORMED {
            ErrorKind::Malformed
        } else {
            ErrorKind::ProtocolError
        };
        assert_eq!(error.kind(), kind, "{error:?}");
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
