//! The sans-IO broker engine: every MQTT 3.1, 3.1.1 and 5.0 server rule, with no tokio, no
//! sockets and no clock reads.
//!
//! The engine follows quinn's `Connection` contract:
//!
//! - inputs: [`Engine::handle_connect`] (a network connection opened; returns an opaque
//!   [`ConnId`]), [`Engine::handle_data`] (bytes read from it), [`Engine::handle_packet`] (an
//!   already decoded packet), [`Engine::handle_disconnect`] (the peer closed or the socket
//!   failed) and [`Engine::handle_timeout`];
//! - outputs: [`Engine::poll_transmit`] (bytes to write to a connection; the shell reports
//!   them written with [`Engine::handle_written`]),
//!   [`Engine::poll_event`] (close a connection, after writing what `poll_transmit` gave for
//!   it) and [`Engine::poll_timeout`] (when to call `handle_timeout` next).
//!
//! The current time always arrives as a `now` argument. A shell drains `poll_transmit` fully
//! before `poll_event`, so a connection's last packets (CONNACK with an error, DISCONNECT) are
//! written before it is closed.
//!
//! Overlapping subscriptions: when several of one client's non-shared subscriptions match a
//! message, the client gets it once, at the highest granted QoS, with every matching
//! Subscription Identifier (5.0), and Retain As Published if any matching subscription asks
//! for it. The same choice is made for 3.1.1 (MQTT-3.3.5-1 allows it). Each shared
//! subscription group that matches delivers one more copy to one of its members.

pub mod auth;
mod inflight;
mod keepalive;
mod message;
mod notice;
mod retained;
mod session;
mod subscribe;
mod timers;
mod topics;
mod trie;
mod will;

#[cfg(test)]
mod tests;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use mqtt_codec::properties::{Properties, Property};
use mqtt_codec::{
    Auth, ByteString, ConnAck, Connect, Decoded, Decoder, Disconnect, Error as CodecError, Packet,
    ProtocolVersion, PubAck, PubComp, PubRec, PubRel, Publish, QoS, ReasonCode, Will,
};

use crate::config::{Limits, RedirectKind};
use auth::Access;
use inflight::{Delivery, OutState};
use keepalive::KeepAlive;
use message::Message;
use notice::Notices;
use retained::Retained;
use session::Session;
use timers::Timers;
use topics::SubscriptionTree;
use will::PendingWills;

/// Splits `$share/{group}/{filter}` into the group and the filter (for the fuzz driver).
#[doc(hidden)]
pub fn split_shared(filter: &str) -> (Option<&str>, &str) {
    topics::split(filter)
}

/// An opaque handle for one network connection, issued by [`Engine::handle_connect`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(u64);

impl ConnId {
    /// The handle's number, for logs.
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

/// Something the shell must do.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// Close the connection, after writing every byte `poll_transmit` returned for it.
    Close {
        /// The connection.
        conn: ConnId,
    },
}

/// What a deadline in [`Engine::timers`] is for.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Timer {
    /// The connect timeout before CONNACK, the keep alive after.
    Conn(ConnId),
    /// An offline session's expiry.
    Session(ByteString),
}

/// Why a connection is being closed, which decides what happens to its will.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CloseKind {
    /// DISCONNECT without 0x04: the will is discarded.
    Normal,
    /// Network drop, keep alive, protocol error, DISCONNECT 0x04: the will is published.
    Abnormal,
    /// Another connection took the session over; `clean` if it starts a new session.
    Takeover { clean: bool },
}

#[derive(Debug, PartialEq, Eq)]
enum ConnState {
    /// Waiting for CONNECT.
    AwaitConnect,
    /// CONNECT received with an authentication method; waiting for the client's AUTH.
    Authenticating,
    /// CONNACK 0x00 sent.
    Connected,
}

#[derive(Debug)]
struct Conn {
    state: ConnState,
    decoder: Decoder,
    buf: BytesMut,
    version: ProtocolVersion,
    opened: Instant,
    keep_alive: KeepAlive,
    client_id: Option<ByteString>,
    /// Boxed: most connections have none.
    will: Option<Box<Will>>,
    /// The client's Receive Maximum: our outbound window.
    window: u16,
    aliases: HashMap<u16, ByteString>,
    problem_info: bool,
    username: Option<String>,
    /// Session Expiry Interval of the CONNECT, for the DISCONNECT rule (MQTT-3.14.2-2).
    connect_expiry: u32,
    /// CONNECT held while the enhanced authentication exchange runs.
    pending: Option<(Box<Connect>, bool)>,
    /// Whether the CONNECT carried an Authentication Method: only then may AUTH follow.
    enhanced_auth: bool,
}

#[derive(Debug)]
struct Outbox {
    version: ProtocolVersion,
    buf: BytesMut,
    max_packet_size: u32,
    queued: bool,
    closed: bool,
    /// Bytes handed out by `poll_transmit` that the shell has not reported written.
    unwritten: usize,
}

impl Outbox {
    /// Whether more than `limit` bytes wait for the socket: the client reads too slowly.
    fn congested(&self, limit: usize) -> bool {
        self.buf.len().saturating_add(self.unwritten) > limit
    }
}

/// The broker: sessions, subscriptions, retained messages and every connection's protocol
/// state.
#[derive(Debug)]
pub struct Engine {
    limits: Limits,
    /// Boxed, as are sessions, so that the maps' spare buckets cost a pointer, not a `Conn`.
    conns: HashMap<ConnId, Box<Conn>>,
    outbox: HashMap<ConnId, Outbox>,
    ready: VecDeque<ConnId>,
    events: VecDeque<Event>,
    sessions: HashMap<ByteString, Box<Session>>,
    subs: SubscriptionTree,
    retained: Retained,
    wills: PendingWills,
    /// Connect timeouts, keep alives and session expiries, ordered by deadline.
    timers: Timers<Timer>,
    next_conn: u64,
    next_assigned: u64,
    /// Bytes of messages waiting in every session's queue (`Limits::max_queued_bytes`).
    queued_bytes: usize,
    notice: Notices,
}

impl Engine {
    /// An engine enforcing `limits`.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            conns: HashMap::new(),
            outbox: HashMap::new(),
            ready: VecDeque::new(),
            events: VecDeque::new(),
            sessions: HashMap::new(),
            subs: SubscriptionTree::default(),
            retained: Retained::default(),
            wills: PendingWills::default(),
            timers: Timers::default(),
            next_conn: 0,
            next_assigned: 0,
            queued_bytes: 0,
            notice: Notices::default(),
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// A network connection was opened at `now`; CONNECT must follow within the connect
    /// timeout.
    pub fn handle_connect(&mut self, now: Instant) -> ConnId {
        self.next_conn += 1;
        let id = ConnId(self.next_conn);
        let max = usize::try_from(self.limits.max_packet_size).unwrap_or(usize::MAX);
        self.conns.insert(
            id,
            Box::new(Conn {
                state: ConnState::AwaitConnect,
                decoder: Decoder::new(ProtocolVersion::V5_0).with_max_packet_size(max),
                buf: BytesMut::new(),
                version: ProtocolVersion::V3_1_1,
                opened: now,
                keep_alive: KeepAlive::new(0, now),
                client_id: None,
                will: None,
                window: 1,
                aliases: HashMap::new(),
                problem_info: true,
                username: None,
                connect_expiry: 0,
                pending: None,
                enhanced_auth: false,
            }),
        );
        self.timers.set(
            Timer::Conn(id),
            now.checked_add(self.limits.connect_timeout),
        );
        self.outbox.insert(
            id,
            Outbox {
                version: ProtocolVersion::V3_1_1,
                buf: BytesMut::new(),
                max_packet_size: u32::MAX,
                queued: false,
                closed: false,
                unwritten: 0,
            },
        );
        id
    }

    /// Bytes arrived on `conn`. Complete packets are decoded and handled; a decode error is
    /// answered as the spec says and closes the connection.
    pub fn handle_data(&mut self, conn: ConnId, data: &[u8], now: Instant) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        c.buf.extend_from_slice(data);
        loop {
            let Some(c) = self.conns.get_mut(&conn) else {
                return;
            };
            let mut buf = std::mem::take(&mut c.buf);
            // Peeked before decoding: on a body error the decoder has already cut the packet
            // off the buffer (its docs say otherwise; see the crate report).
            let level = match c.state {
                ConnState::AwaitConnect => peek_connect_level(&buf),
                _ => None,
            };
            let outcome = c.decoder.decode(&mut buf);
            match outcome {
                Ok(Decoded::Packet(packet)) => {
                    c.buf = buf;
                    self.handle_packet(conn, packet, now);
                }
                Ok(Decoded::Incomplete) => {
                    c.buf = buf;
                    return;
                }
                Err(err) => {
                    self.handle_decode_error(conn, &err, level, now);
                    return;
                }
            }
        }
    }

    /// A decoded packet arrived on `conn`.
    pub fn handle_packet(&mut self, conn: ConnId, packet: Packet, now: Instant) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        c.keep_alive.heard(now);
        match c.state {
            ConnState::AwaitConnect => match packet {
                Packet::Connect(connect) => self.on_connect(conn, connect, now),
                // MQTT-3.1.0-1: the first packet must be CONNECT.
                _ => self.close(conn, CloseKind::Abnormal, now),
            },
            ConnState::Authenticating => match packet {
                Packet::Auth(a) => self.on_auth_during_connect(conn, a, now),
                _ => self.refuse_connect(conn, ReasonCode::PROTOCOL_ERROR, now),
            },
            ConnState::Connected => self.on_packet(conn, packet, now),
        }
    }

    /// The peer closed `conn` or the socket failed: an abnormal close (the will is published).
    pub fn handle_disconnect(&mut self, conn: ConnId, now: Instant) {
        self.close(conn, CloseKind::Abnormal, now);
        // The socket is gone: nothing left to write.
        if let Some(o) = self.outbox.remove(&conn) {
            drop(o);
        }
    }

    /// The shell wrote `len` bytes of what `poll_transmit` returned for `conn` to its socket.
    /// Bytes not yet reported count against [`Limits::max_outbound_buffer`]; once below it,
    /// messages held back for the client flow again.
    pub fn handle_written(&mut self, conn: ConnId, len: usize, now: Instant) {
        let limit = self.limits.max_outbound_buffer;
        let Some(o) = self.outbox.get_mut(&conn) else {
            return;
        };
        let was_congested = o.congested(limit);
        o.unwritten = o.unwritten.saturating_sub(len);
        if was_congested && !o.congested(limit) {
            if let Some(client) = self.conns.get(&conn).and_then(|c| c.client_id.clone()) {
                self.pump(&client, now);
            }
        }
    }

    /// Runs every timer due at `now`: connect timeouts, keep alive, session expiry, delayed
    /// wills. Only due timers are visited, so idle connections cost nothing here.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(timer) = self.timers.pop_due(now) {
            match timer {
                Timer::Conn(id) => {
                    let Some(c) = self.conns.get(&id) else {
                        continue;
                    };
                    let connected = c.state == ConnState::Connected;
                    // Keep alive is re-armed lazily: a packet since the timer was set moved
                    // the real deadline later.
                    match self.conn_deadline(c) {
                        Some(at) if at > now => {
                            self.timers.set(Timer::Conn(id), Some(at));
                            continue;
                        }
                        None => continue,
                        Some(_) => {}
                    }
                    if connected {
                        tracing::debug!(conn = id.0, "keep alive expired");
                        let code = ReasonCode::KEEP_ALIVE_TIMEOUT;
                        self.send_disconnect(id, code, "keep alive timeout");
                    }
                    self.close(id, CloseKind::Abnormal, now);
                }
                Timer::Session(client) => {
                    let due = self.sessions.get(&client).is_some_and(|s| {
                        s.conn.is_none() && s.expires_at.is_some_and(|t| t <= now)
                    });
                    if due {
                        self.end_session(&client, now);
                    }
                }
            }
        }
        for (client, will) in self.wills.due(now) {
            self.publish_will(&client, &will, now);
        }
    }

    /// The next instant `handle_timeout` has work, if any. A busy connection's keep alive may
    /// make this earlier than needed (see `handle_timeout`), never later.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.timers.next(), self.wills.next_deadline()]
            .into_iter()
            .flatten()
            .min()
    }

    /// Bytes to write to a connection, if any.
    pub fn poll_transmit(&mut self) -> Option<(ConnId, Bytes)> {
        while let Some(conn) = self.ready.pop_front() {
            let Some(o) = self.outbox.get_mut(&conn) else {
                continue;
            };
            o.queued = false;
            let data = o.buf.split().freeze();
            if o.buf.capacity() == 0 {
                // Let the shell's write free the allocation rather than an idle outbox keep it.
                o.buf = BytesMut::new();
            }
            o.unwritten = o.unwritten.saturating_add(data.len());
            if o.closed {
                self.outbox.remove(&conn);
            }
            if !data.is_empty() {
                return Some((conn, data));
            }
        }
        None
    }

    /// The next thing the shell must do, after draining `poll_transmit`.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// How many connections are open.
    pub fn connection_count(&self) -> usize {
        self.conns.len()
    }

    // ----- CONNECT -----

    fn handle_decode_error(
        &mut self,
        conn: ConnId,
        err: &CodecError,
        connect_level: Option<u8>,
        now: Instant,
    ) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        tracing::debug!(conn = conn.0, error = %err, "decode error");
        match c.state {
            ConnState::AwaitConnect => {
                let Some(level) = connect_level else {
                    self.close(conn, CloseKind::Abnormal, now);
                    return;
                };
                let (version, code) = match err {
                    CodecError::UnsupportedProtocolLevel { .. }
                    | CodecError::InvalidProtocolName
                        if level < 5 =>
                    {
                        (
                            ProtocolVersion::V3_1_1,
                            ReasonCode::V3_UNACCEPTABLE_PROTOCOL_VERSION,
                        )
                    }
                    _ if level >= 5 => (ProtocolVersion::V5_0, err.reason_code()),
                    // 3.1.1 has no CONNACK code for a malformed CONNECT: close (MQTT-4.8.0-1).
                    _ => {
                        self.close(conn, CloseKind::Abnormal, now);
                        return;
                    }
                };
                if let Some(o) = self.outbox.get_mut(&conn) {
                    o.version = version;
                }
                let mut ack = ConnAck::new(false, code);
                if version.is_v5() {
                    ack.properties
                        .push(Property::ReasonString(err.to_string().into()));
                }
                self.send(conn, ack.into());
                self.close(conn, CloseKind::Abnormal, now);
            }
            ConnState::Authenticating => {
                let code = if c.version.is_v5() {
                    err.reason_code()
                } else {
                    ReasonCode::V3_SERVER_UNAVAILABLE
                };
                self.refuse_connect(conn, code, now);
            }
            ConnState::Connected => {
                // 3.1.1 MQTT-4.8.0-1: close. 5.0 4.13: DISCONNECT with the reason code, close.
                self.send_disconnect(conn, err.disconnect_reason_code(), &err.to_string());
                self.close(conn, CloseKind::Abnormal, now);
            }
        }
    }

    fn on_connect(&mut self, conn: ConnId, connect: Box<Connect>, now: Instant) {
        let version = connect.protocol;
        let v5 = version.is_v5();
        if let Some(c) = self.conns.get_mut(&conn) {
            c.version = version;
            c.decoder.set_version(version);
            c.problem_info = connect.properties.request_problem_information() != Some(0);
        }
        if let Some(o) = self.outbox.get_mut(&conn) {
            o.version = version;
            o.max_packet_size = connect.properties.maximum_packet_size().unwrap_or(u32::MAX);
        }
        if let Some(redirect) = &self.limits.redirect {
            // 5.0 4.11: CONNACK 0x9C/0x9D with a Server Reference; 3.1.1 cannot redirect.
            let ack = if v5 {
                let code = match redirect.kind {
                    RedirectKind::UseAnotherServer => ReasonCode::USE_ANOTHER_SERVER,
                    RedirectKind::ServerMoved => ReasonCode::SERVER_MOVED,
                };
                let mut ack = ConnAck::new(false, code);
                let reference = redirect.reference.as_str().into();
                ack.properties.push(Property::ServerReference(reference));
                ack
            } else {
                ConnAck::new(false, ReasonCode::V3_SERVER_UNAVAILABLE)
            };
            self.send(conn, ack.into());
            self.close(conn, CloseKind::Abnormal, now);
            return;
        }
        if self.conns.len() > self.limits.max_connections {
            self.notice.once("connection over max_connections");
            let code = if v5 {
                ReasonCode::QUOTA_EXCEEDED
            } else {
                ReasonCode::V3_SERVER_UNAVAILABLE
            };
            self.refuse_connect(conn, code, now);
            return;
        }
        // Client identifier rules.
        let mut assigned = false;
        let id_ok = if connect.client_id.is_empty() {
            // 3.1 requires 1 to 23 characters; 3.1.1 MQTT-3.1.3-7/8 allows an empty id only with
            // clean session; 5.0 MQTT-3.1.3-6 assigns one whatever Clean Start says.
            match version {
                ProtocolVersion::V3_1 => false,
                ProtocolVersion::V3_1_1 => connect.clean_start,
                ProtocolVersion::V5_0 => true,
            }
        } else {
            version != ProtocolVersion::V3_1 || connect.client_id.len() <= 23
        };
        if !id_ok {
            let code = if v5 {
                ReasonCode::CLIENT_IDENTIFIER_NOT_VALID
            } else {
                ReasonCode::V3_IDENTIFIER_REJECTED
            };
            self.refuse_connect(conn, code, now);
            return;
        }
        if connect.client_id.is_empty() {
            assigned = true;
        }
        // Username and password.
        if let Some(users) = &self.limits.users {
            let refused = match (&connect.username, &connect.password) {
                (Some(user), Some(pass)) if users.check(user, pass) => None,
                (Some(_), _) => Some((
                    ReasonCode::BAD_USER_NAME_OR_PASSWORD,
                    ReasonCode::V3_BAD_USER_NAME_OR_PASSWORD,
                )),
                (None, _) if self.limits.allow_anonymous => None,
                (None, _) => Some((ReasonCode::NOT_AUTHORIZED, ReasonCode::V3_NOT_AUTHORIZED)),
            };
            if let Some((v5_code, v3_code)) = refused {
                self.refuse_connect(conn, if v5 { v5_code } else { v3_code }, now);
                return;
            }
        }
        if let Some(c) = self.conns.get_mut(&conn) {
            c.username = connect.username.as_ref().map(|u| u.to_string());
        }
        if let Some((v5_code, v3_code)) = self.refuse_will(&connect) {
            self.refuse_connect(conn, if v5 { v5_code } else { v3_code }, now);
            return;
        }
        // Enhanced authentication (5.0 4.12).
        if v5 {
            if let Some(method) = connect.properties.authentication_method() {
                if *method != *self.limits.auth_method {
                    self.refuse_connect(conn, ReasonCode::BAD_AUTHENTICATION_METHOD, now);
                    return;
                }
                let challenge = Auth {
                    reason: ReasonCode::CONTINUE_AUTHENTICATION,
                    properties: Properties::new()
                        .with(Property::AuthenticationMethod(method))
                        .with(Property::AuthenticationData(Bytes::from_static(
                            auth::CHALLENGE,
                        ))),
                };
                self.send(conn, challenge.into());
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.state = ConnState::Authenticating;
                    c.pending = Some((connect, assigned));
                }
                return;
            }
        }
        self.accept_connect(conn, connect, assigned, now);
    }

    /// Why the CONNECT's will cannot be accepted, as (5.0, 3.1.1) CONNACK codes: QoS above
    /// Maximum QoS (MQTT-3.2.2-12), Will Retain without retain support (MQTT-3.2.2-13), a
    /// topic past the topic limits, or one the ACL does not let this user publish to. 3.1.1
    /// has no Maximum QoS nor Retain Available, so only the last two refuse a 3.1.1 will.
    fn refuse_will(&mut self, connect: &Connect) -> Option<(ReasonCode, ReasonCode)> {
        let will = connect.will.as_ref()?;
        let l = &self.limits;
        let v5 = connect.protocol.is_v5();
        if v5 && will.qos > l.max_qos {
            return Some((
                ReasonCode::QOS_NOT_SUPPORTED,
                ReasonCode::V3_SERVER_UNAVAILABLE,
            ));
        }
        if v5 && will.retain && !l.retain_available {
            return Some((
                ReasonCode::RETAIN_NOT_SUPPORTED,
                ReasonCode::V3_SERVER_UNAVAILABLE,
            ));
        }
        if !l.topic_fits(&will.topic) {
            self.notice
                .once("will topic over max_topic_levels or max_topic_bytes");
            return Some((
                ReasonCode::TOPIC_NAME_INVALID,
                ReasonCode::V3_SERVER_UNAVAILABLE,
            ));
        }
        let user = connect.username.as_deref();
        if l.users
            .as_ref()
            .is_some_and(|u| !u.allowed(user, &will.topic, Access::Write))
        {
            return Some((ReasonCode::NOT_AUTHORIZED, ReasonCode::V3_NOT_AUTHORIZED));
        }
        None
    }

    /// A client identifier for a client that sent none (5.0 MQTT-3.1.3-6/7, 3.1.1 clean
    /// session): random, so that it cannot be guessed and taken over, and unused.
    fn assign_client_id(&mut self) -> ByteString {
        loop {
            self.next_assigned += 1;
            let id: ByteString = match auth::random_bytes(12) {
                Some(bytes) => format!("auto-{}", auth::hex(&bytes)).into(),
                // No randomness from the system: unique, if guessable.
                None => format!("auto-{:08}", self.next_assigned).into(),
            };
            if !self.sessions.contains_key(&id) {
                return id;
            }
        }
    }

    /// Whether the ACL lets `client`'s session receive messages published to `topic`.
    fn may_read(&self, client: &ByteString, topic: &str) -> bool {
        let Some(users) = &self.limits.users else {
            return true;
        };
        let owner = self.sessions.get(client).and_then(|s| s.owner.as_deref());
        users.allowed(owner, topic, Access::Read)
    }

    fn on_auth_during_connect(&mut self, conn: ConnId, a: Auth, now: Instant) {
        let Some((connect, assigned)) = self.conns.get_mut(&conn).and_then(|c| c.pending.take())
        else {
            self.close(conn, CloseKind::Abnormal, now);
            return;
        };
        if !self.auth_response_ok(&a) {
            self.refuse_connect(conn, ReasonCode::NOT_AUTHORIZED, now);
            return;
        }
        self.accept_connect(conn, connect, assigned, now);
    }

    fn auth_response_ok(&self, a: &Auth) -> bool {
        a.reason == ReasonCode::CONTINUE_AUTHENTICATION
            && a.properties.authentication_method().as_deref() == Some(&*self.limits.auth_method)
            && a.properties.authentication_data().as_deref() == Some(auth::RESPONSE)
    }

    /// Sends CONNACK with a failure code and closes (MQTT-3.2.2-5 / 5.0 MQTT-3.2.2-7).
    fn refuse_connect(&mut self, conn: ConnId, code: ReasonCode, now: Instant) {
        let mut ack = ConnAck::new(false, code);
        if self.version(conn).is_v5() {
            if let Some(name) = code.name() {
                ack.properties.push(Property::ReasonString(name.into()));
            }
        }
        self.send(conn, ack.into());
        self.close(conn, CloseKind::Abnormal, now);
    }

    fn accept_connect(
        &mut self,
        conn: ConnId,
        connect: Box<Connect>,
        assigned: bool,
        now: Instant,
    ) {
        let version = connect.protocol;
        let v5 = version.is_v5();
        let client_id: ByteString = if assigned {
            self.assign_client_id()
        } else {
            connect.client_id.clone()
        };
        let username = self.conns.get(&conn).and_then(|c| c.username.clone());
        let owned_by_other = self
            .sessions
            .get(&client_id)
            .is_some_and(|s| s.owner != username);
        if self.limits.users.is_some() && owned_by_other {
            // Another user's session: neither resumed, taken over nor discarded.
            self.notice
                .once("client id of a session owned by another user");
            let code = if v5 {
                ReasonCode::NOT_AUTHORIZED
            } else {
                ReasonCode::V3_NOT_AUTHORIZED
            };
            self.refuse_connect(conn, code, now);
            return;
        }
        if !self.sessions.contains_key(&client_id)
            && self.sessions.len() >= self.limits.max_sessions
        {
            self.notice.once("session over max_sessions");
            let code = if v5 {
                ReasonCode::QUOTA_EXCEEDED
            } else {
                ReasonCode::V3_SERVER_UNAVAILABLE
            };
            self.refuse_connect(conn, code, now);
            return;
        }
        // Takeover (3.1.4-3 3.1.1 / 5.0 MQTT-3.1.4-3).
        if let Some(old) = self.sessions.get(&client_id).and_then(|s| s.conn) {
            if old != conn {
                self.send_disconnect(old, ReasonCode::SESSION_TAKEN_OVER, "session taken over");
                self.close(
                    old,
                    CloseKind::Takeover {
                        clean: connect.clean_start,
                    },
                    now,
                );
            }
        }
        // A pending delayed will: the session ends now (Clean Start) or is resumed.
        if let Some(will) = self.wills.take(&client_id) {
            if connect.clean_start {
                self.publish_will(&client_id, &will, now);
            }
        }
        let requested_expiry = if v5 {
            connect.properties.session_expiry_interval().unwrap_or(0)
        } else if connect.clean_start {
            0
        } else {
            self.limits.v3_session_expiry_interval.unwrap_or(u32::MAX)
        };
        let expiry = match self.limits.max_session_expiry_interval {
            Some(max) if v5 => requested_expiry.min(max),
            _ => requested_expiry,
        };
        let session_present = if connect.clean_start {
            self.remove_session(&client_id);
            false
        } else {
            self.sessions.contains_key(&client_id)
        };
        let window = if v5 {
            // Fewer than the client's Receive Maximum is lawful (MQTT-3.3.4-7 bounds it
            // from above only); the cap bounds what one session holds in flight.
            (connect.properties.receive_maximum())
                .unwrap_or(u16::MAX)
                .min(self.limits.max_inflight_messages)
                .max(1)
        } else {
            self.limits.outbound_inflight_v3.max(1)
        };
        let session = self
            .sessions
            .entry(client_id.clone())
            .or_insert_with(|| Box::new(Session::new(expiry, username)));
        session.conn = Some(conn);
        session.expires_at = None;
        session.expiry_interval = expiry;
        session.window_cap = session.window_cap.max(window);
        let (keep_alive, server_keep_alive) =
            keepalive::negotiate(connect.keep_alive, self.limits.max_keep_alive);
        if let Some(c) = self.conns.get_mut(&conn) {
            c.state = ConnState::Connected;
            c.client_id = Some(client_id.clone());
            c.will = connect.will.clone().map(Box::new);
            c.window = window;
            c.keep_alive = KeepAlive::new(keep_alive, now);
            c.connect_expiry = expiry;
            c.enhanced_auth = connect.properties.authentication_method().is_some();
        }
        let deadline = self.conns.get(&conn).and_then(|c| self.conn_deadline(c));
        self.timers.set(Timer::Conn(conn), deadline);
        self.timers.remove(&Timer::Session(client_id.clone()));
        let mut ack = ConnAck::new(session_present, ReasonCode::SUCCESS);
        if v5 {
            let l = &self.limits;
            let p = &mut ack.properties;
            if expiry != requested_expiry {
                p.push(Property::SessionExpiryInterval(expiry));
            }
            p.push(Property::ReceiveMaximum(l.receive_maximum.max(1)));
            if l.max_qos != QoS::ExactlyOnce {
                p.push(Property::MaximumQoS(l.max_qos.as_u8()));
            }
            p.push(Property::RetainAvailable(u8::from(l.retain_available)));
            p.push(Property::MaximumPacketSize(l.max_packet_size));
            if assigned {
                p.push(Property::AssignedClientIdentifier(client_id.clone()));
            }
            p.push(Property::TopicAliasMaximum(l.topic_alias_maximum));
            p.push(Property::WildcardSubscriptionAvailable(u8::from(
                l.wildcard_subscription_available,
            )));
            p.push(Property::SubscriptionIdentifierAvailable(u8::from(
                l.subscription_identifiers_available,
            )));
            p.push(Property::SharedSubscriptionAvailable(u8::from(
                l.shared_subscription_available,
            )));
            if server_keep_alive {
                p.push(Property::ServerKeepAlive(keep_alive));
            }
            if connect.properties.request_response_information() == Some(1) {
                if let Some(base) = &l.response_information {
                    p.push(Property::ResponseInformation(
                        format!("{base}{client_id}").into(),
                    ));
                }
            }
            if let Some(method) = connect.properties.authentication_method() {
                p.push(Property::AuthenticationMethod(method));
            }
        }
        self.send(conn, ack.into());
        tracing::debug!(conn = conn.0, client = %client_id, %version, session_present, "connected");
        // MQTT-4.4.0-1: resend unacknowledged PUBLISH (DUP=1) and PUBREL, in order.
        self.redeliver(&client_id, conn, now);
        self.pump(&client_id, now);
    }

    // ----- after CONNACK -----

    fn on_packet(&mut self, conn: ConnId, packet: Packet, now: Instant) {
        let Some(client) = self.conns.get(&conn).and_then(|c| c.client_id.clone()) else {
            return;
        };
        match packet {
            Packet::Publish(p) => self.on_publish(conn, &client, p, now),
            Packet::PubAck(a) => {
                if let Some(s) = self.sessions.get_mut(&client) {
                    s.outbound.complete(a.packet_id, OutState::AwaitPubAck);
                }
                self.pump(&client, now);
            }
            Packet::PubRec(a) => {
                let Some(s) = self.sessions.get_mut(&client) else {
                    return;
                };
                if !a.reason.is_success() {
                    // 5.0 4.3.3: a PUBREC with a failure code ends the flow.
                    s.outbound.complete(a.packet_id, OutState::AwaitPubRec);
                    self.pump(&client, now);
                } else if s.outbound.pubrec(a.packet_id) {
                    self.send(conn, PubRel::new(a.packet_id).into());
                } else {
                    let mut rel = PubRel::new(a.packet_id);
                    rel.reason = ReasonCode::PACKET_IDENTIFIER_NOT_FOUND;
                    self.send(conn, rel.into());
                }
            }
            Packet::PubComp(a) => {
                if let Some(s) = self.sessions.get_mut(&client) {
                    s.outbound.complete(a.packet_id, OutState::AwaitPubComp);
                }
                self.pump(&client, now);
            }
            Packet::PubRel(r) => {
                let released = self
                    .sessions
                    .get_mut(&client)
                    .is_some_and(|s| s.inbound.release(r.packet_id));
                let mut comp = PubComp::new(r.packet_id);
                if !released {
                    comp.reason = ReasonCode::PACKET_IDENTIFIER_NOT_FOUND;
                }
                self.send(conn, comp.into());
            }
            Packet::Subscribe(s) => self.on_subscribe(conn, &client, s, now),
            Packet::Unsubscribe(u) => self.on_unsubscribe(conn, &client, u),
            Packet::PingReq => self.send(conn, Packet::PingResp),
            Packet::Disconnect(d) => self.on_client_disconnect(conn, &client, d, now),
            Packet::Auth(a) => self.on_reauth(conn, a, now),
            // MQTT-3.1.0-2: a second CONNECT is a protocol violation; packets only a server
            // sends are too.
            Packet::Connect(_)
            | Packet::ConnAck(_)
            | Packet::SubAck(_)
            | Packet::UnsubAck(_)
            | Packet::PingResp => {
                self.protocol_error(conn, ReasonCode::PROTOCOL_ERROR, "unexpected packet", now);
            }
        }
    }

    fn protocol_error(&mut self, conn: ConnId, code: ReasonCode, why: &str, now: Instant) {
        self.send_disconnect(conn, code, why);
        self.close(conn, CloseKind::Abnormal, now);
    }

    fn on_reauth(&mut self, conn: ConnId, a: Auth, now: Instant) {
        let method = &*self.limits.auth_method;
        // 3.15 and MQTT-4.12.0-6/7: AUTH only after a CONNECT with an Authentication Method,
        // and with the same method; the server never answers AUTH to anyone else.
        let enhanced = self.conns.get(&conn).is_some_and(|c| c.enhanced_auth);
        if !enhanced || a.properties.authentication_method().as_deref() != Some(method) {
            self.protocol_error(
                conn,
                ReasonCode::PROTOCOL_ERROR,
                "no re-authentication",
                now,
            );
            return;
        }
        let props = Properties::new().with(Property::AuthenticationMethod(method.into()));
        if a.reason == ReasonCode::RE_AUTHENTICATE {
            let challenge = Auth {
                reason: ReasonCode::CONTINUE_AUTHENTICATION,
                properties: props.with(Property::AuthenticationData(Bytes::from_static(
                    auth::CHALLENGE,
                ))),
            };
            self.send(conn, challenge.into());
        } else if self.auth_response_ok(&a) {
            let done = Auth {
                reason: ReasonCode::SUCCESS,
                properties: props,
            };
            self.send(conn, done.into());
        } else {
            self.protocol_error(
                conn,
                ReasonCode::NOT_AUTHORIZED,
                "authentication failed",
                now,
            );
        }
    }

    fn on_publish(&mut self, conn: ConnId, client: &ByteString, mut p: Publish, now: Instant) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let v5 = c.version.is_v5();
        if v5 {
            // Topic aliases (5.0 3.3.2.3.4).
            if let Some(alias) = p.properties.topic_alias() {
                if alias == 0 || alias > self.limits.topic_alias_maximum {
                    self.protocol_error(
                        conn,
                        ReasonCode::TOPIC_ALIAS_INVALID,
                        "topic alias out of range",
                        now,
                    );
                    return;
                }
                if p.topic.is_empty() {
                    match c.aliases.get(&alias) {
                        Some(topic) => p.topic = topic.clone(),
                        None => {
                            self.protocol_error(
                                conn,
                                ReasonCode::PROTOCOL_ERROR,
                                "unknown topic alias",
                                now,
                            );
                            return;
                        }
                    }
                } else {
                    c.aliases.insert(alias, p.topic.clone());
                }
            }
            if p.properties.subscription_identifiers().next().is_some() {
                // MQTT-3.3.4-6: a client never sends a Subscription Identifier.
                self.protocol_error(
                    conn,
                    ReasonCode::PROTOCOL_ERROR,
                    "subscription identifier from a client",
                    now,
                );
                return;
            }
            if p.qos > self.limits.max_qos {
                // MQTT-3.2.2-11.
                self.protocol_error(
                    conn,
                    ReasonCode::QOS_NOT_SUPPORTED,
                    "qos not supported",
                    now,
                );
                return;
            }
            if p.retain && !self.limits.retain_available {
                // MQTT-3.2.2-14.
                self.protocol_error(
                    conn,
                    ReasonCode::RETAIN_NOT_SUPPORTED,
                    "retain not supported",
                    now,
                );
                return;
            }
        }
        if p.topic.is_empty() {
            self.protocol_error(conn, ReasonCode::TOPIC_NAME_INVALID, "empty topic", now);
            return;
        }
        let username = self.conns.get(&conn).and_then(|c| c.username.clone());
        let mut refused = None;
        if !self.limits.topic_fits(&p.topic) {
            // 0x90: well formed, but not accepted by this server. 3.1.1 has no negative
            // acknowledgement: the PUBLISH is acknowledged and dropped (MQTT-3.3.5-2).
            self.notice
                .once("topic name over max_topic_levels or max_topic_bytes");
            refused = Some(ReasonCode::TOPIC_NAME_INVALID);
        } else if let Some(users) = &self.limits.users {
            if !users.allowed(username.as_deref(), &p.topic, Access::Write) {
                refused = Some(ReasonCode::NOT_AUTHORIZED);
            }
        }
        if refused.is_none() && p.retain && !p.payload.is_empty() && !self.retained_room(&p) {
            self.notice
                .once("retained message over max_retained_messages or max_retained_bytes");
            // 5.0: refused with 0x97; 3.1.1 cannot be told, so its message is delivered
            // without being retained (in `distribute`).
            if v5 && p.qos != QoS::AtMostOnce {
                refused = Some(ReasonCode::QUOTA_EXCEEDED);
            }
        }
        if v5
            && refused.is_none()
            && p.properties.payload_format_indicator() == Some(1)
            && std::str::from_utf8(&p.payload).is_err()
        {
            refused = Some(ReasonCode::PAYLOAD_FORMAT_INVALID);
        }
        match p.qos {
            QoS::AtMostOnce => {
                if refused.is_none() {
                    self.route(client, p, now);
                }
            }
            QoS::AtLeastOnce => {
                let id = p.packet_id;
                if refused.is_none() {
                    self.route(client, p, now);
                }
                let mut ack = PubAck::new(id);
                if let Some(code) = refused.filter(|_| v5) {
                    ack.reason = code;
                    self.add_reason_string(conn, &mut ack.properties, code);
                }
                self.send(conn, ack.into());
            }
            QoS::ExactlyOnce => {
                let id = p.packet_id;
                let Some(session) = self.sessions.get_mut(client) else {
                    return;
                };
                let mut rec = PubRec::new(id);
                if let Some(code) = refused {
                    if v5 {
                        rec.reason = code;
                        self.add_reason_string(conn, &mut rec.properties, code);
                    }
                    self.send(conn, rec.into());
                    return;
                }
                let max = usize::from(self.limits.receive_maximum.max(1));
                let fresh = session.inbound.receive(id);
                if fresh && session.inbound.len() > max && v5 {
                    // MQTT-3.3.4-9: more than Receive Maximum unacknowledged QoS 2 PUBLISH.
                    session.inbound.release(id);
                    self.protocol_error(
                        conn,
                        ReasonCode::RECEIVE_MAXIMUM_EXCEEDED,
                        "receive maximum exceeded",
                        now,
                    );
                    return;
                }
                if fresh {
                    // Delivered on PUBLISH (method A of 4.3.3); a resend before PUBREL is
                    // answered PUBREC but not delivered again (MQTT-4.3.3-9 / 5.0 4.3.3-10).
                    self.route(client, p, now);
                }
                self.send(conn, rec.into());
            }
        }
    }

    fn add_reason_string(&self, conn: ConnId, props: &mut Properties, code: ReasonCode) {
        // 5.0 3.1.2.11.7: reason strings on packets other than CONNACK and DISCONNECT only when
        // Request Problem Information is not 0.
        if self.conns.get(&conn).is_some_and(|c| c.problem_info) {
            if let Some(name) = code.name() {
                props.push(Property::ReasonString(name.into()));
            }
        }
    }

    /// Accepts a PUBLISH for delivery: retained store, then every matching subscription.
    fn route(&mut self, publisher: &ByteString, p: Publish, now: Instant) {
        let msg = Arc::new(Message::new(
            p.topic,
            p.payload,
            p.qos,
            p.retain,
            &p.properties,
            now,
            Some(publisher.clone()),
        ));
        self.distribute(msg, now);
    }

    /// Whether the retained store can take `p` (a replacement always fits in count).
    fn retained_room(&self, p: &Publish) -> bool {
        let (count, bytes) = self.retained.usage();
        let size = p.topic.len().saturating_add(p.payload.len());
        count < self.limits.max_retained_messages
            && bytes.saturating_add(size) <= self.limits.max_retained_bytes
            || self.retained.contains(&p.topic)
    }

    fn distribute(&mut self, msg: Arc<Message>, now: Instant) {
        if msg.retain && self.limits.retain_available {
            let l = &self.limits;
            let stored = self
                .retained
                .update(&msg, l.max_retained_messages, l.max_retained_bytes);
            if stored.is_err() {
                self.notice
                    .once("retained store full, message not retained");
            }
        }
        let sessions = &self.sessions;
        let matches = self.subs.matches(&msg.topic, |c| {
            sessions.get(c).is_some_and(|s| s.conn.is_some())
        });
        // One delivery per client for its non-shared subscriptions; one per shared match.
        let mut per_client: Vec<(ByteString, Delivery)> = Vec::new();
        let mut index: HashMap<ByteString, usize> = HashMap::new();
        for m in matches {
            if !self.may_read(&m.client, &msg.topic) {
                continue;
            }
            let o = m.entry.options;
            if !m.shared && o.no_local && msg.publisher.as_ref() == Some(&m.client) {
                // MQTT-3.8.3-3: No Local.
                continue;
            }
            let qos = msg.qos.min(o.qos);
            let retain = o.retain_as_published && msg.retain;
            let sub_ids: Vec<u32> = m.entry.id.into_iter().collect();
            if !m.shared {
                if let Some(&i) = index.get(&m.client) {
                    if let Some((_, d)) = per_client.get_mut(i) {
                        d.qos = d.qos.max(qos);
                        d.retain |= retain;
                        d.sub_ids.extend(sub_ids);
                    }
                    continue;
                }
                index.insert(m.client.clone(), per_client.len());
            }
            per_client.push((
                m.client,
                Delivery {
                    msg: Arc::clone(&msg),
                    qos,
                    retain,
                    sub_ids,
                },
            ));
        }
        for (client, delivery) in per_client {
            self.deliver(&client, delivery, now);
        }
    }

    /// Hands one message to one session: sends it, or queues it (QoS 1/2) when the client is
    /// offline, its window is full or it reads too slowly (its outbound buffer is past
    /// `max_outbound_buffer`). QoS 0 messages for offline or slow clients are dropped, as are
    /// QoS 1/2 ones past `max_queued_messages` or `max_queued_bytes`. False if dropped.
    fn deliver(&mut self, client: &ByteString, d: Delivery, now: Instant) -> bool {
        let limit = self.limits.max_outbound_buffer;
        let Some(s) = self.sessions.get_mut(client) else {
            return false;
        };
        let conn = s.conn;
        let congested = conn
            .and_then(|c| self.outbox.get(&c))
            .is_some_and(|o| o.congested(limit));
        if d.qos == QoS::AtMostOnce {
            let Some(conn) = conn else {
                return false;
            };
            if congested {
                // The client does not read fast enough: QoS 0 is at most once.
                tracing::debug!(client = %client, "outbound buffer full, qos 0 dropped");
                return false;
            }
            if !d.msg.expired(now) {
                let p = build_publish(&d, 0, false, now);
                self.send(conn, p.into());
            }
            return true;
        }
        let window = conn
            .and_then(|c| self.conns.get(&c))
            .map_or(0, |c| usize::from(c.window));
        let idle = s.outbound.queue.is_empty() && s.outbound.unsent() == 0;
        if idle && s.outbound.inflight.len() < window && !congested {
            if let Some(conn) = conn {
                self.send_new(client, conn, d, now);
            }
            return true;
        }
        let size = d.msg.size();
        if s.outbound.len() >= self.limits.max_queued_messages
            || self.queued_bytes.saturating_add(size) > self.limits.max_queued_bytes
        {
            tracing::debug!(client = %client, "queue full, message dropped");
            return false;
        }
        self.queued_bytes += size;
        s.outbound.queue.push_back(d);
        true
    }

    /// Sends a QoS 1/2 message with a fresh packet identifier.
    fn send_new(&mut self, client: &ByteString, conn: ConnId, d: Delivery, now: Instant) {
        if d.msg.expired(now) {
            return;
        }
        let max = self
            .outbox
            .get(&conn)
            .map_or(u32::MAX, |o| o.max_packet_size);
        let Some(s) = self.sessions.get_mut(client) else {
            return;
        };
        let probe = build_publish(&d, 1, false, now);
        let version = self
            .conns
            .get(&conn)
            .map_or(ProtocolVersion::V5_0, |c| c.version);
        if u32::try_from(Packet::Publish(probe.clone()).encoded_len(version)).unwrap_or(u32::MAX)
            > max
        {
            // 5.0 MQTT-3.1.2-25: too large for the client: discarded as if delivered.
            return;
        }
        let Some(id) = s.outbound.alloc_id() else {
            self.queued_bytes += d.msg.size();
            s.outbound.queue.push_front(d);
            return;
        };
        let mut p = probe;
        p.packet_id = id;
        s.outbound.push(id, d);
        self.send(conn, p.into());
    }

    /// Fills the client's window from its queue.
    fn pump(&mut self, client: &ByteString, now: Instant) {
        loop {
            let Some(s) = self.sessions.get_mut(client) else {
                return;
            };
            let Some(conn) = s.conn else {
                return;
            };
            let window = self.conns.get(&conn).map_or(0, |c| usize::from(c.window));
            let limit = self.limits.max_outbound_buffer;
            let congested = self.outbox.get(&conn).is_some_and(|o| o.congested(limit));
            if s.outbound.sent() >= window || congested {
                return;
            }
            if s.outbound.unsent() > 0 {
                self.resend_one(client, conn, now);
                continue;
            }
            let Some(d) = s.outbound.queue.pop_front() else {
                return;
            };
            self.queued_bytes -= d.msg.size();
            let before = s.outbound.queue.len();
            self.send_new(client, conn, d, now);
            // All packet identifiers in use: the message went back to the queue.
            if self
                .sessions
                .get(client)
                .is_some_and(|s| s.outbound.queue.len() > before)
            {
                return;
            }
        }
    }

    /// MQTT-4.4.0-1: on reconnect, resends the unacknowledged PUBLISH (DUP=1) and PUBREL
    /// packets in order, as many as the client's new Receive Maximum allows (MQTT-3.3.4-7);
    /// the rest follow as acknowledgements make room (`pump`). A PUBLISH now over the
    /// client's Maximum Packet Size is discarded as if delivered (MQTT-3.1.2-25) instead of
    /// staying in flight for ever.
    fn redeliver(&mut self, client: &ByteString, conn: ConnId, now: Instant) {
        let (version, max) = self
            .outbox
            .get(&conn)
            .map_or((ProtocolVersion::V5_0, u32::MAX), |o| {
                (o.version, o.max_packet_size)
            });
        let Some(s) = self.sessions.get_mut(client) else {
            return;
        };
        let too_big: Vec<(u16, OutState)> = (s.outbound.inflight.iter())
            .filter(|e| e.state != OutState::AwaitPubComp)
            .filter(|e| {
                let p = Packet::Publish(build_publish(&e.delivery, e.id, true, now));
                u32::try_from(p.encoded_len(version)).map_or(true, |len| len > max)
            })
            .map(|e| (e.id, e.state))
            .collect();
        for (id, state) in too_big {
            s.outbound.complete(id, state);
        }
        s.outbound.mark_all_unsent();
    }

    /// Resends the oldest in-flight entry not yet resent on this connection; false if none.
    fn resend_one(&mut self, client: &ByteString, conn: ConnId, now: Instant) -> bool {
        let Some(e) = self
            .sessions
            .get_mut(client)
            .and_then(|s| s.outbound.take_unsent())
        else {
            return false;
        };
        let packet: Packet = match e.state {
            OutState::AwaitPubComp => PubRel::new(e.id).into(),
            _ => build_publish(&e.delivery, e.id, true, now).into(),
        };
        self.send(conn, packet);
        true
    }

    fn on_client_disconnect(
        &mut self,
        conn: ConnId,
        client: &ByteString,
        d: Disconnect,
        now: Instant,
    ) {
        if let Some(expiry) = d.properties.session_expiry_interval() {
            let connect_expiry = self.conns.get(&conn).map_or(0, |c| c.connect_expiry);
            if connect_expiry == 0 && expiry != 0 {
                // MQTT-3.14.2-2.
                self.protocol_error(
                    conn,
                    ReasonCode::PROTOCOL_ERROR,
                    "session expiry set after 0",
                    now,
                );
                return;
            }
            // Clamped like the CONNECT's: the configured maximum bounds the session's life
            // whichever packet asks.
            let max = self.limits.max_session_expiry_interval.unwrap_or(u32::MAX);
            if let Some(s) = self.sessions.get_mut(client) {
                s.expiry_interval = expiry.min(max);
            }
        }
        let kind = if d.reason == ReasonCode::DISCONNECT_WITH_WILL_MESSAGE {
            CloseKind::Abnormal
        } else {
            CloseKind::Normal
        };
        self.close(conn, kind, now);
    }

    // ----- closing, sessions, wills -----

    fn close(&mut self, conn: ConnId, kind: CloseKind, now: Instant) {
        let Some(c) = self.conns.remove(&conn) else {
            return;
        };
        self.timers.remove(&Timer::Conn(conn));
        match self.outbox.get_mut(&conn) {
            Some(o) if !o.buf.is_empty() => o.closed = true,
            _ => {
                self.outbox.remove(&conn);
            }
        }
        self.events.push_back(Event::Close { conn });
        let Some(client) = c.client_id else {
            return;
        };
        let Some(s) = self.sessions.get_mut(&client) else {
            return;
        };
        if s.conn != Some(conn) {
            return;
        }
        s.conn = None;
        let expiry = s.expiry_interval;
        let will = c.will.filter(|_| kind != CloseKind::Normal);
        if let CloseKind::Takeover { clean } = kind {
            // The session lives on in the new connection; a will without delay is published
            // now, and one with a delay only if the session ends (Clean Start).
            if let Some(w) = will {
                let delay = w.properties.will_delay_interval().unwrap_or(0);
                if delay == 0 || clean {
                    self.publish_will(&client, &w, now);
                }
            }
            return;
        }
        if let Some(w) = will {
            let delay = w.properties.will_delay_interval().unwrap_or(0).min(expiry);
            if delay == 0 {
                self.publish_will(&client, &w, now);
            } else {
                // A deadline beyond what the clock can represent is never due.
                if let Some(at) = now.checked_add(Duration::from_secs(u64::from(delay))) {
                    self.wills.schedule(client.clone(), at, w);
                }
            }
        }
        if expiry == 0 {
            self.end_session(&client, now);
        } else if expiry != u32::MAX {
            if let Some(s) = self.sessions.get_mut(&client) {
                s.expires_at = now.checked_add(Duration::from_secs(u64::from(expiry)));
                self.timers.set(Timer::Session(client), s.expires_at);
            }
        }
    }

    /// Ends a session: its pending will is published (3.1.3.2.2), its state discarded.
    fn end_session(&mut self, client: &ByteString, now: Instant) {
        self.remove_session(client);
        if let Some(will) = self.wills.take(client) {
            self.publish_will(client, &will, now);
        }
    }

    fn remove_session(&mut self, client: &ByteString) {
        self.timers.remove(&Timer::Session(client.clone()));
        if let Some(s) = self.sessions.remove(client) {
            for filter in s.subscriptions.keys() {
                self.subs.remove(filter, client);
            }
            let queued: usize = s.outbound.queue.iter().map(|d| d.msg.size()).sum();
            self.queued_bytes -= queued;
        }
    }

    /// Publishes `client`'s will at `now`: its Message Expiry Interval starts here.
    fn publish_will(&mut self, client: &ByteString, w: &Will, now: Instant) {
        tracing::debug!(topic = %w.topic, "publishing will");
        self.distribute(will_message(w, client, now), now);
    }

    /// When `c` is to be closed if nothing changes: the connect timeout before CONNACK, the
    /// keep alive after.
    fn conn_deadline(&self, c: &Conn) -> Option<Instant> {
        match c.state {
            ConnState::Connected => c.keep_alive.deadline(),
            _ => c.opened.checked_add(self.limits.connect_timeout),
        }
    }

    // ----- output -----

    fn version(&self, conn: ConnId) -> ProtocolVersion {
        self.outbox
            .get(&conn)
            .map_or(ProtocolVersion::V3_1_1, |o| o.version)
    }

    fn send_disconnect(&mut self, conn: ConnId, code: ReasonCode, why: &str) {
        if !self.version(conn).is_v5() {
            return;
        }
        let mut d = Disconnect::new(code);
        d.properties.push(Property::ReasonString(why.into()));
        self.send(conn, d.into());
    }

    /// Encodes `packet` for `conn`, honouring the client's Maximum Packet Size: an oversized
    /// PUBLISH is dropped, other packets lose their Reason String and User Properties first
    /// (5.0 MQTT-3.1.2-24/25).
    fn send(&mut self, conn: ConnId, mut packet: Packet) {
        let Some(o) = self.outbox.get_mut(&conn) else {
            return;
        };
        if o.closed {
            return;
        }
        let fits = |p: &Packet| {
            u32::try_from(p.encoded_len(o.version)).is_ok_and(|len| len <= o.max_packet_size)
        };
        if !fits(&packet) {
            if matches!(packet, Packet::Publish(_)) {
                return;
            }
            strip_diagnostics(&mut packet);
            if !fits(&packet) {
                return;
            }
        }
        if packet.encode(o.version, &mut o.buf).is_err() {
            tracing::warn!(conn = conn.0, "packet could not be encoded");
            return;
        }
        if !o.queued {
            o.queued = true;
            self.ready.push_back(conn);
        }
    }

    // ----- introspection for tests and fuzzing -----

    /// Checks internal invariants; the error names the first one broken.
    #[doc(hidden)]
    pub fn check_invariants(&self) -> Result<(), String> {
        for (client, s) in &self.sessions {
            if s.outbound.inflight.len() > usize::from(s.window_cap.max(1)) {
                return Err(format!("{client}: in-flight beyond the receive maximum"));
            }
            if s.outbound.len()
                > self
                    .limits
                    .max_queued_messages
                    .max(s.outbound.inflight.len())
                && s.outbound.queue.len() > self.limits.max_queued_messages
            {
                return Err(format!("{client}: queue beyond its limit"));
            }
            if let Some(conn) = s.conn {
                if !self.conns.contains_key(&conn) {
                    return Err(format!("{client}: attached to a closed connection"));
                }
            }
        }
        for (client, s) in &self.sessions {
            let armed = self.timers.get(&Timer::Session(client.clone()));
            if s.conn.is_none() && armed != s.expires_at {
                return Err(format!("{client}: expiry timer does not match the session"));
            }
        }
        let queued: usize = (self.sessions.values())
            .flat_map(|s| s.outbound.queue.iter().map(|d| d.msg.size()))
            .sum();
        if queued != self.queued_bytes {
            return Err(format!(
                "{queued} bytes queued, {} counted",
                self.queued_bytes
            ));
        }
        let stored: usize = self.sessions.values().map(|s| s.subscriptions.len()).sum();
        if stored != self.subs.len() {
            return Err(format!(
                "{stored} subscriptions in sessions, {} in the tree",
                self.subs.len()
            ));
        }
        for (id, c) in &self.conns {
            let armed = self.timers.get(&Timer::Conn(*id));
            let due = self.conn_deadline(c);
            // Lazy re-arming lets the timer be early, never late or missing.
            if due.is_some_and(|due| armed.is_none_or(|armed| armed > due)) {
                return Err(format!(
                    "connection {}: timer later than its deadline",
                    id.0
                ));
            }
            if let Some(client) = &c.client_id {
                if self.sessions.get(client).and_then(|s| s.conn) != Some(*id) {
                    return Err(format!("connection {} lost its session", id.0));
                }
            }
        }
        Ok(())
    }

    /// The filters a connection's session holds (`None` before CONNACK).
    #[doc(hidden)]
    pub fn session_filters(&self, conn: ConnId) -> Option<Vec<String>> {
        let client = self.conns.get(&conn)?.client_id.as_ref()?;
        let s = self.sessions.get(client)?;
        Some(s.subscriptions.keys().map(|f| f.to_string()).collect())
    }

    /// The client id attached to a connection.
    #[doc(hidden)]
    pub fn client_id(&self, conn: ConnId) -> Option<String> {
        self.conns
            .get(&conn)?
            .client_id
            .as_ref()
            .map(|c| c.to_string())
    }
}

/// The PUBLISH a subscriber receives for `d`.
fn build_publish(d: &Delivery, packet_id: u16, dup: bool, now: Instant) -> Publish {
    let mut properties = d.msg.properties.clone();
    if let Some(left) = d.msg.remaining_expiry(now) {
        properties.push(Property::MessageExpiryInterval(left));
    }
    for id in &d.sub_ids {
        properties.push(Property::SubscriptionIdentifier(*id));
    }
    Publish {
        dup: dup && d.qos != QoS::AtMostOnce,
        qos: d.qos,
        retain: d.retain,
        topic: d.msg.topic.clone(),
        packet_id,
        properties,
        payload: d.msg.payload.clone(),
    }
}

fn will_message(w: &Will, client: &ByteString, now: Instant) -> Arc<Message> {
    Arc::new(Message::new(
        w.topic.clone(),
        w.payload.clone(),
        w.qos,
        w.retain,
        &w.properties,
        now,
        Some(client.clone()),
    ))
}

fn strip_diagnostics(packet: &mut Packet) {
    let props = match packet {
        Packet::ConnAck(p) => &mut p.properties,
        Packet::PubAck(p) => &mut p.properties,
        Packet::PubRec(p) => &mut p.properties,
        Packet::PubRel(p) => &mut p.properties,
        Packet::PubComp(p) => &mut p.properties,
        Packet::SubAck(p) => &mut p.properties,
        Packet::UnsubAck(p) => &mut p.properties,
        Packet::Disconnect(p) => &mut p.properties,
        Packet::Auth(p) => &mut p.properties,
        _ => return,
    };
    let kept: Properties = props
        .iter()
        .filter(|p| !matches!(p, Property::ReasonString(_) | Property::UserProperty(..)))
        .collect();
    *props = kept;
}

/// The protocol level of a CONNECT at the front of `buf`, if enough of it is there.
pub(crate) fn peek_connect_level(buf: &[u8]) -> Option<u8> {
    let (&first, rest) = buf.split_first()?;
    if first >> 4 != 1 {
        return None;
    }
    // Skip the remaining length (1 to 4 bytes).
    let mut i = 0;
    loop {
        let b = *rest.get(i)?;
        i += 1;
        if b & 0x80 == 0 || i == 4 {
            break;
        }
    }
    let hi = usize::from(*rest.get(i)?);
    let lo = usize::from(*rest.get(i + 1)?);
    let name_len = hi << 8 | lo;
    rest.get(i + 2 + name_len).copied()
}
