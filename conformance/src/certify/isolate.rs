//! Crash and wedge isolation. When the broker stops answering mid-run, the runner marks every
//! later result as decided by the death (`ScenarioResult::down`, with the likely culprits).
//! This turns that into one statement of what happened and, when the harness started the
//! broker itself, finds what kills it: restart, re-run the suspects one at a time until the
//! broker dies again and report that scenario as a failure with its transcript (a minimal
//! reproducer). A death none of them causes alone is looked for in the suspects run together,
//! as the run did, narrowed by bisection (`bisect`). Then the scenarios the death kept from
//! running run again.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use super::bisect::{Isolation, Trial};
use super::process::{Launch, Process};
use crate::corpus::Loaded;
use crate::error::Error;
use crate::probe::Endpoint;
use crate::profile::Profile;
use crate::runner::{self, DownWhen, Options, RunReport, ScenarioResult, Suspect};
use crate::scenario::Version;

/// The message of a scenario the broker's death kept from running.
pub const NOT_RUN: &str = "not run (broker down)";
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

    pub(super) async fn restart(&mut self) -> Result<(), Error> {
        self.stop().await;
        self.process = self.launch.start().await?;
        Ok(())
    }

    /// `Some(how)` when the broker is dead (its process exited) or wedged (it does not
    /// answer CONNECT and PINGREQ).
    pub(super) async fn dead(&mut self, check: &Endpoint, v: Version) -> Option<String> {
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
        .filter(|&i| r.results[i].down.is_some())
        .collect()
}

/// Whether the death kept this result from running at all.
fn never_ran(x: &ScenarioResult) -> bool {
    x.down.as_ref().is_some_and(|d| d.when == DownWhen::Before)
}

/// The suspects: the runner's likely culprits first (what was running or had just finished
/// when the death was noticed), then the scenarios that found the broker gone; deduplicated.
fn suspects(r: &RunReport, victims: &[usize]) -> Vec<Suspect> {
    let mut out: Vec<Suspect> = Vec::new();
    let noticed = victims
        .iter()
        .filter_map(|&i| r.results[i].down.as_ref())
        .flat_map(|d| d.suspects.iter());
    let ran = victims
        .iter()
        .map(|&i| &r.results[i])
        .filter(|x| !never_ran(x))
        .map(|x| Suspect {
            id: x.id.clone(),
            version: x.version,
        })
        .collect::<Vec<_>>();
    for s in r.down.iter().flatten().chain(noticed).chain(ran.iter()) {
        if !out.contains(s) {
            out.push(s.clone());
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
    let down = victims(report);
    if down.is_empty() && report.down.is_none() {
        return None;
    }
    let mut notes = vec![first_note(report, &down)];
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
        if never_ran(x) {
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
    report.warnings.insert(0, note.clone());
    Some(note)
}

/// When, and the likely culprits (the first is the scenario that noticed the death).
fn first_note(report: &RunReport, down: &[usize]) -> String {
    let culprits = report
        .down
        .clone()
        .or_else(|| {
            down.iter()
                .find_map(|&i| report.results[i].down.as_ref())
                .map(|d| d.suspects.clone())
        })
        .unwrap_or_default();
    format!(
        "the broker stopped answering during the run ({} s in; likely culprit: {})",
        report.duration.as_secs(),
        runner::suspect_list(&culprits)
    )
}

/// One restart: find the culprit among the suspects (alone, then together), then re-run the
/// victims.
async fn round(
    report: &mut RunReport,
    corpus: &[Loaded],
    profile: &Profile,
    opts: &Options,
    m: &mut Managed,
) -> Result<String, Error> {
    let down = victims(report);
    let suspects: Vec<Trial> = suspects(report, &down)
        .into_iter()
        .filter_map(|s| Trial::find(corpus, s))
        .collect();
    let mut iso = Isolation {
        m,
        opts,
        check: Endpoint {
            target: opts.settings.target.clone(),
            credentials: opts.settings.credentials.clone(),
            timeout: opts.settings.step_timeout,
        },
    };
    iso.m.restart().await?;
    let mut note = format!(
        "restarted it and re-ran {} suspects one at a time",
        suspects.len()
    );
    match iso.alone(&suspects).await? {
        Some(found) => {
            note = format!(
                "{note}: `{}` [{}] kills it on its own ({})",
                found.trial.loaded.scenario.id, found.trial.version, found.death
            );
            let why = format!(
                "the broker died during this scenario, reproduced alone after a restart: {}; \
                 the transcript is a minimal reproducer{}",
                found.death,
                last_output(&iso.m.log())
            );
            replace(report, found.graded(why, profile, opts));
        }
        None => {
            let group = iso.together(&suspects).await?;
            note = format!("{note}: none killed it alone; {}", group.note());
            for r in group.results(profile, opts, &iso.m.log()) {
                replace(report, r);
            }
        }
    }
    // A death that comes later than the scenario causing it (a timer, a queue) shows here.
    if let Some(v) = suspects.first().map(|s| s.version) {
        if let Some(death) = iso.m.dead(&iso.check, v).await {
            note = format!("{note}; it died after them all ({death}) and was restarted");
            iso.m.restart().await?;
        }
    }
    if let Err(e) = rerun(report, corpus, profile, opts).await {
        note = format!("{note}; re-running the rest failed: {e}");
    }
    Ok(note)
}

/// `; the broker's last output: a | b | c` (its last five lines), or nothing.
pub(super) fn last_output(log: &std::path::Path) -> String {
    let tail = super::process::tail(log);
    if tail.trim().is_empty() {
        return String::new();
    }
    let last: Vec<&str> = tail.lines().rev().take(5).collect();
    let last: Vec<&str> = last.into_iter().rev().collect();
    format!("; the broker's last output: {}", last.join(" | "))
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
    if again.down.is_some() {
        report.down = again.down.clone();
    }
    for r in again.results {
        if down.contains(&(r.id.clone(), r.version)) {
            replace(report, r);
        }
    }
    Ok(())
}
