//! `Arbitrary` for the packet types (feature `arbitrary`), for the `packet` fuzz target.
//!
//! Written by hand rather than derived because `ByteString` and `Bytes` have no `Arbitrary`,
//! and because uniformly random values would almost never pass validation: strings and topics
//! are built mostly from MQTT tokens (`/`, `+`, `#`, `$share/`, U+0000, multi-byte UTF-8),
//! reason codes mostly from the named ones, SUBSCRIBE and UNSUBSCRIBE mostly well formed (so
//! the network fuzzer reaches the broker's subscription state), and a rare mode makes fields
//! too long for their length prefix so the encoder's errors are reached too.

use ::arbitrary::{Arbitrary, Result, Unstructured};
use bytes::Bytes;
use bytestring::ByteString;

use crate::packet::{
    Auth, ConnAck, Connect, Disconnect, Packet, PubAck, PubComp, PubRec, PubRel, Publish, QoS,
    SubAck, Subscribe, Subscription, SubscriptionOptions, UnsubAck, Unsubscribe, Will,
};
use crate::properties::{Properties, Property, PropertyId};
use crate::reason::ReasonCode;
use crate::version::ProtocolVersion;

/// Pieces that strings and topics are assembled from.
const TOKENS: &[&str] = &[
    "a", "b", "/", "+", "#", "$share/", "g", "$SYS", "sport", "tennis", "\0", "é", "€", "𝄞", "",
    " ", "MQTT", "MQIsdp",
];

/// Reason codes worth picking more often than a random byte: every named one.
const REASONS: &[u8] = &[
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x10, 0x11, 0x18, 0x19, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85,
    0x86, 0x87, 0x88, 0x89, 0x8A, 0x8B, 0x8C, 0x8D, 0x8E, 0x8F, 0x90, 0x91, 0x92, 0x93, 0x94, 0x95,
    0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2,
];

/// At most this many items in a generated list (properties, filters, codes).
const MAX_ITEMS: usize = 8;

/// One more than the longest string or binary field a two-byte length can carry.
const TOO_LONG: usize = u16::MAX as usize + 1;

fn string(u: &mut Unstructured<'_>) -> Result<ByteString> {
    Ok(match u.int_in_range(0..=15u8)? {
        0..=9 => {
            let mut s = String::new();
            for _ in 0..u.int_in_range(0..=6u8)? {
                s.push_str(u.choose(TOKENS)?);
            }
            s.into()
        }
        10..=14 => String::arbitrary(u)?.into(),
        _ => "x".repeat(TOO_LONG + usize::from(u8::arbitrary(u)?)).into(),
    })
}

fn bytes(u: &mut Unstructured<'_>) -> Result<Bytes> {
    Ok(if u.ratio(1, 32)? {
        Bytes::from(vec![0xa5; TOO_LONG])
    } else {
        Bytes::from(Vec::<u8>::arbitrary(u)?)
    })
}

fn reason(u: &mut Unstructured<'_>) -> Result<ReasonCode> {
    Ok(ReasonCode(if u.ratio(3, 4)? {
        *u.choose(REASONS)?
    } else {
        u8::arbitrary(u)?
    }))
}

/// A one-byte property value: mostly 0 or 1, the only values allowed.
fn flag(u: &mut Unstructured<'_>) -> Result<u8> {
    if u.ratio(7, 8)? {
        u.int_in_range(0..=1)
    } else {
        u8::arbitrary(u)
    }
}

fn list<'a, T>(
    u: &mut Unstructured<'a>,
    mut item: impl FnMut(&mut Unstructured<'a>) -> Result<T>,
) -> Result<Vec<T>> {
    let mut items = Vec::new();
    while items.len() < MAX_ITEMS && bool::arbitrary(u)? {
        items.push(item(u)?);
    }
    Ok(items)
}

fn option<'a, T>(
    u: &mut Unstructured<'a>,
    item: impl FnOnce(&mut Unstructured<'a>) -> Result<T>,
) -> Result<Option<T>> {
    Ok(if bool::arbitrary(u)? {
        Some(item(u)?)
    } else {
        None
    })
}

/// One field of a value of wire type `$ty`: flags mostly 0 or 1, the rest any value.
macro_rules! arbitrary_field {
    ($u:ident, Byte) => {
        flag($u)?
    };
    ($u:ident, TwoByte) => {
        u16::arbitrary($u)?
    };
    ($u:ident, FourByte) => {
        u32::arbitrary($u)?
    };
    ($u:ident, VarInt) => {
        u32::arbitrary($u)?
    };
    ($u:ident, String) => {
        string($u)?
    };
    ($u:ident, Binary) => {
        bytes($u)?
    };
    ($u:ident, Pair) => {
        string($u)?
    };
}

/// `Arbitrary` for `Property` from the property table: a known identifier, then its value.
macro_rules! arbitrary_property {
    (single { $($single:tt)* } list { $($list:tt)* }) => {
        arbitrary_property!(@rows $($single)* $($list)*);
    };
    (@rows $($(#[$doc:meta])* $variant:ident($($field:ident),+) = $id:literal, $cid:ident,
        $key:ident, $name:literal, $ty:ident, $rule:ident, [$($ctx:ident),*];)*) => {
        impl<'a> Arbitrary<'a> for Property {
            fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
                let id = *u.choose(PropertyId::ALL)?;
                Ok(match id {
                    $(PropertyId::$cid => {
                        $(let $field = arbitrary_field!(u, $ty);)+
                        Self::$variant($($field),+)
                    })*
                    // PropertyId::ALL holds only the table's identifiers.
                    _ => return Err(arbitrary::Error::IncorrectFormat),
                })
            }
        }
    };
}

crate::for_each_property!(arbitrary_property);

impl<'a> Arbitrary<'a> for Properties {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(Self::from(list(u, Property::arbitrary)?))
    }
}

impl<'a> Arbitrary<'a> for Will {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(Self {
            topic: string(u)?,
            payload: bytes(u)?,
            qos: QoS::arbitrary(u)?,
            retain: bool::arbitrary(u)?,
            properties: Properties::arbitrary(u)?,
        })
    }
}

impl<'a> Arbitrary<'a> for Connect {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(Self {
            protocol: ProtocolVersion::arbitrary(u)?,
            clean_start: bool::arbitrary(u)?,
            keep_alive: u16::arbitrary(u)?,
            properties: Properties::arbitrary(u)?,
            client_id: string(u)?,
            will: option(u, Will::arbitrary)?,
            username: option(u, string)?,
            password: option(u, bytes)?,
        })
    }
}

impl<'a> Arbitrary<'a> for ConnAck {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(Self {
            session_present: bool::arbitrary(u)?,
            code: reason(u)?,
            properties: Properties::arbitrary(u)?,
        })
    }
}

impl<'a> Arbitrary<'a> for Publish {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(Self {
            dup: bool::arbitrary(u)?,
            qos: QoS::arbitrary(u)?,
            retain: bool::arbitrary(u)?,
            topic: string(u)?,
            packet_id: u16::arbitrary(u)?,
            properties: Properties::arbitrary(u)?,
            payload: bytes(u)?,
        })
    }
}

macro_rules! arbitrary_ack {
    ($($name:ident),*) => {
        $(impl<'a> Arbitrary<'a> for $name {
            fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
                Ok(Self {
                    packet_id: u16::arbitrary(u)?,
                    reason: reason(u)?,
                    properties: Properties::arbitrary(u)?,
                })
            }
        })*
    };
}

arbitrary_ack!(PubAck, PubRec, PubRel, PubComp);

/// Levels that well-formed topic filters are built from.
const LEVELS: &[&str] = &["a", "b", "sport", "tennis", "player1", "é", "+"];

/// A topic filter: mostly a well-formed one (one to four levels of names or `+`, perhaps a
/// final `#`, perhaps shared), so that SUBSCRIBE and UNSUBSCRIBE get past validation into the
/// broker's subscription state; else any string.
fn filter(u: &mut Unstructured<'_>) -> Result<ByteString> {
    if u.ratio(1, 4)? {
        return string(u);
    }
    if u.ratio(1, 16)? {
        return Ok("#".into());
    }
    let mut f = String::new();
    if u.ratio(1, 8)? {
        f.push_str("$share/g/");
    }
    for i in 0..u.int_in_range(1..=4u8)? {
        if i > 0 {
            f.push('/');
        }
        f.push_str(u.choose(LEVELS)?);
    }
    if u.ratio(1, 4)? {
        f.push_str("/#");
    }
    Ok(f.into())
}

/// A filter list: mostly not empty (an empty one is a protocol error, MQTT-3.8.3-3 and
/// MQTT-3.10.3-2, which the broker rejects before its subscription state).
fn filters<'a, T>(
    u: &mut Unstructured<'a>,
    mut item: impl FnMut(&mut Unstructured<'a>) -> Result<T>,
) -> Result<Vec<T>> {
    let mut items = Vec::new();
    if u.ratio(15, 16)? {
        items.push(item(u)?);
    }
    items.extend(list(u, item)?.into_iter().take(MAX_ITEMS - items.len()));
    Ok(items)
}

/// SUBSCRIBE (`identifier`) or UNSUBSCRIBE properties: mostly only the ones the packet may
/// carry (a Subscription Identifier from 1 to 268,435,455, User Properties); else any.
fn request_properties(u: &mut Unstructured<'_>, identifier: bool) -> Result<Properties> {
    if u.ratio(1, 4)? {
        return Properties::arbitrary(u);
    }
    let mut p = Properties::new();
    if identifier && bool::arbitrary(u)? {
        p.push(Property::SubscriptionIdentifier(
            u.int_in_range(1..=268_435_455)?,
        ));
    }
    for _ in 0..u.int_in_range(0..=2u8)? {
        let name = ByteString::from(*u.choose(LEVELS)?);
        p.push(Property::UserProperty(
            name,
            u.choose(LEVELS)?.to_string().into(),
        ));
    }
    Ok(p)
}

impl<'a> Arbitrary<'a> for Subscription {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(Self {
            filter: filter(u)?,
            // Half the time only a QoS: the one options byte valid under 3.1.1 too.
            options: if bool::arbitrary(u)? {
                SubscriptionOptions::qos(QoS::arbitrary(u)?)
            } else {
                SubscriptionOptions::arbitrary(u)?
            },
        })
    }
}

impl<'a> Arbitrary<'a> for Subscribe {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(Self {
            packet_id: u16::arbitrary(u)?,
            properties: request_properties(u, true)?,
            filters: filters(u, Subscription::arbitrary)?,
        })
    }
}

impl<'a> Arbitrary<'a> for SubAck {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(Self {
            packet_id: u16::arbitrary(u)?,
            properties: Properties::arbitrary(u)?,
            codes: list(u, reason)?,
        })
    }
}

impl<'a> Arbitrary<'a> for Unsubscribe {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(Self {
            packet_id: u16::arbitrary(u)?,
            properties: request_properties(u, false)?,
            filters: filters(u, filter)?,
        })
    }
}

impl<'a> Arbitrary<'a> for UnsubAck {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(Self {
            packet_id: u16::arbitrary(u)?,
            properties: Properties::arbitrary(u)?,
            codes: list(u, reason)?,
        })
    }
}

impl<'a> Arbitrary<'a> for Disconnect {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(Self {
            reason: reason(u)?,
            properties: Properties::arbitrary(u)?,
        })
    }
}

impl<'a> Arbitrary<'a> for Auth {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(Self {
            reason: reason(u)?,
            properties: Properties::arbitrary(u)?,
        })
    }
}

impl<'a> Arbitrary<'a> for Packet {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match u.int_in_range(0..=14u8)? {
            0 => Self::Connect(Box::new(Connect::arbitrary(u)?)),
            1 => Self::ConnAck(ConnAck::arbitrary(u)?),
            2 => Self::Publish(Publish::arbitrary(u)?),
            3 => Self::PubAck(PubAck::arbitrary(u)?),
            4 => Self::PubRec(PubRec::arbitrary(u)?),
            5 => Self::PubRel(PubRel::arbitrary(u)?),
            6 => Self::PubComp(PubComp::arbitrary(u)?),
            7 => Self::Subscribe(Subscribe::arbitrary(u)?),
            8 => Self::SubAck(SubAck::arbitrary(u)?),
            9 => Self::Unsubscribe(Unsubscribe::arbitrary(u)?),
            10 => Self::UnsubAck(UnsubAck::arbitrary(u)?),
            11 => Self::PingReq,
            12 => Self::PingResp,
            13 => Self::Disconnect(Disconnect::arbitrary(u)?),
            _ => Self::Auth(Auth::arbitrary(u)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Decoded, Decoder};
    use bytes::BytesMut;

    /// The share of `n` generated packets (from fixed pseudo-random bytes) that encode under
    /// `version` and decode again under the strict codec.
    fn valid_share(
        n: u32,
        version: ProtocolVersion,
        make: fn(&mut Unstructured<'_>) -> Packet,
    ) -> f64 {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut valid = 0;
        for _ in 0..n {
            let seed: Vec<u8> = (0..256)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state.to_le_bytes()[0]
                })
                .collect();
            let mut packet = make(&mut Unstructured::new(&seed));
            // 5.0's option bits are reserved in 3.1.1; the network fuzzer clears them there.
            if let (Packet::Subscribe(s), ProtocolVersion::V3_1_1) = (&mut packet, version) {
                for f in &mut s.filters {
                    f.options = SubscriptionOptions::qos(f.options.qos);
                }
            }
            let Ok(wire) = packet.to_bytes(version) else {
                continue;
            };
            let mut buf = BytesMut::from(&wire[..]);
            if let Ok(Decoded::Packet(_)) = Decoder::new(version).decode(&mut buf) {
                valid += 1;
            }
        }
        f64::from(valid) / f64::from(n)
    }

    #[test]
    fn most_generated_subscribe_and_unsubscribe_packets_are_valid() {
        let subscribe =
            |u: &mut Unstructured<'_>| Packet::Subscribe(Subscribe::arbitrary(u).unwrap());
        let unsubscribe =
            |u: &mut Unstructured<'_>| Packet::Unsubscribe(Unsubscribe::arbitrary(u).unwrap());
        for version in [ProtocolVersion::V3_1_1, ProtocolVersion::V5_0] {
            for (name, make) in [
                (
                    "SUBSCRIBE",
                    subscribe as fn(&mut Unstructured<'_>) -> Packet,
                ),
                ("UNSUBSCRIBE", unsubscribe),
            ] {
                let share = valid_share(400, version, make);
                println!("{name} {version:?}: {:.0} % valid", share * 100.0);
                assert!(share >= 0.5, "{name} {version:?}: only {share} valid");
            }
        }
    }
}
