//! The fixed header: packet type, reserved flags (3.1.1 2.2.2, 5.0 2.1.3), the remaining length
//! (at most four bytes, minimally encoded), the maximum packet size, AUTH before 5.0.

use mqtt_codec::{Error, PacketType};

use super::{Case, V5, V31, V311, case};

pub(super) fn cases() -> Vec<Case> {
    vec![
        case(
            "reserved_packet_type_0",
            V311,
            &[
                0x00, 0x00, // type 0 (reserved), flags 0000; remaining length 0
            ],
            Error::ReservedPacketType,
        ),
        case(
            "reserved_packet_type_0_with_flags",
            V5,
            &[
                0x0F, 0x00, // type 0 (reserved), flags 1111; remaining length 0
            ],
            Error::ReservedPacketType,
        ),
        case(
            "connect_flags_0010",
            V311,
            &[
                0x12, 0x00, // CONNECT, flags 0010 (must be 0000); body not needed
            ],
            Error::InvalidFlags {
                packet_type: PacketType::Connect,
                flags: 0b0010,
            },
        ),
        case(
            "connack_flags_0001",
            V5,
            &[
                0x21, 0x03, // CONNACK, flags 0001 (must be 0000); remaining length 3
                0x00, 0x00, 0x00, // acknowledge flags, reason code, property length
            ],
            Error::InvalidFlags {
                packet_type: PacketType::ConnAck,
                flags: 0b0001,
            },
        ),
        case(
            "puback_flags_0010",
            V311,
            &[
                0x42, 0x02, // PUBACK, flags 0010 (must be 0000); remaining length 2
                0x00, 0x01, // packet identifier 1
            ],
            Error::InvalidFlags {
                packet_type: PacketType::PubAck,
                flags: 0b0010,
            },
        ),
        case(
            "pubrec_flags_0001",
            V5,
            &[
                0x51, 0x02, // PUBREC, flags 0001 (must be 0000); remaining length 2
                0x00, 0x01, // packet identifier 1
            ],
            Error::InvalidFlags {
                packet_type: PacketType::PubRec,
                flags: 0b0001,
            },
        ),
        case(
            "pubrel_flags_0000",
            V311,
            &[
                0x60, 0x02, // PUBREL, flags 0000 (must be 0010); remaining length 2
                0x00, 0x01, // packet identifier 1
            ],
            Error::InvalidFlags {
                packet_type: PacketType::PubRel,
                flags: 0b0000,
            },
        ),
        case(
            "pubrel_flags_0011",
            V5,
            &[
                0x63, 0x02, // PUBREL, flags 0011 (must be 0010); remaining length 2
                0x00, 0x01, // packet identifier 1
            ],
            Error::InvalidFlags {
                packet_type: PacketType::PubRel,
                flags: 0b0011,
            },
        ),
        case(
            "pubcomp_flags_1000",
            V311,
            &[
                0x78, 0x02, // PUBCOMP, flags 1000 (must be 0000); remaining length 2
                0x00, 0x01, // packet identifier 1
            ],
            Error::InvalidFlags {
                packet_type: PacketType::PubComp,
                flags: 0b1000,
            },
        ),
        case(
            "subscribe_flags_0000",
            V311,
            &[
                0x80, 0x06, // SUBSCRIBE, flags 0000 (must be 0010); remaining length 6
                0x00, 0x01, // packet identifier 1
                0x00, 0x01, b'a', // topic filter "a"
                0x00, // options: QoS 0
            ],
            Error::InvalidFlags {
                packet_type: PacketType::Subscribe,
                flags: 0b0000,
            },
        ),
        case(
            "subscribe_flags_1010",
            V5,
            &[
                0x8A, 0x00, // SUBSCRIBE, flags 1010 (must be 0010); body not needed
            ],
            Error::InvalidFlags {
                packet_type: PacketType::Subscribe,
                flags: 0b1010,
            },
        ),
        case(
            "suback_flags_0010",
            V311,
            &[
                0x92, 0x03, // SUBACK, flags 0010 (must be 0000); remaining length 3
                0x00, 0x01, // packet identifier 1
                0x00, // granted QoS 0
            ],
            Error::InvalidFlags {
                packet_type: PacketType::SubAck,
                flags: 0b0010,
            },
        ),
        case(
            "unsubscribe_flags_0000",
            V311,
            &[
                0xA0, 0x05, // UNSUBSCRIBE, flags 0000 (must be 0010); remaining length 5
                0x00, 0x01, // packet identifier 1
                0x00, 0x01, b'a', // topic filter "a"
            ],
            Error::InvalidFlags {
                packet_type: PacketType::Unsubscribe,
                flags: 0b0000,
            },
        ),
        case(
            "unsuback_flags_0001",
            V5,
            &[
                0xB1, 0x00, // UNSUBACK, flags 0001 (must be 0000); body not needed
            ],
            Error::InvalidFlags {
                packet_type: PacketType::UnsubAck,
                flags: 0b0001,
            },
        ),
        case(
            "pingreq_flags_0001",
            V311,
            &[
                0xC1, 0x00, // PINGREQ, flags 0001 (must be 0000); remaining length 0
            ],
            Error::InvalidFlags {
                packet_type: PacketType::PingReq,
                flags: 0b0001,
            },
        ),
        case(
            "pingresp_flags_0100",
            V5,
            &[
                0xD4, 0x00, // PINGRESP, flags 0100 (must be 0000); remaining length 0
            ],
            Error::InvalidFlags {
                packet_type: PacketType::PingResp,
                flags: 0b0100,
            },
        ),
        case(
            "disconnect_flags_1111",
            V311,
            &[
                0xEF, 0x00, // DISCONNECT, flags 1111 (must be 0000); remaining length 0
            ],
            Error::InvalidFlags {
                packet_type: PacketType::Disconnect,
                flags: 0b1111,
            },
        ),
        case(
            "auth_flags_0010",
            V5,
            &[
                0xF2, 0x00, // AUTH, flags 0010 (must be 0000); remaining length 0
            ],
            Error::InvalidFlags {
                packet_type: PacketType::Auth,
                flags: 0b0010,
            },
        ),
        case(
            "remaining_length_of_five_bytes",
            V5,
            &[
                0x30, // PUBLISH QoS 0
                0xFF, 0xFF, 0xFF, 0xFF, 0x7F, // remaining length: a fifth byte
            ],
            Error::MalformedVarInt {
                field: "remaining length",
            },
        ),
        case(
            "remaining_length_four_continuation_bytes",
            V311,
            &[
                0xC0, // PINGREQ
                0x80, 0x80, 0x80, 0x80, // four bytes, each saying another follows
            ],
            Error::MalformedVarInt {
                field: "remaining length",
            },
        ),
        case(
            "remaining_length_0_in_two_bytes",
            V5,
            &[
                0xC0, // PINGREQ
                0x80, 0x00, // remaining length 0 in two bytes (minimal: 00)
            ],
            Error::NonMinimalVarInt {
                field: "remaining length",
            },
        ),
        case(
            "remaining_length_5_in_three_bytes",
            V311,
            &[
                0x30, // PUBLISH QoS 0
                0x85, 0x80, 0x00, // remaining length 5 in three bytes (minimal: 05)
                0x00, 0x03, b'a', b'/', b'b', // topic name "a/b"
            ],
            Error::NonMinimalVarInt {
                field: "remaining length",
            },
        ),
        case(
            "remaining_length_128_in_four_bytes",
            V5,
            &[
                0x30, // PUBLISH QoS 0
                0x80, 0x81, 0x80, 0x00, // remaining length 128 in four bytes (minimal: 80 01)
            ],
            Error::NonMinimalVarInt {
                field: "remaining length",
            },
        ),
        case(
            "packet_too_large_refused_before_its_body",
            V5,
            &[
                0x30, 0x11, // PUBLISH QoS 0; remaining length 17; no body sent yet
            ],
            Error::PacketTooLarge { size: 19, max: 18 },
        )
        .limit(18),
        case(
            "packet_too_large_from_a_four_byte_header",
            V311,
            &[
                0x30, // PUBLISH QoS 0
                0xFF, 0xFF, 0xFF, 0x7F, // remaining length 268,435,455; no body sent
            ],
            Error::PacketTooLarge {
                size: 268_435_460,
                max: 1024,
            },
        )
        .limit(1024),
        case(
            "auth_under_3_1_1",
            V311,
            &[
                0xF0, 0x00, // AUTH; remaining length 0
            ],
            Error::PacketTypeNotInVersion {
                packet_type: PacketType::Auth,
                version: V311,
            },
        ),
        case(
            "auth_under_3_1",
            V31,
            &[
                0xF0, 0x02, // AUTH; remaining length 2
                0x18, // Continue authentication
                0x00, // property length 0
            ],
            Error::PacketTypeNotInVersion {
                packet_type: PacketType::Auth,
                version: V31,
            },
        ),
    ]
}
