//! Canonical encodings: one representative packet of every type under every level it exists
//! in, written out as hex in an insta snapshot per packet type, so that any change to what the
//! encoder writes shows up in review. Each sample also decodes back to itself.

use mqtt_codec::bytes::Bytes;
use mqtt_codec::{
    Auth, ConnAck, Connect, Disconnect, Packet, Properties, Property, ProtocolVersion, PubAck,
    PubComp, PubRec, PubRel, Publish, QoS, ReasonCode, RetainHandling, SubAck, Subscribe,
    Subscription, SubscriptionOptions, UnsubAck, Unsubscribe, Will,
};

use crate::generators::Kind;
use crate::{VERSIONS, decode_one, encode, to_hex};

/// `list` under 5.0, nothing before it.
fn props(version: ProtocolVersion, list: Vec<Property>) -> Properties {
    if version.is_v5() {
        Properties::from(list)
    } else {
        Properties::new()
    }
}

/// `code` under 5.0, Success before it.
fn v5_code(version: ProtocolVersion, code: ReasonCode) -> ReasonCode {
    if version.is_v5() {
        code
    } else {
        ReasonCode::SUCCESS
    }
}

fn user() -> Property {
    Property::UserProperty("k".into(), "v".into())
}

fn sample(kind: Kind, version: ProtocolVersion) -> Packet {
    let v5 = version.is_v5();
    match kind {
        Kind::Connect => Packet::from(Connect {
            protocol: version,
            clean_start: true,
            keep_alive: 30,
            properties: props(
                version,
                vec![
                    Property::SessionExpiryInterval(3600),
                    Property::ReceiveMaximum(20),
                    Property::MaximumPacketSize(65_536),
                    Property::TopicAliasMaximum(10),
                    Property::RequestProblemInformation(1),
                    user(),
                ],
            ),
            client_id: "client-1".into(),
            will: Some(Will {
                topic: "status/client-1".into(),
                payload: Bytes::from_static(b"offline"),
                qos: QoS::AtLeastOnce,
                retain: true,
                properties: props(
                    version,
                    vec![
                        Property::WillDelayInterval(5),
                        Property::PayloadFormatIndicator(1),
                        Property::ContentType("text/plain".into()),
                    ],
                ),
            }),
            username: Some("user".into()),
            password: Some(Bytes::from_static(b"secret")),
        }),
        Kind::ConnAck => Packet::ConnAck(ConnAck {
            session_present: version != ProtocolVersion::V3_1,
            code: ReasonCode::SUCCESS,
            properties: props(
                version,
                vec![
                    Property::AssignedClientIdentifier("auto-7".into()),
                    Property::ServerKeepAlive(60),
                    Property::MaximumQoS(1),
                    Property::RetainAvailable(0),
                    Property::TopicAliasMaximum(16),
                    Property::WildcardSubscriptionAvailable(1),
                    Property::SubscriptionIdentifierAvailable(1),
                    Property::SharedSubscriptionAvailable(0),
                ],
            ),
        }),
        Kind::Publish => Packet::Publish(Publish {
            dup: true,
            qos: QoS::ExactlyOnce,
            retain: true,
            topic: "sensors/7/temp".into(),
            packet_id: 0x1234,
            properties: props(
                version,
                vec![
                    Property::PayloadFormatIndicator(1),
                    Property::MessageExpiryInterval(120),
                    Property::TopicAlias(3),
                    Property::ResponseTopic("replies/7".into()),
                    Property::CorrelationData(Bytes::from_static(&[0xC0, 0xFF, 0xEE])),
                    Property::SubscriptionIdentifier(300),
                    user(),
                ],
            ),
            payload: Bytes::from_static(b"21.5"),
        }),
        Kind::PubAck => Packet::PubAck(PubAck {
            packet_id: 0x1234,
            reason: v5_code(version, ReasonCode::NO_MATCHING_SUBSCRIBERS),
            properties: props(version, vec![Property::ReasonString("nobody".into())]),
        }),
        Kind::PubRec => Packet::PubRec(PubRec {
            packet_id: 0x1234,
            reason: v5_code(version, ReasonCode::QUOTA_EXCEEDED),
            properties: Properties::new(),
        }),
        Kind::PubRel => Packet::PubRel(PubRel::new(0x1234)),
        Kind::PubComp => Packet::PubComp(PubComp {
            packet_id: 0x1234,
            reason: v5_code(version, ReasonCode::PACKET_IDENTIFIER_NOT_FOUND),
            properties: props(version, vec![user()]),
        }),
        Kind::Subscribe => Packet::Subscribe(Subscribe {
            packet_id: 7,
            properties: props(version, vec![Property::SubscriptionIdentifier(300)]),
            filters: vec![
                Subscription {
                    filter: "sensors/+/temp".into(),
                    options: SubscriptionOptions {
                        qos: QoS::AtLeastOnce,
                        no_local: v5,
                        retain_as_published: v5,
                        retain_handling: if v5 {
                            RetainHandling::SendIfNew
                        } else {
                            RetainHandling::SendAtSubscribe
                        },
                    },
                },
                Subscription {
                    filter: "alerts/#".into(),
                    options: SubscriptionOptions::qos(QoS::ExactlyOnce),
                },
            ],
        }),
        Kind::SubAck => Packet::SubAck(SubAck {
            packet_id: 7,
            properties: props(version, vec![Property::ReasonString("ok".into())]),
            codes: vec![
                ReasonCode::GRANTED_QOS_1,
                if v5 {
                    ReasonCode::NOT_AUTHORIZED
                } else {
                    ReasonCode::SUBACK_FAILURE_V3
                },
            ],
        }),
        Kind::Unsubscribe => Packet::Unsubscribe(Unsubscribe {
            packet_id: 8,
            properties: props(version, vec![user()]),
            filters: vec!["sensors/+/temp".into(), "alerts/#".into()],
        }),
        Kind::UnsubAck => Packet::UnsubAck(UnsubAck {
            packet_id: 8,
            properties: Properties::new(),
            codes: if v5 {
                vec![ReasonCode::SUCCESS, ReasonCode::NO_SUBSCRIPTION_EXISTED]
            } else {
                Vec::new()
            },
        }),
        Kind::PingReq => Packet::PingReq,
        Kind::PingResp => Packet::PingResp,
        Kind::Disconnect => Packet::Disconnect(Disconnect {
            reason: v5_code(version, ReasonCode::DISCONNECT_WITH_WILL_MESSAGE),
            properties: props(version, vec![Property::SessionExpiryInterval(0)]),
        }),
        Kind::Auth => Packet::Auth(Auth {
            reason: ReasonCode::CONTINUE_AUTHENTICATION,
            properties: Properties::from(vec![
                Property::AuthenticationMethod("SCRAM-SHA-256".into()),
                Property::AuthenticationData(Bytes::from_static(b"n,,n=user,r=abc")),
            ]),
        }),
    }
}

/// Hex, sixteen bytes to a line.
fn hex_lines(bytes: &[u8]) -> String {
    bytes
        .chunks(16)
        .map(|chunk| format!("  {}", to_hex(chunk)))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn canonical_encoding_of_every_packet_type_and_level() {
    for kind in Kind::ALL {
        let mut out = String::new();
        for version in VERSIONS.into_iter().filter(|v| kind.exists_in(*v)) {
            let packet = sample(kind, version);
            let bytes = encode(&packet, version);
            assert_eq!(
                decode_one(version, &bytes).as_ref(),
                Ok(&packet),
                "{kind:?} {version}"
            );
            out.push_str(&format!(
                "{version} ({} bytes):\n{}\n",
                bytes.len(),
                hex_lines(&bytes)
            ));
        }
        let name = format!("{kind:?}").to_lowercase();
        insta::assert_snapshot!(name, out);
    }
}
