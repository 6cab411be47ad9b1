//! Runs one scenario under one protocol version against one broker: the steps in order, each
//! with an event-driven wait bounded by the step timeout.
//!
//! The scenario is first resolved into a `plan` for the version: its steps, each with its
//! timeout and client's credentials, and the run's names (`{t}`, client ids). Packets are
//! built from that plan and the captured ids ([`crate::vars::Vars`]); what arrives is graded
//! by [`crate::judge`] (`expect`).

mod describe;
mod expect;
mod plan;

pub use describe::{count, describe_step};

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::client::{Connection, Entry, Event, Transcript, summary};
use crate::error::HarnessError;
use crate::judge::Mismatch;
use crate::matcher::Captures;
use crate::packets;
use crate::scenario::{Action, IdRef, PacketSpec, Scenario, Version, parse_hex};
use crate::transport::Target;
use crate::vars::{Names, Vars};

use describe::describe_raw;
use plan::Planned;

/// How long `expect_unordered` and `expect_across` wait for optional packets by default.
pub const DEFAULT_QUIET: Duration = Duration::from_millis(300);

/// Settings shared by every scenario of a run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The broker.
    pub target: Target,
    /// Default per-step timeout, already scaled.
    pub step_timeout: Duration,
    /// The `--timeout-scale` factor, applied to explicit step timeouts too.
    pub scale: f64,
    /// Credentials sent on every CONNECT unless a scenario says otherwise.
    pub credentials: Option<(String, Option<String>)>,
}

/// How a run of one scenario ended, before profile grading.
#[derive(Debug, Clone)]
pub enum Verdict {
    /// Every step passed.
    Pass,
    /// Passed, but a SHOULD was not followed; the reasons.
    NonStrict(Vec<String>),
    /// A step failed.
    Fail(Failure),
    /// A step got a lawful refusal of what the scenario needs (an `untestable` alternative):
    /// the statement cannot be checked on this broker. The step and reason.
    Untestable(String),
    /// The broker died during the scenario, and did again when it ran alone after a restart
    /// (found by crash isolation, never by a step): how, and what it printed last.
    Crashed(String),
    /// The harness could not do its job.
    Error(HarnessError),
}

/// Where and how a scenario failed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Failure {
    /// Index of the failing step (0-based).
    pub step: usize,
    /// The step, described.
    pub step_desc: String,
    /// What was expected.
    pub expected: String,
    /// What arrived.
    pub arrived: String,
    /// The differences, one per line.
    pub diff: Vec<String>,
}

/// The result of one scenario run.
#[derive(Debug, Clone)]
pub struct Execution {
    /// The verdict.
    pub verdict: Verdict,
    /// Everything sent and received.
    pub transcript: Vec<Entry>,
    /// Topics that got a retained message (to clear afterwards).
    pub retained: BTreeSet<String>,
    /// Client ids used (to clear their sessions afterwards).
    pub client_ids: BTreeSet<String>,
    /// The harness could not reach the broker at all (connection refused, handshake failed).
    pub unreachable: bool,
}

/// Runs `scenario` under `version`. `tag` makes topics and client ids unique to this run.
pub async fn execute(scenario: &Scenario, version: Version, tag: &str, s: &Settings) -> Execution {
    let mut run = Run {
        version,
        names: Names::new(scenario, tag),
        settings: s,
        transcript: Transcript::new(),
        conns: BTreeMap::new(),
        captures: Captures::new(),
        retained: BTreeSet::new(),
        client_ids: BTreeSet::new(),
        non_strict: Vec::new(),
        unreachable: false,
        max_packet_size: BTreeMap::new(),
        oversized: None,
    };
    let mut verdict = Verdict::Pass;
    for p in plan::plan(scenario, version, s) {
        if let Err(e) = run.repeated(&p).await {
            verdict = match e {
                StepError::Fail(f) => Verdict::Fail(f),
                StepError::Mismatch(m) => Verdict::Fail(run.failure(&p, String::new(), m)),
                StepError::Untestable(why) => {
                    Verdict::Untestable(format!("step {}: {why}", p.index + 1))
                }
                StepError::Harness(e) => Verdict::Error(HarnessError::Step {
                    step: p.index + 1,
                    source: Box::new(e),
                }),
            };
            break;
        }
    }
    if matches!(verdict, Verdict::Pass) && !run.non_strict.is_empty() {
        verdict = Verdict::NonStrict(run.non_strict.clone());
    }
    for (_, c) in std::mem::take(&mut run.conns) {
        c.abort();
    }
    Execution {
        verdict,
        transcript: run.transcript.entries(),
        retained: run.retained,
        client_ids: run.client_ids,
        unreachable: run.unreachable,
    }
}

enum StepError {
    /// The step failed; the failure names the step.
    Fail(Failure),
    /// What arrived does not satisfy an expectation (turned into a `Fail` by the step).
    Mismatch(Mismatch),
    /// What arrived is a lawful refusal that leaves the statement unchecked; the reason.
    Untestable(String),
    /// The harness could not do the step.
    Harness(HarnessError),
}

/// The state of one scenario run.
struct Run<'a> {
    version: Version,
    names: Names,
    settings: &'a Settings,
    transcript: Transcript,
    conns: BTreeMap<String, Connection>,
    captures: Captures,
    retained: BTreeSet<String>,
    client_ids: BTreeSet<String>,
    non_strict: Vec<String>,
    unreachable: bool,
    /// The 5.0 Maximum Packet Size each client declared in its CONNECT: the broker must never
    /// send it a larger packet (MQTT-3.1.2-24).
    max_packet_size: BTreeMap<String, u32>,
    /// The first packet that broke a client's Maximum Packet Size, described.
    oversized: Option<String>,
}

/// The most times a `repeat` runs its step: a limit announced above it (65,535 for a Receive
/// Maximum left out) would take a scenario minutes to fill, so it makes the scenario
/// untestable instead.
const REPEAT_MAX: u16 = 1_000;

impl Run<'_> {
    /// Runs step `p` once, or as many times as its `repeat` says, each run's number stored
    /// under the repeat's `index`.
    async fn repeated(&mut self, p: &Planned<'_>) -> Result<(), StepError> {
        let Some(r) = &p.step.repeat else {
            return self.planned(p).await;
        };
        let times = match &r.times {
            IdRef::Literal(n) => *n,
            IdRef::Captured(name) => *self
                .captures
                .get(name)
                .ok_or_else(|| StepError::Harness(HarnessError::NotCaptured(name.clone())))?,
        };
        if times > REPEAT_MAX {
            return Err(StepError::Untestable(format!(
                "the step would run {times} times, more than the {REPEAT_MAX} a scenario sends"
            )));
        }
        for k in 0..times {
            if let Some(index) = &r.index {
                let n = r.from.checked_add(k).ok_or_else(|| {
                    StepError::Harness(HarnessError::Build(format!(
                        "repeat: run {k} from {} passes 65,535",
                        r.from
                    )))
                })?;
                self.captures.insert(index.clone(), n);
            }
            self.planned(p).await?;
        }
        Ok(())
    }

    /// Runs one planned step. An oversized packet fails the step that received it, whatever
    /// the step accepted (an `expect_closed` would otherwise take it for the close).
    async fn planned(&mut self, p: &Planned<'_>) -> Result<(), StepError> {
        self.step(p).await?;
        match self.oversized.take() {
            Some(arrived) => Err(StepError::Fail(self.failure(
                p,
                "packets within the client's Maximum Packet Size".into(),
                Mismatch {
                    arrived,
                    diff: vec![
                        "MQTT-3.1.2-24: the broker must not send a packet larger than the \
                         client's Maximum Packet Size"
                            .into(),
                    ],
                },
            ))),
            None => Ok(()),
        }
    }

    /// The failure of step `p`.
    fn failure(&self, p: &Planned<'_>, expected: String, m: Mismatch) -> Failure {
        Failure {
            step: p.index,
            step_desc: describe_step(p.step),
            expected,
            arrived: m.arrived,
            diff: m.diff,
        }
    }

    /// What the packets of step `p` need from the run.
    fn vars<'v>(&'v self, p: &'v Planned<'_>) -> Vars<'v> {
        Vars {
            version: self.version,
            names: &self.names,
            client: &p.step.client,
            credentials: p.credentials,
            captures: &self.captures,
        }
    }

    async fn step(&mut self, p: &Planned<'_>) -> Result<(), StepError> {
        let name = p.step.client.as_str();
        let timeout = p.timeout;
        match &p.step.action {
            Action::Connect(spec) => {
                let built = packets::connect(spec, &self.vars(p)).map_err(StepError::Harness)?;
                self.note_max_packet_size(name, spec.properties.maximum_packet_size);
                self.send(name, built).await?;
                self.connack(p, spec).await
            }
            Action::Send(spec) => {
                let built = packets::packet(spec, &self.vars(p)).map_err(StepError::Harness)?;
                if let PacketSpec::Connect(c) = spec {
                    self.note_max_packet_size(name, c.properties.maximum_packet_size);
                }
                self.send(name, built).await
            }
            Action::SendHex(h) => {
                let bytes = parse_hex(h).map_err(|e| StepError::Harness(HarnessError::Build(e)))?;
                let what = describe_raw(&bytes, self.version);
                let built = packets::Built {
                    what,
                    bytes,
                    client_id: None,
                    retained: vec![],
                };
                self.send(name, built).await
            }
            Action::Wait(d) => {
                tokio::time::sleep(d.0).await;
                Ok(())
            }
            Action::Disconnect(spec) => {
                // A DISCONNECT sent after the broker ended the connection on its own never
                // reaches it: no normal disconnection takes place to check (and a will the
                // broker then publishes is right, MQTT-3.1.2-8).
                if self
                    .conns
                    .get_mut(name)
                    .is_some_and(Connection::ended_unread)
                {
                    return Err(StepError::Untestable(
                        "the broker closed the connection before the client's DISCONNECT, so \
                         no normal disconnection took place"
                            .into(),
                    ));
                }
                let spec = PacketSpec::Disconnect(spec.clone());
                let built = packets::packet(&spec, &self.vars(p)).map_err(StepError::Harness)?;
                self.send(name, built).await?;
                if let Some(c) = self.conns.remove(name) {
                    c.close_after_broker(timeout).await;
                }
                Ok(())
            }
            Action::Drop(_) => {
                if let Some(c) = self.conns.remove(name) {
                    c.abort();
                }
                Ok(())
            }
            _ => self.expectation(p).await,
        }
    }

    /// Remembers the 5.0 Maximum Packet Size a CONNECT of `name` declares (none: no limit).
    fn note_max_packet_size(&mut self, name: &str, max: Option<u32>) {
        match max {
            Some(max) if self.version.is_v5() => {
                self.max_packet_size.insert(name.to_owned(), max);
            }
            _ => {
                self.max_packet_size.remove(name);
            }
        }
    }

    async fn ensure_open(&mut self, name: &str) -> Result<(), StepError> {
        if self.conns.contains_key(name) {
            return Ok(());
        }
        let fut = Connection::open(
            &self.settings.target,
            name,
            self.version.protocol(),
            self.transcript.clone(),
        );
        match tokio::time::timeout(self.settings.step_timeout, fut).await {
            Ok(Ok(c)) => {
                self.conns.insert(name.to_owned(), c);
                Ok(())
            }
            Ok(Err(e)) => {
                self.unreachable = true;
                Err(StepError::Harness(e))
            }
            Err(_) => {
                self.unreachable = true;
                let url = self.settings.target.url.clone();
                Err(StepError::Harness(HarnessError::ConnectTimeout(url)))
            }
        }
    }

    async fn send(&mut self, name: &str, built: packets::Built) -> Result<(), StepError> {
        self.ensure_open(name).await?;
        if let Some(id) = built.client_id {
            self.client_ids.insert(id);
        }
        self.retained.extend(built.retained);
        let conn = self
            .conns
            .get_mut(name)
            .ok_or_else(|| StepError::Harness(HarnessError::Send("no connection".into())))?;
        conn.send_bytes(built.what, &built.bytes)
            .await
            .map_err(StepError::Harness)
    }

    async fn next(&mut self, name: &str, timeout: Duration) -> Option<Event> {
        let event = match self.conns.get_mut(name) {
            Some(c) => c.next_event(timeout).await,
            None => Some(Event::Closed("the client has no open connection".into())),
        };
        // Whatever the step expects, a packet over the client's declared Maximum Packet Size
        // breaks MQTT-3.1.2-24 (5.0); it arrives as a protocol violation, failing the step.
        if let (Some(Event::Packet(p)), Some(&max)) = (&event, self.max_packet_size.get(name)) {
            let size = p.encoded_len(self.version.protocol());
            if size > max as usize {
                let what = format!(
                    "{name}: {} of {size} bytes exceeds the client's Maximum Packet Size {max} \
                     (MQTT-3.1.2-24)",
                    summary(p)
                );
                self.oversized.get_or_insert(what.clone());
                return Some(Event::Malformed(what, bytes::Bytes::new()));
            }
        }
        event
    }
}
