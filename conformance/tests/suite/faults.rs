//! The runner against brokers that misbehave as a whole rather than on one packet: a broker
//! that dies or wedges mid-run, one that never answers one scenario, one that never answers a
//! CONNECT at all or only under 3.1.1, and one that passes a scenario only sometimes.
//!
//! Every fake broker is a [`Fake`] on a loopback port; every run is bounded by a timeout.

use std::time::{Duration, Instant};

use mqtt_conformance::error::Error;
use mqtt_conformance::profile::Profile;
use mqtt_conformance::runner::{Outcome, RunReport};
use mqtt_conformance::scenario::Version;
use mqtt_conformance::transport::Target;

use crate::fake::{Fake, Reply};
use crate::support::{options, run_cli, run_with, scenario_dir};

/// The step timeout of these runs: short, since the fakes answer at once or never.
const STEP: Duration = Duration::from_millis(400);

/// A bound on a whole test run, far below what a stalled run would take. Assertions on time
/// compare with half of it: loose enough for a loaded machine, tight enough to tell a run
/// that was cut off from one that stalled.
const BOUND: Duration = Duration::from_secs(60);

/// A QoS 1 PUBLISH to `{t}/<topic>` answered by a PUBACK, under 5.0.
fn publishing(id: &str, topic: &str) -> String {
    format!(
        r#"
id: {id}
title: A QoS 1 PUBLISH is acknowledged.
statements: {{ must: [MQTT-3.3.4-1] }}
versions: [5.0]
steps:
  - {{ client: a, connect: {{}} }}
  - {{ client: a, publish: {{ topic: "{{t}}/{topic}", qos: 1, id: 7, payload: hi }} }}
  - {{ client: a, expect: {{ puback: {{ id: 7 }} }} }}
"#
    )
}

/// `n` scenarios `ok-1`..`ok-n` that pass against a well-behaved broker.
fn passing(n: usize) -> Vec<(String, String)> {
    (1..=n)
        .map(|i| {
            (
                format!("demo/ok-{i}.yaml"),
                publishing(&format!("ok-{i}"), "x"),
            )
        })
        .collect()
}

fn dir(files: &[(String, String)]) -> std::path::PathBuf {
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    scenario_dir(&refs)
}

async fn bounded_run(
    files: &[(String, String)],
    fake: &Fake,
    tweak: impl FnOnce(&mut mqtt_conformance::runner::Options),
) -> (Result<RunReport, Error>, Duration) {
    let dir = dir(files);
    let mut opts = options(Target::tcp(fake.addr), STEP);
    tweak(&mut opts);
    let start = Instant::now();
    let report = tokio::time::timeout(BOUND, run_with(&dir, &Profile::permissive(), &opts))
        .await
        .expect("the run stalled");
    (report, start.elapsed())
}

fn outcome<'a>(r: &'a RunReport, id: &str) -> &'a mqtt_conformance::runner::ScenarioResult {
    r.results
        .iter()
        .find(|x| x.id == id)
        .unwrap_or_else(|| panic!("no result for {id}"))
}

/// A killer scenario (exclusive, so it runs first) publishes to `{t}/crash`, on which the
/// fake broker dies the way `death` says; the others come after it.
async fn broker_dies_mid_run(death: Reply) {
    let fake = Fake::start(move |p| {
        if p.topic().ends_with("/crash") {
            death.clone()
        } else {
            Reply::Answer
        }
    })
    .await;
    let mut files = passing(5);
    files.push((
        "demo/killer.yaml".into(),
        publishing("killer", "crash").replace("steps:", "exclusive: true\nsteps:"),
    ));
    let (report, took) = bounded_run(&files, &fake, |o| o.jobs = 1).await;
    let report = report.unwrap();
    let killer = outcome(&report, "killer");
    assert_eq!(killer.outcome, Outcome::Error, "{killer:?}");
    assert!(
        killer.message.contains("likely culprit: killer (5.0)"),
        "{}",
        killer.message
    );
    for i in 1..=5 {
        let r = outcome(&report, &format!("ok-{i}"));
        assert_eq!(r.outcome, Outcome::Error, "{r:?}");
        assert!(
            r.message.contains("likely culprit: killer (5.0)"),
            "{}",
            r.message
        );
    }
    assert!(report.failed());
    // The death is data, not wording: the run's likely culprits, and each result's.
    let culprits = report.down.as_ref().expect("the death is recorded");
    assert_eq!(culprits[0].id, "killer", "{culprits:?}");
    assert!(killer.down.is_some(), "{killer:?}");
    // The killer's step timeout and one health check, not one per remaining scenario.
    assert!(took < BOUND / 2, "took {took:?}");
}

#[tokio::test]
async fn broker_wedged_mid_run_makes_the_rest_errors_naming_the_culprit() {
    broker_dies_mid_run(Reply::Wedge).await;
}

#[tokio::test]
async fn broker_crashed_mid_run_makes_the_rest_errors_naming_the_culprit() {
    broker_dies_mid_run(Reply::Crash).await;
}

#[tokio::test]
async fn scenario_without_connack_fails_alone_within_its_step_timeout() {
    // The broker never answers the CONNECT of one client id; everything else is normal.
    let fake = Fake::start(|p| {
        if p.kind == 1 && p.client_id == "never-connacked" {
            Reply::Silent
        } else {
            Reply::Answer
        }
    })
    .await;
    let mut files = passing(4);
    files.push((
        "demo/silent.yaml".into(),
        publishing("silent", "x").replace(
            "steps:",
            "clients: { a: { client_id: never-connacked } }\nsteps:",
        ),
    ));
    let (report, took) = bounded_run(&files, &fake, |_| {}).await;
    let report = report.unwrap();
    let silent = outcome(&report, "silent");
    assert_eq!(silent.outcome, Outcome::Fail, "{silent:?}");
    assert!(
        silent
            .failure
            .as_ref()
            .unwrap()
            .arrived
            .contains("nothing within"),
        "{silent:?}"
    );
    for i in 1..=4 {
        assert_eq!(outcome(&report, &format!("ok-{i}")).outcome, Outcome::Pass);
    }
    assert!(took < BOUND / 2, "took {took:?}");
}

#[tokio::test]
async fn scenario_without_pingresp_cannot_check_alone_within_its_step_timeout() {
    // `expect_nothing` ends on a PINGREQ barrier; this broker never answers one client's.
    let fake = Fake::start(|p| {
        if p.kind == 12 && p.client_id == "never-pinged" {
            Reply::Silent
        } else {
            Reply::Answer
        }
    })
    .await;
    let mut files = passing(4);
    files.push((
        "demo/quiet.yaml".into(),
        r#"
id: quiet
title: Nothing arrives unasked.
statements: { must: [MQTT-3.3.4-1] }
versions: [5.0]
clients: { a: { client_id: never-pinged } }
steps:
  - { client: a, connect: {} }
  - { client: a, expect_nothing: 100ms }
"#
        .into(),
    ));
    let (report, took) = bounded_run(&files, &fake, |_| {}).await;
    let report = report.unwrap();
    // The scenario could not check that nothing arrives: an error saying so, not a failure.
    let quiet = outcome(&report, "quiet");
    assert_eq!(quiet.outcome, Outcome::Error, "{quiet:?}");
    assert!(
        quiet.message.contains("could not check") && quiet.message.contains("no PINGRESP"),
        "{quiet:?}"
    );
    for i in 1..=4 {
        assert_eq!(outcome(&report, &format!("ok-{i}")).outcome, Outcome::Pass);
    }
    assert!(took < BOUND / 2, "took {took:?}");
}

// Multi-threaded, as the CLI runs: decoding the large hex of the blocked scenario takes a
// while in a debug build, and must not starve the others' timers.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scenario_blocked_on_a_write_is_cut_off_at_its_overall_limit() {
    // The broker stops reading one client after its CONNACK, so a large PUBLISH fills the
    // socket buffers and the write never completes: no step timeout applies, only the
    // scenario's overall limit.
    let fake = Fake::start(|p| match (p.kind, p.client_id) {
        (1, "stops-reading") => Reply::SendThenDeaf(vec![0x20, 0x03, 0x00, 0x00, 0x00]),
        _ => Reply::Answer,
    })
    .await;
    // A QoS 0 PUBLISH of 8 MiB, more than loopback buffers hold for a reader that never
    // reads: the fixed header, then 16 chunks of 512 KiB (one YAML anchor, so the file stays
    // small). Each chunk step has a short timeout, to keep the overall limit short.
    const CHUNK: usize = 512 * 1024;
    let mut remaining_length = Vec::new();
    mqtt_codec::varint::write(
        &mut remaining_length,
        u32::try_from(16 * CHUNK + 4).unwrap(),
    );
    let mut header = String::from("30 ");
    for b in remaining_length {
        header.push_str(&format!("{b:02x}"));
    }
    header.push_str(" 0002 7878");
    let zeros = "00".repeat(CHUNK);
    let mut steps = format!(
        "  - {{ client: a, connect: {{}} }}\n  - {{ client: a, send_hex: \"{header}\" }}\n  \
         - &chunk {{ client: a, send_hex: \"{zeros}\", timeout: 10ms }}\n"
    );
    steps.push_str(&"  - *chunk\n".repeat(15));
    steps.push_str("  - { client: a, expect_nothing: 100ms }\n");
    let mut files = passing(3);
    files.push((
        "demo/blocked.yaml".into(),
        format!(
            "id: blocked\ntitle: A large PUBLISH to a broker that stopped reading.\n\
             statements: {{ must: [MQTT-3.3.4-1] }}\nversions: [5.0]\n\
             clients: {{ a: {{ client_id: stops-reading }} }}\nsteps:\n{steps}"
        ),
    ));
    let (report, took) = bounded_run(&files, &fake, |_| {}).await;
    let report = report.unwrap();
    let blocked = outcome(&report, "blocked");
    assert_eq!(blocked.outcome, Outcome::Error, "{blocked:?}");
    assert!(
        blocked.message.contains("the scenario hung"),
        "{}",
        blocked.message
    );
    for i in 1..=3 {
        let r = outcome(&report, &format!("ok-{i}"));
        assert_eq!(r.outcome, Outcome::Pass, "{}", r.message);
    }
    // Cut off at its limit (2.3 s here: twice the step timeout, a step timeout for each of the
    // connect, header and expect_nothing steps, 10 ms per chunk, 100 ms quiet), plus the
    // health check that tells a hang from a death. The bound is loose so a loaded machine
    // passes; a scenario that was never cut off would run into BOUND.
    assert!(blocked.duration < BOUND / 2, "{:?}", blocked.duration);
    assert!(took < BOUND / 2, "took {took:?}");
}

#[tokio::test]
async fn broker_answering_no_connect_is_unreachable_in_bounded_time() {
    let fake = Fake::start(|_| Reply::Silent).await;
    let (report, took) = bounded_run(&passing(1), &fake, |_| {}).await;
    match report {
        Err(Error::Unreachable(msg)) => assert!(msg.contains("no CONNACK"), "{msg}"),
        other => panic!("expected Unreachable, got {other:?}"),
    }
    // One CONNACK wait per version.
    assert!(took < BOUND / 2, "took {took:?}");
}

#[tokio::test]
async fn broker_answering_only_3_1_1_gets_5_0_skipped_as_not_offered() {
    // Like amqtt and mqttools: a 5.0 CONNECT gets no answer at all (or a close).
    for refusal in [Reply::Silent, Reply::Close] {
        let fake = Fake::start(move |p| {
            if p.kind == 1 && p.level == 5 {
                refusal.clone()
            } else {
                Reply::Answer
            }
        })
        .await;
        let files = vec![(
            "demo/both.yaml".to_owned(),
            publishing("both", "x").replace("[5.0]", "[3.1.1, 5.0]"),
        )];
        let (report, took) = bounded_run(&files, &fake, |_| {}).await;
        let report = report.unwrap();
        let v3 = report
            .results
            .iter()
            .find(|r| r.version == Version::V3_1_1)
            .unwrap();
        assert_eq!(v3.outcome, Outcome::Pass, "{v3:?}");
        let v5 = report
            .results
            .iter()
            .find(|r| r.version == Version::V5_0)
            .unwrap();
        assert_eq!(v5.outcome, Outcome::Skip, "{v5:?}");
        assert!(v5.message.contains("not offered"), "{}", v5.message);
        assert!(!report.failed());
        assert!(took < BOUND / 2, "took {took:?}");
    }
}

#[tokio::test]
async fn scenario_passing_only_sometimes_is_flaky_and_fails_the_run() {
    // Every other QoS 1 PUBLISH is acknowledged; the rest get the connection closed.
    let count = std::sync::atomic::AtomicUsize::new(0);
    let fake = Fake::start(move |p| {
        if p.kind == 3 && count.fetch_add(1, std::sync::atomic::Ordering::SeqCst) % 2 == 1 {
            Reply::Close
        } else {
            Reply::Answer
        }
    })
    .await;
    let files = vec![(
        "demo/sometimes.yaml".to_owned(),
        publishing("sometimes", "x"),
    )];
    let (report, _) = bounded_run(&files, &fake, |o| o.repeat = 3).await;
    let report = report.unwrap();
    assert_eq!(report.results.len(), 1);
    let r = &report.results[0];
    let runs = r.flaky.as_ref().expect("reported as flaky");
    assert_eq!(runs.len(), 3);
    assert_eq!(runs.iter().filter(|o| **o == Outcome::Pass).count(), 2);
    assert_eq!(runs.iter().filter(|o| **o == Outcome::Fail).count(), 1);
    // The worst run is the one shown.
    assert_eq!(r.outcome, Outcome::Fail);
    assert!(report.failed());
    let text = mqtt_conformance::report::terminal(
        &report,
        mqtt_conformance::report::Style {
            color: false,
            verbose: false,
        },
    );
    assert!(text.contains("flaky"), "{text}");
    let json = mqtt_conformance::report::json(&report);
    assert_eq!(json["summary"]["flaky"], 1, "{json}");
}

#[tokio::test]
async fn cli_exits_1_when_the_broker_dies_mid_run() {
    // The run was done, with errors: 1, like any failure. 2 is kept for runs that could not
    // be done at all.
    let fake = Fake::start(|p| {
        if p.topic().ends_with("/crash") {
            Reply::Wedge
        } else {
            Reply::Answer
        }
    })
    .await;
    let mut files = passing(3);
    files.push((
        "demo/killer.yaml".into(),
        publishing("killer", "crash").replace("steps:", "exclusive: true\nsteps:"),
    ));
    let dir = dir(&files);
    let broker = format!("mqtt://{}", fake.addr);
    let (out, took) = run_cli(&[
        "run",
        dir.to_str().unwrap(),
        "--broker",
        &broker,
        "--jobs",
        "1",
        "--timeout-scale",
        "0.15",
        "--color",
        "never",
    ])
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("likely culprit: killer (5.0)"), "{stdout}");
    assert!(took < BOUND / 2, "took {took:?}");
}

#[tokio::test]
async fn cli_exits_2_promptly_when_the_broker_never_answers_connect() {
    let fake = Fake::start(|_| Reply::Silent).await;
    let dir = dir(&passing(1));
    let broker = format!("mqtt://{}", fake.addr);
    let (out, took) = run_cli(&[
        "run",
        dir.to_str().unwrap(),
        "--broker",
        &broker,
        "--timeout-scale",
        "0.15",
    ])
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("broker unreachable"), "{stderr}");
    assert!(stderr.contains("no CONNACK"), "{stderr}");
    // One CONNACK wait (450 ms at this scale) per version, plus process start.
    assert!(took < BOUND / 2, "took {took:?}");
}

#[tokio::test]
async fn a_packet_over_the_clients_maximum_packet_size_fails_even_where_a_close_is_expected() {
    // The broker refuses the CONNECT with a CONNACK whose Reason String takes it past the 16
    // bytes the client declared (MQTT-3.1.2-24, MQTT-3.2.2-19), then closes.
    let mut connack = vec![0x20, 0x1b, 0x00, 0x87, 0x18, 0x1f, 0x00, 0x15];
    connack.extend_from_slice(b"not authorized, sorry");
    let fake = Fake::start(move |p| {
        if p.kind == 1 && p.client_id == "tiny-limit" {
            Reply::SendThenClose(connack.clone())
        } else {
            Reply::Answer
        }
    })
    .await;
    let files = vec![(
        "demo/oversized.yaml".to_owned(),
        r#"
id: oversized
title: A refusing CONNACK stays within the client's Maximum Packet Size.
statements: { must: [MQTT-3.2.2-19@5.0] }
versions: [5.0]
clients: { a: { client_id: tiny-limit } }
steps:
  - { client: a, send: { connect: { properties: { maximum_packet_size: 16 } } } }
  - client: a
    expect_one_of:
      - expect: { connack: { code_in: [0x87] } }
      - expect_closed: {}
  - { client: a, expect_closed: {} }
"#
        .to_owned(),
    )];
    let (report, _) = bounded_run(&files, &fake, |_| {}).await;
    let report = report.unwrap();
    let r = outcome(&report, "oversized");
    assert_eq!(r.outcome, Outcome::Fail, "{r:?}");
    assert!(
        r.failure
            .as_ref()
            .unwrap()
            .arrived
            .contains("exceeds the client's Maximum Packet Size 16"),
        "{r:?}"
    );
}
