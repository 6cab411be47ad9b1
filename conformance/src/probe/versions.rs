//! Which protocol versions the broker offers, and how it refuses the others.

use mqtt_codec::{Properties, ProtocolVersion};

use super::session::{Endpoint, Refusal};
use super::{Found, VersionOffer};

/// 3.1, 3.1.1 and 5.0, oldest first.
pub(super) const PROBED: [ProtocolVersion; 3] = [
    ProtocolVersion::V3_1,
    ProtocolVersion::V3_1_1,
    ProtocolVersion::V5_0,
];

/// A client id of at most 23 characters (MQTT 3.1 allows no more), unique to this process and
/// call.
pub(super) fn client_id(what: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let id = format!("mcp{what}{}x{n}", std::process::id() % 100_000);
    id.chars().take(23).collect()
}

/// Sends one CONNECT per version and records the answer.
pub(super) async fn offers(endpoint: &Endpoint, only: &[ProtocolVersion]) -> Vec<VersionOffer> {
    let mut out = Vec::new();
    for v in PROBED {
        if !only.contains(&v) {
            let answer = Err(Refusal::NotTried);
            out.push(VersionOffer { version: v, answer });
            continue;
        }
        let answer = match endpoint.connect(v, &client_id("v"), |_| {}).await {
            Ok((s, ack)) => {
                s.disconnect().await;
                Ok(ack.properties)
            }
            Err(r) => Err(r),
        };
        out.push(VersionOffer { version: v, answer });
    }
    out
}

impl VersionOffer {
    /// Whether the broker speaks this version: it accepted the CONNECT, refused only the
    /// credentials, or sent the client to another server.
    pub fn speaks(&self) -> bool {
        match &self.answer {
            Ok(_) => true,
            Err(r) => r.bad_credentials() || *r == Refusal::Code(0x9C) || *r == Refusal::Code(0x9D),
        }
    }

    /// The 5.0 CONNACK properties, when the CONNECT was accepted.
    pub fn properties(&self) -> Option<&Properties> {
        self.answer.as_ref().ok()
    }
}

/// Whether a 5.0 CONNECT was answered with Use another server or Server moved (section 4.11).
pub(super) fn redirection(offers: &[VersionOffer]) -> Found<bool> {
    let v5 = offers.iter().find(|o| o.version == ProtocolVersion::V5_0);
    match v5.map(|o| &o.answer) {
        Some(Err(Refusal::Code(c @ (0x9C | 0x9D)))) => Found::new(
            true,
            format!("a 5.0 CONNECT was answered with CONNACK 0x{c:02X} (server redirection)"),
        ),
        _ => Found::new(false, "a 5.0 CONNECT was not redirected"),
    }
}
