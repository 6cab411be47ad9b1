//! A deterministic harness: one engine, fake clients that speak through the codec, and a
//! virtual clock that only moves when a test says so.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use mqtt_codec::{
    ConnAck, Connect, Decoded, Decoder, Packet, ProtocolVersion, Publish, QoS, ReasonCode,
    Subscribe,
};

use crate::config::Limits;
use crate::engine::{ConnId, Engine, Event};

pub(crate) use mqtt_codec::ProtocolVersion::{V3_1_1 as V311, V5_0 as V5};

#[derive(Debug)]
struct FakeClient {
    decoder: Decoder,
    buf: BytesMut,
    received: VecDeque<Packet>,
    closed: bool,
    version: ProtocolVersion,
    /// A stalled client reads nothing: its bytes stay unwritten until `resume`.
    stalled: bool,
    unwritten: usize,
}

/// The engine under test plus its clients and clock.
pub(crate) struct Harness {
    pub(crate) engine: Engine,
    pub(crate) now: Instant,
    clients: HashMap<ConnId, FakeClient>,
}

impl Harness {
    pub(crate) fn new() -> Self {
        Self::with_limits(Limits::default())
    }

    pub(crate) fn with_limits(limits: Limits) -> Self {
        Self {
            engine: Engine::new(limits),
            // The only clock read: the origin of the virtual clock.
            now: Instant::now(),
            clients: HashMap::new(),
        }
    }

    /// Opens a network connection (no CONNECT yet).
    pub(crate) fn open(&mut self, version: ProtocolVersion) -> ConnId {
        let id = self.engine.handle_connect(self.now);
        self.clients.insert(
            id,
            FakeClient {
                decoder: Decoder::new(version),
                buf: BytesMut::new(),
                received: VecDeque::new(),
                closed: false,
                version,
                stalled: false,
                unwritten: 0,
            },
        );
        id
    }

    /// Opens a connection, sends `connect` and returns the CONNACK.
    pub(crate) fn connect_with(&mut self, connect: Connect) -> (ConnId, ConnAck) {
        let c = self.open(connect.protocol);
        self.send(c, connect);
        match self.recv(c) {
            Some(Packet::ConnAck(ack)) => (c, ack),
            other => panic!("expected CONNACK, got {other:?}"),
        }
    }

    /// Connects with a clean session and checks the CONNACK is a success.
    pub(crate) fn connect(&mut self, version: ProtocolVersion, id: &str) -> ConnId {
        let (c, ack) = self.connect_with(Connect::new(version, id));
        assert_eq!(ack.code, ReasonCode::SUCCESS);
        c
    }

    /// Encodes and feeds a packet from the client.
    pub(crate) fn send(&mut self, c: ConnId, packet: impl Into<Packet>) {
        let version = self.clients.get(&c).map_or(V5, |f| f.version);
        let bytes = packet.into().to_bytes(version).expect("encodable");
        self.send_raw(c, &bytes);
    }

    /// Feeds raw bytes from the client.
    pub(crate) fn send_raw(&mut self, c: ConnId, bytes: &[u8]) {
        self.engine.handle_data(c, bytes, self.now);
        self.pump();
    }

    /// The client drops its connection.
    pub(crate) fn drop_conn(&mut self, c: ConnId) {
        self.engine.handle_disconnect(c, self.now);
        if let Some(f) = self.clients.get_mut(&c) {
            f.closed = true;
        }
        self.pump();
    }

    /// Moves the clock and runs due timers.
    pub(crate) fn advance(&mut self, d: Duration) {
        let target = self.now + d;
        while let Some(at) = self.engine.poll_timeout() {
            if at > target {
                break;
            }
            self.now = self.now.max(at);
            self.engine.handle_timeout(self.now);
            self.pump();
        }
        self.now = target;
        self.engine.handle_timeout(self.now);
        self.pump();
    }

    pub(crate) fn advance_secs(&mut self, secs: u64) {
        self.advance(Duration::from_secs(secs));
    }

    fn pump(&mut self) {
        while let Some((conn, data)) = self.engine.poll_transmit() {
            let Some(f) = self.clients.get_mut(&conn) else {
                continue;
            };
            // A stalled client's bytes still arrive (they sat in its socket buffer); they are
            // just not reported written until it resumes.
            if f.stalled {
                f.unwritten += data.len();
            } else {
                self.engine.handle_written(conn, data.len(), self.now);
            }
            f.buf.extend_from_slice(&data);
            loop {
                match f.decoder.decode(&mut f.buf) {
                    Ok(Decoded::Packet(p)) => f.received.push_back(p),
                    Ok(Decoded::Incomplete) => break,
                    Err(e) => panic!("engine sent undecodable bytes: {e}"),
                }
            }
        }
        while let Some(event) = self.engine.poll_event() {
            match event {
                Event::Close { conn } => {
                    if let Some(f) = self.clients.get_mut(&conn) {
                        f.closed = true;
                    }
                }
                Event::CheckPassword { conn, check } => {
                    self.engine
                        .handle_password_checked(conn, check.verify(), self.now);
                    // What the engine answered (CONNACK, or more after buffered bytes).
                    return self.pump();
                }
            }
        }
        if let Err(e) = self.engine.check_invariants() {
            panic!("invariant broken: {e}");
        }
    }

    /// The client stops reading: what the engine transmits is not reported written.
    pub(crate) fn stall(&mut self, c: ConnId) {
        if let Some(f) = self.clients.get_mut(&c) {
            f.stalled = true;
        }
    }

    /// The client reads again: everything transmitted so far is reported written.
    pub(crate) fn resume(&mut self, c: ConnId) {
        let Some(f) = self.clients.get_mut(&c) else {
            return;
        };
        f.stalled = false;
        let len = std::mem::take(&mut f.unwritten);
        self.engine.handle_written(c, len, self.now);
        self.pump();
    }

    /// The next packet the client received, if any.
    pub(crate) fn recv(&mut self, c: ConnId) -> Option<Packet> {
        self.clients.get_mut(&c)?.received.pop_front()
    }

    /// Every packet received so far.
    pub(crate) fn drain(&mut self, c: ConnId) -> Vec<Packet> {
        self.clients
            .get_mut(&c)
            .map(|f| f.received.drain(..).collect())
            .unwrap_or_default()
    }

    /// The next PUBLISH, panicking on anything else.
    pub(crate) fn recv_publish(&mut self, c: ConnId) -> Publish {
        match self.recv(c) {
            Some(Packet::Publish(p)) => p,
            other => panic!("expected PUBLISH, got {other:?}"),
        }
    }

    pub(crate) fn is_closed(&self, c: ConnId) -> bool {
        self.clients.get(&c).is_some_and(|f| f.closed)
    }

    /// Subscribes and checks the SUBACK grants `qos`.
    pub(crate) fn subscribe(&mut self, c: ConnId, filter: &str, qos: QoS) {
        self.send(c, Subscribe::single(1, filter, qos));
        match self.recv(c) {
            Some(Packet::SubAck(ack)) => assert_eq!(ack.codes, [ReasonCode(qos.as_u8())]),
            other => panic!("expected SUBACK, got {other:?}"),
        }
    }

    /// Publishes and consumes the publisher's acknowledgement flow.
    pub(crate) fn publish(&mut self, c: ConnId, topic: &str, payload: &'static str, qos: QoS) {
        let mut p = Publish::new(topic, payload);
        p.qos = qos;
        p.packet_id = if qos == QoS::AtMostOnce { 0 } else { 77 };
        self.send(c, p);
        match qos {
            QoS::AtMostOnce => {}
            QoS::AtLeastOnce => assert!(matches!(self.recv(c), Some(Packet::PubAck(_)))),
            QoS::ExactlyOnce => {
                assert!(matches!(self.recv(c), Some(Packet::PubRec(_))));
                self.send(c, mqtt_codec::PubRel::new(77));
                assert!(matches!(self.recv(c), Some(Packet::PubComp(_))));
            }
        }
    }
}
