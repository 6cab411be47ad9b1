//! SUBSCRIBE and UNSUBSCRIBE (3.8, 3.10): packet identifier 0, no filters, subscription options
//! (reserved bits differ between 3.1.1 and 5.0, QoS 3, Retain Handling 3, No Local on a shared
//! subscription) and malformed topic filters.

use mqtt_codec::{Error, PacketType, TopicError};

use super::{Case, V5, V311, case};

pub(super) fn cases() -> Vec<Case> {
    vec![
        case(
            "subscribe_packet_identifier_0",
            V311,
            &[
                0x82, 0x06, // SUBSCRIBE, flags 0010; remaining length 6
                0x00, 0x00, // packet identifier 0
                0x00, 0x01, b'a', // topic filter "a"
                0x01, // options: QoS 1
            ],
            Error::ZeroPacketId {
                packet_type: PacketType::Subscribe,
            },
        ),
        case(
            "subscribe_without_filters_3_1_1",
            V311,
            &[
                0x82, 0x02, // SUBSCRIBE, flags 0010; remaining length 2
                0x00, 0x0A, // packet identifier 10; no payload
            ],
            Error::NoTopicFilters {
                packet_type: PacketType::Subscribe,
            },
        ),
        case(
            "subscribe_without_filters_5_0",
            V5,
            &[
                0x82, 0x03, // SUBSCRIBE, flags 0010; remaining length 3
                0x00, 0x0A, // packet identifier 10
                0x00, // property length 0; no payload
            ],
            Error::NoTopicFilters {
                packet_type: PacketType::Subscribe,
            },
        ),
        case(
            "subscribe_no_local_bit_is_reserved_in_3_1_1",
            V311,
            &[
                0x82, 0x06, // SUBSCRIBE, flags 0010; remaining length 6
                0x00, 0x0A, // packet identifier 10
                0x00, 0x01, b'a', // topic filter "a"
                0x04, // options: bit 2 (No Local in 5.0) set
            ],
            Error::SubscriptionOptionsReserved { options: 0x04 },
        ),
        case(
            "subscribe_retain_handling_bits_are_reserved_in_3_1_1",
            V311,
            &[
                0x82, 0x06, // SUBSCRIBE, flags 0010; remaining length 6
                0x00, 0x0A, // packet identifier 10
                0x00, 0x01, b'a', // topic filter "a"
                0x11, // options: bit 4 (Retain Handling in 5.0) set, QoS 1
            ],
            Error::SubscriptionOptionsReserved { options: 0x11 },
        ),
        case(
            "subscribe_reserved_bit_7_in_3_1_1",
            V311,
            &[
                0x82, 0x06, // SUBSCRIBE, flags 0010; remaining length 6
                0x00, 0x0A, // packet identifier 10
                0x00, 0x01, b'a', // topic filter "a"
                0x80, // options: reserved bit 7 set
            ],
            Error::SubscriptionOptionsReserved { options: 0x80 },
        ),
        case(
            "subscribe_reserved_bit_6_in_5_0",
            V5,
            &[
                0x82, 0x07, // SUBSCRIBE, flags 0010; remaining length 7
                0x00, 0x0A, // packet identifier 10
                0x00, // property length 0
                0x00, 0x01, b'a', // topic filter "a"
                0x40, // options: reserved bit 6 set
            ],
            Error::SubscriptionOptionsReserved { options: 0x40 },
        ),
        case(
            "subscribe_reserved_bits_in_the_second_filter",
            V5,
            &[
                0x82, 0x0B, // SUBSCRIBE, flags 0010; remaining length 11
                0x00, 0x0A, // packet identifier 10
                0x00, // property length 0
                0x00, 0x01, b'a', // topic filter "a"
                0x01, // options: QoS 1
                0x00, 0x01, b'b', // topic filter "b"
                0xC2, // options: reserved bits 7 and 6 set, QoS 2
            ],
            Error::SubscriptionOptionsReserved { options: 0xC2 },
        ),
        case(
            "subscribe_qos_3_in_3_1_1",
            V311,
            &[
                0x82, 0x06, // SUBSCRIBE, flags 0010; remaining length 6
                0x00, 0x0A, // packet identifier 10
                0x00, 0x01, b'a', // topic filter "a"
                0x03, // options: QoS 3
            ],
            Error::SubscriptionQoS3,
        ),
        case(
            "subscribe_qos_3_in_5_0",
            V5,
            &[
                0x82, 0x07, // SUBSCRIBE, flags 0010; remaining length 7
                0x00, 0x0A, // packet identifier 10
                0x00, // property length 0
                0x00, 0x01, b'a', // topic filter "a"
                0x0F, // options: Retain As Published, No Local, QoS 3
            ],
            Error::SubscriptionQoS3,
        ),
        case(
            "subscribe_retain_handling_3",
            V5,
            &[
                0x82, 0x07, // SUBSCRIBE, flags 0010; remaining length 7
                0x00, 0x0A, // packet identifier 10
                0x00, // property length 0
                0x00, 0x01, b'a', // topic filter "a"
                0x31, // options: Retain Handling 3, QoS 1
            ],
            Error::RetainHandling3,
        ),
        case(
            "subscribe_no_local_on_a_shared_subscription",
            V5,
            &[
                0x82, 0x10, // SUBSCRIBE, flags 0010; remaining length 16
                0x00, 0x0A, // packet identifier 10
                0x00, // property length 0
                0x00, 0x0A, b'$', b's', b'h', b'a', b'r', b'e', b'/', b'g', b'/',
                b'a', // filter
                0x04, // options: No Local, QoS 0
            ],
            Error::NoLocalOnSharedSubscription,
        ),
        case(
            "subscribe_multi_level_wildcard_not_last",
            V311,
            &[
                0x82, 0x0A, // SUBSCRIBE, flags 0010; remaining length 10
                0x00, 0x0A, // packet identifier 10
                0x00, 0x05, b'a', b'/', b'#', b'/', b'b', // topic filter "a/#/b"
                0x00, // options: QoS 0
            ],
            Error::InvalidTopicFilter(TopicError::MisplacedMultiLevel),
        ),
        case(
            "subscribe_multi_level_wildcard_inside_a_level",
            V5,
            &[
                0x82, 0x0A, // SUBSCRIBE, flags 0010; remaining length 10
                0x00, 0x0A, // packet identifier 10
                0x00, // property length 0
                0x00, 0x04, b'a', b'/', b'b', b'#', // topic filter "a/b#"
                0x00, // options: QoS 0
            ],
            Error::InvalidTopicFilter(TopicError::MisplacedMultiLevel),
        ),
        case(
            "subscribe_single_level_wildcard_inside_a_level",
            V311,
            &[
                0x82, 0x09, // SUBSCRIBE, flags 0010; remaining length 9
                0x00, 0x0A, // packet identifier 10
                0x00, 0x04, b'a', b'/', b'+', b'x', // topic filter "a/+x"
                0x00, // options: QoS 0
            ],
            Error::InvalidTopicFilter(TopicError::MisplacedSingleLevel),
        ),
        case(
            "subscribe_empty_topic_filter",
            V5,
            &[
                0x82, 0x06, // SUBSCRIBE, flags 0010; remaining length 6
                0x00, 0x0A, // packet identifier 10
                0x00, // property length 0
                0x00, 0x00, // topic filter ""
                0x01, // options: QoS 1
            ],
            Error::InvalidTopicFilter(TopicError::Empty),
        ),
        case(
            "subscribe_shared_subscription_without_filter",
            V5,
            &[
                0x82, 0x0E, // SUBSCRIBE, flags 0010; remaining length 14
                0x00, 0x0A, // packet identifier 10
                0x00, // property length 0
                0x00, 0x08, b'$', b's', b'h', b'a', b'r', b'e', b'/', b'g', // "$share/g"
                0x00, // options: QoS 0
            ],
            Error::InvalidTopicFilter(TopicError::InvalidShare),
        ),
        case(
            "subscribe_options_byte_missing",
            V311,
            &[
                0x82, 0x05, // SUBSCRIBE, flags 0010; remaining length 5
                0x00, 0x0A, // packet identifier 10
                0x00, 0x01, b'a', // topic filter "a"; the options byte should follow
            ],
            Error::UnexpectedEof {
                field: "subscription options",
            },
        ),
        case(
            "subscribe_topic_filter_runs_past_the_packet",
            V311,
            &[
                0x82, 0x05, // SUBSCRIBE, flags 0010; remaining length 5
                0x00, 0x0A, // packet identifier 10
                0x00, 0x04, b'a', // topic filter: 4 bytes announced, 1 present
            ],
            Error::UnexpectedEof {
                field: "topic filter",
            },
        ),
        case(
            "unsubscribe_packet_identifier_0",
            V311,
            &[
                0xA2, 0x05, // UNSUBSCRIBE, flags 0010; remaining length 5
                0x00, 0x00, // packet identifier 0
                0x00, 0x01, b'a', // topic filter "a"
            ],
            Error::ZeroPacketId {
                packet_type: PacketType::Unsubscribe,
            },
        ),
        case(
            "unsubscribe_without_filters_3_1_1",
            V311,
            &[
                0xA2, 0x02, // UNSUBSCRIBE, flags 0010; remaining length 2
                0x00, 0x0B, // packet identifier 11; no payload
            ],
            Error::NoTopicFilters {
                packet_type: PacketType::Unsubscribe,
            },
        ),
        case(
            "unsubscribe_without_filters_5_0",
            V5,
            &[
                0xA2, 0x03, // UNSUBSCRIBE, flags 0010; remaining length 3
                0x00, 0x0B, // packet identifier 11
                0x00, // property length 0; no payload
            ],
            Error::NoTopicFilters {
                packet_type: PacketType::Unsubscribe,
            },
        ),
        case(
            "unsubscribe_multi_level_wildcard_first",
            V5,
            &[
                0xA2, 0x08, // UNSUBSCRIBE, flags 0010; remaining length 8
                0x00, 0x0B, // packet identifier 11
                0x00, // property length 0
                0x00, 0x03, b'#', b'/', b'a', // topic filter "#/a"
            ],
            Error::InvalidTopicFilter(TopicError::MisplacedMultiLevel),
        ),
    ]
}
