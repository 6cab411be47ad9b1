//! Acknowledgements and the small packets: packet identifier 0, reason codes a packet may not
//! carry, reserved CONNACK flags, bodies cut short and bytes left over.

use mqtt_codec::{Error, PacketType};

use super::{Case, V5, V311, case};

pub(super) fn cases() -> Vec<Case> {
    vec![
        case(
            "puback_packet_identifier_0",
            V311,
            &[
                0x40, 0x02, // PUBACK; remaining length 2
                0x00, 0x00, // packet identifier 0
            ],
            Error::ZeroPacketId {
                packet_type: PacketType::PubAck,
            },
        ),
        case(
            "pubrec_packet_identifier_0",
            V5,
            &[
                0x50, 0x02, // PUBREC; remaining length 2
                0x00, 0x00, // packet identifier 0
            ],
            Error::ZeroPacketId {
                packet_type: PacketType::PubRec,
            },
        ),
        case(
            "pubrel_packet_identifier_0",
            V311,
            &[
                0x62, 0x02, // PUBREL, flags 0010; remaining length 2
                0x00, 0x00, // packet identifier 0
            ],
            Error::ZeroPacketId {
                packet_type: PacketType::PubRel,
            },
        ),
        case(
            "pubcomp_packet_identifier_0",
            V5,
            &[
                0x70, 0x03, // PUBCOMP; remaining length 3
                0x00, 0x00, // packet identifier 0
                0x00, // Success
            ],
            Error::ZeroPacketId {
                packet_type: PacketType::PubComp,
            },
        ),
        case(
            "suback_packet_identifier_0",
            V311,
            &[
                0x90, 0x03, // SUBACK; remaining length 3
                0x00, 0x00, // packet identifier 0
                0x01, // granted QoS 1
            ],
            Error::ZeroPacketId {
                packet_type: PacketType::SubAck,
            },
        ),
        case(
            "unsuback_packet_identifier_0",
            V5,
            &[
                0xB0, 0x04, // UNSUBACK; remaining length 4
                0x00, 0x00, // packet identifier 0
                0x00, // property length 0
                0x00, // Success
            ],
            Error::ZeroPacketId {
                packet_type: PacketType::UnsubAck,
            },
        ),
        case(
            "puback_reason_code_0x01",
            V5,
            &[
                0x40, 0x03, // PUBACK; remaining length 3
                0x00, 0x01, // packet identifier 1
                0x01, // reason code 0x01 (not a PUBACK code)
            ],
            Error::InvalidReasonCode {
                packet_type: PacketType::PubAck,
                code: 0x01,
            },
        ),
        case(
            "pubrec_reason_code_0x92",
            V5,
            &[
                0x50, 0x03, // PUBREC; remaining length 3
                0x00, 0x01, // packet identifier 1
                0x92, // Packet Identifier not found (PUBREL and PUBCOMP only)
            ],
            Error::InvalidReasonCode {
                packet_type: PacketType::PubRec,
                code: 0x92,
            },
        ),
        case(
            "pubrel_reason_code_0x10",
            V5,
            &[
                0x62, 0x04, // PUBREL, flags 0010; remaining length 4
                0x00, 0x01, // packet identifier 1
                0x10, // No matching subscribers (PUBACK and PUBREC only)
                0x00, // property length 0
            ],
            Error::InvalidReasonCode {
                packet_type: PacketType::PubRel,
                code: 0x10,
            },
        ),
        case(
            "pubcomp_reason_code_0x80",
            V5,
            &[
                0x70, 0x03, // PUBCOMP; remaining length 3
                0x00, 0x01, // packet identifier 1
                0x80, // Unspecified error (PUBCOMP has only 0x00 and 0x92)
            ],
            Error::InvalidReasonCode {
                packet_type: PacketType::PubComp,
                code: 0x80,
            },
        ),
        case(
            "connack_return_code_6_in_3_1_1",
            V311,
            &[
                0x20, 0x02, // CONNACK; remaining length 2
                0x00, // no session present
                0x06, // return code 6 (3.1.1 defines 0 to 5)
            ],
            Error::InvalidReasonCode {
                packet_type: PacketType::ConnAck,
                code: 0x06,
            },
        ),
        case(
            "connack_reason_code_0x01_in_5_0",
            V5,
            &[
                0x20, 0x03, // CONNACK; remaining length 3
                0x00, // no session present
                0x01, // reason code 0x01 (a 3.1.1 return code, not a 5.0 CONNACK code)
                0x00, // property length 0
            ],
            Error::InvalidReasonCode {
                packet_type: PacketType::ConnAck,
                code: 0x01,
            },
        ),
        case(
            "connack_reserved_acknowledge_flag",
            V311,
            &[
                0x20, 0x02, // CONNACK; remaining length 2
                0x02, // acknowledge flags: reserved bit 1 set
                0x00, // Connection Accepted
            ],
            Error::ConnAckReservedFlags { flags: 0x02 },
        ),
        case(
            "connack_reserved_acknowledge_flag_5_0",
            V5,
            &[
                0x20, 0x03, // CONNACK; remaining length 3
                0x81, // acknowledge flags: reserved bit 7 set, session present
                0x00, // Success
                0x00, // property length 0
            ],
            Error::ConnAckReservedFlags { flags: 0x81 },
        ),
        case(
            "suback_return_code_3_in_3_1_1",
            V311,
            &[
                0x90, 0x04, // SUBACK; remaining length 4
                0x00, 0x01, // packet identifier 1
                0x00, // granted QoS 0
                0x03, // return code 3 (3.1.1 allows 0, 1, 2 and 0x80)
            ],
            Error::InvalidReasonCode {
                packet_type: PacketType::SubAck,
                code: 0x03,
            },
        ),
        case(
            "suback_reason_code_0x81_in_5_0",
            V5,
            &[
                0x90, 0x04, // SUBACK; remaining length 4
                0x00, 0x01, // packet identifier 1
                0x00, // property length 0
                0x81, // Malformed Packet (not a SUBACK code)
            ],
            Error::InvalidReasonCode {
                packet_type: PacketType::SubAck,
                code: 0x81,
            },
        ),
        case(
            "unsuback_reason_code_0x01",
            V5,
            &[
                0xB0, 0x04, // UNSUBACK; remaining length 4
                0x00, 0x01, // packet identifier 1
                0x00, // property length 0
                0x01, // reason code 0x01 (not an UNSUBACK code)
            ],
            Error::InvalidReasonCode {
                packet_type: PacketType::UnsubAck,
                code: 0x01,
            },
        ),
        case(
            "disconnect_reason_code_0x01",
            V5,
            &[
                0xE0, 0x01, // DISCONNECT; remaining length 1
                0x01, // reason code 0x01 (not a DISCONNECT code)
            ],
            Error::InvalidReasonCode {
                packet_type: PacketType::Disconnect,
                code: 0x01,
            },
        ),
        case(
            "auth_reason_code_0x01",
            V5,
            &[
                0xF0, 0x02, // AUTH; remaining length 2
                0x01, // reason code 0x01 (AUTH has 0x00, 0x18 and 0x19)
                0x00, // property length 0
            ],
            Error::InvalidReasonCode {
                packet_type: PacketType::Auth,
                code: 0x01,
            },
        ),
        case(
            "puback_cut_short",
            V311,
            &[
                0x40, 0x01, // PUBACK; remaining length 1
                0x00, // half a packet identifier
            ],
            Error::UnexpectedEof {
                field: "packet identifier",
            },
        ),
        case(
            "connack_cut_short",
            V311,
            &[
                0x20, 0x01, // CONNACK; remaining length 1
                0x00, // acknowledge flags; the return code should follow
            ],
            Error::UnexpectedEof {
                field: "connect reason code",
            },
        ),
        case(
            "pingreq_with_a_body",
            V311,
            &[
                0xC0, 0x01, // PINGREQ; remaining length 1
                0x00, // a byte PINGREQ does not have
            ],
            Error::TrailingBytes {
                packet_type: PacketType::PingReq,
                count: 1,
            },
        ),
        case(
            "pingresp_with_a_body",
            V5,
            &[
                0xD0, 0x02, // PINGRESP; remaining length 2
                0x00, 0x00, // two bytes PINGRESP does not have
            ],
            Error::TrailingBytes {
                packet_type: PacketType::PingResp,
                count: 2,
            },
        ),
        case(
            "puback_with_a_reason_code_in_3_1_1",
            V311,
            &[
                0x40, 0x03, // PUBACK; remaining length 3
                0x00, 0x01, // packet identifier 1
                0x00, // a 5.0 reason code, which 3.1.1 does not have
            ],
            Error::TrailingBytes {
                packet_type: PacketType::PubAck,
                count: 1,
            },
        ),
        case(
            "disconnect_with_a_body_in_3_1_1",
            V311,
            &[
                0xE0, 0x01, // DISCONNECT; remaining length 1
                0x00, // a 5.0 reason code, which 3.1.1 does not have
            ],
            Error::TrailingBytes {
                packet_type: PacketType::Disconnect,
                count: 1,
            },
        ),
        case(
            "connack_with_property_length_in_3_1_1",
            V311,
            &[
                0x20, 0x03, // CONNACK; remaining length 3
                0x00, 0x00, // no session present, Connection Accepted
                0x00, // a 5.0 property length, which 3.1.1 does not have
            ],
            Error::TrailingBytes {
                packet_type: PacketType::ConnAck,
                count: 1,
            },
        ),
        case(
            "unsuback_with_a_reason_code_in_3_1_1",
            V311,
            &[
                0xB0, 0x03, // UNSUBACK; remaining length 3
                0x00, 0x01, // packet identifier 1
                0x00, // a 5.0 reason code, which 3.1.1 does not have
            ],
            Error::TrailingBytes {
                packet_type: PacketType::UnsubAck,
                count: 1,
            },
        ),
        case(
            "puback_byte_after_the_properties",
            V5,
            &[
                0x40, 0x05, // PUBACK; remaining length 5
                0x00, 0x01, // packet identifier 1
                0x00, // Success
                0x00, // property length 0
                0xFF, // one byte too many
            ],
            Error::TrailingBytes {
                packet_type: PacketType::PubAck,
                count: 1,
            },
        ),
    ]
}
