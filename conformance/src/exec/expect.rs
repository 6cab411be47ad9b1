//! Expectation steps: every arrival graded by [`judge::judge`], quiet windows ending on a
//! PINGREQ barrier, and `expect_unordered` / `expect_across` over several clients.

use std::time::Duration;

use mqtt_codec::Packet;

use crate::client::{Connection, Event, EventSource, read_to_pingresp};
use crate::error::HarnessError;
use crate::judge::{self, Choice, Closing, Context, Judged, Mismatch, Want};
use crate::matcher;
use crate::scenario::{
    Action, Alternative, ClosedSpec, ConnAckMatch, ConnectSpec, ExpectSpec, UnorderedItem,
};

use super::describe::describe_closed;
use super::plan::Planned;
use super::{DEFAULT_QUIET, Run, StepError};

impl Run<'_> {
    /// The expectation steps.
    pub(super) async fn expectation(&mut self, p: &Planned<'_>) -> Result<(), StepError> {
        let name = p.step.client.as_str();
        let timeout = p.timeout;
        match &p.step.action {
            Action::Expect(spec) => self.expect(p, name, spec, timeout).await,
            Action::ExpectOneOf(alts) => self.one_of(p, name, alts, timeout).await,
            Action::ExpectUnordered(spec) => {
                let clients = [name.to_owned()];
                let quiet = self.scaled(spec.quiet.map_or(DEFAULT_QUIET, |d| d.0));
                self.unordered(p, &clients, &spec.packets, quiet, timeout)
                    .await
            }
            Action::ExpectAcross(spec) => {
                let quiet = self.scaled(spec.quiet.map_or(DEFAULT_QUIET, |d| d.0));
                self.unordered(p, &spec.clients, &spec.packets, quiet, timeout)
                    .await
            }
            Action::ExpectNothing(d) => {
                let quiet = Some((self.scaled(d.0), false));
                self.expect_choices(p, name, &[], quiet, None, timeout)
                    .await
            }
            Action::ExpectClosed(spec) => {
                let choices = [Choice::closed(spec)];
                self.expect_choices(p, name, &choices, None, None, timeout)
                    .await
            }
            // Sending steps are the caller's.
            _ => Ok(()),
        }
    }

    /// The CONNACK a `connect` step expects: its `connack` spec, code 0 unless it says.
    pub(super) async fn connack(
        &mut self,
        p: &Planned<'_>,
        spec: &ConnectSpec,
    ) -> Result<(), StepError> {
        let want = spec.connack.clone().unwrap_or_default();
        let code = match (want.code, &want.code_in) {
            (None, None) => Some(0),
            (code, _) => code,
        };
        let expect = ExpectSpec::Connack(ConnAckMatch { code, ..want });
        self.expect(p, &p.step.client, &expect, p.timeout).await
    }

    fn fail(
        &self,
        p: &Planned<'_>,
        expected: String,
        arrived: String,
        diff: Vec<String>,
    ) -> StepError {
        StepError::Fail(self.failure(p, expected, Mismatch { arrived, diff }))
    }

    async fn expect(
        &mut self,
        p: &Planned<'_>,
        name: &str,
        spec: &ExpectSpec,
        timeout: Duration,
    ) -> Result<(), StepError> {
        let choices = [Choice::packet(spec)];
        self.expect_choices(p, name, &choices, None, None, timeout)
            .await
    }

    /// Waits for one of `choices` on `name` (see [`Run::await_choices`]); a mismatch fails the
    /// step, described against every choice.
    async fn expect_choices(
        &mut self,
        p: &Planned<'_>,
        name: &str,
        choices: &[Choice<'_>],
        quiet: Option<(Duration, bool)>,
        quiet_untestable: Option<&str>,
        timeout: Duration,
    ) -> Result<(), StepError> {
        match self
            .await_choices(name, choices, quiet.map(|q| q.0), timeout)
            .await
        {
            Ok(Chosen::Choice(notes)) => {
                let step_no = p.index + 1;
                self.non_strict
                    .extend(notes.into_iter().map(|n| format!("step {step_no}: {n}")));
                Ok(())
            }
            Ok(Chosen::Quiet) => {
                if let Some(why) = quiet_untestable {
                    let d = quiet.map(|q| q.0).unwrap_or_default();
                    return Err(StepError::Untestable(format!(
                        "{why} (arrived: nothing for {})",
                        humantime::format_duration(d)
                    )));
                }
                if let Some((d, true)) = quiet {
                    self.non_strict.push(format!(
                        "step {}: nothing arrived for {} (accepted, not recommended)",
                        p.index + 1,
                        humantime::format_duration(d)
                    ));
                }
                Ok(())
            }
            Err(StepError::Mismatch(m)) => {
                let expected = self.describe_choices(name, choices, quiet);
                Err(self.fail(p, expected, m.arrived, m.diff))
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
        let s = |t: &str| self.names.subst(t, name);
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
                Judged::Untestable(why) => {
                    if ends {
                        self.conns.remove(name);
                    }
                    return Err(StepError::Untestable(why));
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
        let names = self.names.clone();
        let s = move |t: &str| names.subst(t, name);
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
    /// (a close, or undecodable bytes, ends the list: no PINGRESP can follow). A broker that
    /// never answers makes the step unable to check anything: a harness error naming
    /// `pingreq-answered`, not a failure of this scenario.
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
        let mut screened = Screened { run: self, name };
        let answer = read_to_pingresp(&mut screened, timeout, MAX_BEFORE).await;
        if answer.answered || answer.ended() {
            return Ok(answer.before);
        }
        Err(StepError::Harness(HarnessError::NoBarrier {
            waited: timeout,
            before: answer.before.len(),
        }))
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
        p: &Planned<'_>,
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
                Err(self.fail(p, expected, m.arrived, m.diff))
            }
            Err(e) => Err(e),
        }
    }

    fn describe_unordered(&self, clients: &[String], items: &[UnorderedItem]) -> String {
        let name = clients.first().map_or("", String::as_str);
        let s = |t: &str| self.names.subst(t, name);
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
            // Unordered items are never untestable.
            Judged::Closing | Judged::Untestable(_) => Ok(()),
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
        p: &Planned<'_>,
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
                    untestable: a.untestable.as_deref(),
                })
            })
            .collect();
        let quiet_alt = alts.iter().find(|a| a.expect_nothing.is_some());
        let quiet =
            quiet_alt.and_then(|a| a.expect_nothing.map(|d| (self.scaled(d.0), a.non_strict)));
        let quiet_untestable = quiet_alt.and_then(|a| a.untestable.as_deref());
        self.expect_choices(p, name, &choices, quiet, quiet_untestable, timeout)
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

/// A client's events read through [`Run::next`], which screens each one (a packet over the
/// client's Maximum Packet Size arrives as a violation, MQTT-3.1.2-24): what a barrier reads.
struct Screened<'r, 'a> {
    run: &'r mut Run<'a>,
    name: &'r str,
}

impl EventSource for Screened<'_, '_> {
    fn next_event(&mut self, timeout: Duration) -> impl Future<Output = Option<Event>> + Send {
        self.run.next(self.name, timeout)
    }
}
