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

/// Whether a CONNACK code refusing a CONNECT of version `v` says the version is not offered:
/// 5.0's 0x84 Unsupported Protocol Version, or 3.1/3.1.1's 0x01 unacceptable protocol version.
/// The one rule for the probe and the runner's health check.
pub fn refuses_version(v: ProtocolVersion, code: u8) -> bool {
    match v {
        ProtocolVersion::V5_0 => code == 0x84,
        _ => code == 0x01,
    }
}

impl Refusal {
    /// Whether this answer to a CONNECT of version `v` lawfully says "not offered": a refusal
    /// naming the version ([`refuses_version`]; a 3.1.1 CONNACK 0x01 to a 5.0 CONNECT does not
    /// decode as 5.0 and counts as a close), a close, silence or another packet. Any other
    /// refusal (credentials, a redirection, a server error) comes from a broker that speaks
    /// the version.
    pub fn not_offered(&self, v: ProtocolVersion) -> bool {
        match self {
            Self::Code(c) => refuses_version(v, *c),
            Self::Closed(_) | Self::Silent(_) | Self::Other(_) => true,
            Self::Unreachable(_) | Self::NotTried => false,
        }
    }
}

impl VersionOffer {
    /// Whether the broker speaks this version: it accepted the CONNECT, or refused it for a
    /// reason other than the version (see [`Refusal::not_offered`]).
    pub fn speaks(&self) -> bool {
        match &self.answer {
            Ok(_) => true,
            Err(r) => {
                !r.not_offered(self.version)
                    && !matches!(r, Refusal::Unreachable(_) | Refusal::NotTried)
            }
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
