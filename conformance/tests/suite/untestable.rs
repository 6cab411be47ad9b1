//! A broker that lawfully refuses what a scenario needs makes that scenario untestable: a skip
//! naming what arrived, never a pass (a vacuous verdict) and never a failure (a false alarm).
//!
//! The reference broker sits behind a relay that refuses a topic longer than 1,000 bytes
//! (4.7.3 lets a server limit it) and a client's PUBLISH to a `$` topic (4.7.2: a server SHOULD
//! keep clients from `$` topics), each refusal in the form the version allows.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use mqtt_conformance::corpus;
use mqtt_conformance::report;
use mqtt_conformance::runner::Outcome;
use mqtt_conformance::transport::Target;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;

/// Packet types (high nibble of the first byte).
const CONNECT: u8 = 1;
const PUBLISH: u8 = 3;
const SUBSCRIBE: u8 = 8;

/// Topics longer than this are refused.
const LONGEST: usize = 1000;

/// How often each refusal was made, so the test shows the relay was exercised.
#[derive(Default)]
struct Refusals {
    long_filter: AtomicUsize,
    long_topic: AtomicUsize,
    dollar: AtomicUsize,
}

/// What the relay does with one client packet.
enum Verdict {
    Forward,
    Answer(Vec<u8>),
    Close,
}

/// Under 3.1.1 a long filter gets SUBACK 0x80 and a `$` publish a close; under 5.0 a long
/// filter passes, a long topic name gets PUBACK 0x90 and a `$` publish PUBACK 0x87.
fn decide(pkt: &[u8], v5: bool, seen: &Refusals) -> Verdict {
    let (kind, qos, body) = (pkt[0] >> 4, (pkt[0] >> 1) & 3, body(pkt));
    match kind {
        SUBSCRIBE if !v5 && body.len() > 2 && string(&body[2..]).len() > LONGEST => {
            seen.long_filter.fetch_add(1, Ordering::Relaxed);
            Verdict::Answer(vec![0x90, 0x03, body[0], body[1], 0x80])
        }
        PUBLISH => {
            let topic = string(body);
            let at = 2 + topic.len();
            let Some(id) = body.get(at..at + 2).filter(|_| qos > 0) else {
                return Verdict::Forward;
            };
            let code = if topic.starts_with(b"$") {
                seen.dollar.fetch_add(1, Ordering::Relaxed);
                0x87
            } else if v5 && topic.len() > LONGEST {
                seen.long_topic.fetch_add(1, Ordering::Relaxed);
                0x90
            } else {
                return Verdict::Forward;
            };
            if v5 {
                Verdict::Answer(vec![0x40, 0x03, id[0], id[1], code])
            } else {
                Verdict::Close
            }
        }
        _ => Verdict::Forward,
    }
}

/// A packet's body: what follows the fixed header (the packet was framed by `packet_len`).
fn body(pkt: &[u8]) -> &[u8] {
    mqtt_codec::FixedHeader::parse(pkt)
        .ok()
        .flatten()
        .and_then(|h| pkt.get(h.header_len..))
        .unwrap_or(&[])
}

/// A length-prefixed string at the start of `b`.
fn string(b: &[u8]) -> &[u8] {
    let n = b
        .get(..2)
        .map_or(0, |l| usize::from(u16::from_be_bytes([l[0], l[1]])));
    b.get(2..2 + n).unwrap_or(&[])
}

/// Handles the client's bytes in `buf`; `false` ends the connection.
async fn from_client(
    buf: &mut Vec<u8>,
    v5: &mut bool,
    to_client: &mut OwnedWriteHalf,
    to_broker: &mut OwnedWriteHalf,
    seen: &Refusals,
) -> bool {
    while let Ok(Some(len)) = mqtt_codec::framing::packet_len(buf) {
        if buf.len() < len {
            break;
        }
        let pkt: Vec<u8> = buf.drain(..len).collect();
        if pkt[0] >> 4 == CONNECT {
            let name = string(body(&pkt)).len();
            *v5 = body(&pkt).get(2 + name) == Some(&5);
        }
        match decide(&pkt, *v5, seen) {
            Verdict::Forward => {
                let _ = to_broker.write_all(&pkt).await;
            }
            Verdict::Answer(bytes) => {
                let _ = to_client.write_all(&bytes).await;
            }
            Verdict::Close => return false,
        }
    }
    true
}

/// Relays one connection until either side ends it.
async fn relay(client: TcpStream, broker: SocketAddr, seen: Arc<Refusals>) {
    let Ok(upstream) = TcpStream::connect(broker).await else {
        return;
    };
    let (mut client_r, mut to_client) = client.into_split();
    let (mut broker_r, mut to_broker) = upstream.into_split();
    let (mut buf, mut v5) = (Vec::new(), false);
    let (mut c, mut b) = ([0u8; 4096], [0u8; 4096]);
    loop {
        tokio::select! {
            n = client_r.read(&mut c) => {
                let n = n.unwrap_or(0);
                buf.extend_from_slice(&c[..n]);
                if n == 0 || !from_client(&mut buf, &mut v5, &mut to_client, &mut to_broker, &seen).await {
                    break;
                }
            }
            n = broker_r.read(&mut b) => {
                let n = n.unwrap_or(0);
                if n == 0 || to_client.write_all(&b[..n]).await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = to_client.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lawful_refusal_is_untestable_not_pass_or_fail() {
    const IDS: [&str; 3] = [
        "topic-near-maximum-length-accepted",
        "dollar-topic-not-matched-by-leading-plus",
        "dollar-topic-not-matched-by-leading-hash",
    ];
    let broker = mqtt_reference_broker::start(mqtt_reference_broker::Config::default())
        .await
        .unwrap();
    let (addr, seen) = crate::support::start_relay(broker.tcp_addr(), relay).await;
    let report = crate::support::run_embedded(&IDS, Target::tcp(addr)).await;
    broker.shutdown().await;

    // 3.1.1 and 5.0 of the first two, 5.0 of the third.
    assert_eq!(report.results.len(), 5);
    for r in &report.results {
        let what = format!("{} [{}]: {:?} {}", r.id, r.version, r.outcome, r.message);
        assert_eq!(r.outcome, Outcome::Skip, "{what}");
        assert!(
            r.message.starts_with("untestable on this broker: step "),
            "{what}"
        );
        let named = match (r.id.starts_with("dollar"), r.version.is_v5()) {
            (true, true) => "PUBACK id=1 code=0x87",
            (true, false) => "connection closed",
            (false, true) => "PUBACK id=1 code=0x90",
            (false, false) => "SUBACK id=1 codes=[0x80]",
        };
        assert!(r.message.contains(named), "{what}: should name {named}");
    }
    for (what, n) in [
        ("long filter", &seen.long_filter),
        ("long topic", &seen.long_topic),
        ("$ publish", &seen.dollar),
    ] {
        assert!(n.load(Ordering::Relaxed) > 0, "never refused: {what}");
    }
    // Every report shows them as skipped.
    assert_eq!(report::json(&report)["summary"]["skipped"], 5);
    assert_eq!(
        report::junit(&report).matches("<skipped message=").count(),
        5
    );
    assert!(report::html(&report).contains("untestable on this broker"));
    assert!(
        report::terminal(
            &report,
            report::Style {
                color: false,
                verbose: true
            }
        )
        .contains("untestable on this broker")
    );
}

#[test]
fn lint_refuses_an_untestable_alternative_without_a_checkable_one() {
    let yaml = r#"
id: all-untestable
title: Every alternative untestable.
statements: { must: [MQTT-3.3.4-1] }
versions: [5.0]
steps:
  - { client: a, connect: {} }
  - client: a
    expect_one_of:
      - expect: { pingresp: {} }
        untestable: "one"
      - expect_closed: {}
        untestable: " "
        non_strict: true
"#;
    let (_, problems) = corpus::parse_all(&[("x/all-untestable.yaml".into(), yaml.into())]);
    let text = format!("{problems:?}");
    assert!(text.contains("every alternative is untestable"), "{text}");
    assert!(text.contains("needs the reason"), "{text}");
    assert!(text.contains("not both"), "{text}");
}
