//! The reference broker behind a relay that takes choices the spec leaves to the broker, the
//! ones real brokers take and scenarios once mistook for violations. The whole corpus must pass
//! against it: a failure here is a scenario demanding more than the spec.
//!
//! Each choice counts how often it changed the traffic, so a test also shows it was exercised.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use mqtt_conformance::runner::Outcome;
use mqtt_conformance::transport::Target;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::time::Instant;

use crate::support::{body, frames};

/// Packet types (high nibble of the first byte).
const CONNECT: u8 = 1;
const PUBLISH: u8 = 3;
const PUBACK: u8 = 4;
const PUBREC: u8 = 5;
const PUBCOMP: u8 = 7;
const SUBSCRIBE: u8 = 8;
const SUBACK: u8 = 9;
const PINGRESP: u8 = 13;
const DISCONNECT: u8 = 14;

/// How long a SUBACK is held back so that packets after it overtake it.
const HOLD: Duration = Duration::from_millis(60);

/// The lawful choices, each counted when it changed something.
#[derive(Default)]
struct Choices {
    /// One QoS 1/2 message in flight per connection: later ones wait for the acknowledgement
    /// (3.1.1 sets no minimum; 5.0 bounds the send quota by Receive Maximum from above only).
    held_publish: AtomicUsize,
    /// PUBLISH and PINGRESP packets overtake a held SUBACK (3.8.4: matching retained messages
    /// may come first; replies of different kinds are not ordered).
    overtook_suback: AtomicUsize,
    /// The connection stays open after the client's DISCONNECT until the client closes it (the
    /// server only SHOULD close, 3.14.4).
    kept_open: AtomicUsize,
    /// A client PUBLISH to a `$` topic is refused by closing (4.7.2 SHOULD; MQTT-3.3.5-2).
    refused_dollar: AtomicUsize,
    /// Under 5.0 a SUBSCRIBE to a `$` filter other than `$share/` is refused by closing,
    /// without DISCONNECT (4.7.2 SHOULD; DISCONNECT 0x8F is defined for a well-formed filter
    /// the server does not accept, and MQTT-4.13.2-1 closes whether or not it is sent). Under
    /// 3.1.1 the refusal is SUBACK 0x80: a close breaks MQTT-3.8.4-1.
    refused_dollar_filter: AtomicUsize,
    /// A keep-alive close comes without DISCONNECT 0x8D (the server closes as if the network
    /// had failed, 3.1.2.10).
    silent_keep_alive: AtomicUsize,
    /// A PUBREL follows a PUBREC >= 0x80 from the client (no MUST forbids it).
    pubrel_after_failed_pubrec: AtomicUsize,
    /// A PUBLISH with QoS 0 and RETAIN 1 goes to the client twice (no MUST forbids it: 4.3.1's
    /// "once or not at all" is description, MQTT-4.3.1-1 fixes only QoS 0 and DUP 0).
    doubled_retained: AtomicUsize,
}

fn bump(c: &AtomicUsize) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// One connection's relay state.
struct Relay {
    choices: Arc<Choices>,
    to_client: OwnedWriteHalf,
    to_broker: OwnedWriteHalf,
    /// Protocol level of the client's CONNECT (5 = MQTT 5).
    level: u8,
    /// Close on a `$` SUBSCRIBE under 3.1.1 as well (unlawful: for the test that shows it).
    close_dollar_filter_3_1_1: bool,
    /// The identifier of the QoS 1/2 PUBLISH in flight to the client, and those waiting.
    in_flight: Option<u16>,
    waiting: VecDeque<Vec<u8>>,
    /// A SUBACK held back, and until when.
    held: Option<(Vec<u8>, Instant)>,
    /// The client sent a normal DISCONNECT and the broker answered nothing since.
    client_left: bool,
}

impl Relay {
    async fn client_write(&mut self, bytes: &[u8]) {
        let _ = self.to_client.write_all(bytes).await;
    }

    async fn flush_held(&mut self) {
        if let Some((ack, _)) = self.held.take() {
            self.client_write(&ack).await;
        }
    }

    /// A PUBLISH to the client goes out now, or waits if another QoS 1/2 one is in flight.
    async fn publish_to_client(&mut self, pkt: Vec<u8>) {
        let qos = (pkt[0] >> 1) & 3;
        if qos > 0 {
            if self.in_flight.is_some() {
                bump(&self.choices.held_publish);
                self.waiting.push_back(pkt);
                return;
            }
            self.in_flight = publish_id(&pkt);
        }
        if self.held.is_some() {
            bump(&self.choices.overtook_suback);
        }
        // QoS 0 and RETAIN 1: DUP is 0 on every QoS 0 PUBLISH (MQTT-3.3.1-2).
        if pkt[0] & 0x07 == 0x01 {
            bump(&self.choices.doubled_retained);
            self.client_write(&pkt).await;
        }
        self.client_write(&pkt).await;
    }

    /// The client acknowledged `id`: the next waiting PUBLISH may go.
    async fn release(&mut self, id: u16) {
        if self.in_flight != Some(id) {
            return;
        }
        self.in_flight = None;
        while self.in_flight.is_none() {
            let Some(next) = self.waiting.pop_front() else {
                break;
            };
            self.publish_to_client(next).await;
        }
    }

    async fn on_broker_packet(&mut self, pkt: Vec<u8>) {
        let (kind, body) = (pkt[0] >> 4, body(&pkt));
        self.client_left = false;
        match kind {
            PUBLISH => self.publish_to_client(pkt).await,
            PINGRESP => {
                if self.held.is_some() {
                    bump(&self.choices.overtook_suback);
                }
                self.client_write(&pkt).await;
            }
            SUBACK => {
                self.flush_held().await;
                self.held = Some((pkt, Instant::now() + HOLD));
            }
            DISCONNECT if self.level == 5 && body.first() == Some(&0x8D) => {
                bump(&self.choices.silent_keep_alive);
            }
            _ => {
                self.flush_held().await;
                self.client_write(&pkt).await;
            }
        }
    }

    /// Handles a packet from the client; `false` ends the connection.
    async fn on_client_packet(&mut self, pkt: &[u8]) -> bool {
        let (kind, flags, body) = (pkt[0] >> 4, pkt[0] & 0x0F, body(pkt));
        match kind {
            CONNECT => self.level = connect_level(body),
            PUBACK | PUBCOMP if body.len() >= 2 => {
                self.release(u16::from_be_bytes([body[0], body[1]])).await;
            }
            PUBREC if self.level == 5 && body.len() >= 3 && body[2] >= 0x80 => {
                let id = u16::from_be_bytes([body[0], body[1]]);
                self.release(id).await;
                bump(&self.choices.pubrel_after_failed_pubrec);
                self.client_write(&[0x62, 0x02, body[0], body[1]]).await;
            }
            PUBLISH if topic(body).starts_with(b"$") => {
                bump(&self.choices.refused_dollar);
                return false;
            }
            SUBSCRIBE
                if (self.level == 5 || self.close_dollar_filter_3_1_1)
                    && dollar_filter(body, self.level == 5) =>
            {
                bump(&self.choices.refused_dollar_filter);
                return false;
            }
            DISCONNECT if flags == 0 && matches!(body.first(), None | Some(0x00 | 0x04)) => {
                self.client_left = true;
            }
            _ => {}
        }
        let _ = self.to_broker.write_all(pkt).await;
        true
    }
}

fn topic(body: &[u8]) -> &[u8] {
    let n = body
        .get(..2)
        .map_or(0, |b| usize::from(u16::from_be_bytes([b[0], b[1]])));
    body.get(2..2 + n).unwrap_or(&[])
}

/// Whether the first filter of a SUBSCRIBE body starts with `$` and is no shared subscription.
fn dollar_filter(body: &[u8], v5: bool) -> bool {
    let mut at = 2;
    if v5 {
        // The property length, a variable byte integer (1.5.5), and the properties.
        let props = body.get(at..).unwrap_or(&[]);
        let (mut len, mut shift) = (0, 0);
        for (i, b) in props.iter().take(4).enumerate() {
            len |= usize::from(b & 0x7F) << shift;
            shift += 7;
            if b & 0x80 == 0 {
                at += i + 1 + len;
                break;
            }
        }
    }
    let filter = topic(body.get(at..).unwrap_or(&[]));
    filter.starts_with(b"$") && !filter.starts_with(b"$share/")
}

fn publish_id(pkt: &[u8]) -> Option<u16> {
    let b = body(pkt);
    let at = 2 + topic(b).len();
    b.get(at..at + 2)
        .map(|id| u16::from_be_bytes([id[0], id[1]]))
}

fn connect_level(body: &[u8]) -> u8 {
    let name = topic(body).len();
    body.get(2 + name).copied().unwrap_or(0)
}

async fn read_some(r: &mut OwnedReadHalf, buf: &mut Vec<u8>) -> usize {
    let mut chunk = [0u8; 4096];
    let n = r.read(&mut chunk).await.unwrap_or(0);
    buf.extend_from_slice(&chunk[..n]);
    n
}

/// Relays one connection until either side is done, taking only lawful choices.
async fn relay(client: TcpStream, broker: SocketAddr, choices: Arc<Choices>) {
    relay_as(client, broker, choices, false).await;
}

/// Relays one connection; `close_dollar_filter_3_1_1` adds the one unlawful choice.
async fn relay_as(
    client: TcpStream,
    broker: SocketAddr,
    choices: Arc<Choices>,
    close_dollar_filter_3_1_1: bool,
) {
    let Ok(upstream) = TcpStream::connect(broker).await else {
        return;
    };
    let (mut from_client, to_client) = client.into_split();
    let (mut from_broker, to_broker) = upstream.into_split();
    let mut r = Relay {
        choices,
        to_client,
        to_broker,
        level: 4,
        close_dollar_filter_3_1_1,
        in_flight: None,
        waiting: VecDeque::new(),
        held: None,
        client_left: false,
    };
    let (mut cbuf, mut bbuf) = (Vec::new(), Vec::new());
    let (mut raw, mut broker_done) = (false, false);
    loop {
        let hold_until = r.held.as_ref().map(|h| h.1);
        tokio::select! {
            n = read_some(&mut from_client, &mut cbuf) => {
                if n == 0 {
                    break;
                }
                if raw {
                    let _ = r.to_broker.write_all(&cbuf).await;
                    cbuf.clear();
                    continue;
                }
                let (pkts, unframable) = frames(&mut cbuf);
                for p in pkts {
                    if !r.on_client_packet(&p).await {
                        return;
                    }
                }
                // Malformed input goes to the broker as it came, from here on.
                if unframable {
                    raw = true;
                    let _ = r.to_broker.write_all(&cbuf).await;
                    cbuf.clear();
                }
            }
            n = read_some(&mut from_broker, &mut bbuf), if !broker_done => {
                if n == 0 {
                    r.flush_held().await;
                    if !r.client_left {
                        break;
                    }
                    bump(&r.choices.kept_open);
                    broker_done = true;
                    continue;
                }
                for p in frames(&mut bbuf).0 {
                    r.on_broker_packet(p).await;
                }
            }
            () = sleep_until(hold_until) => r.flush_held().await,
        }
    }
    let _ = r.to_client.shutdown().await;
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_corpus_passes_a_broker_taking_every_lawful_choice() {
    let broker = mqtt_reference_broker::start(mqtt_reference_broker::Config::default())
        .await
        .unwrap();
    let (addr, choices) = crate::support::start_relay(broker.tcp_addr(), relay).await;
    let report = crate::support::run_whole_corpus(Target::tcp(addr)).await;
    broker.shutdown().await;

    let bad: Vec<String> = report
        .results
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Fail | Outcome::Error))
        .map(|r| format!("{} [{}]: {}", r.id, r.version, r.message))
        .collect();
    assert!(
        bad.is_empty(),
        "lawful behaviour failed:\n{}",
        bad.join("\n")
    );
    let passed = report.results.iter().filter(|r| r.outcome == Outcome::Pass);
    assert!(passed.count() * 10 > report.results.len() * 9);
    for (what, n) in [
        ("held publish", &choices.held_publish),
        ("overtaken SUBACK", &choices.overtook_suback),
        ("kept open after DISCONNECT", &choices.kept_open),
        ("refused $ publish", &choices.refused_dollar),
        ("refused $ subscription", &choices.refused_dollar_filter),
        ("silent keep-alive close", &choices.silent_keep_alive),
        (
            "PUBREL after failed PUBREC",
            &choices.pubrel_after_failed_pubrec,
        ),
        ("doubled retained QoS 0 message", &choices.doubled_retained),
    ] {
        assert!(
            n.load(Ordering::Relaxed) > 0,
            "the corpus never met: {what}"
        );
    }
}

/// The line between the versions, both ways: a close on a SUBSCRIBE to `$c/...` leaves the
/// '$' rule untestable under 5.0 (a skip naming the close) and fails MQTT-3.8.4-1 under 3.1.1,
/// where the only refusal is SUBACK 0x80.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_on_a_dollar_subscription_is_lawful_under_5_only() {
    const ID: &str = "dollar-topic-not-matched-by-leading-plus";
    let broker = mqtt_reference_broker::start(mqtt_reference_broker::Config::default())
        .await
        .unwrap();
    let relay = |c, b, ch| relay_as(c, b, ch, true);
    let (addr, choices) = crate::support::start_relay(broker.tcp_addr(), relay).await;
    let report = crate::support::run_embedded(&[ID], Target::tcp(addr)).await;
    broker.shutdown().await;

    assert_eq!(report.results.len(), 2);
    for r in &report.results {
        let what = format!("{} [{}]: {:?} {}", r.id, r.version, r.outcome, r.message);
        let (outcome, start) = if r.version.is_v5() {
            (Outcome::Skip, "untestable on this broker: step 7: ")
        } else {
            (Outcome::Fail, "step 6 (exact: expect_one_of (MQTT-3.8.4-1")
        };
        assert_eq!(r.outcome, outcome, "{what}");
        assert!(r.message.starts_with(start), "{what}");
        assert!(r.message.contains("closed"), "{what}");
    }
    assert!(choices.refused_dollar_filter.load(Ordering::Relaxed) >= 2);
}
