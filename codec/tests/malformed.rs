//! Malformed input: a table of raw packets, each with the exact [`Error`] decoding must give.
//!
//! The table is split by area in `malformed/`; every byte or field carries a trailing comment.
//! Errors are compared with `assert_eq!` on the whole value (variant and context), never on
//! message text. Inputs the specs allow, and that a too-strict decoder might refuse, sit in
//! [`accepted`] below.

mod acks;
mod connect;
mod header;
mod properties;
mod publish;
mod strings;
mod subscribe;

use std::collections::HashSet;

use mqtt_codec::bytes::Bytes;
use mqtt_codec::{
    ByteString, Connect, Decoder, Disconnect, Error, Packet, Properties, Property, ProtocolVersion,
    PubAck, PubRel, Publish, QoS, ReasonCode, RetainHandling, Subscribe, Subscription,
    SubscriptionOptions,
};

use crate::{decode_one, decode_one_with, is_header_error, packet_len, to_hex};

const V31: ProtocolVersion = ProtocolVersion::V3_1;
const V311: ProtocolVersion = ProtocolVersion::V3_1_1;
const V5: ProtocolVersion = ProtocolVersion::V5_0;

/// One malformed input and what decoding it must give.
struct Case {
    /// A unique name, printed on failure.
    name: &'static str,
    /// The protocol level of the decoder.
    version: ProtocolVersion,
    /// The packet; for errors in the fixed header the body may be left out.
    bytes: &'static [u8],
    /// Bytes of the next packet on the wire, which decoding must not touch.
    then: &'static [u8],
    /// A configured maximum packet size.
    limit: Option<usize>,
    /// The error.
    error: Error,
}

fn case(name: &'static str, version: ProtocolVersion, bytes: &'static [u8], error: Error) -> Case {
    Case {
        name,
        version,
        bytes,
        then: &[],
        limit: None,
        error,
    }
}

impl Case {
    fn then(mut self, next: &'static [u8]) -> Self {
        self.then = next;
        self
    }

    fn limit(mut self, max: usize) -> Self {
        self.limit = Some(max);
        self
    }
}

fn all_cases() -> Vec<Case> {
    [
        header::cases(),
        strings::cases(),
        connect::cases(),
        publish::cases(),
        subscribe::cases(),
        properties::cases(),
        acks::cases(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

#[test]
fn every_malformed_input_gives_its_exact_error() {
    let cases = all_cases();
    let mut names = HashSet::new();
    let mut failures = Vec::new();
    for case in &cases {
        assert!(names.insert(case.name), "duplicate case name {}", case.name);
        // The remaining length must describe the bytes given, so that each case tests what
        // its name says; only fixed-header errors may leave the body out.
        if !is_header_error(&case.error) {
            assert_eq!(
                packet_len(case.bytes),
                case.bytes.len(),
                "{}: remaining length does not match the bytes",
                case.name
            );
        }
        let mut input = case.bytes.to_vec();
        input.extend_from_slice(case.then);
        let mut decoder = Decoder::new(case.version);
        if let Some(max) = case.limit {
            decoder = decoder.with_max_packet_size(max);
        }
        let got = decode_one_with(decoder, &input);
        if got.as_ref() != Err(&case.error) {
            failures.push(format!(
                "{} ({}): {}\n    expected Err({:?})\n    got      {:?}",
                case.name,
                case.version,
                to_hex(&input),
                case.error,
                got
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn the_table_covers_at_least_eighty_inputs() {
    assert!(all_cases().len() >= 80, "{}", all_cases().len());
}

/// Inputs that look suspicious but that the specs allow.
#[test]
fn accepted() {
    let user = || Property::UserProperty("k".into(), "v".into());
    let cases: Vec<(&str, ProtocolVersion, &[u8], Packet)> = vec![
        (
            "5.0 DISCONNECT short form: remaining length 0 means Normal disconnection",
            V5,
            &[
                0xE0, 0x00, // DISCONNECT; remaining length 0
            ],
            Packet::Disconnect(Disconnect::new(ReasonCode::NORMAL_DISCONNECTION)),
        ),
        (
            "5.0 DISCONNECT with a reason code and no property length",
            V5,
            &[
                0xE0, 0x01, // DISCONNECT; remaining length 1
                0x04, // Disconnect with Will Message
            ],
            Packet::Disconnect(Disconnect::new(ReasonCode::DISCONNECT_WITH_WILL_MESSAGE)),
        ),
        (
            "5.0 PUBACK short form: remaining length 2 means Success, no properties",
            V5,
            &[
                0x40, 0x02, // PUBACK; remaining length 2
                0x00, 0x07, // packet identifier 7
            ],
            Packet::PubAck(PubAck::new(7)),
        ),
        (
            "5.0 PUBACK short form: remaining length 3 is a reason code, no properties",
            V5,
            &[
                0x40, 0x03, // PUBACK; remaining length 3
                0x00, 0x07, // packet identifier 7
                0x10, // No matching subscribers
            ],
            Packet::PubAck(PubAck {
                packet_id: 7,
                reason: ReasonCode::NO_MATCHING_SUBSCRIBERS,
                properties: Properties::new(),
            }),
        ),
        (
            "5.0 PUBACK with Success and an empty property list spelt out",
            V5,
            &[
                0x40, 0x04, // PUBACK; remaining length 4
                0x00, 0x07, // packet identifier 7
                0x00, // Success
                0x00, // property length 0
            ],
            Packet::PubAck(PubAck::new(7)),
        ),
        (
            "5.0 PUBREL short form with reason code Packet Identifier not found",
            V5,
            &[
                0x62, 0x03, // PUBREL, flags 0010; remaining length 3
                0x00, 0x07, // packet identifier 7
                0x92, // Packet Identifier not found
            ],
            Packet::PubRel(PubRel {
                packet_id: 7,
                reason: ReasonCode::PACKET_IDENTIFIER_NOT_FOUND,
                properties: Properties::new(),
            }),
        ),
        (
            "5.0 AUTH short form: remaining length 0 means Success",
            V5,
            &[
                0xF0, 0x00, // AUTH; remaining length 0
            ],
            Packet::Auth(mqtt_codec::Auth::default()),
        ),
        (
            "5.0 CONNECT with a password and no user name (3.1.2.9 allows it)",
            V5,
            &[
                0x10, 0x11, // CONNECT; remaining length 17
                0x00, 0x04, b'M', b'Q', b'T', b'T', // protocol name "MQTT"
                0x05, // protocol level 5
                0x42, // flags: password, clean start
                0x00, 0x3C, // keep alive 60
                0x00, // property length 0
                0x00, 0x01, b'c', // client identifier "c"
                0x00, 0x01, b'p', // password "p"
            ],
            Packet::from(Connect {
                password: Some(Bytes::from_static(b"p")),
                ..Connect::new(V5, "c")
            }),
        ),
        (
            "3.1.1 CONNECT with an empty client identifier and Clean Session",
            V311,
            &[
                0x10, 0x0C, // CONNECT; remaining length 12
                0x00, 0x04, b'M', b'Q', b'T', b'T', // protocol name "MQTT"
                0x04, // protocol level 4
                0x02, // flags: clean session
                0x00, 0x3C, // keep alive 60
                0x00, 0x00, // client identifier ""
            ],
            Packet::from(Connect::new(V311, "")),
        ),
        (
            "5.0 PUBLISH with two Subscription Identifiers and two User Properties",
            V5,
            &[
                0x30, 0x17, // PUBLISH QoS 0; remaining length 23
                0x00, 0x01, b'a', // topic name "a"
                0x13, // property length 19
                0x0B, 0x01, // Subscription Identifier 1
                0x0B, 0xFF, 0x7F, // Subscription Identifier 16383
                0x26, 0x00, 0x01, b'k', 0x00, 0x01, b'v', // User Property k=v
                0x26, 0x00, 0x01, b'k', 0x00, 0x01, b'v', // User Property k=v again
            ],
            Packet::Publish(Publish {
                properties: Properties::from(vec![
                    Property::SubscriptionIdentifier(1),
                    Property::SubscriptionIdentifier(16_383),
                    user(),
                    user(),
                ]),
                ..Publish::new("a", Bytes::new())
            }),
        ),
        (
            "5.0 PUBLISH with an empty topic name and a Topic Alias",
            V5,
            &[
                0x30, 0x06, // PUBLISH QoS 0; remaining length 6
                0x00, 0x00, // topic name ""
                0x03, // property length 3
                0x23, 0x00, 0x01, // Topic Alias 1
            ],
            Packet::Publish(Publish {
                properties: Properties::from(vec![Property::TopicAlias(1)]),
                ..Publish::new("", Bytes::new())
            }),
        ),
        (
            "a BOM inside a string is kept, not stripped (MQTT-1.5.3-3, MQTT-1.5.4-3)",
            V311,
            &[
                0x30, 0x06, // PUBLISH QoS 0; remaining length 6
                0x00, 0x04, 0xEF, 0xBB, 0xBF, b'a', // topic name "\u{FEFF}a"
            ],
            Packet::Publish(Publish::new("\u{FEFF}a", Bytes::new())),
        ),
        (
            "5.0 subscription options No Local, Retain As Published, Retain Handling 2",
            V5,
            &[
                0x82, 0x07, // SUBSCRIBE, flags 0010; remaining length 7
                0x00, 0x0A, // packet identifier 10
                0x00, // property length 0
                0x00, 0x01, b'a', // topic filter "a"
                0x2E, // options: Retain Handling 2, RAP, No Local, QoS 2
            ],
            Packet::Subscribe(Subscribe {
                packet_id: 10,
                properties: Properties::new(),
                filters: vec![Subscription {
                    filter: ByteString::from("a"),
                    options: SubscriptionOptions {
                        qos: QoS::ExactlyOnce,
                        no_local: true,
                        retain_as_published: true,
                        retain_handling: RetainHandling::DoNotSend,
                    },
                }],
            }),
        ),
    ];
    for (name, version, bytes, expected) in cases {
        assert_eq!(decode_one(version, bytes), Ok(expected), "{name}");
    }
}

/// A packet exactly as large as the configured maximum is accepted.
#[test]
fn accepts_a_packet_of_exactly_the_maximum_size() {
    let bytes = [
        0x30, 0x03, // PUBLISH QoS 0; remaining length 3
        0x00, 0x01, b'a', // topic name "a"
    ];
    let decoder = Decoder::new(V311).with_max_packet_size(5);
    assert_eq!(
        decode_one_with(decoder, &bytes),
        Ok(Packet::Publish(Publish::new("a", Bytes::new())))
    );
}
