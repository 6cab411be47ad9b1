//! UTF-8 Encoded Strings (3.1.1 1.5.3, 5.0 1.5.4): ill-formed UTF-8, encoded surrogates and
//! U+0000 in every kind of string field.

use mqtt_codec::Error;

use super::{Case, V5, V311, case};

pub(super) fn cases() -> Vec<Case> {
    vec![
        case(
            "topic_name_ill_formed_utf8",
            V311,
            &[
                0x30, 0x04, // PUBLISH QoS 0; remaining length 4
                0x00, 0x02, 0xC3, 0x28, // topic name: C3 needs a continuation byte, 28 is not
            ],
            Error::InvalidUtf8 {
                field: "topic name",
            },
        ),
        case(
            "topic_name_utf16_high_surrogate",
            V5,
            &[
                0x30, 0x06, // PUBLISH QoS 0; remaining length 6
                0x00, 0x03, 0xED, 0xA0, 0x80, // topic name: ED A0 80 encodes U+D800
                0x00, // property length 0
            ],
            Error::InvalidUtf8 {
                field: "topic name",
            },
        ),
        case(
            "topic_name_truncated_sequence",
            V311,
            &[
                0x30, 0x05, // PUBLISH QoS 0; remaining length 5
                0x00, 0x03, b'a', 0xE2, 0x82, // topic name: "a", then 2 of E2 82 AC's 3 bytes
            ],
            Error::InvalidUtf8 {
                field: "topic name",
            },
        ),
        case(
            "client_identifier_utf16_low_surrogate",
            V311,
            &[
                0x10, 0x0F, // CONNECT; remaining length 15
                0x00, 0x04, b'M', b'Q', b'T', b'T', // protocol name "MQTT"
                0x04, // protocol level 4
                0x02, // flags: clean session
                0x00, 0x3C, // keep alive 60
                0x00, 0x03, 0xED, 0xB0, 0x80, // client identifier: ED B0 80 encodes U+DC00
            ],
            Error::InvalidUtf8 {
                field: "client identifier",
            },
        ),
        case(
            "client_identifier_overlong_nul",
            V5,
            &[
                0x10, 0x0F, // CONNECT; remaining length 15
                0x00, 0x04, b'M', b'Q', b'T', b'T', // protocol name "MQTT"
                0x05, // protocol level 5
                0x02, // flags: clean start
                0x00, 0x3C, // keep alive 60
                0x00, // property length 0
                0x00, 0x02, 0xC0, 0x80, // client identifier: C0 80, an overlong U+0000
            ],
            Error::InvalidUtf8 {
                field: "client identifier",
            },
        ),
        case(
            "user_name_above_u10ffff",
            V311,
            &[
                0x10, 0x13, // CONNECT; remaining length 19
                0x00, 0x04, b'M', b'Q', b'T', b'T', // protocol name "MQTT"
                0x04, // protocol level 4
                0x82, // flags: user name, clean session
                0x00, 0x3C, // keep alive 60
                0x00, 0x01, b'c', // client identifier "c"
                0x00, 0x04, 0xF4, 0x90, 0x80, 0x80, // user name: F4 90 80 80 is past U+10FFFF
            ],
            Error::InvalidUtf8 { field: "user name" },
        ),
        case(
            "user_name_lone_continuation_byte",
            V5,
            &[
                0x10, 0x11, // CONNECT; remaining length 17
                0x00, 0x04, b'M', b'Q', b'T', b'T', // protocol name "MQTT"
                0x05, // protocol level 5
                0x82, // flags: user name, clean start
                0x00, 0x3C, // keep alive 60
                0x00, // property length 0
                0x00, 0x01, b'c', // client identifier "c"
                0x00, 0x01, 0x80, // user name: a continuation byte on its own
            ],
            Error::InvalidUtf8 { field: "user name" },
        ),
        case(
            "topic_filter_utf16_surrogate",
            V311,
            &[
                0x82, 0x08, // SUBSCRIBE, flags 0010; remaining length 8
                0x00, 0x01, // packet identifier 1
                0x00, 0x03, 0xED, 0xA0, 0x80, // topic filter: U+D800
                0x00, // options: QoS 0
            ],
            Error::InvalidUtf8 {
                field: "topic filter",
            },
        ),
        case(
            "user_property_value_ill_formed",
            V5,
            &[
                0x40, 0x0C, // PUBACK; remaining length 12
                0x00, 0x01, // packet identifier 1
                0x00, // Success
                0x08, // property length 8
                0x26, 0x00, 0x01, b'k', // User Property name "k"
                0x00, 0x02, 0xFF, 0xFE, // value: FF and FE never occur in UTF-8
            ],
            Error::InvalidUtf8 {
                field: "user property value",
            },
        ),
        case(
            "topic_name_nul",
            V311,
            &[
                0x30, 0x05, // PUBLISH QoS 0; remaining length 5
                0x00, 0x03, b'a', 0x00, b'b', // topic name "a\0b"
            ],
            Error::NullCharacter {
                field: "topic name",
            },
        ),
        case(
            "client_identifier_nul",
            V311,
            &[
                0x10, 0x0D, // CONNECT; remaining length 13
                0x00, 0x04, b'M', b'Q', b'T', b'T', // protocol name "MQTT"
                0x04, // protocol level 4
                0x02, // flags: clean session
                0x00, 0x3C, // keep alive 60
                0x00, 0x01, 0x00, // client identifier "\0"
            ],
            Error::NullCharacter {
                field: "client identifier",
            },
        ),
        case(
            "user_name_nul",
            V5,
            &[
                0x10, 0x12, // CONNECT; remaining length 18
                0x00, 0x04, b'M', b'Q', b'T', b'T', // protocol name "MQTT"
                0x05, // protocol level 5
                0x82, // flags: user name, clean start
                0x00, 0x3C, // keep alive 60
                0x00, // property length 0
                0x00, 0x01, b'c', // client identifier "c"
                0x00, 0x02, b'u', 0x00, // user name "u\0"
            ],
            Error::NullCharacter { field: "user name" },
        ),
        case(
            "will_topic_nul",
            V311,
            &[
                0x10, 0x13, // CONNECT; remaining length 19
                0x00, 0x04, b'M', b'Q', b'T', b'T', // protocol name "MQTT"
                0x04, // protocol level 4
                0x06, // flags: will (QoS 0), clean session
                0x00, 0x3C, // keep alive 60
                0x00, 0x01, b'c', // client identifier "c"
                0x00, 0x02, b'w', 0x00, // will topic "w\0"
                0x00, 0x00, // will payload, empty
            ],
            Error::NullCharacter {
                field: "will topic",
            },
        ),
        case(
            "user_property_name_nul",
            V5,
            &[
                0x30, 0x0C, // PUBLISH QoS 0; remaining length 12
                0x00, 0x01, b'a', // topic name "a"
                0x08, // property length 8
                0x26, 0x00, 0x02, b'k', 0x00, // User Property name "k\0"
                0x00, 0x01, b'v', // value "v"
            ],
            Error::NullCharacter {
                field: "user property name",
            },
        ),
        case(
            "user_property_value_nul_in_connect",
            V5,
            &[
                0x10, 0x15, // CONNECT; remaining length 21
                0x00, 0x04, b'M', b'Q', b'T', b'T', // protocol name "MQTT"
                0x05, // protocol level 5
                0x02, // flags: clean start
                0x00, 0x3C, // keep alive 60
                0x07, // property length 7
                0x26, 0x00, 0x01, b'k', // User Property name "k"
                0x00, 0x01, 0x00, // value "\0"
                0x00, 0x01, b'c', // client identifier "c"
            ],
            Error::NullCharacter {
                field: "user property value",
            },
        ),
        case(
            "subscribe_topic_filter_nul",
            V5,
            &[
                0x82, 0x08, // SUBSCRIBE, flags 0010; remaining length 8
                0x00, 0x01, // packet identifier 1
                0x00, // property length 0
                0x00, 0x02, b'a', 0x00, // topic filter "a\0"
                0x01, // options: QoS 1
            ],
            Error::NullCharacter {
                field: "topic filter",
            },
        ),
        case(
            "unsubscribe_topic_filter_nul",
            V311,
            &[
                0xA2, 0x06, // UNSUBSCRIBE, flags 0010; remaining length 6
                0x00, 0x01, // packet identifier 1
                0x00, 0x02, 0x00, b'a', // topic filter "\0a"
            ],
            Error::NullCharacter {
                field: "topic filter",
            },
        ),
        case(
            "reason_string_nul",
            V5,
            &[
                0x40, 0x09, // PUBACK; remaining length 9
                0x00, 0x01, // packet identifier 1
                0x80, // Unspecified error
                0x05, // property length 5
                0x1F, 0x00, 0x02, b'x', 0x00, // Reason String "x\0"
            ],
            Error::NullCharacter {
                field: "Reason String",
            },
        ),
        case(
            "content_type_nul",
            V5,
            &[
                0x30, 0x09, // PUBLISH QoS 0; remaining length 9
                0x00, 0x01, b'a', // topic name "a"
                0x05, // property length 5
                0x03, 0x00, 0x02, 0x00, 0x00, // Content Type "\0\0"
            ],
            Error::NullCharacter {
                field: "Content Type",
            },
        ),
    ]
}
