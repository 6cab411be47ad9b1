//! Retained messages as amqtt 0.12.1 sends them, each behind a relay in front of the reference
//! broker:
//!
//! - `Twice`: every retained QoS 0 PUBLISH goes out twice. No MUST forbids it (4.3.1 describes
//!   QoS 0 as "once or not at all", but its one numbered statement, MQTT-4.3.1-1, fixes only
//!   QoS 0 and DUP 0), so a scenario must not fail it.
//! - `Upgrade`: every retained QoS 0 PUBLISH goes out at QoS 1, which breaks MQTT-3.8.4-6
//!   (3.1.1) and MQTT-3.8.4-8 (5.0): the delivered QoS is the lower of the published one and
//!   the granted one.
//! - `AfterConnack`: every CONNACK is followed by the last retained message a client
//!   published, whether the connection subscribed to it or not, which breaks MQTT-3.3.2-3
//!   (every PUBLISH to a client matches one of its subscriptions).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use mqtt_conformance::runner::Outcome;
use mqtt_conformance::transport::Target;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Packet types (high nibble of the first byte).
const CONNECT: u8 = 1;
const CONNACK: u8 = 2;
const PUBLISH: u8 = 3;
const PUBACK: u8 = 4;

/// The packet identifier an upgraded PUBLISH carries (the reference broker counts from 1).
const UPGRADED_ID: u16 = 0xFFF0;

/// What the relay does to a retained QoS 0 PUBLISH on its way to the client.
#[derive(Clone, Copy)]
enum Change {
    /// Sends it twice (lawful).
    Twice,
    /// Sends it at QoS 1 (unlawful).
    Upgrade,
    /// Leaves it alone, but sends a copy of the last retained message after every CONNACK
    /// (unlawful).
    AfterConnack,
}

/// How often the change was made, so a test also shows the relay was exercised.
#[derive(Default)]
struct Made {
    changed: AtomicUsize,
    /// The last retained PUBLISH a client sent, made QoS 0, per version (3.1.1, 5.0), for
    /// `AfterConnack`: the encodings differ.
    retained: Mutex<[Option<Vec<u8>>; 2]>,
}

/// A packet's body: what follows the fixed header (the packet was framed by `packet_len`).
fn body(pkt: &[u8]) -> &[u8] {
    mqtt_codec::FixedHeader::parse(pkt)
        .ok()
        .flatten()
        .and_then(|h| pkt.get(h.header_len..))
        .unwrap_or(&[])
}

/// The length of the Topic Name field at the start of a PUBLISH body, prefix included.
fn topic_field_len(body: &[u8]) -> usize {
    2 + body
        .get(..2)
        .map_or(0, |l| usize::from(u16::from_be_bytes([l[0], l[1]])))
}

/// The same PUBLISH at QoS 1 with `UPGRADED_ID`: the identifier follows the Topic Name in both
/// versions (3.3.2), so 5.0 properties stay where they were.
fn upgraded(pkt: &[u8]) -> Vec<u8> {
    let b = body(pkt);
    let at = topic_field_len(b).min(b.len());
    let mut rest = Vec::with_capacity(b.len() + 2);
    rest.extend_from_slice(&b[..at]);
    rest.extend_from_slice(&UPGRADED_ID.to_be_bytes());
    rest.extend_from_slice(&b[at..]);
    let mut out = vec![pkt[0] | 0x02];
    mqtt_codec::varint::write(&mut out, u32::try_from(rest.len()).unwrap());
    out.extend_from_slice(&rest);
    out
}

/// The same PUBLISH at QoS 0 and RETAIN 1, without its packet identifier if it had one.
fn as_retained_qos0(pkt: &[u8]) -> Vec<u8> {
    let b = body(pkt);
    let at = topic_field_len(b).min(b.len());
    let id_len = if (pkt[0] >> 1) & 3 > 0 { 2 } else { 0 };
    let mut rest = b[..at].to_vec();
    rest.extend_from_slice(b.get(at + id_len..).unwrap_or(&[]));
    let mut out = vec![0x31];
    mqtt_codec::varint::write(&mut out, u32::try_from(rest.len()).unwrap());
    out.extend_from_slice(&rest);
    out
}

/// Keeps a client's retained PUBLISH for `AfterConnack`; notes the version of a CONNECT.
fn remember(pkt: &[u8], change: Change, made: &Made, v5: &mut bool) {
    if pkt[0] >> 4 == CONNECT {
        let b = body(pkt);
        *v5 = b.get(topic_field_len(b)) == Some(&5);
    }
    if matches!(change, Change::AfterConnack) && pkt[0] >> 4 == PUBLISH && pkt[0] & 1 == 1 {
        made.retained.lock().unwrap()[usize::from(*v5)] = Some(as_retained_qos0(pkt));
    }
}

/// What goes to the client for one packet from the broker.
fn to_client(pkt: Vec<u8>, change: Change, made: &Made, v5: bool) -> Vec<Vec<u8>> {
    if matches!(change, Change::AfterConnack) {
        let copy = made.retained.lock().unwrap()[usize::from(v5)].clone();
        return match copy {
            Some(copy) if pkt[0] >> 4 == CONNACK => {
                made.changed.fetch_add(1, Ordering::Relaxed);
                vec![pkt, copy]
            }
            _ => vec![pkt],
        };
    }
    // QoS bits 00 and RETAIN 1; DUP is 0 on every QoS 0 PUBLISH (MQTT-3.3.1-2).
    if pkt[0] >> 4 != PUBLISH || pkt[0] & 0x07 != 0x01 {
        return vec![pkt];
    }
    made.changed.fetch_add(1, Ordering::Relaxed);
    match change {
        Change::Twice => vec![pkt.clone(), pkt],
        Change::Upgrade => vec![upgraded(&pkt)],
        Change::AfterConnack => vec![pkt],
    }
}

/// Whether a packet from the client is the acknowledgement of an upgraded PUBLISH, which the
/// broker never sent and must not see.
fn acks_upgrade(pkt: &[u8]) -> bool {
    pkt[0] >> 4 == PUBACK && body(pkt).get(..2) == Some(&UPGRADED_ID.to_be_bytes()[..])
}

/// Splits whole packets off the front of `buf`; a stream that cannot be framed goes as it is.
fn frames(buf: &mut Vec<u8>) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        match mqtt_codec::framing::packet_len(buf) {
            Ok(Some(len)) if buf.len() >= len => out.push(buf.drain(..len).collect()),
            Ok(_) => return out,
            Err(_) => {
                out.push(std::mem::take(buf));
                return out;
            }
        }
    }
}

/// Relays one connection until either side ends it, making `change`.
async fn relay(client: TcpStream, broker: SocketAddr, made: Arc<Made>, change: Change) {
    let Ok(upstream) = TcpStream::connect(broker).await else {
        return;
    };
    let (mut client_r, mut to_client_w) = client.into_split();
    let (mut broker_r, mut to_broker) = upstream.into_split();
    let (mut cbuf, mut bbuf, mut v5) = (Vec::new(), Vec::new(), false);
    let (mut c, mut b) = ([0u8; 4096], [0u8; 4096]);
    loop {
        tokio::select! {
            n = client_r.read(&mut c) => {
                let n = n.unwrap_or(0);
                if n == 0 {
                    break;
                }
                cbuf.extend_from_slice(&c[..n]);
                for p in frames(&mut cbuf).into_iter().filter(|p| !acks_upgrade(p)) {
                    remember(&p, change, &made, &mut v5);
                    let _ = to_broker.write_all(&p).await;
                }
            }
            n = broker_r.read(&mut b) => {
                let n = n.unwrap_or(0);
                if n == 0 {
                    break;
                }
                bbuf.extend_from_slice(&b[..n]);
                for p in frames(&mut bbuf) {
                    for out in to_client(p, change, &made, v5) {
                        let _ = to_client_w.write_all(&out).await;
                    }
                }
            }
        }
    }
    let _ = to_client_w.shutdown().await;
}

/// Runs the embedded scenarios `ids` against the reference broker behind a relay making
/// `change`; returns each result as (outcome, "id [version]: message") and how often the
/// change was made.
async fn run_through(ids: &[&str], change: Change) -> (Vec<(Outcome, String)>, usize) {
    let broker = mqtt_reference_broker::start(mqtt_reference_broker::Config::default())
        .await
        .unwrap();
    let relay = move |c, b, m| relay(c, b, m, change);
    let (addr, made) = crate::support::start_relay(broker.tcp_addr(), relay).await;
    let report = crate::support::run_embedded(ids, Target::tcp(addr)).await;
    broker.shutdown().await;
    let results = report
        .results
        .iter()
        .map(|r| {
            (
                r.outcome,
                format!("{} [{}]: {}", r.id, r.version, r.message),
            )
        })
        .collect();
    (results, made.changed.load(Ordering::Relaxed))
}

/// amqtt sent a retained will twice to a new subscription; the scenario once failed it for
/// that. No MUST forbids it, so it passes in both versions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retained_qos0_will_sent_twice_passes() {
    let (results, made) = run_through(&["will-retain-true-retained"], Change::Twice).await;
    assert_eq!(results.len(), 2, "{results:?}");
    for (outcome, what) in &results {
        assert_eq!(*outcome, Outcome::Pass, "{what}");
    }
    // The will, once retained, reaches the second subscriber in each version.
    assert!(made >= 2, "the relay doubled {made} messages");
}

/// A retained QoS 0 message delivered at QoS 1 to a QoS 1 subscription fails
/// `retained-replaced-by-qos0` in both versions, at the step that names the statement.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retained_qos0_message_upgraded_to_qos1_fails() {
    let (results, made) = run_through(&["retained-replaced-by-qos0"], Change::Upgrade).await;
    assert_eq!(results.len(), 2, "{results:?}");
    for (outcome, what) in &results {
        assert_eq!(*outcome, Outcome::Fail, "{what}");
        let arrived = r#"arrived sub: PUBLISH topic="mqtt-conformance/retained-replaced" qos=1"#;
        assert!(what.contains(arrived), "{what}");
        let statement = if what.contains("[5.0]") {
            "MQTT-3.8.4-8"
        } else {
            "MQTT-3.8.4-6"
        };
        assert!(what.contains(statement), "{what}: should name {statement}");
    }
    assert!(made >= 2, "the relay upgraded {made} messages");
}

/// A retained message sent to a client that subscribed to nothing fails
/// `retained-not-sent-without-subscription` in both versions, at the step that waits before
/// subscribing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retained_message_sent_without_subscription_fails() {
    let id = "retained-not-sent-without-subscription";
    let (results, made) = run_through(&[id], Change::AfterConnack).await;
    assert_eq!(results.len(), 2, "{results:?}");
    for (outcome, what) in &results {
        assert_eq!(*outcome, Outcome::Fail, "{what}");
        assert!(
            what.contains("step 9 (s2: expect_nothing (MQTT-3.3.2-3"),
            "{what}"
        );
        assert!(what.contains("retain payload=\"kept\""), "{what}");
    }
    assert!(made >= 2, "the relay sent {made} copies after a CONNACK");
}
