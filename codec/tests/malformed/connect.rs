//! CONNECT (3.1): protocol name and level, the connect flags, the will, and fields that run past
//! the end. CONNECT properties are in `properties.rs`.

use mqtt_codec::{Error, PacketType, TopicError};

use super::{Case, V5, V31, V311, case};

pub(super) fn cases() -> Vec<Case> {
    vec![
        case(
            "connect_protocol_name_mqtx",
            V311,
            &[
                0x10, 0x0D, // CONNECT; remaining length 13
                0x00, 0x04, b'M', b'Q', b'T', b'X', // protocol name "MQTX"
                0x04, // protocol level 4
                0x02, // flags: clean session
                0x00, 0x3C, // keep alive 60
                0x00, 0x01, b'c', // client identifier "c"
            ],
            Error::InvalidProtocolName,
        ),
        case(
            "connect_protocol_name_lower_case",
            V5,
            &[
                0x10, 0x0E, // CONNECT; remaining length 14
                0x00, 0x04, b'm', b'q', b't', b't', // protocol name "mqtt"
                0x05, // protocol level 5
                0x02, // flags: clean start
                0x00, 0x3C, // keep alive 60
                0x00, // property length 0
                0x00, 0x01, b'c', // client identifier "c"
            ],
            Error::InvalidProtocolName,
        ),
        case(
            "connect_protocol_name_runs_past_the_packet",
            V311,
            &[
                0x10, 0x04, // CONNECT; remaining length 4
                0x00, 0x04, b'M', b'Q', // protocol name: 4 bytes announced, 2 present
            ],
            Error::UnexpectedEof {
                field: "protocol name",
            },
        ),
        case(
            "connect_protocol_level_6",
            V311,
            &[
                0x10, 0x0D, // CONNECT; remaining length 13
                0x00, 0x04, b'M', b'Q', b'T', b'T', // protocol name "MQTT"
                0x06, // protocol level 6
                0x02, // flags: clean session
                0x00, 0x3C, // keep alive 60
                0x00, 0x01, b'c', // client identifier "c"
            ],
            Error::UnsupportedProtocolLevel { level: 6 },
        ),
        case(
            "connect_mqtt_name_with_level_3",
            V311,
            &[
                0x10, 0x0D, // CONNECT; remaining length 13
                0x00, 0x04, b'M', b'Q', b'T', b'T', // protocol name "MQTT" (3.1 uses MQIsdp)
                0x03, // protocol level 3
                0x02, // flags: clean session
                0x00, 0x3C, // keep alive 60
                0x00, 0x01, b'c', // client identifier "c"
            ],
            Error::UnsupportedProtocolLevel { level: 3 },
        ),
        case(
            "connect_mqisdp_name_with_level_4",
            V31,
            &[
                0x10, 0x0F, // CONNECT; remaining length 15
                0x00, 0x06, b'M', b'Q', b'I', b's', b'd', b'p', // protocol name "MQIsdp"
                0x04, // protocol level 4 (MQIsdp is level 3 only)
                0x02, // flags: clean session
                0x00, 0x3C, // keep alive 60
                0x00, 0x01, b'c', // client identifier "c"
            ],
            Error::UnsupportedProtocolLevel { level: 4 },
        ),
        case(
            "connect_reserved_flag",
            V311,
            &[
                0x10, 0x0D, // CONNECT; remaining length 13
                0x00, 0x04, b'M', b'Q', b'T', b'T', // protocol name "MQTT"
                0x04, // protocol level 4
                0x03, // flags: clean session, reserved bit 0 set
                0x00, 0x3C, // keep alive 60
                0x00, 0x01, b'c', // client identifier "c"
            ],
            Error::ConnectReservedFlag,
        ),
        case(
            "connect_reserved_flag_5_0",
            V5,
            &[
                0x10, 0x0E, // CONNECT; remaining length 14
                0x00, 0x04, b'M', b'Q', b'T', b'T', // protocol name "MQTT"
                0x05, // protocol level 5
                0x01, // flags: reserved bit 0 set
                0x00, 0x3C, // keep alive 60
                0x00, // property length 0
                0x00, 0x01, b'c', // client identifier "c"
            ],
            Error::ConnectReservedFlag,
        ),
        case(
            "connect_will_qos_3",
            V311,
            &[
                0x10, 0x12, // CONNECT; remaining length 18
                0x00, 0x04, b'M', b'Q', b'T', b'T', // protocol name "MQTT"
                0x04, // protocol level 4
                0x1E, // flags: will QoS 3, will, clean session
                0x00, 0x3C, // keep alive 60
                0x00, 0x01, b'c', // client identifier "c"
                0x00, 0x01, b'w', // will topic "w"
                0x00, 0x00, // will payload, empty
            ],
            Error::WillQoS3,
        ),
        case(
            "connect_will_qos_1_without_will_flag",
            V311,
            &[
                0x10, 0x0D, // CONNECT; remaining length 13
                0x00, 0x04, b'M', b'Q', b'T', b'T', // protocol name "MQTT"
                0x04, // protocol level 4
                0x0A, // flags: will QoS 1, no will, clean session
                0x00, 0x3C, // keep alive 60
                0x00, 0x01, b'c', // client identifier "c"
            ],
            Error::WillFlagsWithoutWill,
        ),
        case(
            "connect_will_retain_without_will_flag",
            V5,
            &[
                0x10, 0x0E, // CONNECT; remaining length 14
                0x00, 0x04, b'M', b'Q', b'T', b'T', // protocol name "MQTT"
                0x05, // protocol level 5
                0x22, // flags: will retain, no will, clean start
                0x00, 0x3C, // keep alive 60
                0x00, // property length 0
                0x00, 0x01, b'c', // client identifier "c"
            ],
            Error::WillFlagsWithoutWill,
        ),
        case(
            "connect_will_qos_3_without_will_flag",
            V5,
            &[
                0x10, 0x0E, // CONNECT; remaining length 14
                0x00, 0x04, b'M', b'Q', b'T', b'T', // protocol name "MQTT"
                0x05, // protocol level 5
                0x1A, // flags: will QoS 3, no will, clean start
                0x00, 0x3C, // keep alive 60
                0x00, // property length 0
                0x00, 0x01, b'c', // client identifier "c"
            ],
            Error::WillQoS3,
        ),
        case(
            "connect_password_without_user_name_3_1_1",
            V311,
            &[
                0x10, 0x10, // CONNECT; remaining length 16
                0x00, 0x04, b'M', b'Q', b'T', b'T', // protocol name "MQTT"
                0x04, // protocol level 4
                0x42, // flags: password, clean session
                0x00, 0x3C, // keep alive 60
                0x00, 0x01, b'c', // client identifier "c"
                0x00, 0x01, b'p', // password "p"
            ],
            Error::PasswordWithoutUsername,
        ),
        case(
            "connect_password_without_user_name_3_1",
            V31,
            &[
                0x10, 0x12, // CONNECT; remaining length 18
                0x00, 0x06, b'M', b'Q', b'I', b's', b'd', b'p', // protocol name "MQIsdp"
                0x03, // protocol level 3
                0x42, // flags: password, clean session
                0x00, 0x3C, // keep alive 60
                0x00, 0x01, b'c', // client identifier "c"
                0x00, 0x01, b'p', // password "p"
            ],
            Error::PasswordWithoutUsername,
        ),
        case(
            "connect_will_topic_with_wildcard",
            V311,
            &[
                0x10, 0x14, // CONNECT; remaining length 20
                0x00, 0x04, b'M', b'Q', b'T', b'T', // protocol name "MQTT"
                0x04, // protocol level 4
                0x06, // flags: will (QoS 0), clean session
                0x00, 0x3C, // keep alive 60
                0x00, 0x01, b'c', // client identifier "c"
                0x00, 0x03, b'a', b'/', b'#', // will topic "a/#"
                0x00, 0x00, // will payload, empty
            ],
            Error::InvalidTopicName(TopicError::Wildcard),
        ),
        case(
            "connect_will_topic_empty",
            V5,
            &[
                0x10, 0x13, // CONNECT; remaining length 19
                0x00, 0x04, b'M', b'Q', b'T', b'T', // protocol name "MQTT"
                0x05, // protocol level 5
                0x0E, // flags: will QoS 1, will, clean start
                0x00, 0x3C, // keep alive 60
                0x00, // property length 0
                0x00, 0x01, b'c', // client identifier "c"
                0x00, // will property length 0
                0x00, 0x00, // will topic ""
                0x00, 0x00, // will payload, empty
            ],
            Error::InvalidTopicName(TopicError::Empty),
        ),
        case(
            "connect_will_payload_missing",
            V311,
            &[
                0x10, 0x10, // CONNECT; remaining length 16
                0x00, 0x04, b'M', b'Q', b'T', b'T', // protocol name "MQTT"
                0x04, // protocol level 4
                0x06, // flags: will (QoS 0), clean session
                0x00, 0x3C, // keep alive 60
                0x00, 0x01, b'c', // client identifier "c"
                0x00, 0x01, b'w', // will topic "w"; the will payload should follow
            ],
            Error::UnexpectedEof {
                field: "will payload",
            },
        ),
        case(
            "connect_user_name_flag_without_user_name",
            V311,
            &[
                0x10, 0x0D, // CONNECT; remaining length 13
                0x00, 0x04, b'M', b'Q', b'T', b'T', // protocol name "MQTT"
                0x04, // protocol level 4
                0x82, // flags: user name, clean session
                0x00, 0x3C, // keep alive 60
                0x00, 0x01, b'c', // client identifier "c"; the user name should follow
            ],
            Error::UnexpectedEof { field: "user name" },
        ),
        case(
            "connect_client_identifier_runs_past_the_packet",
            V311,
            &[
                0x10, 0x0D, // CONNECT; remaining length 13
                0x00, 0x04, b'M', b'Q', b'T', b'T', // protocol name "MQTT"
                0x04, // protocol level 4
                0x02, // flags: clean session
                0x00, 0x3C, // keep alive 60
                0x00, 0x05, b'c', // client identifier: 5 bytes announced, 1 present
            ],
            Error::UnexpectedEof {
                field: "client identifier",
            },
        ),
        case(
            "connect_keep_alive_missing",
            V311,
            &[
                0x10, 0x08, // CONNECT; remaining length 8
                0x00, 0x04, b'M', b'Q', b'T', b'T', // protocol name "MQTT"
                0x04, // protocol level 4
                0x02, // flags: clean session; keep alive should follow
            ],
            Error::UnexpectedEof {
                field: "keep alive",
            },
        ),
        case(
            "connect_trailing_byte",
            V311,
            &[
                0x10, 0x0E, // CONNECT; remaining length 14
                0x00, 0x04, b'M', b'Q', b'T', b'T', // protocol name "MQTT"
                0x04, // protocol level 4
                0x02, // flags: clean session
                0x00, 0x3C, // keep alive 60
                0x00, 0x01, b'c', // client identifier "c"
                0xFF, // one byte too many
            ],
            Error::TrailingBytes {
                packet_type: PacketType::Connect,
                count: 1,
            },
        ),
    ]
}
