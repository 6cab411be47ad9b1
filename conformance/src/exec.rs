//! Runs one scenario under one protocol version against one broker: the steps in order, each
//! with an event-driven wait bounded by the step timeout.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use mqtt_codec::Packet;

use crate::client::{Connection, Dir, Entry, Event, Transcript, summary};
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
    Fail(Failure),
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
                return Some(Event::Malformed(what));
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
                let quiet = spec.quiet.map_or(DEFAULT_QUIET, |d| d.0);
                self.unordered(i, step, &clients, &spec.packets, quiet, timeout)
                    .await
            }
            Action::ExpectAcross(spec) => {
                let quiet = spec.quiet.map_or(DEFAULT_QUIET, |d| d.0);
                self.unordered(i, step, &spec.clients, &spec.packets, quiet, timeout)
                    .await
            }
            Action::ExpectNothing(d) => match self.nothing(&name, d.0, timeout).await {
                Ok(()) => Ok(()),
                Err((arrived, diff)) => Err(self.fail(
                    i,
                    step,
                    format!("nothing for {}", humantime::format_duration(d.0)),
                    arrived,
                    diff,
                )),
            },
            Action::ExpectClosed(spec) => match self.closed(&name, spec, timeout).await {
                Ok(notes) => {
                    self.non_strict.extend(notes);
                    self.conns.remove(&name);
                    Ok(())
                }
                Err((arrived, diff)) => {
                    Err(self.fail(i, step, describe_closed(spec), arrived, diff))
                }
            },
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
        let s = |t: &str| subst(t, &self.tag, name, self.scenario);
        let expected = matcher::describe(spec, &s);
        match self.next(name, timeout).await {
            None => Err(self.fail(
                i,
                step,
                expected,
                format!("nothing within {}", humantime::format_duration(timeout)),
                vec![],
            )),
            Some(Event::Packet(p)) => {
                let s = |t: &str| subst(t, &self.tag, name, self.scenario);
                match matcher::check(spec, &p, &s, &mut self.captures) {
                    Ok(()) => Ok(()),
                    Err(diff) => Err(self.fail(i, step, expected, summary(&p), diff)),
                }
            }
            Some(Event::Closed(why)) | Some(Event::Malformed(why)) => {
                self.conns.remove(name);
                Err(self.fail(i, step, expected, why, vec![]))
            }
        }
    }

    /// Matches packets arriving on any of `clients` against `items`, each item at most once,
    /// in any order; then every client must stay quiet and answer a barrier.
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
        const SLICE: Duration = Duration::from_millis(10);
        let expected = {
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
        };
        let mut used = vec![false; items.len()];
        let required_left = |used: &[bool]| {
            items
                .iter()
                .zip(used)
                .any(|(item, &u)| !item.optional && !u)
        };
        let deadline = tokio::time::Instant::now() + timeout;
        // Phase 1 until every required packet arrived; phase 2 the quiet period for optional ones.
        let mut quiet_until: Option<tokio::time::Instant> = None;
        loop {
            let now = tokio::time::Instant::now();
            if quiet_until.is_none() && !required_left(&used) {
                if used.iter().all(|&u| u) {
                    break;
                }
                quiet_until = Some(now + quiet);
            }
            match quiet_until {
                Some(q) if now >= q => break,
                None if now >= deadline => {
                    let missing = items
                        .iter()
                        .zip(&used)
                        .filter(|(item, u)| !item.optional && !**u)
                        .count();
                    return Err(self.fail(
                        i,
                        step,
                        expected,
                        format!(
                            "{missing} of the required packets did not arrive within {}",
                            humantime::format_duration(timeout)
                        ),
                        vec![],
                    ));
                }
                _ => {}
            }
            for name in clients {
                let Some(ev) = self.next(name, SLICE).await else {
                    continue;
                };
                match ev {
                    Event::Packet(p) => {
                        let s = |t: &str| subst(t, &self.tag, name, self.scenario);
                        let mut diffs = Vec::new();
                        let hit = items.iter().zip(used.iter_mut()).find_map(|(item, u)| {
                            if *u {
                                return None;
                            }
                            match matcher::check(&item.expect, &p, &s, &mut self.captures) {
                                Ok(()) => Some(u),
                                Err(d) => {
                                    diffs.extend(d);
                                    None
                                }
                            }
                        });
                        match hit {
                            Some(u) => *u = true,
                            None => {
                                return Err(self.fail(
                                    i,
                                    step,
                                    expected,
                                    format!("{name}: {}", summary(&p)),
                                    diffs,
                                ));
                            }
                        }
                    }
                    Event::Closed(why) | Event::Malformed(why) => {
                        self.conns.remove(name);
                        return Err(self.fail(i, step, expected, format!("{name}: {why}"), vec![]));
                    }
                }
            }
        }
        for name in clients {
            if let Err((arrived, diff)) = self.nothing(name, Duration::ZERO, timeout).await {
                return Err(self.fail(i, step, expected, format!("{name}: {arrived}"), diff));
            }
        }
        Ok(())
    }

    /// Quiet for `quiet`, then a PINGREQ answered by PINGRESP with nothing before it.
    async fn nothing(
        &mut self,
        name: &str,
        quiet: Duration,
        timeout: Duration,
    ) -> Result<(), (String, Vec<String>)> {
        if !self.conns.contains_key(name) {
            tokio::time::sleep(quiet).await;
            return Ok(());
        }
        if let Some(ev) = self.next(name, quiet).await {
            return Err((event_text(&ev), vec![]));
        }
        let conn = self
            .conns
            .get_mut(name)
            .ok_or(("no connection".to_owned(), vec![]))?;
        conn.send_packet(&Packet::PingReq)
            .await
            .map_err(|e| (e, vec![]))?;
        match self.next(name, timeout).await {
            Some(Event::Packet(Packet::PingResp)) => Ok(()),
            Some(ev) => Err((
                event_text(&ev),
                vec!["arrived before the PINGRESP of the barrier".into()],
            )),
            None => Err((
                "no PINGRESP to the barrier PINGREQ".into(),
                vec![format!("waited {}", humantime::format_duration(timeout))],
            )),
        }
    }

    /// Waits for the close. Returns non-strict notes on success.
    async fn closed(
        &mut self,
        name: &str,
        spec: &ClosedSpec,
        timeout: Duration,
    ) -> Result<Vec<String>, (String, Vec<String>)> {
        let deadline = tokio::time::Instant::now() + timeout;
        let v5 = self.version.is_v5();
        let mut saw_disconnect = false;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(name, left).await {
                None => {
                    return Err((
                        format!(
                            "the connection was still open after {}",
                            humantime::format_duration(timeout)
                        ),
                        vec![],
                    ));
                }
                Some(Event::Closed(_)) | Some(Event::Malformed(_)) => break,
                Some(Event::Packet(Packet::Disconnect(d))) if v5 => {
                    if let Some(codes) = &spec.disconnect {
                        if !codes.contains(&d.reason.0) {
                            return Err((
                                summary(&Packet::Disconnect(d.clone())),
                                vec![format!(
                                    "DISCONNECT code: expected one of {}, got {}",
                                    matcher::hex_list(codes),
                                    matcher::rc(d.reason.0)
                                )],
                            ));
                        }
                    }
                    saw_disconnect = true;
                }
                Some(Event::Packet(Packet::ConnAck(c)))
                    if spec.connack.as_ref().is_some_and(|l| l.contains(&c.code.0)) => {}
                Some(Event::Packet(p)) => {
                    return Err((summary(&p), vec!["expected the connection to close".into()]));
                }
            }
        }
        let mut notes = Vec::new();
        if v5 && !saw_disconnect {
            if let Some(codes) = &spec.disconnect {
                match spec.disconnect_level.unwrap_or(LevelKey::Should) {
                    LevelKey::May => {}
                    LevelKey::Should => notes.push(format!(
                        "closed without the recommended DISCONNECT {}",
                        matcher::hex_list(codes)
                    )),
                    LevelKey::Must => {
                        return Err((
                            "closed without DISCONNECT".into(),
                            vec![format!(
                                "a DISCONNECT with one of {} must come first",
                                matcher::hex_list(codes)
                            )],
                        ));
                    }
                }
            }
        }
        Ok(notes)
    }

    async fn one_of(
        &mut self,
        i: usize,
        step: &Step,
        name: &str,
        alts: &[Alternative],
        timeout: Duration,
    ) -> Result<(), StepError> {
        let s = |t: &str| subst(t, &self.tag, name, self.scenario);
        let expected = alts
            .iter()
            .map(|a| {
                let base = if let Some(e) = &a.expect {
                    matcher::describe(e, &s)
                } else if let Some(c) = &a.expect_closed {
                    describe_closed(c)
                } else if let Some(d) = &a.expect_nothing {
                    format!("nothing for {}", humantime::format_duration(d.0))
                } else {
                    "?".into()
                };
                if a.non_strict {
                    format!("{base} (non-strict)")
                } else {
                    base
                }
            })
            .collect::<Vec<_>>()
            .join("\n  or ");
        let quiet = alts
            .iter()
            .find_map(|a| a.expect_nothing.map(|d| (d.0, a.non_strict)));
        let first_wait = quiet.map_or(timeout, |(d, _)| d);
        let ev = self.next(name, first_wait).await;
        let mut diffs = Vec::new();
        let arrived = match ev {
            None => {
                if let Some((d, ns)) = quiet {
                    // Quiet period over: finish with the barrier.
                    return match self.nothing(name, Duration::ZERO, timeout).await {
                        Ok(()) => {
                            if ns {
                                self.non_strict.push(format!(
                                    "step {}: nothing arrived for {} (accepted, not recommended)",
                                    i + 1,
                                    humantime::format_duration(d)
                                ));
                            }
                            Ok(())
                        }
                        Err((arrived, diff)) => Err(self.fail(i, step, expected, arrived, diff)),
                    };
                }
                format!("nothing within {}", humantime::format_duration(timeout))
            }
            Some(Event::Packet(p)) => {
                // A DISCONNECT may start a close alternative, unless an `expect` alternative
                // describes a DISCONNECT with this code: then that alternative's fields decide,
                // and a DISCONNECT failing them must not slip through the close alternative.
                let owned = |code: u8| {
                    alts.iter().any(|a| match &a.expect {
                        Some(ExpectSpec::Disconnect(m)) => {
                            m.code.is_none_or(|c| c == code)
                                && m.code_in.as_ref().is_none_or(|l| l.contains(&code))
                        }
                        _ => false,
                    })
                };
                let closing = matches!(&p, Packet::Disconnect(d) if !owned(d.reason.0));
                for a in alts {
                    if let Some(e) = &a.expect {
                        let s = |t: &str| subst(t, &self.tag, name, self.scenario);
                        match matcher::check(e, &p, &s, &mut self.captures) {
                            Ok(()) => {
                                if a.non_strict {
                                    self.non_strict.push(format!(
                                        "step {}: {} (accepted, not recommended)",
                                        i + 1,
                                        summary(&p)
                                    ));
                                }
                                return Ok(());
                            }
                            Err(d) => diffs.extend(d),
                        }
                    }
                }
                if closing && self.version.is_v5() {
                    if let Some(a) = alts.iter().find(|a| a.expect_closed.is_some()) {
                        let spec = a.expect_closed.clone().unwrap_or_default();
                        if let Packet::Disconnect(d) = &p {
                            if spec
                                .disconnect
                                .as_ref()
                                .is_none_or(|c| c.contains(&d.reason.0))
                            {
                                // Wait for the close that follows.
                                let relaxed = ClosedSpec {
                                    disconnect: None,
                                    ..spec
                                };
                                return match self.closed(name, &relaxed, timeout).await {
                                    Ok(_) => {
                                        self.conns.remove(name);
                                        Ok(())
                                    }
                                    Err((arrived, diff)) => {
                                        Err(self.fail(i, step, expected, arrived, diff))
                                    }
                                };
                            }
                        }
                    }
                }
                summary(&p)
            }
            Some(Event::Closed(why)) | Some(Event::Malformed(why)) => {
                if let Some(a) = alts.iter().find(|a| a.expect_closed.is_some()) {
                    self.conns.remove(name);
                    let spec = a.expect_closed.clone().unwrap_or_default();
                    if self.version.is_v5() {
                        if let Some(codes) = &spec.disconnect {
                            match spec.disconnect_level.unwrap_or(LevelKey::Should) {
                                LevelKey::Should => self.non_strict.push(format!(
                                    "step {}: closed without the recommended DISCONNECT {}",
                                    i + 1,
                                    matcher::hex_list(codes)
                                )),
                                LevelKey::Must => {
                                    return Err(self.fail(
                                        i,
                                        step,
                                        expected,
                                        why,
                                        vec!["closed without DISCONNECT".into()],
                                    ));
                                }
                                LevelKey::May => {}
                            }
                        }
                    }
                    if a.non_strict {
                        self.non_strict
                            .push(format!("step {}: closed ({why}), not recommended", i + 1));
                    }
                    return Ok(());
                }
                self.conns.remove(name);
                why
            }
        };
        Err(self.fail(i, step, expected, arrived, diffs))
    }
}

fn event_text(ev: &Event) -> String {
    match ev {
        Event::Packet(p) => summary(p),
        Event::Closed(w) | Event::Malformed(w) => w.clone(),
    }
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
