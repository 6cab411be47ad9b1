//! Spec coverage: which wire-testable server statements the corpus checks, per version.

use std::collections::{BTreeMap, BTreeSet};

use crate::catalogue::{self, Statement};
use crate::corpus::Loaded;
use crate::scenario::Version;

/// Coverage of one version.
#[derive(Debug, Clone, serde::Serialize)]
pub struct VersionCoverage {
    /// The version.
    pub version: Version,
    /// Wire-testable server statements.
    pub total: usize,
    /// How many some scenario checks.
    pub covered: usize,
    /// Checked statements with the scenarios that check them.
    pub checked: BTreeMap<String, Vec<String>>,
    /// Wire-testable server statements no scenario checks.
    pub uncovered: Vec<String>,
}

/// Computes coverage for each version.
pub fn compute(corpus: &[Loaded], versions: &[Version]) -> Vec<VersionCoverage> {
    versions
        .iter()
        .map(|&v| {
            let testable: Vec<&Statement> = catalogue::statements(v.catalogue())
                .iter()
                .filter(|s| s.is_server_wire_testable())
                .collect();
            let mut cited: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for l in corpus.iter().filter(|l| l.scenario.versions.contains(&v)) {
                for s in l.scenario.statements.for_version(v) {
                    cited.entry(s.id).or_default().push(l.scenario.id.clone());
                }
            }
            let ids: BTreeSet<&str> = testable.iter().map(|s| s.id).collect();
            let checked: BTreeMap<String, Vec<String>> = cited
                .into_iter()
                .filter(|(id, _)| ids.contains(id.as_str()))
                .collect();
            let uncovered = testable
                .iter()
                .filter(|s| !checked.contains_key(s.id))
                .map(|s| s.id.to_owned())
                .collect();
            VersionCoverage {
                version: v,
                total: testable.len(),
                covered: checked.len(),
                checked,
                uncovered,
            }
        })
        .collect()
}
