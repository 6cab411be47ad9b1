//! Compares an arrived packet with an expectation: only the fields the scenario gives are
//! compared, and every difference is named.

use mqtt_codec::{Packet, Properties, ReasonCode};

use crate::client::payload_text;
use crate::scenario::{
    AckMatch, CodeMatch, ConnAckMatch, ExpectSpec, IdRef, PropsSpec, PublishMatch, SubAckMatch,
    parse_hex,
};

pub use crate::vars::Captures;

/// Checks `packet` against `spec`. On success, ids named by `capture_id` are stored.
pub fn check(
    spec: &ExpectSpec,
    packet: &Packet,
    subst: &dyn Fn(&str) -> String,
    captures: &mut Captures,
) -> Result<(), Vec<String>> {
    let mut d = Diff {
        lines: Vec::new(),
        subst,
        captures,
    };
    match (spec, packet) {
        (ExpectSpec::Connack(m), Packet::ConnAck(c)) => connack(&mut d, m, c),
        (ExpectSpec::Publish(m), Packet::Publish(p)) => publish(&mut d, m, p),
        (ExpectSpec::Puback(m), Packet::PubAck(a)) => {
            ack(&mut d, m, a.packet_id, a.reason, &a.properties)
        }
        (ExpectSpec::Pubrec(m), Packet::PubRec(a)) => {
            ack(&mut d, m, a.packet_id, a.reason, &a.properties)
        }
        (ExpectSpec::Pubrel(m), Packet::PubRel(a)) => {
            ack(&mut d, m, a.packet_id, a.reason, &a.properties)
        }
        (ExpectSpec::Pubcomp(m), Packet::PubComp(a)) => {
            ack(&mut d, m, a.packet_id, a.reason, &a.properties)
        }
        (ExpectSpec::Suback(m), Packet::SubAck(s)) => {
            suback(&mut d, m, s.packet_id, &s.codes, &s.properties)
        }
        (ExpectSpec::Unsuback(m), Packet::UnsubAck(s)) => {
            suback(&mut d, m, s.packet_id, &s.codes, &s.properties)
        }
        (ExpectSpec::Pingresp(_), Packet::PingResp) => {}
        (ExpectSpec::Disconnect(m), Packet::Disconnect(x)) => {
            code(&mut d, m, x.reason, &x.properties)
        }
        (ExpectSpec::Auth(m), Packet::Auth(x)) => code(&mut d, m, x.reason, &x.properties),
        (spec, other) => d.lines.push(format!(
            "packet type: expected {}, got {}",
            spec.name(),
            crate::client::summary(other)
                .split(' ')
                .next()
                .unwrap_or("?")
        )),
    }
    let Diff { lines, .. } = d;
    if lines.is_empty() { Ok(()) } else { Err(lines) }
}

/// A one-line description of an expectation.
pub fn describe(spec: &ExpectSpec, subst: &dyn Fn(&str) -> String) -> String {
    let mut s = spec.name().to_owned();
    let mut f = |k: &str, v: String| {
        s.push(' ');
        s.push_str(k);
        s.push('=');
        s.push_str(&v);
    };
    match spec {
        ExpectSpec::Connack(m) => {
            if let Some(v) = m.session_present {
                f("session_present", v.to_string());
            }
            code_fields(&mut f, m.code, m.code_in.as_deref());
            props_desc(&mut f, m.properties.as_ref());
            if let Some(v) = m.format {
                f("format", v.to_string());
            }
        }
        ExpectSpec::Publish(m) => {
            if let Some(v) = &m.topic {
                f("topic", format!("{:?}", subst(v)));
            }
            if let Some(v) = m.qos {
                f("qos", v.to_string());
            }
            if let Some(v) = &m.id {
                f("id", id_desc(v));
            }
            if let Some(v) = m.retain {
                f("retain", v.to_string());
            }
            if let Some(v) = m.dup {
                f("dup", v.to_string());
            }
            if let Some(v) = &m.payload {
                f("payload", format!("{:?}", subst(v)));
            }
            if let Some(v) = &m.payload_hex {
                f("payload_hex", v.clone());
            }
            props_desc(&mut f, m.properties.as_ref());
        }
        ExpectSpec::Puback(m)
        | ExpectSpec::Pubrec(m)
        | ExpectSpec::Pubrel(m)
        | ExpectSpec::Pubcomp(m) => {
            if let Some(v) = &m.id {
                f("id", id_desc(v));
            }
            code_fields(&mut f, m.code, m.code_in.as_deref());
            props_desc(&mut f, m.properties.as_ref());
        }
        ExpectSpec::Suback(m) | ExpectSpec::Unsuback(m) => {
            if let Some(v) = &m.id {
                f("id", id_desc(v));
            }
            if let Some(c) = &m.codes {
                f("codes", hex_list(c));
            }
            if let Some(c) = &m.codes_in {
                f(
                    "codes_in",
                    format!(
                        "[{}]",
                        c.iter().map(|x| hex_list(x)).collect::<Vec<_>>().join(", ")
                    ),
                );
            }
            props_desc(&mut f, m.properties.as_ref());
        }
        ExpectSpec::Pingresp(_) => {}
        ExpectSpec::Disconnect(m) | ExpectSpec::Auth(m) => {
            code_fields(&mut f, m.code, m.code_in.as_deref());
            props_desc(&mut f, m.properties.as_ref());
        }
    }
    s
}

struct Diff<'a> {
    lines: Vec<String>,
    subst: &'a dyn Fn(&str) -> String,
    captures: &'a mut Captures,
}

impl Diff<'_> {
    fn eq<T: PartialEq + std::fmt::Debug>(&mut self, field: &str, expected: Option<T>, got: T) {
        if let Some(e) = expected {
            if e != got {
                self.lines
                    .push(format!("{field}: expected {e:?}, got {got:?}"));
            }
        }
    }

    fn id(&mut self, expected: Option<&IdRef>, got: u16) {
        match expected {
            None => {}
            Some(IdRef::Literal(e)) => self.eq("packet id", Some(*e), got),
            Some(IdRef::Captured(name)) => match self.captures.get(name) {
                Some(&e) => {
                    if e != got {
                        self.lines
                            .push(format!("packet id: expected ${name} = {e}, got {got}"));
                    }
                }
                None => self
                    .lines
                    .push(format!("packet id: ${name} was never captured")),
            },
        }
    }

    fn id_differs(&mut self, other: &IdRef, got: u16) {
        let (label, value) = match other {
            IdRef::Literal(n) => (n.to_string(), Some(*n)),
            IdRef::Captured(name) => (format!("${name}"), self.captures.get(name).copied()),
        };
        match value {
            Some(v) if v == got => self.lines.push(format!(
                "packet id: expected one other than {label}, got {got}"
            )),
            Some(_) => {}
            None => self
                .lines
                .push(format!("packet id: {label} was never captured")),
        }
    }

    fn code(&mut self, code: Option<u8>, code_in: Option<&[u8]>, got: ReasonCode) {
        if let Some(c) = code {
            if c != got.0 {
                self.lines
                    .push(format!("code: expected {}, got {}", rc(c), rc(got.0)));
            }
        }
        if let Some(list) = code_in {
            if !list.contains(&got.0) {
                self.lines.push(format!(
                    "code: expected one of {}, got {}",
                    hex_list(list),
                    rc(got.0)
                ));
            }
        }
    }

    fn props(&mut self, spec: Option<&PropsSpec>, got: &Properties) {
        let Some(spec) = spec else { return };
        let subst = self.subst;
        for expected in spec.named(subst) {
            match got.get(expected.id()) {
                Some(p) if p == expected => {}
                Some(p) => self
                    .lines
                    .push(format!("property: expected {expected:?}, got {p:?}")),
                None => self
                    .lines
                    .push(format!("property: expected {expected:?}, absent")),
            }
        }
        if let Some(users) = &spec.user_properties {
            let want: Vec<(String, String)> =
                users.iter().map(|(k, v)| (subst(k), subst(v))).collect();
            let have: Vec<(String, String)> = got
                .user_properties()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            if want != have {
                self.lines
                    .push(format!("user properties: expected {want:?}, got {have:?}"));
            }
        }
        if let Some(ids) = &spec.subscription_identifiers {
            let mut want = ids.clone();
            want.sort_unstable();
            let mut have: Vec<u32> = got.subscription_identifiers().collect();
            have.sort_unstable();
            if want != have {
                self.lines.push(format!(
                    "subscription identifiers: expected {want:?}, got {have:?}"
                ));
            }
        }
        for name in &spec.present {
            if !got.iter().any(|p| p.id() == name.id()) {
                self.lines
                    .push(format!("property: expected a {name:?}, absent"));
            }
        }
        for name in &spec.absent {
            if let Some(p) = got.iter().find(|p| p.id() == name.id()) {
                self.lines
                    .push(format!("property: expected no {name:?}, got {p:?}"));
            }
        }
        if let Some(max) = spec.message_expiry_interval_at_most {
            match got.message_expiry_interval() {
                Some(v) if v <= max => {}
                Some(v) => self.lines.push(format!(
                    "message expiry interval: expected at most {max}, got {v}"
                )),
                None => self
                    .lines
                    .push("message expiry interval: expected present, absent".into()),
            }
        }
        if let Some(max) = spec.maximum_packet_size_at_most {
            match got.maximum_packet_size() {
                Some(v) if v <= max => {}
                Some(v) => self.lines.push(format!(
                    "maximum packet size: expected at most {max}, got {v}"
                )),
                None => self
                    .lines
                    .push("maximum packet size: expected present, absent".into()),
            }
        }
    }
}

fn connack(d: &mut Diff<'_>, m: &ConnAckMatch, c: &mqtt_codec::ConnAck) {
    d.eq("session present", m.session_present, c.session_present);
    d.code(m.code, m.code_in.as_deref(), c.code);
    d.props(m.properties.as_ref(), &c.properties);
    if let (Some(name), true) = (&m.capture_receive_maximum, d.lines.is_empty()) {
        // 3.2.2.3.3: an absent Receive Maximum means 65,535.
        let announced = c.properties.receive_maximum().unwrap_or(u16::MAX);
        d.captures.insert(name.clone(), announced);
    }
}

fn publish(d: &mut Diff<'_>, m: &PublishMatch, p: &mqtt_codec::Publish) {
    if let Some(t) = &m.topic {
        let want = (d.subst)(t);
        if want != p.topic.as_ref() as &str {
            d.lines.push(format!(
                "topic: expected {want:?}, got {:?}",
                &p.topic as &str
            ));
        }
    }
    d.eq("qos", m.qos, p.qos.as_u8());
    d.eq("retain", m.retain, p.retain);
    d.eq("dup", m.dup, p.dup);
    d.id(m.id.as_ref(), p.packet_id);
    for other in m.id_not.iter().flatten() {
        d.id_differs(other, p.packet_id);
    }
    if let Some(t) = &m.payload {
        let want = (d.subst)(t);
        if want.as_bytes() != &p.payload[..] {
            d.lines.push(format!(
                "payload: expected {want:?}, got {}",
                payload_text(&p.payload)
            ));
        }
    }
    if let Some(h) = &m.payload_hex {
        match parse_hex(h) {
            Ok(want) if want == p.payload[..] => {}
            Ok(_) => d.lines.push(format!(
                "payload: expected 0x{}, got {}",
                h.replace(' ', ""),
                payload_text(&p.payload)
            )),
            Err(e) => d.lines.push(e),
        }
    }
    d.props(m.properties.as_ref(), &p.properties);
    if d.lines.is_empty() {
        if let Some(name) = &m.capture_id {
            d.captures.insert(name.clone(), p.packet_id);
        }
    }
}

fn ack(d: &mut Diff<'_>, m: &AckMatch, id: u16, reason: ReasonCode, props: &Properties) {
    d.id(m.id.as_ref(), id);
    d.code(m.code, m.code_in.as_deref(), reason);
    d.props(m.properties.as_ref(), props);
}

fn suback(d: &mut Diff<'_>, m: &SubAckMatch, id: u16, codes: &[ReasonCode], props: &Properties) {
    d.id(m.id.as_ref(), id);
    let got: Vec<u8> = codes.iter().map(|c| c.0).collect();
    if let Some(want) = &m.codes {
        if *want != got {
            d.lines.push(format!(
                "codes: expected {}, got {}",
                hex_list(want),
                hex_list(&got)
            ));
        }
    }
    if let Some(want) = &m.codes_in {
        let ok = want.len() == got.len() && want.iter().zip(&got).all(|(w, g)| w.contains(g));
        if !ok {
            d.lines.push(format!(
                "codes: expected one of [{}] per filter, got {}",
                want.iter()
                    .map(|w| hex_list(w))
                    .collect::<Vec<_>>()
                    .join(", "),
                hex_list(&got)
            ));
        }
    }
    d.props(m.properties.as_ref(), props);
}

fn code(d: &mut Diff<'_>, m: &CodeMatch, reason: ReasonCode, props: &Properties) {
    d.code(m.code, m.code_in.as_deref(), reason);
    d.props(m.properties.as_ref(), props);
}

fn code_fields(f: &mut impl FnMut(&str, String), code: Option<u8>, code_in: Option<&[u8]>) {
    if let Some(c) = code {
        f("code", rc(c));
    }
    if let Some(c) = code_in {
        f("code_in", hex_list(c));
    }
}

fn props_desc(f: &mut impl FnMut(&str, String), p: Option<&PropsSpec>) {
    if p.is_some() {
        f("properties", "{…}".into());
    }
}

fn id_desc(id: &IdRef) -> String {
    match id {
        IdRef::Literal(n) => n.to_string(),
        IdRef::Captured(n) => format!("${n}"),
    }
}

/// A reason code as hex with its name, if known.
pub fn rc(code: u8) -> String {
    format!("0x{code:02X}")
}

/// Codes as `[0x00, 0x80]`.
pub fn hex_list(codes: &[u8]) -> String {
    format!(
        "[{}]",
        codes.iter().map(|c| rc(*c)).collect::<Vec<_>>().join(", ")
    )
}
