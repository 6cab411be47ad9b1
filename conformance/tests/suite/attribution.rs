//! A broker's fault is reported under the statement it breaks. A relay in front of the reference
//! broker breaks one statement; every scenario of the corpus that then fails must cite it. A
//! scenario about something else that fails too asserts more than it claims: it would report a
//! real broker's fault under a statement the broker keeps, and hide what it is about.
//!
//! - `resent_without_dup`: every PUBLISH the broker sends again goes out with DUP 0, which
//!   breaks MQTT-3.3.1-1 only.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use mqtt_conformance::runner::{Outcome, RunReport};
use mqtt_conformance::transport::Target;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{frames_or_rest, run_whole_corpus, start_relay};

/// PUBLISH (high nibble of the first byte).
const PUBLISH: u8 = 3;
/// The DUP bit of a PUBLISH's first byte.
const DUP: u8 = 0x08;

/// How many resent PUBLISH packets lost their DUP flag.
#[derive(Default)]
struct Cleared(AtomicUsize);

/// Relays one connection until either side ends it, clearing DUP on the broker's PUBLISH
/// packets; the client's packets go as they are.
async fn relay(client: TcpStream, broker: SocketAddr, cleared: Arc<Cleared>) {
    let Ok(upstream) = TcpStream::connect(broker).await else {
        return;
    };
    let (mut client_r, mut to_client) = client.into_split();
    let (mut broker_r, mut to_broker) = upstream.into_split();
    let (mut bbuf, mut c, mut b) = (Vec::new(), [0u8; 4096], [0u8; 4096]);
    loop {
        tokio::select! {
            n = client_r.read(&mut c) => match n.unwrap_or(0) {
                0 => break,
                n => { let _ = to_broker.write_all(&c[..n]).await; }
            },
            n = broker_r.read(&mut b) => {
                let n = n.unwrap_or(0);
                if n == 0 {
                    break;
                }
                bbuf.extend_from_slice(&b[..n]);
                for mut p in frames_or_rest(&mut bbuf) {
                    if p[0] >> 4 == PUBLISH && p[0] & DUP != 0 {
                        p[0] &= !DUP;
                        cleared.0.fetch_add(1, Ordering::Relaxed);
                    }
                    let _ = to_client.write_all(&p).await;
                }
            }
        }
    }
    let _ = to_client.shutdown().await;
}

/// The whole embedded corpus, both versions, against the reference broker behind the relay.
async fn run_corpus() -> (RunReport, usize) {
    let broker = mqtt_reference_broker::start(mqtt_reference_broker::Config::default())
        .await
        .unwrap();
    let (addr, cleared) = start_relay(broker.tcp_addr(), relay).await;
    let report = run_whole_corpus(Target::tcp(addr)).await;
    broker.shutdown().await;
    (report, cleared.0.load(Ordering::Relaxed))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resent_without_dup() {
    const RULE: &str = "MQTT-3.3.1-1";
    let (report, cleared) = run_corpus().await;
    let failed: Vec<_> = report
        .results
        .iter()
        .filter(|r| !matches!(r.outcome, Outcome::Pass | Outcome::Skip))
        .collect();
    for r in &failed {
        assert!(
            r.statements.iter().any(|s| s.id == RULE),
            "{} [{}] fails without citing {RULE}: {}",
            r.id,
            r.version,
            r.message
        );
    }
    // The scenario named for the rule fails under both versions.
    let dup = failed.iter().filter(|r| r.id == "redelivery-sets-dup");
    assert_eq!(dup.count(), 2, "{failed:?}");
    assert!(cleared > 0, "no resent PUBLISH went through the relay");
}
