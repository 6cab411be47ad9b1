//! The serde model of a scenario file, its validation, and the JSON schema generated from it.
//!
//! A scenario is one YAML file: an id, a title, the normative statements it checks, the
//! protocol versions it runs under, the capabilities it needs and a list of steps. The format is
//! documented for authors in `scenarios/README.md`; this module is its single source of truth
//! (the committed `scenarios/schema.json` is generated from it by `mqtt-conformance schema`).
//!
//! Every struct rejects unknown fields, and a step names its action by key (`connect:`,
//! `publish:`, `expect:`, ...) rather than being guessed by shape, so a typo is reported with
//! the file, line and field instead of a vague "did not match any variant".

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::catalogue::{self, CatalogueVersion};

/// One scenario file.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Stable identifier, kebab-case, unique across the corpus. An id never changes meaning and
    /// a retired id is never reused: profiles and CI configurations refer to it.
    pub id: String,
    /// One sentence saying what the broker must do.
    pub title: String,
    /// The normative statements this scenario checks, by level.
    pub statements: Statements,
    /// The protocol versions the scenario runs under: `[3.1.1, 5.0]`, `[5.0]`, ...
    pub versions: Vec<Version>,
    /// Broker capabilities the scenario needs; a broker whose profile lacks one skips it.
    #[serde(default)]
    pub requires: Vec<Capability>,
    /// The scenario cannot share the broker with others (it subscribes to `#`, fills a limit,
    /// or changes broker-wide state) and runs alone.
    #[serde(default)]
    pub exclusive: bool,
    /// The scenario uses fixed topics outside `{t}` (raw bytes cannot hold the run's prefix).
    /// It runs alongside scenarios that keep to `{t}`, but never at the same time as another
    /// scenario with fixed topics (its own other versions and repeats included) nor an
    /// exclusive one, so two runs never see each other's messages on a fixed topic.
    #[serde(default)]
    pub fixed_topics: bool,
    /// Optional declaration of the clients used. Clients not listed here are created on first
    /// use with default settings.
    #[serde(default)]
    pub clients: BTreeMap<String, ClientSpec>,
    /// Free text for readers: why the scenario is shaped this way.
    #[serde(default)]
    pub notes: Option<String>,
    /// The reference broker configuration the corpus test proves this scenario on, for a
    /// scenario that needs a broker lacking a feature the default configuration offers. Any
    /// other broker runs the scenario as usual.
    #[serde(default)]
    pub reference_config: Option<ReferenceConfig>,
    /// The steps, run in order.
    pub steps: Vec<Step>,
}

impl Scenario {
    /// Whether a client of the scenario connects with a will that has a Will Delay Interval.
    /// A broker keeps such wills in one broker-wide queue until they are due; a broker that
    /// orders the queue wrongly lets one scenario's will hold back another's, so against an
    /// external broker these scenarios run one at a time among themselves (`runner::schedule`).
    pub fn delays_wills(&self) -> bool {
        self.steps.iter().any(|step| match &step.action {
            Action::Connect(c) | Action::Send(PacketSpec::Connect(c)) => c
                .will
                .as_ref()
                .and_then(|w| w.properties.will_delay_interval)
                .is_some_and(|d| d > 0),
            _ => false,
        })
    }
}

/// Limits of the reference broker that differ from its defaults, named as in its config file.
/// A client-side statement such as MQTT-3.2.2-11 (no QoS above the announced Maximum QoS) is
/// only testable on a broker that lacks the feature.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReferenceConfig {
    /// Highest QoS granted and accepted (0 or 1; the default 2 needs no entry).
    #[serde(default)]
    pub max_qos: Option<u8>,
    /// Whether retained messages are supported (announced as Retain Available).
    #[serde(default)]
    pub retain_available: Option<bool>,
    /// Highest topic alias a client may use (0: none).
    #[serde(default)]
    pub topic_alias_maximum: Option<u16>,
    /// How many unacknowledged QoS 1/2 PUBLISH packets a 5.0 client may send (at least 1).
    #[serde(default)]
    pub receive_maximum: Option<u16>,
}

/// Statement ids by level. An id applies to every version of the scenario unless it ends in
/// `@3.1.1` or `@5.0` (the two standards reuse ids with different meanings).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Statements {
    /// Statements the spec words as MUST / MUST NOT: breaking one is a failure.
    #[serde(default)]
    pub must: Vec<String>,
    /// SHOULD statements: a broker that does not follow one is graded non-strict.
    #[serde(default)]
    pub should: Vec<String>,
    /// MAY statements: every permitted behaviour is accepted.
    #[serde(default)]
    pub may: Vec<String>,
}

/// The level of a normative statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// MUST / MUST NOT.
    Must,
    /// SHOULD / SHOULD NOT.
    Should,
    /// MAY.
    May,
}

impl Level {
    /// Lower-case keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Must => "must",
            Self::Should => "should",
            Self::May => "may",
        }
    }
}

/// One cited statement, resolved for one version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementRef {
    /// The statement id without any `@version` suffix.
    pub id: String,
    /// Its level.
    pub level: Level,
}

impl Statements {
    /// Every cited statement that applies under `version`, in file order by level.
    pub fn for_version(&self, version: Version) -> Vec<StatementRef> {
        let mut out = Vec::new();
        for (level, ids) in [
            (Level::Must, &self.must),
            (Level::Should, &self.should),
            (Level::May, &self.may),
        ] {
            for raw in ids {
                let (id, only) = split_statement(raw);
                // 3.1 cites 3.1.1's statements, `@3.1.1` ones included.
                let as_version = if version == Version::V3_1 {
                    Version::V3_1_1
                } else {
                    version
                };
                if only.is_none_or(|v| v == as_version) {
                    out.push(StatementRef {
                        id: id.to_owned(),
                        level,
                    });
                }
            }
        }
        out
    }

    /// Every raw entry with its level.
    pub fn all(&self) -> impl Iterator<Item = (Level, &String)> {
        self.must
            .iter()
            .map(|s| (Level::Must, s))
            .chain(self.should.iter().map(|s| (Level::Should, s)))
            .chain(self.may.iter().map(|s| (Level::May, s)))
    }
}

/// Splits `MQTT-3.1.2-24@3.1.1` into the id and the version it is limited to.
pub fn split_statement(raw: &str) -> (&str, Option<Version>) {
    match raw.split_once('@') {
        Some((id, v)) => (id, Version::from_key(v)),
        None => (raw, None),
    }
}

/// An MQTT protocol version a scenario runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Version {
    /// MQTT 3.1 (protocol name `MQIsdp`, level 3). It has no statement ids of its own: a
    /// scenario lists it where 3.1 behaves as 3.1.1, and cites 3.1.1's statements.
    V3_1,
    /// MQTT 3.1.1 (protocol level 4).
    V3_1_1,
    /// MQTT 5.0 (protocol level 5).
    V5_0,
}

impl Version {
    /// The versions a run covers unless told otherwise, oldest first.
    pub const ALL: [Self; 2] = [Self::V3_1_1, Self::V5_0];

    /// Every version, 3.1 included (it runs only when asked for), oldest first.
    pub const EVERY: [Self; 3] = [Self::V3_1, Self::V3_1_1, Self::V5_0];

    /// `"3.1"`, `"3.1.1"` or `"5.0"`.
    pub fn key(self) -> &'static str {
        match self {
            Self::V3_1 => "3.1",
            Self::V3_1_1 => "3.1.1",
            Self::V5_0 => "5.0",
        }
    }

    /// Parses `3.1`, `3.1.1`, `5.0` or `5`.
    pub fn from_key(key: &str) -> Option<Self> {
        match key.trim() {
            "3.1" | "3" => Some(Self::V3_1),
            "3.1.1" | "4" => Some(Self::V3_1_1),
            "5.0" | "5" => Some(Self::V5_0),
            _ => None,
        }
    }

    /// The codec's version.
    pub fn protocol(self) -> mqtt_codec::ProtocolVersion {
        match self {
            Self::V3_1 => mqtt_codec::ProtocolVersion::V3_1,
            Self::V3_1_1 => mqtt_codec::ProtocolVersion::V3_1_1,
            Self::V5_0 => mqtt_codec::ProtocolVersion::V5_0,
        }
    }

    /// The catalogue's version (3.1 cites 3.1.1's statements).
    pub fn catalogue(self) -> CatalogueVersion {
        match self {
            Self::V3_1 | Self::V3_1_1 => CatalogueVersion::V3_1_1,
            Self::V5_0 => CatalogueVersion::V5_0,
        }
    }

    /// Whether this is MQTT 5.0.
    pub fn is_v5(self) -> bool {
        self == Self::V5_0
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Version;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an MQTT version: 3.1, 3.1.1 or 5.0")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Version, E> {
                Version::from_key(v).ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &self))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Version, E> {
                if (v - 5.0).abs() < f64::EPSILON {
                    Ok(Version::V5_0)
                } else if (v - 3.1).abs() < 1e-9 {
                    Ok(Version::V3_1)
                } else {
                    Err(E::invalid_value(de::Unexpected::Float(v), &self))
                }
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Version, E> {
                match v {
                    5 => Ok(Version::V5_0),
                    _ => Err(E::invalid_value(de::Unexpected::Unsigned(v), &self)),
                }
            }
        }
        d.deserialize_any(V)
    }
}

impl serde::Serialize for Version {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.key())
    }
}

impl JsonSchema for Version {
    fn schema_name() -> Cow<'static, str> {
        "Version".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "An MQTT version: 3.1, 3.1.1 or 5.0 (YAML reads an unquoted 3.1 or 5.0 as a number).",
            "anyOf": [ { "enum": ["3.1", "3.1.1", "5.0", "5"] }, { "enum": [3.1, 5.0] } ]
        })
    }
}

/// A broker capability a scenario may require; a broker profile says which it offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    /// QoS 1 delivery.
    Qos1,
    /// QoS 2 delivery.
    Qos2,
    /// Retained messages.
    Retain,
    /// Wildcard subscriptions.
    Wildcards,
    /// Shared subscriptions (5.0).
    SharedSubscriptions,
    /// Subscription identifiers (5.0).
    SubscriptionIdentifiers,
    /// Topic aliases from client to server (5.0; Topic Alias Maximum > 0).
    TopicAlias,
    /// User name and password authentication (the broker rejects bad credentials).
    Auth,
    /// Enhanced authentication with AUTH packets (5.0).
    EnhancedAuth,
    /// Wills.
    Will,
    /// Persistent sessions (clean session 0 / session expiry > 0).
    PersistentSessions,
    /// A Maximum Packet Size the broker declares and enforces.
    MaximumPacketSize,
    /// Server-assigned client identifiers for an empty client id.
    AssignedClientId,
    /// Response Information on request (5.0).
    ResponseInformation,
    /// Server redirection (5.0 Server Reference).
    ServerRedirection,
}

impl Capability {
    /// The snake_case keyword used in files.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Qos1 => "qos1",
            Self::Qos2 => "qos2",
            Self::Retain => "retain",
            Self::Wildcards => "wildcards",
            Self::SharedSubscriptions => "shared_subscriptions",
            Self::SubscriptionIdentifiers => "subscription_identifiers",
            Self::TopicAlias => "topic_alias",
            Self::Auth => "auth",
            Self::EnhancedAuth => "enhanced_auth",
            Self::Will => "will",
            Self::PersistentSessions => "persistent_sessions",
            Self::MaximumPacketSize => "maximum_packet_size",
            Self::AssignedClientId => "assigned_client_id",
            Self::ResponseInformation => "response_information",
            Self::ServerRedirection => "server_redirection",
        }
    }
}

/// Settings of one named client.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientSpec {
    /// The client identifier, default `{client:<name>}` (a generated id unique to this run).
    #[serde(default)]
    pub client_id: Option<String>,
    /// Use the profile's credentials on every CONNECT of this client unless the CONNECT sets
    /// its own (default true).
    #[serde(default)]
    pub credentials: Option<bool>,
}

/// A duration written like `500ms`, `2s` or `1m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dur(pub Duration);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        humantime::parse_duration(&s).map(Dur).map_err(|e| {
            de::Error::custom(format!("bad duration `{s}` ({e}); write e.g. 500ms or 2s"))
        })
    }
}

impl JsonSchema for Dur {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A duration such as 500ms, 2s or 1m.",
            "type": "string",
            "pattern": "^[0-9]+ ?(ns|us|ms|s|m|h)$"
        })
    }
}

/// A packet identifier: a number (0 allowed, to send what the spec forbids) or `$name`, an id
/// captured earlier with `capture_id` on an expected PUBLISH.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdRef {
    /// A literal packet identifier.
    Literal(u16),
    /// A captured identifier, by name without the `$`.
    Captured(String),
}

impl<'de> Deserialize<'de> for IdRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = IdRef;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a packet identifier 0..=65535 or `$name` of a captured one")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<IdRef, E> {
                u16::try_from(v)
                    .map(IdRef::Literal)
                    .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<IdRef, E> {
                u16::try_from(v)
                    .map(IdRef::Literal)
                    .map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<IdRef, E> {
                match v.strip_prefix('$') {
                    Some(name) if !name.is_empty() => Ok(IdRef::Captured(name.to_owned())),
                    _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
                }
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for IdRef {
    fn schema_name() -> Cow<'static, str> {
        "PacketId".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A packet identifier (0..=65535) or `$name` of one captured earlier.",
            "anyOf": [
                { "type": "integer", "minimum": 0, "maximum": 65535 },
                { "type": "string", "pattern": "^\\$[A-Za-z0-9_]+$" }
            ]
        })
    }
}

/// One step: the client it acts for, an optional version guard, and exactly one action.
///
/// In YAML a step is one map: `{ client: sub, subscribe: { ... } }`. The action's key names it.
#[derive(Debug, Clone)]
pub struct Step {
    /// The client the step acts for (default `a`).
    pub client: String,
    /// Run this step only under these versions.
    pub versions: Option<Vec<Version>>,
    /// Override of the step timeout (before `--timeout-scale`).
    pub timeout: Option<Dur>,
    /// A note shown in failure messages.
    pub note: Option<String>,
    /// Run the step several times in a row (to fill a limit the broker announced).
    pub repeat: Option<Repeat>,
    /// What the step does.
    pub action: Action,
}

/// `repeat: { times: $rm, index: i, from: 2 }`: the step runs `times` times (a number, or a
/// value captured earlier such as a CONNACK's Receive Maximum); each run stores its number,
/// counting from `from`, under `index`, so that `id: $i` gives every PUBLISH its own id.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Repeat {
    /// How many times: a number or `$name` of a captured value.
    pub times: IdRef,
    /// The capture name that holds the number of the current run.
    #[serde(default)]
    pub index: Option<String>,
    /// The number of the first run (default 1).
    #[serde(default = "first_run")]
    pub from: u16,
}

const fn first_run() -> u16 {
    1
}

/// What a step does.
#[derive(Debug, Clone)]
pub enum Action {
    /// Open the connection if needed, send CONNECT, expect a successful CONNACK.
    Connect(Box<ConnectSpec>),
    /// Send one packet, encoded as given (forbidden values included).
    Send(PacketSpec),
    /// Send raw bytes written in hex.
    SendHex(String),
    /// Expect the next packet to match.
    Expect(ExpectSpec),
    /// Expect one of several acceptable outcomes.
    ExpectOneOf(Vec<Alternative>),
    /// Expect a set of packets on this client in any order, then quiet and a barrier.
    ExpectUnordered(UnorderedSpec),
    /// Expect each listed packet exactly once on exactly one of several clients, in any order,
    /// then quiet and a barrier on every one of them.
    ExpectAcross(AcrossSpec),
    /// Expect no packet for the duration, then a PINGREQ/PINGRESP barrier.
    ExpectNothing(Dur),
    /// Expect the broker to close the connection.
    ExpectClosed(ClosedSpec),
    /// Sleep (for timers on the broker side: keep alive, expiry, will delay).
    Wait(Dur),
    /// Send DISCONNECT and close the connection.
    Disconnect(DisconnectSpec),
    /// Close the network connection abruptly, without DISCONNECT.
    Drop(Empty),
}

impl Action {
    /// The YAML key of the action.
    pub fn key(&self) -> &'static str {
        match self {
            Self::Connect(_) => "connect",
            Self::Send(_) => "send",
            Self::SendHex(_) => "send_hex",
            Self::Expect(_) => "expect",
            Self::ExpectOneOf(_) => "expect_one_of",
            Self::ExpectUnordered(_) => "expect_unordered",
            Self::ExpectAcross(_) => "expect_across",
            Self::ExpectNothing(_) => "expect_nothing",
            Self::ExpectClosed(_) => "expect_closed",
            Self::Wait(_) => "wait",
            Self::Disconnect(_) => "disconnect",
            Self::Drop(_) => "drop",
        }
    }
}

/// Every key a step may have, for error messages.
const STEP_KEYS: &[&str] = &[
    "client",
    "versions",
    "timeout",
    "note",
    "repeat",
    "connect",
    "send",
    "send_hex",
    "expect",
    "expect_one_of",
    "expect_unordered",
    "expect_across",
    "expect_nothing",
    "expect_closed",
    "wait",
    "disconnect",
    "drop",
    "publish",
    "puback",
    "pubrec",
    "pubrel",
    "pubcomp",
    "subscribe",
    "unsubscribe",
    "pingreq",
    "auth",
];

/// Action keys (every step key after the five settings); the packet names are shorthand for
/// `send: { <packet>: ... }`.
const STEP_ACTIONS: &[&str] = STEP_KEYS.split_at(5).1;

impl<'de> Deserialize<'de> for Step {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Step;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a step: a map with `client` and one action such as `connect`")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Step, A::Error> {
                let mut client = None;
                let mut versions = None;
                let mut timeout = None;
                let mut note = None;
                let mut repeat = None;
                let mut action: Option<Action> = None;
                while let Some(key) = map.next_key::<String>()? {
                    let new = match key.as_str() {
                        "client" => {
                            client = Some(map.next_value()?);
                            continue;
                        }
                        "versions" => {
                            versions = Some(map.next_value()?);
                            continue;
                        }
                        "timeout" => {
                            timeout = Some(map.next_value()?);
                            continue;
                        }
                        "note" => {
                            note = Some(map.next_value()?);
                            continue;
                        }
                        "repeat" => {
                            repeat = Some(map.next_value()?);
                            continue;
                        }
                        _ => read_action(&key, &mut map)?,
                    };
                    if let Some(prev) = &action {
                        return Err(de::Error::custom(format!(
                            "a step has exactly one action, this one has `{}` and `{key}`; \
                             split it into two steps",
                            prev.key()
                        )));
                    }
                    action = Some(new);
                }
                let action = action.ok_or_else(|| {
                    de::Error::custom(format!(
                        "a step needs one action: one of {}",
                        STEP_ACTIONS.join(", ")
                    ))
                })?;
                Ok(Step {
                    client: client.unwrap_or_else(|| "a".to_owned()),
                    versions,
                    timeout,
                    note,
                    repeat,
                    action,
                })
            }
        }
        d.deserialize_map(V)
    }
}

/// The action a step key names, its value read from the map: the packet names are shorthand
/// for `send: { <packet>: ... }`.
fn read_action<'de, A: MapAccess<'de>>(key: &str, map: &mut A) -> Result<Action, A::Error> {
    Ok(match key {
        "connect" => Action::Connect(map.next_value()?),
        "send" => Action::Send(map.next_value()?),
        "send_hex" => Action::SendHex(map.next_value()?),
        "expect" => Action::Expect(map.next_value()?),
        "expect_one_of" => Action::ExpectOneOf(map.next_value()?),
        "expect_unordered" => Action::ExpectUnordered(map.next_value()?),
        "expect_across" => Action::ExpectAcross(map.next_value()?),
        "expect_nothing" => Action::ExpectNothing(map.next_value()?),
        "expect_closed" => Action::ExpectClosed(map.next_value()?),
        "wait" => Action::Wait(map.next_value()?),
        "disconnect" => Action::Disconnect(map.next_value()?),
        "drop" => Action::Drop(map.next_value()?),
        "publish" => Action::Send(PacketSpec::Publish(map.next_value()?)),
        "puback" => Action::Send(PacketSpec::Puback(map.next_value()?)),
        "pubrec" => Action::Send(PacketSpec::Pubrec(map.next_value()?)),
        "pubrel" => Action::Send(PacketSpec::Pubrel(map.next_value()?)),
        "pubcomp" => Action::Send(PacketSpec::Pubcomp(map.next_value()?)),
        "subscribe" => Action::Send(PacketSpec::Subscribe(map.next_value()?)),
        "unsubscribe" => Action::Send(PacketSpec::Unsubscribe(map.next_value()?)),
        "pingreq" => Action::Send(PacketSpec::Pingreq(map.next_value()?)),
        "auth" => Action::Send(PacketSpec::Auth(map.next_value()?)),
        other => return Err(de::Error::unknown_field(other, STEP_KEYS)),
    })
}

impl JsonSchema for Step {
    fn schema_name() -> Cow<'static, str> {
        "Step".into()
    }
    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        let actions: Vec<(&str, Schema)> = vec![
            ("connect", g.subschema_for::<ConnectSpec>()),
            ("send", g.subschema_for::<PacketSpec>()),
            ("send_hex", g.subschema_for::<String>()),
            ("expect", g.subschema_for::<ExpectSpec>()),
            ("expect_one_of", g.subschema_for::<Vec<Alternative>>()),
            ("expect_unordered", g.subschema_for::<UnorderedSpec>()),
            ("expect_across", g.subschema_for::<AcrossSpec>()),
            ("expect_nothing", g.subschema_for::<Dur>()),
            ("expect_closed", g.subschema_for::<ClosedSpec>()),
            ("wait", g.subschema_for::<Dur>()),
            ("disconnect", g.subschema_for::<DisconnectSpec>()),
            ("drop", g.subschema_for::<Empty>()),
            ("publish", g.subschema_for::<PublishSpec>()),
            ("puback", g.subschema_for::<AckSpec>()),
            ("pubrec", g.subschema_for::<AckSpec>()),
            ("pubrel", g.subschema_for::<AckSpec>()),
            ("pubcomp", g.subschema_for::<AckSpec>()),
            ("subscribe", g.subschema_for::<SubscribeSpec>()),
            ("unsubscribe", g.subschema_for::<UnsubscribeSpec>()),
            ("pingreq", g.subschema_for::<SimpleSpec>()),
            ("auth", g.subschema_for::<AuthSpec>()),
        ];
        let mut props = serde_json::Map::new();
        props.insert(
            "client".into(),
            serde_json::json!({"type": "string", "description": "The client this step acts for (default `a`)."}),
        );
        props.insert(
            "versions".into(),
            serde_json::to_value(g.subschema_for::<Vec<Version>>()).unwrap_or_default(),
        );
        props.insert(
            "timeout".into(),
            serde_json::to_value(g.subschema_for::<Dur>()).unwrap_or_default(),
        );
        props.insert("note".into(), serde_json::json!({"type": "string"}));
        props.insert(
            "repeat".into(),
            serde_json::to_value(g.subschema_for::<Repeat>()).unwrap_or_default(),
        );
        let mut one_of = Vec::new();
        for (key, schema) in actions {
            props.insert(key.into(), serde_json::to_value(schema).unwrap_or_default());
            one_of.push(serde_json::json!({ "required": [key] }));
        }
        json_schema!({
            "description": "One step: `client`, an optional `versions` guard, `timeout`, `note`, `repeat`, and exactly one action key.",
            "type": "object",
            "properties": props,
            "additionalProperties": false,
            "oneOf": one_of
        })
    }
}

/// An empty map, `{}`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

/// The fields of a CONNECT. Every field is optional; the defaults give a valid CONNECT for the
/// run's version with a generated client id, clean start and keep alive 60.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectSpec {
    /// Client identifier; default the client's generated id. `""` sends an empty one.
    #[serde(default)]
    pub client_id: Option<String>,
    /// Clean Session (3.1.1) / Clean Start (5.0), default true.
    #[serde(default)]
    pub clean_start: Option<bool>,
    /// Keep Alive in seconds, default 60.
    #[serde(default)]
    pub keep_alive: Option<u16>,
    /// User Name; default the profile's credentials.
    #[serde(default)]
    pub username: Option<String>,
    /// Password; default the profile's credentials.
    #[serde(default)]
    pub password: Option<String>,
    /// Send no credentials even if the profile has some.
    #[serde(default)]
    pub no_credentials: bool,
    /// The will message.
    #[serde(default)]
    pub will: Option<WillSpec>,
    /// 5.0 CONNECT properties.
    #[serde(default)]
    pub properties: PropsSpec,
    /// Override the protocol name (e.g. `MQIsdp` or `XYZ`).
    #[serde(default)]
    pub protocol_name: Option<String>,
    /// Override the protocol level byte (e.g. 3, 6 or 0).
    #[serde(default)]
    pub protocol_level: Option<u8>,
    /// Override the whole Connect Flags byte (e.g. 0x03 to set the reserved bit).
    #[serde(default)]
    pub connect_flags: Option<u8>,
    /// Only on a `connect` step: what the CONNACK must match besides a success code.
    #[serde(default)]
    pub connack: Option<ConnAckMatch>,
    /// Raw overrides of the encoded packet.
    #[serde(default)]
    pub wire: Option<WireOverride>,
}

/// The will message of a CONNECT.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WillSpec {
    /// Will Topic.
    pub topic: String,
    /// Will Payload as text.
    #[serde(default)]
    pub payload: Option<String>,
    /// Will Payload as hex.
    #[serde(default)]
    pub payload_hex: Option<String>,
    /// Will QoS (0..=2; 3 is written as given).
    #[serde(default)]
    pub qos: u8,
    /// Will Retain.
    #[serde(default)]
    pub retain: bool,
    /// 5.0 Will Properties.
    #[serde(default)]
    pub properties: PropsSpec,
}

/// Raw changes to an encoded packet, applied in this order: first byte, remaining length,
/// truncate, append. For what the typed fields cannot express.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WireOverride {
    /// Replace the low four bits of the first byte (the flags).
    #[serde(default)]
    pub flags: Option<u8>,
    /// Replace the whole first byte (type and flags).
    #[serde(default)]
    pub first_byte: Option<u8>,
    /// Write this Remaining Length instead of the true one (minimal encoding).
    #[serde(default)]
    pub remaining_length: Option<u32>,
    /// Write these hex bytes as the Remaining Length field (e.g. a non-minimal `80 80 00`).
    #[serde(default)]
    pub remaining_length_hex: Option<String>,
    /// Cut the packet to this many bytes in total.
    #[serde(default)]
    pub truncate: Option<usize>,
    /// Append these hex bytes (without fixing the Remaining Length).
    #[serde(default)]
    pub append_hex: Option<String>,
}

/// A packet to send, keyed by its type: `{ publish: { ... } }`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum PacketSpec {
    /// CONNECT, sent as is (no CONNACK awaited).
    Connect(Box<ConnectSpec>),
    /// PUBLISH.
    Publish(PublishSpec),
    /// PUBACK.
    Puback(AckSpec),
    /// PUBREC.
    Pubrec(AckSpec),
    /// PUBREL.
    Pubrel(AckSpec),
    /// PUBCOMP.
    Pubcomp(AckSpec),
    /// SUBSCRIBE.
    Subscribe(SubscribeSpec),
    /// UNSUBSCRIBE.
    Unsubscribe(UnsubscribeSpec),
    /// PINGREQ.
    Pingreq(SimpleSpec),
    /// DISCONNECT (the connection stays open; use the `disconnect` step to also close it).
    Disconnect(DisconnectSpec),
    /// AUTH.
    Auth(AuthSpec),
}

/// A PUBLISH to send.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishSpec {
    /// Topic Name (may be empty or hold wildcards, to test rejection).
    pub topic: String,
    /// Payload as text; default empty.
    #[serde(default)]
    pub payload: Option<String>,
    /// Payload as hex.
    #[serde(default)]
    pub payload_hex: Option<String>,
    /// A payload of this many bytes `x`, for packets near a size limit (at most 16 MiB).
    #[serde(default)]
    pub payload_size: Option<u32>,
    /// QoS 0..=3 (3 is written as given).
    #[serde(default)]
    pub qos: u8,
    /// RETAIN flag.
    #[serde(default)]
    pub retain: bool,
    /// DUP flag.
    #[serde(default)]
    pub dup: bool,
    /// Packet identifier, required for QoS > 0 (0 is sent as given).
    #[serde(default)]
    pub id: Option<IdRef>,
    /// 5.0 properties.
    #[serde(default)]
    pub properties: PropsSpec,
    /// Raw overrides.
    #[serde(default)]
    pub wire: Option<WireOverride>,
}

/// PUBACK, PUBREC, PUBREL or PUBCOMP to send.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AckSpec {
    /// Packet identifier.
    pub id: IdRef,
    /// 5.0 reason code, default 0.
    #[serde(default)]
    pub code: u8,
    /// 5.0 properties.
    #[serde(default)]
    pub properties: PropsSpec,
    /// Raw overrides.
    #[serde(default)]
    pub wire: Option<WireOverride>,
}

/// A SUBSCRIBE to send.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscribeSpec {
    /// Packet identifier.
    pub id: IdRef,
    /// The topic filters with their options.
    pub filters: Vec<FilterSpec>,
    /// 5.0 properties (e.g. `subscription_identifiers: [7]`).
    #[serde(default)]
    pub properties: PropsSpec,
    /// Raw overrides.
    #[serde(default)]
    pub wire: Option<WireOverride>,
}

/// One topic filter of a SUBSCRIBE.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FilterSpec {
    /// The topic filter.
    pub topic: String,
    /// Maximum QoS 0..=3 (3 is written as given).
    #[serde(default)]
    pub qos: u8,
    /// 5.0 No Local.
    #[serde(default)]
    pub no_local: bool,
    /// 5.0 Retain As Published.
    #[serde(default)]
    pub retain_as_published: bool,
    /// 5.0 Retain Handling 0..=3 (3 is written as given).
    #[serde(default)]
    pub retain_handling: u8,
    /// Replace the whole options byte.
    #[serde(default)]
    pub options_byte: Option<u8>,
}

/// An UNSUBSCRIBE to send.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UnsubscribeSpec {
    /// Packet identifier.
    pub id: IdRef,
    /// The topic filters.
    pub filters: Vec<String>,
    /// 5.0 properties.
    #[serde(default)]
    pub properties: PropsSpec,
    /// Raw overrides.
    #[serde(default)]
    pub wire: Option<WireOverride>,
}

/// A packet without fields (PINGREQ).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SimpleSpec {
    /// Raw overrides.
    #[serde(default)]
    pub wire: Option<WireOverride>,
}

/// A DISCONNECT to send.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DisconnectSpec {
    /// 5.0 reason code, default 0 (e.g. 0x04 to publish the will).
    #[serde(default)]
    pub code: u8,
    /// 5.0 properties.
    #[serde(default)]
    pub properties: PropsSpec,
    /// Raw overrides.
    #[serde(default)]
    pub wire: Option<WireOverride>,
}

/// An AUTH to send.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthSpec {
    /// Reason code, default 0x18 (Continue authentication).
    #[serde(default)]
    pub code: Option<u8>,
    /// Properties.
    #[serde(default)]
    pub properties: PropsSpec,
    /// Raw overrides.
    #[serde(default)]
    pub wire: Option<WireOverride>,
}

/// The scenario type of a property value of the codec's wire type `$ty` (binary as text).
macro_rules! yaml_type {
    (Byte) => {
        u8
    };
    (TwoByte) => {
        u16
    };
    (FourByte) => {
        u32
    };
    (String) => {
        String
    };
    (Binary) => {
        String
    };
}

/// The scenario property keys, from the codec's property table (`for_each_property!`): its
/// `single` properties are named fields; User Property and Subscription Identifier, its
/// `list` ones, have list fields of their own.
macro_rules! properties {
    (single { $($(#[$doc:meta])* $variant:ident($value:ident) = $id:literal, $cid:ident,
        $field:ident, $name:literal, $wire:ident, $rule:ident, [$($ctx:ident),*];)* }
     list { $($list:tt)* }) => {
        properties!(@keys $(#[doc = concat!($name, " (", stringify!($id), ").")]
            $field: yaml_type!($wire) => $variant / $cid,)*);
    };
    (@keys $($(#[$doc:meta])* $field:ident: $ty:ty => $variant:ident / $cid:ident,)*) => {
        /// MQTT 5.0 properties by name. To send: every field given is written, in this order,
        /// then `user_properties`, `subscription_identifiers` and `extra`. To expect: every
        /// field given must be present with that value, and `absent` ones must not be. Binary
        /// values (Correlation Data, Authentication Data) are given as text.
        #[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
        #[serde(deny_unknown_fields)]
        pub struct PropsSpec {
            $($(#[$doc])* #[serde(default)] pub $field: Option<$ty>,)*
            /// User Properties as `[[name, value], ...]`, in order. When expected, the list
            /// must be exactly this, in this order.
            #[serde(default)]
            pub user_properties: Option<Vec<(String, String)>>,
            /// Subscription Identifiers. When expected, exactly these, in any order.
            #[serde(default)]
            pub subscription_identifiers: Option<Vec<u32>>,
            /// To send: more properties written after the others, duplicates allowed
            /// (`[{topic_alias: 1}, {topic_alias: 1}]`). Ignored when expecting.
            #[serde(default)]
            pub extra: Vec<PropSpec>,
            /// When expecting: properties that must not be present.
            #[serde(default)]
            pub absent: Vec<PropName>,
            /// When expecting: properties that must be present, whatever their value.
            #[serde(default)]
            pub present: Vec<PropName>,
            /// When expecting: Message Expiry Interval must be present and at most this.
            #[serde(default)]
            pub message_expiry_interval_at_most: Option<u32>,
            /// When expecting: Maximum Packet Size must be present and at most this.
            #[serde(default)]
            pub maximum_packet_size_at_most: Option<u32>,
        }

        /// One property, keyed by name, for `extra`.
        #[derive(Debug, Clone, Deserialize, JsonSchema)]
        #[serde(rename_all = "snake_case", deny_unknown_fields)]
        // Variants named by the `properties:` keys, which serde keeps as they are
        // (`maximum_qos`, where `MaximumQoS` would become `maximum_qo_s`).
        #[allow(non_camel_case_types)]
        pub enum PropSpec {
            $($(#[$doc])* $field($ty),)*
            /// A User Property `[name, value]`.
            UserProperty((String, String)),
            /// A Subscription Identifier.
            SubscriptionIdentifier(u32),
        }

        /// A property name, for `absent`.
        #[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
        #[serde(rename_all = "snake_case")]
        #[allow(non_camel_case_types)]
        pub enum PropName {
            $($(#[$doc])* $field,)*
            /// User Property.
            UserProperty,
            /// Subscription Identifier.
            SubscriptionIdentifier,
        }

        impl PropsSpec {
            /// The named single-valued properties set here, as codec values.
            pub fn named(&self, s: &dyn Fn(&str) -> String) -> Vec<mqtt_codec::Property> {
                let mut out = Vec::new();
                $(if let Some(v) = &self.$field {
                    out.push(mqtt_codec::Property::$variant(ToWire::to_wire(v, s)));
                })*
                out
            }
        }

        impl PropSpec {
            /// The codec value.
            pub fn to_property(&self, s: &dyn Fn(&str) -> String) -> mqtt_codec::Property {
                match self {
                    $(Self::$field(v) => mqtt_codec::Property::$variant(ToWire::to_wire(v, s)),)*
                    Self::UserProperty((k, v)) => {
                        mqtt_codec::Property::UserProperty(s(k).into(), s(v).into())
                    }
                    Self::SubscriptionIdentifier(v) => {
                        mqtt_codec::Property::SubscriptionIdentifier(*v)
                    }
                }
            }
        }

        impl PropName {
            /// The property identifier.
            pub fn id(self) -> mqtt_codec::PropertyId {
                match self {
                    $(Self::$field => mqtt_codec::PropertyId::$cid,)*
                    Self::UserProperty => mqtt_codec::PropertyId::USER_PROPERTY,
                    Self::SubscriptionIdentifier => mqtt_codec::PropertyId::SUBSCRIPTION_IDENTIFIER,
                }
            }
        }
    };
}

mqtt_codec::for_each_property!(properties);

/// Converts a scenario value into the codec's value, substituting variables in text.
trait ToWire<T> {
    fn to_wire(&self, s: &dyn Fn(&str) -> String) -> T;
}

impl ToWire<u8> for u8 {
    fn to_wire(&self, _: &dyn Fn(&str) -> String) -> u8 {
        *self
    }
}

impl ToWire<u16> for u16 {
    fn to_wire(&self, _: &dyn Fn(&str) -> String) -> u16 {
        *self
    }
}

impl ToWire<u32> for u32 {
    fn to_wire(&self, _: &dyn Fn(&str) -> String) -> u32 {
        *self
    }
}

impl ToWire<mqtt_codec::ByteString> for String {
    fn to_wire(&self, s: &dyn Fn(&str) -> String) -> mqtt_codec::ByteString {
        s(self).into()
    }
}

impl ToWire<bytes::Bytes> for String {
    fn to_wire(&self, s: &dyn Fn(&str) -> String) -> bytes::Bytes {
        s(self).into()
    }
}

/// A packet the client expects next, keyed by type; only the fields given are compared.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ExpectSpec {
    /// CONNACK.
    Connack(ConnAckMatch),
    /// PUBLISH.
    Publish(PublishMatch),
    /// PUBACK.
    Puback(AckMatch),
    /// PUBREC.
    Pubrec(AckMatch),
    /// PUBREL.
    Pubrel(AckMatch),
    /// PUBCOMP.
    Pubcomp(AckMatch),
    /// SUBACK.
    Suback(SubAckMatch),
    /// UNSUBACK.
    Unsuback(SubAckMatch),
    /// PINGRESP.
    Pingresp(Empty),
    /// DISCONNECT (5.0).
    Disconnect(CodeMatch),
    /// AUTH (5.0).
    Auth(CodeMatch),
}

impl ExpectSpec {
    /// The packet type name, upper case.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Connack(_) => "CONNACK",
            Self::Publish(_) => "PUBLISH",
            Self::Puback(_) => "PUBACK",
            Self::Pubrec(_) => "PUBREC",
            Self::Pubrel(_) => "PUBREL",
            Self::Pubcomp(_) => "PUBCOMP",
            Self::Suback(_) => "SUBACK",
            Self::Unsuback(_) => "UNSUBACK",
            Self::Pingresp(_) => "PINGRESP",
            Self::Disconnect(_) => "DISCONNECT",
            Self::Auth(_) => "AUTH",
        }
    }
}

/// What a CONNACK must match.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnAckMatch {
    /// Session Present.
    #[serde(default)]
    pub session_present: Option<bool>,
    /// Return code (3.1.1) or reason code (5.0); use a `versions` guard where they differ.
    #[serde(default)]
    pub code: Option<u8>,
    /// Any of these codes.
    #[serde(default)]
    pub code_in: Option<Vec<u8>>,
    /// 5.0 properties that must be present (and `absent` ones that must not).
    #[serde(default)]
    pub properties: Option<PropsSpec>,
    /// Read the CONNACK in this version's format when it does not decode in the run's own: a
    /// broker refusing an unknown protocol level cannot tell which format the client reads.
    #[serde(default)]
    pub format: Option<Version>,
    /// Store the Receive Maximum the CONNACK announces under this name (65,535 when absent,
    /// 3.2.2.3.3), for a later `repeat: { times: $name }`.
    #[serde(default)]
    pub capture_receive_maximum: Option<String>,
}

/// What a PUBLISH must match.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishMatch {
    /// Topic Name.
    #[serde(default)]
    pub topic: Option<String>,
    /// Payload as text.
    #[serde(default)]
    pub payload: Option<String>,
    /// Payload as hex.
    #[serde(default)]
    pub payload_hex: Option<String>,
    /// QoS.
    #[serde(default)]
    pub qos: Option<u8>,
    /// RETAIN flag.
    #[serde(default)]
    pub retain: Option<bool>,
    /// DUP flag.
    #[serde(default)]
    pub dup: Option<bool>,
    /// Packet identifier (a number or a captured `$name`).
    #[serde(default)]
    pub id: Option<IdRef>,
    /// The packet identifier must differ from each of these (numbers or captured `$name`s):
    /// identifiers of messages in flight at the same time must be distinct.
    #[serde(default)]
    pub id_not: Option<Vec<IdRef>>,
    /// Remember the packet identifier as `$name` for later steps.
    #[serde(default)]
    pub capture_id: Option<String>,
    /// 5.0 properties.
    #[serde(default)]
    pub properties: Option<PropsSpec>,
}

/// What a PUBACK, PUBREC, PUBREL or PUBCOMP must match.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AckMatch {
    /// Packet identifier.
    #[serde(default)]
    pub id: Option<IdRef>,
    /// 5.0 reason code.
    #[serde(default)]
    pub code: Option<u8>,
    /// Any of these reason codes.
    #[serde(default)]
    pub code_in: Option<Vec<u8>>,
    /// 5.0 properties.
    #[serde(default)]
    pub properties: Option<PropsSpec>,
}

/// What a SUBACK or UNSUBACK must match.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SubAckMatch {
    /// Packet identifier.
    #[serde(default)]
    pub id: Option<IdRef>,
    /// Exactly these codes, one per filter (UNSUBACK: 5.0 only).
    #[serde(default)]
    pub codes: Option<Vec<u8>>,
    /// For each filter, the acceptable codes: `[[1, 0x80], [0]]`.
    #[serde(default)]
    pub codes_in: Option<Vec<Vec<u8>>>,
    /// 5.0 properties.
    #[serde(default)]
    pub properties: Option<PropsSpec>,
}

/// What a DISCONNECT or AUTH must match.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeMatch {
    /// Reason code.
    #[serde(default)]
    pub code: Option<u8>,
    /// Any of these reason codes.
    #[serde(default)]
    pub code_in: Option<Vec<u8>>,
    /// Properties.
    #[serde(default)]
    pub properties: Option<PropsSpec>,
}

/// The broker is expected to close the connection.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClosedSpec {
    /// 5.0: the reason codes of a DISCONNECT the broker should send before closing. A
    /// DISCONNECT with another code fails; no DISCONNECT is graded by `disconnect_level`.
    /// Ignored under 3.1.1, where a server never sends DISCONNECT.
    #[serde(default)]
    pub disconnect: Option<Vec<u8>>,
    /// How the spec words sending that DISCONNECT: `should` (default: closing without it is
    /// non-strict), `may` (closing without it passes) or `must` (closing without it fails).
    #[serde(default)]
    pub disconnect_level: Option<LevelKey>,
    /// Also accept a CONNACK with one of these codes before the close (for CONNECT errors
    /// where the spec allows either).
    #[serde(default)]
    pub connack: Option<Vec<u8>>,
    /// How the spec words sending that CONNACK: `may` (default: closing without it passes),
    /// `should` (non-strict) or `must` (closing without it fails, as for 3.1.1's
    /// MQTT-3.1.2-2 and MQTT-3.1.3-9).
    #[serde(default)]
    pub connack_level: Option<LevelKey>,
    /// The close is the broker's keep-alive expiry for this Keep Alive (seconds): it must
    /// come within 1.5 times the Keep Alive, plus a stated tolerance, of the client's last
    /// packet. The step waits long enough to measure a late close.
    #[serde(default)]
    pub keep_alive: Option<u16>,
}

/// `must`, `should` or `may`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LevelKey {
    /// MUST.
    Must,
    /// SHOULD.
    Should,
    /// MAY.
    May,
}

/// `expect_unordered`: packets that must all arrive on the step's client, in any order.
///
/// Each arriving packet must match a spec not yet used; the step ends once every required
/// spec matched and, if optional specs remain, `quiet` passed without another packet; a
/// PINGREQ/PINGRESP barrier closes it. A packet matching no spec fails the step.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UnorderedSpec {
    /// The packets.
    pub packets: Vec<UnorderedItem>,
    /// How long to wait for optional packets once the required ones arrived (default 300 ms).
    #[serde(default)]
    pub quiet: Option<Dur>,
}

/// `expect_across`: packets that must each arrive once, on any one of `clients`.
///
/// For behaviours where the broker picks the receiver (a shared subscription delivers each
/// message to one member). After the last required packet, every client must stay quiet for
/// `quiet`, then answer a PINGREQ barrier; a packet on no spec, or a second copy, fails.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AcrossSpec {
    /// The clients that may receive the packets.
    pub clients: Vec<String>,
    /// The packets.
    pub packets: Vec<UnorderedItem>,
    /// Quiet period after the last required packet (default 300 ms).
    #[serde(default)]
    pub quiet: Option<Dur>,
}

/// One packet of an `expect_unordered` or `expect_across` step.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UnorderedItem {
    /// What the packet must match.
    pub expect: ExpectSpec,
    /// The packet may also not come at all (a MAY of the spec); it still may come only once.
    #[serde(default)]
    pub optional: bool,
}

/// One acceptable outcome of an `expect_one_of` step: exactly one of `expect`, `expect_closed`
/// or `expect_nothing`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Alternative {
    /// The next packet matches this.
    #[serde(default)]
    pub expect: Option<ExpectSpec>,
    /// The connection is closed.
    #[serde(default)]
    pub expect_closed: Option<ClosedSpec>,
    /// Nothing arrives for this long.
    #[serde(default)]
    pub expect_nothing: Option<Dur>,
    /// Accept this outcome, but grade it non-strict (the spec recommends another).
    #[serde(default)]
    pub non_strict: bool,
    /// This outcome is a lawful refusal of what the scenario needs to check its statement: the
    /// scenario stops here and is reported as a skip, untestable on this broker, with this
    /// reason and what arrived. Never a pass, never a failure.
    #[serde(default)]
    pub untestable: Option<String>,
}

/// A problem found by [`validate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where: `steps[3]`, `statements.must[0]`, ...
    pub field: String,
    /// What is wrong.
    pub message: String,
}

/// Checks what serde cannot: statement ids against the catalogue, versions, one alternative
/// per `expect_one_of` entry, packet ids given for QoS > 0, and so on.
pub fn validate(s: &Scenario) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut p = |field: String, message: String| out.push(Problem { field, message });
    if s.id.is_empty()
        || !s
            .id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
    {
        p(
            "id".into(),
            format!("`{}` is not kebab-case (a-z, 0-9, -)", s.id),
        );
    }
    if s.title.trim().is_empty() {
        p("title".into(), "the title is empty".into());
    }
    if s.versions.is_empty() {
        p("versions".into(), "no versions listed".into());
    }
    if s.statements.must.is_empty() && s.statements.should.is_empty() && s.statements.may.is_empty()
    {
        p("statements".into(), "cites no statement".into());
    }
    validate_statements(s, &mut p);
    for (i, step) in s.steps.iter().enumerate() {
        validate_step(s, i, step, &mut p);
    }
    validate_session_present(s, &mut p);
    out
}

/// Session Present 1 is asserted only by scenarios that cite a statement about it or about the
/// session being kept. Asserted anywhere else, it fails a broker that never sets the flag (or
/// wrongly drops the session) under a statement the scenario does not name, and hides what the
/// scenario is about.
fn validate_session_present(s: &Scenario, p: &mut impl FnMut(String, String)) {
    for &v in &s.versions {
        let allowed: &[&str] = match v {
            // 3.1.1: Session Present 1 for a stored session; 5.0: the same, and the session
            // outliving its connection while the Session Expiry Interval runs.
            Version::V5_0 => &["MQTT-3.2.2-3", "MQTT-3.1.2-23"],
            Version::V3_1 | Version::V3_1_1 => &["MQTT-3.2.2-2"],
        };
        let cited = s.statements.for_version(v);
        if cited.iter().any(|r| allowed.contains(&r.id.as_str())) {
            continue;
        }
        for (i, step) in s.steps.iter().enumerate() {
            let runs = step.versions.as_ref().is_none_or(|vs| vs.contains(&v));
            // A graded `expect_one_of` alternative asserts as much as a plain step does.
            let connacks: Vec<_> = match &step.action {
                Action::Connect(c) => c.connack.iter().collect(),
                Action::Expect(ExpectSpec::Connack(m)) => vec![m],
                Action::ExpectOneOf(alts) => alts
                    .iter()
                    .filter(|a| a.untestable.is_none())
                    .filter_map(|a| match &a.expect {
                        Some(ExpectSpec::Connack(m)) => Some(m),
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            };
            if runs && connacks.iter().any(|m| m.session_present == Some(true)) {
                p(
                    format!("steps[{i}] ({})", step.action.key()),
                    format!(
                        "asserts Session Present 1 under {v} but the scenario cites none of {}; \
                         cite one, or leave Session Present to the scenarios that do",
                        allowed.join(", ")
                    ),
                );
            }
        }
    }
}

/// Each cited statement exists in the catalogue of each version it is cited for.
fn validate_statements(s: &Scenario, p: &mut impl FnMut(String, String)) {
    for (level, raw) in s.statements.all() {
        let field = format!("statements.{}", level.as_str());
        let (id, only) = split_statement(raw);
        if raw.contains('@') && only.is_none() {
            p(
                field.clone(),
                format!("`{raw}`: the suffix must be @3.1.1 or @5.0"),
            );
            continue;
        }
        let versions: Vec<Version> = match only {
            Some(v) => vec![v],
            None => s.versions.clone(),
        };
        for v in versions {
            if catalogue::lookup(v.catalogue(), id).is_none() {
                p(
                    field.clone(),
                    format!(
                        "`{id}` is not a statement of MQTT {v}{}",
                        if only.is_none() {
                            " (limit it to one version with a suffix like @5.0)"
                        } else {
                            ""
                        }
                    ),
                );
            }
        }
    }
}

/// One step: the shape of its action, its guard and its client.
fn validate_step(s: &Scenario, i: usize, step: &Step, p: &mut impl FnMut(String, String)) {
    let field = format!("steps[{i}] ({})", step.action.key());
    validate_expectation(&field, step, p);
    if let Action::Send(PacketSpec::Connect(c)) = &step.action {
        if c.connack.is_some() {
            p(
                field.clone(),
                "`connack` belongs on a connect step, not on send".into(),
            );
        }
    }
    if let Action::Send(PacketSpec::Publish(pb)) = &step.action {
        if pb.qos > 0 && pb.id.is_none() {
            p(field.clone(), "a PUBLISH with QoS > 0 needs an `id`".into());
        }
    }
    if let Action::SendHex(h) = &step.action {
        if let Err(e) = parse_hex(h) {
            p(field.clone(), e);
        }
    }
    if let Some(vs) = &step.versions {
        for v in vs {
            if !s.versions.contains(v) {
                p(
                    field.clone(),
                    format!("guard names {v}, which the scenario does not run"),
                );
            }
        }
    }
    if !s.clients.is_empty()
        && !s.clients.contains_key(&step.client)
        && !matches!(step.action, Action::Wait(_))
    {
        p(
            field.clone(),
            format!("client `{}` is not declared in `clients`", step.client),
        );
    }
}

/// The shape of an expectation step: alternatives, unordered packets, closes.
fn validate_expectation(field: &str, step: &Step, p: &mut impl FnMut(String, String)) {
    let field = field.to_owned();
    if let Action::ExpectUnordered(UnorderedSpec { packets, .. })
    | Action::ExpectAcross(AcrossSpec { packets, .. }) = &step.action
    {
        if packets.iter().all(|item| item.optional) {
            p(
                field.clone(),
                "needs at least one packet that is not optional".into(),
            );
        }
    }
    if let Action::ExpectAcross(across) = &step.action {
        if across.clients.len() < 2 {
            p(
                field.clone(),
                "expect_across needs at least two clients".into(),
            );
        }
    }
    if let Action::ExpectOneOf(alts) = &step.action {
        if alts.len() < 2 {
            p(
                field.clone(),
                "expect_one_of needs at least two alternatives".into(),
            );
        }
        for (j, a) in alts.iter().enumerate() {
            let n = usize::from(a.expect.is_some())
                + usize::from(a.expect_closed.is_some())
                + usize::from(a.expect_nothing.is_some());
            if n != 1 {
                p(
                    format!("{field}[{j}]"),
                    "an alternative has exactly one of expect, expect_closed, expect_nothing"
                        .into(),
                );
            }
            untestable_problems(a, &format!("{field}[{j}]"), p);
        }
        if !alts.is_empty() && alts.iter().all(|a| a.untestable.is_some()) {
            p(
                field.clone(),
                "every alternative is untestable: at least one must be checkable".into(),
            );
        }
    }
    let closes = match &step.action {
        Action::ExpectClosed(c) => vec![c],
        Action::ExpectOneOf(alts) => alts
            .iter()
            .filter_map(|a| a.expect_closed.as_ref())
            .collect(),
        _ => Vec::new(),
    };
    for c in closes {
        if c.connack_level.is_some() && c.connack.is_none() {
            p(
                field.clone(),
                "`connack_level` grades the CONNACK of `connack`, which is missing".into(),
            );
        }
    }
}

/// An `untestable` alternative needs a reason and is never also `non_strict` (it is not
/// graded at all).
fn untestable_problems(a: &Alternative, field: &str, p: &mut impl FnMut(String, String)) {
    let Some(why) = &a.untestable else { return };
    if why.trim().is_empty() {
        p(
            field.into(),
            "`untestable` needs the reason the broker's answer leaves the statement unchecked"
                .into(),
        );
    }
    if a.non_strict {
        p(
            field.into(),
            "an alternative is either `untestable` or `non_strict`, not both".into(),
        );
    }
}

/// Parses hex written with optional spaces, newlines and `#` comments to the end of a line.
pub fn parse_hex(text: &str) -> Result<Vec<u8>, String> {
    // Characters, not bytes: slicing the text by byte offsets would panic inside a multi-byte
    // character (found by the `scenario` fuzz target).
    let digits: Vec<char> = text
        .lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .flat_map(|l| l.chars())
        .filter(|c| !c.is_whitespace())
        .collect();
    if digits.len() % 2 != 0 {
        return Err(format!("hex `{text}` has an odd number of digits"));
    }
    digits
        .chunks(2)
        .map(|pair| match pair {
            &[hi, lo] => match (hi.to_digit(16), lo.to_digit(16)) {
                (Some(hi), Some(lo)) => u8::try_from(hi << 4 | lo).map_err(|e| e.to_string()),
                _ => Err(format!("`{hi}{lo}` is not a hex byte")),
            },
            _ => Err(format!("hex `{text}` has an odd number of digits")),
        })
        .collect()
}

/// The JSON schema of a scenario file, pretty-printed with a trailing newline.
pub fn schema_json() -> String {
    let schema = schemars::schema_for!(Scenario);
    let mut s = serde_json::to_string_pretty(&schema).unwrap_or_default();
    s.push('\n');
    s
}
