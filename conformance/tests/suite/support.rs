//! Helpers: scenario files in a temporary folder, a run against a broker, redaction.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use mqtt_conformance::corpus;
use mqtt_conformance::error::Error;
use mqtt_conformance::exec::Settings;
use mqtt_conformance::profile::Profile;
use mqtt_conformance::runner::{self, Options, RunReport};
use mqtt_conformance::scenario::Version;
use mqtt_conformance::transport::Target;

/// Writes scenario files (name, text) into a fresh folder and returns it.
pub(crate) fn scenario_dir(files: &[(&str, &str)]) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "mqtt-conformance-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
    }
    dir
}

/// Runs the scenarios in `dir` against `target` with a fixed seed.
pub(crate) async fn run(dir: &PathBuf, target: Target, profile: &Profile) -> RunReport {
    run_with(dir, profile, &options(target, Duration::from_secs(2)))
        .await
        .unwrap()
}

/// Options of a test run: 4 jobs, seed 7, both versions, the given step timeout.
pub(crate) fn options(target: Target, step_timeout: Duration) -> Options {
    Options {
        settings: Settings {
            target,
            step_timeout,
            scale: 1.0,
            credentials: None,
        },
        jobs: 4,
        repeat: 1,
        seed: 7,
        strict: false,
        versions: Version::ALL.to_vec(),
        keep_transcripts: false,
        delayed_wills_apart: false,
    }
}

/// Runs the scenarios in `dir` with `opts`.
pub(crate) async fn run_with(
    dir: &PathBuf,
    profile: &Profile,
    opts: &Options,
) -> Result<RunReport, Error> {
    let corpus = corpus::load(std::slice::from_ref(dir)).unwrap();
    let bar = indicatif::ProgressBar::hidden();
    runner::run(&corpus, profile, opts, &bar).await
}

/// Runs the embedded corpus's scenarios named `ids` (each must exist) against `target` with
/// the reference profile, step timeout 3 s.
pub(crate) async fn run_embedded(ids: &[&str], target: Target) -> RunReport {
    let (mut corpus, problems) = corpus::parse_all(&corpus::embedded_sources());
    assert!(problems.is_empty(), "{problems:?}");
    corpus.retain(|l| ids.contains(&l.scenario.id.as_str()));
    assert_eq!(
        corpus.len(),
        ids.len(),
        "not all of {ids:?} are in the corpus"
    );
    let opts = options(target, Duration::from_secs(3));
    let bar = indicatif::ProgressBar::hidden();
    runner::run(&corpus, &reference(), &opts, &bar)
        .await
        .unwrap()
}

/// Runs the whole embedded corpus, both versions, against `target` with the reference profile,
/// 16 jobs and step timeout 3 s.
pub(crate) async fn run_whole_corpus(target: Target) -> RunReport {
    let (corpus, problems) = corpus::parse_all(&corpus::embedded_sources());
    assert!(problems.is_empty(), "{problems:?}");
    let mut opts = options(target, Duration::from_secs(3));
    opts.jobs = 16;
    let bar = indicatif::ProgressBar::hidden();
    runner::run(&corpus, &reference(), &opts, &bar)
        .await
        .unwrap()
}

/// Runs the binary, bounded by 60 s; returns its output and wall time.
pub(crate) async fn run_cli(args: &[&str]) -> (std::process::Output, Duration) {
    let start = std::time::Instant::now();
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_mqtt-conformance"))
        .args(args)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), child)
        .await
        .expect("the CLI stalled")
        .unwrap();
    (out, start.elapsed())
}

/// The reference profile.
pub(crate) fn reference() -> Profile {
    Profile::load("reference").unwrap()
}

/// Replaces every `127.0.0.1:<port>` with `127.0.0.1:PORT` and temporary paths with `TMP`.
pub(crate) fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("127.0.0.1:") {
        out.push_str(&rest[..i + 10]);
        rest = &rest[i + 10..];
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        out.push_str("PORT");
        rest = &rest[digits..];
    }
    out.push_str(rest);
    out
}

/// Listens on a free loopback port and hands each client to `relay` together with `broker`
/// and the shared record `S` the relay keeps; returns the address and that record.
pub(crate) async fn start_relay<S, F, Fut>(
    broker: std::net::SocketAddr,
    relay: F,
) -> (std::net::SocketAddr, std::sync::Arc<S>)
where
    S: Default + Send + Sync + 'static,
    F: Fn(tokio::net::TcpStream, std::net::SocketAddr, std::sync::Arc<S>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let record = std::sync::Arc::new(S::default());
    let shared = record.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            tokio::spawn(relay(client, broker, shared.clone()));
        }
    });
    (addr, record)
}

/// What a relay in front of a broker does to one connection's packets.
pub(crate) trait Rewrite: Send + 'static {
    /// Whether the client's bytes are split into packets for `client_packet`. Otherwise they go
    /// on as they come, unframed, so that a partial packet reaches the broker as it was sent.
    fn frames_client(&self) -> bool {
        true
    }
    /// What goes to the broker for one packet from the client, if anything.
    fn client_packet(&mut self, pkt: Vec<u8>) -> Option<Vec<u8>> {
        Some(pkt)
    }
    /// What goes to the client for one packet from the broker.
    fn broker_packet(&mut self, pkt: Vec<u8>) -> Vec<Vec<u8>>;
}

/// Relays one connection to `broker` until either side ends it, applying `rw` to its packets.
pub(crate) async fn relay_framed(
    client: tokio::net::TcpStream,
    broker: std::net::SocketAddr,
    mut rw: impl Rewrite,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(upstream) = tokio::net::TcpStream::connect(broker).await else {
        return;
    };
    let (mut client_r, mut to_client) = client.into_split();
    let (mut broker_r, mut to_broker) = upstream.into_split();
    let (mut cbuf, mut bbuf) = (Vec::new(), Vec::new());
    let (mut c, mut b) = ([0u8; 4096], [0u8; 4096]);
    loop {
        tokio::select! {
            n = client_r.read(&mut c) => {
                let n = n.unwrap_or(0);
                if n == 0 {
                    break;
                }
                if !rw.frames_client() {
                    let _ = to_broker.write_all(&c[..n]).await;
                    continue;
                }
                cbuf.extend_from_slice(&c[..n]);
                for p in frames_or_rest(&mut cbuf) {
                    if let Some(p) = rw.client_packet(p) {
                        let _ = to_broker.write_all(&p).await;
                    }
                }
            }
            n = broker_r.read(&mut b) => {
                let n = n.unwrap_or(0);
                if n == 0 {
                    break;
                }
                bbuf.extend_from_slice(&b[..n]);
                for p in frames_or_rest(&mut bbuf) {
                    for out in rw.broker_packet(p) {
                        let _ = to_client.write_all(&out).await;
                    }
                }
            }
        }
    }
    let _ = to_client.shutdown().await;
}

/// Splits whole packets off the front of `buf`; a partial packet stays there. The flag is true
/// when what stays cannot be framed (a bad Remaining Length), so it never will be.
pub(crate) fn frames(buf: &mut Vec<u8>) -> (Vec<Vec<u8>>, bool) {
    let mut out = Vec::new();
    loop {
        match mqtt_codec::framing::packet_len(buf) {
            Ok(Some(len)) if buf.len() >= len => out.push(buf.drain(..len).collect()),
            Ok(_) => return (out, false),
            Err(_) => return (out, true),
        }
    }
}

/// `frames`, with bytes that cannot be framed passed on as one last chunk, as they came.
pub(crate) fn frames_or_rest(buf: &mut Vec<u8>) -> Vec<Vec<u8>> {
    let (mut out, unframable) = frames(buf);
    if unframable {
        out.push(std::mem::take(buf));
    }
    out
}

/// A packet's body: what follows the fixed header (the packet was framed by `frames`).
pub(crate) fn body(pkt: &[u8]) -> &[u8] {
    mqtt_codec::FixedHeader::parse(pkt)
        .ok()
        .flatten()
        .and_then(|h| pkt.get(h.header_len..))
        .unwrap_or(&[])
}

/// The length of the Topic Name field at the start of a PUBLISH body, prefix included.
pub(crate) fn topic_field_len(body: &[u8]) -> usize {
    2 + body
        .get(..2)
        .map_or(0, |l| usize::from(u16::from_be_bytes([l[0], l[1]])))
}

/// The same QoS 0 PUBLISH at QoS 1 with packet identifier `id`: the identifier follows the
/// Topic Name in both versions (3.3.2), so 5.0 properties stay where they were.
pub(crate) fn at_qos1(pkt: &[u8], id: u16) -> Vec<u8> {
    let b = body(pkt);
    let at = topic_field_len(b).min(b.len());
    let mut rest = Vec::with_capacity(b.len() + 2);
    rest.extend_from_slice(&b[..at]);
    rest.extend_from_slice(&id.to_be_bytes());
    rest.extend_from_slice(&b[at..]);
    let mut out = vec![pkt[0] | 0x02];
    mqtt_codec::varint::write(&mut out, u32::try_from(rest.len()).unwrap());
    out.extend_from_slice(&rest);
    out
}
