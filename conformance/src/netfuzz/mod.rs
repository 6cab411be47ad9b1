//! `mqtt-conformance fuzz`: a stateful network fuzzer for any broker.
//!
//! Sessions of packets ([`generate`], [`mutate`], and with `--corpus` recorded sessions
//! ([`corpus`]) mutated field by field ([`fields`])) run against the broker in rounds of
//! `--jobs` at once ([`session`]); the protocol oracle judges what the broker sends back
//! ([`oracle`]) and after each round a fresh client must get CONNACK and PINGRESP
//! ([`broker`]); its memory and descriptors are watched ([`resources`]): the process of
//! `--broker-pid`, or the one `--broker-cmd` started.
//! Each distinct finding is replayed alone, shrunk ([`minimise`]) and written as
//! a reproducer ([`findings`]). Everything is determined by the seed, but not what the broker
//! does with it.

pub mod broker;
pub mod corpus;
pub mod fields;
pub mod findings;
pub mod generate;
pub mod minimise;
pub mod mutate;
pub mod oracle;
pub mod reproducer;
pub mod resources;
pub mod session;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::certify::process::Launch;
use crate::error::Error;
use crate::exec::Settings;
use crate::scenario::Version;
use crate::transport::Target;

use broker::Broker;
use corpus::Recorded;
use findings::{Finding, Report};
use generate::Plan;
use oracle::Violation;
use resources::{Resources, Watched};
use session::Outcome;

/// Replays one finding may use for minimisation.
const MINIMISE_BUDGET: usize = 24;

/// What to fuzz and how long.
#[derive(Debug, Clone)]
pub struct Options {
    /// The broker.
    pub target: Target,
    /// Shell command that starts it (then it is restarted after each death).
    pub broker_cmd: Option<String>,
    /// How long to generate new sessions (minimising the last finding may take longer).
    pub duration: Duration,
    /// The seed.
    pub seed: u64,
    /// Sessions at once.
    pub jobs: usize,
    /// The versions to fuzz, taken in turn.
    pub versions: Vec<Version>,
    /// The output folder.
    pub out: PathBuf,
    /// The per-step timeout of connections and health checks.
    pub step_timeout: Duration,
    /// Recorded transcripts (`run --record DIR`) to mutate as a third packet source.
    pub corpus: Option<PathBuf>,
    /// The broker's process id, for the resource oracle (an external broker; with
    /// `--broker-cmd` the started process is watched without it).
    pub broker_pid: Option<u32>,
}

/// Counters shown while the run goes on.
#[derive(Debug, Default, Clone)]
pub struct Progress {
    /// Sessions run.
    pub sessions: u64,
    /// Frames written.
    pub packets: u64,
    /// Distinct findings.
    pub findings: usize,
    /// Packet type × version pairs written at least once.
    pub covered: usize,
    /// The pairs there are: every packet type under each fuzzed version.
    pub coverable: usize,
    /// Time since fuzzing started.
    pub elapsed: Duration,
}

impl Progress {
    /// The progress line: rates, findings and coverage.
    pub fn line(&self) -> String {
        let s = self.elapsed.as_secs_f64().max(0.001);
        format!(
            "{} sessions ({:.1}/s), {} packets ({:.0}/s), {} findings, coverage {}/{} packet \
             types x versions",
            self.sessions,
            self.sessions as f64 / s,
            self.packets,
            self.packets as f64 / s,
            self.findings,
            self.covered,
            self.coverable
        )
    }
}

/// The run's state.
struct Run<'o> {
    o: &'o Options,
    broker: Broker,
    report: Report,
    started: Instant,
    recorded: Vec<Recorded>,
    resources: Option<resources::Resources>,
    versions: Vec<Version>,
}

/// Runs the fuzzer; `progress` is called after each round. Errors only when the broker cannot
/// be started or reached at all, or a file cannot be written.
pub async fn fuzz(o: &Options, progress: &dyn Fn(&Progress)) -> Result<Report, Error> {
    std::fs::create_dir_all(&o.out).map_err(Error::write(&o.out))?;
    let settings = Settings {
        target: o.target.clone(),
        step_timeout: o.step_timeout,
        scale: 1.0,
        credentials: None,
    };
    let launch = o.broker_cmd.as_ref().map(|cmd| Launch {
        command: cmd.clone(),
        cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
        log: o.out.join("broker.log"),
        host: o.target.host.clone(),
        port: o.target.port,
        timeout: Duration::from_secs(60),
    });
    let mut broker = Broker::start(settings, launch).await?;
    let mut versions = Vec::new();
    let mut refused = Vec::new();
    for &v in &o.versions {
        match broker.alive(v).await {
            Ok(()) => versions.push(v),
            Err(e) => refused.push(e),
        }
    }
    if versions.is_empty() {
        broker.stop().await;
        return Err(Error::Unreachable(refused.join("; ")));
    }
    let recorded = match &o.corpus {
        Some(dir) => corpus::load(dir, &versions)?,
        None => Vec::new(),
    };
    // An external broker by its pid; else the one started here, by its process group.
    let resources = match (o.broker_pid, broker.group()) {
        (Some(pid), _) => Some(Resources::watch(Watched::Pid(pid)).map_err(Error::Usage)?),
        // Without `/proc` (not Linux) the started broker is fuzzed without this oracle.
        (None, Some(group)) => Resources::watch(Watched::Group(group)).ok(),
        (None, None) => None,
    };
    let mut run = Run {
        o,
        broker,
        report: Report::new(o.seed),
        started: Instant::now(),
        recorded,
        resources,
        versions: versions.clone(),
    };
    let result = run.rounds(&versions, progress).await;
    run.broker.stop().await;
    result?;
    run.report.seconds = run.started.elapsed().as_secs_f64();
    run.report.restarts = run.broker.restarts;
    run.report.write(&o.out)?;
    Ok(run.report)
}

impl Run<'_> {
    async fn rounds(
        &mut self,
        versions: &[Version],
        progress: &dyn Fn(&Progress),
    ) -> Result<(), Error> {
        let mut next = 0u64;
        while self.started.elapsed() < self.o.duration {
            let plans: Vec<Plan> = (next..next + self.o.jobs.max(1) as u64)
                .map(|i| self.plan(versions, i))
                .collect();
            next += plans.len() as u64;
            let target = &self.o.target;
            let timeout = self.o.step_timeout;
            let outcomes = futures_util::future::join_all(
                plans.iter().map(|p| session::run(target, p, timeout)),
            )
            .await;
            // A session that could not connect is judged by the health check that follows.
            for (plan, outcome) in plans.iter().zip(outcomes) {
                if let Ok(out) = outcome {
                    self.judge(plan, out).await?;
                }
            }
            self.liveness(&plans).await?;
            self.resources(&plans).await?;
            if self.report.stopped.is_some() {
                break;
            }
            progress(&self.progress());
        }
        Ok(())
    }

    /// Session `i`: from a recorded session for half the sessions when there is a corpus,
    /// else generated; the choice, like the session, follows from the seed.
    fn plan(&self, versions: &[Version], i: u64) -> Plan {
        let id = format!("nf{:08x}x{i}", self.o.seed & 0xffff_ffff);
        let mut pick = generate::Rng::new(self.o.seed ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        if !self.recorded.is_empty() && pick.chance(1, 2) {
            let rec = &self.recorded[pick.below(self.recorded.len())];
            return generate::recorded(self.o.seed, i, rec, &id);
        }
        let v = versions[usize::try_from(i).unwrap_or(0) % versions.len()];
        generate::session(self.o.seed, i, v, &id)
    }

    fn progress(&self) -> Progress {
        Progress {
            sessions: self.report.sessions,
            packets: self.report.packets,
            findings: self.report.findings.len(),
            covered: self.report.coverage.len(),
            coverable: 15 * self.versions.len(),
            elapsed: self.started.elapsed(),
        }
    }

    /// After a round (its sessions closed): the resource oracle. A broker restarted by
    /// `--broker-cmd` is followed to its new process group; a `--broker-pid` process gone ends
    /// the watching, noted in the report.
    async fn resources(&mut self, plans: &[Plan]) -> Result<(), Error> {
        let Some(r) = &mut self.resources else {
            return Ok(());
        };
        let verdict = match (r.watched(), self.broker.group()) {
            (Watched::Group(old), Some(now)) if old != now => r.follow(Watched::Group(now)),
            _ => Ok(()),
        };
        let verdict = match verdict {
            Ok(()) => r.check().await,
            Err(gone) => Err(gone),
        };
        self.report.resources = Some((r.baseline, r.peak));
        match verdict {
            Ok(None) => Ok(()),
            Ok(Some(why)) => {
                let plan = plans[0].clone();
                let v = Violation {
                    oracle: oracle::Oracle::Resources,
                    packet: "none".into(),
                    detail: format!("after sessions {}..: {why}", plan.index),
                };
                // Reported once: the baseline moves up to what stayed, so only further
                // growth past the thresholds is reported again.
                let _ = r.rebase();
                self.keep(
                    Finding::new(&v, plan.frames.len(), &plan, false),
                    &plan,
                    None,
                )
            }
            Err(gone) => {
                self.report.resources_note = Some(format!("stopped watching: {gone}"));
                self.resources = None;
                Ok(())
            }
        }
    }

    /// Counts a finished session and applies the protocol oracle to it.
    async fn judge(&mut self, plan: &Plan, out: Outcome) -> Result<(), Error> {
        self.report.sessions += 1;
        self.report.recorded_sessions += u64::from(plan.recorded);
        self.report.packets += out.sent as u64;
        for f in &plan.frames[..out.sent] {
            let key = format!("{} {}", f.kind(), plan.version.key());
            *self.report.coverage.entry(key).or_default() += 1;
        }
        match oracle::check(plan, &out) {
            Some(v) => self.record(plan.clone(), v, out).await,
            None => Ok(()),
        }
    }

    /// After a round: a fresh client must get CONNACK and PINGRESP under each version the
    /// round used. On failure, find the session that causes it by replaying each alone.
    async fn liveness(&mut self, plans: &[Plan]) -> Result<(), Error> {
        let mut why = None;
        for v in Version::ALL {
            if plans.iter().any(|p| p.version == v) {
                if let Err(e) = self.broker.alive(v).await {
                    why = Some(e);
                    break;
                }
            }
        }
        let Some(why) = why else { return Ok(()) };
        if !self.broker.restartable() {
            let plan = plans[0].clone();
            let v = minimise::liveness(&plan, plan.frames.len(), &why);
            let v = Violation {
                detail: format!(
                    "{} (one of sessions {}..={}; not replayed: no --broker-cmd to restart it)",
                    v.detail,
                    plans[0].index,
                    plans[plans.len() - 1].index
                ),
                ..v
            };
            self.keep(
                Finding::new(&v, plan.frames.len(), &plan, false),
                &plan,
                None,
            )?;
            self.report.stopped = Some(format!(
                "the broker stopped answering ({why}) and there is no --broker-cmd to restart it"
            ));
            return Ok(());
        }
        self.broker.restart().await?;
        for plan in plans {
            if let Some((v, out)) = minimise::replay(&mut self.broker, plan).await? {
                if v.oracle == oracle::Oracle::Liveness {
                    return self.record(plan.clone(), v, out).await;
                }
            }
        }
        let plan = plans[0].clone();
        let v = minimise::liveness(
            &plan,
            plan.frames.len(),
            &format!("{why}; no session of the round reproduced it alone"),
        );
        self.keep(
            Finding::new(&v, plan.frames.len(), &plan, false),
            &plan,
            None,
        )
    }

    /// A violation seen in `plan`: counted if already known, else minimised and written.
    async fn record(&mut self, plan: Plan, v: Violation, out: Outcome) -> Result<(), Error> {
        let known = self
            .report
            .findings
            .iter_mut()
            .find(|f| f.oracle == v.oracle && f.packet == v.packet);
        if let Some(f) = known {
            f.hits += 1;
            return Ok(());
        }
        let found = plan.frames.len();
        if !self.broker.restartable() && v.oracle == oracle::Oracle::Liveness {
            return self.keep(Finding::new(&v, found, &plan, false), &plan, Some(&out));
        }
        let (small, kept) =
            minimise::minimise(&mut self.broker, plan.clone(), &v, MINIMISE_BUDGET).await?;
        let (plan, v, outcome, reproduced) = match kept {
            // A liveness finding is named after the minimised session's last frame.
            Some((kv, o)) => (small, kv, o, true),
            // Nothing smaller reproduced it: confirm the whole session does.
            None => match minimise::replay(&mut self.broker, &plan).await? {
                Some((_, o)) => (plan, v, o, true),
                None => (plan, v, out, false),
            },
        };
        self.keep(
            Finding::new(&v, found, &plan, reproduced),
            &plan,
            Some(&outcome),
        )?;
        // The replays may have left the broker dead; the next round needs it alive.
        if self.broker.alive(plan.version).await.is_err() {
            self.broker.restart().await?;
        }
        Ok(())
    }

    /// Adds `f` unless a finding with its key is known; writes its files ([`Finding::write`]).
    fn keep(
        &mut self,
        mut f: Finding,
        plan: &Plan,
        outcome: Option<&Outcome>,
    ) -> Result<(), Error> {
        if let Some(known) = self.report.findings.iter_mut().find(|k| k.key() == f.key()) {
            known.hits += 1;
            return Ok(());
        }
        f.write(&self.o.out, plan, outcome)?;
        self.report.findings.push(f);
        Ok(())
    }
}
