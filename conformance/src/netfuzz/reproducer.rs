//! The reproducer scenarios of findings: YAML the runner replays (`mqtt-conformance run
//! DIR/findings/NAME.yaml`). A liveness reproducer replays the frames and then needs a fresh
//! client to be served; a protocol reproducer replays the frames up to the bad packet,
//! expecting the lawful packets the broker sent before it, and then requires that nothing
//! more arrives. A resource finding has none: a scenario cannot read the broker's memory.

use std::fmt::Write as _;

use mqtt_codec::Packet;

use super::findings::Finding;
use super::generate::Plan;
use crate::client::{Event, hex};

/// Every code a server's DISCONNECT may carry (5.0 section 3.14.2.1): a correct broker may
/// close the connection with any of them instead of answering.
const SERVER_DISCONNECT_CODES: &str = "0x00, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E, \
     0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2";

/// The header every reproducer starts with: id, title, statement, version, notes.
fn header(f: &Finding, plan: &Plan, title: &str, statement: &str) -> String {
    let mut y = String::new();
    let _ = writeln!(y, "id: {}", f.name);
    let _ = writeln!(y, "title: {title}");
    let _ = writeln!(y, "statements:\n  must: [{statement}]");
    let _ = writeln!(y, "versions: [{}]", f.version);
    let _ = writeln!(y, "exclusive: true");
    let detail = f.detail.replace('\n', " ");
    let _ = writeln!(
        y,
        "notes: >\n  Session {} of the fuzz run, minimised from {} to {} frames. Found: {detail}",
        f.session,
        f.frames_found,
        plan.frames.len()
    );
    y.push_str("steps:\n");
    y
}

/// One frame of the session as a raw write, with what it is as a comment.
fn send(y: &mut String, frame: &super::generate::Frame) {
    let what = frame.what.replace(['\n', '#'], " ");
    let _ = writeln!(y, "  # {what}");
    let _ = writeln!(
        y,
        "  - {{ client: fuzz, send_hex: \"{}\" }}",
        hex(&frame.bytes)
    );
}

/// The liveness reproducer: the session's frames as raw writes, then a fresh client that must
/// get CONNACK and PINGRESP. It fails on a broker the frames kill or wedge, and passes on one
/// that survives them, whatever it answered the frames.
pub fn liveness(f: &Finding, plan: &Plan) -> String {
    let title = format!(
        "The broker survives this {} session (found by mqtt-conformance fuzz) - a fresh client still gets CONNACK and PINGRESP.",
        f.packet
    );
    let mut y = header(f, plan, &title, "MQTT-3.12.4-1");
    for frame in &plan.frames {
        send(&mut y, frame);
    }
    y.push_str("  - { client: fuzz, wait: 300ms }\n");
    y.push_str("  - { client: check, connect: {} }\n");
    y.push_str("  - { client: check, pingreq: {} }\n");
    y.push_str("  - { client: check, expect: { pingresp: {} } }\n");
    y
}

/// The protocol reproducer for the violation at `events[bad]`: the frames written before it
/// arrived, each followed by the packets the broker lawfully sent after it (matched by type,
/// and id for acks), then quiet: the bad packet arriving fails the scenario. A broker that
/// closes the connection instead leaves the statement unchecked (a skip, not a pass). The
/// PUBLISHes before it are optional (a correct broker in another state may send none). `None`
/// when the violation names no statement of the catalogue, or the broker sent something
/// before it that a scenario cannot expect (bytes the codec rejects, a topic that cannot be
/// written plainly).
pub fn protocol(f: &Finding, plan: &Plan, events: &[(usize, Event)], bad: usize) -> Option<String> {
    let statement = statement(&f.detail)?;
    let (upto, _) = events.get(bad)?;
    let title = format!(
        "The broker does not send this illegal {} (found by mqtt-conformance fuzz).",
        f.packet
    );
    let mut y = header(f, plan, &title, statement);
    for (i, frame) in plan.frames.iter().enumerate().take(*upto) {
        send(&mut y, frame);
        let answers: Vec<&Event> = events[..bad]
            .iter()
            .filter(|(after, _)| *after == i + 1)
            .map(|(_, e)| e)
            .collect();
        let publishes = answers.iter().any(|e| publish_topic(e).is_some());
        if !publishes {
            for event in answers {
                let _ = writeln!(y, "  - {{ client: fuzz, expect: {} }}", expect(event)?);
            }
            continue;
        }
        // Deliveries depend on what other sessions left in the broker (retained messages,
        // sessions): each is optional, held to its exact topic so the bad packet cannot pass
        // for one of them.
        y.push_str("  - client: fuzz\n    expect_unordered:\n      packets:\n");
        for event in answers {
            match publish_topic(event) {
                Some(topic) => {
                    let topic = plain(topic)?;
                    let _ = writeln!(
                        y,
                        "        - {{ expect: {{ publish: {{ topic: \"{topic}\" }} }}, optional: true }}"
                    );
                }
                None => {
                    let _ = writeln!(y, "        - {{ expect: {} }}", expect(event)?);
                }
            }
        }
    }
    let _ = writeln!(
        y,
        "  # here the broker sent: {}",
        f.detail.replace('\n', " ")
    );
    y.push_str("  - client: fuzz\n    expect_one_of:\n      - expect_nothing: 300ms\n");
    if plan.version.is_v5() {
        let _ = writeln!(
            y,
            "      - expect_closed: {{ disconnect: [{SERVER_DISCONNECT_CODES}], disconnect_level: may }}"
        );
    } else {
        y.push_str("      - expect_closed: {}\n");
    }
    y.push_str(
        "        untestable: \"the broker closed the connection instead, so whether it would send the packet is not known\"\n",
    );
    Some(y)
}

/// The statement id (`MQTT-x.y.z-n`) the oracle cited in `detail`, if any.
fn statement(detail: &str) -> Option<&str> {
    let at = detail.find("MQTT-")?;
    let rest = &detail[at..];
    let end = rest[5..]
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
        .map_or(rest.len(), |n| n + 5);
    Some(rest[..end].trim_end_matches(['.', '-']))
}

/// The topic of a PUBLISH event.
fn publish_topic(event: &Event) -> Option<&str> {
    match event {
        Event::Packet(Packet::Publish(p)) => Some(&p.topic),
        _ => None,
    }
}

/// A topic that can stand in a double-quoted YAML string as it is: not empty (an alias),
/// printable, without quotes, backslashes or the braces of scenario variables.
fn plain(topic: &str) -> Option<&str> {
    let ok = !topic.is_empty()
        && topic
            .chars()
            .all(|c| !c.is_control() && !matches!(c, '"' | '\\' | '{' | '}'));
    ok.then_some(topic)
}

/// The expectation matching a packet the broker sent: its type, and its id for acks.
fn expect(event: &Event) -> Option<String> {
    let Event::Packet(p) = event else {
        return None;
    };
    let name = p.packet_type().to_string().to_lowercase();
    let id = match p {
        Packet::PubAck(a) => Some(a.packet_id),
        Packet::PubRec(a) => Some(a.packet_id),
        Packet::PubRel(a) => Some(a.packet_id),
        Packet::PubComp(a) => Some(a.packet_id),
        Packet::SubAck(a) => Some(a.packet_id),
        Packet::UnsubAck(a) => Some(a.packet_id),
        _ => None,
    };
    Some(match id {
        Some(id) => format!("{{ {name}: {{ id: {id} }} }}"),
        None => format!("{{ {name}: {{}} }}"),
    })
}

#[cfg(test)]
mod tests {
    use mqtt_codec::{Connect, PubAck, Publish, QoS, ReasonCode, SubAck, Subscribe, Subscription};

    use super::*;
    use crate::netfuzz::generate::Frame;
    use crate::netfuzz::oracle::{Oracle, Violation};
    use crate::scenario::{Scenario, Version, validate};

    fn frame(p: Packet) -> Frame {
        Frame {
            bytes: p.to_bytes(Version::V3_1_1.protocol()).unwrap().to_vec(),
            what: String::new(),
        }
    }

    /// A retained PUBLISH came before the bad PUBACK: it is optional and held to its topic,
    /// and the scenario is valid.
    #[test]
    fn publishes_before_the_bad_packet_are_optional_and_exact() {
        let subscribe = Packet::Subscribe(Subscribe {
            packet_id: 1,
            properties: Default::default(),
            filters: vec![Subscription {
                filter: "a/#".into(),
                options: mqtt_codec::SubscriptionOptions::qos(QoS::AtMostOnce),
            }],
        });
        let plan = Plan {
            version: Version::V3_1_1,
            index: 3,
            frames: vec![
                frame(Connect::new(Version::V3_1_1.protocol(), "c").into()),
                frame(subscribe),
            ],
            clean_connect: true,
            recorded: false,
        };
        let mut retained = Publish::new("a/b", "x");
        retained.retain = true;
        let events = vec![
            (
                1,
                Event::Packet(Packet::ConnAck(mqtt_codec::ConnAck::new(
                    false,
                    ReasonCode(0),
                ))),
            ),
            (
                2,
                Event::Packet(Packet::SubAck(SubAck {
                    packet_id: 1,
                    properties: Default::default(),
                    codes: vec![ReasonCode(0)],
                })),
            ),
            (2, Event::Packet(Packet::Publish(retained))),
            (2, Event::Packet(Packet::PubAck(PubAck::new(9)))),
        ];
        let v = Violation {
            oracle: Oracle::Protocol,
            packet: "PUBACK".into(),
            detail: "PUBACK for packet id 9 (MQTT-2.3.1-6)".into(),
        };
        let f = Finding::new(&v, 2, &plan, true);
        let yaml = protocol(&f, &plan, &events, 3).unwrap();
        assert!(
            yaml.contains("{ expect: { publish: { topic: \"a/b\" } }, optional: true }"),
            "{yaml}"
        );
        assert!(yaml.contains("{ expect: { suback: { id: 1 } } }"), "{yaml}");
        let s: Scenario = crate::corpus::from_yaml(&yaml).unwrap();
        assert!(validate(&s).is_empty(), "{:?}\n{yaml}", validate(&s));
    }

    #[test]
    fn only_plain_topics_are_written() {
        assert_eq!(super::plain("a/é"), Some("a/é"));
        for bad in ["", "a\"b", "{t}", "a\\b", "a\nb"] {
            assert_eq!(super::plain(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_cited_statement_is_read_off_the_detail() {
        assert_eq!(
            statement("PUBACK for packet id 6, but ... (MQTT-2.3.1-6)"),
            Some("MQTT-2.3.1-6")
        );
        assert_eq!(
            statement("must be a CONNACK (MQTT-3.2.0-1)."),
            Some("MQTT-3.2.0-1")
        );
        assert_eq!(statement("a malformed packet"), None);
    }
}
