//! The JUnit report, read back by a real XML parser (roxmltree): well-formed, and its counts
//! and `<failure>`, `<error>` and `<skipped>` elements agree with the results.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use mqtt_conformance::runner::{Outcome, RunReport};

use crate::fake::{Fake, Reply};
use crate::support::{run_cli, scenario_dir};

/// Pass under 3.1.1 (5.0 is skipped: the fake broker closes on a 5.0 CONNECT).
const PASSES: &str = r#"
id: passes
title: A QoS 1 PUBLISH is acknowledged.
statements: { must: [MQTT-3.3.4-1] }
versions: [3.1.1, 5.0]
steps:
  - { client: a, connect: {} }
  - { client: a, publish: { topic: "{t}/x", qos: 1, id: 7, payload: hi } }
  - { client: a, expect: { puback: { id: 7 } } }
"#;

/// What each junit test case holds: its child element, if any.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum Child {
    None,
    Failure,
    Error,
    Skipped,
}

/// Parses the JUnit text, checks every count attribute against the elements, and returns
/// `"id [version]" -> child`.
fn parse(text: &str) -> BTreeMap<String, Child> {
    let doc = roxmltree::Document::parse(text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let attr = |n: roxmltree::Node<'_, '_>, a: &str| -> usize {
        n.attribute(a)
            .unwrap_or_else(|| panic!("no {a}"))
            .parse()
            .unwrap()
    };
    let mut cases = BTreeMap::new();
    let mut totals = [0usize; 4];
    for suite in root.children().filter(|n| n.has_tag_name("testsuite")) {
        let mut counts = [0usize; 4];
        for case in suite.children().filter(|n| n.has_tag_name("testcase")) {
            let kids: Vec<&str> = case
                .children()
                .filter(|n| n.is_element() && !n.has_tag_name("system-out"))
                .map(|n| n.tag_name().name())
                .collect();
            assert!(kids.len() <= 1, "{kids:?}");
            let child = match kids.first().copied() {
                None => Child::None,
                Some("failure") => Child::Failure,
                Some("error") => Child::Error,
                Some("skipped") => Child::Skipped,
                Some(other) => panic!("unexpected <{other}>"),
            };
            counts[0] += 1;
            match child {
                Child::Failure => counts[1] += 1,
                Child::Error => counts[2] += 1,
                Child::Skipped => counts[3] += 1,
                Child::None => {}
            }
            let name = case.attribute("name").unwrap().to_owned();
            assert!(cases.insert(name, child).is_none(), "duplicate test case");
        }
        for (i, a) in ["tests", "failures", "errors", "skipped"]
            .iter()
            .enumerate()
        {
            assert_eq!(attr(suite, a), counts[i], "suite {a}");
            totals[i] += counts[i];
        }
    }
    for (i, a) in ["tests", "failures", "errors", "skipped"]
        .iter()
        .enumerate()
    {
        assert_eq!(attr(root, a), totals[i], "testsuites {a}");
    }
    cases
}

/// The child the results say each case must have.
fn expected(outcome: &str, flaky: bool) -> Child {
    match outcome {
        "error" => Child::Error,
        "skip" => Child::Skipped,
        "fail" | "unexpected_pass" => Child::Failure,
        _ if flaky => Child::Failure,
        _ => Child::None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn junit_file_parses_and_matches_the_json_results() {
    // 3.1.1 only; closes on `/fail`; alternately closes and acknowledges on `/flaky`.
    let flaky = AtomicUsize::new(0);
    let fake = Fake::start(move |p| match p.kind {
        1 if p.level == 5 => Reply::Close,
        3 if p.topic().ends_with("/fail") => Reply::Close,
        3 if p.topic().ends_with("/flaky") && flaky.fetch_add(1, Ordering::SeqCst) % 2 == 1 => {
            Reply::Close
        }
        _ => Reply::Answer,
    })
    .await;
    let fails = PASSES
        .replace("id: passes", "id: fails")
        .replace("{t}/x", "{t}/fail");
    let flakes = PASSES
        .replace("id: passes", "id: flakes")
        .replace("{t}/x", "{t}/flaky");
    // A harness error: the packet id was never captured.
    let errs = PASSES
        .replace("id: passes", "id: errs")
        .replace("id: 7, payload", "id: $never, payload");
    // Characters XML must escape, in the title and (through the topic) the transcript.
    let escapes = PASSES
        .replace("id: passes", "id: escapes")
        .replace(
            "title: A QoS 1 PUBLISH is acknowledged.",
            "title: '<&\"''> ]]> A QoS 1 PUBLISH is acknowledged.'",
        )
        .replace("{t}/x", "{t}/<&]]>/fail");
    let dir = scenario_dir(&[
        ("demo/passes.yaml", PASSES),
        ("demo/fails.yaml", &fails),
        ("demo/flakes.yaml", &flakes),
        ("other/errs.yaml", &errs),
        ("other/escapes.yaml", &escapes),
    ]);
    let junit = dir.join("report.xml");
    let json = dir.join("report.json");
    let broker = format!("mqtt://{}", fake.addr);
    let (out, _) = run_cli(&[
        "run",
        dir.to_str().unwrap(),
        "--broker",
        &broker,
        "--repeat",
        "2",
        "--timeout-scale",
        "0.2",
        "--junit",
        junit.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ])
    .await;
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cases = parse(&std::fs::read_to_string(&junit).unwrap());
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let results = report["results"].as_array().unwrap();
    assert_eq!(cases.len(), results.len());
    let mut seen = BTreeMap::new();
    for r in results {
        let name = format!(
            "{} [{}]",
            r["id"].as_str().unwrap(),
            r["mqtt_version"].as_str().unwrap()
        );
        let want = expected(r["outcome"].as_str().unwrap(), r.get("flaky").is_some());
        assert_eq!(cases.get(&name), Some(&want), "{name}: {r}");
        *seen.entry(format!("{want:?}")).or_insert(0) += 1;
    }
    // Every kind of element was exercised.
    assert_eq!(seen.len(), 4, "{seen:?}");
}

#[tokio::test]
async fn flaky_error_counts_once_as_an_error() {
    // A result that errored in one repeat and passed in another: one <error>, no <failure>.
    let mut report = RunReport {
        results: Vec::new(),
        broker: "mqtt://127.0.0.1:1".into(),
        broker_name: "fake".into(),
        profile: "(none)".into(),
        started: std::time::SystemTime::now(),
        duration: std::time::Duration::ZERO,
        seed: 1,
        warnings: Vec::new(),
        strict: false,
        down: None,
    };
    let base = mqtt_conformance::runner::ScenarioResult {
        id: "flaky-error".into(),
        title: "T.".into(),
        area: "demo".into(),
        version: mqtt_conformance::scenario::Version::V5_0,
        outcome: Outcome::Error,
        statements: Vec::new(),
        duration: std::time::Duration::ZERO,
        message: "control \u{1} and \u{FFFF} characters".into(),
        failure: None,
        transcript: Vec::new(),
        flaky: Some(vec![Outcome::Pass, Outcome::Error]),
        down: None,
    };
    report.results.push(base);
    let cases = parse(&mqtt_conformance::report::junit(&report));
    assert_eq!(cases.get("flaky-error [5.0]"), Some(&Child::Error));
}
