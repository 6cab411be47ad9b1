//! A discovery as a profile: the [`Profile`] `run` grades against, and the commented YAML
//! `probe` prints.

use std::fmt::Write as _;

use mqtt_codec::ProtocolVersion;

use super::{Discovery, Found};
use crate::profile::{Capabilities, Profile};
use crate::scenario::{Capability, Version};

impl Discovery {
    /// The suite's versions the broker speaks (a refusal for another reason than the version
    /// makes that version's scenarios fail with it, never skip).
    pub fn suite_versions(&self) -> Vec<Version> {
        Version::EVERY
            .into_iter()
            .filter(|v| self.speaks(v.protocol()))
            .collect()
    }

    /// The profile `run` uses when none is given: capabilities as found, each missing one
    /// with the reason it is missing, and no deviations.
    pub fn profile(&self) -> Profile {
        let mut p = Profile::permissive();
        p.broker = format!("broker at {} (capabilities discovered)", self.url);
        p.name = "(discovered)".into();
        p.origin = crate::profile::Origin::Discovered;
        p.versions = self.suite_versions();
        p.capabilities = self.capabilities();
        for v in Version::EVERY {
            if let Some(r) = self
                .refusal(v.protocol())
                .filter(|_| !self.speaks(v.protocol()))
            {
                p.refused
                    .insert(v, format!("not offered: {}", r.describe()));
            }
        }
        let because = |f: &Found<bool>| (!f.declared()).then(|| f.how.clone());
        let qos = &self.max_qos;
        let reasons = [
            (Capability::Qos1, (qos.value < 1).then(|| qos.how.clone())),
            (Capability::Qos2, (qos.value < 2).then(|| qos.how.clone())),
            (Capability::Retain, because(&self.retain)),
            (Capability::Wildcards, because(&self.wildcards)),
            (
                Capability::SharedSubscriptions,
                because(&self.shared_subscriptions),
            ),
            (
                Capability::SubscriptionIdentifiers,
                because(&self.subscription_identifiers),
            ),
            (
                Capability::TopicAlias,
                (self.topic_alias_maximum.value == 0).then(|| self.topic_alias_maximum.how.clone()),
            ),
            (
                Capability::MaximumPacketSize,
                self.maximum_packet_size
                    .value
                    .is_none()
                    .then(|| self.maximum_packet_size.how.clone()),
            ),
            (Capability::Auth, because(&self.auth)),
            (
                Capability::AssignedClientId,
                because(&self.assigned_client_id),
            ),
            (
                Capability::PersistentSessions,
                because(&self.persistent_sessions),
            ),
            (
                Capability::ResponseInformation,
                because(&self.response_information),
            ),
            (
                Capability::ServerRedirection,
                because(&self.server_redirection),
            ),
            (
                Capability::EnhancedAuth,
                Some(
                    "not discovered: the method is the broker's own; declare it in a profile"
                        .into(),
                ),
            ),
        ];
        for (cap, why) in reasons {
            if let Some(why) = why {
                p.reasons.insert(cap, why);
            }
        }
        p
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            max_qos: self.max_qos.value,
            retain: self.retain.declared(),
            wildcards: self.wildcards.value,
            shared_subscriptions: self.shared_subscriptions.value,
            subscription_identifiers: self.subscription_identifiers.value,
            topic_alias_maximum: self.topic_alias_maximum.value,
            maximum_packet_size: self.maximum_packet_size.value,
            receive_maximum: self.receive_maximum.value,
            server_keep_alive: self.server_keep_alive.value,
            auth: self.auth.value,
            enhanced_auth: false,
            // Not discovered: every version has wills; a broker that drops them fails the
            // will scenarios, which is what they are for.
            will: true,
            persistent_sessions: self.persistent_sessions.declared(),
            assigned_client_id: self.assigned_client_id.value,
            response_information: self.response_information.value,
            server_redirection: self.server_redirection.value,
        }
    }

    /// The draft profile as YAML, a comment on each value saying how it was found.
    pub fn yaml(&self, username: Option<&str>) -> String {
        let mut o = String::new();
        let _ = writeln!(
            o,
            "# Draft profile of {}, written by `mqtt-conformance probe`.\n\
             # Each value says how it was found. Deviations are not discovered: run the suite\n\
             # with this profile and add each failure read off its transcript, citing the\n\
             # statement and what the broker did.",
            self.url
        );
        let _ = writeln!(o, "broker: {:?}", format!("broker at {}", self.url));
        let keys: Vec<&str> = self.suite_versions().iter().map(|v| v.key()).collect();
        let _ = writeln!(o, "versions: [{}]", keys.join(", "));
        for offer in &self.versions {
            let how = match &offer.answer {
                Ok(_) => "accepted (CONNACK 0x00)".to_owned(),
                Err(r) => r.describe(),
            };
            let name = match offer.version {
                ProtocolVersion::V3_1 => "3.1 (MQIsdp, level 3)",
                ProtocolVersion::V3_1_1 => "3.1.1 (MQTT, level 4)",
                ProtocolVersion::V5_0 => "5.0 (MQTT, level 5)",
            };
            let _ = writeln!(o, "#   MQTT {name}: {how}");
        }
        if let Some(v) = self.probed_with {
            let _ = writeln!(o, "# Capabilities probed under MQTT {v}.");
        }
        o.push_str("capabilities:\n");
        self.capability_lines(&mut o);
        if let Some(u) = username {
            let _ = writeln!(
                o,
                "credentials:  # {}\n  username: {u:?}\n  password: null  # fill in, or pass --password",
                self.credentials_needed.how
            );
        } else {
            let _ = writeln!(o, "# credentials: {}", self.credentials_needed.how);
        }
        o.push_str("deviations: []\n");
        o
    }

    fn capability_lines(&self, o: &mut String) {
        let mut line = |key: &str, value: String, how: &str| {
            let _ = writeln!(o, "  {key}: {value}  # {}", how.replace('\n', " "));
        };
        let flag = |f: &Found<bool>| match f.required_by {
            Some(st) => (
                "true".to_owned(),
                format!(
                    "NOT found ({}); {st} requires it, so it stays declared and its scenarios \
                     report the violation",
                    f.how
                ),
            ),
            None => (f.value.to_string(), f.how.clone()),
        };
        let opt = |v: Option<String>| v.unwrap_or_else(|| "null".into());
        line("max_qos", self.max_qos.value.to_string(), &self.max_qos.how);
        let (v, how) = flag(&self.retain);
        line("retain", v, &how);
        line(
            "wildcards",
            self.wildcards.value.to_string(),
            &self.wildcards.how,
        );
        let s = &self.shared_subscriptions;
        line("shared_subscriptions", s.value.to_string(), &s.how);
        let s = &self.subscription_identifiers;
        line("subscription_identifiers", s.value.to_string(), &s.how);
        let t = &self.topic_alias_maximum;
        line("topic_alias_maximum", t.value.to_string(), &t.how);
        let m = &self.maximum_packet_size;
        line(
            "maximum_packet_size",
            opt(m.value.map(|v| v.to_string())),
            &m.how,
        );
        let r = &self.receive_maximum;
        line(
            "receive_maximum",
            opt(r.value.map(|v| v.to_string())),
            &r.how,
        );
        let k = &self.server_keep_alive;
        line(
            "server_keep_alive",
            opt(k.value.map(|v| v.to_string())),
            &k.how,
        );
        line("auth", self.auth.value.to_string(), &self.auth.how);
        line(
            "enhanced_auth",
            "false".into(),
            "not discovered: the method is the broker's own",
        );
        line(
            "will",
            "true".into(),
            "not discovered: every version has wills",
        );
        let (v, how) = flag(&self.persistent_sessions);
        line("persistent_sessions", v, &how);
        let a = &self.assigned_client_id;
        line("assigned_client_id", a.value.to_string(), &a.how);
        let r = &self.response_information;
        line("response_information", r.value.to_string(), &r.how);
        let r = &self.server_redirection;
        line("server_redirection", r.value.to_string(), &r.how);
    }
}
