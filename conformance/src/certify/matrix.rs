//! The matrix: brokers × scenarios × versions, as data. `matrix.json` is this serialised; its
//! JSON schema is generated from these types (`matrix.schema.json`, checked in and tested).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Serialize;

use crate::client::Transcript;
use crate::runner::{Outcome, RunReport, ScenarioResult};

/// The `format` field of every matrix.
pub const FORMAT: &str = "mqtt-conformance-matrix";
/// Bumped on every incompatible change of the JSON.
pub const FORMAT_VERSION: u32 = 1;

/// A certification of several brokers.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Matrix {
    /// Always `mqtt-conformance-matrix`.
    pub format: String,
    /// [`FORMAT_VERSION`].
    pub format_version: u32,
    /// The tool's version.
    pub tool_version: String,
    /// When the certification started (RFC 3339).
    pub started: String,
    /// The protocol versions of the columns, oldest first.
    pub versions: Vec<String>,
    /// One per broker, in list order.
    pub brokers: Vec<BrokerColumn>,
    /// One per scenario, by area and id.
    pub scenarios: Vec<ScenarioRow>,
}

/// One broker's run.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BrokerColumn {
    /// The short name from the list.
    pub name: String,
    /// Its URL.
    pub url: String,
    /// The broker's name and version, from the profile.
    pub broker: String,
    /// The profile graded against (`(discovered)` when none was given).
    pub profile: String,
    /// The versions run.
    pub versions: Vec<String>,
    /// Why the broker could not be certified at all (could not start, unreachable).
    pub error: Option<String>,
    /// When the broker stopped answering during the run, and after which scenarios.
    pub down: Option<String>,
    /// Whether every result was as the profile expects.
    pub ok: bool,
    /// Wall time of its run, in milliseconds.
    pub duration_ms: u64,
    /// Results per outcome.
    pub counts: BTreeMap<CellOutcome, usize>,
    /// The profile's deviations, each with its reason.
    pub deviations: Vec<DeviationEntry>,
    /// Warnings of the run.
    pub warnings: Vec<String>,
}

/// A known deviation a profile lists.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviationEntry {
    /// The scenario.
    pub id: String,
    /// The versions it applies to (empty: all).
    pub versions: Vec<String>,
    /// The statement broken and what the broker does.
    pub reason: String,
}

/// One scenario across brokers and versions.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScenarioRow {
    /// Scenario id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Area (folder).
    pub area: String,
    /// The statements it checks, per version.
    pub statements: Vec<StatementEntry>,
    /// One per broker and version the scenario ran (or was skipped) under.
    pub cells: Vec<Cell>,
}

/// A statement a scenario checks.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatementEntry {
    /// e.g. `MQTT-3.3.5-2`.
    pub id: String,
    /// `must`, `should` or `may`.
    pub level: String,
    /// The version whose catalogue it is from.
    pub version: String,
}

/// One scenario under one version against one broker.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Cell {
    /// The broker's short name.
    pub broker: String,
    /// The version.
    pub version: String,
    /// The outcome.
    pub outcome: CellOutcome,
    /// Why (empty on a plain pass).
    pub message: String,
    /// Every packet both ways, one line each (empty when the scenario did not run).
    pub transcript: String,
    /// Wall time in milliseconds.
    pub duration_ms: u64,
}

/// A cell's outcome: the runner's, or not run at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CellOutcome {
    /// Passed.
    Pass,
    /// A MUST was broken.
    Fail,
    /// Failed as the profile says it does.
    ExpectedFailure,
    /// Passed although the profile lists it as a deviation.
    UnexpectedPass,
    /// A SHOULD was not followed.
    NonStrict,
    /// The harness could not do its job.
    Error,
    /// Not run: a capability or version the broker lacks.
    Skip,
    /// Not run: the broker was down.
    NotRun,
}

impl CellOutcome {
    /// The snake_case keyword (also the CSS class).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::ExpectedFailure => "expected_failure",
            Self::UnexpectedPass => "unexpected_pass",
            Self::NonStrict => "non_strict",
            Self::Error => "error",
            Self::Skip => "skip",
            Self::NotRun => "not_run",
        }
    }

    /// Whether the outcome makes a certification fail (it was not what the profile expects).
    pub fn unexpected(self) -> bool {
        matches!(
            self,
            Self::Fail | Self::UnexpectedPass | Self::Error | Self::NotRun
        )
    }
}

impl From<Outcome> for CellOutcome {
    fn from(o: Outcome) -> Self {
        match o {
            Outcome::Pass => Self::Pass,
            Outcome::Fail => Self::Fail,
            Outcome::Skip => Self::Skip,
            Outcome::ExpectedFailure => Self::ExpectedFailure,
            Outcome::UnexpectedPass => Self::UnexpectedPass,
            Outcome::NonStrict => Self::NonStrict,
            Outcome::Error => Self::Error,
        }
    }
}

/// A result's cell outcome: a scenario the broker's death kept from running is "not run".
pub fn outcome(x: &ScenarioResult) -> CellOutcome {
    if x.down
        .as_ref()
        .is_some_and(|d| d.when == crate::runner::DownWhen::Before)
    {
        CellOutcome::NotRun
    } else {
        x.outcome.into()
    }
}

/// The schema of `matrix.json`, pretty-printed.
pub fn schema_json() -> String {
    let schema = schemars::schema_for!(Matrix);
    serde_json::to_string_pretty(&schema).unwrap_or_default() + "\n"
}

/// Adds one broker's results to the rows (creating rows as scenarios appear).
pub fn add_results(rows: &mut BTreeMap<(String, String), ScenarioRow>, name: &str, r: &RunReport) {
    for x in &r.results {
        let row = rows
            .entry((x.area.clone(), x.id.clone()))
            .or_insert_with(|| ScenarioRow {
                id: x.id.clone(),
                title: x.title.clone(),
                area: x.area.clone(),
                statements: Vec::new(),
                cells: Vec::new(),
            });
        for s in &x.statements {
            let e = StatementEntry {
                id: s.id.clone(),
                level: s.level.as_str().to_owned(),
                version: x.version.key().to_owned(),
            };
            if !row.statements.contains(&e) {
                row.statements.push(e);
            }
        }
        row.cells.push(Cell {
            broker: name.to_owned(),
            version: x.version.key().to_owned(),
            outcome: outcome(x),
            message: x.message.clone(),
            transcript: Transcript::render(&x.transcript),
            duration_ms: u64::try_from(x.duration.as_millis()).unwrap_or(u64::MAX),
        });
    }
}
