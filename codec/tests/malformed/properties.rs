//! MQTT 5.0 properties (2.2.2): unknown identifiers, properties not allowed in the packet,
//! duplicates, values out of range, the Subscription Identifier's Variable Byte Integer, and
//! property lengths that run past the packet.

use mqtt_codec::{Error, PropertyId, TopicError};

use super::{Case, V5, case};

pub(super) fn cases() -> Vec<Case> {
    vec![
        case(
            "property_identifier_0",
            V5,
            &[
                0x30, 0x06, // PUBLISH QoS 0; remaining length 6
                0x00, 0x01, b'a', // topic name "a"
                0x02, // property length 2
                0x00, 0x00, // property 0x00 (not defined), one value byte
            ],
            Error::UnknownProperty { id: 0x00 },
        ),
        case(
            "property_identifier_0x04",
            V5,
            &[
                0x30, 0x06, // PUBLISH QoS 0; remaining length 6
                0x00, 0x01, b'a', // topic name "a"
                0x02, // property length 2
                0x04, 0x00, // property 0x04 (a gap in the table), one value byte
            ],
            Error::UnknownProperty { id: 0x04 },
        ),
        case(
            "property_identifier_0x2b",
            V5,
            &[
                0x20, 0x05, // CONNACK; remaining length 5
                0x00, 0x00, // no session present, Success
                0x02, // property length 2
                0x2B, 0x01, // property 0x2B (one past the last defined), one value byte
            ],
            Error::UnknownProperty { id: 0x2B },
        ),
        case(
            "property_identifier_128_in_two_bytes",
            V5,
            &[
                0x30, 0x07, // PUBLISH QoS 0; remaining length 7
                0x00, 0x01, b'a', // topic name "a"
                0x03, // property length 3
                0x80, 0x01, 0x00, // property identifier 128 (80 01), one value byte
            ],
            Error::UnknownProperty { id: 128 },
        ),
        case(
            "property_identifier_not_minimally_encoded",
            V5,
            &[
                0x30, 0x07, // PUBLISH QoS 0; remaining length 7
                0x00, 0x01, b'a', // topic name "a"
                0x03, // property length 3
                0x81, 0x00, 0x01, // Payload Format Indicator's identifier 1 as 81 00; value 1
            ],
            Error::NonMinimalVarInt {
                field: "property identifier",
            },
        ),
        case(
            "session_expiry_interval_in_publish",
            V5,
            &[
                0x30, 0x09, // PUBLISH QoS 0; remaining length 9
                0x00, 0x01, b'a', // topic name "a"
                0x05, // property length 5
                0x11, 0x00, 0x00, 0x00, 0x0A, // Session Expiry Interval 10
            ],
            Error::PropertyNotAllowed {
                property: PropertyId::SESSION_EXPIRY_INTERVAL,
                context: "PUBLISH",
            },
        ),
        case(
            "topic_alias_in_connect",
            V5,
            &[
                0x10, 0x11, // CONNECT; remaining length 17
                0x00, 0x04, b'M', b'Q', b'T', b'T', // protocol name "MQTT"
                0x05, // protocol level 5
                0x02, // flags: clean start
                0x00, 0x3C, // keep alive 60
                0x03, // property length 3
                0x23, 0x00, 0x01, // Topic Alias 1
                0x00, 0x01, b'c', // client identifier "c"
            ],
            Error::PropertyNotAllowed {
                property: PropertyId::TOPIC_ALIAS,
                context: "CONNECT",
            },
        ),
        case(
            "will_delay_interval_in_connect_properties",
            V5,
            &[
                0x10, 0x13, // CONNECT; remaining length 19
                0x00, 0x04, b'M', b'Q', b'T', b'T', // protocol name "MQTT"
                0x05, // protocol level 5
                0x02, // flags: clean start
                0x00, 0x3C, // keep alive 60
                0x05, // property length 5
                0x18, 0x00, 0x00, 0x00, 0x05, // Will Delay Interval 5 (a will property)
                0x00, 0x01, b'c', // client identifier "c"
            ],
            Error::PropertyNotAllowed {
                property: PropertyId::WILL_DELAY_INTERVAL,
                context: "CONNECT",
            },
        ),
        case(
            "subscription_identifier_in_will_properties",
            V5,
            &[
                0x10, 0x16, // CONNECT; remaining length 22
                0x00, 0x04, b'M', b'Q', b'T', b'T', // protocol name "MQTT"
                0x05, // protocol level 5
                0x06, // flags: will (QoS 0), clean start
                0x00, 0x3C, // keep alive 60
                0x00, // property length 0
                0x00, 0x01, b'c', // client identifier "c"
                0x02, // will property length 2
                0x0B, 0x01, // Subscription Identifier 1
                0x00, 0x01, b'w', // will topic "w"
                0x00, 0x00, // will payload, empty
            ],
            Error::PropertyNotAllowed {
                property: PropertyId::SUBSCRIPTION_IDENTIFIER,
                context: "will properties",
            },
        ),
        case(
            "reason_string_in_subscribe",
            V5,
            &[
                0x82, 0x0B, // SUBSCRIBE, flags 0010; remaining length 11
                0x00, 0x0A, // packet identifier 10
                0x04, // property length 4
                0x1F, 0x00, 0x01, b'r', // Reason String "r"
                0x00, 0x01, b'a', // topic filter "a"
                0x00, // options: QoS 0
            ],
            Error::PropertyNotAllowed {
                property: PropertyId::REASON_STRING,
                context: "SUBSCRIBE",
            },
        ),
        case(
            "subscription_identifier_in_unsubscribe",
            V5,
            &[
                0xA2, 0x08, // UNSUBSCRIBE, flags 0010; remaining length 8
                0x00, 0x0B, // packet identifier 11
                0x02, // property length 2
                0x0B, 0x01, // Subscription Identifier 1
                0x00, 0x01, b'a', // topic filter "a"
            ],
            Error::PropertyNotAllowed {
                property: PropertyId::SUBSCRIPTION_IDENTIFIER,
                context: "UNSUBSCRIBE",
            },
        ),
        case(
            "server_reference_in_auth",
            V5,
            &[
                0xF0, 0x06, // AUTH; remaining length 6
                0x18, // Continue authentication
                0x04, // property length 4
                0x1C, 0x00, 0x01, b's', // Server Reference "s"
            ],
            Error::PropertyNotAllowed {
                property: PropertyId::SERVER_REFERENCE,
                context: "AUTH",
            },
        ),
        case(
            "topic_alias_twice",
            V5,
            &[
                0x30, 0x0A, // PUBLISH QoS 0; remaining length 10
                0x00, 0x01, b'a', // topic name "a"
                0x06, // property length 6
                0x23, 0x00, 0x01, // Topic Alias 1
                0x23, 0x00, 0x02, // Topic Alias 2
            ],
            Error::DuplicateProperty {
                property: PropertyId::TOPIC_ALIAS,
            },
        ),
        case(
            "subscription_identifier_twice_in_subscribe",
            V5,
            &[
                0x82, 0x0B, // SUBSCRIBE, flags 0010; remaining length 11
                0x00, 0x0A, // packet identifier 10
                0x04, // property length 4
                0x0B, 0x01, // Subscription Identifier 1
                0x0B, 0x02, // Subscription Identifier 2
                0x00, 0x01, b'a', // topic filter "a"
                0x00, // options: QoS 0
            ],
            Error::DuplicateProperty {
                property: PropertyId::SUBSCRIPTION_IDENTIFIER,
            },
        ),
        case(
            "session_expiry_interval_twice_in_connect",
            V5,
            &[
                0x10, 0x18, // CONNECT; remaining length 24
                0x00, 0x04, b'M', b'Q', b'T', b'T', // protocol name "MQTT"
                0x05, // protocol level 5
                0x02, // flags: clean start
                0x00, 0x3C, // keep alive 60
                0x0A, // property length 10
                0x11, 0x00, 0x00, 0x00, 0x0A, // Session Expiry Interval 10
                0x11, 0x00, 0x00, 0x00, 0x0A, // Session Expiry Interval 10 again
                0x00, 0x01, b'c', // client identifier "c"
            ],
            Error::DuplicateProperty {
                property: PropertyId::SESSION_EXPIRY_INTERVAL,
            },
        ),
        case(
            "reason_string_twice_in_puback",
            V5,
            &[
                0x40, 0x0C, // PUBACK; remaining length 12
                0x00, 0x01, // packet identifier 1
                0x80, // Unspecified error
                0x08, // property length 8
                0x1F, 0x00, 0x01, b'x', // Reason String "x"
                0x1F, 0x00, 0x01, b'y', // Reason String "y"
            ],
            Error::DuplicateProperty {
                property: PropertyId::REASON_STRING,
            },
        ),
        case(
            "receive_maximum_0",
            V5,
            &[
                0x10, 0x11, // CONNECT; remaining length 17
                0x00, 0x04, b'M', b'Q', b'T', b'T', // protocol name "MQTT"
                0x05, // protocol level 5
                0x02, // flags: clean start
                0x00, 0x3C, // keep alive 60
                0x03, // property length 3
                0x21, 0x00, 0x00, // Receive Maximum 0
                0x00, 0x01, b'c', // client identifier "c"
            ],
            Error::PropertyOutOfRange {
                property: PropertyId::RECEIVE_MAXIMUM,
                value: 0,
            },
        ),
        case(
            "maximum_packet_size_0",
            V5,
            &[
                0x20, 0x08, // CONNACK; remaining length 8
                0x00, 0x00, // no session present, Success
                0x05, // property length 5
                0x27, 0x00, 0x00, 0x00, 0x00, // Maximum Packet Size 0
            ],
            Error::PropertyOutOfRange {
                property: PropertyId::MAXIMUM_PACKET_SIZE,
                value: 0,
            },
        ),
        case(
            "topic_alias_0",
            V5,
            &[
                0x30, 0x07, // PUBLISH QoS 0; remaining length 7
                0x00, 0x01, b'a', // topic name "a"
                0x03, // property length 3
                0x23, 0x00, 0x00, // Topic Alias 0
            ],
            Error::PropertyOutOfRange {
                property: PropertyId::TOPIC_ALIAS,
                value: 0,
            },
        ),
        case(
            "subscription_identifier_0",
            V5,
            &[
                0x82, 0x09, // SUBSCRIBE, flags 0010; remaining length 9
                0x00, 0x0A, // packet identifier 10
                0x02, // property length 2
                0x0B, 0x00, // Subscription Identifier 0
                0x00, 0x01, b'a', // topic filter "a"
                0x00, // options: QoS 0
            ],
            Error::PropertyOutOfRange {
                property: PropertyId::SUBSCRIPTION_IDENTIFIER,
                value: 0,
            },
        ),
        case(
            "payload_format_indicator_2",
            V5,
            &[
                0x30, 0x06, // PUBLISH QoS 0; remaining length 6
                0x00, 0x01, b'a', // topic name "a"
                0x02, // property length 2
                0x01, 0x02, // Payload Format Indicator 2
            ],
            Error::PropertyOutOfRange {
                property: PropertyId::PAYLOAD_FORMAT_INDICATOR,
                value: 2,
            },
        ),
        case(
            "request_problem_information_2",
            V5,
            &[
                0x10, 0x10, // CONNECT; remaining length 16
                0x00, 0x04, b'M', b'Q', b'T', b'T', // protocol name "MQTT"
                0x05, // protocol level 5
                0x02, // flags: clean start
                0x00, 0x3C, // keep alive 60
                0x02, // property length 2
                0x17, 0x02, // Request Problem Information 2
                0x00, 0x01, b'c', // client identifier "c"
            ],
            Error::PropertyOutOfRange {
                property: PropertyId::REQUEST_PROBLEM_INFORMATION,
                value: 2,
            },
        ),
        case(
            "maximum_qos_2",
            V5,
            &[
                0x20, 0x05, // CONNACK; remaining length 5
                0x00, 0x00, // no session present, Success
                0x02, // property length 2
                0x24, 0x02, // Maximum QoS 2 (only 0 or 1 may be sent)
            ],
            Error::PropertyOutOfRange {
                property: PropertyId::MAXIMUM_QOS,
                value: 2,
            },
        ),
        case(
            "retain_available_255",
            V5,
            &[
                0x20, 0x05, // CONNACK; remaining length 5
                0x00, 0x00, // no session present, Success
                0x02, // property length 2
                0x25, 0xFF, // Retain Available 255
            ],
            Error::PropertyOutOfRange {
                property: PropertyId::RETAIN_AVAILABLE,
                value: 255,
            },
        ),
        case(
            "shared_subscription_available_2",
            V5,
            &[
                0x20, 0x05, // CONNACK; remaining length 5
                0x00, 0x00, // no session present, Success
                0x02, // property length 2
                0x2A, 0x02, // Shared Subscription Available 2
            ],
            Error::PropertyOutOfRange {
                property: PropertyId::SHARED_SUBSCRIPTION_AVAILABLE,
                value: 2,
            },
        ),
        case(
            "subscription_identifier_of_five_bytes",
            V5,
            &[
                0x82, 0x0D, // SUBSCRIBE, flags 0010; remaining length 13
                0x00, 0x0A, // packet identifier 10
                0x06, // property length 6
                0x0B, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, // Subscription Identifier: a fifth byte
                0x00, 0x01, b'a', // topic filter "a"
                0x00, // options: QoS 0
            ],
            Error::MalformedVarInt {
                field: "Subscription Identifier",
            },
        ),
        case(
            "subscription_identifier_not_minimally_encoded",
            V5,
            &[
                0x30, 0x07, // PUBLISH QoS 0; remaining length 7
                0x00, 0x01, b'a', // topic name "a"
                0x03, // property length 3
                0x0B, 0x81, 0x00, // Subscription Identifier 1 as 81 00
            ],
            Error::NonMinimalVarInt {
                field: "Subscription Identifier",
            },
        ),
        case(
            "subscription_identifier_cut_by_the_property_length",
            V5,
            &[
                0x30, 0x08, // PUBLISH QoS 0; remaining length 8
                0x00, 0x01, b'a', // topic name "a"
                0x02, // property length 2
                0x0B, 0x81, // Subscription Identifier: continuation byte, then the list ends
                0x01, 0x00, // payload, which must not be read as the rest of the integer
            ],
            Error::UnexpectedEof {
                field: "Subscription Identifier",
            },
        ),
        case(
            "property_length_runs_past_the_packet",
            V5,
            &[
                0x30, 0x06, // PUBLISH QoS 0; remaining length 6
                0x00, 0x01, b'a', // topic name "a"
                0x05, // property length 5, but only 2 bytes are left
                0x01, 0x01, // Payload Format Indicator 1
            ],
            Error::UnexpectedEof {
                field: "properties",
            },
        )
        .then(&[
            0xC0, 0x00, 0xC0, 0x00, // two PINGREQs that must not be read as properties
        ]),
        case(
            "property_length_not_minimally_encoded",
            V5,
            &[
                0x30, 0x07, // PUBLISH QoS 0; remaining length 7
                0x00, 0x01, b'a', // topic name "a"
                0x82, 0x00, // property length 2 as 82 00
                0x01, 0x01, // Payload Format Indicator 1
            ],
            Error::NonMinimalVarInt {
                field: "property length",
            },
        ),
        case(
            "property_length_of_five_bytes",
            V5,
            &[
                0x40, 0x08, // PUBACK; remaining length 8
                0x00, 0x01, // packet identifier 1
                0x80, // Unspecified error
                0xFF, 0xFF, 0xFF, 0xFF, 0x7F, // property length: a fifth byte
            ],
            Error::MalformedVarInt {
                field: "property length",
            },
        ),
        case(
            "property_value_cut_by_the_property_length",
            V5,
            &[
                0x30, 0x08, // PUBLISH QoS 0; remaining length 8
                0x00, 0x01, b'a', // topic name "a"
                0x02, // property length 2
                0x23, 0x00, // Topic Alias: one of its two bytes
                0x01, 0x02, // payload, which must not be read as the rest of the value
            ],
            Error::UnexpectedEof {
                field: "property value",
            },
        ),
        case(
            "string_property_cut_by_the_property_length",
            V5,
            &[
                0x40, 0x08, // PUBACK; remaining length 8
                0x00, 0x01, // packet identifier 1
                0x80, // Unspecified error
                0x04, // property length 4
                0x1F, 0x00, 0x05, b'x', // Reason String: 5 bytes announced, 1 present
            ],
            Error::UnexpectedEof {
                field: "Reason String",
            },
        ),
        case(
            "user_property_without_value",
            V5,
            &[
                0x30, 0x08, // PUBLISH QoS 0; remaining length 8
                0x00, 0x01, b'a', // topic name "a"
                0x04, // property length 4
                0x26, 0x00, 0x01, b'k', // User Property name "k"; the value should follow
            ],
            Error::UnexpectedEof {
                field: "user property value",
            },
        ),
        case(
            "authentication_data_without_method",
            V5,
            &[
                0x10, 0x12, // CONNECT; remaining length 18
                0x00, 0x04, b'M', b'Q', b'T', b'T', // protocol name "MQTT"
                0x05, // protocol level 5
                0x02, // flags: clean start
                0x00, 0x3C, // keep alive 60
                0x04, // property length 4
                0x16, 0x00, 0x01, b'x', // Authentication Data "x", no Authentication Method
                0x00, 0x01, b'c', // client identifier "c"
            ],
            Error::AuthenticationDataWithoutMethod,
        ),
        case(
            "response_topic_with_wildcard",
            V5,
            &[
                0x30, 0x0A, // PUBLISH QoS 0; remaining length 10
                0x00, 0x01, b'a', // topic name "a"
                0x06, // property length 6
                0x08, 0x00, 0x03, b'r', b'/', b'#', // Response Topic "r/#"
            ],
            Error::InvalidTopicName(TopicError::Wildcard),
        ),
    ]
}
