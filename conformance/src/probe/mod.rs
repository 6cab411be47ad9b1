//! Capability discovery: what a broker offers, found by asking it.
//!
//! `mqtt-conformance probe` prints the result as a draft profile, and `run` without
//! `--profile` grades against it, so a capability the spec lets a broker leave out (QoS 2,
//! retained messages, wildcards, shared subscriptions, ...) becomes a skip that says how it was
//! found missing, never a failure. Under 5.0 what the CONNACK announces is authoritative
//! (section 3.2.2.3): the probe takes it as given and only checks by use what the announcement
//! leaves open.

mod draft;
mod features;
mod session;
mod versions;

pub use versions::refuses_version;

use std::time::Duration;

use mqtt_codec::{Properties, ProtocolVersion};

pub use session::{Endpoint, Refusal};

/// A discovered value and how it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found<T> {
    /// The value.
    pub value: T,
    /// How it was found, one line.
    pub how: String,
    /// The statement that makes the feature mandatory, when it was found missing by use
    /// and the version gives no lawful way to go without it (no CONNACK announcement).
    pub required_by: Option<&'static str>,
}

impl<T> Found<T> {
    fn new(value: T, how: impl Into<String>) -> Self {
        Self {
            value,
            how: how.into(),
            required_by: None,
        }
    }
}

impl Found<bool> {
    /// Missing, but the spec requires it: a violation to report, not a capability to skip.
    fn required(mut self, statement: &'static str) -> Self {
        if !self.value {
            self.required_by = Some(statement);
        }
        self
    }

    /// The value a profile declares: a feature the spec requires stays on even when the
    /// broker lacks it, so that its scenarios run and report the violation.
    pub fn declared(&self) -> bool {
        self.value || self.required_by.is_some()
    }
}

/// Whether one protocol version is offered.
#[derive(Debug, Clone)]
pub struct VersionOffer {
    /// The version.
    pub version: ProtocolVersion,
    /// `Ok` with the CONNACK properties (empty before 5.0), or how the CONNECT was refused.
    pub answer: Result<Properties, Refusal>,
}

/// Everything the probe found.
#[derive(Debug, Clone)]
pub struct Discovery {
    /// The broker URL.
    pub url: String,
    /// 3.1, 3.1.1 and 5.0, in that order.
    pub versions: Vec<VersionOffer>,
    /// The version the capabilities were probed with (the newest offered).
    pub probed_with: Option<ProtocolVersion>,
    /// A CONNECT without credentials is refused as bad credentials.
    pub credentials_needed: Found<bool>,
    /// Bad credentials are refused.
    pub auth: Found<bool>,
    /// Highest QoS granted and delivered.
    pub max_qos: Found<u8>,
    /// Retained messages.
    pub retain: Found<bool>,
    /// Wildcard subscriptions.
    pub wildcards: Found<bool>,
    /// Shared subscriptions.
    pub shared_subscriptions: Found<bool>,
    /// Subscription identifiers.
    pub subscription_identifiers: Found<bool>,
    /// Topic Alias Maximum (5.0 CONNACK).
    pub topic_alias_maximum: Found<u16>,
    /// Receive Maximum (5.0 CONNACK).
    pub receive_maximum: Found<Option<u16>>,
    /// Maximum Packet Size (5.0 CONNACK).
    pub maximum_packet_size: Found<Option<u32>>,
    /// Server Keep Alive (5.0 CONNACK).
    pub server_keep_alive: Found<Option<u16>>,
    /// A client id is assigned to an empty one.
    pub assigned_client_id: Found<bool>,
    /// Sessions survive a reconnection.
    pub persistent_sessions: Found<bool>,
    /// Response Information on request (5.0).
    pub response_information: Found<bool>,
    /// The broker redirects every client (5.0 CONNACK 0x9C/0x9D).
    pub server_redirection: Found<bool>,
}

impl Discovery {
    /// Whether `v` is offered.
    pub fn offers(&self, v: ProtocolVersion) -> bool {
        self.versions
            .iter()
            .any(|o| o.version == v && o.answer.is_ok())
    }

    /// Whether the broker speaks `v`: accepted it, or refused it for another reason than the
    /// version (the runner then fails that version's scenarios with the refusal).
    pub fn speaks(&self, v: ProtocolVersion) -> bool {
        self.versions.iter().any(|o| o.version == v && o.speaks())
    }

    /// How `v` was refused, if it was.
    pub fn refusal(&self, v: ProtocolVersion) -> Option<&Refusal> {
        self.versions
            .iter()
            .find(|o| o.version == v)
            .and_then(|o| o.answer.as_ref().err())
    }
}

/// Finds what the broker at `endpoint` offers. Never fails: what cannot be found is reported
/// as missing with the reason; the caller decides whether an unreachable broker is an error.
pub async fn discover(endpoint: &Endpoint) -> Discovery {
    discover_only(endpoint, &versions::PROBED).await
}

/// [`discover`] trying only `only` (the others are recorded as not tried): a run limited to
/// 3.1.1 learns what the broker does under 3.1.1.
pub async fn discover_only(endpoint: &Endpoint, only: &[ProtocolVersion]) -> Discovery {
    let versions = versions::offers(endpoint, only).await;
    let newest = versions
        .iter()
        .rev()
        .find(|o| o.answer.is_ok())
        .map(|o| o.version);
    let redirect = versions::redirection(&versions);
    features::probe(endpoint, versions, newest, redirect).await
}

/// The probe's default bound on every wait.
pub const TIMEOUT: Duration = Duration::from_secs(3);
