//! Crash and wedge isolation. When the broker stops answering mid-run, the runner makes every
//! later scenario an error naming the likely culprits. This turns that into one statement of
//! what happened and, when the harness started the broker itself, finds the scenario that
//! kills it: restart, re-run the suspects one at a time until the broker dies again, report
//! that scenario as a failure with its transcript (a minimal reproducer), then re-run the
//! scenarios the death kept from running.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use super::process::{Launch, Process};
use crate::corpus::Loaded;
use crate::error::Error;
use crate::exec;
use crate::probe::Endpoint;
use crate::profile::Profile;
use crate::runner::{self, Options, Outcome, RunReport, ScenarioResult};
use crate::scenario::Version;

/// The message of a scenario the broker's death kept from running.
pub const NOT_RUN: &str = "not run (broker down)";
/// The runner's words for a result the broker's death decided.
const DOWN: &str = "stopped answering";
/// The runner's words before its list of suspects.
const CULPRITS: &str = "likely culprit: ";
/// Rounds of restart and re-run before the rest is left "not run".
const ROUNDS: usize = 3;
/// Suspects re-run alone per round, at most.
const MAX_SUSPECTS: usize = 40;

/// A broker the harness started and may restart.
#[derive(Debug)]
pub struct Managed {
    /// How to start it.
    pub launch: Launch,
    /// The running process.
    pub process: Process,
    /// The stop command, if any.
    pub stop: Option<String>,
}

impl Managed {
    /// Starts the broker.
    pub async fn start(launch: Launch, stop: Option<String>) -> Result<Self, Error> {
        let process = launch.start().await?;
        Ok(Self {
            launch,
            process,
            stop,
        })
    }

    /// Stops it.
    pub async fn stop(&mut self) {
        let cwd = self.launch.cwd.clone();
        self.process.stop(self.stop.as_deref(), &cwd).await;
    }

    async fn restart(&mut self) -> Result<(), Error> {
        self.stop().await;
        self.process = self.launch.start().await?;
        Ok(())
    }

    /// `Some(how)` when the broker is dead (its process exited) or wedged (it does not
    /// answer CONNECT and PINGREQ).
    async fn dead(&mut self, check: &Endpoint, v: Version) -> Option<String> {
        if let Some(exit) = self.process.exited() {
            return Some(exit);
        }
        if answers(check, v).await {
            return None;
        }
        // A dying process closes its sockets a moment before it can be reaped: wait briefly
        // for the exit, to tell a crash from a wedge.
        let exit = self.process.exit_within(Duration::from_secs(2)).await;
        Some(exit.unwrap_or_else(|| {
            "the broker process is running but answers neither CONNECT nor PINGREQ (wedged)".into()
        }))
    }

    /// The broker's output so far.
    pub fn log(&self) -> PathBuf {
        self.process.log.clone()
    }
}

/// CONNECT, CONNACK, PINGREQ, PINGRESP.
async fn answers(check: &Endpoint, v: Version) -> bool {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let id = format!(
        "mciso{}x{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    match check.connect(v.protocol(), &id, |_| {}).await {
        Ok((mut s, _)) => {
            let ok = s.ping().await;
            s.disconnect().await;
            ok
        }
        Err(_) => false,
    }
}

/// Results the death decided.
fn victims(r: &RunReport) -> Vec<usize> {
    (0..r.results.len())
        .filter(|&i| r.results[i].outcome == Outcome::Error && r.results[i].message.contains(DOWN))
        .collect()
}

/// The suspects: the runner's likely culprits first (what was running or had just finished
/// when the death was noticed), then the scenarios that found the broker gone; deduplicated.
fn suspects(r: &RunReport, victims: &[usize]) -> Vec<(String, Version)> {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for &i in victims {
        let Some((_, list)) = r.results[i].message.split_once(CULPRITS) else {
            continue;
        };
        for item in list.split(", ") {
            let Some((id, v)) = item.trim().rsplit_once(" (") else {
                continue;
            };
            let Some(v) = Version::from_key(v.trim_end_matches(')')) else {
                continue;
            };
            if seen.insert((id.to_owned(), v)) {
                out.push((id.to_owned(), v));
            }
        }
    }
    for &i in victims {
        let x = &r.results[i];
        if !x.message.contains("earlier in the run") && seen.insert((x.id.clone(), x.version)) {
            out.push((x.id.clone(), x.version));
        }
    }
    out.truncate(MAX_SUSPECTS);
    out
}

/// Makes a run the broker's death spoiled readable: one note (returned, also the first
/// warning) and one short line per scenario not run. With a `managed` broker, finds the
/// culprit and re-runs the rest first.
pub async fn recover(
    report: &mut RunReport,
    corpus: &[Loaded],
    profile: &Profile,
    opts: &Options,
    managed: Option<&mut Managed>,
) -> Option<String> {
    if victims(report).is_empty() {
        return None;
    }
    let down = victims(report);
    let first = down
        .iter()
        .copied()
        .find(|&i| !report.results[i].message.contains("earlier in the run"))
        .unwrap_or(down[0]);
    let culprits = down
        .iter()
        .find_map(|&i| report.results[i].message.split_once(CULPRITS))
        .map(|(_, list)| list.to_owned())
        .unwrap_or_default();
    let mut notes = vec![format!(
        "the broker stopped answering during the run ({} s in; first noticed by {} [{}]; \
         {CULPRITS}{culprits})",
        report.duration.as_secs(),
        report.results[first].id,
        report.results[first].version
    )];
    if let Some(m) = managed {
        for _ in 0..ROUNDS {
            if victims(report).is_empty() {
                break;
            }
            match round(report, corpus, profile, opts, m).await {
                Ok(note) => notes.push(note),
                Err(e) => {
                    notes.push(format!("could not restart the broker: {e}"));
                    break;
                }
            }
        }
    }
    let left = victims(report);
    for &i in &left {
        let x = &mut report.results[i];
        if x.message.contains("earlier in the run") {
            x.message = NOT_RUN.into();
            x.transcript.clear();
        } else {
            // It ran and found the broker gone: say so, without the list of suspects again.
            x.message = "the broker stopped answering during this scenario".into();
        }
    }
    if !left.is_empty() {
        notes.push(format!("{} scenarios not run (broker down)", left.len()));
    }
    let note = notes.join("; ");
    report
        .warnings
        .retain(|w| !w.contains("died during the run"));
    report.warnings.insert(0, note.clone());
    Some(note)
}

/// One restart: find the culprit among the suspects, then re-run the victims.
async fn round(
    report: &mut RunReport,
    corpus: &[Loaded],
    profile: &Profile,
    opts: &Options,
    m: &mut Managed,
) -> Result<String, Error> {
    let down = victims(report);
    let suspects = suspects(report, &down);
    let check = Endpoint {
        target: opts.settings.target.clone(),
        credentials: opts.settings.credentials.clone(),
        timeout: opts.settings.step_timeout,
    };
    m.restart().await?;
    let mut note = format!(
        "restarted it and re-ran {} suspects one at a time",
        suspects.len()
    );
    let mut culprit = None;
    for (n, (id, v)) in suspects.iter().enumerate() {
        let Some(l) = corpus.iter().find(|l| &l.scenario.id == id) else {
            continue;
        };
        let limit =
            opts.settings.step_timeout * 4 * u32::try_from(l.scenario.steps.len()).unwrap_or(64);
        let tag = format!("iso{n:04}");
        let run = exec::execute(&l.scenario, *v, &tag, &opts.settings);
        let exec = tokio::time::timeout(limit.min(Duration::from_secs(300)), run).await;
        if let Some(death) = m.dead(&check, *v).await {
            let transcript = exec.map(|e| e.transcript).unwrap_or_default();
            culprit = Some((l, *v, death, transcript));
            m.restart().await?;
            break;
        }
    }
    match culprit {
        Some((l, v, death, transcript)) => {
            note = format!(
                "{note}: `{}` [{v}] kills it on its own ({death})",
                l.scenario.id
            );
            let r = crash_result(l, v, &death, transcript, profile, opts, &m.log());
            replace(report, r);
        }
        None => {
            note.push_str(": none killed it alone (it dies only under concurrent scenarios)");
        }
    }
    // A death that comes later than the scenario causing it (a timer, a queue) shows here.
    if let Some(v) = suspects.first().map(|s| s.1) {
        if let Some(death) = m.dead(&check, v).await {
            note = format!("{note}; it died after them all ({death}) and was restarted");
            m.restart().await?;
        }
    }
    if let Err(e) = rerun(report, corpus, profile, opts).await {
        note = format!("{note}; re-running the rest failed: {e}");
    }
    Ok(note)
}

/// The culprit's result: a failure with the crash in the message, unless the profile lists it.
fn crash_result(
    l: &Loaded,
    v: Version,
    death: &str,
    transcript: Vec<crate::client::Entry>,
    profile: &Profile,
    opts: &Options,
    log: &std::path::Path,
) -> ScenarioResult {
    let tail = super::process::tail(log);
    let mut message = format!(
        "the broker died during this scenario, reproduced alone after a restart: {death}; \
         the transcript is a minimal reproducer"
    );
    if !tail.trim().is_empty() {
        let last: Vec<&str> = tail.lines().rev().take(5).collect::<Vec<_>>();
        let last: Vec<&str> = last.into_iter().rev().collect();
        message = format!("{message}; the broker's last output: {}", last.join(" | "));
    }
    let mut outcome = Outcome::Fail;
    if let Some(d) = profile
        .deviation(&l.scenario.id, v)
        .filter(|_| !opts.strict)
    {
        outcome = Outcome::ExpectedFailure;
        message = format!("known deviation: {} ({message})", d.reason);
    }
    ScenarioResult {
        id: l.scenario.id.clone(),
        title: l.scenario.title.clone(),
        area: l.area.clone(),
        version: v,
        outcome,
        statements: l.scenario.statements.for_version(v),
        duration: Duration::ZERO,
        message,
        failure: None,
        transcript,
        flaky: None,
    }
}

fn replace(report: &mut RunReport, r: ScenarioResult) {
    if let Some(x) = report
        .results
        .iter_mut()
        .find(|x| x.id == r.id && x.version == r.version)
    {
        *x = r;
    }
}

/// Runs the victims again (their scenarios, under their versions) and takes the new results.
async fn rerun(
    report: &mut RunReport,
    corpus: &[Loaded],
    profile: &Profile,
    opts: &Options,
) -> Result<(), Error> {
    let down: BTreeSet<(String, Version)> = victims(report)
        .into_iter()
        .map(|i| (report.results[i].id.clone(), report.results[i].version))
        .collect();
    if down.is_empty() {
        return Ok(());
    }
    let subset: Vec<Loaded> = corpus
        .iter()
        .filter(|l| down.iter().any(|(id, _)| *id == l.scenario.id))
        .cloned()
        .collect();
    let mut opts = opts.clone();
    opts.versions.retain(|v| down.iter().any(|(_, dv)| dv == v));
    let bar = indicatif::ProgressBar::hidden();
    let again = runner::run(&subset, profile, &opts, &bar).await?;
    for r in again.results {
        if down.contains(&(r.id.clone(), r.version)) {
            replace(report, r);
        }
    }
    Ok(())
}
