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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_version_refusal_a_close_or_silence_means_not_offered() {
        let v5 = ProtocolVersion::V5_0;
        let v4 = ProtocolVersion::V3_1_1;
        assert!(Refusal::Code(0x84).not_offered(v5));
        assert!(Refusal::Code(0x01).not_offered(v4));
        assert!(Refusal::Code(0x01).not_offered(ProtocolVersion::V3_1));
        assert!(Refusal::Closed("closed by the broker".into()).not_offered(v5));
        assert!(Refusal::Silent(std::time::Duration::from_secs(3)).not_offered(v4));
        // A broker that refuses for another reason speaks the version.
        for code in [0x86, 0x87, 0x88, 0x9C, 0x80] {
            assert!(!Refusal::Code(code).not_offered(v5), "0x{code:02X}");
        }
        assert!(
            !Refusal::Code(0x84).not_offered(v4),
            "0x84 is not a 3.1.1 code"
        );
        assert!(!Refusal::Code(0x04).not_offered(v4));
        assert!(!Refusal::Unreachable("refused".into()).not_offered(v4));
    }

    #[test]
    fn a_version_refused_for_credentials_is_spoken() {
        let offer = |version, answer| VersionOffer { version, answer };
        assert!(offer(ProtocolVersion::V5_0, Err(Refusal::Code(0x86))).speaks());
        assert!(offer(ProtocolVersion::V5_0, Ok(Properties::new())).speaks());
        assert!(!offer(ProtocolVersion::V5_0, Err(Refusal::Code(0x84))).speaks());
        assert!(!offer(ProtocolVersion::V3_1, Err(Refusal::Closed("eof".into()))).speaks());
        assert!(!offer(ProtocolVersion::V3_1_1, Err(Refusal::NotTried)).speaks());
    }
}
