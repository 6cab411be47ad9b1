//! The scripted MQTT client: opens a transport (TCP, TLS, WebSocket), writes packets or raw
//! bytes exactly as asked, and turns what arrives into events, recording every packet and byte
//! both ways in a shared transcript.
//!
//! It never answers anything on its own (no automatic PUBACK or PINGREQ): a conformance test
//! must decide every byte the broker sees.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use mqtt_codec::{Decoded, Decoder, Packet, ProtocolVersion};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::error::HarnessError;
use crate::transport::Target;

/// Direction of a transcript entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Dir {
    /// From the harness to the broker.
    Sent,
    /// From the broker to the harness.
    Received,
    /// A connection event (opened, closed, error).
    Event,
}

/// One line of a transcript.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Entry {
    /// Milliseconds since the scenario started.
    pub at_ms: u64,
    /// The client name.
    pub client: String,
    /// Direction.
    pub dir: Dir,
    /// A one-line summary of the packet or event.
    pub what: String,
    /// The bytes, in hex (empty for events).
    pub hex: String,
}

/// The transcript of one scenario run, shared by its clients.
#[derive(Debug, Clone)]
pub struct Transcript {
    start: Instant,
    entries: Arc<Mutex<Vec<Entry>>>,
}

impl Default for Transcript {
    fn default() -> Self {
        Self::new()
    }
}

impl Transcript {
    /// An empty transcript starting now.
    pub fn new() -> Self {
        Self {
            start: Instant::now(),
            entries: Arc::default(),
        }
    }

    /// Appends an entry.
    pub fn push(&self, client: &str, dir: Dir, what: String, bytes: &[u8]) {
        let at_ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        let entry = Entry {
            at_ms,
            client: client.to_owned(),
            dir,
            what,
            hex: hex(bytes),
        };
        if let Ok(mut e) = self.entries.lock() {
            e.push(entry);
        }
    }

    /// A copy of the entries so far.
    pub fn entries(&self) -> Vec<Entry> {
        self.entries.lock().map(|e| e.clone()).unwrap_or_default()
    }

    /// Human-readable text, one line per entry.
    pub fn render(entries: &[Entry]) -> String {
        let mut out = String::new();
        for e in entries {
            let arrow = match e.dir {
                Dir::Sent => "->",
                Dir::Received => "<-",
                Dir::Event => "--",
            };
            let _ = write!(out, "{:>6}ms {:<8} {arrow} {}", e.at_ms, e.client, e.what);
            if !e.hex.is_empty() {
                let shown: String = e.hex.chars().take(96).collect();
                let more = if e.hex.len() > 96 { " …" } else { "" };
                let _ = write!(out, "  [{shown}{more}]");
            }
            out.push('\n');
        }
        out
    }
}

/// Something that arrived on a connection.
#[derive(Debug, Clone)]
pub enum Event {
    /// A complete, valid packet.
    Packet(Packet),
    /// Bytes the codec rejected (why, and the first of them). Nothing more is decoded; a
    /// `Closed` follows when the broker ends the connection.
    Malformed(String, Bytes),
    /// The broker closed the connection (or it was reset).
    Closed(String),
}

/// One open connection of a scripted client.
pub struct Connection {
    name: String,
    version: ProtocolVersion,
    writer: Option<Box<dyn AsyncWrite + Send + Unpin>>,
    /// Each event with the moment the reader received it.
    events: mpsc::UnboundedReceiver<(Instant, Event)>,
    /// Events read ahead and put back, delivered before the channel's.
    pending: std::collections::VecDeque<Event>,
    /// When the event last returned by [`Connection::next_event`] arrived.
    last_event: Instant,
    transcript: Transcript,
    closed: bool,
    last_sent: Instant,
    reader: tokio::task::JoinHandle<()>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// Opens a connection to `target`, decoding what arrives as `version`.
    pub async fn open(
        target: &Target,
        name: &str,
        version: ProtocolVersion,
        transcript: Transcript,
    ) -> Result<Self, HarnessError> {
        let stream = target.connect().await?;
        transcript.push(
            name,
            Dir::Event,
            format!("connected to {}", target.url),
            &[],
        );
        let (read, write) = tokio::io::split(stream);
        let (tx, rx) = mpsc::unbounded_channel();
        let reader = tokio::spawn(read_loop(
            read,
            name.to_owned(),
            version,
            transcript.clone(),
            tx,
        ));
        Ok(Self {
            name: name.to_owned(),
            version,
            writer: Some(Box::new(write)),
            events: rx,
            pending: std::collections::VecDeque::new(),
            last_event: Instant::now(),
            transcript,
            closed: false,
            last_sent: Instant::now(),
            reader,
        })
    }

    /// Encodes and sends a packet.
    pub async fn send_packet(&mut self, packet: &Packet) -> Result<(), HarnessError> {
        let bytes = packet
            .to_bytes(self.version)
            .map_err(|e| HarnessError::Build(format!("{packet:?}: {e}")))?;
        self.send_bytes(summary(packet), &bytes).await
    }

    /// Sends raw bytes, recorded with the given description.
    pub async fn send_bytes(&mut self, what: String, bytes: &[u8]) -> Result<(), HarnessError> {
        self.transcript.push(&self.name, Dir::Sent, what, bytes);
        self.last_sent = Instant::now();
        let w = self
            .writer
            .as_mut()
            .ok_or_else(|| HarnessError::Send("the connection is already closed".into()))?;
        // A broker may close before reading everything we write; the close is an event the
        // scenario judges, so a write error is recorded and not fatal.
        if let Err(e) = w.write_all(bytes).await {
            self.transcript
                .push(&self.name, Dir::Event, format!("write failed: {e}"), &[]);
            return Ok(());
        }
        let _ = w.flush().await;
        Ok(())
    }

    /// The next event, or `None` if nothing arrives within `timeout`.
    pub async fn next_event(&mut self, timeout: Duration) -> Option<Event> {
        if let Some(ev) = self.pending.pop_front() {
            self.last_event = Instant::now();
            return Some(ev);
        }
        if self.closed {
            return Some(Event::Closed("already closed".into()));
        }
        match tokio::time::timeout(timeout, self.events.recv()).await {
            Ok(Some((at, ev))) => {
                self.last_event = at;
                // After a malformed packet the reader goes on until the real end of the
                // connection, which arrives as its own `Closed`.
                if matches!(ev, Event::Closed(_)) {
                    self.closed = true;
                }
                Some(ev)
            }
            Ok(None) => {
                self.closed = true;
                Some(Event::Closed("connection ended".into()))
            }
            Err(_) => None,
        }
    }

    /// Whether the broker has ended the connection without any step having read that yet: looks
    /// at what has arrived so far, without waiting, and keeps every event queued in order.
    pub fn ended_unread(&mut self) -> bool {
        if self.closed {
            return false;
        }
        while let Ok((_, ev)) = self.events.try_recv() {
            self.pending.push_back(ev);
        }
        self.pending.iter().any(|ev| matches!(ev, Event::Closed(_)))
    }

    /// Puts events read ahead back in front of the queue, in order.
    pub fn unread(&mut self, events: Vec<Event>) {
        for ev in events.into_iter().rev() {
            self.pending.push_front(ev);
        }
    }

    /// The time from the client's last packet (or the connection's opening) to the arrival of
    /// the event [`Connection::next_event`] returned last: what a keep-alive close is timed by.
    pub fn since_sent(&self) -> Duration {
        self.last_event.saturating_duration_since(self.last_sent)
    }

    /// Closes the write side cleanly (TCP FIN) and drops the connection.
    pub async fn close(mut self) {
        if let Some(mut w) = self.writer.take() {
            let _ = w.shutdown().await;
        }
        self.transcript
            .push(&self.name, Dir::Event, "closed by the client".into(), &[]);
    }

    /// Closes the write side (TCP FIN), then waits up to `timeout` for the broker to end the
    /// connection too. After a DISCONNECT this tells the scenario the broker has read it (it
    /// comes before the FIN), so a reconnect does not race it; a broker that keeps its side
    /// open is not judged here (the server only SHOULD close, 3.14.4).
    pub async fn close_after_broker(mut self, timeout: Duration) {
        if let Some(mut w) = self.writer.take() {
            let _ = w.shutdown().await;
        }
        self.transcript
            .push(&self.name, Dir::Event, "closed by the client".into(), &[]);
        let deadline = tokio::time::Instant::now() + timeout;
        while !self.closed {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() || self.next_event(left).await.is_none() {
                break;
            }
        }
    }

    /// Drops the connection without any MQTT goodbye.
    pub fn abort(mut self) {
        self.writer.take();
        self.reader.abort();
        self.transcript.push(
            &self.name,
            Dir::Event,
            "dropped by the client (no DISCONNECT)".into(),
            &[],
        );
    }

    /// The version packets are encoded and decoded with.
    pub fn version(&self) -> ProtocolVersion {
        self.version
    }
}

/// What came back for a PINGREQ, read by [`read_to_pingresp`].
#[derive(Debug)]
pub struct PingAnswer {
    /// The events that arrived before the PINGRESP, or instead of it, in order. A close or
    /// undecodable bytes, when they came, are the last.
    pub before: Vec<Event>,
    /// Whether a PINGRESP ended the reading.
    pub answered: bool,
}

impl PingAnswer {
    /// Whether the reading ended on a close or on undecodable bytes: the PINGRESP can no
    /// longer come (nothing after undecodable bytes is framed), so the wait is over.
    pub fn ended(&self) -> bool {
        matches!(
            self.before.last(),
            Some(Event::Closed(_) | Event::Malformed(..))
        )
    }
}

/// Where [`read_to_pingresp`] reads from: a connection, or a reader that screens its events.
pub trait EventSource {
    /// The next event, or `None` if nothing arrives within `timeout`.
    fn next_event(&mut self, timeout: Duration) -> impl Future<Output = Option<Event>> + Send;
}

impl EventSource for Connection {
    fn next_event(&mut self, timeout: Duration) -> impl Future<Output = Option<Event>> + Send {
        Connection::next_event(self, timeout)
    }
}

/// Reads the answer to a PINGREQ just sent: events from `source` until the PINGRESP, a close,
/// undecodable bytes, `max_before` other events or `timeout`, whichever comes first. The
/// broker must answer a PINGREQ with a PINGRESP (MQTT-3.12.4-1); packets it had on the way
/// come first, and are handed back to the caller.
pub async fn read_to_pingresp(
    source: &mut impl EventSource,
    timeout: Duration,
    max_before: usize,
) -> PingAnswer {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut before = Vec::new();
    while before.len() < max_before {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match source.next_event(left).await {
            Some(Event::Packet(Packet::PingResp)) => {
                return PingAnswer {
                    before,
                    answered: true,
                };
            }
            Some(ev) => {
                let ends = matches!(ev, Event::Closed(_) | Event::Malformed(..));
                before.push(ev);
                if ends {
                    break;
                }
            }
            None => break,
        }
    }
    PingAnswer {
        before,
        answered: false,
    }
}

/// How many bytes of undecodable broker output an event keeps (for a second reading).
const MALFORMED_KEPT: usize = 4096;

async fn read_loop(
    mut read: impl AsyncRead + Unpin,
    name: String,
    version: ProtocolVersion,
    transcript: Transcript,
    tx: mpsc::UnboundedSender<(Instant, Event)>,
) {
    let mut decoder = Decoder::new(version);
    let mut buf = BytesMut::with_capacity(4096);
    loop {
        // Decode everything already buffered before reading more.
        loop {
            let before = buf.clone();
            match decoder.decode(&mut buf) {
                Ok(Decoded::Packet(p)) => {
                    let used = before.len() - buf.len();
                    transcript.push(&name, Dir::Received, summary(&p), &before[..used]);
                    if tx.send((Instant::now(), Event::Packet(p))).is_err() {
                        return;
                    }
                }
                Ok(Decoded::Incomplete) => break,
                Err(e) => {
                    let msg = match e.statement(version) {
                        Some(id) => format!("malformed packet from the broker: {e} ({id})"),
                        None => format!("malformed packet from the broker: {e}"),
                    };
                    transcript.push(&name, Dir::Received, msg.clone(), &before);
                    let before_len = before.len();
                    let head = before.freeze().slice(..before_len.min(MALFORMED_KEPT));
                    if tx
                        .send((Instant::now(), Event::Malformed(msg, head)))
                        .is_ok()
                    {
                        drain(read, &name, &transcript, &tx).await;
                    }
                    return;
                }
            }
        }
        match read.read_buf(&mut buf).await {
            Ok(0) => {
                let msg = if buf.is_empty() {
                    "closed by the broker".to_owned()
                } else {
                    format!(
                        "closed by the broker mid-packet ({} bytes pending)",
                        buf.len()
                    )
                };
                transcript.push(&name, Dir::Event, msg.clone(), &buf);
                let _ = tx.send((Instant::now(), Event::Closed(msg)));
                return;
            }
            Ok(_) => {}
            Err(e) => {
                let msg = format!("connection error: {e}");
                transcript.push(&name, Dir::Event, msg.clone(), &[]);
                let _ = tx.send((Instant::now(), Event::Closed(msg)));
                return;
            }
        }
    }
}

/// After undecodable bytes nothing more can be framed; what matters is whether and when the
/// connection ends. Reads and discards (memory stays bounded) until the broker closes it.
async fn drain(
    mut read: impl AsyncRead + Unpin,
    name: &str,
    transcript: &Transcript,
    tx: &mpsc::UnboundedSender<(Instant, Event)>,
) {
    let mut chunk = [0u8; 4096];
    let mut skipped = 0usize;
    let msg = loop {
        match read.read(&mut chunk).await {
            Ok(0) => {
                break format!(
                    "closed by the broker ({skipped} more bytes after the malformed packet)"
                );
            }
            Ok(n) => skipped += n,
            Err(e) => break format!("connection error: {e}"),
        }
    };
    transcript.push(name, Dir::Event, msg.clone(), &[]);
    let _ = tx.send((Instant::now(), Event::Closed(msg)));
}

/// A one-line description of a packet, for transcripts and diffs.
pub fn summary(p: &Packet) -> String {
    match p {
        Packet::Connect(c) => {
            let mut s = format!(
                "CONNECT v{} id={:?} clean={} keep_alive={}",
                c.protocol, c.client_id, c.clean_start, c.keep_alive
            );
            if let Some(w) = &c.will {
                let _ = write!(s, " will={}@{}", w.topic, w.qos.as_u8());
            }
            if c.username.is_some() {
                s.push_str(" user");
            }
            props(&mut s, &c.properties);
            s
        }
        Packet::ConnAck(c) => {
            let mut s = format!(
                "CONNACK session_present={} code=0x{:02X}",
                c.session_present, c.code.0
            );
            props(&mut s, &c.properties);
            s
        }
        Packet::Publish(pb) => {
            let mut s = format!("PUBLISH topic={:?} qos={}", pb.topic, pb.qos.as_u8());
            if pb.qos.as_u8() > 0 {
                let _ = write!(s, " id={}", pb.packet_id);
            }
            if pb.retain {
                s.push_str(" retain");
            }
            if pb.dup {
                s.push_str(" dup");
            }
            let _ = write!(s, " payload={}", payload_text(&pb.payload));
            props(&mut s, &pb.properties);
            s
        }
        Packet::PubAck(a) => ack("PUBACK", a.packet_id, a.reason.0, &a.properties),
        Packet::PubRec(a) => ack("PUBREC", a.packet_id, a.reason.0, &a.properties),
        Packet::PubRel(a) => ack("PUBREL", a.packet_id, a.reason.0, &a.properties),
        Packet::PubComp(a) => ack("PUBCOMP", a.packet_id, a.reason.0, &a.properties),
        Packet::Subscribe(sb) => {
            let mut s = format!("SUBSCRIBE id={}", sb.packet_id);
            for f in &sb.filters {
                let _ = write!(s, " {:?}@{}", f.filter, f.options.qos.as_u8());
            }
            props(&mut s, &sb.properties);
            s
        }
        Packet::SubAck(sa) => {
            let mut s = format!("SUBACK id={} codes=[{}]", sa.packet_id, codes(&sa.codes));
            props(&mut s, &sa.properties);
            s
        }
        Packet::Unsubscribe(u) => format!("UNSUBSCRIBE id={} {:?}", u.packet_id, u.filters),
        Packet::UnsubAck(u) => {
            let mut s = format!("UNSUBACK id={}", u.packet_id);
            if !u.codes.is_empty() {
                let _ = write!(s, " codes=[{}]", codes(&u.codes));
            }
            props(&mut s, &u.properties);
            s
        }
        Packet::PingReq => "PINGREQ".into(),
        Packet::PingResp => "PINGRESP".into(),
        Packet::Disconnect(d) => {
            let mut s = format!("DISCONNECT code=0x{:02X}", d.reason.0);
            props(&mut s, &d.properties);
            s
        }
        Packet::Auth(a) => {
            let mut s = format!("AUTH code=0x{:02X}", a.reason.0);
            props(&mut s, &a.properties);
            s
        }
    }
}

fn ack(name: &str, id: u16, code: u8, p: &mqtt_codec::Properties) -> String {
    let mut s = format!("{name} id={id}");
    if code != 0 {
        let _ = write!(s, " code=0x{code:02X}");
    }
    props(&mut s, p);
    s
}

fn codes(c: &[mqtt_codec::ReasonCode]) -> String {
    c.iter()
        .map(|c| format!("0x{:02X}", c.0))
        .collect::<Vec<_>>()
        .join(", ")
}

fn props(s: &mut String, p: &mqtt_codec::Properties) {
    if p.is_empty() {
        return;
    }
    let list: Vec<String> = p.iter().map(|p| format!("{p:?}")).collect();
    let _ = write!(s, " props=[{}]", list.join(", "));
}

/// The payload as quoted text if it is short printable UTF-8, else as hex.
pub fn payload_text(b: &Bytes) -> String {
    match std::str::from_utf8(b) {
        Ok(t) if t.len() <= 64 && !t.chars().any(char::is_control) => format!("{t:?}"),
        _ if b.len() <= 32 => format!("0x{}", hex(b).replace(' ', "")),
        _ => format!("<{} bytes>", b.len()),
    }
}

/// Bytes as space-separated hex.
pub fn hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 3);
    for (i, byte) in b.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        let _ = write!(s, "{byte:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scripted list of events (`None` is a quiet wait).
    struct Script(std::vec::IntoIter<Option<Event>>);

    impl EventSource for Script {
        fn next_event(&mut self, _: Duration) -> impl Future<Output = Option<Event>> + Send {
            std::future::ready(self.0.next().flatten())
        }
    }

    /// Reads the PINGREQ answer from `script`.
    async fn read(script: Vec<Option<Event>>, max_before: usize) -> PingAnswer {
        let mut script = Script(script.into_iter());
        read_to_pingresp(&mut script, Duration::from_millis(50), max_before).await
    }

    fn puback() -> Option<Event> {
        Some(Event::Packet(Packet::PubAck(mqtt_codec::PubAck::new(1))))
    }

    #[tokio::test]
    async fn the_pingresp_ends_the_reading_and_what_came_first_is_kept() {
        let pingresp = Some(Event::Packet(Packet::PingResp));
        let a = read(vec![puback(), pingresp, puback()], 8).await;
        assert!(a.answered && !a.ended());
        assert_eq!(a.before.len(), 1);
    }

    #[tokio::test]
    async fn a_close_or_undecodable_bytes_end_it_unanswered() {
        let closed = Some(Event::Closed("closed by the broker".into()));
        let a = read(vec![puback(), closed, puback()], 8).await;
        assert!(!a.answered && a.ended());
        assert_eq!(a.before.len(), 2);
        let garbled = Some(Event::Malformed("bad".into(), Bytes::new()));
        let a = read(vec![garbled, Some(Event::Packet(Packet::PingResp))], 8).await;
        assert!(!a.answered && a.ended());
        assert_eq!(a.before.len(), 1);
    }

    #[tokio::test]
    async fn silence_and_the_limit_end_it_unanswered_and_open() {
        let a = read(vec![None, Some(Event::Packet(Packet::PingResp))], 8).await;
        assert!(!a.answered && !a.ended() && a.before.is_empty());
        let a = read(vec![puback(), puback(), puback()], 2).await;
        assert!(!a.answered && !a.ended());
        assert_eq!(a.before.len(), 2);
    }
}
