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
mod close;
mod conn;
mod connect;
mod inflight;
mod invariants;
mod keepalive;
mod message;
mod notice;
mod outbox;
mod publish;
mod retained;
mod session;
mod subscribe;
mod timers;
mod topics;
mod trie;
mod will;

#[cfg(test)]
mod tests;

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use mqtt_codec::properties::{Properties, Property};
use mqtt_codec::{
    Auth, ByteString, ConnAck, Connect, DecodeError, Decoded, Decoder, Disconnect,
    Error as CodecError, Packet, ProtocolVersion, PubAck, PubComp, PubRec, PubRel, Publish, QoS,
    ReasonCode, Will,
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

use conn::{CloseKind, Conn, ConnState, Outbox, Timer};

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
    /// Run `check.verify()` (slow on purpose: a password hash) away from the engine, then
    /// call [`Engine::handle_password_checked`] with the result. The connection reads nothing
    /// until then.
    CheckPassword {
        /// The connection whose CONNECT waits.
        conn: ConnId,
        /// The check to run.
        check: auth::PasswordCheck,
    },
}

/// The broker: sessions, subscriptions, retained messages and every connection's protocol
/// state.
#[derive(Debug)]
pub struct Engine {
    limits: Limits,
    /// Boxed, as are sessions, so that the maps' spare buckets cost a pointer, not a `Conn`.
    conns: HashMap<ConnId, Box<Conn>>,
    /// The connections in `conns` not yet accepted (no CONNACK 0x00), oldest first: the ones
    /// `Limits::max_pending_connections` bounds. Checked against `Conn::state` by
    /// `check_invariants`.
    pending: BTreeSet<ConnId>,
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
            pending: BTreeSet::new(),
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
    /// timeout. With `Limits::max_pending_connections` connections already waiting, the
    /// oldest of them is closed to make room.
    pub fn handle_connect(&mut self, now: Instant) -> ConnId {
        self.make_room_for_pending(now);
        self.next_conn += 1;
        let id = ConnId(self.next_conn);
        let max = usize::try_from(self.limits.max_packet_size).unwrap_or(usize::MAX);
        self.conns.insert(id, Box::new(Conn::new(now, max)));
        self.timers.set(
            Timer::Conn(id),
            now.checked_add(self.limits.connect_timeout),
        );
        self.outbox.insert(id, Outbox::default());
        self.pending.insert(id);
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
            if c.state == ConnState::CheckingPassword {
                // Decoded once the password is checked (`handle_password_checked`).
                return;
            }
            let mut buf = std::mem::take(&mut c.buf);
            let outcome = c.decoder.decode_in_context(&mut buf);
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
                    self.handle_decode_error(conn, &err, now);
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
            // Only a shell feeding decoded packets gets here: they wait like bytes would not,
            // so the CONNECT's refusal rules apply (MQTT-3.1.0-2 is about a second CONNECT).
            ConnState::CheckingPassword => {
                self.refuse_connect(conn, ReasonCode::PROTOCOL_ERROR, now);
            }
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

    /// The result of an [`Event::CheckPassword`] for `conn`: the CONNECT goes on, or is
    /// refused (5.0 CONNACK 0x86, 3.1.1 0x04); then the bytes that waited are decoded.
    pub fn handle_password_checked(&mut self, conn: ConnId, ok: bool, now: Instant) {
        let waiting = self.conns.get_mut(&conn).and_then(|c| {
            (c.state == ConnState::CheckingPassword)
                .then(|| c.pending.take())
                .flatten()
        });
        let Some((connect, _)) = waiting else {
            return;
        };
        if let Some(c) = self.conns.get_mut(&conn) {
            c.state = ConnState::AwaitConnect;
        }
        if ok {
            self.after_credentials(conn, connect, now);
        } else {
            let code = if connect.protocol.is_v5() {
                ReasonCode::BAD_USER_NAME_OR_PASSWORD
            } else {
                ReasonCode::V3_BAD_USER_NAME_OR_PASSWORD
            };
            self.refuse_connect(conn, code, now);
        }
        self.handle_data(conn, &[], now);
    }

    /// The shell verified a TLS client certificate naming `user` on `conn` (before its
    /// CONNECT): the connection is that user's, without a password (see
    /// `Config::tls_client_ca`).
    pub fn set_certificate_user(&mut self, conn: ConnId, user: String) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.username = Some(user);
            c.cert_authenticated = true;
        }
    }

    /// How many connections are open.
    pub fn connection_count(&self) -> usize {
        self.conns.len()
    }
}
