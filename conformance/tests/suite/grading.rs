//! Grading against fake brokers: each behaves as the spec allows and must pass, or breaks a
//! rule and must fail, one per grading rule of the runner (see `judge.rs`).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use mqtt_conformance::profile::Profile;
use mqtt_conformance::runner::{Outcome, RunReport, ScenarioResult};
use mqtt_conformance::scenario::Version;
use mqtt_conformance::transport::Target;

use crate::fake::{Fake, Reply, Seen};
use crate::support::{options, run_with, scenario_dir};

const CONNACK_V3: [u8; 4] = [0x20, 0x02, 0x00, 0x00];
const CONNACK_V5: [u8; 5] = [0x20, 0x03, 0x00, 0x00, 0x00];

fn connack(p: &Seen<'_>) -> Vec<u8> {
    if p.level == 5 {
        CONNACK_V5.to_vec()
    } else {
        CONNACK_V3.to_vec()
    }
}

pub(crate) fn corpus_file(path: &str) -> String {
    let full = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios")
        .join(path);
    std::fs::read_to_string(full).unwrap()
}

pub(crate) async fn run_files(
    files: &[(&str, &str)],
    fake: &Fake,
    profile: &Profile,
    scale: f64,
) -> RunReport {
    let dir = scenario_dir(files);
    let mut opts = options(Target::tcp(fake.addr), Duration::from_millis(1500));
    opts.settings.scale = scale;
    let run = run_with(&dir, profile, &opts);
    tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("the run stalled")
        .unwrap()
}

pub(crate) fn result<'a>(r: &'a RunReport, id: &str, v: Version) -> &'a ScenarioResult {
    r.results
        .iter()
        .find(|x| x.id == id && x.version == v)
        .unwrap_or_else(|| panic!("no result for {id} ({v}): {:?}", r.results))
}

pub(crate) fn arrived(r: &ScenarioResult) -> String {
    r.failure
        .as_ref()
        .map(|f| format!("{} | {}", f.arrived, f.diff.join(" | ")))
        .unwrap_or_default()
}

/// A malformed PINGREQ (Remaining Length 1) the broker must close on.
const CLOSES: &str = r#"
id: bad-pingreq-closes
title: A PINGREQ with a Remaining Length of 1 closes the connection.
statements: { must: [MQTT-3.3.4-1] }
versions: [3.1.1, 5.0]
steps:
  - { client: a, connect: {} }
  - { client: a, send_hex: "c0 01 00" }
  - { client: a, expect_closed: { disconnect: [0x81] } }
"#;

/// The same inside `expect_one_of`.
const CLOSES_ONE_OF: &str = r#"
id: bad-pingreq-one-of
title: A PINGREQ with a Remaining Length of 1 closes the connection.
statements: { must: [MQTT-3.3.4-1] }
versions: [5.0]
steps:
  - { client: a, connect: {} }
  - { client: a, send_hex: "c0 01 00" }
  - client: a
    expect_one_of:
      - expect: { suback: { id: 9 } }
      - expect_closed: { disconnect: [0x81] }
"#;

/// The fake answers the malformed PINGREQ with `reply`, everything else well.
async fn on_bad_pingreq(reply: Reply) -> Fake {
    Fake::start(move |p| match p.kind {
        12 if !p.body.is_empty() => reply.clone(),
        _ => Reply::Answer,
    })
    .await
}

#[tokio::test]
async fn junk_instead_of_a_close_fails() {
    let fake = on_bad_pingreq(Reply::SendThenDeaf(vec![0x00, 0x00])).await;
    let report = run_files(
        &[("t/bad-pingreq-closes.yaml", CLOSES)],
        &fake,
        &Profile::permissive(),
        1.0,
    )
    .await;
    for v in Version::ALL {
        let r = result(&report, "bad-pingreq-closes", v);
        assert_eq!(r.outcome, Outcome::Fail, "{r:?}");
        let a = arrived(r);
        assert!(a.contains("malformed") && a.contains("still open"), "{a}");
    }
}

#[tokio::test]
async fn junk_then_a_close_fails_and_the_report_says_both() {
    let fake = on_bad_pingreq(Reply::SendThenClose(vec![0x00, 0x00])).await;
    let report = run_files(
        &[("t/bad-pingreq-closes.yaml", CLOSES)],
        &fake,
        &Profile::permissive(),
        1.0,
    )
    .await;
    let r = result(&report, "bad-pingreq-closes", Version::V5_0);
    assert_eq!(r.outcome, Outcome::Fail, "{r:?}");
    let a = arrived(r);
    assert!(
        a.contains("malformed") && a.contains("then closed by the broker"),
        "{a}"
    );
}

/// Runs both closing scenarios against a broker that sends `bytes` and closes.
async fn disconnect_then_close(bytes: Vec<u8>) -> (Outcome, Outcome) {
    let fake = on_bad_pingreq(Reply::SendThenClose(bytes)).await;
    let files = [
        ("t/bad-pingreq-closes.yaml", CLOSES),
        ("t/bad-pingreq-one-of.yaml", CLOSES_ONE_OF),
    ];
    let report = run_files(&files, &fake, &Profile::permissive(), 1.0).await;
    (
        result(&report, "bad-pingreq-closes", Version::V5_0).outcome,
        result(&report, "bad-pingreq-one-of", Version::V5_0).outcome,
    )
}

#[tokio::test]
async fn disconnect_codes_are_graded_by_the_spec() {
    // The listed code passes; no DISCONNECT at all is the SHOULD left out.
    assert_eq!(
        disconnect_then_close(vec![0xE0, 0x01, 0x81]).await,
        (Outcome::Pass, Outcome::Pass)
    );
    let silent = (Outcome::NonStrict, Outcome::NonStrict);
    assert_eq!(disconnect_then_close(vec![]).await, silent);
    // 0x82 Protocol Error is defined for DISCONNECT but not the one recommended: non-strict.
    assert_eq!(disconnect_then_close(vec![0xE0, 0x01, 0x82]).await, silent);
    // A success code where an error is required, the client-only 0x04, and a code the spec
    // does not define for DISCONNECT all fail.
    for code in [0x00, 0x04, 0x85] {
        let fail = (Outcome::Fail, Outcome::Fail);
        assert_eq!(
            disconnect_then_close(vec![0xE0, 0x01, code]).await,
            fail,
            "0x{code:02X}"
        );
    }
}

/// A fake that answers a CONNECT whose client id or protocol level `refuse` picks with
/// `reply`, and everything else well.
async fn refusing(refuse: fn(&Seen<'_>) -> bool, reply: fn(&Seen<'_>) -> Reply) -> Fake {
    Fake::start(move |p| match p.kind {
        1 if refuse(p) => reply(p),
        _ => Reply::Answer,
    })
    .await
}

fn long_id(p: &Seen<'_>) -> bool {
    p.client_id.len() > 23
}

#[tokio::test]
async fn a_refusal_connack_before_the_close_is_honoured_inside_one_of() {
    let file = corpus_file("connect/long-client-id-accepted-or-refused.yaml");
    let files = [("t/long-client-id-accepted-or-refused.yaml", file.as_str())];
    // 3.1.1 CONNACK 0x02 or 5.0 CONNACK 0x85, then the close: lawful under both.
    let fake = refusing(long_id, |p| {
        Reply::SendThenClose(if p.level == 5 {
            vec![0x20, 0x03, 0x00, 0x85, 0x00]
        } else {
            vec![0x20, 0x02, 0x00, 0x02]
        })
    })
    .await;
    let report = run_files(&files, &fake, &Profile::permissive(), 1.0).await;
    for v in Version::ALL {
        let r = result(&report, "long-client-id-accepted-or-refused", v);
        assert_eq!(r.outcome, Outcome::Pass, "{r:?}");
    }
    // A close without the CONNACK: 3.1.1 requires it (MQTT-3.1.3-9), 5.0 does not.
    let fake = refusing(long_id, |_| Reply::Close).await;
    let report = run_files(&files, &fake, &Profile::permissive(), 1.0).await;
    let r = result(
        &report,
        "long-client-id-accepted-or-refused",
        Version::V3_1_1,
    );
    assert_eq!(r.outcome, Outcome::Fail, "{r:?}");
    assert!(arrived(r).contains("must come first"), "{}", arrived(r));
    let r = result(&report, "long-client-id-accepted-or-refused", Version::V5_0);
    assert_eq!(r.outcome, Outcome::Pass, "{r:?}");
}

#[tokio::test]
async fn an_unknown_protocol_level_needs_a_connack_under_3_1_1() {
    let file = corpus_file("connect/unsupported-protocol-level.yaml");
    let files = [("t/unsupported-protocol-level.yaml", file.as_str())];
    let level9 = |p: &Seen<'_>| p.level == 9;
    // CONNACK 0x84 in the 5.0 format, then the close: lawful for both runs.
    let fake = refusing(level9, |_| {
        Reply::SendThenClose(vec![0x20, 0x03, 0x00, 0x84, 0x00])
    })
    .await;
    let report = run_files(&files, &fake, &Profile::permissive(), 1.0).await;
    for v in Version::ALL {
        let r = result(&report, "unsupported-protocol-level", v);
        assert_eq!(r.outcome, Outcome::Pass, "{r:?}");
    }
    // A silent close: 3.1.1 requires CONNACK 0x01 first (MQTT-3.1.2-2); 5.0 only allows one.
    let fake = refusing(level9, |_| Reply::Close).await;
    let report = run_files(&files, &fake, &Profile::permissive(), 1.0).await;
    let r = result(&report, "unsupported-protocol-level", Version::V3_1_1);
    assert_eq!(r.outcome, Outcome::Fail, "{r:?}");
    let r = result(&report, "unsupported-protocol-level", Version::V5_0);
    assert_eq!(r.outcome, Outcome::Pass, "{r:?}");
}

const PUBACKED: &str = r#"
id: puback
title: A QoS 1 PUBLISH is acknowledged.
statements: { must: [MQTT-3.3.4-1] }
versions: [3.1.1, 5.0]
steps:
  - { client: a, connect: {} }
  - { client: a, publish: { topic: "{t}/x", qos: 1, id: 7, payload: hi } }
  - { client: a, expect: { puback: { id: 7 } } }
"#;

fn five_refused_with(code: u8) -> impl Fn(&Seen<'_>) -> Reply + Send + Sync + 'static {
    move |p| match p.kind {
        1 if p.level == 5 => Reply::SendThenClose(vec![0x20, 0x03, 0x00, code, 0x00]),
        _ => Reply::Answer,
    }
}

#[tokio::test]
async fn a_declared_version_the_broker_refuses_fails_with_the_code() {
    let dir = scenario_dir(&[("fake.yaml", "broker: fake\nversions: [3.1.1, 5.0]\n")]);
    let profile = Profile::load(dir.join("fake.yaml").to_str().unwrap()).unwrap();
    let fake = Fake::start(five_refused_with(0x84)).await;
    let report = run_files(&[("t/puback.yaml", PUBACKED)], &fake, &profile, 1.0).await;
    let r = result(&report, "puback", Version::V5_0);
    assert_eq!(r.outcome, Outcome::Fail, "{r:?}");
    assert!(
        r.message.contains("declares MQTT 5.0") && r.message.contains("0x84"),
        "{}",
        r.message
    );
    assert_eq!(
        result(&report, "puback", Version::V3_1_1).outcome,
        Outcome::Pass
    );
    assert!(report.failed());
}

#[tokio::test]
async fn without_a_profile_only_an_unsupported_version_refusal_means_not_offered() {
    let fake = Fake::start(five_refused_with(0x84)).await;
    let report = run_files(
        &[("t/puback.yaml", PUBACKED)],
        &fake,
        &Profile::permissive(),
        1.0,
    )
    .await;
    assert_eq!(
        result(&report, "puback", Version::V5_0).outcome,
        Outcome::Skip
    );
    // 0x87 Not authorized says nothing about the version: a failure with the code.
    let fake = Fake::start(five_refused_with(0x87)).await;
    let report = run_files(
        &[("t/puback.yaml", PUBACKED)],
        &fake,
        &Profile::permissive(),
        1.0,
    )
    .await;
    let r = result(&report, "puback", Version::V5_0);
    assert_eq!(r.outcome, Outcome::Fail, "{r:?}");
    assert!(r.message.contains("0x87"), "{}", r.message);
    // A 3.1.1-only broker's own CONNACK 0x01 (which does not decode as 5.0): not offered.
    let fake = Fake::start(|p: &Seen<'_>| match p.kind {
        1 if p.level == 5 => Reply::SendThenClose(vec![0x20, 0x02, 0x00, 0x01]),
        _ => Reply::Answer,
    })
    .await;
    let report = run_files(
        &[("t/puback.yaml", PUBACKED)],
        &fake,
        &Profile::permissive(),
        1.0,
    )
    .await;
    assert_eq!(
        result(&report, "puback", Version::V5_0).outcome,
        Outcome::Skip
    );
}

#[tokio::test]
async fn a_broker_that_never_answers_pingreq_is_reachable_and_reported() {
    let pingreq = corpus_file("keepalive/pingreq-answered.yaml");
    let fake = Fake::start(|p| match p.kind {
        12 => Reply::Silent,
        _ => Reply::Answer,
    })
    .await;
    let files = [
        ("t/puback.yaml", PUBACKED),
        ("t/pingreq-answered.yaml", pingreq.as_str()),
    ];
    let report = run_files(&files, &fake, &Profile::permissive(), 1.0).await;
    for v in Version::ALL {
        assert_eq!(result(&report, "puback", v).outcome, Outcome::Pass);
        let r = result(&report, "pingreq-answered", v);
        assert_eq!(r.outcome, Outcome::Fail, "{r:?}");
    }
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains("no answer to a PINGREQ")),
        "{:?}",
        report.warnings
    );
}

#[tokio::test]
async fn a_pingreq_answered_with_something_else_is_told_from_silence() {
    // A 3.1.1 QoS 0 PUBLISH on topic `x` that nobody subscribed to, instead of the PINGRESP.
    let fake = Fake::start(|p| match p.kind {
        12 => Reply::Send(vec![0x30, 0x04, 0x00, 0x01, b'x', b'y']),
        _ => Reply::Answer,
    })
    .await;
    let report = run_files(
        &[("t/puback.yaml", PUBACKED)],
        &fake,
        &Profile::permissive(),
        1.0,
    )
    .await;
    let warning = report
        .warnings
        .iter()
        .find(|w| w.contains("MQTT 3.1.1") && w.contains("PINGREQ"));
    let warning = warning.unwrap_or_else(|| panic!("{:?}", report.warnings));
    assert!(
        warning.contains("no PINGRESP to a PINGREQ; instead PUBLISH"),
        "{warning}"
    );
}

/// Answers CONNECT with a CONNACK, then closes `after` later if given (reading nothing).
async fn closing_after(after: Option<Duration>) -> Fake {
    Fake::start(move |p| match (p.kind, after) {
        (1, Some(d)) => Reply::SendThenCloseAfter(connack(p), d),
        _ => Reply::Answer,
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_closes_are_timed() {
    let file = corpus_file("keepalive/closed-after-one-and-a-half-keep-alive.yaml");
    let files = [(
        "t/closed-after-one-and-a-half-keep-alive.yaml",
        file.as_str(),
    )];
    let id = "closed-after-one-and-a-half-keep-alive";
    // Keep Alive 2: 1.5 x 2 = 3 s, plus 1 s tolerance.
    let (lawful, late, never) = tokio::join!(
        closing_after(Some(Duration::from_millis(2900))),
        closing_after(Some(Duration::from_millis(5500))),
        closing_after(None),
    );
    let p = Profile::permissive();
    let (lawful, late, never) = tokio::join!(
        run_files(&files, &lawful, &p, 1.0),
        run_files(&files, &late, &p, 1.0),
        run_files(&files, &never, &p, 1.0),
    );
    for v in Version::ALL {
        let r = result(&lawful, id, v);
        assert_eq!(r.outcome, Outcome::Pass, "{r:?}");
        let r = result(&late, id, v);
        assert_eq!(r.outcome, Outcome::Fail, "{r:?}");
        assert!(arrived(r).contains("closed 5."), "{}", arrived(r));
        let r = result(&never, id, v);
        assert_eq!(r.outcome, Outcome::Fail, "{r:?}");
        assert!(arrived(r).contains("still open after 8s"), "{}", arrived(r));
    }
}

const NOTHING: &str = r#"
id: quiet
title: Nothing arrives unasked.
statements: { must: [MQTT-3.3.4-1] }
versions: [5.0]
steps:
  - { client: a, connect: {} }
  - { client: a, expect_nothing: 200ms }
"#;

#[tokio::test]
async fn quiet_windows_scale_with_the_timeout_scale() {
    let fake = Fake::start(|_| Reply::Answer).await;
    let start = Instant::now();
    let report = run_files(
        &[("t/quiet.yaml", NOTHING)],
        &fake,
        &Profile::permissive(),
        5.0,
    )
    .await;
    assert_eq!(
        result(&report, "quiet", Version::V5_0).outcome,
        Outcome::Pass
    );
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
}

const LATE: &str = r#"
id: late
title: An optional PUBACK may come late.
statements: { must: [MQTT-3.3.4-1] }
versions: [5.0]
steps:
  - { client: a, connect: {} }
  - { client: a, publish: { topic: "{t}/x", qos: 1, id: 7, payload: hi } }
  - client: a
    expect_one_of:
      - expect: { puback: { id: 7 } }
      - expect_nothing: 100ms
  - { client: a, pingreq: {} }
  - { client: a, publish: { topic: "{t}/x", qos: 1, id: 8, payload: hi } }
  - client: a
    expect_unordered:
      quiet: 100ms
      packets:
        - { expect: { pingresp: {} } }
        - { expect: { puback: { id: 8 } }, optional: true }
  - { client: a, expect_nothing: 100ms }
"#;

#[tokio::test]
async fn an_optional_packet_after_the_quiet_window_is_accepted_up_to_the_barrier() {
    // The PUBACK comes 500 ms late, before the barrier's PINGRESP (the fake reads the PINGREQ
    // only after sending it).
    let fake = Fake::start(|p| match p.kind {
        3 => {
            let id = p.body[2 + p.topic().len()..4 + p.topic().len()].to_vec();
            Reply::SendAfter(Duration::from_millis(500), [vec![0x40, 0x02], id].concat())
        }
        _ => Reply::Answer,
    })
    .await;
    let report = run_files(&[("t/late.yaml", LATE)], &fake, &Profile::permissive(), 1.0).await;
    let r = result(&report, "late", Version::V5_0);
    assert_eq!(r.outcome, Outcome::Pass, "{r:?}");
}

#[tokio::test]
async fn undecodable_bytes_for_a_barrier_fail_the_step_on_a_connection_left_open() {
    // Nothing after undecodable bytes can be framed, so no PINGRESP can follow them: the
    // barrier ends there, and the bytes are judged, rather than waited out as an unanswered
    // PINGREQ.
    let fake = Fake::start(|p| match p.kind {
        12 => Reply::SendThenDeaf(vec![0x00, 0x00]),
        _ => Reply::Answer,
    })
    .await;
    let report = run_files(
        &[("t/quiet.yaml", NOTHING)],
        &fake,
        &Profile::permissive(),
        1.0,
    )
    .await;
    let r = result(&report, "quiet", Version::V5_0);
    assert_eq!(r.outcome, Outcome::Fail, "{r:?}");
    assert!(arrived(r).contains("malformed"), "{}", arrived(r));
}

/// rumqttd once closed a connection right after its CONNACK, before the client's DISCONNECT,
/// then rightly published the will; `disconnect-discards-will-before-close` failed it for that.
/// A DISCONNECT the broker never read shows nothing about a normal disconnection: untestable,
/// in both versions. The scenario here is that one with a pause before the DISCONNECT, so that
/// the close has surely arrived (this fake publishes no wills: without the check it passed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_close_before_the_clients_disconnect_is_untestable() {
    let fake = Fake::start(|p| match p.kind {
        // Client `a` of the scenario (its ids end in the client's name); not the health check.
        1 if p.client_id.ends_with('a') => Reply::SendThenClose(connack(p)),
        _ => Reply::Answer,
    })
    .await;
    let id = "disconnect-discards-will-before-close";
    let file = corpus_file(&format!("disconnect/{id}.yaml"));
    let disconnect = "  - { client: a, disconnect: {}";
    assert!(file.contains(disconnect), "{file}");
    let paused = file.replace(
        disconnect,
        &format!("  - {{ client: a, wait: 300ms }}\n{disconnect}"),
    );
    let files = [(&*format!("t/{id}.yaml"), paused.as_str())];
    let report = run_files(&files, &fake, &Profile::permissive(), 1.0).await;
    for v in Version::ALL {
        let r = result(&report, id, v);
        assert_eq!(r.outcome, Outcome::Skip, "{r:?}");
        assert!(
            r.message
                .contains("closed the connection before the client's DISCONNECT"),
            "{}",
            r.message
        );
    }
}
