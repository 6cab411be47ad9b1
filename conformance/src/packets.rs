//! Turns the packet specs of a scenario into bytes, forbidden values and raw overrides
//! included, with variables substituted from the run's resolved [`Vars`].

use bytes::{BufMut, Bytes, BytesMut};
use mqtt_codec::{
    Auth, ByteString, Connect, Disconnect, Packet, Properties, PubAck, PubComp, PubRec, PubRel,
    Publish, QoS, ReasonCode, Unsubscribe, Will,
};

use crate::client::summary;
use crate::error::HarnessError;
use crate::scenario::{
    AckSpec, ConnectSpec, PacketSpec, PropsSpec, PublishSpec, SubscribeSpec, Version, WireOverride,
    parse_hex,
};
use crate::vars::Vars;

/// An encoded packet ready to send.
#[derive(Debug, Clone)]
pub struct Built {
    /// One-line description for the transcript.
    pub what: String,
    /// The bytes.
    pub bytes: Vec<u8>,
    /// The client id, for a CONNECT.
    pub client_id: Option<String>,
    /// Topics a retained message was published to (for cleanup).
    pub retained: Vec<String>,
}

/// Builds a CONNECT.
pub fn connect(spec: &ConnectSpec, vars: &Vars<'_>) -> Result<Built, HarnessError> {
    let version = vars.version;
    let client_id = match &spec.client_id {
        Some(id) => vars.subst(id),
        None => vars.client_id(),
    };
    let mut c = Connect::new(version.protocol(), client_id.clone());
    c.clean_start = spec.clean_start.unwrap_or(true);
    c.keep_alive = spec.keep_alive.unwrap_or(60);
    if version.is_v5() {
        c.properties = props(&spec.properties, vars);
    }
    (c.username, c.password) = login(spec, vars);
    c.will = will(spec, vars)?;
    let retained = c
        .will
        .as_ref()
        .filter(|w| w.retain)
        .map(|w| w.topic.to_string())
        .into_iter()
        .collect();
    let packet = Packet::from(c);
    let mut what = summary(&packet);
    let mut bytes = override_header(spec, encode(&packet, version)?)?;
    if spec.protocol_name.is_some() || spec.protocol_level.is_some() || spec.connect_flags.is_some()
    {
        what.push_str(" (header overridden)");
    }
    if let Some(w) = &spec.wire {
        bytes = apply_wire(bytes, w)?;
        what.push_str(" (wire overridden)");
    }
    Ok(Built {
        what,
        bytes,
        client_id: Some(client_id),
        retained,
    })
}

/// User name and password: the scenario's own, else the run's credentials (a password only
/// with the run's user name), none with `no_credentials`.
fn login(spec: &ConnectSpec, vars: &Vars<'_>) -> (Option<ByteString>, Option<Bytes>) {
    let creds = vars.credentials.filter(|_| !spec.no_credentials);
    let username = match &spec.username {
        Some(u) => Some(vars.subst(u).into()),
        None => creds.map(|(u, _)| u.clone().into()),
    };
    let password = match (&spec.password, &spec.username) {
        (Some(p), _) => Some(Bytes::from(vars.subst(p))),
        (None, Some(_)) => None,
        (None, None) => creds.and_then(|(_, p)| p.clone().map(Bytes::from)),
    };
    (username, password)
}

/// The will of a CONNECT (QoS 3 is written into the flags by [`override_header`]).
fn will(spec: &ConnectSpec, vars: &Vars<'_>) -> Result<Option<Will>, HarnessError> {
    let Some(w) = &spec.will else {
        return Ok(None);
    };
    Ok(Some(Will {
        topic: vars.subst(&w.topic).into(),
        payload: payload(w.payload.as_deref(), w.payload_hex.as_deref(), vars)?,
        qos: QoS::from_u8(w.qos).unwrap_or(QoS::ExactlyOnce),
        retain: w.retain,
        properties: if vars.version.is_v5() {
            props(&w.properties, vars)
        } else {
            Properties::new()
        },
    }))
}

/// Rewrites an encoded CONNECT's protocol name, level and flags as the spec overrides them
/// (values the codec refuses to encode), keeping the Remaining Length right.
fn override_header(spec: &ConnectSpec, bytes: Vec<u8>) -> Result<Vec<u8>, HarnessError> {
    let (first, body) = split_frame(&bytes)?;
    let name_len = usize::from(u16::from_be_bytes([body[0], body[1]]));
    let (name_field, rest) = body.split_at(2 + name_len);
    let level = rest[0];
    let mut flags_and_rest = rest[1..].to_vec();
    if spec.will.as_ref().is_some_and(|w| w.qos > 2) {
        flags_and_rest[0] |= 0x18;
    }
    if let Some(f) = spec.connect_flags {
        flags_and_rest[0] = f;
    }
    let mut new_body = Vec::with_capacity(body.len() + 8);
    match &spec.protocol_name {
        Some(name) => {
            let len = u16::try_from(name.len())
                .map_err(|_| HarnessError::Build("protocol name too long".into()))?;
            new_body.extend_from_slice(&len.to_be_bytes());
            new_body.extend_from_slice(name.as_bytes());
        }
        None => new_body.extend_from_slice(name_field),
    }
    new_body.push(spec.protocol_level.unwrap_or(level));
    new_body.extend_from_slice(&flags_and_rest);
    Ok(frame(first, &new_body))
}

/// Builds any packet a `send` step names.
pub fn packet(spec: &PacketSpec, vars: &Vars<'_>) -> Result<Built, HarnessError> {
    let (packet, wire, retained) = match spec {
        PacketSpec::Connect(c) => return connect(c, vars),
        PacketSpec::Subscribe(sb) => return subscribe(sb, vars),
        PacketSpec::Publish(p) => {
            let (pb, retained) = publish(p, vars)?;
            (Packet::Publish(pb), &p.wire, retained)
        }
        other => simple(other, vars)?,
    };
    let mut what = summary(&packet);
    let mut bytes = encode(&packet, vars.version)?;
    // QoS 3 cannot be encoded; it is written into the flags of a QoS 2 PUBLISH.
    if matches!(spec, PacketSpec::Publish(p) if p.qos > 2) {
        bytes[0] |= 0x06;
        what = what.replace("qos=2", "qos=3");
    }
    if let Some(w) = wire {
        bytes = apply_wire(bytes, w)?;
        what.push_str(" (wire overridden)");
    }
    Ok(Built {
        what,
        bytes,
        client_id: None,
        retained,
    })
}

/// The acknowledgements, UNSUBSCRIBE, PINGREQ, DISCONNECT and AUTH: the packet, its wire
/// override, and no retained topic.
fn simple<'s>(
    spec: &'s PacketSpec,
    vars: &Vars<'_>,
) -> Result<(Packet, &'s Option<WireOverride>, Vec<String>), HarnessError> {
    let props = |p: &PropsSpec| props(p, vars);
    let (packet, wire): (Packet, _) = match spec {
        PacketSpec::Puback(a) => {
            let (packet_id, reason, properties) = ack(a, vars)?;
            let p = PubAck {
                packet_id,
                reason,
                properties,
            };
            (p.into(), &a.wire)
        }
        PacketSpec::Pubrec(a) => {
            let (packet_id, reason, properties) = ack(a, vars)?;
            let p = PubRec {
                packet_id,
                reason,
                properties,
            };
            (p.into(), &a.wire)
        }
        PacketSpec::Pubrel(a) => {
            let (packet_id, reason, properties) = ack(a, vars)?;
            let p = PubRel {
                packet_id,
                reason,
                properties,
            };
            (p.into(), &a.wire)
        }
        PacketSpec::Pubcomp(a) => {
            let (packet_id, reason, properties) = ack(a, vars)?;
            let p = PubComp {
                packet_id,
                reason,
                properties,
            };
            (p.into(), &a.wire)
        }
        PacketSpec::Unsubscribe(u) => {
            let packet_id = vars.id(&u.id)?;
            let filters = u.filters.iter().map(|f| vars.subst(f).into()).collect();
            let properties = props(&u.properties);
            let p = Unsubscribe {
                packet_id,
                properties,
                filters,
            };
            (Packet::Unsubscribe(p), &u.wire)
        }
        PacketSpec::Pingreq(p) => (Packet::PingReq, &p.wire),
        PacketSpec::Disconnect(d) => {
            let p = Disconnect {
                reason: ReasonCode(d.code),
                properties: props(&d.properties),
            };
            (Packet::Disconnect(p), &d.wire)
        }
        PacketSpec::Auth(a) => {
            let reason = ReasonCode(a.code.unwrap_or(0x18));
            let p = Auth {
                reason,
                properties: props(&a.properties),
            };
            (Packet::Auth(p), &a.wire)
        }
        PacketSpec::Connect(_) | PacketSpec::Subscribe(_) | PacketSpec::Publish(_) => {
            return Err(HarnessError::Build("not a simple packet".into()));
        }
    };
    Ok((packet, wire, Vec::new()))
}

/// The largest `payload_size`: enough to pass any Maximum Packet Size a broker is likely to
/// declare, small enough that a scenario cannot exhaust the harness's memory.
const MAX_PAYLOAD_SIZE: u32 = 16 * 1024 * 1024;

fn publish(p: &PublishSpec, vars: &Vars<'_>) -> Result<(Publish, Vec<String>), HarnessError> {
    let topic = vars.subst(&p.topic);
    let body = match p.payload_size {
        None => payload(p.payload.as_deref(), p.payload_hex.as_deref(), vars)?,
        Some(_) if p.payload.is_some() || p.payload_hex.is_some() => {
            return Err(HarnessError::Build(
                "give payload, payload_hex or payload_size, not several".into(),
            ));
        }
        Some(n) if n > MAX_PAYLOAD_SIZE => {
            return Err(HarnessError::Build(format!(
                "payload_size {n} is over {MAX_PAYLOAD_SIZE}"
            )));
        }
        Some(n) => Bytes::from(vec![b'x'; n as usize]),
    };
    let mut pb = Publish::new(topic.clone(), body);
    pb.qos = QoS::from_u8(p.qos).unwrap_or(QoS::ExactlyOnce);
    pb.retain = p.retain;
    pb.dup = p.dup;
    pb.packet_id = match &p.id {
        Some(id) => vars.id(id)?,
        None => 0,
    };
    if vars.version.is_v5() {
        pb.properties = props(&p.properties, vars);
    }
    let retained = if p.retain { vec![topic] } else { vec![] };
    Ok((pb, retained))
}

/// SUBSCRIBE is encoded here rather than by the codec so the options byte can hold anything
/// (QoS 3, Retain Handling 3, reserved bits).
fn subscribe(sb: &SubscribeSpec, vars: &Vars<'_>) -> Result<Built, HarnessError> {
    let version = vars.version;
    let mut body = BytesMut::new();
    body.put_u16(vars.id(&sb.id)?);
    if version.is_v5() {
        props(&sb.properties, vars)
            .encode(&mut body)
            .map_err(|e| HarnessError::Build(e.to_string()))?;
    }
    let mut what = format!("SUBSCRIBE id={}", vars.id(&sb.id)?);
    for f in &sb.filters {
        let topic = vars.subst(&f.topic);
        let len = u16::try_from(topic.len())
            .map_err(|_| HarnessError::Build("topic filter too long".into()))?;
        body.put_u16(len);
        body.put_slice(topic.as_bytes());
        let options = f.options_byte.unwrap_or(
            (f.qos & 0x03)
                | u8::from(f.no_local) << 2
                | u8::from(f.retain_as_published) << 3
                | (f.retain_handling & 0x03) << 4,
        );
        body.put_u8(options);
        what.push_str(&format!(" {topic:?}@{}", f.qos));
        if options & !0x03 != 0 {
            what.push_str(&format!("(opts=0x{options:02X})"));
        }
    }
    let mut bytes = frame(0x82, &body);
    if let Some(w) = &sb.wire {
        bytes = apply_wire(bytes, w)?;
        what.push_str(" (wire overridden)");
    }
    Ok(Built {
        what,
        bytes,
        client_id: None,
        retained: vec![],
    })
}

/// Builds the codec's property list: named fields in declaration order, then user properties,
/// subscription identifiers and the raw extras.
/// The fields the four publish acknowledgements share, from their spec.
fn ack(a: &AckSpec, vars: &Vars<'_>) -> Result<(u16, ReasonCode, Properties), HarnessError> {
    Ok((
        vars.id(&a.id)?,
        ReasonCode(a.code),
        props(&a.properties, vars),
    ))
}

pub fn props(spec: &PropsSpec, vars: &Vars<'_>) -> Properties {
    let s = |t: &str| vars.subst(t);
    let mut out = Properties::new();
    for p in spec.named(&s) {
        out.push(p);
    }
    for (k, v) in spec.user_properties.iter().flatten() {
        out.push(mqtt_codec::Property::UserProperty(s(k).into(), s(v).into()));
    }
    for id in spec.subscription_identifiers.iter().flatten() {
        out.push(mqtt_codec::Property::SubscriptionIdentifier(*id));
    }
    for p in &spec.extra {
        out.push(p.to_property(&s));
    }
    out
}

fn payload(text: Option<&str>, hex: Option<&str>, vars: &Vars<'_>) -> Result<Bytes, HarnessError> {
    match (text, hex) {
        (Some(_), Some(_)) => Err(HarnessError::Build(
            "give payload or payload_hex, not both".into(),
        )),
        (Some(t), None) => Ok(Bytes::from(vars.subst(t))),
        (None, Some(h)) => parse_hex(h).map(Bytes::from).map_err(HarnessError::Build),
        (None, None) => Ok(Bytes::new()),
    }
}

fn encode(packet: &Packet, version: Version) -> Result<Vec<u8>, HarnessError> {
    packet
        .to_bytes(version.protocol())
        .map(|b| b.to_vec())
        .map_err(|e| HarnessError::Build(e.to_string()))
}

/// Splits an encoded packet into its first byte and its body, read by the codec's one
/// fixed-header parser.
fn split_frame(bytes: &[u8]) -> Result<(u8, &[u8]), HarnessError> {
    let bad =
        |why: &dyn std::fmt::Display| HarnessError::Build(format!("bad encoded packet: {why}"));
    let header = mqtt_codec::FixedHeader::parse(bytes)
        .map_err(|e| bad(&e))?
        .ok_or_else(|| bad(&"incomplete fixed header"))?;
    let body = bytes
        .get(header.header_len..header.packet_len())
        .ok_or_else(|| bad(&"shorter than its Remaining Length"))?;
    Ok((bytes[0], body))
}

/// A packet from its first byte and body, with a minimal Remaining Length.
fn frame(first: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![first];
    out.extend(varint(u32::try_from(body.len()).unwrap_or(u32::MAX)));
    out.extend_from_slice(body);
    out
}

/// `n` as a Variable Byte Integer (five bytes past the maximum, for malformed packets).
fn varint(n: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(5);
    mqtt_codec::varint::write(&mut out, n);
    out
}

fn apply_wire(bytes: Vec<u8>, w: &WireOverride) -> Result<Vec<u8>, HarnessError> {
    let (mut first, body) = split_frame(&bytes)?;
    let body = body.to_vec();
    if let Some(f) = w.flags {
        first = (first & 0xF0) | (f & 0x0F);
    }
    if let Some(b) = w.first_byte {
        first = b;
    }
    let mut out = vec![first];
    match (&w.remaining_length_hex, w.remaining_length) {
        (Some(h), _) => out.extend(parse_hex(h).map_err(HarnessError::Build)?),
        (None, Some(n)) => out.extend(varint(n)),
        (None, None) => out.extend(varint(u32::try_from(body.len()).unwrap_or(u32::MAX))),
    }
    out.extend_from_slice(&body);
    if let Some(n) = w.truncate {
        out.truncate(n);
    }
    if let Some(h) = &w.append_hex {
        out.extend(parse_hex(h).map_err(HarnessError::Build)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_matches_spec_examples() {
        assert_eq!(varint(0), vec![0x00]);
        assert_eq!(varint(127), vec![0x7F]);
        assert_eq!(varint(128), vec![0x80, 0x01]);
        assert_eq!(varint(16_383), vec![0xFF, 0x7F]);
        assert_eq!(varint(2_097_152), vec![0x80, 0x80, 0x80, 0x01]);
    }

    #[test]
    fn wire_override_rewrites_header() {
        let w = WireOverride {
            flags: Some(0x0F),
            remaining_length: Some(5),
            ..WireOverride::default()
        };
        assert_eq!(apply_wire(vec![0xC0, 0x00], &w).unwrap(), vec![0xCF, 0x05]);
    }
}
