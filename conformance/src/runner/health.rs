//! Health checks: before the run (is the broker reachable, which versions does it offer),
//! after a suspect scenario (is it still alive) and after the run.

use std::collections::BTreeMap;

use mqtt_codec::{Connect, Packet};

use crate::client::{Connection, Event, Transcript, read_to_pingresp};
use crate::exec::Settings;
use crate::profile::Profile;
use crate::scenario::Version;

use super::schedule::Shared;

/// What the check before the run found.
pub(super) struct Versions {
    /// The selected versions the broker accepted.
    pub(super) offered: Vec<Version>,
    /// The others, and why.
    pub(super) absent: BTreeMap<Version, Absent>,
    /// CONNACK properties that differ from the profile, a PINGREQ left unanswered.
    pub(super) warnings: Vec<String>,
}

/// Checks each selected version. Errors when the broker cannot be reached at all, or when no
/// version got a CONNACK and none was refused in a way that fails.
pub(super) async fn probe_versions(
    settings: &Settings,
    profile: &Profile,
    selected: &[Version],
    redirects: bool,
) -> Result<Versions, crate::error::Error> {
    let mut found = Versions {
        offered: Vec::new(),
        absent: BTreeMap::new(),
        warnings: Vec::new(),
    };
    let mut last_err = String::new();
    for &v in selected {
        match health(settings, v, redirects, true).await {
            Ok(h) => {
                if let (true, Some(p)) = (v.is_v5(), &h.props) {
                    found.warnings.extend(profile.check_connack(p));
                }
                if !matches!(h.pong, Pong::Answered) {
                    found.warnings.push(format!(
                        "MQTT {v}: {}; scenarios that use a PINGREQ barrier report that they \
                         could not check",
                        h.pong.text()
                    ));
                }
                found.offered.push(v);
            }
            Err(HealthError::Unreachable(e)) => return Err(crate::error::Error::Unreachable(e)),
            Err(e) => {
                last_err = e.text().to_owned();
                found.absent.insert(v, Absent::judge(&e, profile, v));
            }
        }
    }
    let lawfully_absent = |a: &Absent| matches!(a, Absent::NotOffered(_));
    if found.offered.is_empty() && found.absent.values().all(lawfully_absent) {
        // A broker that refuses only the selected versions (`--mqtt-version 3.1` against a
        // 3.1.1 broker) is alive: their scenarios are skipped as not offered. One that
        // answers no version at all cannot be run.
        let mut alive_elsewhere = false;
        for &v in Version::EVERY.iter().filter(|v| !selected.contains(v)) {
            if health(settings, v, redirects, false).await.is_ok() {
                alive_elsewhere = true;
                break;
            }
        }
        if !alive_elsewhere {
            return Err(crate::error::Error::Unreachable(format!(
                "no selected version answered the health check ({last_err})"
            )));
        }
    }
    Ok(found)
}

/// Checks each offered version again after the run; warnings for what failed.
pub(super) async fn after_run(
    settings: &Settings,
    offered: &[Version],
    redirects: bool,
    state: &Shared,
) -> Vec<String> {
    let mut warnings = Vec::new();
    if state.dead().is_some() {
        // Said in the report's `down`; after a death each check would only wait out its
        // timeout again.
        return warnings;
    }
    for &v in offered {
        if let Err(e) = health(settings, v, redirects, false).await {
            warnings.push(format!(
                "health check after the run failed for MQTT {v}: {}",
                e.text()
            ));
        }
    }
    warnings
}

/// Whether the broker still answers a CONNECT under `v`.
pub(super) async fn alive(settings: &Settings, v: Version, redirects: bool) -> bool {
    health(settings, v, redirects, false).await.is_ok()
}

/// The network fuzzer's liveness oracle: a CONNACK and a PINGRESP for a fresh client under
/// `v`; why not, when not.
pub(crate) async fn responsive(settings: &Settings, v: Version) -> Result<(), String> {
    match health(settings, v, true, true).await {
        Ok(Health {
            pong: Pong::Answered,
            ..
        }) => Ok(()),
        Ok(h) => Err(format!("MQTT {v}: {}", h.pong.text())),
        Err(e) => Err(e.text().to_owned()),
    }
}

/// A selected version the broker did not accept at the health check.
pub(super) enum Absent {
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

/// What a health check learned: the 5.0 CONNACK properties, and how a PINGREQ was answered.
struct Health {
    props: Option<mqtt_codec::Properties>,
    pong: Pong,
}

/// The answer to the health check's PINGREQ.
enum Pong {
    /// A PINGRESP (possibly after other packets), or no PINGREQ was sent.
    Answered,
    /// Neither a PINGRESP nor anything else within the step timeout.
    Silent,
    /// No PINGRESP; the connection carried this instead (a close, bytes that do not decode,
    /// or packets a fresh client never asked for, such as a PUBLISH without a subscription).
    Instead(String),
}

impl Pong {
    fn text(&self) -> String {
        match self {
            Self::Answered => "PINGREQ answered".into(),
            Self::Silent => "no answer to a PINGREQ".into(),
            Self::Instead(what) => format!("no PINGRESP to a PINGREQ; instead {what}"),
        }
    }
}

/// Reads until the PINGRESP, at most a few packets and one step timeout: a broker may have
/// other packets on the way to a fresh client (wrongly, but the liveness question is only
/// whether it answers), and telling silence from them names the fault right.
async fn pong(c: &mut Connection, timeout: std::time::Duration) -> Pong {
    let answer = read_to_pingresp(c, timeout, 8).await;
    if answer.answered {
        return Pong::Answered;
    }
    if answer.before.is_empty() {
        return Pong::Silent;
    }
    let seen: Vec<String> = (answer.before.iter())
        .map(|ev| match ev {
            Event::Packet(p) => crate::client::summary(p),
            Event::Malformed(why, _) => format!("bytes that do not decode ({why})"),
            Event::Closed(why) => format!("the connection closed ({why})"),
        })
        .collect();
    Pong::Instead(seen.join(", "))
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
        Ok(Err(e)) => return Err(HealthError::Unreachable(e.to_string())),
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
                pong: Pong::Answered,
            });
        }
    };
    let pong = if ping {
        let _ = c.send_packet(&Packet::PingReq).await;
        pong(&mut c, s.step_timeout).await
    } else {
        Pong::Answered
    };
    let _ = c
        .send_packet(&Packet::Disconnect(mqtt_codec::Disconnect::default()))
        .await;
    c.close().await;
    Ok(Health {
        props: Some(props),
        pong,
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
            unsupported: crate::probe::refuses_version(v.protocol(), a.code.0),
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
