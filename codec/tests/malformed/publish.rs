//! PUBLISH (3.3): QoS 3, DUP on QoS 0, topic names with wildcards or empty, packet identifier
//! 0, and bodies cut short, including a topic length that points past the packet into the next
//! one and the 13-byte QoS 1 PUBLISH that ends where its packet identifier should start.

use mqtt_codec::{Error, PacketType, TopicError};

use super::{Case, V5, V311, case};

pub(super) fn cases() -> Vec<Case> {
    vec![
        case(
            "publish_qos_3",
            V311,
            &[
                0x36, 0x07, // PUBLISH, DUP 0, QoS 3, RETAIN 0; remaining length 7
                0x00, 0x03, b'a', b'/', b'b', // topic name "a/b"
                0x00, 0x01, // packet identifier 1
            ],
            Error::PublishQoS3,
        ),
        case(
            "publish_qos_3_with_dup_and_retain",
            V5,
            &[
                0x3F, 0x06, // PUBLISH, DUP 1, QoS 3, RETAIN 1; remaining length 6
                0x00, 0x01, b'a', // topic name "a"
                0x00, 0x01, // packet identifier 1
                0x00, // property length 0
            ],
            Error::PublishQoS3,
        ),
        case(
            "publish_dup_on_qos_0",
            V5,
            &[
                0x38, 0x04, // PUBLISH, DUP 1, QoS 0, RETAIN 0; remaining length 4
                0x00, 0x01, b'a', // topic name "a"
                0x00, // property length 0
            ],
            Error::DupOnQoS0,
        ),
        case(
            "publish_topic_with_single_level_wildcard",
            V311,
            &[
                0x30, 0x05, // PUBLISH QoS 0; remaining length 5
                0x00, 0x03, b'a', b'/', b'+', // topic name "a/+"
            ],
            Error::InvalidTopicName(TopicError::Wildcard),
        ),
        case(
            "publish_topic_with_multi_level_wildcard",
            V5,
            &[
                0x32, 0x08, // PUBLISH QoS 1; remaining length 8
                0x00, 0x03, b'a', b'/', b'#', // topic name "a/#"
                0x00, 0x01, // packet identifier 1
                0x00, // property length 0
            ],
            Error::InvalidTopicName(TopicError::Wildcard),
        ),
        case(
            "publish_topic_with_wildcard_inside_a_level",
            V311,
            &[
                0x30, 0x05, // PUBLISH QoS 0; remaining length 5
                0x00, 0x03, b'a', b'+', b'b', // topic name "a+b"
            ],
            Error::InvalidTopicName(TopicError::Wildcard),
        ),
        case(
            "publish_empty_topic_3_1_1",
            V311,
            &[
                0x30, 0x02, // PUBLISH QoS 0; remaining length 2
                0x00, 0x00, // topic name ""
            ],
            Error::InvalidTopicName(TopicError::Empty),
        ),
        case(
            "publish_empty_topic_without_topic_alias",
            V5,
            &[
                0x30, 0x08, // PUBLISH QoS 0; remaining length 8
                0x00, 0x00, // topic name ""
                0x05, // property length 5
                0x02, 0x00, 0x00, 0x00, 0x0A, // Message Expiry Interval 10, no Topic Alias
            ],
            Error::EmptyTopicWithoutAlias,
        ),
        case(
            "publish_qos_1_packet_identifier_0",
            V311,
            &[
                0x32, 0x05, // PUBLISH QoS 1; remaining length 5
                0x00, 0x01, b'a', // topic name "a"
                0x00, 0x00, // packet identifier 0
            ],
            Error::ZeroPacketId {
                packet_type: PacketType::Publish,
            },
        ),
        case(
            "publish_qos_2_packet_identifier_0",
            V5,
            &[
                0x34, 0x06, // PUBLISH QoS 2; remaining length 6
                0x00, 0x01, b'a', // topic name "a"
                0x00, 0x00, // packet identifier 0
                0x00, // property length 0
            ],
            Error::ZeroPacketId {
                packet_type: PacketType::Publish,
            },
        ),
        case(
            "publish_topic_length_runs_into_the_next_packet",
            V311,
            &[
                0x30, 0x03, // PUBLISH QoS 0; remaining length 3
                0x00, 0x05, b'a', // topic name: 5 bytes announced, 1 left in the packet
            ],
            Error::UnexpectedEof {
                field: "topic name",
            },
        )
        .then(&[
            0xC0,
            0x00, // PINGREQ: would complete the topic if the decoder read past the packet
            0x00, 0x00, // more bytes after it
        ]),
        case(
            "publish_13_bytes_qos_1_without_packet_identifier",
            V311,
            &[
                0x32, 0x0B, // PUBLISH QoS 1; remaining length 11
                0x00, 0x09, b'a', b'/', b'b', b'/', b'c', b'/', b'd', b'/', b'e', // topic
            ],
            Error::UnexpectedEof {
                field: "packet identifier",
            },
        )
        .then(&[
            0x30,
            0x00, // the start of another packet, which must not be read as the identifier
        ]),
        case(
            "publish_13_bytes_qos_2_with_half_a_packet_identifier",
            V5,
            &[
                0x34, 0x0B, // PUBLISH QoS 2; remaining length 11
                0x00, 0x08, b'a', b'/', b'b', b'/', b'c', b'/', b'd',
                b'/', // topic "a/b/c/d/"
                0x00, // first byte of the packet identifier; nothing after it
            ],
            Error::UnexpectedEof {
                field: "packet identifier",
            },
        ),
        case(
            "publish_5_0_without_property_length",
            V5,
            &[
                0x30, 0x05, // PUBLISH QoS 0; remaining length 5
                0x00, 0x03, b'a', b'/', b'b', // topic name "a/b"; property length missing
            ],
            Error::UnexpectedEof {
                field: "property length",
            },
        ),
        case(
            "publish_remaining_length_1",
            V311,
            &[
                0x30, 0x01, // PUBLISH QoS 0; remaining length 1
                0x00, // half a topic length
            ],
            Error::UnexpectedEof {
                field: "topic name",
            },
        ),
        case(
            "publish_remaining_length_0",
            V5,
            &[
                0x30, 0x00, // PUBLISH QoS 0; remaining length 0
            ],
            Error::UnexpectedEof {
                field: "topic name",
            },
        ),
    ]
}
