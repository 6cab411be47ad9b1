//! Turns the packet specs of a scenario into bytes, forbidden values and raw overrides
//! included, with variables substituted from the run's resolved [`Vars`].

use bytes::{BufMut, Bytes, BytesMut};
use mqtt_codec::{
    Auth, Connect, Disconnect, Packet, Properties, PubAck, PubComp, PubRec, PubRel, Publish, QoS,
    ReasonCode, Unsubscribe, Will,
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
    let s = |t: &str| vars.subst(t);
    let version = vars.version;
    let client_id = match &spec.client_id {
        Some(id) => s(id),
        None => vars.client_id(),
    };
    let mut c = Connect::new(version.protocol(), client_id.clone());
    c.clean_start = spec.clean_start.unwrap_or(true);
    c.keep_alive = spec.keep_alive.unwrap_or(60);
    if version.is_v5() {
        c.properties = props(&spec.properties, vars);
    }
    let creds = if spec.no_credentials {
        None
    } else {
        vars.credentials.cloned()
    };
    c.username = spec
        .username
        .as_deref()
        .map(|u| s(u).into())
        .or_else(|| creds.as_ref().map(|(u, _)| u.clone().into()));
    c.password = spec
        .password
        .as_deref()
        .map(|p| Bytes::from(s(p)))
        .or_else(|| {
            if spec.username.is_some() {
                None
            } else {
                creds.as_ref().and_then(|(_, p)| p.clone().map(Bytes::from))
            }
        });
    let mut retained = Vec::new();
    let mut will_qos3 = false;
    if let Some(w) = &spec.will {
        let topic = s(&w.topic);
        if w.retain {
            retained.push(topic.clone());
        }
        will_qos3 = w.qos > 2;
        c.will = Some(Will {
            topic: topic.into(),
            payload: payload(w.payload.as_deref(), w.payload_hex.as_deref(), vars)?,
            qos: QoS::from_u8(w.qos).unwrap_or(QoS::ExactlyOnce),
            retain: w.retain,
            properties: if version.is_v5() {
                props(&w.properties, vars)
            } else {
                Properties::new()
            },
        });
    }
    let packet = Packet::from(c);
    let what = summary(&packet);
    let bytes = encode(&packet, version)?;
    let (first, body) = split_frame(&bytes)?;
    let name_len = usize::from(u16::from_be_bytes([body[0], body[1]]));
    let (name_field, rest) = body.split_at(2 + name_len);
    let level = rest[0];
    let mut flags_and_rest = rest[1..].to_vec();
    if will_qos3 {
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
    let mut bytes = frame(first, &new_body);
    let mut what = what;
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

/// Builds any packet a `send` step names.
pub fn packet(spec: &PacketSpec, vars: &Vars<'_>) -> Result<Built, HarnessError> {
    let version = vars.version;
    let (packet, wire, retained, qos3): (Packet, &Option<WireOverride>, Vec<String>, bool) =
        match spec {
            PacketSpec::Connect(c) => return connect(c, vars),
            PacketSpec::Publish(p) => {
                let (pb, retained) = publish(p, vars)?;
                (Packet::Publish(pb), &p.wire, retained, p.qos > 2)
            }
            PacketSpec::Puback(a) => {
                let (packet_id, reason, properties) = ack(a, vars)?;
                let p = PubAck {
                    packet_id,
                    reason,
                    properties,
                };
                (p.into(), &a.wire, vec![], false)
            }
            PacketSpec::Pubrec(a) => {
                let (packet_id, reason, properties) = ack(a, vars)?;
                let p = PubRec {
                    packet_id,
                    reason,
                    properties,
                };
                (p.into(), &a.wire, vec![], false)
            }
            PacketSpec::Pubrel(a) => {
                let (packet_id, reason, properties) = ack(a, vars)?;
                let p = PubRel {
                    packet_id,
                    reason,
                    properties,
                };
                (p.into(), &a.wire, vec![], false)
            }
            PacketSpec::Pubcomp(a) => {
                let (packet_id, reason, properties) = ack(a, vars)?;
                let p = PubComp {
                    packet_id,
                    reason,
                    properties,
                };
                (p.into(), &a.wire, vec![], false)
            }
            PacketSpec::Subscribe(sb) => return subscribe(sb, vars),
            PacketSpec::Unsubscribe(u) => (
                Packet::Unsubscribe(Unsubscribe {
                    packet_id: vars.id(&u.id)?,
                    properties: props(&u.properties, vars),
                    filters: u.filters.iter().map(|f| vars.subst(f).into()).collect(),
                }),
                &u.wire,
                vec![],
                false,
            ),
            PacketSpec::Pingreq(p) => (Packet::PingReq, &p.wire, vec![], false),
            PacketSpec::Disconnect(d) => (
                Packet::Disconnect(Disconnect {
                    reason: ReasonCode(d.code),
                    properties: props(&d.properties, vars),
                }),
                &d.wire,
                vec![],
                false,
            ),
            PacketSpec::Auth(a) => (
                Packet::Auth(Auth {
                    reason: ReasonCode(a.code.unwrap_or(0x18)),
                    properties: props(&a.properties, vars),
                }),
                &a.wire,
                vec![],
                false,
            ),
        };
    let mut what = summary(&packet);
    let mut bytes = encode(&packet, version)?;
    if qos3 {
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

fn publish(p: &PublishSpec, vars: &Vars<'_>) -> Result<(Publish, Vec<String>), HarnessError> {
    let topic = vars.subst(&p.topic);
    let mut pb = Publish::new(
        topic.clone(),
        payload(p.payload.as_deref(), p.payload_hex.as_deref(), vars)?,
    );
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

/// Splits an encoded packet into its first byte and its body.
fn split_frame(bytes: &[u8]) -> Result<(u8, &[u8]), HarnessError> {
    let mut i = 1;
    while i < bytes.len() && i < 5 && bytes[i] & 0x80 != 0 {
        i += 1;
    }
    if i >= bytes.len() {
        return Err(HarnessError::Build("bad encoded packet".into()));
    }
    Ok((bytes[0], &bytes[i + 1..]))
}

/// A packet from its first byte and body, with a minimal Remaining Length.
fn frame(first: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![first];
    out.extend(varint(u32::try_from(body.len()).unwrap_or(u32::MAX)));
    out.extend_from_slice(body);
    out
}

fn varint(mut n: u32) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let mut b = u8::try_from(n % 128).unwrap_or(0);
        n /= 128;
        if n > 0 {
            b |= 0x80;
        }
        out.push(b);
        if n == 0 {
            return out;
        }
    }
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
