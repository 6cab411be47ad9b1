//! Schedules scenario runs against one broker: selection, skips from the profile, parallelism
//! with exclusive scenarios alone, health checks, cleanup, repeats, and grading into outcomes.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use mqtt_codec::{Connect, Packet, Publish};
use tokio::sync::{RwLock, Semaphore};

use crate::client::{Connection, Entry, Event, Transcript};
use crate::corpus::Loaded;
use crate::exec::{self, DEFAULT_QUIET, Execution, Failure, Settings, Verdict};
use crate::profile::Profile;
use crate::scenario::{Action, ClosedSpec, Level, StatementRef, Version};

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

/// One repeat of one scenario: its execution (or why there was none) and its wall time.
type Attempt = (Result<Execution, String>, Duration);

struct Job {
    idx: usize,
    version: Version,
    tag: String,
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
    let mut warnings = Vec::new();
    let settings = Arc::new(opts.settings.clone());
    // A broker set up to redirect every client answers CONNECT with 0x9C/0x9D: alive.
    let redirects = profile.has(crate::scenario::Capability::ServerRedirection);

    // Health check and version probe.
    let mut offered = Vec::new();
    let mut absent: BTreeMap<Version, Absent> = BTreeMap::new();
    let mut last_err = String::new();
    for &v in &opts.versions {
        match health(&settings, v, redirects, true).await {
            Ok(h) => {
                if let (true, Some(p)) = (v.is_v5(), &h.props) {
                    warnings.extend(profile.check_connack(p));
                }
                if !h.pingresp {
                    warnings.push(format!(
                        "MQTT {v}: the broker does not answer PINGREQ; scenarios that use a \
                         PINGREQ barrier report that they could not check"
                    ));
                }
                offered.push(v);
            }
            Err(HealthError::Unreachable(e)) => return Err(crate::error::Error::Unreachable(e)),
            Err(e) => {
                last_err = e.text().to_owned();
                absent.insert(v, Absent::judge(&e, profile, v));
            }
        }
    }
    if offered.is_empty() && absent.values().all(|a| matches!(a, Absent::NotOffered(_))) {
        return Err(crate::error::Error::Unreachable(format!(
            "no selected version answered the health check ({last_err})"
        )));
    }

    // Jobs and skips.
    let mut results: Vec<ScenarioResult> = Vec::new();
    let mut jobs = Vec::new();
    let run_id = format!("{:04x}", opts.seed & 0xffff);
    let mut counter = 0u32;
    for (idx, l) in corpus.iter().enumerate() {
        for &v in &l.scenario.versions {
            if !opts.versions.contains(&v) {
                continue;
            }
            let skip = if !profile.versions.contains(&v) {
                Some(profile.version_skip(v))
            } else if let Some(a) = absent.get(&v) {
                match a {
                    // Brokers without 5.0 (amqtt, mqttools) often leave its CONNECT unanswered.
                    Absent::NotOffered(why) => {
                        Some(format!("MQTT {v} not offered by the broker: {why}"))
                    }
                    Absent::Refused(why) => {
                        results.push(base_result(l, v, Outcome::Fail, why.clone()));
                        continue;
                    }
                }
            } else {
                profile.missing(&l.scenario.requires)
            };
            if let Some(reason) = skip {
                results.push(base_result(l, v, Outcome::Skip, reason));
                continue;
            }
            for _ in 0..opts.repeat.max(1) {
                counter += 1;
                jobs.push(Job {
                    idx,
                    version: v,
                    tag: format!("{run_id}{counter:04}"),
                });
            }
        }
    }
    shuffle(&mut jobs, opts.seed);
    // Exclusive scenarios first, so none of them waits for the whole run to drain; then the
    // others longest first, so the slow timers (keep alive, expiry, will delay) overlap the
    // rest. The sort is stable: within equal keys the seeded order stands.
    jobs.sort_by_key(|j| {
        let s = &corpus[j.idx].scenario;
        (!s.exclusive, std::cmp::Reverse(overall_limit(s, &settings)))
    });
    progress.set_length(jobs.len() as u64);

    let sem = Arc::new(Semaphore::new(opts.jobs.max(1)));
    let exclusive = Arc::new(RwLock::new(()));
    let state = Arc::new(Shared::default());
    let corpus = Arc::new(corpus.to_vec());
    let mut handles = Vec::new();
    for job in jobs {
        let sem = sem.clone();
        let exclusive = exclusive.clone();
        let state = state.clone();
        let corpus = corpus.clone();
        let settings = settings.clone();
        let progress = progress.clone();
        handles.push(tokio::spawn(async move {
            let l = &corpus[job.idx];
            let is_exclusive = l.scenario.exclusive;
            let _read;
            let _write;
            if is_exclusive {
                _write = exclusive.write().await;
            } else {
                _read = exclusive.read().await;
            }
            let _permit = sem.acquire().await;
            let name = format!("{} ({})", l.scenario.id, job.version);
            progress.set_message(name.clone());
            let start = Instant::now();
            let exec = if let Some(culprit) = state.dead() {
                None.ok_or(format!(
                    "the broker stopped answering earlier in the run; likely culprit: {culprit}"
                ))
            } else {
                state.begin(&name);
                let limit = overall_limit(&l.scenario, &settings);
                let r = tokio::time::timeout(
                    limit,
                    exec::execute(&l.scenario, job.version, &job.tag, &settings),
                )
                .await;
                state.end(&name);
                r.map_err(|_| {
                    format!(
                        "the scenario hung: it did not finish within {}",
                        humantime::format_duration(limit)
                    )
                })
            };
            // A failure, an error or a hang may be the broker dying rather than misbehaving:
            // a health check tells them apart, and a dead broker makes the rest of the run
            // errors naming the likely culprit instead of a wall of timeouts.
            let alive = async |state: &Shared| match state.dead() {
                Some(c) => Err(c),
                None => match health(&settings, job.version, redirects, false).await {
                    Ok(_) => Ok(()),
                    Err(_) => Err(state.mark_dead(&name)),
                },
            };
            let exec = match exec {
                Ok(e) => {
                    let suspect =
                        e.unreachable || matches!(e.verdict, Verdict::Fail(_) | Verdict::Error(_));
                    if suspect {
                        match alive(&state).await {
                            Ok(()) => {
                                cleanup(&settings, job.version, &e, &job.tag).await;
                                Ok(e)
                            }
                            Err(culprit) => Err(format!(
                                "the broker stopped answering during this scenario; \
                                 likely culprit: {culprit}"
                            )),
                        }
                    } else if state.dead().is_some() {
                        // Passed before the broker died; there is nothing left to clean.
                        Ok(e)
                    } else {
                        if !cleanup(&settings, job.version, &e, &job.tag).await {
                            // Cleanup stops at its first failure; the broker may have died
                            // just after the scenario's last step.
                            let _ = alive(&state).await;
                        }
                        Ok(e)
                    }
                }
                Err(hung) => match alive(&state).await {
                    Ok(()) => Err(hung),
                    Err(culprit) => Err(format!(
                        "{hung}, and the broker stopped answering; likely culprit: {culprit}"
                    )),
                },
            };
            progress.inc(1);
            (job.idx, job.version, exec, start.elapsed())
        }));
    }

    let mut runs: BTreeMap<(usize, Version), Vec<Attempt>> = BTreeMap::new();
    for h in handles {
        if let Ok((idx, v, exec, d)) = h.await {
            runs.entry((idx, v)).or_default().push((exec, d));
        }
    }
    for ((idx, v), list) in runs {
        let l = &corpus[idx];
        let graded: Vec<ScenarioResult> = list
            .into_iter()
            .map(|(e, d)| grade(l, v, e, d, profile, opts))
            .collect();
        let outcomes: Vec<Outcome> = graded.iter().map(|r| r.outcome).collect();
        let flaky = outcomes.iter().any(|o| *o != outcomes[0]);
        // Report the worst repeat: the first one that did not pass.
        let mut chosen = graded
            .iter()
            .find(|r| r.outcome != Outcome::Pass)
            .unwrap_or(&graded[0])
            .clone();
        if flaky {
            chosen.flaky = Some(outcomes);
        }
        results.push(chosen);
    }

    // After a death each check would only wait out its timeout again.
    for &v in offered.iter().filter(|_| state.dead().is_none()) {
        if let Err(e) = health(&settings, v, redirects, false).await {
            warnings.push(format!(
                "health check after the run failed for MQTT {v}: {}",
                e.text()
            ));
        }
    }
    if let Some(c) = state.dead() {
        warnings.push(format!(
            "the broker died during the run; likely culprit: {c}"
        ));
    }

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
    })
}

fn base_result(l: &Loaded, v: Version, outcome: Outcome, message: String) -> ScenarioResult {
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
        transcript: Vec::new(),
        flaky: None,
    }
}

fn grade(
    l: &Loaded,
    v: Version,
    exec: Result<Execution, String>,
    d: Duration,
    profile: &Profile,
    opts: &Options,
) -> ScenarioResult {
    let mut r = base_result(l, v, Outcome::Pass, String::new());
    r.duration = d;
    let exec = match exec {
        Ok(e) => e,
        Err(msg) => {
            r.outcome = Outcome::Error;
            r.message = msg;
            return r;
        }
    };
    let only_should = !r.statements.iter().any(|s| s.level == Level::Must);
    match exec.verdict {
        Verdict::Pass => {}
        Verdict::NonStrict(notes) => {
            r.outcome = Outcome::NonStrict;
            r.message = notes.join("; ");
        }
        Verdict::Fail(f) => {
            r.outcome = if only_should {
                Outcome::NonStrict
            } else {
                Outcome::Fail
            };
            r.message = format!(
                "step {} ({}): expected {}, arrived {}",
                f.step + 1,
                f.step_desc,
                f.expected,
                f.arrived
            );
            r.failure = Some(f);
        }
        Verdict::Error(e) => {
            r.outcome = Outcome::Error;
            r.message = e;
        }
    }
    if !opts.strict {
        if let Some(dev) = profile.deviation(&l.scenario.id, v) {
            match r.outcome {
                Outcome::Fail | Outcome::NonStrict => {
                    r.outcome = Outcome::ExpectedFailure;
                    r.message = format!("known deviation: {} ({})", dev.reason, r.message);
                }
                Outcome::Pass if dev.intermittent => {
                    r.message = format!(
                        "listed as an intermittent deviation; passed this time ({})",
                        dev.reason
                    );
                }
                Outcome::Pass => {
                    r.outcome = Outcome::UnexpectedPass;
                    r.message = format!(
                        "listed as a deviation in the profile but passed; remove the entry ({})",
                        dev.reason
                    );
                }
                _ => {}
            }
        }
    }
    if r.outcome != Outcome::Pass || opts.keep_transcripts {
        r.transcript = exec.transcript;
    }
    r
}

/// A bound on one scenario run, so a hung broker or harness never stalls the run.
fn overall_limit(s: &crate::scenario::Scenario, settings: &Settings) -> Duration {
    let mut total = settings.step_timeout * 2;
    for step in &s.steps {
        total += match step.timeout {
            Some(d) => d.0.mul_f64(settings.scale),
            None => settings.step_timeout,
        };
        match &step.action {
            Action::Wait(d) => total += d.0,
            Action::ExpectNothing(d) => total += d.0.mul_f64(settings.scale),
            Action::ExpectClosed(ClosedSpec {
                keep_alive: Some(k),
                ..
            }) => total += crate::judge::keep_alive_deadline(*k, settings.scale) * 2,
            Action::ExpectUnordered(u) => {
                total += u
                    .quiet
                    .map_or(DEFAULT_QUIET, |d| d.0)
                    .mul_f64(settings.scale)
                    + settings.step_timeout;
            }
            Action::ExpectAcross(a) => {
                total += (a
                    .quiet
                    .map_or(DEFAULT_QUIET, |d| d.0)
                    .mul_f64(settings.scale)
                    + settings.step_timeout)
                    * u32::try_from(a.clients.len()).unwrap_or(u32::MAX);
            }
            Action::ExpectOneOf(alts) => {
                for a in alts {
                    if let Some(d) = a.expect_nothing {
                        total += d.0.mul_f64(settings.scale) + settings.step_timeout;
                    }
                }
            }
            _ => {}
        }
    }
    total
}

#[derive(Default)]
struct Shared {
    in_flight: Mutex<BTreeSet<String>>,
    recent: Mutex<VecDeque<String>>,
    dead: Mutex<Option<String>>,
}

impl Shared {
    fn begin(&self, name: &str) {
        if let Ok(mut s) = self.in_flight.lock() {
            s.insert(name.to_owned());
        }
    }
    fn end(&self, name: &str) {
        if let Ok(mut s) = self.in_flight.lock() {
            s.remove(name);
        }
        if let Ok(mut r) = self.recent.lock() {
            r.push_back(name.to_owned());
            if r.len() > 3 {
                r.pop_front();
            }
        }
    }
    fn dead(&self) -> Option<String> {
        self.dead.lock().ok().and_then(|d| d.clone())
    }
    /// Records the death and names the likely culprits: the scenario that noticed it first,
    /// then those running beside it or just finished.
    fn mark_dead(&self, current: &str) -> String {
        let mut guard = match self.dead.lock() {
            Ok(g) => g,
            Err(_) => return current.to_owned(),
        };
        if let Some(c) = &*guard {
            return c.clone();
        }
        let mut names = vec![current.to_owned()];
        if let Ok(s) = self.in_flight.lock() {
            names.extend(s.iter().filter(|n| *n != current).cloned());
        }
        if let Ok(r) = self.recent.lock() {
            for n in r.iter().rev() {
                if !names.contains(n) {
                    names.push(n.clone());
                }
            }
        }
        let c = names.join(", ");
        *guard = Some(c.clone());
        c
    }
}

/// A selected version the broker did not accept at the health check.
enum Absent {
    /// Lawfully not offered: every scenario of it is skipped.
    NotOffered(String),
    /// Refused although the profile declares it, or refused for another reason than the
    /// version: every scenario of it fails with the refusal.
    Refused(String),
}

impl Absent {
    /// Without a profile, only an "unsupported protocol version" refusal, a close or silence
    /// means "not offered"; with one, a declared version must be accepted.
    fn judge(e: &HealthError, profile: &Profile, v: Version) -> Self {
        if profile.declared() && profile.versions.contains(&v) {
            Self::Refused(format!("the profile declares MQTT {v}, but {}", e.text()))
        } else if e.not_offered() {
            Self::NotOffered(e.text().to_owned())
        } else {
            Self::Refused(e.text().to_owned())
        }
    }
}

/// Why a health check failed.
enum HealthError {
    /// No connection at all: TCP refused, TLS failed, timed out.
    Unreachable(String),
    /// A CONNACK refusing the CONNECT; `unsupported` when it says the version is not offered
    /// (5.0 0x84, or 3.1.1's 0x01 in either format).
    Refused { text: String, unsupported: bool },
    /// No CONNACK: a close, silence, or another packet.
    NoConnack(String),
}

impl HealthError {
    fn text(&self) -> &str {
        match self {
            Self::Unreachable(e) | Self::NoConnack(e) | Self::Refused { text: e, .. } => e,
        }
    }

    /// A lawful way for a broker to say it does not offer a version.
    fn not_offered(&self) -> bool {
        match self {
            Self::Refused { unsupported, .. } => *unsupported,
            Self::NoConnack(_) => true,
            Self::Unreachable(_) => false,
        }
    }
}

/// What a health check learned: the 5.0 CONNACK properties, and whether a PINGREQ was answered.
struct Health {
    props: Option<mqtt_codec::Properties>,
    pingresp: bool,
}

/// Connect, CONNACK, then (with `ping`) PINGREQ, PINGRESP; DISCONNECT. Reachable means a
/// CONNACK: a broker that never answers PINGREQ is alive and fails `pingreq-answered`.
async fn health(
    s: &Settings,
    v: Version,
    redirects: bool,
    ping: bool,
) -> Result<Health, HealthError> {
    let t = Transcript::new();
    let open = Connection::open(&s.target, "health", v.protocol(), t);
    let mut c = match tokio::time::timeout(s.step_timeout, open).await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => return Err(HealthError::Unreachable(e)),
        Err(_) => {
            return Err(HealthError::Unreachable(format!(
                "connecting to {} timed out",
                s.target.url
            )));
        }
    };
    // A client id of its own per check: checks overlap (one follows every expected failure),
    // and a shared id would make each take the other's session over.
    static CHECKS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = CHECKS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut connect = Connect::new(v.protocol(), format!("mchealth{}x{n}", std::process::id()));
    if let Some((u, p)) = &s.credentials {
        connect.username = Some(u.clone().into());
        connect.password = p.clone().map(Into::into);
    }
    let _ = c.send_packet(&Packet::from(connect)).await;
    let props = match connack(c.next_event(s.step_timeout).await, s, v, redirects)? {
        Some(props) => props,
        None => {
            return Ok(Health {
                props: None,
                pingresp: true,
            });
        }
    };
    let pingresp = !ping || {
        let _ = c.send_packet(&Packet::PingReq).await;
        matches!(
            c.next_event(s.step_timeout).await,
            Some(Event::Packet(Packet::PingResp))
        )
    };
    let _ = c
        .send_packet(&Packet::Disconnect(mqtt_codec::Disconnect::default()))
        .await;
    c.close().await;
    Ok(Health {
        props: Some(props),
        pingresp,
    })
}

/// Grades the answer to a health check's CONNECT: its 5.0 properties on success, `None` for a
/// redirection (0x9C Use another server, 0x9D Server moved, 5.0 section 4.11: the broker is
/// alive and closes after the CONNACK).
fn connack(
    ev: Option<Event>,
    s: &Settings,
    v: Version,
    redirects: bool,
) -> Result<Option<mqtt_codec::Properties>, HealthError> {
    match ev {
        Some(Event::Packet(Packet::ConnAck(a))) if a.code.0 == 0 => Ok(Some(a.properties)),
        Some(Event::Packet(Packet::ConnAck(a))) if redirects && matches!(a.code.0, 0x9C | 0x9D) => {
            Ok(None)
        }
        Some(Event::Packet(Packet::ConnAck(a))) => Err(HealthError::Refused {
            text: format!(
                "the broker refused a MQTT {v} CONNECT with CONNACK {}",
                a.code
            ),
            unsupported: (v.is_v5() && a.code.0 == 0x84) || (!v.is_v5() && a.code.0 == 0x01),
        }),
        // A 3.1.1-only broker answers a 5.0 CONNECT with its own CONNACK 0x01, which does not
        // decode as 5.0.
        Some(Event::Malformed(w, bytes))
            if v.is_v5() && bytes.as_ref() == [0x20, 0x02, 0x00, 0x01] =>
        {
            Err(HealthError::Refused {
                text: format!(
                    "the broker refused a MQTT {v} CONNECT with a 3.1.1 CONNACK 0x01 ({w})"
                ),
                unsupported: true,
            })
        }
        Some(Event::Packet(p)) => Err(HealthError::NoConnack(format!(
            "the broker answered a MQTT {v} CONNECT with {}",
            crate::client::summary(&p)
        ))),
        Some(Event::Closed(w) | Event::Malformed(w, _)) => Err(HealthError::NoConnack(format!(
            "no CONNACK to a MQTT {v} CONNECT ({w})"
        ))),
        None => Err(HealthError::NoConnack(format!(
            "no CONNACK to a MQTT {v} CONNECT within {}",
            humantime::format_duration(s.step_timeout)
        ))),
    }
}

/// Clears retained messages and sessions a scenario left behind. Stops at the first reset that
/// fails (a broker that does not answer would make each wait out its timeouts) and says so.
///
/// The retained topics are cleared under a client id of this run's own (`tag`): cleanups run
/// concurrently, and a shared id would make each take over the session of the one before.
async fn cleanup(s: &Settings, v: Version, e: &Execution, tag: &str) -> bool {
    for id in e.client_ids.iter() {
        if id.is_empty() {
            continue;
        }
        if session_reset(s, v, id, &[]).await.is_none() {
            return false;
        }
    }
    if !e.retained.is_empty() {
        let topics: Vec<String> = e.retained.iter().cloned().collect();
        return session_reset(s, v, &format!("mcclean{tag}"), &topics)
            .await
            .is_some();
    }
    true
}

async fn session_reset(s: &Settings, v: Version, id: &str, clear: &[String]) -> Option<()> {
    let t = Transcript::new();
    let mut c = tokio::time::timeout(
        s.step_timeout,
        Connection::open(&s.target, "cleanup", v.protocol(), t),
    )
    .await
    .ok()?
    .ok()?;
    let mut connect = Connect::new(v.protocol(), id.to_owned());
    if let Some((u, p)) = &s.credentials {
        connect.username = Some(u.clone().into());
        connect.password = p.clone().map(Into::into);
    }
    c.send_packet(&Packet::from(connect)).await.ok()?;
    match c.next_event(s.step_timeout).await {
        Some(Event::Packet(Packet::ConnAck(_))) => {}
        _ => return None,
    }
    for topic in clear {
        let mut p = Publish::new(topic.clone(), bytes::Bytes::new());
        p.retain = true;
        c.send_packet(&Packet::Publish(p)).await.ok()?;
    }
    // A PINGREQ barrier makes sure the broker processed the above before we leave.
    c.send_packet(&Packet::PingReq).await.ok()?;
    let _ = c.next_event(s.step_timeout).await;
    let _ = c
        .send_packet(&Packet::Disconnect(mqtt_codec::Disconnect::default()))
        .await;
    c.close().await;
    Some(())
}

/// A deterministic shuffle (xorshift64*), so `--seed` reproduces an order.
fn shuffle<T>(v: &mut [T], seed: u64) {
    let mut x = seed | 1;
    for i in (1..v.len()).rev() {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        let r = x.wrapping_mul(0x2545_F491_4F6C_DD1D);
        let j = usize::try_from(r % (i as u64 + 1)).unwrap_or(0);
        v.swap(i, j);
    }
}
