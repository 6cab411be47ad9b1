//! Broker configuration: listeners, limits and their defaults.
//!
//! [`Limits`] is what the sans-IO engine enforces; [`Config`] adds what the tokio server needs
//! (listen addresses, TLS, WebSocket, the password file). Every default is documented with the
//! reason it was chosen. All values can be set from a TOML-like `key = value` file read by
//! [`Config::from_file`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use mqtt_codec::QoS;

use crate::engine::auth::Users;
use crate::error::Error;

/// Limits and features the engine enforces and advertises in the 5.0 CONNACK.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest packet accepted from a client, fixed header included. Default 1 MiB: big enough
    /// for any conformance scenario, small enough that a hostile client cannot make the broker
    /// buffer the protocol's 256 MiB maximum. Advertised as Maximum Packet Size in 5.0.
    pub max_packet_size: u32,
    /// Highest QoS the broker grants and accepts. Default 2: the reference supports all.
    pub max_qos: QoS,
    /// Whether retained messages are supported. Default true.
    pub retain_available: bool,
    /// Whether wildcard subscriptions are supported. Default true.
    pub wildcard_subscription_available: bool,
    /// Whether subscription identifiers are supported. Default true.
    pub subscription_identifiers_available: bool,
    /// Whether shared subscriptions (`$share/group/filter`) are supported. Default true.
    pub shared_subscription_available: bool,
    /// Highest inbound topic alias a 5.0 client may use. Default 10: enough to test aliasing,
    /// bounded memory per connection.
    pub topic_alias_maximum: u16,
    /// How many unacknowledged inbound QoS 1/2 PUBLISH packets a client may have at once
    /// (5.0 Receive Maximum). Default 100.
    pub receive_maximum: u16,
    /// How many unacknowledged outbound QoS 1/2 messages a 3.1/3.1.1 client may have at once
    /// (they have no Receive Maximum). Default 100.
    pub outbound_inflight_v3: u16,
    /// How many unacknowledged outbound QoS 1/2 messages a 5.0 client may have at once: its
    /// Receive Maximum, capped at this. Default 1,000, as `max_queued_messages`: a client
    /// announcing 65,535 and acknowledging nothing holds no more than a queue's worth.
    pub max_inflight_messages: u16,
    /// Highest keep alive the broker accepts, in seconds; a 5.0 client asking for more (or for
    /// 0) gets this value as Server Keep Alive. Default `None`: the client's value is used.
    pub max_keep_alive: Option<u16>,
    /// How many QoS 1/2 messages wait per session (offline, or beyond the in-flight window)
    /// before new ones are dropped. Default 1,000, as mosquitto: bounded memory for slow or
    /// offline clients.
    pub max_queued_messages: usize,
    /// Bytes encoded for one connection that its socket has not taken yet (in the engine, or
    /// handed to the shell and not confirmed by [`crate::Engine::handle_written`]). Beyond
    /// it, QoS 0 messages for that client are dropped and QoS 1/2 ones wait in its session
    /// queue, so a client that stops reading costs bounded memory. Default 1 MiB: about 10,000
    /// small messages, enough to ride out a slow reader's hiccups.
    pub max_outbound_buffer: usize,
    /// How long a network connection may stay open without a CONNECT; also bounds the TLS
    /// handshake and the WebSocket upgrade. Default 10 s.
    pub connect_timeout: Duration,
    /// How long one write to a TLS or WebSocket connection, or the last output of a TCP
    /// connection the broker is closing, may wait for a peer that does not read before the
    /// connection is dropped. Default 30 s. Config key `write_timeout_secs`.
    pub write_timeout: Duration,
    /// Highest Session Expiry Interval granted, in seconds; `None` keeps the client's value.
    /// Also clamps the interval a 5.0 DISCONNECT sets. Config key
    /// `max_session_expiry_interval`.
    pub max_session_expiry_interval: Option<u32>,
    /// How long a 3.1/3.1.1 persistent session (Clean Session 0) outlives its connection, in
    /// seconds. 3.1.1 says nothing of expiry; `None` keeps it until a clean connect, which
    /// lets abandoned client ids fill the broker. Default `None` (the 3.1.1 behaviour); set
    /// it when serving untrusted clients. Config key `v3_session_expiry_interval`.
    pub v3_session_expiry_interval: Option<u32>,
    /// Most levels in a topic name or filter. Default 128, as mosquitto's hierarchy limit:
    /// far beyond real topic trees, and it bounds the work one topic costs.
    pub max_topic_levels: usize,
    /// Most bytes in a topic name or filter (a `$share/{group}/` prefix included). Default
    /// 65,535, the protocol's own maximum: the conformance suite checks that a name of nearly
    /// that length is matched and delivered. Lower it to bound what one subscription costs.
    pub max_topic_bytes: usize,
    /// Most topic filters in one SUBSCRIBE; the rest are refused (5.0 SUBACK 0x97 Quota
    /// exceeded, 3.1.1 0x80). Default 128: each filter may deliver every retained message.
    pub max_filters_per_subscribe: usize,
    /// Most subscriptions one session holds; more are refused (SUBACK 0x97 / 0x80). Default
    /// 1,000.
    pub max_subscriptions_per_session: usize,
    /// Most retained messages stored. A retained PUBLISH for a new topic beyond it is not
    /// stored: a 5.0 QoS 1/2 publisher gets 0x97 Quota exceeded and the message is not
    /// published; otherwise the message is delivered but not retained. Default 100,000.
    pub max_retained_messages: usize,
    /// Most bytes (topic plus payload) of retained messages stored, handled as
    /// `max_retained_messages`. Default 256 MiB.
    pub max_retained_bytes: usize,
    /// Most connected clients (CONNACK 0x00 sent). A CONNECT past it is refused (5.0 CONNACK
    /// 0x97 Quota exceeded, 3.1.1 0x03 Server unavailable). Sockets still waiting for their
    /// CONNECT do not count: they have their own limit, `max_pending_connections`, so that
    /// silent sockets cannot take real clients' places. Default 65,536.
    pub max_connections: usize,
    /// Most sockets open without a CONNECT accepted yet (before CONNECT, during the password
    /// check or enhanced authentication). A socket past it closes the oldest of them: a flood
    /// of silent sockets (slowloris) pushes out its own oldest members, never a client that
    /// sends its CONNECT promptly, and each is closed by `connect_timeout` anyway. The server
    /// closes sockets unread past `max_connections + max_pending_connections`. TLS
    /// handshakes and WebSocket upgrades in progress are bounded the same way, as many again
    /// per listener. At least 1; default 4,096.
    pub max_pending_connections: usize,
    /// Most sessions, online and offline. A CONNECT that would create one more is refused
    /// (5.0 CONNACK 0x97, 3.1.1 0x03). Default 100,000.
    pub max_sessions: usize,
    /// Most bytes (topic plus payload) of messages queued for all sessions together; past it
    /// new QoS 1/2 messages for sessions that cannot take them now are dropped. Default
    /// 512 MiB.
    pub max_queued_bytes: usize,
    /// Basis of the Response Information sent to a 5.0 client that asks for it; the client id
    /// is appended. Default `response/`.
    pub response_information: Option<String>,
    /// Enhanced authentication method the engine implements (see `engine::auth`). Default
    /// `challenge`.
    pub auth_method: String,
    /// Username/password database and ACL; `None` lets anyone in.
    pub users: Option<Users>,
    /// Whether clients without a username are accepted when `users` is set. Default false.
    pub allow_anonymous: bool,
    /// Send every client elsewhere (5.0 section 4.11, optional). Default `None`: serve them.
    pub redirect: Option<Redirect>,
}

/// Server redirection: every CONNECT is refused with a pointer to another server.
///
/// A 5.0 client gets CONNACK 0x9C (Use another server) or 0x9D (Server moved) with a Server
/// Reference. 3.1.1 has no redirection, so its clients get CONNACK 0x03 (Server unavailable):
/// this server will not serve them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redirect {
    /// Whether the move is temporary or permanent.
    pub kind: RedirectKind,
    /// The Server Reference sent to 5.0 clients, e.g. `other.example:1883`.
    pub reference: String,
}

/// Which redirection reason code a 5.0 client gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RedirectKind {
    /// CONNACK 0x9C: use the other server for now.
    UseAnotherServer,
    /// CONNACK 0x9D: use the other server from now on.
    ServerMoved,
}

/// Config file values that take effect once the whole file is read.
#[derive(Default)]
struct Later {
    tls_listen: Option<SocketAddr>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    server_reference: Option<String>,
    server_moved: bool,
}

impl Limits {
    /// Sets a numeric config file key; an unknown key is an error.
    fn set_number(
        &mut self,
        key: &str,
        num: u64,
        bad: &impl Fn(&str) -> Error,
    ) -> Result<(), Error> {
        let n16 = || u16::try_from(num).map_err(|_| bad("out of range"));
        let n32 = || u32::try_from(num).map_err(|_| bad("out of range"));
        let size = usize::try_from(num).unwrap_or(usize::MAX);
        let secs = Duration::from_secs(num);
        match key {
            "max_packet_size" => self.max_packet_size = n32()?,
            "topic_alias_maximum" => self.topic_alias_maximum = n16()?,
            "receive_maximum" => self.receive_maximum = n16()?.max(1),
            "outbound_inflight_v3" => self.outbound_inflight_v3 = n16()?.max(1),
            "max_inflight_messages" => self.max_inflight_messages = n16()?.max(1),
            "max_keep_alive" => self.max_keep_alive = Some(n16()?),
            "max_queued_messages" => self.max_queued_messages = size,
            "max_outbound_buffer" => self.max_outbound_buffer = size,
            "max_session_expiry_interval" => self.max_session_expiry_interval = Some(n32()?),
            "v3_session_expiry_interval" => self.v3_session_expiry_interval = Some(n32()?),
            "max_topic_levels" => self.max_topic_levels = size.max(1),
            "max_topic_bytes" => self.max_topic_bytes = size.max(1),
            "max_filters_per_subscribe" => self.max_filters_per_subscribe = size,
            "max_subscriptions_per_session" => self.max_subscriptions_per_session = size,
            "max_retained_messages" => self.max_retained_messages = size,
            "max_retained_bytes" => self.max_retained_bytes = size,
            "max_connections" => self.max_connections = size,
            "max_pending_connections" => self.max_pending_connections = size.max(1),
            "max_sessions" => self.max_sessions = size,
            "max_queued_bytes" => self.max_queued_bytes = size,
            "connect_timeout_secs" => self.connect_timeout = secs,
            "write_timeout_secs" => self.write_timeout = secs,
            _ => return Err(bad("unknown key")),
        }
        Ok(())
    }

    /// Whether a topic name or filter is within [`Limits::max_topic_bytes`] and
    /// [`Limits::max_topic_levels`]. Counts without splitting, so a hostile topic costs one
    /// pass over its bytes.
    pub fn topic_fits(&self, topic: &str) -> bool {
        topic.len() <= self.max_topic_bytes
            && topic.bytes().filter(|&b| b == b'/').count() < self.max_topic_levels
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_packet_size: 1024 * 1024,
            max_qos: QoS::ExactlyOnce,
            retain_available: true,
            wildcard_subscription_available: true,
            subscription_identifiers_available: true,
            shared_subscription_available: true,
            topic_alias_maximum: 10,
            receive_maximum: 100,
            outbound_inflight_v3: 100,
            max_inflight_messages: 1000,
            max_keep_alive: None,
            max_queued_messages: 1000,
            max_outbound_buffer: 1024 * 1024,
            connect_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(30),
            max_session_expiry_interval: None,
            v3_session_expiry_interval: None,
            max_topic_levels: 128,
            max_topic_bytes: 65_535,
            max_filters_per_subscribe: 128,
            max_subscriptions_per_session: 1000,
            max_retained_messages: 100_000,
            max_retained_bytes: 256 * 1024 * 1024,
            max_connections: 65_536,
            max_pending_connections: 4096,
            max_sessions: 100_000,
            max_queued_bytes: 512 * 1024 * 1024,
            response_information: Some("response/".to_owned()),
            auth_method: "challenge".to_owned(),
            users: None,
            allow_anonymous: false,
            redirect: None,
        }
    }
}

/// TLS listener settings: PEM certificate chain and private key.
#[derive(Clone, Debug)]
pub struct TlsConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// PEM certificate chain.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
}

/// Everything needed to start the broker.
#[derive(Clone, Debug)]
pub struct Config {
    /// Plain TCP listener. Default `127.0.0.1:0` (a free port, for in-process use).
    pub listen: SocketAddr,
    /// Optional TLS listener.
    pub tls: Option<TlsConfig>,
    /// PEM CA certificates for TLS client certificates (mTLS). When set, every TLS client
    /// must present a certificate signed by one of them, and the Common Name of its subject
    /// is the client's user name: no password is asked, a CONNECT user name must match it,
    /// and the ACL applies to it. Config key `tls_client_ca`.
    pub tls_client_ca: Option<PathBuf>,
    /// Optional WebSocket listener (subprotocol `mqtt`).
    pub websocket: Option<SocketAddr>,
    /// What the engine enforces.
    pub limits: Limits,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            tls: None,
            tls_client_ca: None,
            websocket: None,
            limits: Limits::default(),
        }
    }
}

impl Config {
    /// Reads a config file of `key = value` lines (`#` starts a comment).
    ///
    /// Keys: `listen`, `tls_listen`, `tls_cert`, `tls_key`, `tls_client_ca`, `websocket_listen`,
    /// `password_file`, `allow_anonymous`, `max_packet_size`, `max_qos`, `retain_available`,
    /// `wildcard_subscription_available`, `subscription_identifiers_available`,
    /// `shared_subscription_available`, `topic_alias_maximum`, `receive_maximum`,
    /// `max_keep_alive`, `outbound_inflight_v3`, `max_inflight_messages`, `max_queued_messages`, `max_outbound_buffer`, `connect_timeout_secs`,
    /// `write_timeout_secs`,
    /// `max_session_expiry_interval`, `v3_session_expiry_interval`, `max_topic_levels`,
    /// `max_topic_bytes`, `max_filters_per_subscribe`, `max_subscriptions_per_session`,
    /// `max_retained_messages`, `max_retained_bytes`, `max_connections`,
    /// `max_pending_connections`, `max_sessions`, `max_queued_bytes`, `server_reference`
    /// (turns on redirection) and `server_moved` (`true` sends 0x9D instead of 0x9C).
    pub fn from_file(path: &std::path::Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::ConfigIo {
            path: path.to_owned(),
            source,
        })?;
        let mut config = Self::default();
        let mut later = Later::default();
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let bad = |what: &str| Error::Config {
                line: n + 1,
                message: what.to_owned(),
            };
            let (key, value) = line
                .split_once('=')
                .ok_or_else(|| bad("expected key = value"))?;
            let (key, value) = (key.trim(), value.trim().trim_matches('"'));
            if !config.set_text(&mut later, key, value, &bad)? {
                let num = value.parse::<u64>().map_err(|_| bad("expected a number"))?;
                config.limits.set_number(key, num, &bad)?;
            }
        }
        config.limits.redirect = later.server_reference.map(|reference| Redirect {
            kind: if later.server_moved {
                RedirectKind::ServerMoved
            } else {
                RedirectKind::UseAnotherServer
            },
            reference,
        });
        if let (Some(listen), Some(cert), Some(key)) =
            (later.tls_listen, later.tls_cert, later.tls_key)
        {
            config.tls = Some(TlsConfig { listen, cert, key });
        }
        Ok(config)
    }

    /// Sets a key whose value is an address, a path, a flag or a QoS; false if `key` is none
    /// of those.
    fn set_text(
        &mut self,
        later: &mut Later,
        key: &str,
        value: &str,
        bad: &impl Fn(&str) -> Error,
    ) -> Result<bool, Error> {
        let addr = || value.parse::<SocketAddr>().map_err(|_| bad("bad address"));
        let flag = || {
            value
                .parse::<bool>()
                .map_err(|_| bad("expected true or false"))
        };
        let l = &mut self.limits;
        match key {
            "listen" => self.listen = addr()?,
            "tls_listen" => later.tls_listen = Some(addr()?),
            "tls_cert" => later.tls_cert = Some(PathBuf::from(value)),
            "tls_key" => later.tls_key = Some(PathBuf::from(value)),
            "tls_client_ca" => self.tls_client_ca = Some(PathBuf::from(value)),
            "websocket_listen" => self.websocket = Some(addr()?),
            "password_file" => l.users = Some(Users::load(std::path::Path::new(value))?),
            "allow_anonymous" => l.allow_anonymous = flag()?,
            "server_reference" => later.server_reference = Some(value.to_owned()),
            "server_moved" => later.server_moved = flag()?,
            "retain_available" => l.retain_available = flag()?,
            "wildcard_subscription_available" => l.wildcard_subscription_available = flag()?,
            "subscription_identifiers_available" => {
                l.subscription_identifiers_available = flag()?;
            }
            "shared_subscription_available" => l.shared_subscription_available = flag()?,
            "max_qos" => {
                l.max_qos = value
                    .parse::<u8>()
                    .ok()
                    .and_then(QoS::from_u8)
                    .ok_or_else(|| bad("expected 0, 1 or 2"))?;
            }
            _ => return Ok(false),
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_fits_counts_levels_and_bytes() {
        let l = Limits::default();
        assert!(l.topic_fits("a/".repeat(127).trim_end_matches('/')));
        assert!(l.topic_fits(&"/".repeat(127)));
        assert!(!l.topic_fits(&"/".repeat(128)));
        let small = Limits {
            max_topic_bytes: 4096,
            ..Limits::default()
        };
        assert!(small.topic_fits(&"x".repeat(4096)));
        assert!(!small.topic_fits(&"x".repeat(4097)));
    }

    #[test]
    fn a_bad_line_is_an_error_naming_it() {
        let path = std::env::temp_dir().join(format!("broker-bad-{}.conf", std::process::id()));
        for (text, line) in [
            ("max_sessions = 3\nmax_sesions = 3\n", 2),
            ("max_inflight_messages = 70000\n", 1),
            ("# c\nmax_topic_levels = many\n", 2),
        ] {
            std::fs::write(&path, text).unwrap();
            let err = Config::from_file(&path).unwrap_err();
            assert!(
                matches!(err, Error::Config { line: l, .. } if l == line),
                "{text}: {err}"
            );
        }
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn limits_are_read_from_the_file() {
        let path = std::env::temp_dir().join(format!("broker-limits-{}.conf", std::process::id()));
        std::fs::write(
            &path,
            "max_session_expiry_interval = 60\nmax_topic_levels = 8\nmax_connections = 3\n\
             v3_session_expiry_interval = 10\nmax_retained_bytes = 99\nmax_pending_connections = 0\n",
        )
        .unwrap();
        let config = Config::from_file(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        let l = &config.limits;
        assert_eq!(l.max_session_expiry_interval, Some(60));
        assert_eq!(l.v3_session_expiry_interval, Some(10));
        assert_eq!(
            (l.max_topic_levels, l.max_connections, l.max_retained_bytes),
            (8, 3, 99)
        );
        // 0 would close every socket before its CONNECT could arrive.
        assert_eq!(l.max_pending_connections, 1);
    }

    #[test]
    fn server_reference_and_server_moved_turn_on_redirection() {
        let path =
            std::env::temp_dir().join(format!("broker-redirect-{}.conf", std::process::id()));
        std::fs::write(
            &path,
            "server_reference = other:1883\nserver_moved = true\n",
        )
        .unwrap();
        let config = Config::from_file(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        assert_eq!(
            config.limits.redirect,
            Some(Redirect {
                kind: RedirectKind::ServerMoved,
                reference: "other:1883".to_owned(),
            })
        );
    }
}
