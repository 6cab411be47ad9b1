//! Schedules scenario runs against one broker, in four parts: `health` checks the broker
//! (and which versions it offers) before, during and after the run; `plan` turns the corpus
//! into jobs and skips; `schedule` runs the jobs in parallel, exclusive scenarios alone,
//! telling a dying broker from a misbehaving one and cleaning up after each; `grade` turns
//! executions into outcomes, repeats and profile deviations included.

mod cleanup;
mod down;
mod grade;
mod health;
mod plan;
mod schedule;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crate::client::Entry;
use crate::corpus::Loaded;
use crate::exec::{Failure, Settings};
use crate::profile::Profile;
use crate::scenario::{Capability, StatementRef, Version};

pub(crate) use cleanup::cleanup;
pub use down::{Down, DownWhen, Suspect, list as suspect_list};
pub(crate) use grade::grade;
pub(crate) use health::responsive;
pub use plan::overall_limit;

/// The graded outcome of one scenario under one version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Every step behaved as the spec requires.
    Pass,
    /// A MUST was broken.
    Fail,
    /// Not run: the broker lacks a capability or version.
    Skip,
    /// Failed, as the profile says it does.
    ExpectedFailure,
    /// Passed although the profile lists it as a deviation.
    UnexpectedPass,
    /// A SHOULD was not followed.
    NonStrict,
    /// The harness could not do its job.
    Error,
}

impl Outcome {
    /// The snake_case keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::Skip => "skip",
            Self::ExpectedFailure => "expected_failure",
            Self::UnexpectedPass => "unexpected_pass",
            Self::NonStrict => "non_strict",
            Self::Error => "error",
        }
    }

    /// Whether this outcome makes the run fail.
    pub fn fails_run(self, strict: bool) -> bool {
        match self {
            Self::Fail | Self::UnexpectedPass | Self::Error => true,
            Self::NonStrict => strict,
            Self::Pass | Self::Skip | Self::ExpectedFailure => false,
        }
    }
}

/// The result of one scenario under one version.
#[derive(Debug, Clone)]
pub struct ScenarioResult {
    /// Scenario id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Area (folder).
    pub area: String,
    /// Version.
    pub version: Version,
    /// Outcome.
    pub outcome: Outcome,
    /// The statements checked under this version.
    pub statements: Vec<StatementRef>,
    /// Wall time of the run (of the first repeat).
    pub duration: Duration,
    /// A one-paragraph explanation (empty on pass).
    pub message: String,
    /// The failing step, if any.
    pub failure: Option<Failure>,
    /// The transcript (kept for failures, errors and non-strict results, and for every result
    /// when [`Options::keep_transcripts`] is on).
    pub transcript: Vec<Entry>,
    /// Outcomes of each repeat when they differ (flaky).
    pub flaky: Option<Vec<Outcome>>,
    /// Set when the broker's death decided this result (an error, not a verdict).
    pub down: Option<Down>,
}

/// Options of a run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Broker and timing.
    pub settings: Settings,
    /// Parallel scenario runs.
    pub jobs: usize,
    /// Runs per scenario.
    pub repeat: usize,
    /// Order seed.
    pub seed: u64,
    /// Ignore profile deviations.
    pub strict: bool,
    /// Versions selected on the command line.
    pub versions: Vec<Version>,
    /// Keep every result's transcript, passes included (for `--record`).
    pub keep_transcripts: bool,
    /// Run the scenarios that leave delayed wills one at a time among themselves
    /// ([`crate::scenario::Scenario::delays_wills`]), so that a broker's faulty queue of
    /// delayed wills cannot make one scenario's verdict depend on which others overlapped it.
    /// On for an external broker; the in-process reference broker times each will on its own.
    pub delayed_wills_apart: bool,
}

/// Everything a run produced.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// Per scenario and version, sorted by area, id, version.
    pub results: Vec<ScenarioResult>,
    /// The broker URL.
    pub broker: String,
    /// The profile's broker name.
    pub broker_name: String,
    /// The profile name.
    pub profile: String,
    /// Start time.
    pub started: SystemTime,
    /// Wall time.
    pub duration: Duration,
    /// The order seed.
    pub seed: u64,
    /// Warnings: CONNACK properties that differ from the profile, stale deviations, health.
    pub warnings: Vec<String>,
    /// Whether `--strict` was on.
    pub strict: bool,
    /// When the broker died during the run: the likely culprits, most likely first.
    pub down: Option<Vec<Suspect>>,
}

impl RunReport {
    /// Counts per outcome.
    pub fn counts(&self) -> BTreeMap<Outcome, usize> {
        let mut m = BTreeMap::new();
        for r in &self.results {
            *m.entry(r.outcome).or_insert(0) += 1;
        }
        m
    }

    /// Whether the run failed.
    pub fn failed(&self) -> bool {
        self.results
            .iter()
            .any(|r| r.outcome.fails_run(self.strict))
            || self.results.iter().any(|r| r.flaky.is_some())
    }
}

/// Runs the corpus. Errors only when the broker cannot be reached at all.
pub async fn run(
    corpus: &[Loaded],
    profile: &Profile,
    opts: &Options,
    progress: &indicatif::ProgressBar,
) -> Result<RunReport, crate::error::Error> {
    let started = SystemTime::now();
    let clock = Instant::now();
    let settings = Arc::new(opts.settings.clone());
    // A broker set up to redirect every client answers CONNECT with 0x9C/0x9D: alive.
    let redirects = profile.has(Capability::ServerRedirection);
    let versions = health::probe_versions(&settings, profile, &opts.versions, redirects).await?;
    let mut warnings = versions.warnings;
    let plan = plan::plan(corpus, profile, opts, &versions.absent);
    progress.set_length(plan.jobs.len() as u64);
    let ran = schedule::execute(
        corpus,
        plan.jobs,
        schedule::Locks {
            parallel: opts.jobs,
            delayed_wills_apart: opts.delayed_wills_apart,
        },
        &settings,
        redirects,
        progress,
    )
    .await;
    let mut results = plan.results;
    results.extend(grade::collect(corpus, ran.attempts, profile, opts));
    warnings.extend(health::after_run(&settings, &versions.offered, redirects, &ran.state).await);
    let down = ran.state.dead();
    results.sort_by(|a, b| (&a.area, &a.id, a.version).cmp(&(&b.area, &b.id, b.version)));
    Ok(RunReport {
        results,
        broker: settings.target.url.clone(),
        broker_name: profile.broker.clone(),
        profile: profile.name.clone(),
        started,
        duration: clock.elapsed(),
        seed: opts.seed,
        warnings,
        strict: opts.strict,
        down,
    })
}
