//! The one grading function: what arrived on a connection against what a step accepts.
//!
//! Every expectation (`expect`, `expect_closed`, `expect_one_of`, `expect_unordered`, the
//! CONNACK of a `connect`) is a list of [`Choice`]s, and every event that arrives is graded by
//! [`judge`]. A close is a sequence rather than one event: an optional CONNACK, under 5.0 an
//! optional DISCONNECT, then the real end of the connection (EOF or reset). [`Closing`] keeps
//! the part of that sequence seen so far.

use std::time::Duration;

use mqtt_codec::Packet;

use crate::client::{Event, summary};
use crate::matcher::{self, Captures};
use crate::scenario::{ClosedSpec, ExpectSpec, LevelKey};

/// How late a keep-alive close may come beyond one and a half times the Keep Alive: brokers
/// keep time in whole seconds. Scaled by `--timeout-scale`, since a loaded harness notices
/// the close late.
pub const KEEP_ALIVE_TOLERANCE: Duration = Duration::from_secs(1);

/// What a step accepts.
#[derive(Debug, Clone, Copy)]
pub enum Want<'a> {
    /// A packet matching this.
    Packet(&'a ExpectSpec),
    /// The end of the connection, as this describes it.
    Closed(&'a ClosedSpec),
}

/// One acceptable outcome of a step.
#[derive(Debug, Clone, Copy)]
pub struct Choice<'a> {
    /// What is accepted.
    pub want: Want<'a>,
    /// Accepted, but the spec recommends another outcome.
    pub non_strict: bool,
    /// A lawful refusal that leaves the scenario's statement unchecked on this broker: the
    /// reason. Grades as [`Judged::Untestable`], never as done.
    pub untestable: Option<&'a str>,
}

impl<'a> Choice<'a> {
    /// A packet the step requires.
    pub fn packet(spec: &'a ExpectSpec) -> Self {
        Self {
            want: Want::Packet(spec),
            non_strict: false,
            untestable: None,
        }
    }

    /// A close the step requires.
    pub fn closed(spec: &'a ClosedSpec) -> Self {
        Self {
            want: Want::Closed(spec),
            non_strict: false,
            untestable: None,
        }
    }
}

/// What arrived does not satisfy the step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// What arrived, described.
    pub arrived: String,
    /// The differences and broken rules, one per line.
    pub diff: Vec<String>,
}

impl Mismatch {
    /// A mismatch without diff lines.
    pub fn new(arrived: impl Into<String>) -> Self {
        Self {
            arrived: arrived.into(),
            diff: Vec::new(),
        }
    }

    fn with(arrived: impl Into<String>, line: impl Into<String>) -> Self {
        Self {
            arrived: arrived.into(),
            diff: vec![line.into()],
        }
    }
}

/// The grade of one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Judged {
    /// The choice at this index is satisfied; the notes are SHOULDs not followed.
    Done {
        /// Index into the choices.
        choice: usize,
        /// Non-strict remarks.
        notes: Vec<String>,
    },
    /// Part of a close; keep reading.
    Closing,
    /// The step fails.
    Mismatch(Mismatch),
    /// An `untestable` choice is satisfied: the broker lawfully refused what the scenario
    /// needs. The reason, with what arrived.
    Untestable(String),
}

/// The part of a close seen so far.
#[derive(Debug, Clone, Default)]
pub struct Closing {
    connack: Option<u8>,
    disconnect: Option<u8>,
    malformed: Option<String>,
    /// Time from the client's last packet to the first sign of the close.
    began: Option<Duration>,
}

impl Closing {
    /// Whether any part of a close arrived.
    pub fn started(&self) -> bool {
        self.connack.is_some() || self.disconnect.is_some() || self.malformed.is_some()
    }
}

/// What grading needs from the run besides the event.
pub struct Context<'a> {
    /// MQTT 5.0 (DISCONNECT from a server exists only there).
    pub v5: bool,
    /// Substitutes scenario variables in expected text.
    pub subst: &'a dyn Fn(&str) -> String,
    /// Captured packet ids.
    pub captures: &'a mut Captures,
    /// Time since the client's last packet left.
    pub since_sent: Duration,
    /// The `--timeout-scale` factor.
    pub scale: f64,
}

/// Grades `event` against `choices`, given the close seen so far. A satisfied `untestable`
/// choice is not a pass: it becomes [`Judged::Untestable`], naming what arrived.
pub fn judge(
    choices: &[Choice<'_>],
    event: &Event,
    closing: &mut Closing,
    cx: &mut Context<'_>,
) -> Judged {
    match grade(choices, event, closing, cx) {
        Judged::Done { choice, .. } if choices[choice].untestable.is_some() => {
            let why = choices[choice].untestable.unwrap_or_default();
            Judged::Untestable(format!("{why} (arrived: {})", arrived(event, closing)))
        }
        j => j,
    }
}

/// What ended an untestable step, for its reason: the packet, or the close and what led to it.
fn arrived(event: &Event, closing: &Closing) -> String {
    match event {
        Event::Packet(p) => summary(p),
        Event::Malformed(why, _) => why.clone(),
        Event::Closed(why) => {
            let mut seen = Vec::new();
            if let Some(c) = closing.connack {
                seen.push(format!("CONNACK {}", matcher::rc(c)));
            }
            if let Some(d) = closing.disconnect {
                seen.push(format!("DISCONNECT {}", matcher::rc(d)));
            }
            seen.push(format!("connection closed ({why})"));
            seen.join(", then ")
        }
    }
}

fn grade(
    choices: &[Choice<'_>],
    event: &Event,
    closing: &mut Closing,
    cx: &mut Context<'_>,
) -> Judged {
    // Every `expect_closed` choice counts, not only the first: a step may accept a close with
    // a DISCONNECT as checkable and a bare close as untestable, say.
    let closes: Vec<(usize, &ClosedSpec, bool)> = choices
        .iter()
        .enumerate()
        .filter_map(|(i, c)| match c.want {
            Want::Closed(spec) => Some((i, spec, c.non_strict)),
            Want::Packet(_) => None,
        })
        .collect();
    match event {
        Event::Packet(p) => {
            if !closing.started() {
                if let Some(done) = matched(choices, p, cx) {
                    return done;
                }
            }
            if closes.is_empty() {
                return mismatch_packet(choices, p, cx);
            }
            first_fit(
                closes
                    .iter()
                    .map(|(_, spec, _)| closing_packet(spec, p, closing, cx)),
            )
        }
        Event::Malformed(why, bytes) => {
            if let Some(done) = reread(choices, bytes, cx).filter(|_| !closing.started()) {
                return done;
            }
            if !closes.is_empty() && closing.malformed.is_none() {
                // Keep reading until the connection ends, so the report says both.
                closing.malformed = Some(why.clone());
                closing.began.get_or_insert(cx.since_sent);
                return Judged::Closing;
            }
            Judged::Mismatch(malformed(why))
        }
        Event::Closed(why) if closes.is_empty() => Judged::Mismatch(Mismatch::new(why.clone())),
        Event::Closed(why) => {
            closing.began.get_or_insert(cx.since_sent);
            let (v5, scale) = (cx.v5, cx.scale);
            first_fit(
                closes.iter().map(|&(i, spec, non_strict)| {
                    closed(i, spec, non_strict, why, closing, v5, scale)
                }),
            )
        }
    }
}

/// The first grade, in the order of the choices, that is not a mismatch; else the first
/// mismatch.
fn first_fit(grades: impl Iterator<Item = Judged>) -> Judged {
    let mut first = None;
    for g in grades {
        if !matches!(g, Judged::Mismatch(_)) {
            return g;
        }
        first.get_or_insert(g);
    }
    first.unwrap_or_else(|| Judged::Mismatch(Mismatch::new("nothing")))
}

/// The grade when nothing more arrived within `waited`.
pub fn timed_out(choices: &[Choice<'_>], closing: &Closing, waited: Duration) -> Mismatch {
    let waited = humantime::format_duration(waited);
    let close = choices.iter().any(|c| matches!(c.want, Want::Closed(_)));
    if let Some(why) = &closing.malformed {
        let mut m = malformed(why);
        m.arrived = format!(
            "{}; the connection was still open after {waited}",
            m.arrived
        );
        return m;
    }
    if close {
        let mut seen = Vec::new();
        if let Some(c) = closing.connack {
            seen.push(format!("CONNACK {}", matcher::rc(c)));
        }
        if let Some(d) = closing.disconnect {
            seen.push(format!("DISCONNECT {}", matcher::rc(d)));
        }
        let prefix = if seen.is_empty() {
            String::new()
        } else {
            format!("{}, then ", seen.join(", "))
        };
        return Mismatch::new(format!(
            "{prefix}the connection was still open after {waited}"
        ));
    }
    Mismatch::new(format!("nothing within {waited}"))
}

/// Undecodable broker output: a failure whatever the step wanted.
fn malformed(why: &str) -> Mismatch {
    Mismatch::with(
        why,
        "the broker sent bytes that are not a well-formed MQTT packet",
    )
}

/// The first packet choice `p` satisfies, if any.
fn matched(choices: &[Choice<'_>], p: &Packet, cx: &mut Context<'_>) -> Option<Judged> {
    choices.iter().enumerate().find_map(|(i, c)| match c.want {
        Want::Packet(spec) => matcher::check(spec, p, cx.subst, cx.captures)
            .ok()
            .map(|()| Judged::Done {
                choice: i,
                notes: if c.non_strict {
                    vec![format!("{} (accepted, not recommended)", summary(p))]
                } else {
                    Vec::new()
                },
            }),
        Want::Closed(_) => None,
    })
}

/// Undecodable bytes read again in the format a CONNACK choice names (`format`), if one does
/// and it matches.
fn reread(choices: &[Choice<'_>], bytes: &[u8], cx: &mut Context<'_>) -> Option<Judged> {
    choices.iter().enumerate().find_map(|(i, c)| {
        let Want::Packet(spec @ ExpectSpec::Connack(m)) = c.want else {
            return None;
        };
        let mut buf = bytes::BytesMut::from(bytes);
        let decoded = mqtt_codec::Decoder::new(m.format?.protocol()).decode(&mut buf);
        let Ok(mqtt_codec::Decoded::Packet(p)) = decoded else {
            return None;
        };
        matcher::check(spec, &p, cx.subst, cx.captures)
            .ok()
            .map(|()| Judged::Done {
                choice: i,
                notes: Vec::new(),
            })
    })
}

/// A packet no choice accepts: the differences against every packet choice.
fn mismatch_packet(choices: &[Choice<'_>], p: &Packet, cx: &mut Context<'_>) -> Judged {
    let mut diff = Vec::new();
    for c in choices {
        if let Want::Packet(spec) = c.want {
            if let Err(d) = matcher::check(spec, p, cx.subst, cx.captures) {
                diff.extend(d);
            }
        }
    }
    Judged::Mismatch(Mismatch {
        arrived: summary(p),
        diff,
    })
}

/// A packet while a close is acceptable: the CONNACK or DISCONNECT that may precede it.
fn closing_packet(
    spec: &ClosedSpec,
    p: &Packet,
    closing: &mut Closing,
    cx: &mut Context<'_>,
) -> Judged {
    if closing.disconnect.is_some() {
        // MQTT-3.14.4-1: nothing may follow a DISCONNECT on the connection.
        return Judged::Mismatch(Mismatch::with(
            summary(p),
            "a packet after the broker's DISCONNECT (MQTT-3.14.4-1)",
        ));
    }
    match p {
        Packet::ConnAck(c)
            if closing.connack.is_none()
                && spec.connack.as_ref().is_some_and(|l| l.contains(&c.code.0)) =>
        {
            closing.connack = Some(c.code.0);
            Judged::Closing
        }
        Packet::Disconnect(d) if cx.v5 => match disconnect_code(spec, d.reason.0) {
            Ok(()) => {
                closing.disconnect = Some(d.reason.0);
                closing.began.get_or_insert(cx.since_sent);
                Judged::Closing
            }
            Err(line) => Judged::Mismatch(Mismatch::with(summary(p), line)),
        },
        _ => {
            let mut m = match mismatch_packet(&[], p, cx) {
                Judged::Mismatch(m) => m,
                _ => Mismatch::new(summary(p)),
            };
            m.diff.push(match &spec.connack {
                Some(l) if closing.connack.is_none() => format!(
                    "expected the connection to close (a CONNACK {} may come first)",
                    matcher::hex_list(l)
                ),
                _ => "expected the connection to close".into(),
            });
            Judged::Mismatch(m)
        }
    }
}

/// Whether a 5.0 DISCONNECT code is lawful before this close. The codec has already refused
/// codes the spec does not define for DISCONNECT (MQTT-3.14.2-1); the choice among the defined
/// error codes is a SHOULD (4.13), graded when the close completes.
fn disconnect_code(spec: &ClosedSpec, code: u8) -> Result<(), String> {
    if code == 0x04 {
        return Err(
            "DISCONNECT 0x04 (Disconnect with Will Message) is a client's code; a \
                    server must use one defined for it (3.14.2.1, MQTT-3.14.2-1)"
                .into(),
        );
    }
    let wants_error = spec
        .disconnect
        .as_ref()
        .is_some_and(|l| !l.is_empty() && l.iter().all(|c| *c >= 0x80));
    if wants_error && code < 0x80 {
        return Err(format!(
            "DISCONNECT {}: a success code where the close is an error (expected one of {}; \
             2.4: codes of 0x80 and above report failure)",
            matcher::rc(code),
            matcher::hex_list(spec.disconnect.as_deref().unwrap_or_default())
        ));
    }
    Ok(())
}

/// The connection ended while a close is acceptable: grade the whole close.
fn closed(
    choice: usize,
    spec: &ClosedSpec,
    non_strict: bool,
    why: &str,
    closing: &Closing,
    v5: bool,
    scale: f64,
) -> Judged {
    if let Some(bad) = &closing.malformed {
        let mut m = malformed(bad);
        m.arrived = format!("{bad}; then {why}");
        return Judged::Mismatch(m);
    }
    let mut notes = Vec::new();
    let level = |l: Option<LevelKey>, default| l.unwrap_or(default);
    if let Some(codes) = &spec.connack {
        if closing.connack.is_none() {
            let what = format!("a CONNACK with one of {}", matcher::hex_list(codes));
            match level(spec.connack_level, LevelKey::May) {
                LevelKey::Must => {
                    return Judged::Mismatch(Mismatch::with(
                        why,
                        format!("closed without {what}, which must come first"),
                    ));
                }
                LevelKey::Should => notes.push(format!("closed without the recommended {what}")),
                LevelKey::May => {}
            }
        }
    }
    if let (true, Some(codes)) = (v5, &spec.disconnect) {
        match closing.disconnect {
            Some(code) if !codes.contains(&code) => notes.push(format!(
                "DISCONNECT {} where {} is recommended",
                matcher::rc(code),
                matcher::hex_list(codes)
            )),
            Some(_) => {}
            None => match level(spec.disconnect_level, LevelKey::Should) {
                LevelKey::Must => {
                    return Judged::Mismatch(Mismatch::with(
                        why,
                        format!(
                            "closed without DISCONNECT; one of {} must come first",
                            matcher::hex_list(codes)
                        ),
                    ));
                }
                LevelKey::Should => notes.push(format!(
                    "closed without the recommended DISCONNECT {}",
                    matcher::hex_list(codes)
                )),
                LevelKey::May => {}
            },
        }
    }
    if let Some(late) = keep_alive_late(spec, closing, scale) {
        return Judged::Mismatch(Mismatch::with(why, late));
    }
    if non_strict {
        notes.push(format!("closed ({why}), not recommended"));
    }
    Judged::Done { choice, notes }
}

/// The deadline of a keep-alive close: one and a half times the Keep Alive
/// (MQTT-3.1.2-24 in 3.1.1, MQTT-3.1.2-22 in 5.0) plus [`KEEP_ALIVE_TOLERANCE`].
pub fn keep_alive_deadline(keep_alive: u16, scale: f64) -> Duration {
    Duration::from_millis(u64::from(keep_alive) * 1500) + KEEP_ALIVE_TOLERANCE.mul_f64(scale)
}

fn keep_alive_late(spec: &ClosedSpec, closing: &Closing, scale: f64) -> Option<String> {
    let keep_alive = spec.keep_alive?;
    let took = closing.began?;
    let deadline = keep_alive_deadline(keep_alive, scale);
    (took > deadline).then(|| {
        format!(
            "closed {:.1} s after the client's last packet; Keep Alive {keep_alive} s requires \
             the close within 1.5 x {keep_alive} s (allowed {:.1} s with the timer tolerance)",
            took.as_secs_f64(),
            deadline.as_secs_f64()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mqtt_codec::{ConnAck, Disconnect, ReasonCode};

    fn cx<'a>(captures: &'a mut Captures, subst: &'a dyn Fn(&str) -> String) -> Context<'a> {
        Context {
            v5: true,
            subst,
            captures,
            since_sent: Duration::from_millis(100),
            scale: 1.0,
        }
    }

    fn run(choices: &[Choice<'_>], events: &[Event]) -> Judged {
        let mut caps = Captures::new();
        let subst = |t: &str| t.to_owned();
        let mut cx = cx(&mut caps, &subst);
        let mut closing = Closing::default();
        let mut last = Judged::Closing;
        for e in events {
            last = judge(choices, e, &mut closing, &mut cx);
            if last != Judged::Closing {
                break;
            }
        }
        last
    }

    fn disconnect(code: u8) -> Event {
        Event::Packet(Packet::Disconnect(Disconnect {
            reason: ReasonCode(code),
            ..Disconnect::default()
        }))
    }

    fn eof() -> Event {
        Event::Closed("closed by the broker".into())
    }

    #[test]
    fn untestable_close_names_what_arrived() {
        let spec = ClosedSpec {
            disconnect: Some(vec![0x99]),
            ..ClosedSpec::default()
        };
        let choice = Choice {
            untestable: Some("refused"),
            ..Choice::closed(&spec)
        };
        let j = run(&[choice], &[disconnect(0x99), eof()]);
        let Judged::Untestable(why) = j else {
            panic!("{j:?}")
        };
        assert!(
            why.starts_with("refused (arrived: DISCONNECT 0x99, then connection closed"),
            "{why}"
        );
    }

    #[test]
    fn every_close_choice_counts_not_only_the_first() {
        // A DISCONNECT is required to check anything; a bare close is a lawful refusal.
        let measured = ClosedSpec {
            disconnect: Some(vec![0x99]),
            disconnect_level: Some(LevelKey::Must),
            ..ClosedSpec::default()
        };
        let bare = ClosedSpec {
            disconnect_level: Some(LevelKey::May),
            ..ClosedSpec::default()
        };
        let choices = [
            Choice::closed(&measured),
            Choice {
                untestable: Some("closed without DISCONNECT"),
                ..Choice::closed(&bare)
            },
        ];
        let j = run(&choices, &[eof()]);
        assert!(matches!(j, Judged::Untestable(_)), "{j:?}");
        let j = run(&choices, &[disconnect(0x99), eof()]);
        assert_eq!(
            j,
            Judged::Done {
                choice: 0,
                notes: Vec::new()
            }
        );
        // Without the second choice the bare close breaks the first one's MUST.
        let j = run(&choices[..1], &[eof()]);
        assert!(matches!(j, Judged::Mismatch(_)), "{j:?}");
    }

    #[test]
    fn an_untestable_choice_does_not_excuse_a_broken_rule() {
        // A success code where an error is required still fails (2.4).
        let spec = ClosedSpec {
            disconnect: Some(vec![0x99]),
            ..ClosedSpec::default()
        };
        let choice = Choice {
            untestable: Some("refused"),
            ..Choice::closed(&spec)
        };
        let j = run(&[choice], &[disconnect(0x00), eof()]);
        assert!(matches!(j, Judged::Mismatch(_)), "{j:?}");
    }

    #[test]
    fn junk_then_close_fails_and_says_both() {
        let spec = ClosedSpec::default();
        let j = run(
            &[Choice::closed(&spec)],
            &[
                Event::Malformed("malformed packet".into(), bytes::Bytes::new()),
                eof(),
            ],
        );
        let Judged::Mismatch(m) = j else {
            panic!("{j:?}")
        };
        assert!(m.arrived.contains("malformed packet; then closed"), "{m:?}");
    }

    #[test]
    fn unlisted_defined_disconnect_code_is_non_strict() {
        let spec = ClosedSpec {
            disconnect: Some(vec![0x8D]),
            ..ClosedSpec::default()
        };
        let j = run(&[Choice::closed(&spec)], &[disconnect(0x80), eof()]);
        let Judged::Done { notes, .. } = j else {
            panic!("{j:?}")
        };
        assert_eq!(notes.len(), 1, "{notes:?}");
    }

    #[test]
    fn success_code_where_an_error_is_required_fails() {
        let spec = ClosedSpec {
            disconnect: Some(vec![0x81, 0x82]),
            ..ClosedSpec::default()
        };
        let j = run(&[Choice::closed(&spec)], &[disconnect(0x00), eof()]);
        assert!(matches!(j, Judged::Mismatch(_)), "{j:?}");
        let j = run(&[Choice::closed(&spec)], &[disconnect(0x04), eof()]);
        assert!(matches!(j, Judged::Mismatch(_)), "{j:?}");
    }

    #[test]
    fn required_connack_before_close() {
        let spec = ClosedSpec {
            connack: Some(vec![0x02]),
            connack_level: Some(LevelKey::Must),
            ..ClosedSpec::default()
        };
        let j = run(&[Choice::closed(&spec)], &[eof()]);
        assert!(matches!(j, Judged::Mismatch(_)), "{j:?}");
        let connack = Event::Packet(Packet::ConnAck(ConnAck::new(false, ReasonCode(0x02))));
        let j = run(&[Choice::closed(&spec)], &[connack, eof()]);
        assert!(matches!(j, Judged::Done { .. }), "{j:?}");
    }

    #[test]
    fn keep_alive_close_is_timed() {
        let spec = ClosedSpec {
            keep_alive: Some(2),
            ..ClosedSpec::default()
        };
        let mut caps = Captures::new();
        let subst = |t: &str| t.to_owned();
        let mut c = cx(&mut caps, &subst);
        c.since_sent = Duration::from_millis(3900);
        let j = judge(
            &[Choice::closed(&spec)],
            &eof(),
            &mut Closing::default(),
            &mut c,
        );
        assert!(matches!(j, Judged::Done { .. }), "{j:?}");
        c.since_sent = Duration::from_millis(6000);
        let j = judge(
            &[Choice::closed(&spec)],
            &eof(),
            &mut Closing::default(),
            &mut c,
        );
        let Judged::Mismatch(m) = j else {
            panic!("{j:?}")
        };
        assert!(m.diff[0].contains("closed 6.0 s"), "{m:?}");
    }
}
