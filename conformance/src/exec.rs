//! Runs one scenario under one protocol version against one broker: the steps in order, each
//! with an event-driven wait bounded by the step timeout.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use mqtt_codec::Packet;

use crate::client::{Connection, Dir, Entry, Event, Transcript, summary};
use crate::judge::{self, Choice, Closing, Context, Judged, Mismatch, Want};
use crate::matcher::{self, Captures};
use crate::packets::{self, Env};
use crate::scenario::{
    Action, Alternative, ClosedSpec, ConnAckMatch, ExpectSpec, IdRef, LevelKey, PacketSpec,
    Scenario, Step, UnorderedItem, Version, parse_hex,
};
use crate::transport::Target;

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
    /// The harness could not do its job.
    Error(String),
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
        scenario,
        version,
        tag: tag.to_owned(),
        settings: s,
        transcript: Transcript::new(),
        conns: BTreeMap::new(),
        captures: Captures::new(),
        retained: BTreeSet::new(),
        client_ids: BTreeSet::new(),
        current: String::new(),
        non_strict: Vec::new(),
        unreachable: false,
        max_packet_size: BTreeMap::new(),
        oversized: None,
    };
    let mut verdict = Verdict::Pass;
    for (i, step) in scenario.steps.iter().enumerate() {
        if step
            .versions
            .as_ref()
            .is_some_and(|v| !v.contains(&version))
        {
            continue;
        }
        run.current = step.client.clone();
        let mut outcome = run.step(i, step).await;
        // An oversized packet fails the step that received it, whatever the step accepted
        // (an `expect_closed` would otherwise take it for the close).
        if let (Ok(()), Some(arrived)) = (&outcome, run.oversized.take()) {
            outcome = Err(run.fail(
                i,
                step,
                "packets within the client's Maximum Packet Size".into(),
                arrived,
                vec![
                    "MQTT-3.1.2-24: the broker must not send a packet larger than the client's \
                      Maximum Packet Size"
                        .into(),
                ],
            ));
        }
        if let Err(f) = outcome {
            verdict = match f {
                StepError::Fail(f) => Verdict::Fail(f),
                StepError::Mismatch(m) => Verdict::Fail(Failure {
                    step: i,
                    step_desc: describe_step(step),
                    expected: String::new(),
                    arrived: m.arrived,
                    diff: m.diff,
                }),
                StepError::Harness(e) => Verdict::Error(format!("step {}: {e}", i + 1)),
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
    Harness(String),
}

struct Run<'a> {
    scenario: &'a Scenario,
    version: Version,
    tag: String,
    settings: &'a Settings,
    transcript: Transcript,
    conns: BTreeMap<String, Connection>,
    captures: Captures,
    retained: BTreeSet<String>,
    client_ids: BTreeSet<String>,
    current: String,
    non_strict: Vec<String>,
    unreachable: bool,
    /// The 5.0 Maximum Packet Size each client declared in its CONNECT: the broker must never
    /// send it a larger packet (MQTT-3.1.2-24).
    max_packet_size: BTreeMap<String, u32>,
    /// The first packet that broke a client's Maximum Packet Size, described.
    oversized: Option<String>,
}

impl Env for Run<'_> {
    fn subst(&self, text: &str) -> String {
        subst(text, &self.tag, &self.current, self.scenario)
    }
    fn id(&self, id: &IdRef) -> Result<u16, String> {
        match id {
            IdRef::Literal(n) => Ok(*n),
            IdRef::Captured(name) => self
                .captures
                .get(name)
                .copied()
                .ok_or_else(|| format!("packet id ${name} was never captured")),
        }
    }
    fn version(&self) -> Version {
        self.version
    }
    fn default_client_id(&self) -> String {
        client_id(&self.tag, &self.current, self.scenario)
    }
    fn credentials(&self) -> Option<(String, Option<String>)> {
        let wanted = self
            .scenario
            .clients
            .get(&self.current)
            .and_then(|c| c.credentials)
            .unwrap_or(true);
        if wanted {
            self.settings.credentials.clone()
        } else {
            None
        }
    }
}

/// Substitutes the scenario variables in `text`.
pub fn subst(text: &str, tag: &str, current: &str, scenario: &Scenario) -> String {
    if !text.contains('{') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return out;
        };
        let var = &after[..end];
        match var {
            "t" => out.push_str(&topic_prefix(tag)),
            "client" => out.push_str(&client_id(tag, current, scenario)),
            _ => match var.strip_prefix("client:") {
                Some(name) => out.push_str(&client_id(tag, name, scenario)),
                None => {
                    out.push('{');
                    out.push_str(var);
                    out.push('}');
                }
            },
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// The topic prefix `{t}` of a run.
pub fn topic_prefix(tag: &str) -> String {
    format!("mqtt-conformance/{tag}")
}

/// The client id of client `name` in a run: alphanumeric and at most 23 characters, the limit
/// every 3.1.1 server must accept (MQTT-3.1.3-5).
pub fn client_id(tag: &str, name: &str, scenario: &Scenario) -> String {
    if let Some(id) = scenario.clients.get(name).and_then(|c| c.client_id.clone()) {
        if !id.contains("{client") {
            return subst(&id, tag, name, scenario);
        }
    }
    let clean: String = name.chars().filter(char::is_ascii_alphanumeric).collect();
    let mut id = format!("mc{tag}{clean}");
    id.truncate(23);
    id
}

impl Run<'_> {
    fn timeout(&self, step: &Step) -> Duration {
        match step.timeout {
            Some(d) => d.0.mul_f64(self.settings.scale),
            None => self.settings.step_timeout,
        }
    }

    fn fail(
        &self,
        i: usize,
        step: &Step,
        expected: String,
        arrived: String,
        diff: Vec<String>,
    ) -> StepError {
        StepError::Fail(Failure {
            step: i,
            step_desc: describe_step(step),
            expected,
            arrived,
            diff,
        })
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
                Err(StepError::Harness(format!(
                    "connecting to {} timed out",
                    self.settings.target.url
                )))
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
            .ok_or_else(|| StepError::Harness("no connection".into()))?;
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

    async fn step(&mut self, i: usize, step: &Step) -> Result<(), StepError> {
        let name = step.client.clone();
        let timeout = self.timeout(step);
        match &step.action {
            Action::Connect(spec) => {
                let built = packets::connect(spec, self).map_err(StepError::Harness)?;
                self.note_max_packet_size(&name, spec.properties.maximum_packet_size);
                // A reconnect replaces a closed connection; an open one is reused (a second
                // CONNECT on one connection is sent with `send`).
                if let Some(c) = self.conns.get(&name) {
                    let _ = c;
                }
                self.send(&name, built).await?;
                let want = spec.connack.clone().unwrap_or_default();
                let expect = ExpectSpec::Connack(ConnAckMatch {
                    code: want.code.or(if want.code_in.is_some() {
                        None
                    } else {
                        Some(0)
                    }),
                    ..want
                });
                self.expect(i, step, &name, &expect, timeout).await
            }
            Action::Send(spec) => {
                let built = packets::packet(spec, self).map_err(StepError::Harness)?;
                if let PacketSpec::Connect(c) = spec {
                    self.note_max_packet_size(&name, c.properties.maximum_packet_size);
                }
                self.send(&name, built).await
            }
            Action::SendHex(h) => {
                let bytes = parse_hex(h).map_err(StepError::Harness)?;
                let what = describe_raw(&bytes, self.version);
                self.send(
                    &name,
                    packets::Built {
                        what,
                        bytes,
                        client_id: None,
                        retained: vec![],
                    },
                )
                .await
            }
            Action::Expect(spec) => self.expect(i, step, &name, spec, timeout).await,
            Action::ExpectOneOf(alts) => self.one_of(i, step, &name, alts, timeout).await,
            Action::ExpectUnordered(spec) => {
                let clients = [name.clone()];
                let quiet = self.scaled(spec.quiet.map_or(DEFAULT_QUIET, |d| d.0));
                self.unordered(i, step, &clients, &spec.packets, quiet, timeout)
                    .await
            }
            Action::ExpectAcross(spec) => {
                let quiet = self.scaled(spec.quiet.map_or(DEFAULT_QUIET, |d| d.0));
                self.unordered(i, step, &spec.clients, &spec.packets, quiet, timeout)
                    .await
            }
            Action::ExpectNothing(d) => {
                let quiet = Some((self.scaled(d.0), false));
                self.expect_choices(i, step, &name, &[], quiet, timeout)
                    .await
            }
            Action::ExpectClosed(spec) => {
                let choices = [Choice::closed(spec)];
                self.expect_choices(i, step, &name, &choices, None, timeout)
                    .await
            }
            Action::Wait(d) => {
                tokio::time::sleep(d.0).await;
                Ok(())
            }
            Action::Disconnect(spec) => {
                let built = packets::packet(&PacketSpec::Disconnect(spec.clone()), self)
                    .map_err(StepError::Harness)?;
                self.send(&name, built).await?;
                if let Some(c) = self.conns.remove(&name) {
                    c.close_after_broker(timeout).await;
                }
                Ok(())
            }
            Action::Drop(_) => {
                if let Some(c) = self.conns.remove(&name) {
                    c.abort();
                }
                Ok(())
            }
        }
    }

    async fn expect(
        &mut self,
        i: usize,
        step: &Step,
        name: &str,
        spec: &ExpectSpec,
        timeout: Duration,
    ) -> Result<(), StepError> {
        let choices = [Choice::packet(spec)];
        self.expect_choices(i, step, name, &choices, None, timeout)
            .await
    }

    /// Waits for one of `choices` on `name` (see [`Run::await_choices`]); a mismatch fails the
    /// step, described against every choice.
    async fn expect_choices(
        &mut self,
        i: usize,
        step: &Step,
        name: &str,
        choices: &[Choice<'_>],
        quiet: Option<(Duration, bool)>,
        timeout: Duration,
    ) -> Result<(), StepError> {
        match self
            .await_choices(name, choices, quiet.map(|q| q.0), timeout)
            .await
        {
            Ok(Chosen::Choice(notes)) => {
                let step_no = i + 1;
                self.non_strict
                    .extend(notes.into_iter().map(|n| format!("step {step_no}: {n}")));
                Ok(())
            }
            Ok(Chosen::Quiet) => {
                if let Some((d, true)) = quiet {
                    self.non_strict.push(format!(
                        "step {}: nothing arrived for {} (accepted, not recommended)",
                        i + 1,
                        humantime::format_duration(d)
                    ));
                }
                Ok(())
            }
            Err(StepError::Mismatch(m)) => {
                let expected = self.describe_choices(name, choices, quiet);
                Err(self.fail(i, step, expected, m.arrived, m.diff))
            }
            Err(e) => Err(e),
        }
    }

    fn describe_choices(
        &self,
        name: &str,
        choices: &[Choice<'_>],
        quiet: Option<(Duration, bool)>,
    ) -> String {
        let s = |t: &str| subst(t, &self.tag, name, self.scenario);
        let mut list: Vec<String> = choices
            .iter()
            .map(|c| {
                let base = match c.want {
                    Want::Packet(e) => matcher::describe(e, &s),
                    Want::Closed(c) => describe_closed(c),
                };
                if c.non_strict {
                    format!("{base} (non-strict)")
                } else {
                    base
                }
            })
            .collect();
        if let Some((d, ns)) = quiet {
            let ns = if ns { " (non-strict)" } else { "" };
            list.push(format!("nothing for {}{ns}", humantime::format_duration(d)));
        }
        list.join("\n  or ")
    }

    /// Waits for one of `choices` on `name`, every event graded by [`judge::judge`]. With
    /// `quiet`, nothing arriving for that long is also accepted: a PINGREQ barrier then ends
    /// the step, and a packet one of the choices accepts is still taken up to its PINGRESP.
    async fn await_choices(
        &mut self,
        name: &str,
        choices: &[Choice<'_>],
        quiet: Option<Duration>,
        timeout: Duration,
    ) -> Result<Chosen, StepError> {
        if quiet.is_some() && !self.conns.contains_key(name) && choices.is_empty() {
            tokio::time::sleep(quiet.unwrap_or_default()).await;
            return Ok(Chosen::Quiet);
        }
        let timeout = close_wait(choices, timeout, self.settings.scale);
        let mut closing = Closing::default();
        let mut wait = quiet.unwrap_or(timeout);
        let mut late = false;
        loop {
            let Some(ev) = self.next(name, wait).await else {
                if quiet.is_some() && !late && !closing.started() {
                    let events = self.barrier(name, timeout).await?;
                    if events.is_empty() {
                        return Ok(Chosen::Quiet);
                    }
                    self.unread(name, events);
                    (late, wait) = (true, timeout);
                    continue;
                }
                return Err(StepError::Mismatch(judge::timed_out(
                    choices, &closing, wait,
                )));
            };
            let ends = matches!(ev, Event::Closed(_));
            match self.judge(name, choices, &ev, &mut closing) {
                Judged::Closing => {}
                Judged::Done { choice, notes } => {
                    if matches!(choices[choice].want, Want::Closed(_)) {
                        self.conns.remove(name);
                    }
                    return Ok(Chosen::Choice(notes));
                }
                Judged::Mismatch(mut m) => {
                    if ends {
                        self.conns.remove(name);
                    }
                    if late {
                        m.diff.push(
                            "arrived after the quiet window, before the PINGRESP of the barrier"
                                .into(),
                        );
                    }
                    return Err(StepError::Mismatch(m));
                }
            }
        }
    }

    /// Grades one event with the run's variables and captures.
    fn judge(
        &mut self,
        name: &str,
        choices: &[Choice<'_>],
        ev: &Event,
        closing: &mut Closing,
    ) -> Judged {
        let since_sent = self
            .conns
            .get(name)
            .map_or(Duration::ZERO, Connection::since_sent);
        let (tag, scenario) = (self.tag.clone(), self.scenario);
        let s = move |t: &str| subst(t, &tag, name, scenario);
        let mut cx = Context {
            v5: self.version.is_v5(),
            subst: &s,
            captures: &mut self.captures,
            since_sent,
            scale: self.settings.scale,
        };
        judge::judge(choices, ev, closing, &mut cx)
    }

    /// Sends a PINGREQ on `name` and reads up to its PINGRESP: the events that came before it
    /// (a close ends the list). A broker that never answers makes the step unable to check
    /// anything: a harness error naming `pingreq-answered`, not a failure of this scenario.
    async fn barrier(&mut self, name: &str, timeout: Duration) -> Result<Vec<Event>, StepError> {
        const MAX_BEFORE: usize = 1000;
        let Some(conn) = self.conns.get_mut(name) else {
            return Ok(vec![Event::Closed(
                "the client has no open connection".into(),
            )]);
        };
        conn.send_packet(&Packet::PingReq)
            .await
            .map_err(StepError::Harness)?;
        let mut before = Vec::new();
        let deadline = tokio::time::Instant::now() + timeout;
        while before.len() < MAX_BEFORE {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(name, left).await {
                Some(Event::Packet(Packet::PingResp)) => return Ok(before),
                Some(ev @ Event::Closed(_)) => {
                    before.push(ev);
                    return Ok(before);
                }
                Some(ev) => before.push(ev),
                None => break,
            }
        }
        Err(StepError::Harness(format!(
            "could not check: no PINGRESP to the barrier PINGREQ within {} ({} other events \
             first); this step relies on it (see pingreq-answered)",
            humantime::format_duration(timeout),
            before.len()
        )))
    }

    /// Puts events back at the front of `name`'s queue, for the steps after this one.
    fn unread(&mut self, name: &str, events: Vec<Event>) {
        if let Some(c) = self.conns.get_mut(name) {
            c.unread(events);
        }
    }

    /// Matches packets arriving on any of `clients` against `items`, each item at most once,
    /// in any order; then every client must stay quiet and answer a barrier. An optional item
    /// arriving late, before the barrier's PINGRESP, is accepted.
    ///
    /// Clients are polled in turn with a short slice each, so a packet on any of them is seen
    /// within one slice; the step timeout bounds the wait for the required packets.
    async fn unordered(
        &mut self,
        i: usize,
        step: &Step,
        clients: &[String],
        items: &[UnorderedItem],
        quiet: Duration,
        timeout: Duration,
    ) -> Result<(), StepError> {
        let mut used = vec![false; items.len()];
        let result = match self
            .unordered_required(clients, items, &mut used, quiet, timeout)
            .await
        {
            Ok(()) => {
                self.unordered_barrier(clients, items, &mut used, timeout)
                    .await
            }
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => Ok(()),
            Err(StepError::Mismatch(m)) => {
                let expected = self.describe_unordered(clients, items);
                Err(self.fail(i, step, expected, m.arrived, m.diff))
            }
            Err(e) => Err(e),
        }
    }

    fn describe_unordered(&self, clients: &[String], items: &[UnorderedItem]) -> String {
        let name = clients.first().map_or("", String::as_str);
        let s = |t: &str| subst(t, &self.tag, name, self.scenario);
        let list = items
            .iter()
            .map(|item| {
                let d = matcher::describe(&item.expect, &s);
                if item.optional {
                    format!("{d} (optional)")
                } else {
                    d
                }
            })
            .collect::<Vec<_>>()
            .join("\n  and ");
        format!("in any order on {}:\n  {list}", clients.join(" or "))
    }

    /// Phase 1: every required item, then the quiet window for the optional ones.
    async fn unordered_required(
        &mut self,
        clients: &[String],
        items: &[UnorderedItem],
        used: &mut [bool],
        quiet: Duration,
        timeout: Duration,
    ) -> Result<(), StepError> {
        const SLICE: Duration = Duration::from_millis(10);
        let required_left = |used: &[bool]| {
            items
                .iter()
                .zip(used)
                .any(|(item, &u)| !item.optional && !u)
        };
        let deadline = tokio::time::Instant::now() + timeout;
        let mut quiet_until: Option<tokio::time::Instant> = None;
        loop {
            let now = tokio::time::Instant::now();
            if quiet_until.is_none() && !required_left(used) {
                if used.iter().all(|&u| u) {
                    return Ok(());
                }
                quiet_until = Some(now + quiet);
            }
            match quiet_until {
                Some(q) if now >= q => return Ok(()),
                None if now >= deadline => {
                    let missing = items
                        .iter()
                        .zip(used.iter())
                        .filter(|(item, u)| !item.optional && !**u)
                        .count();
                    return Err(StepError::Mismatch(Mismatch::new(format!(
                        "{missing} of the required packets did not arrive within {}",
                        humantime::format_duration(timeout)
                    ))));
                }
                _ => {}
            }
            for name in clients {
                if let Some(ev) = self.next(name, SLICE).await {
                    self.take_item(name, items, used, &ev)?;
                }
            }
        }
    }

    /// Phase 2: a barrier on every client; optional items may still arrive before it.
    async fn unordered_barrier(
        &mut self,
        clients: &[String],
        items: &[UnorderedItem],
        used: &mut [bool],
        timeout: Duration,
    ) -> Result<(), StepError> {
        for name in clients {
            if !self.conns.contains_key(name) {
                continue;
            }
            for ev in self.barrier(name, timeout).await? {
                self.take_item(name, items, used, &ev)
                    .map_err(|e| match e {
                        StepError::Mismatch(mut m) => {
                            m.diff
                                .push("arrived before the PINGRESP of the barrier".into());
                            StepError::Mismatch(m)
                        }
                        e => e,
                    })?;
            }
        }
        Ok(())
    }

    /// Grades an event of `expect_unordered` against the items not used yet.
    fn take_item(
        &mut self,
        name: &str,
        items: &[UnorderedItem],
        used: &mut [bool],
        ev: &Event,
    ) -> Result<(), StepError> {
        let open: Vec<usize> = (0..items.len()).filter(|&k| !used[k]).collect();
        let choices: Vec<Choice<'_>> = open
            .iter()
            .map(|&k| Choice::packet(&items[k].expect))
            .collect();
        match self.judge(name, &choices, ev, &mut Closing::default()) {
            Judged::Done { choice, .. } => {
                used[open[choice]] = true;
                Ok(())
            }
            Judged::Closing => Ok(()),
            Judged::Mismatch(mut m) => {
                if matches!(ev, Event::Closed(_)) {
                    self.conns.remove(name);
                }
                m.arrived = format!("{name}: {}", m.arrived);
                Err(StepError::Mismatch(m))
            }
        }
    }

    /// `expect_one_of`: each alternative a choice; an `expect_nothing` one makes a quiet
    /// window that ends on a barrier.
    async fn one_of(
        &mut self,
        i: usize,
        step: &Step,
        name: &str,
        alts: &[Alternative],
        timeout: Duration,
    ) -> Result<(), StepError> {
        let choices: Vec<Choice<'_>> = alts
            .iter()
            .filter_map(|a| {
                let want = match (&a.expect, &a.expect_closed) {
                    (Some(e), _) => Want::Packet(e),
                    (None, Some(c)) => Want::Closed(c),
                    (None, None) => return None,
                };
                Some(Choice {
                    want,
                    non_strict: a.non_strict,
                })
            })
            .collect();
        let quiet = alts
            .iter()
            .find_map(|a| a.expect_nothing.map(|d| (self.scaled(d.0), a.non_strict)));
        self.expect_choices(i, step, name, &choices, quiet, timeout)
            .await
    }

    /// A quiet window under `--timeout-scale`.
    fn scaled(&self, d: Duration) -> Duration {
        d.mul_f64(self.settings.scale)
    }
}

/// What an expectation step settled on.
enum Chosen {
    /// A choice, with non-strict notes.
    Choice(Vec<String>),
    /// Nothing arrived in the quiet window.
    Quiet,
}

/// The wait for a step: a keep-alive close gets long enough to measure a late one.
fn close_wait(choices: &[Choice<'_>], timeout: Duration, scale: f64) -> Duration {
    choices
        .iter()
        .filter_map(|c| match c.want {
            Want::Closed(ClosedSpec {
                keep_alive: Some(k),
                ..
            }) => Some(judge::keep_alive_deadline(*k, scale) * 2),
            _ => None,
        })
        .fold(timeout, Duration::max)
}

fn describe_closed(c: &ClosedSpec) -> String {
    match &c.disconnect {
        Some(codes) => format!(
            "connection closed (5.0: after DISCONNECT {}, {})",
            matcher::hex_list(codes),
            match c.disconnect_level.unwrap_or(LevelKey::Should) {
                LevelKey::Must => "required",
                LevelKey::Should => "recommended",
                LevelKey::May => "optional",
            }
        ),
        None => "connection closed".into(),
    }
}

fn describe_raw(bytes: &[u8], version: Version) -> String {
    let mut buf = bytes::BytesMut::from(bytes);
    let mut d = mqtt_codec::Decoder::new(version.protocol());
    match d.decode(&mut buf) {
        Ok(mqtt_codec::Decoded::Packet(p)) if buf.is_empty() => format!("raw {}", summary(&p)),
        Ok(_) => format!("raw {} bytes", bytes.len()),
        Err(e) => format!("raw {} bytes ({e})", bytes.len()),
    }
}

/// A one-line description of a step, as in the file.
pub fn describe_step(step: &Step) -> String {
    let what = match &step.action {
        Action::Send(p) => match p {
            PacketSpec::Connect(_) => "send connect",
            PacketSpec::Publish(_) => "publish",
            PacketSpec::Puback(_) => "puback",
            PacketSpec::Pubrec(_) => "pubrec",
            PacketSpec::Pubrel(_) => "pubrel",
            PacketSpec::Pubcomp(_) => "pubcomp",
            PacketSpec::Subscribe(_) => "subscribe",
            PacketSpec::Unsubscribe(_) => "unsubscribe",
            PacketSpec::Pingreq(_) => "pingreq",
            PacketSpec::Disconnect(_) => "send disconnect",
            PacketSpec::Auth(_) => "auth",
        },
        other => other.key(),
    };
    let mut s = format!("{}: {what}", step.client);
    if let Some(n) = &step.note {
        s.push_str(&format!(" ({n})"));
    }
    s
}

/// Entries of the given direction, for tests.
pub fn count(entries: &[Entry], dir: Dir) -> usize {
    entries.iter().filter(|e| e.dir == dir).count()
}
