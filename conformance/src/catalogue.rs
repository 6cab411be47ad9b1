//! The suite's catalogue of numbered MQTT normative statements.
//!
//! This module holds one row per bracketed statement ID (`[MQTT-x.y.z-n]`) of the two OASIS
//! standards: *MQTT Version 3.1.1* (OASIS Standard, 29 October 2014) and *MQTT Version 5.0*
//! (OASIS Standard, 07 March 2019). Scenarios cite these IDs, and the runner uses the catalogue to
//! reject unknown IDs and to report how much of the broker-observable specification is covered.
//!
//! The data lives in two tab-separated files, `conformance/catalogue/mqtt-3.1.1.tsv` and
//! `conformance/catalogue/mqtt-5.0.tsv`, which are compiled into the binary with
//! [`include_str!`] and parsed on first use. Each file is plain UTF-8 with LF line endings: a
//! header line naming the six columns (`id`, `section`, `actor`, `wire_testable`, `violation`,
//! `summary`), then one statement per line in ID order, fields separated by single tabs. The
//! summaries are the suite's own short paraphrases; read the standard for the exact wording.
//!
//! The two versions reuse the same ID shapes with different meanings (for example `MQTT-3.1.2-24`
//! is the Keep Alive timeout in 3.1.1 but the Maximum Packet Size limit in 5.0), so every query
//! takes a [`CatalogueVersion`].

use std::fmt;
use std::sync::LazyLock;

/// The header line every catalogue file must start with.
const HEADER: &str = "id\tsection\tactor\twire_testable\tviolation\tsummary";

/// Raw text of the MQTT 3.1.1 catalogue.
const MQTT_3_1_1_TSV: &str = include_str!("../catalogue/mqtt-3.1.1.tsv");

/// Raw text of the MQTT 5.0 catalogue.
const MQTT_5_0_TSV: &str = include_str!("../catalogue/mqtt-5.0.tsv");

/// Parsed MQTT 3.1.1 statements, built on first access.
static MQTT_3_1_1: LazyLock<Vec<Statement>> =
    LazyLock::new(|| parse(MQTT_3_1_1_TSV, "mqtt-3.1.1.tsv"));

/// Parsed MQTT 5.0 statements, built on first access.
static MQTT_5_0: LazyLock<Vec<Statement>> = LazyLock::new(|| parse(MQTT_5_0_TSV, "mqtt-5.0.tsv"));

/// The specification edition a catalogue belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CatalogueVersion {
    /// MQTT Version 3.1.1, OASIS Standard of 29 October 2014.
    V3_1_1,
    /// MQTT Version 5.0, OASIS Standard of 07 March 2019.
    V5_0,
}

impl CatalogueVersion {
    /// Both versions, oldest first.
    pub const ALL: [Self; 2] = [Self::V3_1_1, Self::V5_0];

    /// The version key used in scenario files and reports: `"3.1.1"` or `"5.0"`.
    #[must_use]
    pub const fn key(self) -> &'static str {
        match self {
            Self::V3_1_1 => "3.1.1",
            Self::V5_0 => "5.0",
        }
    }

    /// Parses a version key (`"3.1.1"` or `"5.0"`); any other text gives `None`.
    #[must_use]
    pub fn from_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.key() == key)
    }
}

impl fmt::Display for CatalogueVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// The party a statement binds, as written in the standard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Actor {
    /// Only the server (broker) is bound.
    Server,
    /// Only the client is bound.
    Client,
    /// Either side is bound: rules for "the sender" or "the receiver", or formats of packets that
    /// both sides send.
    Both,
}

impl Actor {
    /// The keyword used in the catalogue files: `server`, `client` or `both`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Server => "server",
            Self::Client => "client",
            Self::Both => "both",
        }
    }

    /// Whether the statement binds the server, alone or together with the client.
    #[must_use]
    pub const fn binds_server(self) -> bool {
        matches!(self, Self::Server | Self::Both)
    }

    /// Parses a catalogue keyword.
    fn from_keyword(s: &str) -> Option<Self> {
        match s {
            "server" => Some(Self::Server),
            "client" => Some(Self::Client),
            "both" => Some(Self::Both),
            _ => None,
        }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How far a harness acting as MQTT clients over TCP can observe whether a broker obeys a
/// statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WireTestable {
    /// The broker's compliance is directly visible on the wire.
    Yes,
    /// Only part of the statement is observable, for example because it depends on broker
    /// configuration, is racy, or binds the client but a broker should detect its violation.
    Partial,
    /// The statement cannot be observed from a client connection, or concerns only the client.
    No,
}

impl WireTestable {
    /// The keyword used in the catalogue files: `yes`, `partial` or `no`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Yes => "yes",
            Self::Partial => "partial",
            Self::No => "no",
        }
    }

    /// Parses a catalogue keyword.
    fn from_keyword(s: &str) -> Option<Self> {
        match s {
            "yes" => Some(Self::Yes),
            "partial" => Some(Self::Partial),
            "no" => Some(Self::No),
            _ => None,
        }
    }
}

impl fmt::Display for WireTestable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// For a statement binding the client: how the server must treat a packet that breaks it.
///
/// MQTT 5.0 makes such a packet a Malformed Packet or a Protocol Error (4.13, and each "It is a
/// Protocol Error to ..." of sections 2 and 3): the server closes the connection, after a
/// DISCONNECT (or CONNACK) with a fitting code. MQTT 3.1.1 makes every one a protocol violation
/// the server closes the connection for (MQTT-4.8.0-1), recorded as `protocol_error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Violation {
    /// Breaking it is nothing the server has to act on (or the statement binds the server).
    None,
    /// The server treats the packet as malformed.
    Malformed,
    /// The server treats the packet as a Protocol Error (3.1.1: a protocol violation).
    ProtocolError,
}

impl Violation {
    /// The keyword used in the catalogue files: `-`, `malformed` or `protocol_error`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::None => "-",
            Self::Malformed => "malformed",
            Self::ProtocolError => "protocol_error",
        }
    }

    fn from_keyword(s: &str) -> Option<Self> {
        match s {
            "-" => Some(Self::None),
            "malformed" => Some(Self::Malformed),
            "protocol_error" => Some(Self::ProtocolError),
            _ => None,
        }
    }
}

/// One numbered normative statement of an MQTT standard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Statement {
    /// The statement ID without brackets, e.g. `MQTT-3.1.2-24`.
    pub id: &'static str,
    /// The innermost numbered heading the statement is cited under, e.g. `3.1.2.10`.
    pub section: &'static str,
    /// The party the statement binds.
    pub actor: Actor,
    /// Whether a client-side harness can observe a broker's compliance.
    pub wire_testable: WireTestable,
    /// For a client statement: what a server receiving a packet that breaks it must do.
    pub violation: Violation,
    /// A short paraphrase of the requirement (not the standard's wording).
    pub summary: &'static str,
}

impl Statement {
    /// Whether the statement counts towards broker coverage: it binds the server (`server` or
    /// `both`) and is fully observable on the wire.
    #[must_use]
    pub const fn is_server_wire_testable(&self) -> bool {
        self.actor.binds_server() && matches!(self.wire_testable, WireTestable::Yes)
    }

    /// Whether the statement counts only towards the extended coverage figure: it binds the
    /// server (`server` or `both`) and is only partly observable on the wire.
    #[must_use]
    pub const fn is_server_partial(&self) -> bool {
        self.actor.binds_server() && matches!(self.wire_testable, WireTestable::Partial)
    }

    /// Whether the statement binds the client and a server receiving a packet that breaks it
    /// must treat that packet as malformed or a Protocol Error: the server's reaction is
    /// testable by sending the forbidden packet.
    #[must_use]
    pub const fn is_client_violation(&self) -> bool {
        matches!(self.actor, Actor::Client) && !matches!(self.violation, Violation::None)
    }
}

/// All statements of `version`, in the order of the standard's numbering.
#[must_use]
pub fn statements(version: CatalogueVersion) -> &'static [Statement] {
    match version {
        CatalogueVersion::V3_1_1 => &MQTT_3_1_1,
        CatalogueVersion::V5_0 => &MQTT_5_0,
    }
}

/// The statement with ID `id` (without brackets, e.g. `MQTT-3.1.2-24`) in `version`, or `None`
/// if that version has no such statement.
#[must_use]
pub fn lookup(version: CatalogueVersion, id: &str) -> Option<&'static Statement> {
    statements(version).iter().find(|s| s.id == id)
}

/// Parses an embedded catalogue file.
///
/// The files are part of the source tree and checked by the unit tests, so malformed content is
/// a build defect and panics with the file name and line number.
fn parse(text: &'static str, file: &str) -> Vec<Statement> {
    let mut lines = text.lines().enumerate();
    match lines.next() {
        Some((_, HEADER)) => {}
        other => panic!("{file}: first line must be the header, found {other:?}"),
    }
    lines
        .map(|(index, line)| {
            let number = index + 1;
            let fields: Vec<&'static str> = line.split('\t').collect();
            let [id, section, actor, wire_testable, violation, summary] = fields[..] else {
                panic!(
                    "{file}:{number}: expected 6 tab-separated fields, found {}",
                    fields.len()
                );
            };
            Statement {
                id,
                section,
                actor: Actor::from_keyword(actor)
                    .unwrap_or_else(|| panic!("{file}:{number}: unknown actor {actor:?}")),
                wire_testable: WireTestable::from_keyword(wire_testable).unwrap_or_else(|| {
                    panic!("{file}:{number}: unknown wire_testable {wire_testable:?}")
                }),
                violation: Violation::from_keyword(violation)
                    .unwrap_or_else(|| panic!("{file}:{number}: unknown violation {violation:?}")),
                summary,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// Whether `id` has the shape `MQTT-<n>.<n>.<n>-<n>` with non-empty decimal numbers.
    fn is_valid_id(id: &str) -> bool {
        let Some(rest) = id.strip_prefix("MQTT-") else {
            return false;
        };
        let Some((section, number)) = rest.split_once('-') else {
            return false;
        };
        let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        let parts: Vec<&str> = section.split('.').collect();
        parts.len() == 3 && parts.iter().all(|p| numeric(p)) && numeric(number)
    }

    /// The numeric components of an ID, for ordering.
    fn id_key(id: &str) -> Vec<u32> {
        id.trim_start_matches("MQTT-")
            .split(['.', '-'])
            .map(|p| p.parse().expect("numeric ID component"))
            .collect()
    }

    fn count(version: CatalogueVersion, pred: impl Fn(&Statement) -> bool) -> usize {
        statements(version).iter().filter(|s| pred(s)).count()
    }

    #[test]
    fn catalogue_row_counts() {
        assert_eq!(statements(CatalogueVersion::V3_1_1).len(), 141);
        assert_eq!(statements(CatalogueVersion::V5_0).len(), 251);
    }

    #[test]
    fn catalogue_server_wire_testable_counts() {
        assert_eq!(
            count(CatalogueVersion::V3_1_1, Statement::is_server_wire_testable),
            85
        );
        assert_eq!(
            count(CatalogueVersion::V5_0, Statement::is_server_wire_testable),
            168
        );
    }

    #[test]
    fn catalogue_extended_counts_add_partial_server_rows() {
        let extended = |s: &Statement| s.is_server_wire_testable() || s.is_server_partial();
        assert_eq!(count(CatalogueVersion::V3_1_1, extended), 103);
        assert_eq!(count(CatalogueVersion::V5_0, extended), 198);
    }

    #[test]
    fn catalogue_ids_are_unique() {
        for version in CatalogueVersion::ALL {
            let mut seen = HashSet::new();
            for s in statements(version) {
                assert!(seen.insert(s.id), "{version}: duplicate id {}", s.id);
            }
        }
    }

    #[test]
    fn catalogue_ids_match_pattern_and_are_in_order() {
        for version in CatalogueVersion::ALL {
            let all = statements(version);
            for s in all {
                assert!(is_valid_id(s.id), "{version}: bad id {:?}", s.id);
            }
            for pair in all.windows(2) {
                assert!(
                    id_key(pair[0].id) < id_key(pair[1].id),
                    "{version}: {} is listed before {}",
                    pair[0].id,
                    pair[1].id
                );
            }
        }
        assert!(!is_valid_id("MQTT-3.1.2.7"));
        assert!(!is_valid_id("MQTT-3-8.3-4"));
        assert!(!is_valid_id("MQTT-4.2-1"));
    }

    #[test]
    fn catalogue_fields_are_well_formed() {
        for version in CatalogueVersion::ALL {
            for s in statements(version) {
                // The section starts with the ID's numeric prefix once trailing `.0`s are dropped.
                let prefix = s.id["MQTT-".len()..].split('-').next().unwrap_or_default();
                let mut parts: Vec<&str> = prefix.split('.').collect();
                while parts.last() == Some(&"0") {
                    parts.pop();
                }
                let prefix = parts.join(".");
                assert!(
                    s.section == prefix || s.section.starts_with(&format!("{prefix}.")),
                    "{version} {}: section {} does not start with {prefix}",
                    s.id,
                    s.section
                );
                assert!(
                    !s.summary.trim().is_empty(),
                    "{version} {}: empty summary",
                    s.id
                );
                assert!(
                    s.summary.split_whitespace().count() <= 20,
                    "{version} {}: summary longer than 20 words",
                    s.id
                );
            }
        }
    }

    #[test]
    fn client_violation_rows_bind_the_client() {
        for version in CatalogueVersion::ALL {
            for s in statements(version) {
                assert!(
                    s.violation == Violation::None || s.actor == Actor::Client,
                    "{version} {}: only client statements name a violation",
                    s.id
                );
            }
        }
        assert_eq!(
            count(CatalogueVersion::V3_1_1, Statement::is_client_violation),
            22
        );
        assert_eq!(
            count(CatalogueVersion::V5_0, Statement::is_client_violation),
            33
        );
    }

    #[test]
    fn catalogue_lookup_distinguishes_versions() {
        let old =
            lookup(CatalogueVersion::V3_1_1, "MQTT-3.1.2-24").expect("3.1.1 has MQTT-3.1.2-24");
        let new = lookup(CatalogueVersion::V5_0, "MQTT-3.1.2-24").expect("5.0 has MQTT-3.1.2-24");
        assert_eq!(old.id, new.id);
        assert_ne!(old.summary, new.summary);
        assert_eq!(old.section, "3.1.2.10");
        assert_eq!(new.section, "3.1.2.11.4");
        assert_eq!(old.actor, Actor::Server);
        assert!(old.is_server_wire_testable() && new.is_server_wire_testable());

        // IDs that exist in only one version, or in neither.
        assert!(lookup(CatalogueVersion::V5_0, "MQTT-3.3.1-13").is_some());
        assert!(lookup(CatalogueVersion::V3_1_1, "MQTT-3.3.1-13").is_none());
        assert!(lookup(CatalogueVersion::V3_1_1, "MQTT-7.0.0-1").is_some());
        assert!(lookup(CatalogueVersion::V5_0, "MQTT-7.0.0-1").is_none());
        assert!(lookup(CatalogueVersion::V5_0, "MQTT-3.1.2-31").is_none());
        assert!(lookup(CatalogueVersion::V5_0, "[MQTT-3.1.2-24]").is_none());
    }

    #[test]
    fn catalogue_partial_and_client_rows() {
        let s = lookup(CatalogueVersion::V3_1_1, "MQTT-3.1.0-1").expect("present");
        assert_eq!(
            (s.actor, s.wire_testable),
            (Actor::Client, WireTestable::Partial)
        );
        assert!(!s.is_server_wire_testable() && !s.is_server_partial());
        let s = lookup(CatalogueVersion::V5_0, "MQTT-6.0.0-4").expect("present");
        assert!(s.is_server_partial() && !s.is_server_wire_testable());
    }

    #[test]
    fn catalogue_version_keys_round_trip() {
        for version in CatalogueVersion::ALL {
            assert_eq!(CatalogueVersion::from_key(version.key()), Some(version));
            assert_eq!(version.to_string(), version.key());
        }
        assert_eq!(CatalogueVersion::from_key("5"), None);
        assert_eq!(CatalogueVersion::from_key("3.1"), None);
    }
}
