//! Retained messages as amqtt 0.12.1 sends them, and as brokers that double them while breaking
//! something else send them, each behind a relay in front of the reference broker:
//!
//! - `Twice`: every retained QoS 0 PUBLISH goes out twice. No MUST forbids it (4.3.1 describes
//!   QoS 0 as "once or not at all", but its one numbered statement, MQTT-4.3.1-1, fixes only
//!   QoS 0 and DUP 0), so a scenario must not fail it; the relay of `lawful.rs` makes the same
//!   choice for the whole corpus.
//! - `Upgrade`: every retained QoS 0 PUBLISH goes out at QoS 1, which breaks MQTT-3.8.4-6
//!   (3.1.1) and MQTT-3.8.4-8 (5.0): the delivered QoS is the lower of the published one and
//!   the granted one.
//! - `AfterConnack`: every CONNACK is followed by the last retained message a client
//!   published, whether the connection subscribed to it or not, which breaks MQTT-3.3.2-3
//!   (every PUBLISH to a client matches one of its subscriptions).
//!
//! The scenarios that accept a second copy accept only a faithful one, and only where the
//! broker may send the message at all; each of the other changes doubles the message too but
//! breaks what a scenario checks, which it must still fail:
//!
//! - `TwiceAltered`: the second copy differs from the first (QoS 1, RETAIN 0, or no 5.0
//!   properties).
//! - `TwiceFirstSubscriptionOnly`: a connection's first SUBSCRIBE gets the message twice, a
//!   later one nothing, which breaks MQTT-3.8.4-3 (3.1.1) and MQTT-3.8.4-4 (5.0): a repeated
//!   subscription resends the retained messages.
//! - `TwiceIgnoringRetainHandling1`: Retain Handling 1 in a client's SUBSCRIBE becomes 0 on its
//!   way to the broker, which then sends retained messages when a subscription is replaced and
//!   breaks MQTT-3.3.1-10.
//! - `Dropped`: no retained QoS 0 PUBLISH reaches a client, so an optional second copy never
//!   stands in for the first.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use mqtt_codec::bytes::Bytes;
use mqtt_codec::{FixedHeader, Packet, Properties, ProtocolVersion, RetainHandling};
use mqtt_conformance::runner::Outcome;
use mqtt_conformance::transport::Target;

use crate::support::{Rewrite, at_qos1, body, relay_framed, topic_field_len};

/// Packet types (high nibble of the first byte).
const CONNECT: u8 = 1;
const CONNACK: u8 = 2;
const PUBLISH: u8 = 3;
const PUBACK: u8 = 4;
const SUBSCRIBE: u8 = 8;

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
    /// Sends it, then a copy changed as said (unlawful where the copy must match the first).
    TwiceAltered(Alter),
    /// Sends it twice while the connection has sent one SUBSCRIBE, drops it after a second
    /// (unlawful).
    TwiceFirstSubscriptionOnly,
    /// Sends it twice, and makes every Retain Handling 1 a client subscribes with 0 (unlawful).
    TwiceIgnoringRetainHandling1,
    /// Never sends it (unlawful wherever the message must come).
    Dropped,
}

/// How `Change::TwiceAltered` changes the second copy.
#[derive(Clone, Copy)]
enum Alter {
    /// At QoS 1 with `UPGRADED_ID`: a QoS 1 duplicate falls under the DUP rules, not 4.3.1.
    Qos1,
    /// With RETAIN 0.
    NotRetained,
    /// Without its 5.0 properties (Message Expiry Interval, Subscription Identifier).
    NoProperties,
}

/// What the relay knows of one connection.
#[derive(Default)]
struct Conn {
    /// The client's CONNECT was 5.0.
    v5: bool,
    /// How many SUBSCRIBE packets the client sent.
    subscribes: usize,
}

/// How often the change was made, so a test also shows the relay was exercised.
#[derive(Default)]
struct Made {
    changed: AtomicUsize,
    /// The last retained PUBLISH a client sent, made QoS 0, per version (3.1.1, 5.0), for
    /// `AfterConnack`: the encodings differ.
    retained: Mutex<[Option<Vec<u8>>; 2]>,
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

/// The packet decoded in the connection's version, changed by `edit`, encoded again; a packet
/// that does not decode goes as it is.
fn recode(pkt: &[u8], v5: bool, edit: impl FnOnce(&mut Packet)) -> Vec<u8> {
    let version = if v5 {
        ProtocolVersion::V5_0
    } else {
        ProtocolVersion::V3_1_1
    };
    let Some(header) = FixedHeader::parse(pkt).ok().flatten() else {
        return pkt.to_vec();
    };
    let Ok(mut packet) = Packet::decode(&header, Bytes::copy_from_slice(body(pkt)), version) else {
        return pkt.to_vec();
    };
    edit(&mut packet);
    let mut out = Vec::new();
    packet.encode(version, &mut out).unwrap();
    out
}

/// The second copy of a retained QoS 0 PUBLISH, changed as `how` says.
fn altered(pkt: &[u8], how: Alter, v5: bool) -> Vec<u8> {
    match how {
        Alter::Qos1 => at_qos1(pkt, UPGRADED_ID),
        Alter::NotRetained => {
            let mut copy = pkt.to_vec();
            copy[0] &= !0x01;
            copy
        }
        Alter::NoProperties => recode(pkt, v5, |p| {
            if let Packet::Publish(p) = p {
                p.properties = Properties::new();
            }
        }),
    }
}

/// A 5.0 SUBSCRIBE with every Retain Handling 1 (send only for a new subscription) made 0
/// (send on every subscribe).
fn retain_handling_0(pkt: &[u8]) -> Vec<u8> {
    recode(pkt, true, |p| {
        if let Packet::Subscribe(s) = p {
            for f in &mut s.filters {
                if f.options.retain_handling == RetainHandling::SendIfNew {
                    f.options.retain_handling = RetainHandling::SendAtSubscribe;
                }
            }
        }
    })
}

/// What goes to the broker for one packet from the client, if anything: keeps a client's
/// retained PUBLISH for `AfterConnack`, notes the version of a CONNECT and counts SUBSCRIBEs.
fn from_client(pkt: Vec<u8>, change: Change, made: &Made, conn: &mut Conn) -> Option<Vec<u8>> {
    if acks_upgrade(&pkt) {
        return None;
    }
    match pkt[0] >> 4 {
        CONNECT => {
            let b = body(&pkt);
            conn.v5 = b.get(topic_field_len(b)) == Some(&5);
        }
        PUBLISH if matches!(change, Change::AfterConnack) && pkt[0] & 1 == 1 => {
            made.retained.lock().unwrap()[usize::from(conn.v5)] = Some(as_retained_qos0(&pkt));
        }
        SUBSCRIBE => {
            conn.subscribes += 1;
            if matches!(change, Change::TwiceIgnoringRetainHandling1) && conn.v5 {
                return Some(retain_handling_0(&pkt));
            }
        }
        _ => {}
    }
    Some(pkt)
}

/// What goes to the client for one packet from the broker.
fn to_client(pkt: Vec<u8>, change: Change, made: &Made, conn: &Conn) -> Vec<Vec<u8>> {
    if matches!(change, Change::AfterConnack) {
        let copy = made.retained.lock().unwrap()[usize::from(conn.v5)].clone();
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
        Change::Twice | Change::TwiceIgnoringRetainHandling1 => vec![pkt.clone(), pkt],
        Change::TwiceFirstSubscriptionOnly if conn.subscribes > 1 => vec![],
        Change::TwiceFirstSubscriptionOnly => vec![pkt.clone(), pkt],
        Change::TwiceAltered(how) => {
            let copy = altered(&pkt, how, conn.v5);
            vec![pkt, copy]
        }
        Change::Upgrade => vec![at_qos1(&pkt, UPGRADED_ID)],
        Change::Dropped => vec![],
        Change::AfterConnack => vec![pkt],
    }
}

/// Whether a packet from the client is the acknowledgement of an upgraded PUBLISH, which the
/// broker never sent and must not see.
fn acks_upgrade(pkt: &[u8]) -> bool {
    pkt[0] >> 4 == PUBACK && body(pkt).get(..2) == Some(&UPGRADED_ID.to_be_bytes()[..])
}

/// One connection through the relay, making `change`.
struct Copies {
    change: Change,
    made: Arc<Made>,
    conn: Conn,
}

impl Rewrite for Copies {
    fn client_packet(&mut self, pkt: Vec<u8>) -> Option<Vec<u8>> {
        from_client(pkt, self.change, &self.made, &mut self.conn)
    }

    fn broker_packet(&mut self, pkt: Vec<u8>) -> Vec<Vec<u8>> {
        to_client(pkt, self.change, &self.made, &self.conn)
    }
}

/// Runs the embedded scenarios `ids` against the reference broker behind a relay making
/// `change`; returns each result as (outcome, "id [version]: message") and how often the
/// change was made.
async fn run_through(ids: &[&str], change: Change) -> (Vec<(Outcome, String)>, usize) {
    let broker = mqtt_reference_broker::start(mqtt_reference_broker::Config::default())
        .await
        .unwrap();
    let relay = move |c, b, made| {
        let conn = Conn::default();
        relay_framed(c, b, Copies { change, made, conn })
    };
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

/// The scenarios that accept one extra copy of a retained QoS 0 message, in the order of the
/// statements they check.
const ACCEPTING: [&str; 12] = [
    "session-end-keeps-retained",
    "retained-delivered-on-subscribe",
    "retained-delivered-on-wildcard-subscribe",
    "retained-not-sent-without-subscription",
    "retained-replaced-by-qos0",
    "resubscribe-resends-retained",
    "message-expiry-decremented-retained",
    "retained-message-expires",
    "retain-as-published-keeps-retain-flag",
    "retain-handling-0-sends-retained",
    "retain-handling-1-only-new-subscription",
    "subscription-identifier-on-retained-delivery",
];

/// Runs `ids` through `change` and asserts each result fails with a message containing every
/// one of `says`; returns how often the change was made.
async fn fails_each(ids: &[&str], change: Change, says: &[&str]) -> usize {
    let (results, made) = run_through(ids, change).await;
    assert!(results.len() >= ids.len(), "{results:?}");
    for (outcome, what) in &results {
        assert_eq!(*outcome, Outcome::Fail, "{what}");
        for s in says {
            assert!(what.contains(s), "{what}: should say {s}");
        }
    }
    made
}

/// A second copy at QoS 1 is no lawful QoS 0 duplicate: every scenario that accepts a second
/// copy fails it, at the step that accepts the copy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_copy_at_qos_1_fails() {
    let says = ["expect_unordered", "qos=1"];
    let made = fails_each(&ACCEPTING, Change::TwiceAltered(Alter::Qos1), &says).await;
    assert!(made >= ACCEPTING.len(), "the relay altered {made} copies");
}

/// A second copy without RETAIN is not the message the scenario accepts twice (MQTT-3.3.1-8
/// in 3.1.1 and MQTT-3.3.1-9 in 5.0 for a new subscription, MQTT-3.3.1-13 for Retain As
/// Published): every scenario that accepts a second copy fails it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_copy_without_retain_fails() {
    let change = Change::TwiceAltered(Alter::NotRetained);
    let made = fails_each(&ACCEPTING, change, &["expect_unordered"]).await;
    assert!(made >= ACCEPTING.len(), "the relay altered {made} copies");
}

/// A second copy without the lowered Message Expiry Interval (MQTT-3.3.2-6) or without the
/// Subscription Identifier (MQTT-3.3.4-3) fails the scenario that checks it on the first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_copy_without_its_properties_fails() {
    let ids = [
        "message-expiry-decremented-retained",
        "subscription-identifier-on-retained-delivery",
    ];
    let change = Change::TwiceAltered(Alter::NoProperties);
    let made = fails_each(&ids, change, &["expect_unordered"]).await;
    assert!(made >= 2, "the relay altered {made} copies");
}

/// Two copies for the first subscription do not stand in for the copy a repeated one must
/// bring (MQTT-3.8.4-3 in 3.1.1, MQTT-3.8.4-4 in 5.0).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_copies_for_the_first_subscription_and_none_for_the_second_fail() {
    let says = [
        "step 8 (sub: expect_unordered",
        "1 of the required packets did not arrive",
    ];
    let ids = ["resubscribe-resends-retained"];
    let made = fails_each(&ids, Change::TwiceFirstSubscriptionOnly, &says).await;
    assert!(made >= 4, "the relay doubled or dropped {made} messages");
}

/// The copy the first subscription may bring twice is no excuse for sending it again when a
/// Retain Handling 1 subscription is replaced (MQTT-3.3.1-10).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retained_message_for_a_replaced_retain_handling_1_subscription_fails() {
    let id = "retain-handling-1-only-new-subscription";
    let (results, made) = run_through(&[id], Change::TwiceIgnoringRetainHandling1).await;
    assert_eq!(results.len(), 1, "{results:?}");
    let (outcome, what) = &results[0];
    assert_eq!(*outcome, Outcome::Fail, "{what}");
    // The SUBACK of the replacement may come before the message or after it.
    assert!(
        what.contains("step 8 (sub: expect)") || what.contains("step 9 (sub: expect_nothing)"),
        "{what}"
    );
    assert!(what.contains(r#"payload="kept""#), "{what}");
    // Two copies answered each subscription.
    assert!(made >= 2, "the relay doubled {made} messages");
}

/// The second copy is optional, the first is not: a broker that never sends the message fails
/// every scenario that needs it. The one pass is 3.1.1's lawful discard of a retained QoS 0
/// message (MQTT-3.3.1-7).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_copy_at_all_fails() {
    let (results, made) = run_through(&ACCEPTING, Change::Dropped).await;
    assert!(results.len() > ACCEPTING.len(), "{results:?}");
    for (outcome, what) in &results {
        let lawful = what.starts_with("retained-replaced-by-qos0 [3.1.1]");
        let wanted = if lawful { Outcome::Pass } else { Outcome::Fail };
        assert_eq!(*outcome, wanted, "{what}");
    }
    assert!(made >= ACCEPTING.len(), "the relay dropped {made} messages");
}
