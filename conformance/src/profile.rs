//! Broker profiles (`scenarios/profiles/<broker>.yaml`): what a broker offers, and its known
//! deviations from the spec, each with a reason.

use std::collections::BTreeMap;
use std::path::Path;

use mqtt_codec::Properties;
use serde::Deserialize;

use crate::corpus::{self, Loaded};
use crate::error::Error;
use crate::scenario::{Capability, Version};

/// The name of [`Profile::permissive`].
const PERMISSIVE: &str = "(none)";

/// A broker profile.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// The broker's name and version, for reports.
    pub broker: String,
    /// The protocol versions the broker offers.
    pub versions: Vec<Version>,
    /// What the broker offers.
    #[serde(default)]
    pub capabilities: Capabilities,
    /// Credentials sent on every CONNECT unless a scenario says otherwise.
    #[serde(default)]
    pub credentials: Option<Credentials>,
    /// Known deviations: scenarios expected to fail, each with a reason.
    #[serde(default)]
    pub deviations: Vec<Deviation>,
    /// Free text.
    #[serde(default)]
    pub notes: Option<String>,
    /// Where the profile came from (set when loaded).
    #[serde(skip)]
    pub name: String,
    /// Why each missing capability is missing, when it was discovered rather than declared
    /// (`run` without `--profile`): the skip reasons.
    #[serde(skip)]
    pub reasons: BTreeMap<Capability, String>,
    /// How the broker refused the versions it does not offer, when discovered.
    #[serde(skip)]
    pub refused: BTreeMap<Version, String>,
    /// Whether a file declared it, or it stands in for one.
    #[serde(skip)]
    pub origin: Origin,
}

/// Where a profile came from: it decides whether a refused version fails (MQTT 11's rule: a
/// version a profile declares must be accepted; without one, only a refusal that says "not
/// offered" is a skip).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Origin {
    /// A profile file, or a built-in one: the broker's own claims.
    #[default]
    Declared,
    /// [`Profile::permissive`]: no profile, everything assumed.
    Permissive,
    /// Found by probing the broker (`run` without `--profile`).
    Discovered,
}

/// Capabilities a broker declares.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Capabilities {
    /// Highest QoS (0, 1 or 2).
    pub max_qos: u8,
    /// Retained messages.
    pub retain: bool,
    /// Wildcard subscriptions.
    pub wildcards: bool,
    /// Shared subscriptions.
    pub shared_subscriptions: bool,
    /// Subscription identifiers.
    pub subscription_identifiers: bool,
    /// Topic Alias Maximum the broker sends in CONNACK (0: none).
    pub topic_alias_maximum: u16,
    /// Maximum Packet Size the broker declares, if any.
    pub maximum_packet_size: Option<u32>,
    /// Receive Maximum the broker declares in its 5.0 CONNACK, if any (informational).
    pub receive_maximum: Option<u16>,
    /// Server Keep Alive the broker sends in its 5.0 CONNACK, if any (informational).
    pub server_keep_alive: Option<u16>,
    /// The broker checks user names and passwords (rejects bad ones).
    pub auth: bool,
    /// Enhanced authentication (AUTH packets).
    pub enhanced_auth: bool,
    /// Wills.
    pub will: bool,
    /// Persistent sessions.
    pub persistent_sessions: bool,
    /// Assigns a client id to an empty one.
    pub assigned_client_id: bool,
    /// Sends Response Information on request.
    pub response_information: bool,
    /// Server redirection.
    pub server_redirection: bool,
}

impl Default for Capabilities {
    fn default() -> Self {
        Self {
            max_qos: 2,
            retain: true,
            wildcards: true,
            shared_subscriptions: true,
            subscription_identifiers: true,
            topic_alias_maximum: 0,
            maximum_packet_size: None,
            receive_maximum: None,
            server_keep_alive: None,
            auth: false,
            enhanced_auth: false,
            will: true,
            persistent_sessions: true,
            assigned_client_id: true,
            response_information: false,
            server_redirection: false,
        }
    }
}

/// User name and password.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// User name.
    pub username: String,
    /// Password.
    #[serde(default)]
    pub password: Option<String>,
}

/// A scenario the broker is known to fail.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deviation {
    /// The scenario id.
    pub id: String,
    /// The versions it fails under (default: all the scenario runs).
    #[serde(default)]
    pub versions: Option<Vec<Version>>,
    /// Why: the statement broken and what the broker does instead.
    pub reason: String,
    /// The broker breaks the statement only some of the time (a timer that fires late when
    /// it is idle, say): a failure is an expected failure, a pass is a pass rather than an
    /// unexpected pass, and a result that only missed a SHOULD stays non-strict; the last two
    /// are reported with the reason.
    #[serde(default)]
    pub intermittent: bool,
}

impl Profile {
    /// The profile used when none is given for an external broker: everything assumed.
    pub fn permissive() -> Self {
        Self {
            broker: "unknown broker".into(),
            versions: Version::ALL.to_vec(),
            capabilities: Capabilities::default(),
            credentials: None,
            deviations: Vec::new(),
            notes: None,
            name: PERMISSIVE.into(),
            reasons: BTreeMap::new(),
            refused: BTreeMap::new(),
            origin: Origin::Permissive,
        }
    }

    /// Whether this is a broker's profile rather than [`Profile::permissive`]'s stand-in or
    /// one discovered by probing: only a declared version must be accepted.
    pub fn declared(&self) -> bool {
        self.origin == Origin::Declared
    }

    /// Loads a profile from a file path, or by name from the embedded ones.
    pub fn load(spec: &str) -> Result<Self, Error> {
        let path = Path::new(spec);
        let (name, text) = if path.exists() {
            let text = std::fs::read_to_string(path)
                .map_err(|e| Error::Usage(format!("cannot read {spec}: {e}")))?;
            (spec.to_owned(), text)
        } else if let Some(text) = corpus::embedded_profile(spec) {
            (format!("{spec} (built in)"), text.to_owned())
        } else {
            return Err(Error::Usage(format!(
                "no profile `{spec}`: give a file path or a built-in name such as `reference`"
            )));
        };
        let mut p: Self = crate::corpus::from_yaml(&text)
            .map_err(|e| Error::Usage(format!("profile {name}: {e}")))?;
        p.name = name;
        Ok(p)
    }

    /// Whether the broker offers `cap`.
    pub fn has(&self, cap: Capability) -> bool {
        let c = &self.capabilities;
        match cap {
            Capability::Qos1 => c.max_qos >= 1,
            Capability::Qos2 => c.max_qos >= 2,
            Capability::Retain => c.retain,
            Capability::Wildcards => c.wildcards,
            Capability::SharedSubscriptions => c.shared_subscriptions,
            Capability::SubscriptionIdentifiers => c.subscription_identifiers,
            Capability::TopicAlias => c.topic_alias_maximum > 0,
            Capability::Auth => c.auth,
            Capability::EnhancedAuth => c.enhanced_auth,
            Capability::Will => c.will,
            Capability::PersistentSessions => c.persistent_sessions,
            Capability::MaximumPacketSize => c.maximum_packet_size.is_some(),
            Capability::AssignedClientId => c.assigned_client_id,
            Capability::ResponseInformation => c.response_information,
            Capability::ServerRedirection => c.server_redirection,
        }
    }

    /// Why a scenario that requires `requires` cannot run, if it cannot: the missing
    /// capabilities, with how each was found missing when the profile was discovered.
    pub fn missing(&self, requires: &[Capability]) -> Option<String> {
        let missing: Vec<String> = requires
            .iter()
            .filter(|c| !self.has(**c))
            .map(|c| match self.reasons.get(c) {
                Some(why) => format!("{}: {why}", c.as_str()),
                None => c.as_str().to_owned(),
            })
            .collect();
        if missing.is_empty() {
            None
        } else if self.reasons.is_empty() {
            Some(format!("the profile lacks {}", missing.join(", ")))
        } else {
            Some(format!("the broker lacks {}", missing.join("; ")))
        }
    }

    /// One line: the versions and the capabilities, the missing ones marked `no`.
    pub fn summary(&self) -> String {
        let versions: Vec<&str> = self.versions.iter().map(|v| v.key()).collect();
        let c = &self.capabilities;
        let flag = |on: bool, name: &str| {
            if on {
                name.to_owned()
            } else {
                format!("no {name}")
            }
        };
        let versions = if versions.is_empty() {
            "no version offered".to_owned()
        } else {
            format!("MQTT {}", versions.join(", "))
        };
        [
            versions,
            format!("max QoS {}", c.max_qos),
            flag(c.retain, "retain"),
            flag(c.wildcards, "wildcards"),
            flag(c.shared_subscriptions, "shared subscriptions"),
            flag(c.subscription_identifiers, "subscription identifiers"),
            format!("topic alias maximum {}", c.topic_alias_maximum),
        ]
        .join(", ")
    }

    /// Why a version the profile does not offer is skipped.
    pub fn version_skip(&self, v: Version) -> String {
        match self.refused.get(&v) {
            Some(how) => format!("MQTT {v} {how}"),
            None => format!("the profile does not offer MQTT {v}"),
        }
    }

    /// The deviation listed for this scenario and version, if any.
    pub fn deviation(&self, id: &str, version: Version) -> Option<&Deviation> {
        self.deviations
            .iter()
            .find(|d| d.id == id && d.versions.as_ref().is_none_or(|v| v.contains(&version)))
    }

    /// Deviation entries that match no scenario (or no version it runs under).
    pub fn stale(&self, corpus: &[Loaded]) -> Vec<String> {
        let mut out = Vec::new();
        for d in &self.deviations {
            match corpus.iter().find(|l| l.scenario.id == d.id) {
                None => match crate::corpus::retired(&d.id) {
                    Some(why) => out.push(format!(
                        "deviation `{}` names a retired scenario ({why}); remove it",
                        d.id
                    )),
                    None => out.push(format!("deviation `{}` matches no scenario", d.id)),
                },
                Some(l) => {
                    for v in d.versions.iter().flatten() {
                        if !l.scenario.versions.contains(v) {
                            out.push(format!(
                                "deviation `{}` names {v}, which the scenario does not run",
                                d.id
                            ));
                        }
                    }
                }
            }
        }
        out
    }

    /// Compares a 5.0 CONNACK's properties with the declared capabilities.
    pub fn check_connack(&self, p: &Properties) -> Vec<String> {
        let c = &self.capabilities;
        let mut out = Vec::new();
        let mut cmp = |what: &str, declared: String, sent: String| {
            if declared != sent {
                out.push(format!(
                    "CONNACK {what}: the profile declares {declared}, the broker sent {sent}"
                ));
            }
        };
        cmp(
            "Maximum QoS",
            c.max_qos.to_string(),
            p.maximum_qos().unwrap_or(2).to_string(),
        );
        cmp(
            "Retain Available",
            c.retain.to_string(),
            (p.retain_available().unwrap_or(1) == 1).to_string(),
        );
        cmp(
            "Wildcard Subscription Available",
            c.wildcards.to_string(),
            (p.wildcard_subscription_available().unwrap_or(1) == 1).to_string(),
        );
        cmp(
            "Shared Subscription Available",
            c.shared_subscriptions.to_string(),
            (p.shared_subscription_available().unwrap_or(1) == 1).to_string(),
        );
        cmp(
            "Subscription Identifier Available",
            c.subscription_identifiers.to_string(),
            (p.subscription_identifier_available().unwrap_or(1) == 1).to_string(),
        );
        cmp(
            "Topic Alias Maximum",
            c.topic_alias_maximum.to_string(),
            p.topic_alias_maximum().unwrap_or(0).to_string(),
        );
        cmp(
            "Maximum Packet Size",
            format!("{:?}", c.maximum_packet_size),
            format!("{:?}", p.maximum_packet_size()),
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_profile_file_declares_its_versions() {
        assert!(Profile::load("reference").unwrap().declared());
        assert!(!Profile::permissive().declared());
        let mut discovered = Profile::permissive();
        discovered.origin = Origin::Discovered;
        // The name no longer decides: a file named like the stand-ins still declares.
        discovered.name = "reference (built in)".into();
        assert!(!discovered.declared());
    }
}
