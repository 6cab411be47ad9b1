//! The broker list `certify` reads (`scenarios/brokers/*.yaml`): which brokers, how to start
//! and stop them, with which profile and versions.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::Error;
use crate::profile::Credentials;
use crate::scenario::Version;

/// A broker list file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrokerList {
    /// The brokers, certified in this order.
    pub brokers: Vec<BrokerEntry>,
    /// Where the file is: start and stop commands run there, and profile paths are relative
    /// to it.
    #[serde(skip)]
    pub dir: PathBuf,
}

/// One broker to certify.
///
/// `url`, `start` and `stop` may hold `{port}` (a free loopback port picked for this broker),
/// `{run}` (a fresh scratch folder for it under the output folder) and `{dir}` (the list
/// file's folder).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrokerEntry {
    /// A short name: a column of the matrix and the JUnit file's name.
    pub name: String,
    /// The broker URL.
    pub url: String,
    /// A shell command that starts the broker in the foreground; without it the broker must
    /// already be running.
    #[serde(default)]
    pub start: Option<String>,
    /// A shell command that stops it; default: SIGTERM to the start command's process group,
    /// SIGKILL after a grace period.
    #[serde(default)]
    pub stop: Option<String>,
    /// Credentials for every CONNECT.
    #[serde(default)]
    pub credentials: Option<Credentials>,
    /// A profile file (relative to the list) or built-in name; default: discovered.
    #[serde(default)]
    pub profile: Option<String>,
    /// The versions to run; default: every version.
    #[serde(default)]
    pub versions: Option<Vec<Version>>,
    /// Multiplies every timeout for this broker.
    #[serde(default)]
    pub timeout_scale: Option<f64>,
    /// Seconds to wait for the port after `start` (default 60).
    #[serde(default)]
    pub start_timeout: Option<u64>,
    /// At most this many scenario runs at once against this broker (default: the command
    /// line's `--jobs`), for a broker whose concurrent clients disturb each other.
    #[serde(default)]
    pub jobs: Option<usize>,
}

impl BrokerEntry {
    /// The scenario runs at once against this broker: `requested` (the command line's),
    /// capped by the list's `jobs`.
    pub fn jobs(&self, requested: usize) -> usize {
        self.jobs.map_or(requested, |cap| requested.min(cap)).max(1)
    }
}

impl BrokerList {
    /// Reads and checks a list file.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Usage(format!("cannot read {}: {e}", path.display())))?;
        let mut list =
            Self::parse(&text).map_err(|e| Error::Usage(format!("{}: {e}", path.display())))?;
        list.dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        Ok(list)
    }

    /// Parses and checks a list's text (its folder is left empty).
    fn parse(text: &str) -> Result<Self, Error> {
        let list: Self = crate::corpus::from_yaml(text).map_err(|e| Error::Usage(e.to_string()))?;
        list.check()?;
        Ok(list)
    }

    fn check(&self) -> Result<(), Error> {
        if self.brokers.is_empty() {
            return Err(Error::Usage("the broker list is empty".into()));
        }
        let mut seen = std::collections::BTreeSet::new();
        for b in &self.brokers {
            let ok = !b.name.is_empty()
                && b.name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if !ok {
                return Err(Error::Usage(format!(
                    "broker name `{}`: use letters, digits, '-', '_' and '.' only",
                    b.name
                )));
            }
            if !seen.insert(b.name.as_str()) {
                return Err(Error::Usage(format!("broker `{}` is listed twice", b.name)));
            }
            if b.timeout_scale.is_some_and(|s| !(s > 0.0 && s.is_finite())) {
                return Err(Error::Usage(format!(
                    "broker `{}`: timeout_scale must be a positive number",
                    b.name
                )));
            }
            if b.jobs == Some(0) {
                return Err(Error::Usage(format!(
                    "broker `{}`: jobs must be at least 1",
                    b.name
                )));
            }
        }
        Ok(())
    }

    /// A profile path resolved against the list's folder (a built-in name stays as it is).
    pub fn profile_spec(&self, spec: &str) -> String {
        let p = self.dir.join(spec);
        if p.exists() {
            p.display().to_string()
        } else {
            spec.to_owned()
        }
    }
}

/// Fills `{port}`, `{run}` and `{dir}` in.
pub fn fill(text: &str, port: u16, run: &Path, dir: &Path) -> String {
    text.replace("{port}", &port.to_string())
        .replace("{run}", &run.display().to_string())
        .replace("{dir}", &dir.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: &str = "brokers:\n  - name: b\n    url: mqtt://127.0.0.1:{port}\n";

    #[test]
    fn jobs_caps_the_command_line() {
        let list = BrokerList::parse(&format!("{ONE}    jobs: 4\n")).unwrap();
        let b = &list.brokers[0];
        assert_eq!(b.jobs, Some(4));
        assert_eq!(b.jobs(32), 4);
        assert_eq!(b.jobs(2), 2, "a smaller --jobs stays");
    }

    #[test]
    fn jobs_default_is_the_command_line() {
        let list = BrokerList::parse(ONE).unwrap();
        assert_eq!(list.brokers[0].jobs, None);
        assert_eq!(list.brokers[0].jobs(32), 32);
        assert_eq!(list.brokers[0].jobs(0), 1);
    }

    #[test]
    fn jobs_zero_or_negative_is_refused() {
        let zero = BrokerList::parse(&format!("{ONE}    jobs: 0\n"))
            .unwrap_err()
            .to_string();
        assert!(
            zero.contains("broker `b`: jobs must be at least 1"),
            "{zero}"
        );
        assert!(BrokerList::parse(&format!("{ONE}    jobs: -1\n")).is_err());
        assert!(BrokerList::parse(&format!("{ONE}    jobs: two\n")).is_err());
    }
}
