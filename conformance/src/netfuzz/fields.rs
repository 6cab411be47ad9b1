//! Field-aware mutation and shrinking: a frame the strict codec decodes is changed as a
//! packet (its topic, flags, packet id, properties, filters, reason code or remaining length)
//! and encoded again, so the result is still mostly well-formed and reaches the broker's
//! state machine; the minimiser uses the same decoding to shrink a finding's frames field by
//! field.

use arbitrary::{Arbitrary, Unstructured};
use bytes::BytesMut;
use mqtt_codec::{
    ByteString, Decoded, Decoder, FixedHeader, Packet, Properties, Property, QoS, ReasonCode,
};

use super::generate::{Frame, Rng};
use crate::scenario::Version;

/// Topic names and filters that sit on the spec's edges (wildcards where they are not
/// allowed, `$` topics, empty levels, a shared subscription, an empty string).
const TOPICS: &[&str] = &[
    "",
    "a/+",
    "#",
    "a/#/b",
    "+a",
    "$SYS/x",
    "$share/g/a",
    "$share//a",
    "/",
    "a//b",
    "é/ü",
];

/// The packet `bytes` holds, when the strict codec decodes exactly one under `v`.
pub fn decode(bytes: &[u8], v: Version) -> Option<Packet> {
    let mut buf = BytesMut::from(bytes);
    match Decoder::new(v.protocol()).decode(&mut buf) {
        Ok(Decoded::Packet(p)) if buf.is_empty() => Some(p),
        _ => None,
    }
}

/// `p` encoded for `v` as a frame (`None` when the codec cannot encode it at all).
pub fn frame(p: &Packet, v: Version, what: String) -> Option<Frame> {
    let bytes = p.to_bytes(v.protocol()).ok()?;
    Some(Frame {
        bytes: bytes.to_vec(),
        what,
    })
}

/// One field-aware mutation of `p`, encoded for `v`, described in the frame's `what`.
pub fn mutate(rng: &mut Rng, p: &Packet, v: Version) -> Option<Frame> {
    let mut p = p.clone();
    let change = match rng.below(6) {
        0 | 1 if v.is_v5() && properties_mut(&mut p).is_some() => properties(rng, &mut p),
        2 => return remaining_length(rng, &p, v),
        _ => field(rng, &mut p),
    };
    frame(&p, v, format!("{} ({change})", crate::client::summary(&p)))
}

/// A change to one field of the packet itself.
fn field(rng: &mut Rng, p: &mut Packet) -> &'static str {
    match p {
        Packet::Publish(pb) => match rng.below(4) {
            0 => {
                pb.topic = topic(rng);
                "topic changed"
            }
            1 => {
                pb.qos = qos(rng);
                pb.dup = rng.chance(1, 2);
                "QoS and DUP changed"
            }
            2 => {
                pb.packet_id = packet_id(rng, pb.packet_id);
                "packet id changed"
            }
            _ => {
                pb.retain = !pb.retain;
                "RETAIN flipped"
            }
        },
        Packet::Subscribe(s) => match (rng.below(3), s.filters.first().cloned()) {
            (0, Some(mut first)) => {
                first.filter = topic(rng);
                first.options.qos = qos(rng);
                s.filters.push(first);
                "filter added"
            }
            (1, _) => {
                s.filters.clear();
                "filters removed"
            }
            _ => {
                s.packet_id = packet_id(rng, s.packet_id);
                "packet id changed"
            }
        },
        Packet::Unsubscribe(u) => match rng.below(3) {
            0 => {
                u.filters.push(topic(rng));
                "filter added"
            }
            1 => {
                u.filters.clear();
                "filters removed"
            }
            _ => {
                u.packet_id = packet_id(rng, u.packet_id);
                "packet id changed"
            }
        },
        Packet::PubAck(a) => ack(rng, &mut a.packet_id, &mut a.reason),
        Packet::PubRec(a) => ack(rng, &mut a.packet_id, &mut a.reason),
        Packet::PubRel(a) => ack(rng, &mut a.packet_id, &mut a.reason),
        Packet::PubComp(a) => ack(rng, &mut a.packet_id, &mut a.reason),
        Packet::Connect(c) => match rng.below(3) {
            0 => {
                c.keep_alive = [0, 1, u16::MAX][rng.below(3)];
                "keep alive changed"
            }
            1 => {
                c.clean_start = !c.clean_start;
                "clean start flipped"
            }
            _ => {
                c.client_id = ["", "a/b", "#"][rng.below(3)].into();
                "client id changed"
            }
        },
        Packet::Disconnect(d) => {
            d.reason = ReasonCode(rng.byte());
            "reason code changed"
        }
        Packet::Auth(a) => {
            a.reason = ReasonCode(rng.byte());
            "reason code changed"
        }
        _ => "unchanged",
    }
}

fn ack(rng: &mut Rng, id: &mut u16, reason: &mut ReasonCode) -> &'static str {
    if rng.chance(1, 2) {
        *id = packet_id(rng, *id);
        "packet id changed"
    } else {
        *reason = ReasonCode(rng.byte());
        "reason code changed"
    }
}

/// Adds an arbitrary property (any identifier, any value, maybe not allowed here), repeats
/// one, removes one, or removes them all.
fn properties(rng: &mut Rng, p: &mut Packet) -> &'static str {
    let data = rng.bytes(64);
    let added = Property::arbitrary(&mut Unstructured::new(&data)).ok();
    let pick = rng.below(4);
    let at = rng.next_u64();
    let Some(props) = properties_mut(p) else {
        return "unchanged";
    };
    let list = props.to_vec();
    match (pick, added) {
        (0, Some(added)) => {
            props.push(added);
            "property added"
        }
        (1, _) if !list.is_empty() => {
            props.push(list[usize::try_from(at).unwrap_or(0) % list.len()].clone());
            "property repeated"
        }
        (2, _) if !list.is_empty() => {
            let mut list = list;
            list.remove(usize::try_from(at).unwrap_or(0) % list.len());
            *props = Properties::from(list);
            "property removed"
        }
        _ => {
            *props = Properties::new();
            "properties removed"
        }
    }
}

/// The packet encoded with a Remaining Length that lies by a few bytes (the body unchanged).
fn remaining_length(rng: &mut Rng, p: &Packet, v: Version) -> Option<Frame> {
    let bytes = p.to_bytes(v.protocol()).ok()?;
    let header = FixedHeader::parse(&bytes).ok()??;
    let body = bytes.get(header.header_len..)?;
    let delta = 1 + u32::from(rng.byte() % 4);
    let len = if rng.chance(1, 2) {
        header.remaining_length.saturating_sub(delta)
    } else {
        header.remaining_length + delta
    };
    let mut out = Vec::with_capacity(bytes.len() + 4);
    FixedHeader::new(header.packet_type, header.flags, len).encode(&mut out);
    out.extend_from_slice(body);
    Some(Frame {
        bytes: out,
        what: format!(
            "{} (remaining length {} for {} bytes)",
            crate::client::summary(p),
            len,
            body.len()
        ),
    })
}

fn topic(rng: &mut Rng) -> ByteString {
    if rng.chance(1, 8) {
        return "t/".repeat(200).into();
    }
    TOPICS[rng.below(TOPICS.len())].into()
}

fn qos(rng: &mut Rng) -> QoS {
    QoS::from_u8(u8::try_from(rng.below(3)).unwrap_or(0)).unwrap_or_default()
}

/// 0 (never valid), the largest, a neighbour of the current one, or the same again.
fn packet_id(rng: &mut Rng, current: u16) -> u16 {
    [0, u16::MAX, current.wrapping_add(1), current][rng.below(4)]
}

/// The packet's property list, for the packets that carry one.
pub fn properties_mut(p: &mut Packet) -> Option<&mut Properties> {
    Some(match p {
        Packet::Connect(c) => &mut c.properties,
        Packet::ConnAck(c) => &mut c.properties,
        Packet::Publish(pb) => &mut pb.properties,
        Packet::PubAck(a) => &mut a.properties,
        Packet::PubRec(a) => &mut a.properties,
        Packet::PubRel(a) => &mut a.properties,
        Packet::PubComp(a) => &mut a.properties,
        Packet::Subscribe(s) => &mut s.properties,
        Packet::SubAck(s) => &mut s.properties,
        Packet::Unsubscribe(u) => &mut u.properties,
        Packet::UnsubAck(u) => &mut u.properties,
        Packet::Disconnect(d) => &mut d.properties,
        Packet::Auth(a) => &mut a.properties,
        Packet::PingReq | Packet::PingResp => return None,
    })
}

/// Smaller versions of `p` to try when minimising, simplest first: no properties, then one
/// property fewer, a one-character topic, an empty payload, only the first filter.
pub fn shrink(p: &Packet) -> Vec<Packet> {
    let mut out = Vec::new();
    let mut q = p.clone();
    if let Some(props) = properties_mut(&mut q) {
        let list = props.to_vec();
        if !list.is_empty() {
            *props = Properties::new();
            out.push(q.clone());
        }
        for i in 0..list.len().min(8) {
            let mut fewer = list.clone();
            fewer.remove(i);
            if let Some(props) = properties_mut(&mut q) {
                *props = Properties::from(fewer);
            }
            if list.len() > 1 {
                out.push(q.clone());
            }
        }
    }
    out.extend(shrink_fields(p));
    out
}

fn shrink_fields(p: &Packet) -> Vec<Packet> {
    let mut out = Vec::new();
    match p {
        Packet::Publish(pb) => {
            if pb.topic.len() > 1 {
                let mut q = pb.clone();
                q.topic = pb.topic.chars().take(1).collect::<String>().into();
                out.push(Packet::Publish(q));
            }
            if !pb.payload.is_empty() {
                let mut q = pb.clone();
                q.payload = bytes::Bytes::new();
                out.push(Packet::Publish(q));
            }
        }
        Packet::Subscribe(s) if s.filters.len() > 1 => {
            let mut q = s.clone();
            q.filters.truncate(1);
            out.push(Packet::Subscribe(q));
        }
        Packet::Unsubscribe(u) if u.filters.len() > 1 => {
            let mut q = u.clone();
            q.filters.truncate(1);
            out.push(Packet::Unsubscribe(q));
        }
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const V: Version = Version::V5_0;

    fn sample() -> Packet {
        let mut p = mqtt_codec::Publish::new("a/b/c", "hello");
        p.properties = Properties::from(vec![
            Property::ContentType("t".into()),
            Property::UserProperty("k".into(), "v".into()),
        ]);
        Packet::Publish(p)
    }

    #[test]
    fn mutations_are_seeded_and_mostly_still_decode() {
        let p = sample();
        let run = |seed| {
            let mut rng = Rng::new(seed);
            (0..200)
                .filter_map(|_| mutate(&mut rng, &p, V))
                .map(|f| f.bytes)
                .collect::<Vec<_>>()
        };
        let a = run(7);
        assert_eq!(a, run(7));
        assert_ne!(a, run(8));
        let decoded = a.iter().filter(|b| decode(b, V).is_some()).count();
        assert!(decoded > a.len() / 3, "{decoded} of {} decode", a.len());
        assert!(decoded < a.len(), "some mutations must break a rule");
    }

    #[test]
    fn shrinking_removes_properties_then_shortens_fields() {
        let smaller = shrink(&sample());
        let Packet::Publish(first) = &smaller[0] else {
            panic!("{smaller:?}")
        };
        assert!(first.properties.is_empty());
        assert!(smaller.iter().any(|p| matches!(p, Packet::Publish(q)
            if q.topic == "a" && q.properties.len() == 2)));
        assert!(
            smaller
                .iter()
                .any(|p| matches!(p, Packet::Publish(q) if q.payload.is_empty()))
        );
        assert!(shrink(&Packet::PingReq).is_empty());
    }
}
