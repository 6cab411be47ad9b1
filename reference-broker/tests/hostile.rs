//! Hostile clients against the real server on loopback. Each test attacks, then checks that
//! the broker still serves a normal client within a second and that the process's memory
//! stayed bounded. Tests take a lock so that one runs at a time: the RSS they read is the
//! whole process's.

#![cfg(target_os = "linux")]

use std::net::SocketAddr;
use std::time::Duration;

use bytes::BytesMut;
use mqtt_codec::{
    ByteString, Connect, Decoded, Decoder, Packet, ProtocolVersion, Publish, QoS, ReasonCode,
    Subscribe, Subscription, SubscriptionOptions, Unsubscribe, Will,
};
use mqtt_reference_broker::{BrokerHandle, Config, Limits, start};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Mutex, MutexGuard};
use tokio::time::timeout;

use ProtocolVersion::{V3_1_1 as V311, V5_0 as V5};

/// How long a reply may take before the test fails (generous: the machine may be loaded).
const WAIT: Duration = Duration::from_secs(10);
/// How soon after an attack a normal client must be served.
const SERVED_WITHIN: Duration = Duration::from_secs(1);
/// How much the process's RSS may grow during one attack.
const RSS_GROWTH_MAX_KIB: u64 = 64 * 1024;
/// As deep as a topic can be: 65,534 `/` are 65,535 levels (65,534 bytes, within 65,535).
const DEEP_LEVELS: usize = 65_535;

static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

/// One attack: the broker, the lock and the RSS before.
struct Attack {
    broker: BrokerHandle,
    rss_before: u64,
    _turn: MutexGuard<'static, ()>,
}

impl Attack {
    async fn start(limits: Limits) -> Self {
        let turn = ONE_AT_A_TIME.lock().await;
        let broker = start(Config {
            limits,
            ..Config::default()
        })
        .await
        .unwrap();
        Self {
            broker,
            rss_before: rss_kib(),
            _turn: turn,
        }
    }

    fn addr(&self) -> SocketAddr {
        self.broker.tcp_addr()
    }

    /// Checks the broker serves a normal client within [`SERVED_WITHIN`] and that RSS grew
    /// by at most [`RSS_GROWTH_MAX_KIB`], then stops the broker.
    async fn survived(self) {
        timeout(SERVED_WITHIN, serves_a_normal_client(self.addr()))
            .await
            .expect("the broker did not serve a normal client within 1 s");
        let growth = rss_kib().saturating_sub(self.rss_before);
        assert!(
            growth <= RSS_GROWTH_MAX_KIB,
            "RSS grew by {growth} KiB during the attack"
        );
        self.broker.shutdown().await;
    }
}

/// The resident set size of this process, from /proc/self/status.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status")
}

async fn serves_a_normal_client(addr: SocketAddr) {
    let mut c = Client::connect(addr, V5, "normal").await;
    c.send(Subscribe::single(1, "normal/t", QoS::AtMostOnce))
        .await;
    assert!(matches!(c.recv().await, Some(Packet::SubAck(_))));
    c.send(Publish::new("normal/t", "ok")).await;
    match c.recv().await {
        Some(Packet::Publish(p)) => assert_eq!(&p.payload[..], b"ok"),
        other => panic!("expected the PUBLISH back, got {other:?}"),
    }
}

struct Client {
    stream: TcpStream,
    buf: BytesMut,
    decoder: Decoder,
    version: ProtocolVersion,
}

impl Client {
    async fn open(addr: SocketAddr, version: ProtocolVersion) -> Self {
        let stream = timeout(WAIT, TcpStream::connect(addr))
            .await
            .unwrap()
            .unwrap();
        Self {
            stream,
            buf: BytesMut::new(),
            decoder: Decoder::new(version),
            version,
        }
    }

    /// Connects and returns the CONNACK's code.
    async fn connect_with(addr: SocketAddr, connect: Connect) -> (Self, ReasonCode) {
        let mut c = Self::open(addr, connect.protocol).await;
        c.send(connect).await;
        match c.recv().await {
            Some(Packet::ConnAck(ack)) => (c, ack.code),
            other => panic!("expected CONNACK, got {other:?}"),
        }
    }

    async fn connect(addr: SocketAddr, version: ProtocolVersion, id: &str) -> Self {
        let (c, code) = Self::connect_with(addr, Connect::new(version, id)).await;
        assert_eq!(code, ReasonCode::SUCCESS);
        c
    }

    async fn send(&mut self, p: impl Into<Packet>) {
        let bytes = p.into().to_bytes(self.version).unwrap();
        self.stream.write_all(&bytes).await.unwrap();
    }

    /// The next packet, or `None` when the broker closed the connection.
    async fn recv(&mut self) -> Option<Packet> {
        loop {
            if let Decoded::Packet(p) = self.decoder.decode(&mut self.buf).unwrap() {
                return Some(p);
            }
            let n = timeout(WAIT, self.stream.read_buf(&mut self.buf))
                .await
                .expect("timed out waiting for the broker")
                .ok()?;
            if n == 0 {
                return None;
            }
        }
    }
}

fn deep(last: &str) -> ByteString {
    format!("{}{last}", "/".repeat(DEEP_LEVELS - 1)).into()
}

fn subscribe(packet_id: u16, filters: impl IntoIterator<Item = ByteString>) -> Subscribe {
    let mut s = Subscribe::single(packet_id, "x", QoS::AtLeastOnce);
    s.filters = filters
        .into_iter()
        .map(|filter| Subscription {
            filter,
            options: SubscriptionOptions {
                qos: QoS::AtLeastOnce,
                ..SubscriptionOptions::default()
            },
        })
        .collect();
    s
}

fn suback_codes(p: Option<Packet>) -> Vec<ReasonCode> {
    match p {
        Some(Packet::SubAck(ack)) => ack.codes,
        other => panic!("expected SUBACK, got {other:?}"),
    }
}

#[tokio::test]
async fn a_subscribe_to_65535_levels_is_refused_and_the_broker_lives() {
    let attack = Attack::start(Limits::default()).await;
    for (version, refused) in [
        (V311, ReasonCode::SUBACK_FAILURE_V3),
        (V5, ReasonCode::TOPIC_FILTER_INVALID),
    ] {
        let mut c = Client::connect(attack.addr(), version, "deep").await;
        c.send(subscribe(1, [deep(""), deep("#"), "ok/+".into()]))
            .await;
        let codes = suback_codes(c.recv().await);
        assert_eq!(codes, [refused, refused, ReasonCode::GRANTED_QOS_1]);
    }
    attack.survived().await;
}

#[tokio::test]
async fn a_publish_to_65535_levels_is_refused_and_the_broker_lives() {
    let attack = Attack::start(Limits::default()).await;
    let mut watcher = Client::connect(attack.addr(), V5, "watcher").await;
    watcher.send(subscribe(1, ["#".into()])).await;
    suback_codes(watcher.recv().await);
    for (version, code) in [
        (V311, ReasonCode::SUCCESS),
        (V5, ReasonCode::TOPIC_NAME_INVALID),
    ] {
        let mut c = Client::connect(attack.addr(), version, "deep").await;
        let mut p = Publish::new(deep("x"), "boom");
        (p.qos, p.packet_id, p.retain) = (QoS::AtLeastOnce, 7, true);
        c.send(p).await;
        match c.recv().await {
            // 3.1.1 cannot refuse a PUBLISH: acknowledged, not delivered (MQTT-3.3.5-2).
            Some(Packet::PubAck(ack)) => assert_eq!((ack.packet_id, ack.reason), (7, code)),
            other => panic!("expected PUBACK, got {other:?}"),
        }
    }
    watcher.send(Publish::new("after", "x")).await;
    match watcher.recv().await {
        Some(Packet::Publish(p)) => assert_eq!(&p.topic[..], "after", "deep topic delivered"),
        other => panic!("expected PUBLISH, got {other:?}"),
    }
    attack.survived().await;
}

#[tokio::test]
async fn a_will_on_65535_levels_is_refused_at_connect_and_the_broker_lives() {
    let attack = Attack::start(Limits::default()).await;
    for (version, code) in [
        (V311, ReasonCode::V3_SERVER_UNAVAILABLE),
        (V5, ReasonCode::TOPIC_NAME_INVALID),
    ] {
        let mut connect = Connect::new(version, "deep-will");
        connect.will = Some(Will {
            topic: deep("w"),
            payload: "gone".into(),
            qos: QoS::AtLeastOnce,
            retain: true,
            properties: Default::default(),
        });
        let (mut c, got) = Client::connect_with(attack.addr(), connect).await;
        assert_eq!(got, code);
        assert!(c.recv().await.is_none(), "connection left open");
    }
    attack.survived().await;
}

#[tokio::test]
async fn an_unsubscribe_from_65535_levels_is_answered_and_the_broker_lives() {
    let attack = Attack::start(Limits::default()).await;
    let mut c = Client::connect(attack.addr(), V5, "deep").await;
    let u = Unsubscribe {
        packet_id: 3,
        properties: Default::default(),
        filters: vec![deep(""), deep("#")],
    };
    c.send(u).await;
    match c.recv().await {
        Some(Packet::UnsubAck(ack)) => {
            assert_eq!(ack.codes, [ReasonCode::NO_SUBSCRIPTION_EXISTED; 2]);
        }
        other => panic!("expected UNSUBACK, got {other:?}"),
    }
    attack.survived().await;
}
