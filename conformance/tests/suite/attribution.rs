//! A broker's fault is reported under the statement it breaks. A relay in front of the reference
//! broker breaks one statement; every scenario of the corpus that then fails must cite it. A
//! scenario about something else that fails too asserts more than it claims: it would report a
//! real broker's fault under a statement the broker keeps, and hide what it is about.
//!
//! - `resent_without_dup`: every PUBLISH the broker sends again goes out with DUP 0, which
//!   breaks MQTT-3.3.1-1 only.
//! - `qos0_delivered_at_granted_qos`: a QoS 0 PUBLISH on a topic the client subscribed to at
//!   QoS 1 or 2 goes out at QoS 1, which breaks the rule that the delivered QoS never exceeds
//!   the published one (3.1.1 MQTT-3.8.4-6, 5.0 MQTT-3.8.4-8) only.
//! - `session_present_never_set`: every CONNACK says Session Present 0, which breaks only the
//!   statements on Session Present for a kept session (3.1.1 MQTT-3.2.2-2, 5.0 MQTT-3.2.2-3 and
//!   MQTT-3.1.2-23).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use mqtt_codec::bytes::Bytes;
use mqtt_codec::topic::{matches, parse_shared};
use mqtt_codec::{FixedHeader, Packet, ProtocolVersion};
use mqtt_conformance::runner::{Outcome, RunReport, ScenarioResult};
use mqtt_conformance::scenario::Version;
use mqtt_conformance::transport::Target;

use crate::support::{
    Rewrite, at_qos1, body, relay_framed, run_whole_corpus, start_relay, topic_field_len,
};

/// Packet types (high nibble of the first byte).
const CONNECT: u8 = 1;
const CONNACK: u8 = 2;
const PUBLISH: u8 = 3;
const PUBACK: u8 = 4;
/// The DUP bit of a PUBLISH's first byte.
const DUP: u8 = 0x08;
/// The QoS bits of a PUBLISH's first byte.
const QOS: u8 = 0x06;
/// Upgraded deliveries take packet identifiers from here up; the reference broker counts from 1,
/// so they never meet its own.
const FIRST_UPGRADED_ID: u16 = 0xFF00;

/// How many packets the relay changed.
#[derive(Default)]
struct Changed(AtomicUsize);

/// Every PUBLISH the broker sends again goes out with DUP 0.
struct ClearDup(Arc<Changed>);

impl Rewrite for ClearDup {
    fn frames_client(&self) -> bool {
        false
    }

    fn broker_packet(&mut self, mut p: Vec<u8>) -> Vec<Vec<u8>> {
        if p[0] >> 4 == PUBLISH && p[0] & DUP != 0 {
            p[0] &= !DUP;
            self.0.0.fetch_add(1, Ordering::Relaxed);
        }
        vec![p]
    }
}

/// Every CONNACK goes out with Session Present 0, as from a broker that keeps sessions but
/// never says so.
struct NoSessionPresent(Arc<Changed>);

impl Rewrite for NoSessionPresent {
    fn frames_client(&self) -> bool {
        false
    }

    fn broker_packet(&mut self, mut p: Vec<u8>) -> Vec<Vec<u8>> {
        // The Connect Acknowledge Flags are the first byte of the body; bit 0 is Session Present.
        let at = p.len() - body(&p).len();
        if p[0] >> 4 == CONNACK && p.get(at).is_some_and(|f| f & 1 == 1) {
            p[at] &= !1;
            self.0.0.fetch_add(1, Ordering::Relaxed);
        }
        vec![p]
    }
}

/// Every QoS 0 PUBLISH the broker sends on a topic the client holds a QoS 1 or 2 subscription
/// for goes out at QoS 1: the granted QoS instead of the lower published one, as some brokers
/// do. The client's PUBACKs for them stop here, so the broker sees a client that follows it.
#[derive(Default)]
struct UpgradeToGranted {
    changed: Arc<Changed>,
    v5: bool,
    /// The filters of each SUBSCRIBE not yet acknowledged, by packet identifier.
    asked: HashMap<u16, Vec<String>>,
    /// The filters granted QoS 1 or 2, shared ones by their inner filter.
    granted: HashSet<String>,
    next: u16,
}

impl UpgradeToGranted {
    fn version(&self) -> ProtocolVersion {
        if self.v5 {
            ProtocolVersion::V5_0
        } else {
            ProtocolVersion::V3_1_1
        }
    }

    fn decode(&self, pkt: &[u8]) -> Option<Packet> {
        let header = FixedHeader::parse(pkt).ok().flatten()?;
        Packet::decode(&header, Bytes::copy_from_slice(body(pkt)), self.version()).ok()
    }

    /// Whether a QoS 0 PUBLISH to `topic` matches a filter granted a higher QoS.
    fn upgrades(&self, topic: &str) -> bool {
        self.granted.iter().any(|f| {
            let inner = match parse_shared(f) {
                Some(Ok((_, inner))) => inner,
                _ => f.as_str(),
            };
            matches(inner, topic)
        })
    }

    /// The broker's packet as the client gets it; notes what a SUBACK granted.
    fn deliver(&mut self, p: Vec<u8>) -> Vec<u8> {
        match self.decode(&p) {
            Some(Packet::SubAck(ack)) => {
                let filters = self.asked.remove(&ack.packet_id).unwrap_or_default();
                for (f, code) in filters.into_iter().zip(&ack.codes) {
                    if matches!(code.0, 1 | 2) {
                        self.granted.insert(f);
                    } else {
                        self.granted.remove(&f);
                    }
                }
                p
            }
            Some(Packet::Publish(publish)) if p[0] & QOS == 0 && self.upgrades(&publish.topic) => {
                self.changed.0.fetch_add(1, Ordering::Relaxed);
                let id = FIRST_UPGRADED_ID + self.next % 0x100;
                self.next = self.next.wrapping_add(1);
                at_qos1(&p, id)
            }
            _ => p,
        }
    }

    /// Whether the client's packet goes on to the broker; notes the version and what the
    /// client subscribes to.
    fn passes(&mut self, pkt: &[u8]) -> bool {
        match pkt[0] >> 4 {
            CONNECT => {
                let b = body(pkt);
                self.v5 = b.get(topic_field_len(b)) == Some(&5);
            }
            PUBACK => {
                let id = body(pkt).get(..2).map(|b| u16::from_be_bytes([b[0], b[1]]));
                return id.is_none_or(|id| id < FIRST_UPGRADED_ID);
            }
            _ => match self.decode(pkt) {
                Some(Packet::Subscribe(s)) => {
                    let filters = s.filters.iter().map(|f| f.filter.to_string()).collect();
                    self.asked.insert(s.packet_id, filters);
                }
                Some(Packet::Unsubscribe(u)) => {
                    for f in &u.filters {
                        self.granted.remove(&f.to_string());
                    }
                }
                _ => {}
            },
        }
        true
    }
}

impl Rewrite for UpgradeToGranted {
    fn broker_packet(&mut self, p: Vec<u8>) -> Vec<Vec<u8>> {
        vec![self.deliver(p)]
    }

    fn client_packet(&mut self, pkt: Vec<u8>) -> Option<Vec<u8>> {
        self.passes(&pkt).then_some(pkt)
    }
}

/// The whole embedded corpus, both versions, against the reference broker behind a relay that
/// applies a fresh `fault` to each connection; with how many packets it changed.
async fn run_corpus<F: Rewrite>(fault: fn(Arc<Changed>) -> F) -> (RunReport, usize) {
    let broker = mqtt_reference_broker::start(mqtt_reference_broker::Config::default())
        .await
        .unwrap();
    let relay = move |c, b, changed| relay_framed(c, b, fault(changed));
    let (addr, changed) = start_relay(broker.tcp_addr(), relay).await;
    let report = run_whole_corpus(Target::tcp(addr)).await;
    broker.shutdown().await;
    (report, changed.0.load(Ordering::Relaxed))
}

/// The results that did not pass (skips aside), each checked to cite one of `rules` for its
/// version.
fn failures_citing<'a>(
    report: &'a RunReport,
    rules: &[(&str, Version)],
) -> Vec<&'a ScenarioResult> {
    let failed: Vec<_> = report
        .results
        .iter()
        .filter(|r| !matches!(r.outcome, Outcome::Pass | Outcome::Skip))
        .collect();
    let mut stray = Vec::new();
    for r in &failed {
        let cites = rules
            .iter()
            .any(|(id, v)| *v == r.version && r.statements.iter().any(|s| s.id == *id));
        if !cites {
            stray.push(format!("{} [{}]: {}", r.id, r.version, r.message));
        }
    }
    assert!(
        stray.is_empty(),
        "fail without citing the broken rule:\n{}",
        stray.join("\n")
    );
    failed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resent_without_dup() {
    let rules = [
        ("MQTT-3.3.1-1", Version::V3_1),
        ("MQTT-3.3.1-1", Version::V3_1_1),
        ("MQTT-3.3.1-1", Version::V5_0),
    ];
    let (report, cleared) = run_corpus(ClearDup).await;
    let failed = failures_citing(&report, &rules);
    // The scenario named for the rule fails under both versions.
    let dup = failed.iter().filter(|r| r.id == "redelivery-sets-dup");
    assert_eq!(dup.count(), 2, "{failed:?}");
    assert!(cleared > 0, "no resent PUBLISH went through the relay");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qos0_delivered_at_granted_qos() {
    // The delivered QoS is the lower of the published and the granted one.
    let rules = [
        ("MQTT-3.8.4-6", Version::V3_1),
        ("MQTT-3.8.4-6", Version::V3_1_1),
        ("MQTT-3.8.4-8", Version::V5_0),
    ];
    let (report, upgraded) = run_corpus(|changed| UpgradeToGranted {
        changed,
        ..UpgradeToGranted::default()
    })
    .await;
    let failed = failures_citing(&report, &rules);
    // The scenario named for the rule fails under both versions.
    let named = failed
        .iter()
        .filter(|r| r.id == "delivery-qos-not-upgraded");
    assert_eq!(named.count(), 2, "{failed:?}");
    assert!(upgraded > 0, "no QoS 0 PUBLISH went through the relay");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_present_never_set() {
    // Session Present 1 when the session was kept (3.1.1), and a session begun with Clean
    // Start 0 outliving its connection (5.0).
    let rules = [
        ("MQTT-3.2.2-2", Version::V3_1),
        ("MQTT-3.2.2-2", Version::V3_1_1),
        ("MQTT-3.2.2-3", Version::V5_0),
        ("MQTT-3.1.2-23", Version::V5_0),
    ];
    let (report, cleared) = run_corpus(NoSessionPresent).await;
    let failed = failures_citing(&report, &rules);
    // The scenarios named for the rule fail: the 5.0 one for a session begun with Clean
    // Start 0, and the resumed session under both versions.
    let named = |id: &str| failed.iter().filter(|r| r.id == id).count();
    assert_eq!(
        named("session-begun-with-clean-start-kept-after-close"),
        1,
        "{failed:?}"
    );
    assert_eq!(named("session-present-when-resumed"), 2, "{failed:?}");
    assert!(
        cleared > 0,
        "no CONNACK with Session Present 1 went through the relay"
    );
}
