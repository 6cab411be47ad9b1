//! The probe's client: one connection under one version, with the few exchanges discovery
//! needs (connect, subscribe, publish with the full acknowledgement flow, wait for a PUBLISH).
//! Every wait is bounded by the probe's timeout.

use std::time::{Duration, Instant};

use bytes::Bytes;
use mqtt_codec::{
    ConnAck, Connect, Packet, Properties, ProtocolVersion, PubAck, PubComp, PubRec, PubRel,
    Publish, QoS, Subscribe,
};

use crate::client::{Connection, Event, Transcript};
use crate::transport::Target;

/// Where and how the probe connects.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The broker.
    pub target: Target,
    /// User name and password for every CONNECT.
    pub credentials: Option<(String, Option<String>)>,
    /// Bound on every wait.
    pub timeout: Duration,
}

/// How a CONNECT was answered when it was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The TCP (or TLS, WebSocket) connection could not be opened.
    Unreachable(String),
    /// A CONNACK with this non-zero code.
    Code(u8),
    /// Closed, or answered with bytes that do not decode under the version asked for.
    Closed(String),
    /// Nothing within the timeout.
    Silent(Duration),
    /// Some other packet.
    Other(String),
    /// Not tried (left out of the probe).
    NotTried,
}

impl Refusal {
    /// A short description for profile comments and skip reasons.
    pub fn describe(&self) -> String {
        match self {
            Self::Unreachable(e) => e.clone(),
            Self::Code(c) => format!("refused with CONNACK 0x{c:02X}"),
            Self::Closed(w) => format!("closed without CONNACK ({w})"),
            Self::Silent(d) => format!(
                "no CONNACK within {} (the connection stayed open)",
                humantime::format_duration(*d)
            ),
            Self::Other(p) => format!("answered CONNECT with {p}"),
            Self::NotTried => "not tried".into(),
        }
    }

    /// Whether the code says the credentials were refused (3.1.1 0x04/0x05, 5.0 0x86/0x87).
    pub fn bad_credentials(&self) -> bool {
        matches!(self, Self::Code(0x04 | 0x05 | 0x86 | 0x87))
    }
}

/// An accepted connection.
pub struct Session {
    conn: Connection,
    timeout: Duration,
    next_id: u16,
    /// PUBLISH packets that came while another packet was awaited: a retained message may
    /// come before its SUBACK (3.8.4), and `receive` must still find it.
    held: Vec<Publish>,
}

impl Endpoint {
    /// Connects as `id` under `version`; `tweak` edits the CONNECT before it is sent.
    pub async fn connect(
        &self,
        version: ProtocolVersion,
        id: &str,
        tweak: impl FnOnce(&mut Connect),
    ) -> Result<(Session, ConnAck), Refusal> {
        let open = Connection::open(&self.target, "probe", version, Transcript::new());
        let mut conn = match tokio::time::timeout(self.timeout, open).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => return Err(Refusal::Unreachable(e.to_string())),
            Err(_) => {
                return Err(Refusal::Unreachable(format!(
                    "connecting to {} timed out",
                    self.target.url
                )));
            }
        };
        let mut connect = Connect::new(version, id.to_owned());
        connect.keep_alive = 60;
        if let Some((u, p)) = &self.credentials {
            connect.username = Some(u.clone().into());
            connect.password = p.clone().map(Into::into);
        }
        tweak(&mut connect);
        let _ = conn.send_packet(&Packet::from(connect)).await;
        match conn.next_event(self.timeout).await {
            Some(Event::Packet(Packet::ConnAck(a))) if a.code.0 == 0 => {
                let s = Session {
                    conn,
                    timeout: self.timeout,
                    next_id: 1,
                    held: Vec::new(),
                };
                Ok((s, a))
            }
            Some(Event::Packet(Packet::ConnAck(a))) => Err(Refusal::Code(a.code.0)),
            Some(Event::Packet(p)) => Err(Refusal::Other(crate::client::summary(&p))),
            Some(Event::Closed(w) | Event::Malformed(w, _)) => Err(Refusal::Closed(w)),
            None => Err(Refusal::Silent(self.timeout)),
        }
    }
}

impl Session {
    fn packet_id(&mut self) -> u16 {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1).max(1);
        id
    }

    /// Subscribes to one filter; returns the SUBACK code (granted QoS or failure), `None` when
    /// no SUBACK came.
    pub async fn subscribe(&mut self, filter: &str, qos: QoS, props: Properties) -> Option<u8> {
        let id = self.packet_id();
        let mut s = Subscribe::single(id, filter.to_owned(), qos);
        s.properties = props;
        self.conn.send_packet(&Packet::Subscribe(s)).await.ok()?;
        match self
            .wait(|p| matches!(p, Packet::SubAck(a) if a.packet_id == id))
            .await?
        {
            Packet::SubAck(a) => a.codes.first().map(|c| c.0),
            _ => None,
        }
    }

    /// Publishes and completes the acknowledgement flow of its QoS. Returns whether it
    /// completed.
    pub async fn publish(&mut self, topic: &str, qos: QoS, retain: bool, payload: &str) -> bool {
        let mut p = Publish::new(topic.to_owned(), Bytes::copy_from_slice(payload.as_bytes()));
        p.qos = qos;
        p.retain = retain;
        if qos != QoS::AtMostOnce {
            p.packet_id = self.packet_id();
        }
        let id = p.packet_id;
        if self.conn.send_packet(&Packet::Publish(p)).await.is_err() {
            return false;
        }
        match qos {
            QoS::AtMostOnce => self.ping().await,
            QoS::AtLeastOnce => self
                .wait(|p| matches!(p, Packet::PubAck(a) if a.packet_id == id))
                .await
                .is_some(),
            QoS::ExactlyOnce => {
                if self
                    .wait(|p| matches!(p, Packet::PubRec(a) if a.packet_id == id))
                    .await
                    .is_none()
                {
                    return false;
                }
                let rel = Packet::PubRel(PubRel::new(id));
                self.conn.send_packet(&rel).await.is_ok()
                    && self
                        .wait(|p| matches!(p, Packet::PubComp(a) if a.packet_id == id))
                        .await
                        .is_some()
            }
        }
    }

    /// Waits for a PUBLISH on `topic` and acknowledges it as its QoS asks.
    pub async fn receive(&mut self, topic: &str) -> Option<Publish> {
        let p = match self.held.iter().position(|p| p.topic == topic) {
            Some(i) => self.held.remove(i),
            None => match self
                .wait(|p| matches!(p, Packet::Publish(p) if p.topic == topic))
                .await?
            {
                Packet::Publish(p) => p,
                _ => return None,
            },
        };
        let ack = match p.qos {
            QoS::AtMostOnce => None,
            QoS::AtLeastOnce => Some(Packet::PubAck(PubAck::new(p.packet_id))),
            QoS::ExactlyOnce => Some(Packet::PubRec(PubRec::new(p.packet_id))),
        };
        if let Some(a) = ack {
            let _ = self.conn.send_packet(&a).await;
        }
        if p.qos == QoS::ExactlyOnce {
            let id = p.packet_id;
            if self
                .wait(|q| matches!(q, Packet::PubRel(r) if r.packet_id == id))
                .await
                .is_some()
            {
                let _ = self
                    .conn
                    .send_packet(&Packet::PubComp(PubComp::new(id)))
                    .await;
            }
        }
        Some(p)
    }

    /// PINGREQ and its PINGRESP: everything sent before has been processed.
    pub async fn ping(&mut self) -> bool {
        self.conn.send_packet(&Packet::PingReq).await.is_ok()
            && self.wait(|p| matches!(p, Packet::PingResp)).await.is_some()
    }

    /// Sends DISCONNECT and closes.
    pub async fn disconnect(mut self) {
        let _ = self
            .conn
            .send_packet(&Packet::Disconnect(mqtt_codec::Disconnect::default()))
            .await;
        self.conn.close().await;
    }

    /// The first packet that matches, skipping others; `None` on close or timeout.
    async fn wait(&mut self, want: impl Fn(&Packet) -> bool) -> Option<Packet> {
        let deadline = Instant::now() + self.timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.conn.next_event(left).await? {
                Event::Packet(p) if want(&p) => return Some(p),
                Event::Packet(Packet::Publish(p)) => self.held.push(p),
                Event::Packet(_) => {}
                Event::Closed(_) | Event::Malformed(..) => return None,
            }
        }
    }
}
