//! Sweeps: every value of each one-byte field, each expecting a packet or one specific error,
//! never a panic (rustls sweeps its enums this way).
//!
//! The expected outcome comes from a small oracle written from the specs, not from the codec:
//! the first byte (type and flags), property identifiers in every property list, reason codes
//! in every packet that has them, subscription options, CONNECT flags and level, CONNACK flags.

use mqtt_codec::bytes::Bytes;
use mqtt_codec::{
    ConnAck, Connect, Error, Packet, PacketType, Properties, Property, PropertyContext, PropertyId,
    ProtocolVersion, PubAck, PubComp, PubRec, PubRel, Publish, QoS, ReasonCode, RetainHandling,
    SubAck, Subscribe, SubscriptionOptions, UnsubAck, Unsubscribe, Will,
};

use crate::generators::{
    AUTH_CODES, CONNACK_CODES, CONNACK_CODES_V3, DISCONNECT_CODES, PUBACK_CODES, PUBREL_CODES,
    SUBACK_CODES, SUBACK_CODES_V3, UNSUBACK_CODES, allowed_ids,
};
use crate::{VERSIONS, decode_one, encode};

const V311: ProtocolVersion = ProtocolVersion::V3_1_1;
const V5: ProtocolVersion = ProtocolVersion::V5_0;

/// What the first byte alone decides, before the body is looked at.
fn first_byte_error(first: u8, version: ProtocolVersion) -> Option<Error> {
    let flags = first & 0x0F;
    let Some(packet_type) = PacketType::from_nibble(first >> 4) else {
        return Some(Error::ReservedPacketType);
    };
    // Fixed-header flags (3.1.1 table 2.2, 5.0 table 2-2): PUBREL, SUBSCRIBE and UNSUBSCRIBE
    // carry 0010, PUBLISH its own flags, every other type 0000.
    let required = match packet_type {
        PacketType::Publish => None,
        PacketType::PubRel | PacketType::Subscribe | PacketType::Unsubscribe => Some(0b0010),
        _ => Some(0),
    };
    if required.is_some_and(|r| r != flags) {
        return Some(Error::InvalidFlags { packet_type, flags });
    }
    if packet_type == PacketType::Auth && !version.is_v5() {
        return Some(Error::PacketTypeNotInVersion {
            packet_type,
            version,
        });
    }
    if packet_type == PacketType::Publish {
        if flags & 0b0110 == 0b0110 {
            return Some(Error::PublishQoS3);
        }
        if flags & 0b1110 == 0b1000 && version.is_v5() {
            return Some(Error::DupOnQoS0);
        }
    }
    None
}

/// A valid packet whose first byte is `first`, if the first byte allows one.
fn packet_for_first_byte(first: u8, version: ProtocolVersion) -> Packet {
    let packet_type = PacketType::from_nibble(first >> 4).expect("a packet type");
    match packet_type {
        PacketType::Connect => Packet::from(Connect::new(version, "c")),
        PacketType::ConnAck => Packet::ConnAck(ConnAck::new(false, ReasonCode::SUCCESS)),
        PacketType::Publish => {
            let qos = QoS::from_u8((first >> 1) & 0x03).expect("not QoS 3");
            Packet::Publish(Publish {
                dup: first & 0x08 != 0,
                qos,
                retain: first & 0x01 != 0,
                packet_id: if qos == QoS::AtMostOnce { 0 } else { 1 },
                ..Publish::new("a/b", "x")
            })
        }
        PacketType::PubAck => Packet::PubAck(PubAck::new(1)),
        PacketType::PubRec => Packet::PubRec(PubRec::new(1)),
        PacketType::PubRel => Packet::PubRel(PubRel::new(1)),
        PacketType::PubComp => Packet::PubComp(PubComp::new(1)),
        PacketType::Subscribe => Packet::Subscribe(Subscribe::single(1, "a/+", QoS::AtLeastOnce)),
        PacketType::SubAck => Packet::SubAck(SubAck {
            packet_id: 1,
            properties: Properties::new(),
            codes: vec![ReasonCode::GRANTED_QOS_1],
        }),
        PacketType::Unsubscribe => Packet::Unsubscribe(Unsubscribe {
            packet_id: 1,
            properties: Properties::new(),
            filters: vec!["a/#".into()],
        }),
        PacketType::UnsubAck => Packet::UnsubAck(UnsubAck {
            packet_id: 1,
            properties: Properties::new(),
            codes: if version.is_v5() {
                vec![ReasonCode::SUCCESS]
            } else {
                Vec::new()
            },
        }),
        PacketType::PingReq => Packet::PingReq,
        PacketType::PingResp => Packet::PingResp,
        PacketType::Disconnect => Packet::Disconnect(Default::default()),
        PacketType::Auth => Packet::Auth(Default::default()),
    }
}

#[test]
fn every_first_byte_with_a_valid_body_gives_the_packet_or_the_header_error() {
    for version in VERSIONS {
        for first in 0..=u8::MAX {
            let expected = match first_byte_error(first, version) {
                Some(e) => {
                    // The body is irrelevant to a header error; give a plausible one anyway.
                    let got = decode_one(version, &[first, 0x02, 0x00, 0x01]);
                    assert_eq!(got, Err(e), "{first:#04x} under {version}");
                    continue;
                }
                None => packet_for_first_byte(first, version),
            };
            let bytes = encode(&expected, version);
            assert_eq!(bytes[0], first, "the sample packet for {first:#04x}");
            assert_eq!(
                decode_one(version, &bytes),
                Ok(expected),
                "{first:#04x} under {version}"
            );
        }
    }
}

#[test]
fn every_first_byte_with_small_bodies_never_panics() {
    let bodies: &[&[u8]] = &[
        &[],
        &[0x00],
        &[0xFF],
        &[0x00, 0x00],
        &[0x00, 0x01],
        &[0xFF, 0xFF],
        &[0x00, 0x01, 0x00],
        &[0x00, 0x01, b'a'],
        &[0x00, 0x01, 0x80, 0x00],
        &[0x00, 0x01, b'a', 0x00, 0x01, 0x00],
        &[
            0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00,
        ],
    ];
    for version in VERSIONS {
        for first in 0..=u8::MAX {
            for body in bodies {
                let mut bytes = vec![first, u8::try_from(body.len()).expect("small body")];
                bytes.extend_from_slice(body);
                // decode_one checks the buffer contract and that nothing is Incomplete.
                let got = decode_one(version, &bytes);
                if let Some(e) = first_byte_error(first, version) {
                    assert_eq!(got, Err(e), "{bytes:02X?} under {version}");
                }
                if let Err(e) = got {
                    assert!(!e.reason_code().is_success(), "{e:?}");
                    assert!(!e.to_string().is_empty());
                }
            }
        }
    }
}

/// Where a property list sits in a 5.0 packet, and how to build that packet around it.
struct Host {
    context: PropertyContext,
    /// The codec's name for the context, as `Error::PropertyNotAllowed` reports it.
    name: &'static str,
    build: fn(&[u8]) -> Vec<u8>,
    properties: fn(&Packet) -> Properties,
}

/// A fixed header for `first` and `body`.
fn packet(first: u8, body: &[u8]) -> Vec<u8> {
    let len = u8::try_from(body.len()).expect("bodies here stay below 128 bytes");
    assert!(len < 0x80);
    let mut out = vec![first, len];
    out.extend_from_slice(body);
    out
}

/// A property list with its one-byte length prefix.
fn list(props: &[u8]) -> Vec<u8> {
    let mut out = vec![u8::try_from(props.len()).expect("short list")];
    out.extend_from_slice(props);
    out
}

/// PUBACK, PUBREC, PUBREL or PUBCOMP with packet identifier 1, Success and `props`.
fn ack(first: u8, props: &[u8]) -> Vec<u8> {
    packet(first, &[&[0x00, 0x01, 0x00][..], &list(props)].concat())
}

fn hosts() -> Vec<Host> {
    const ACK: &str = "PUBACK/PUBREC/PUBREL/PUBCOMP";
    vec![
        Host {
            context: PropertyContext::Connect,
            name: "CONNECT",
            build: |p| {
                let head = [0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05, 0x02, 0x00, 0x3C];
                packet(0x10, &[&head[..], &list(p), &[0x00, 0x01, b'c']].concat())
            },
            properties: |p| match p {
                Packet::Connect(c) => c.properties.clone(),
                other => panic!("{other:?}"),
            },
        },
        Host {
            context: PropertyContext::Will,
            name: "will properties",
            build: |p| {
                let head = [
                    0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05, 0x06, 0x00, 0x3C, 0x00,
                ];
                let client_id = [0x00, 0x01, b'c'];
                let tail = [0x00, 0x01, b'w', 0x00, 0x00];
                packet(0x10, &[&head[..], &client_id, &list(p), &tail].concat())
            },
            properties: |p| match p {
                Packet::Connect(c) => c.will.as_ref().expect("a will").properties.clone(),
                other => panic!("{other:?}"),
            },
        },
        Host {
            context: PropertyContext::ConnAck,
            name: "CONNACK",
            build: |p| packet(0x20, &[&[0x00, 0x00][..], &list(p)].concat()),
            properties: |p| match p {
                Packet::ConnAck(c) => c.properties.clone(),
                other => panic!("{other:?}"),
            },
        },
        Host {
            context: PropertyContext::Publish,
            name: "PUBLISH",
            build: |p| packet(0x30, &[&[0x00, 0x01, b'a'][..], &list(p), b"x"].concat()),
            properties: |p| match p {
                Packet::Publish(c) => c.properties.clone(),
                other => panic!("{other:?}"),
            },
        },
        Host {
            context: PropertyContext::Ack,
            name: ACK,
            build: |p| ack(0x40, p),
            properties: |p| match p {
                Packet::PubAck(c) => c.properties.clone(),
                other => panic!("{other:?}"),
            },
        },
        Host {
            context: PropertyContext::Ack,
            name: ACK,
            build: |p| ack(0x50, p),
            properties: |p| match p {
                Packet::PubRec(c) => c.properties.clone(),
                other => panic!("{other:?}"),
            },
        },
        Host {
            context: PropertyContext::Ack,
            name: ACK,
            build: |p| ack(0x62, p),
            properties: |p| match p {
                Packet::PubRel(c) => c.properties.clone(),
                other => panic!("{other:?}"),
            },
        },
        Host {
            context: PropertyContext::Ack,
            name: ACK,
            build: |p| ack(0x70, p),
            properties: |p| match p {
                Packet::PubComp(c) => c.properties.clone(),
                other => panic!("{other:?}"),
            },
        },
        Host {
            context: PropertyContext::Subscribe,
            name: "SUBSCRIBE",
            build: |p| {
                packet(
                    0x82,
                    &[&[0x00, 0x01][..], &list(p), &[0, 1, b'a', 1]].concat(),
                )
            },
            properties: |p| match p {
                Packet::Subscribe(c) => c.properties.clone(),
                other => panic!("{other:?}"),
            },
        },
        Host {
            context: PropertyContext::SubAck,
            name: "SUBACK",
            build: |p| packet(0x90, &[&[0x00, 0x01][..], &list(p), &[0x01]].concat()),
            properties: |p| match p {
                Packet::SubAck(c) => c.properties.clone(),
                other => panic!("{other:?}"),
            },
        },
        Host {
            context: PropertyContext::Unsubscribe,
            name: "UNSUBSCRIBE",
            build: |p| packet(0xA2, &[&[0x00, 0x01][..], &list(p), &[0, 1, b'a']].concat()),
            properties: |p| match p {
                Packet::Unsubscribe(c) => c.properties.clone(),
                other => panic!("{other:?}"),
            },
        },
        Host {
            context: PropertyContext::UnsubAck,
            name: "UNSUBACK",
            build: |p| packet(0xB0, &[&[0x00, 0x01][..], &list(p), &[0x00]].concat()),
            properties: |p| match p {
                Packet::UnsubAck(c) => c.properties.clone(),
                other => panic!("{other:?}"),
            },
        },
        Host {
            context: PropertyContext::Disconnect,
            name: "DISCONNECT",
            build: |p| packet(0xE0, &[&[0x00][..], &list(p)].concat()),
            properties: |p| match p {
                Packet::Disconnect(c) => c.properties.clone(),
                other => panic!("{other:?}"),
            },
        },
        Host {
            context: PropertyContext::Auth,
            name: "AUTH",
            build: |p| packet(0xF0, &[&[0x18][..], &list(p)].concat()),
            properties: |p| match p {
                Packet::Auth(c) => c.properties.clone(),
                other => panic!("{other:?}"),
            },
        },
    ]
}

/// A valid encoded value for each defined property, and the property it decodes to
/// (5.0 2.2.2.2); `None` for identifiers the spec does not define.
fn sample(id: u8) -> Option<(&'static [u8], Property)> {
    let s = |v: &str| v.into();
    Some(match id {
        0x01 => (&[0x01], Property::PayloadFormatIndicator(1)),
        0x02 => (&[0, 0, 0, 9], Property::MessageExpiryInterval(9)),
        0x03 => (&[0, 1, b't'], Property::ContentType(s("t"))),
        0x08 => (&[0, 1, b'r'], Property::ResponseTopic(s("r"))),
        0x09 => (
            &[0, 1, 0xFF],
            Property::CorrelationData(Bytes::from_static(&[0xFF])),
        ),
        0x0B => (&[0x80, 0x01], Property::SubscriptionIdentifier(128)),
        0x11 => (&[0, 0, 1, 0], Property::SessionExpiryInterval(256)),
        0x12 => (&[0, 1, b'i'], Property::AssignedClientIdentifier(s("i"))),
        0x13 => (&[0, 30], Property::ServerKeepAlive(30)),
        0x15 => (&[0, 1, b'm'], Property::AuthenticationMethod(s("m"))),
        0x16 => (&[0, 0], Property::AuthenticationData(Bytes::new())),
        0x17 => (&[0x00], Property::RequestProblemInformation(0)),
        0x18 => (&[0, 0, 0, 5], Property::WillDelayInterval(5)),
        0x19 => (&[0x01], Property::RequestResponseInformation(1)),
        0x1A => (&[0, 1, b'o'], Property::ResponseInformation(s("o"))),
        0x1C => (&[0, 1, b'h'], Property::ServerReference(s("h"))),
        0x1F => (&[0, 1, b'?'], Property::ReasonString(s("?"))),
        0x21 => (&[0, 10], Property::ReceiveMaximum(10)),
        0x22 => (&[0, 0], Property::TopicAliasMaximum(0)),
        0x23 => (&[0, 7], Property::TopicAlias(7)),
        0x24 => (&[0x01], Property::MaximumQoS(1)),
        0x25 => (&[0x00], Property::RetainAvailable(0)),
        0x26 => (
            &[0, 1, b'k', 0, 1, b'v'],
            Property::UserProperty(s("k"), s("v")),
        ),
        0x27 => (&[0, 0, 4, 0], Property::MaximumPacketSize(1024)),
        0x28 => (&[0x01], Property::WildcardSubscriptionAvailable(1)),
        0x29 => (&[0x00], Property::SubscriptionIdentifierAvailable(0)),
        0x2A => (&[0x01], Property::SharedSubscriptionAvailable(1)),
        _ => return None,
    })
}

#[test]
fn every_property_identifier_in_every_property_list() {
    for host in hosts() {
        for id in 0..=0x7Fu8 {
            let (value, property) = match sample(id) {
                Some((value, property)) => (value, Some(property)),
                None => (&[0x00][..], None),
            };
            let props = [&[id][..], value].concat();
            let bytes = (host.build)(&props);
            let got = decode_one(V5, &bytes);
            let what = format!("property {id:#04x} in {}: {bytes:02X?}", host.name);
            match property {
                None => assert_eq!(got, Err(Error::UnknownProperty { id: id.into() }), "{what}"),
                Some(_) if !allowed_ids(host.context).contains(&id) => assert_eq!(
                    got,
                    Err(Error::PropertyNotAllowed {
                        property: PropertyId(id),
                        context: host.name,
                    }),
                    "{what}"
                ),
                // Authentication Data needs an Authentication Method in CONNECT (3.1.2.11.10).
                Some(_) if id == 0x16 && host.context == PropertyContext::Connect => {
                    assert_eq!(got, Err(Error::AuthenticationDataWithoutMethod), "{what}");
                }
                Some(p) => {
                    let packet = got.unwrap_or_else(|e| panic!("{what}: {e:?}"));
                    assert_eq!((host.properties)(&packet).to_vec(), vec![p], "{what}");
                }
            }
        }
    }
}

/// One packet type's reason code position: how to build it, and the codes it may carry.
struct Codes {
    packet_type: PacketType,
    version: ProtocolVersion,
    allowed: &'static [u8],
    build: fn(u8) -> Vec<u8>,
    code: fn(&Packet) -> ReasonCode,
}

fn reason_code_positions() -> Vec<Codes> {
    vec![
        Codes {
            packet_type: PacketType::ConnAck,
            version: V311,
            allowed: CONNACK_CODES_V3,
            build: |c| vec![0x20, 0x02, 0x00, c],
            code: |p| match p {
                Packet::ConnAck(c) => c.code,
                other => panic!("{other:?}"),
            },
        },
        Codes {
            packet_type: PacketType::ConnAck,
            version: V5,
            allowed: CONNACK_CODES,
            build: |c| vec![0x20, 0x03, 0x00, c, 0x00],
            code: |p| match p {
                Packet::ConnAck(c) => c.code,
                other => panic!("{other:?}"),
            },
        },
        Codes {
            packet_type: PacketType::PubAck,
            version: V5,
            allowed: PUBACK_CODES,
            build: |c| vec![0x40, 0x03, 0x00, 0x01, c],
            code: |p| match p {
                Packet::PubAck(c) => c.reason,
                other => panic!("{other:?}"),
            },
        },
        Codes {
            packet_type: PacketType::PubRec,
            version: V5,
            allowed: PUBACK_CODES,
            build: |c| vec![0x50, 0x04, 0x00, 0x01, c, 0x00],
            code: |p| match p {
                Packet::PubRec(c) => c.reason,
                other => panic!("{other:?}"),
            },
        },
        Codes {
            packet_type: PacketType::PubRel,
            version: V5,
            allowed: PUBREL_CODES,
            build: |c| vec![0x62, 0x03, 0x00, 0x01, c],
            code: |p| match p {
                Packet::PubRel(c) => c.reason,
                other => panic!("{other:?}"),
            },
        },
        Codes {
            packet_type: PacketType::PubComp,
            version: V5,
            allowed: PUBREL_CODES,
            build: |c| vec![0x70, 0x04, 0x00, 0x01, c, 0x00],
            code: |p| match p {
                Packet::PubComp(c) => c.reason,
                other => panic!("{other:?}"),
            },
        },
        Codes {
            packet_type: PacketType::SubAck,
            version: V311,
            allowed: SUBACK_CODES_V3,
            build: |c| vec![0x90, 0x03, 0x00, 0x01, c],
            code: |p| match p {
                Packet::SubAck(c) => c.codes[0],
                other => panic!("{other:?}"),
            },
        },
        Codes {
            packet_type: PacketType::SubAck,
            version: V5,
            allowed: SUBACK_CODES,
            build: |c| vec![0x90, 0x04, 0x00, 0x01, 0x00, c],
            code: |p| match p {
                Packet::SubAck(c) => c.codes[0],
                other => panic!("{other:?}"),
            },
        },
        Codes {
            packet_type: PacketType::UnsubAck,
            version: V5,
            allowed: UNSUBACK_CODES,
            build: |c| vec![0xB0, 0x04, 0x00, 0x01, 0x00, c],
            code: |p| match p {
                Packet::UnsubAck(c) => c.codes[0],
                other => panic!("{other:?}"),
            },
        },
        Codes {
            packet_type: PacketType::Disconnect,
            version: V5,
            allowed: DISCONNECT_CODES,
            build: |c| vec![0xE0, 0x01, c],
            code: |p| match p {
                Packet::Disconnect(c) => c.reason,
                other => panic!("{other:?}"),
            },
        },
        Codes {
            packet_type: PacketType::Auth,
            version: V5,
            allowed: AUTH_CODES,
            build: |c| vec![0xF0, 0x02, c, 0x00],
            code: |p| match p {
                Packet::Auth(c) => c.reason,
                other => panic!("{other:?}"),
            },
        },
    ]
}

#[test]
fn every_reason_code_byte_in_each_packet_that_carries_one() {
    for position in reason_code_positions() {
        for code in 0..=u8::MAX {
            let bytes = (position.build)(code);
            let got = decode_one(position.version, &bytes);
            let what = format!("{:02X?} under {}", bytes, position.version);
            if position.allowed.contains(&code) {
                let packet = got.unwrap_or_else(|e| panic!("{what}: {e:?}"));
                assert_eq!((position.code)(&packet), ReasonCode(code), "{what}");
            } else {
                assert_eq!(
                    got,
                    Err(Error::InvalidReasonCode {
                        packet_type: position.packet_type,
                        code,
                    }),
                    "{what}"
                );
            }
        }
    }
}

#[test]
fn every_subscription_options_byte() {
    for version in [ProtocolVersion::V3_1, V311, V5] {
        for options in 0..=u8::MAX {
            let mut bytes = vec![0x82, 0x00, 0x00, 0x01];
            if version.is_v5() {
                bytes.push(0x00); // property length 0
            }
            bytes.extend_from_slice(&[0x00, 0x01, b'a', options]);
            bytes[1] = u8::try_from(bytes.len() - 2).expect("short");
            // Reserved bits: 7-2 in 3.1.1 (MQTT-3.8.3-4), 7-6 in 5.0 (MQTT-3.8.3-5).
            let reserved = if version.is_v5() { 0xC0 } else { 0xFC };
            let expected = if options & reserved != 0 {
                Err(Error::SubscriptionOptionsReserved { options })
            } else if options & 0x03 == 3 {
                Err(Error::SubscriptionQoS3)
            } else if options & 0x30 == 0x30 {
                Err(Error::RetainHandling3)
            } else {
                let rh = match (options >> 4) & 0x03 {
                    0 => RetainHandling::SendAtSubscribe,
                    1 => RetainHandling::SendIfNew,
                    _ => RetainHandling::DoNotSend,
                };
                Ok(Packet::Subscribe(Subscribe {
                    packet_id: 1,
                    properties: Properties::new(),
                    filters: vec![mqtt_codec::Subscription {
                        filter: "a".into(),
                        options: SubscriptionOptions {
                            qos: QoS::from_u8(options & 0x03).expect("not 3"),
                            no_local: options & 0x04 != 0,
                            retain_as_published: options & 0x08 != 0,
                            retain_handling: rh,
                        },
                    }],
                }))
            };
            assert_eq!(
                decode_one(version, &bytes),
                expected,
                "{options:#010b} under {version}"
            );
        }
    }
}

#[test]
fn every_connect_flags_byte() {
    for version in VERSIONS {
        for flags in 0..=u8::MAX {
            let reserved = flags & 0x01 != 0;
            let will = flags & 0x04 != 0;
            let will_qos = (flags >> 3) & 0x03;
            let will_retain = flags & 0x20 != 0;
            let password = flags & 0x40 != 0;
            let username = flags & 0x80 != 0;
            // The payload holds exactly the fields the flags announce.
            let v5 = version.is_v5();
            let name = version.protocol_name().as_bytes();
            let mut body = vec![0x00, u8::try_from(name.len()).expect("short")];
            body.extend_from_slice(name);
            body.extend_from_slice(&[version.level(), flags, 0x00, 0x3C]);
            if v5 {
                body.push(0x00); // property length 0
            }
            body.extend_from_slice(&[0x00, 0x01, b'c']); // client identifier "c"
            if will {
                if v5 {
                    body.push(0x00); // will property length 0
                }
                body.extend_from_slice(&[0x00, 0x01, b'w', 0x00, 0x01, b'm']);
            }
            if username {
                body.extend_from_slice(&[0x00, 0x01, b'u']);
            }
            if password {
                body.extend_from_slice(&[0x00, 0x01, b'p']);
            }
            let bytes = packet(0x10, &body);
            let expected = if reserved {
                Err(Error::ConnectReservedFlag)
            } else if will_qos == 3 {
                Err(Error::WillQoS3)
            } else if !will && (will_qos != 0 || will_retain) {
                Err(Error::WillFlagsWithoutWill)
            } else if password && !username && !v5 {
                Err(Error::PasswordWithoutUsername)
            } else {
                Ok(Packet::from(Connect {
                    clean_start: flags & 0x02 != 0,
                    will: will.then(|| Will {
                        topic: "w".into(),
                        payload: Bytes::from_static(b"m"),
                        qos: QoS::from_u8(will_qos).expect("not 3"),
                        retain: will_retain,
                        properties: Properties::new(),
                    }),
                    username: username.then(|| "u".into()),
                    password: password.then(|| Bytes::from_static(b"p")),
                    ..Connect::new(version, "c")
                }))
            };
            assert_eq!(
                decode_one(version, &bytes),
                expected,
                "{flags:#010b} under {version}"
            );
        }
    }
}

#[test]
fn every_connect_protocol_level() {
    for (name, ok_levels) in [(&b"MQTT"[..], &[4u8, 5][..]), (&b"MQIsdp"[..], &[3][..])] {
        for level in 0..=u8::MAX {
            let mut body = vec![0x00, u8::try_from(name.len()).expect("short")];
            body.extend_from_slice(name);
            body.extend_from_slice(&[level, 0x02, 0x00, 0x3C]);
            if level == 5 {
                body.push(0x00); // property length 0
            }
            body.extend_from_slice(&[0x00, 0x01, b'c']);
            let bytes = packet(0x10, &body);
            // CONNECT carries its own level; the decoder's version does not matter.
            let got = decode_one(V311, &bytes);
            if ok_levels.contains(&level) {
                let version = ProtocolVersion::from_level(level).expect("a known level");
                assert_eq!(got, Ok(Packet::from(Connect::new(version, "c"))));
            } else {
                assert_eq!(got, Err(Error::UnsupportedProtocolLevel { level }));
            }
        }
    }
}

#[test]
fn every_connack_acknowledge_flags_byte() {
    for version in VERSIONS {
        for flags in 0..=u8::MAX {
            let mut bytes = vec![0x20, 0x02, flags, 0x00];
            if version.is_v5() {
                bytes.push(0x00); // property length 0
                bytes[1] = 0x03;
            }
            // Bits 7-1 are reserved (3.2.2.1).
            let expected = if flags & 0xFE != 0 {
                Err(Error::ConnAckReservedFlags { flags })
            } else {
                Ok(Packet::ConnAck(ConnAck::new(
                    flags == 1,
                    ReasonCode::SUCCESS,
                )))
            };
            assert_eq!(decode_one(version, &bytes), expected, "{flags:#010b}");
        }
    }
}
