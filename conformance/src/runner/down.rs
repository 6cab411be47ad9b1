//! The broker's death as data: which scenarios were running or had just finished when it was
//! noticed, and when, relative to the scenario whose result it decided. Crash isolation reads
//! these fields; the wording is only for people.

use std::fmt;

use crate::scenario::Version;

/// A scenario under one version: a suspect of the broker's death.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Suspect {
    /// Scenario id.
    pub id: String,
    /// Version it ran under.
    pub version: Version,
}

impl fmt::Display for Suspect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.id, self.version)
    }
}

/// When the death was noticed, relative to the scenario whose result it decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DownWhen {
    /// Before the scenario started: it never ran.
    Before,
    /// While it ran, or at its end.
    During,
    /// After it ran past its overall limit.
    AfterHang,
}

impl fmt::Display for DownWhen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Before => "earlier in the run",
            Self::During => "during this scenario",
            Self::AfterHang => "after the scenario hung",
        })
    }
}

/// How the broker's death decided one result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Down {
    /// When it was noticed.
    pub when: DownWhen,
    /// The likely culprits, most likely first: the scenario that noticed the death, those
    /// running beside it, those just finished.
    pub suspects: Vec<Suspect>,
}

impl fmt::Display for Down {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the broker stopped answering {}; likely culprit: {}",
            self.when,
            list(&self.suspects)
        )
    }
}

/// `a (5.0), b (3.1.1)`.
pub fn list(suspects: &[Suspect]) -> String {
    suspects
        .iter()
        .map(Suspect::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
