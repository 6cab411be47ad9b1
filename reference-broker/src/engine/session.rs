//! Per-client session state: what survives the network connection (subscriptions, QoS 1/2
//! flows, queued messages) and when it ends.
//!
//! Session state is keyed by client identifier and outlives connections according to the Clean
//! Session flag (3.1.1) or Clean Start plus Session Expiry Interval (5.0).

use std::collections::HashMap;
use std::time::Instant;

use mqtt_codec::ByteString;

use super::ConnId;
use super::inflight::{InboundQos2, Outbound};
use super::topics::SubEntry;

/// One client's session.
///
/// ```text
///                 CONNECT accepted (Clean Start=1, or no session for this id):
///                 new session, Session Present=0
///   (no session) ───────────────────────────────────────────────► Connected(conn)
///        ▲                                                         │   ▲   │
///        │  expiry interval 0 when the                             │   │   │ CONNECT with the same
///        │  connection ends (3.1.1 clean                           │   │   │ client id (takeover): old
///        │  session), or Clean Start=1                             │   │   │ conn closed (5.0 DISCONNECT
///        │  on a later CONNECT                                     │   │   │ 0x8E), session moves to the
///        ├─────────────────────────────────────────────────────────┘   │   ▼ new conn
///        │                                       CONNECT, Clean Start=0│
///        │                                       Session Present=1,    │
///        │                                       in-flight resent (DUP)│
///        │                                                             │
///        │   Session Expiry Interval elapses       DISCONNECT / drop,  │
///        └──────────────────────────────────── Offline ◄───────────────┘
///                (pending will published)      (expiry > 0: QoS 1/2 messages are queued,
///                                               up to `max_queued_messages`)
/// ```
#[derive(Debug)]
pub(crate) struct Session {
    /// The connection attached to the session, if online.
    pub(crate) conn: Option<ConnId>,
    /// Filter (as subscribed, `$share/...` included) → options and identifier.
    pub(crate) subscriptions: HashMap<ByteString, SubEntry>,
    pub(crate) outbound: Outbound,
    pub(crate) inbound: InboundQos2,
    /// Seconds the session lives after its connection ends; `u32::MAX` is forever.
    pub(crate) expiry_interval: u32,
    /// When an offline session ends.
    pub(crate) expires_at: Option<Instant>,
    /// The largest outbound window any connection of this session had (for invariants).
    pub(crate) window_cap: u16,
    /// The verified user (by the password file or a TLS client certificate) the session was
    /// created by, if any: only that user may resume or take it over, and a session of
    /// nobody only a client of nobody; its ACL rules decide what the session receives.
    pub(crate) owner: Option<Box<str>>,
}

impl Session {
    pub(crate) fn new(expiry_interval: u32, owner: Option<String>) -> Self {
        Self {
            conn: None,
            subscriptions: HashMap::new(),
            outbound: Outbound::default(),
            inbound: InboundQos2::default(),
            expiry_interval,
            expires_at: None,
            window_cap: 0,
            owner: owner.map(String::into_boxed_str),
        }
    }
}
