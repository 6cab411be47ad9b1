//! Spec coverage, per version: which wire-testable server statements the corpus checks, and
//! which client statements whose violation the server must act on (as a Malformed Packet or a
//! Protocol Error) the corpus provokes.

use std::collections::{BTreeMap, BTreeSet};

use crate::catalogue::{self, Statement};
use crate::corpus::Loaded;
use crate::scenario::Version;

/// Coverage of one set of statements.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Part {
    /// Statements in the set.
    pub total: usize,
    /// How many some scenario cites.
    pub covered: usize,
    /// Cited statements with the scenarios that cite them.
    pub checked: BTreeMap<String, Vec<String>>,
    /// Statements of the set no scenario cites.
    pub uncovered: Vec<String>,
}

/// Coverage of one version.
#[derive(Debug, Clone, serde::Serialize)]
pub struct VersionCoverage {
    /// The version.
    pub version: Version,
    /// Wire-testable statements binding the server.
    #[serde(flatten)]
    pub server: Part,
    /// Client statements whose violation the server must treat as malformed or a Protocol
    /// Error; a scenario covers one by sending the forbidden packet.
    pub client_violations: Part,
}

/// Computes coverage for each version.
pub fn compute(corpus: &[Loaded], versions: &[Version]) -> Vec<VersionCoverage> {
    versions
        .iter()
        .map(|&v| {
            let mut cited: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for l in corpus.iter().filter(|l| l.scenario.versions.contains(&v)) {
                for s in l.scenario.statements.for_version(v) {
                    cited.entry(s.id).or_default().push(l.scenario.id.clone());
                }
            }
            let all = catalogue::statements(v.catalogue());
            VersionCoverage {
                version: v,
                server: part(all, Statement::is_server_wire_testable, &cited),
                client_violations: part(all, Statement::is_client_violation, &cited),
            }
        })
        .collect()
}

/// Coverage of the statements of `all` that `pick` selects.
fn part(
    all: &[Statement],
    pick: fn(&Statement) -> bool,
    cited: &BTreeMap<String, Vec<String>>,
) -> Part {
    let set: Vec<&Statement> = all.iter().filter(|s| pick(s)).collect();
    let ids: BTreeSet<&str> = set.iter().map(|s| s.id).collect();
    let checked: BTreeMap<String, Vec<String>> = cited
        .iter()
        .filter(|(id, _)| ids.contains(id.as_str()))
        .map(|(id, list)| (id.clone(), list.clone()))
        .collect();
    let uncovered = set
        .iter()
        .filter(|s| !checked.contains_key(s.id))
        .map(|s| s.id.to_owned())
        .collect();
    Part {
        total: set.len(),
        covered: checked.len(),
        checked,
        uncovered,
    }
}
