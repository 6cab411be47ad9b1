//! Proptest strategies that produce only valid packets.
//!
//! "Valid" is judged by the specs, not by the codec: topic names and filters follow 4.7,
//! packet identifiers are non-zero where present, each property list holds only properties
//! allowed in its packet (single-valued ones at most once, values in range), reason codes are
//! those the packet may carry, and everything 5.0-only is empty under 3.1 and 3.1.1. The
//! tables here are written out from the specs rather than taken from the codec, so a wrong
//! table in the codec shows up as a failing round trip.

use mqtt_codec::bytes::Bytes;
use mqtt_codec::{
    Auth, ByteString, ConnAck, Connect, Disconnect, Packet, Properties, Property, PropertyContext,
    PropertyId, ProtocolVersion, PubAck, PubComp, PubRec, PubRel, Publish, QoS, ReasonCode,
    RetainHandling, SubAck, Subscribe, Subscription, SubscriptionOptions, UnsubAck, Unsubscribe,
    Will,
};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;

/// The packet types, to pick a generator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Connect,
    ConnAck,
    Publish,
    PubAck,
    PubRec,
    PubRel,
    PubComp,
    Subscribe,
    SubAck,
    Unsubscribe,
    UnsubAck,
    PingReq,
    PingResp,
    Disconnect,
    Auth,
}

impl Kind {
    pub(crate) const ALL: [Self; 15] = [
        Self::Connect,
        Self::ConnAck,
        Self::Publish,
        Self::PubAck,
        Self::PubRec,
        Self::PubRel,
        Self::PubComp,
        Self::Subscribe,
        Self::SubAck,
        Self::Unsubscribe,
        Self::UnsubAck,
        Self::PingReq,
        Self::PingResp,
        Self::Disconnect,
        Self::Auth,
    ];

    /// Whether the packet type exists at this protocol level.
    pub(crate) fn exists_in(self, version: ProtocolVersion) -> bool {
        self != Self::Auth || version == ProtocolVersion::V5_0
    }
}

/// 5.0 CONNACK reason codes (3.2.2.2).
pub(crate) const CONNACK_CODES: &[u8] = &[
    0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90, 0x95, 0x97,
    0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F,
];
/// 3.1 and 3.1.1 CONNACK return codes (3.2.2.3).
pub(crate) const CONNACK_CODES_V3: &[u8] = &[0x00, 0x01, 0x02, 0x03, 0x04, 0x05];
/// 5.0 PUBACK (3.4.2.1) and PUBREC (3.5.2.1) reason codes.
pub(crate) const PUBACK_CODES: &[u8] = &[0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99];
/// 5.0 PUBREL (3.6.2.1) and PUBCOMP (3.7.2.1) reason codes.
pub(crate) const PUBREL_CODES: &[u8] = &[0x00, 0x92];
/// 5.0 SUBACK reason codes (3.9.3).
pub(crate) const SUBACK_CODES: &[u8] = &[
    0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2,
];
/// 3.1 and 3.1.1 SUBACK return codes (3.9.3).
pub(crate) const SUBACK_CODES_V3: &[u8] = &[0x00, 0x01, 0x02, 0x80];
/// 5.0 UNSUBACK reason codes (3.11.3).
pub(crate) const UNSUBACK_CODES: &[u8] = &[0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91];
/// 5.0 DISCONNECT reason codes (3.14.2.1).
pub(crate) const DISCONNECT_CODES: &[u8] = &[
    0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x8F, 0x90, 0x93, 0x94, 0x95,
    0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2,
];
/// 5.0 AUTH reason codes (3.15.2.1).
pub(crate) const AUTH_CODES: &[u8] = &[0x00, 0x18, 0x19];

/// Which property identifiers each property list may hold (5.0 table 2-4, section 2.2.2.2).
pub(crate) fn allowed_ids(context: PropertyContext) -> &'static [u8] {
    match context {
        PropertyContext::Connect => &[0x11, 0x15, 0x16, 0x17, 0x19, 0x21, 0x22, 0x26, 0x27],
        PropertyContext::ConnAck => &[
            0x11, 0x12, 0x13, 0x15, 0x16, 0x1A, 0x1C, 0x1F, 0x21, 0x22, 0x24, 0x25, 0x26, 0x27,
            0x28, 0x29, 0x2A,
        ],
        PropertyContext::Publish => &[0x01, 0x02, 0x03, 0x08, 0x09, 0x0B, 0x23, 0x26],
        PropertyContext::Will => &[0x01, 0x02, 0x03, 0x08, 0x09, 0x18, 0x26],
        PropertyContext::Ack | PropertyContext::SubAck | PropertyContext::UnsubAck => &[0x1F, 0x26],
        PropertyContext::Subscribe => &[0x0B, 0x26],
        PropertyContext::Unsubscribe => &[0x26],
        PropertyContext::Disconnect => &[0x11, 0x1C, 0x1F, 0x26],
        PropertyContext::Auth => &[0x15, 0x16, 0x1F, 0x26],
    }
}

/// A valid packet of `kind` under `version`.
pub(crate) fn packet(kind: Kind, version: ProtocolVersion) -> BoxedStrategy<Packet> {
    match kind {
        Kind::Connect => connect(version).prop_map(Packet::from).boxed(),
        Kind::ConnAck => connack(version).prop_map(Packet::ConnAck).boxed(),
        Kind::Publish => publish(version).prop_map(Packet::Publish).boxed(),
        Kind::PubAck => ack(version, PUBACK_CODES)
            .prop_map(|(packet_id, reason, properties)| {
                Packet::PubAck(PubAck {
                    packet_id,
                    reason,
                    properties,
                })
            })
            .boxed(),
        Kind::PubRec => ack(version, PUBACK_CODES)
            .prop_map(|(packet_id, reason, properties)| {
                Packet::PubRec(PubRec {
                    packet_id,
                    reason,
                    properties,
                })
            })
            .boxed(),
        Kind::PubRel => ack(version, PUBREL_CODES)
            .prop_map(|(packet_id, reason, properties)| {
                Packet::PubRel(PubRel {
                    packet_id,
                    reason,
                    properties,
                })
            })
            .boxed(),
        Kind::PubComp => ack(version, PUBREL_CODES)
            .prop_map(|(packet_id, reason, properties)| {
                Packet::PubComp(PubComp {
                    packet_id,
                    reason,
                    properties,
                })
            })
            .boxed(),
        Kind::Subscribe => subscribe(version).prop_map(Packet::Subscribe).boxed(),
        Kind::SubAck => suback(version).prop_map(Packet::SubAck).boxed(),
        Kind::Unsubscribe => unsubscribe(version).prop_map(Packet::Unsubscribe).boxed(),
        Kind::UnsubAck => unsuback(version).prop_map(Packet::UnsubAck).boxed(),
        Kind::PingReq => Just(Packet::PingReq).boxed(),
        Kind::PingResp => Just(Packet::PingResp).boxed(),
        Kind::Disconnect => disconnect(version).prop_map(Packet::Disconnect).boxed(),
        Kind::Auth => {
            assert!(version.is_v5(), "AUTH exists only in 5.0");
            (reason(AUTH_CODES), properties(PropertyContext::Auth))
                .prop_map(|(reason, properties)| Packet::Auth(Auth { reason, properties }))
                .boxed()
        }
    }
}

/// Any valid packet under `version`.
pub(crate) fn any_packet(version: ProtocolVersion) -> BoxedStrategy<Packet> {
    let kinds: Vec<Kind> = Kind::ALL
        .into_iter()
        .filter(|k| k.exists_in(version))
        .collect();
    select(kinds)
        .prop_flat_map(move |kind| packet(kind, version))
        .boxed()
}

fn connect(version: ProtocolVersion) -> impl Strategy<Value = Connect> {
    let v5 = version.is_v5();
    // 3.1 wants a client identifier of 1 to 23 characters (3.1 section 3.1, payload).
    let client_id = if version == ProtocolVersion::V3_1 {
        vec(prop::char::range('!', '~'), 1..=23)
            .prop_map(|c| ByteString::from(String::from_iter(c)))
            .boxed()
    } else {
        string().boxed()
    };
    let will = (
        topic_name(),
        binary(),
        qos(),
        any::<bool>(),
        v5_properties(v5, PropertyContext::Will),
    )
        .prop_map(|(topic, payload, qos, retain, properties)| Will {
            topic,
            payload,
            qos,
            retain,
            properties,
        });
    (
        any::<bool>(),
        any::<u16>(),
        v5_properties(v5, PropertyContext::Connect),
        client_id,
        proptest::option::of(will),
        proptest::option::of(string()),
        proptest::option::of(binary()),
    )
        .prop_map(
            move |(clean_start, keep_alive, properties, client_id, will, username, password)| {
                // A zero-byte client identifier needs Clean Session 1 in 3.1.1 (MQTT-3.1.3-7).
                let clean_start = clean_start || (client_id.is_empty() && !v5);
                // Before 5.0 a password needs a user name (3.1.1 MQTT-3.1.2-22).
                let password = if v5 || username.is_some() {
                    password
                } else {
                    None
                };
                Connect {
                    protocol: version,
                    clean_start,
                    keep_alive,
                    properties,
                    client_id,
                    will,
                    username,
                    password,
                }
            },
        )
}

fn connack(version: ProtocolVersion) -> impl Strategy<Value = ConnAck> {
    let codes = if version.is_v5() {
        CONNACK_CODES
    } else {
        CONNACK_CODES_V3
    };
    (
        any::<bool>(),
        reason(codes),
        v5_properties(version.is_v5(), PropertyContext::ConnAck),
    )
        .prop_map(move |(session_present, code, properties)| ConnAck {
            // Session Present is 0 on a refusal (3.1.1 MQTT-3.2.2-4, 5.0 MQTT-3.2.2-6); 3.1
            // has no such flag at all.
            session_present: session_present
                && code == ReasonCode::SUCCESS
                && version != ProtocolVersion::V3_1,
            code,
            properties,
        })
}

fn publish(version: ProtocolVersion) -> impl Strategy<Value = Publish> {
    let v5 = version.is_v5();
    (
        qos(),
        any::<bool>(),
        any::<bool>(),
        topic_name(),
        1..=u16::MAX,
        v5_properties(v5, PropertyContext::Publish),
        binary(),
        // 5.0 only: whether to send an empty topic and let the Topic Alias stand for it.
        any::<bool>(),
    )
        .prop_map(
            move |(qos, dup, retain, topic, id, properties, payload, alias_only)| {
                let has_alias = properties
                    .iter()
                    .any(|p| matches!(p, Property::TopicAlias(_)));
                let topic = if v5 && has_alias && alias_only {
                    ByteString::new()
                } else {
                    topic
                };
                Publish {
                    // DUP is 0 on QoS 0 (MQTT-3.3.1-2).
                    dup: dup && qos != QoS::AtMostOnce,
                    qos,
                    retain,
                    topic,
                    // A QoS 0 PUBLISH has no packet identifier (3.1.1 MQTT-2.3.1-5).
                    packet_id: if qos == QoS::AtMostOnce { 0 } else { id },
                    properties,
                    payload,
                }
            },
        )
}

fn ack(
    version: ProtocolVersion,
    codes: &'static [u8],
) -> impl Strategy<Value = (u16, ReasonCode, Properties)> {
    let v5 = version.is_v5();
    (
        1..=u16::MAX,
        reason(codes),
        v5_properties(v5, PropertyContext::Ack),
    )
        .prop_map(move |(id, code, properties)| {
            let code = if v5 { code } else { ReasonCode::SUCCESS };
            (id, code, properties)
        })
}

fn subscribe(version: ProtocolVersion) -> impl Strategy<Value = Subscribe> {
    let v5 = version.is_v5();
    let subscription = (
        topic_filter(),
        qos(),
        any::<bool>(),
        any::<bool>(),
        retain_handling(),
    )
        .prop_map(move |((filter, shared), qos, no_local, rap, rh)| {
            let options = if v5 {
                SubscriptionOptions {
                    qos,
                    // No Local on a shared subscription is a Protocol Error (MQTT-3.8.3-4).
                    no_local: no_local && !shared,
                    retain_as_published: rap,
                    retain_handling: rh,
                }
            } else {
                SubscriptionOptions::qos(qos)
            };
            Subscription { filter, options }
        });
    (
        1..=u16::MAX,
        v5_properties(v5, PropertyContext::Subscribe),
        vec(subscription, 1..5),
    )
        .prop_map(|(packet_id, properties, filters)| Subscribe {
            packet_id,
            properties,
            filters,
        })
}

fn suback(version: ProtocolVersion) -> impl Strategy<Value = SubAck> {
    let v5 = version.is_v5();
    let codes = if v5 { SUBACK_CODES } else { SUBACK_CODES_V3 };
    (
        1..=u16::MAX,
        v5_properties(v5, PropertyContext::SubAck),
        vec(reason(codes), 1..5),
    )
        .prop_map(|(packet_id, properties, codes)| SubAck {
            packet_id,
            properties,
            codes,
        })
}

fn unsubscribe(version: ProtocolVersion) -> impl Strategy<Value = Unsubscribe> {
    (
        1..=u16::MAX,
        v5_properties(version.is_v5(), PropertyContext::Unsubscribe),
        vec(topic_filter().prop_map(|(f, _)| f), 1..5),
    )
        .prop_map(|(packet_id, properties, filters)| Unsubscribe {
            packet_id,
            properties,
            filters,
        })
}

fn unsuback(version: ProtocolVersion) -> impl Strategy<Value = UnsubAck> {
    let v5 = version.is_v5();
    (
        1..=u16::MAX,
        v5_properties(v5, PropertyContext::UnsubAck),
        vec(reason(UNSUBACK_CODES), 1..5),
    )
        .prop_map(move |(packet_id, properties, codes)| UnsubAck {
            packet_id,
            properties,
            // 3.1.1 UNSUBACK has no payload.
            codes: if v5 { codes } else { Vec::new() },
        })
}

fn disconnect(version: ProtocolVersion) -> impl Strategy<Value = Disconnect> {
    let v5 = version.is_v5();
    (
        reason(DISCONNECT_CODES),
        v5_properties(v5, PropertyContext::Disconnect),
    )
        .prop_map(move |(reason, properties)| {
            if v5 {
                Disconnect { reason, properties }
            } else {
                Disconnect::default()
            }
        })
}

/// Properties for `context` under 5.0, none before it.
fn v5_properties(v5: bool, context: PropertyContext) -> BoxedStrategy<Properties> {
    if v5 {
        properties(context)
    } else {
        Just(Properties::new()).boxed()
    }
}

/// A valid property list for `context`: each allowed single-valued property at most once,
/// any number of User Properties (and of Subscription Identifiers in PUBLISH), in any order.
pub(crate) fn properties(context: PropertyContext) -> BoxedStrategy<Properties> {
    let singles: Vec<BoxedStrategy<Option<Property>>> = allowed_ids(context)
        .iter()
        .filter(|&&id| id != 0x26 && !(id == 0x0B && context == PropertyContext::Publish))
        .map(|&id| proptest::option::weighted(0.3, property(id)).boxed())
        .collect();
    let repeated_sub_ids = if context == PropertyContext::Publish {
        vec(property(0x0B), 0..3).boxed()
    } else {
        Just(Vec::new()).boxed()
    };
    (singles, vec(property(0x26), 0..3), repeated_sub_ids)
        .prop_map(|(singles, users, sub_ids)| {
            singles
                .into_iter()
                .flatten()
                .chain(users)
                .chain(sub_ids)
                .collect::<Vec<_>>()
        })
        .prop_shuffle()
        .prop_map(move |mut list| {
            // Authentication Data needs an Authentication Method in CONNECT (3.1.2.11.10).
            let has = |list: &[Property], id| list.iter().any(|p| p.id() == PropertyId(id));
            if context == PropertyContext::Connect && has(&list, 0x16) && !has(&list, 0x15) {
                list.push(Property::AuthenticationMethod("SCRAM".into()));
            }
            Properties::from(list)
        })
        .boxed()
}

/// A property with identifier `id` and a value in its allowed range.
pub(crate) fn property(id: u8) -> BoxedStrategy<Property> {
    let flag = || 0..=1u8;
    match id {
        0x01 => flag().prop_map(Property::PayloadFormatIndicator).boxed(),
        0x02 => any::<u32>()
            .prop_map(Property::MessageExpiryInterval)
            .boxed(),
        0x03 => string().prop_map(Property::ContentType).boxed(),
        // The Response Topic is a Topic Name (MQTT-3.3.2-13/14).
        0x08 => topic_name().prop_map(Property::ResponseTopic).boxed(),
        0x09 => binary().prop_map(Property::CorrelationData).boxed(),
        // 1 to 268,435,455 (3.8.2.1.2).
        0x0B => (1..=268_435_455u32)
            .prop_map(Property::SubscriptionIdentifier)
            .boxed(),
        0x11 => any::<u32>()
            .prop_map(Property::SessionExpiryInterval)
            .boxed(),
        0x12 => string()
            .prop_map(Property::AssignedClientIdentifier)
            .boxed(),
        0x13 => any::<u16>().prop_map(Property::ServerKeepAlive).boxed(),
        0x15 => string().prop_map(Property::AuthenticationMethod).boxed(),
        0x16 => binary().prop_map(Property::AuthenticationData).boxed(),
        0x17 => flag().prop_map(Property::RequestProblemInformation).boxed(),
        0x18 => any::<u32>().prop_map(Property::WillDelayInterval).boxed(),
        0x19 => flag()
            .prop_map(Property::RequestResponseInformation)
            .boxed(),
        0x1A => string().prop_map(Property::ResponseInformation).boxed(),
        0x1C => string().prop_map(Property::ServerReference).boxed(),
        0x1F => string().prop_map(Property::ReasonString).boxed(),
        // Receive Maximum, Topic Alias and Maximum Packet Size may not be 0.
        0x21 => (1..=u16::MAX).prop_map(Property::ReceiveMaximum).boxed(),
        0x22 => any::<u16>().prop_map(Property::TopicAliasMaximum).boxed(),
        0x23 => (1..=u16::MAX).prop_map(Property::TopicAlias).boxed(),
        0x24 => flag().prop_map(Property::MaximumQoS).boxed(),
        0x25 => flag().prop_map(Property::RetainAvailable).boxed(),
        0x26 => (string(), string())
            .prop_map(|(k, v)| Property::UserProperty(k, v))
            .boxed(),
        0x27 => (1..=u32::MAX).prop_map(Property::MaximumPacketSize).boxed(),
        0x28 => flag()
            .prop_map(Property::WildcardSubscriptionAvailable)
            .boxed(),
        0x29 => flag()
            .prop_map(Property::SubscriptionIdentifierAvailable)
            .boxed(),
        0x2A => flag()
            .prop_map(Property::SharedSubscriptionAvailable)
            .boxed(),
        _ => panic!("no property {id:#04x}"),
    }
}

fn reason(codes: &'static [u8]) -> impl Strategy<Value = ReasonCode> + Clone {
    select(codes).prop_map(ReasonCode)
}

fn qos() -> impl Strategy<Value = QoS> + Clone {
    prop_oneof![
        Just(QoS::AtMostOnce),
        Just(QoS::AtLeastOnce),
        Just(QoS::ExactlyOnce)
    ]
}

fn retain_handling() -> impl Strategy<Value = RetainHandling> {
    prop_oneof![
        Just(RetainHandling::SendAtSubscribe),
        Just(RetainHandling::SendIfNew),
        Just(RetainHandling::DoNotSend)
    ]
}

/// A UTF-8 string without U+0000, mostly short ASCII with some of everything else.
pub(crate) fn string() -> impl Strategy<Value = ByteString> + Clone {
    prop_oneof![
        3 => "[ -~]{0,12}",
        1 => vec(any::<char>().prop_filter("no U+0000", |&c| c != '\0'), 0..8)
            .prop_map(String::from_iter),
    ]
    .prop_map(ByteString::from)
}

fn binary() -> impl Strategy<Value = Bytes> + Clone {
    vec(any::<u8>(), 0..24).prop_map(Bytes::from)
}

/// One level of a topic: no separator, no wildcard, no U+0000; possibly empty.
fn level() -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        4 => "[a-z0-9$ _-]{0,6}",
        1 => vec(
            any::<char>().prop_filter("not / + # or U+0000", |c| !"/+#\0".contains(*c)),
            0..4,
        )
        .prop_map(String::from_iter),
    ]
}

/// A Topic Name: at least one character, no wildcards (4.7.1, 4.7.3).
pub(crate) fn topic_name() -> impl Strategy<Value = ByteString> + Clone {
    vec(level(), 1..5)
        .prop_map(|levels| levels.join("/"))
        .prop_filter("a topic name has at least one character", |t| !t.is_empty())
        .prop_map(ByteString::from)
}

/// A Topic Filter (4.7.1): `+` fills whole levels, `#` only the last one; sometimes a shared
/// subscription `$share/{name}/{filter}` (5.0 4.8.2). The flag says whether it is shared.
pub(crate) fn topic_filter() -> impl Strategy<Value = (ByteString, bool)> + Clone {
    let plain_level = prop_oneof![3 => level(), 1 => Just("+".to_owned())];
    let plain = (vec(plain_level, 1..5), any::<bool>())
        .prop_map(|(mut levels, multi)| {
            if multi {
                levels.push("#".to_owned());
            }
            levels.join("/")
        })
        .prop_filter(
            "a filter has at least one character and is not shared",
            |f| !f.is_empty() && !f.starts_with("$share/"),
        );
    let share_name = "[a-z0-9]{1,6}";
    prop_oneof![
        4 => plain.clone().prop_map(|f| (ByteString::from(f), false)),
        1 => (share_name, plain)
            .prop_map(|(name, f)| (ByteString::from(format!("$share/{name}/{f}")), true)),
    ]
}
