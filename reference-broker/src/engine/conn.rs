//! Per-connection state: the protocol state before and after CONNECT, what a connection is
//! closed for, what a timer is for, and the output waiting for a connection.

use super::*;

/// What a deadline in [`Engine::timers`] is for.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) enum Timer {
    /// The connect timeout before CONNACK, the keep alive after.
    Conn(ConnId),
    /// An offline session's expiry.
    Session(ByteString),
}

/// Why a connection is being closed, which decides what happens to its will.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum CloseKind {
    /// DISCONNECT without 0x04: the will is discarded.
    Normal,
    /// Network drop, keep alive, protocol error, DISCONNECT 0x04: the will is published.
    Abnormal,
    /// Another connection took the session over; `clean` if it starts a new session.
    Takeover { clean: bool },
}

#[derive(Debug, PartialEq, Eq)]
pub(super) enum ConnState {
    /// Waiting for CONNECT.
    AwaitConnect,
    /// CONNECT received with an authentication method; waiting for the client's AUTH.
    Authenticating,
    /// CONNECT received with a password; waiting for the shell's verdict. Bytes that arrive
    /// meanwhile are kept, not decoded.
    CheckingPassword,
    /// CONNACK 0x00 sent.
    Connected,
}

#[derive(Debug)]
pub(super) struct Conn {
    pub(super) state: ConnState,
    pub(super) decoder: Decoder,
    pub(super) buf: BytesMut,
    pub(super) version: ProtocolVersion,
    pub(super) opened: Instant,
    pub(super) keep_alive: KeepAlive,
    pub(super) client_id: Option<ByteString>,
    /// Boxed: most connections have none.
    pub(super) will: Option<Box<Will>>,
    /// The client's Receive Maximum: our outbound window.
    pub(super) window: u16,
    /// The client's Maximum Packet Size (5.0); `u32::MAX` when none.
    pub(super) max_packet_size: u32,
    /// Inbound topic aliases; boxed and created on first use, as most clients use none.
    #[expect(
        clippy::box_collection,
        reason = "an empty HashMap is 48 bytes in every connection; the box is 8"
    )]
    pub(super) aliases: Option<Box<HashMap<u16, ByteString>>>,
    pub(super) problem_info: bool,
    pub(super) username: Option<String>,
    /// Whether `username` comes from a verified TLS client certificate: authenticated
    /// without a password.
    pub(super) cert_authenticated: bool,
    /// Session Expiry Interval of the CONNECT, for the DISCONNECT rule (MQTT-3.14.2-2).
    pub(super) connect_expiry: u32,
    /// CONNECT held while the enhanced authentication exchange runs.
    pub(super) pending: Option<(Box<Connect>, bool)>,
    /// Whether the CONNECT carried an Authentication Method: only then may AUTH follow.
    pub(super) enhanced_auth: bool,
}

/// Output waiting for one connection. It outlives the connection's `Conn` until written
/// (a closed connection's last packets), so it holds nothing but bytes and their accounting;
/// the connection's facts (version, the client's Maximum Packet Size) live in `Conn`.
#[derive(Debug, Default)]
pub(super) struct Outbox {
    pub(super) buf: BytesMut,
    pub(super) queued: bool,
    pub(super) closed: bool,
    /// Bytes handed out by `poll_transmit` that the shell has not reported written.
    pub(super) unwritten: usize,
}

impl Outbox {
    /// Whether more than `limit` bytes wait for the socket: the client reads too slowly.
    pub(super) fn congested(&self, limit: usize) -> bool {
        self.buf.len().saturating_add(self.unwritten) > limit
    }
}

impl Conn {
    /// A connection opened at `now`, before its CONNECT (decoded as 5.0 until then, with
    /// the broker's packet size limit `max`).
    pub(super) fn new(now: Instant, max: usize) -> Self {
        Self {
            state: ConnState::AwaitConnect,
            decoder: Decoder::new(ProtocolVersion::V5_0).with_max_packet_size(max),
            buf: BytesMut::new(),
            version: ProtocolVersion::V3_1_1,
            opened: now,
            keep_alive: KeepAlive::new(0, now),
            client_id: None,
            will: None,
            window: 1,
            max_packet_size: u32::MAX,
            aliases: None,
            problem_info: true,
            username: None,
            cert_authenticated: false,
            connect_expiry: 0,
            pending: None,
            enhanced_auth: false,
        }
    }
}
