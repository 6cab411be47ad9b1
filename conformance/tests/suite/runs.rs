//! Runs against the in-process reference broker and a fake broker, proving the runner can
//! pass and fail.

use mqtt_conformance::report::{self, Style};
use mqtt_conformance::runner::{Outcome, RunReport};
use mqtt_conformance::transport::Target;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{options, redact, reference, run, run_with, scenario_dir};

const GOOD: &str = r#"
id: good
title: A QoS 1 PUBLISH is acknowledged with the same packet identifier.
statements: { must: [MQTT-3.3.4-1] }
versions: [3.1.1, 5.0]
steps:
  - { client: a, connect: {} }
  - { client: a, publish: { topic: "{t}/x", qos: 1, id: 7, payload: hi } }
  - { client: a, expect: { puback: { id: 7 } } }
"#;

const WRONG: &str = r#"
id: wrong
title: A deliberately wrong expectation, to prove failures are reported.
statements: { must: [MQTT-3.3.4-1] }
versions: [5.0]
steps:
  - { client: a, connect: {} }
  - { client: a, subscribe: { id: 3, filters: [{ topic: "{t}/x", qos: 0 }] } }
  - { client: a, expect: { suback: { id: 3, codes: [1] } } }
"#;

async fn start() -> mqtt_reference_broker::BrokerHandle {
    mqtt_reference_broker::start(mqtt_reference_broker::Config::default())
        .await
        .unwrap()
}

/// Runs the scenario files with 16 jobs, each scenario `repeat` times, against a fresh
/// reference broker: enough overlap that runs which must stay apart would meet.
async fn run_overlapping(
    files: &[(&str, &str)],
    repeat: usize,
    delayed_wills_apart: bool,
) -> RunReport {
    let broker = start().await;
    let dir = scenario_dir(files);
    let mut opts = options(Target::tcp(broker.tcp_addr()), Duration::from_secs(2));
    opts.jobs = 16;
    opts.repeat = repeat;
    opts.delayed_wills_apart = delayed_wills_apart;
    let report = run_with(&dir, &reference(), &opts).await.unwrap();
    broker.shutdown().await;
    report
}

#[tokio::test]
async fn wrong_expectation_fails_with_a_readable_diff() {
    let broker = start().await;
    let dir = scenario_dir(&[("demo/good.yaml", GOOD), ("demo/wrong.yaml", WRONG)]);
    let report = run(&dir, Target::tcp(broker.tcp_addr()), &reference()).await;
    broker.shutdown().await;
    let wrong = report.results.iter().find(|r| r.id == "wrong").unwrap();
    assert_eq!(wrong.outcome, Outcome::Fail);
    let f = wrong.failure.as_ref().unwrap();
    assert_eq!(f.step, 2);
    assert_eq!(
        f.diff,
        vec!["codes: expected [0x01], got [0x00]".to_owned()]
    );
    assert!(!wrong.transcript.is_empty());
    assert!(report.failed());

    let text = redact(&report::terminal(
        &report,
        Style {
            color: false,
            verbose: false,
        },
    ));
    insta::assert_snapshot!("terminal_summary", strip_times(&text));

    let mut json = report::json(&report);
    redact_json(&mut json);
    insta::assert_json_snapshot!("json_report", json);

    let junit = report::junit(&report);
    assert!(junit.starts_with("<?xml"));
    assert!(junit.contains("<failure message="));
    let html = report::html(&report);
    assert!(html.contains("Coverage per normative statement"));
}

#[tokio::test]
async fn recording_writes_every_packet_of_a_passing_run() {
    let broker = start().await;
    let dir = scenario_dir(&[("demo/good.yaml", GOOD)]);
    let mut opts = options(Target::tcp(broker.tcp_addr()), Duration::from_secs(2));
    opts.keep_transcripts = true;
    let report = run_with(&dir, &reference(), &opts).await.unwrap();
    broker.shutdown().await;
    assert!(report.results.iter().all(|r| r.outcome == Outcome::Pass));

    let out = dir.join("recorded");
    let files = mqtt_conformance::record::write(&out, &report.results).unwrap();
    assert_eq!(files, report.results.len());
    let text = std::fs::read_to_string(out.join("demo/good.5.0.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // The CONNECT went out first and the CONNACK came back, both with their wire bytes.
    let sent = lines.iter().find(|l| l["dir"] == "sent").unwrap();
    assert!(sent["hex"].as_str().unwrap().starts_with("10 "));
    let received = lines.iter().find(|l| l["dir"] == "received").unwrap();
    assert!(received["hex"].as_str().unwrap().starts_with("20 "));
}

#[tokio::test]
async fn broker_closing_early_is_a_failure() {
    // A fake broker: CONNACK to CONNECT, PINGRESP to PINGREQ, and it hangs up on anything
    // else, so the health check passes but the scenario cannot.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                loop {
                    let Ok(n) = sock.read(&mut buf).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    let reply: &[u8] = match buf[0] >> 4 {
                        1 if buf[..n].contains(&5) => &[0x20, 0x03, 0x00, 0x00, 0x00],
                        1 => &[0x20, 0x02, 0x00, 0x00],
                        12 => &[0xD0, 0x00],
                        14 => return,
                        _ => return,
                    };
                    if sock.write_all(reply).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    let dir = scenario_dir(&[("demo/good.yaml", GOOD)]);
    let report = run(&dir, Target::tcp(addr), &reference()).await;
    assert_eq!(report.results.len(), 2);
    for r in &report.results {
        assert_eq!(r.outcome, Outcome::Fail, "{r:?}");
        let f = r.failure.as_ref().unwrap();
        assert!(f.arrived.contains("closed by the broker"), "{f:?}");
    }
}

#[tokio::test]
async fn embedded_corpus_passes_against_the_reference_broker() {
    let broker = start().await;
    let corpus = mqtt_conformance::corpus::load(&[]).unwrap();
    let opts = mqtt_conformance::runner::Options {
        settings: mqtt_conformance::exec::Settings {
            target: Target::tcp(broker.tcp_addr()),
            step_timeout: std::time::Duration::from_secs(3),
            scale: 1.0,
            credentials: None,
        },
        jobs: 16,
        repeat: 1,
        seed: 1,
        strict: false,
        versions: mqtt_conformance::scenario::Version::ALL.to_vec(),
        keep_transcripts: false,
        delayed_wills_apart: false,
    };
    let bar = indicatif::ProgressBar::hidden();
    let report = mqtt_conformance::runner::run(&corpus, &reference(), &opts, &bar)
        .await
        .unwrap();
    broker.shutdown().await;
    let bad: Vec<String> = report
        .results
        .iter()
        .filter(|r| !matches!(r.outcome, Outcome::Pass | Outcome::Skip))
        .map(|r| format!("{} [{}]: {:?} {}", r.id, r.version, r.outcome, r.message))
        .collect();
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

fn strip_times(text: &str) -> String {
    text.lines()
        .map(|l| {
            // Transcript lines start with the elapsed milliseconds, right-aligned: the time
            // and its padding both vary from run to run, so the whole prefix is replaced.
            if l.contains("<- CONNACK") {
                return "      Nms a        <- CONNACK [broker-specific, redacted]".to_owned();
            }
            let t = l.trim_start();
            match t.split_once("ms ") {
                Some((n, rest)) if !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()) => {
                    format!("      Nms {rest}")
                }
                _ => l.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn redact_json(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, val) in map.iter_mut() {
                match k.as_str() {
                    // The transcript holds the broker's CONNACK properties, which are the
                    // broker's business, not this snapshot's.
                    "duration_ms" | "at_ms" | "started" | "broker" | "transcript" => {
                        *val = serde_json::Value::String("[redacted]".into());
                    }
                    _ => redact_json(val),
                }
            }
        }
        serde_json::Value::Array(list) => list.iter_mut().for_each(redact_json),
        _ => {}
    }
}

#[tokio::test]
async fn websocket_transport_runs_scenarios() {
    let config = mqtt_reference_broker::Config {
        websocket: Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0))),
        ..mqtt_reference_broker::Config::default()
    };
    let broker = mqtt_reference_broker::start(config).await.unwrap();
    let ws = broker.ws_addr().unwrap();
    let target = Target::parse(
        &format!("ws://{ws}/mqtt"),
        &mqtt_conformance::transport::TlsOptions::default(),
    )
    .unwrap();
    let dir = scenario_dir(&[("demo/good.yaml", GOOD)]);
    let report = run(&dir, target, &reference()).await;
    broker.shutdown().await;
    for r in &report.results {
        assert_eq!(r.outcome, Outcome::Pass, "{r:?}");
    }
}

/// Every run of this scenario uses the same fixed topic, and fails if it sees another run's
/// message there: it passes only if no two runs overlap.
const FIXED: &str = r#"
id: fixed
title: Two runs of a scenario with a fixed topic never overlap.
statements: { must: [MQTT-3.3.4-1] }
versions: [3.1.1, 5.0]
fixed_topics: true
steps:
  - { client: a, connect: {} }
  - { client: a, subscribe: { id: 1, filters: [{ topic: "mqtt-conformance/fixed-test", qos: 0 }] } }
  - { client: a, expect: { suback: { id: 1, codes: [0] } } }
  - { client: a, publish: { topic: "mqtt-conformance/fixed-test", payload: mine } }
  - { client: a, expect: { publish: { topic: "mqtt-conformance/fixed-test", payload: mine } } }
  - { client: a, expect_nothing: 100ms }
"#;

#[tokio::test]
async fn scenarios_with_fixed_topics_never_run_at_the_same_time() {
    let report = run_overlapping(&[("fixed.yaml", FIXED)], 4, false).await;
    let bad: Vec<String> = report
        .results
        .iter()
        .filter(|r| r.outcome != Outcome::Pass)
        .map(|r| format!("{} [{}]: {:?} {}", r.id, r.version, r.outcome, r.message))
        .collect();
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// An exclusive scenario listens to a topic tree that the other scenario publishes into with
/// fixed topics; it fails if it hears anything, so it passes only if it runs alone.
const ALONE: &str = r#"
id: alone
title: An exclusive scenario hears no other scenario's traffic.
statements: { must: [MQTT-3.3.2-3] }
versions: [3.1.1, 5.0]
exclusive: true
steps:
  - { client: s, connect: {} }
  - { client: s, subscribe: { id: 1, filters: [{ topic: "mqtt-conformance/alone-test/#", qos: 0 }] } }
  - { client: s, expect: { suback: { id: 1, codes: [0] } } }
  - { client: s, expect_nothing: 300ms }
"#;

/// Publishes into the exclusive scenario's tree, then waits a while, so that overlapping runs
/// would be seen.
const NOISY: &str = r#"
id: noisy
title: Publishes into the tree the exclusive scenario listens to.
statements: { must: [MQTT-3.3.2-3] }
versions: [3.1.1, 5.0]
steps:
  - { client: p, connect: {} }
  - { client: p, publish: { topic: "mqtt-conformance/alone-test/x", qos: 0, payload: noise } }
  - { client: p, wait: 200ms }
  - { client: p, publish: { topic: "mqtt-conformance/alone-test/x", qos: 0, payload: noise } }
"#;

#[tokio::test]
async fn exclusive_scenarios_run_while_nothing_else_does() {
    let files = [("alone.yaml", ALONE), ("noisy.yaml", NOISY)];
    let report = run_overlapping(&files, 3, false).await;
    assert_eq!(report.results.len(), 4);
    for r in &report.results {
        assert!(r.outcome == Outcome::Pass && r.flaky.is_none(), "{r:?}");
    }
}

/// Every run of this scenario leaves a delayed will on the same topic, each with its own
/// payload, and fails if it sees another run's will: it passes only if no two runs overlap.
const DELAYED_WILL: &str = r#"
id: delayed-will-apart
title: Runs that leave delayed wills never overlap when kept apart.
statements: { must: [MQTT-3.1.2-8@5.0] }
versions: [5.0]
steps:
  - { client: s, connect: {} }
  - { client: s, subscribe: { id: 1, filters: [{ topic: "mqtt-conformance/delayed-will-test", qos: 0 }] } }
  - { client: s, expect: { suback: { id: 1, codes: [0] } } }
  - { client: a, connect: { properties: { session_expiry_interval: 10 }, will: { topic: "mqtt-conformance/delayed-will-test", payload: "{t}", properties: { will_delay_interval: 1 } } } }
  - { client: a, drop: {} }
  - { client: s, timeout: 4s, expect: { publish: { topic: "mqtt-conformance/delayed-will-test", payload: "{t}" } } }
  - { client: s, expect_nothing: 300ms }
"#;

#[tokio::test]
async fn scenarios_leaving_delayed_wills_run_apart_when_asked() {
    let files = [("delayed-will-apart.yaml", DELAYED_WILL)];
    let apart = run_overlapping(&files, 3, true).await;
    // The same runs, allowed to overlap, see each other's wills: the lock is what kept them
    // apart.
    let together = run_overlapping(&files, 3, false).await;
    assert_eq!(apart.results.len(), 1);
    let r = &apart.results[0];
    assert!(r.outcome == Outcome::Pass && r.flaky.is_none(), "{r:?}");
    assert_eq!(together.results.len(), 1);
    assert_ne!(together.results[0].outcome, Outcome::Pass);
}
