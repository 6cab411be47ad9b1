//! The protocol oracle: every packet the broker sends must decode under the strict codec for
//! the session's version and be one the server may send at that point. It judges only
//! sessions that opened with the well-formed CONNECT, and stops judging legality once the
//! client sent a frame the strict codec rejects (a lenient broker may have read it some other
//! way, so what it says next is not predictable). The liveness oracle is
//! [`super::broker::Broker::alive`].

use std::collections::{BTreeMap, BTreeSet};

use bytes::BytesMut;
use mqtt_codec::properties::Property;
use mqtt_codec::{Decoded, Decoder, Packet, PacketType};

use super::generate::{Plan, kind_of};
use super::session::Outcome;
use crate::client::Event;

/// Which oracle a finding comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Oracle {
    /// The broker died or stopped answering.
    Liveness,
    /// The broker sent a malformed or illegal packet.
    Protocol,
    /// The broker's memory or file descriptors grew and stayed so ([`super::resources`]).
    Resources,
}

impl std::fmt::Display for Oracle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Liveness => "liveness",
            Self::Protocol => "protocol",
            Self::Resources => "resources",
        })
    }
}

/// A broken rule: the oracle, the packet type it is about, and what happened.
#[derive(Debug, Clone)]
pub struct Violation {
    /// The oracle.
    pub oracle: Oracle,
    /// The packet type: the broker's bad packet (protocol) or the last frame sent (liveness).
    pub packet: String,
    /// What happened, with the statement broken.
    pub detail: String,
}

/// What the client has used so far in the session, from the frames the strict codec decodes.
#[derive(Default)]
struct Used {
    /// Packet ids of QoS 1 and 2 PUBLISHes.
    publish: BTreeSet<u16>,
    pubrec: BTreeSet<u16>,
    pubrel: BTreeSet<u16>,
    /// SUBSCRIBE ids with their filter counts.
    subscribe: BTreeMap<u16, BTreeSet<usize>>,
    unsubscribe: BTreeSet<u16>,
    /// Every filter subscribed to (share prefix removed).
    filters: Vec<String>,
    /// Whether every frame so far decoded as exactly one packet.
    readable: bool,
}

impl Used {
    fn note(&mut self, decoder: &mut Decoder, frame: &[u8]) {
        let mut buf = BytesMut::from(frame);
        let packet = match decoder.decode(&mut buf) {
            Ok(Decoded::Packet(p)) if buf.is_empty() => p,
            _ => {
                self.readable = false;
                return;
            }
        };
        match packet {
            Packet::Publish(p) if p.packet_id != 0 => {
                self.publish.insert(p.packet_id);
            }
            Packet::PubRec(a) => {
                self.pubrec.insert(a.packet_id);
            }
            Packet::PubRel(a) => {
                self.pubrel.insert(a.packet_id);
            }
            Packet::Subscribe(s) => {
                self.subscribe
                    .entry(s.packet_id)
                    .or_default()
                    .insert(s.filters.len());
                self.filters
                    .extend(s.filters.iter().map(|f| unshared(&f.filter).to_owned()));
            }
            Packet::Unsubscribe(u) => {
                self.unsubscribe.insert(u.packet_id);
            }
            _ => {}
        }
    }
}

/// `$share/group/filter` subscribes to `filter`.
fn unshared(filter: &str) -> &str {
    match filter
        .strip_prefix("$share/")
        .and_then(|r| r.split_once('/'))
    {
        Some((_, inner)) => inner,
        None => filter,
    }
}

/// The first protocol violation in a session, if any.
pub fn check(plan: &Plan, outcome: &Outcome) -> Option<Violation> {
    check_at(plan, outcome).map(|(_, v)| v)
}

/// The first protocol violation in a session with the index of the event that broke the rule.
pub fn check_at(plan: &Plan, outcome: &Outcome) -> Option<(usize, Violation)> {
    if !plan.clean_connect {
        return None;
    }
    let mut j = Judge {
        v5: plan.version.is_v5(),
        used: Used {
            readable: true,
            ..Used::default()
        },
        connected: false,
        aliases: BTreeMap::new(),
    };
    let mut decoder = Decoder::new(plan.version.protocol());
    let mut noted = 0;
    for (i, (after, event)) in outcome.events.iter().enumerate() {
        while noted < *after {
            j.used.note(&mut decoder, &plan.frames[noted].bytes);
            noted += 1;
        }
        if let Some(v) = j.event(event) {
            return Some((i, v));
        }
    }
    None
}

struct Judge {
    v5: bool,
    used: Used,
    connected: bool,
    /// 5.0 Topic Aliases the broker set up.
    aliases: BTreeMap<u16, String>,
}

fn protocol(packet: impl Into<String>, detail: String) -> Option<Violation> {
    Some(Violation {
        oracle: Oracle::Protocol,
        packet: packet.into(),
        detail,
    })
}

impl Judge {
    fn event(&mut self, event: &Event) -> Option<Violation> {
        match event {
            Event::Closed(_) => None,
            // A broker without 5.0 answers a 5.0 CONNECT with the 3.1.1 refusal (lawful).
            Event::Malformed(_, b) if self.v5 && b.as_ref() == [0x20, 0x02, 0x00, 0x01] => None,
            Event::Malformed(why, b) => protocol(
                kind_of(b),
                format!("the broker sent a malformed packet: {why}"),
            ),
            Event::Packet(p) => self.packet(p),
        }
    }

    fn packet(&mut self, p: &Packet) -> Option<Violation> {
        let t = p.packet_type();
        let name = t.to_string();
        if !self.connected {
            return match p {
                Packet::ConnAck(_) => {
                    self.connected = true;
                    None
                }
                // 5.0 enhanced authentication, or a DISCONNECT refusal, may come first.
                Packet::Auth(_) | Packet::Disconnect(_) if self.v5 => None,
                _ => protocol(
                    name,
                    format!(
                        "{t} before CONNACK: the first packet from the server must be a CONNACK (MQTT-3.2.0-1)"
                    ),
                ),
            };
        }
        match p {
            Packet::ConnAck(_) if self.v5 => protocol(
                name,
                "a second CONNACK on one connection (MQTT-3.2.0-2)".into(),
            ),
            Packet::Connect(_)
            | Packet::Subscribe(_)
            | Packet::Unsubscribe(_)
            | Packet::PingReq => protocol(
                name,
                format!("{t} is a client-to-server packet; a server never sends it"),
            ),
            Packet::Disconnect(_) if !self.v5 => protocol(
                name,
                "DISCONNECT is client-to-server only in MQTT 3.1.1".into(),
            ),
            _ if !self.used.readable => None,
            _ => self.ack_or_publish(p),
        }
    }

    /// Acks must answer an id the client used; a PUBLISH must match a subscription.
    fn ack_or_publish(&mut self, p: &Packet) -> Option<Violation> {
        let u = &self.used;
        // MQTT-2.3.1-6 (3.1.1) / MQTT-2.2.1-5 (5.0): an ack repeats the id of the flow it
        // belongs to; MQTT-2.3.1-7 / MQTT-2.2.1-6: SUBACK and UNSUBACK copy the request's id.
        let v5 = self.v5;
        let unknown = |t: PacketType, id: u16, what: &str| {
            let rule = match (t, v5) {
                (PacketType::SubAck | PacketType::UnsubAck, false) => "MQTT-2.3.1-7",
                (PacketType::SubAck | PacketType::UnsubAck, true) => "MQTT-2.2.1-6",
                (_, false) => "MQTT-2.3.1-6",
                (_, true) => "MQTT-2.2.1-5",
            };
            protocol(
                t.to_string(),
                format!("{t} for packet id {id}, but the client sent no {what} with it ({rule})"),
            )
        };
        match p {
            Packet::PubAck(a) if !u.publish.contains(&a.packet_id) => {
                unknown(PacketType::PubAck, a.packet_id, "QoS 1 or 2 PUBLISH")
            }
            Packet::PubRec(a) if !u.publish.contains(&a.packet_id) => {
                unknown(PacketType::PubRec, a.packet_id, "QoS 1 or 2 PUBLISH")
            }
            Packet::PubComp(a) if !u.pubrel.contains(&a.packet_id) => {
                unknown(PacketType::PubComp, a.packet_id, "PUBREL")
            }
            Packet::PubRel(a) if !u.pubrec.contains(&a.packet_id) => {
                unknown(PacketType::PubRel, a.packet_id, "PUBREC")
            }
            Packet::UnsubAck(a) if !u.unsubscribe.contains(&a.packet_id) => {
                unknown(PacketType::UnsubAck, a.packet_id, "UNSUBSCRIBE")
            }
            Packet::SubAck(a) => match u.subscribe.get(&a.packet_id) {
                None => unknown(PacketType::SubAck, a.packet_id, "SUBSCRIBE"),
                Some(counts) if !counts.contains(&a.codes.len()) => protocol(
                    "SUBACK",
                    format!(
                        "SUBACK {} has {} return codes for a SUBSCRIBE of {:?} filters: one per filter (MQTT-3.9.3-1)",
                        a.packet_id,
                        a.codes.len(),
                        counts
                    ),
                ),
                Some(_) => None,
            },
            Packet::Publish(pb) => self.publish(pb),
            _ => None,
        }
    }

    fn publish(&mut self, p: &mqtt_codec::Publish) -> Option<Violation> {
        let alias = p.properties.iter().find_map(|x| match x {
            Property::TopicAlias(a) => Some(a),
            _ => None,
        });
        let topic = match (p.topic.is_empty(), alias) {
            (false, Some(a)) => {
                self.aliases.insert(a, p.topic.to_string());
                p.topic.to_string()
            }
            (false, None) => p.topic.to_string(),
            // An alias the oracle did not see set up is not judged here.
            (true, Some(a)) => self.aliases.get(&a)?.clone(),
            (true, None) => return None,
        };
        let subscribed = self
            .used
            .filters
            .iter()
            .any(|f| mqtt_codec::topic::matches(f, &topic));
        (!subscribed).then(|| Violation {
            oracle: Oracle::Protocol,
            packet: "PUBLISH".into(),
            detail: format!(
                "PUBLISH on `{topic}`, which no filter this connection subscribed to matches (a server sends PUBLISH only for a matching subscription, matched exactly: MQTT-4.7.3-4)"
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use mqtt_codec::{Connect, PubAck, Publish, QoS, SubAck, Subscribe, Subscription};

    use super::*;
    use crate::netfuzz::generate::{self, Frame};
    use crate::scenario::Version;

    const V: Version = Version::V3_1_1;

    fn frame(p: Packet) -> Frame {
        Frame {
            bytes: p.to_bytes(V.protocol()).unwrap().to_vec(),
            what: String::new(),
        }
    }

    fn plan(frames: Vec<Packet>) -> Plan {
        let mut all = vec![frame(Connect::new(V.protocol(), "c").into())];
        all.extend(frames.into_iter().map(frame));
        Plan {
            version: V,
            index: 0,
            frames: all,
            clean_connect: true,
            recorded: false,
        }
    }

    fn connack() -> Event {
        Event::Packet(Packet::ConnAck(mqtt_codec::ConnAck::new(
            false,
            mqtt_codec::ReasonCode(0),
        )))
    }

    fn outcome(events: Vec<(usize, Event)>) -> Outcome {
        Outcome {
            events,
            sent: 3,
            transcript: Vec::new(),
        }
    }

    fn subscribe(id: u16, filter: &str) -> Packet {
        Packet::Subscribe(Subscribe {
            packet_id: id,
            properties: Default::default(),
            filters: vec![Subscription {
                filter: filter.into(),
                options: mqtt_codec::SubscriptionOptions::qos(QoS::AtMostOnce),
            }],
        })
    }

    #[test]
    fn an_ack_for_an_id_the_client_never_used_is_a_violation() {
        let mut p = Publish::new("a", "x");
        p.qos = QoS::AtLeastOnce;
        p.packet_id = 5;
        let plan = plan(vec![p.into()]);
        let ack = |id| Event::Packet(Packet::PubAck(PubAck::new(id)));
        assert!(check(&plan, &outcome(vec![(1, connack()), (2, ack(5))])).is_none());
        let v = check(&plan, &outcome(vec![(1, connack()), (2, ack(6))])).unwrap();
        assert_eq!((v.oracle, v.packet.as_str()), (Oracle::Protocol, "PUBACK"));
    }

    #[test]
    fn a_publish_needs_a_matching_subscription() {
        let plan = plan(vec![subscribe(1, "a/+")]);
        let suback = Event::Packet(Packet::SubAck(SubAck {
            packet_id: 1,
            properties: Default::default(),
            codes: vec![mqtt_codec::ReasonCode(0)],
        }));
        let publish = |t: &str| Event::Packet(Packet::Publish(Publish::new(t, "x")));
        let ok = vec![(1, connack()), (2, suback.clone()), (2, publish("a/b"))];
        assert!(check(&plan, &outcome(ok)).is_none());
        let bad = vec![(1, connack()), (2, suback), (2, publish("b/b"))];
        assert_eq!(check(&plan, &outcome(bad)).unwrap().packet, "PUBLISH");
    }

    #[test]
    fn connack_must_come_first_and_unjudged_sessions_stay_unjudged() {
        let mut plan = plan(vec![Packet::PingReq]);
        let ev = vec![(1, Event::Packet(Packet::PingResp)), (1, connack())];
        assert!(check(&plan, &outcome(ev.clone())).is_some());
        plan.clean_connect = false;
        assert!(check(&plan, &outcome(ev)).is_none());
    }

    #[test]
    fn sessions_are_determined_by_seed_and_number() {
        let a = generate::session(9, 4, V, "c");
        let b = generate::session(9, 4, V, "c");
        let c = generate::session(10, 4, V, "c");
        let bytes = |p: &Plan| p.frames.iter().map(|f| f.bytes.clone()).collect::<Vec<_>>();
        assert_eq!(bytes(&a), bytes(&b));
        assert_ne!(bytes(&a), bytes(&c));
    }
}
