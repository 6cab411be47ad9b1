//! `certify`: a broker list against the in-process reference broker writes the four outputs;
//! the JSON validates against its schema; the HTML opens a cell's transcript in headless
//! Chromium.

use std::path::{Path, PathBuf};
use std::time::Duration;

use mqtt_conformance::certify::{self, BrokerList, Plan, matrix};
use mqtt_conformance::corpus;

use crate::support::scenario_dir;

const GOOD: &str = r#"
id: good
title: A QoS 1 PUBLISH is acknowledged with the same packet identifier.
statements: { must: [MQTT-3.3.4-1] }
versions: [3.1.1, 5.0]
requires: [qos1]
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

/// Certifies the reference broker twice (with its profile, and discovered) over GOOD and
/// WRONG; returns the output folder.
async fn certify_reference(name: &str) -> (PathBuf, matrix::Matrix) {
    let broker = mqtt_reference_broker::start(mqtt_reference_broker::Config::default())
        .await
        .unwrap();
    let port = broker.tcp_addr().port();
    let dir = scenario_dir(&[
        ("scen/a/good.yaml", GOOD),
        ("scen/b/wrong.yaml", WRONG),
        (
            "brokers.yaml",
            &format!(
                "brokers:\n  - name: ref\n    url: mqtt://127.0.0.1:{port}\n    profile: reference\n  \
                 - name: ref-discovered\n    url: mqtt://127.0.0.1:{port}\n    versions: [5.0]\n"
            ),
        ),
    ]);
    let list = BrokerList::load(&dir.join("brokers.yaml")).unwrap();
    let corpus = corpus::load(&[dir.join("scen")]).unwrap();
    let plan = Plan {
        out: dir.join(name),
        jobs: 4,
        seed: 7,
        timeout_scale: 1.0,
        only: Vec::new(),
    };
    let m = tokio::time::timeout(
        Duration::from_secs(120),
        certify::certify(&list, &corpus, &plan),
    )
    .await
    .expect("certify stalled")
    .unwrap();
    broker.shutdown().await;
    (plan.out, m)
}

#[tokio::test]
async fn writes_the_four_outputs_and_the_json_validates() {
    let (out, m) = certify_reference("out").await;
    for f in [
        "index.html",
        "matrix.json",
        "matrix.schema.json",
        "summary.md",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    // Two brokers; WRONG fails on both (5.0 only), GOOD passes on both.
    assert_eq!(m.brokers.len(), 2);
    assert!(m.brokers.iter().all(|b| !b.ok));
    let wrong = m.scenarios.iter().find(|r| r.id == "wrong").unwrap();
    assert_eq!(wrong.cells.len(), 2);
    assert!(
        wrong
            .cells
            .iter()
            .all(|c| c.outcome == matrix::CellOutcome::Fail)
    );
    assert!(wrong.cells[0].transcript.contains("SUBACK"));
    let good = m.scenarios.iter().find(|r| r.id == "good").unwrap();
    // 3.1.1 and 5.0 for `ref`, 5.0 only for `ref-discovered`.
    assert_eq!(good.cells.len(), 3);
    assert!(
        good.cells
            .iter()
            .all(|c| c.outcome == matrix::CellOutcome::Pass)
    );

    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("matrix.json")).unwrap()).unwrap();
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("matrix.schema.json")).unwrap())
            .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&json)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    // The schema rejects what it should: a wrong outcome keyword.
    let mut bad = json.clone();
    bad["scenarios"][0]["cells"][0]["outcome"] = "maybe".into();
    assert!(!validator.is_valid(&bad));
    assert_eq!(json["format_version"], matrix::FORMAT_VERSION);

    // The checked-in schema is the generated one.
    let checked_in = Path::new(env!("CARGO_MANIFEST_DIR")).join("matrix.schema.json");
    assert_eq!(
        std::fs::read_to_string(checked_in).unwrap(),
        matrix::schema_json(),
        "conformance/matrix.schema.json is stale: copy matrix.schema.json from a certify output"
    );

    for b in ["ref", "ref-discovered"] {
        let xml = std::fs::read_to_string(out.join(format!("{b}.junit.xml"))).unwrap();
        let doc = roxmltree::Document::parse(&xml).unwrap();
        assert!(doc.descendants().any(|n| n.has_tag_name("failure")));
    }
    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(summary.contains("| Broker | Versions |"));
    assert!(summary.contains("fail `wrong` [5.0]"), "{summary}");
}

/// Opens the page in headless Chromium at a failing cell's fragment, which clicks the cell,
/// and checks the dumped DOM shows that cell's transcript.
#[tokio::test]
async fn a_cell_opens_its_transcript_in_headless_chromium() {
    let chromium = Path::new("/usr/bin/chromium");
    assert!(
        chromium.exists(),
        "/usr/bin/chromium is missing: scripts/install-deps.sh installs it"
    );
    let (out, _) = certify_reference("html").await;
    let page = out.join("index.html").canonicalize().unwrap();
    let profile = out.join("chromium-profile");
    let url = format!("file://{}#ref.5.0.wrong", page.display());
    let child = tokio::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(&url)
        .kill_on_drop(true)
        .output();
    let dumped = tokio::time::timeout(Duration::from_secs(90), child)
        .await
        .expect("chromium stalled")
        .unwrap();
    let dom = String::from_utf8_lossy(&dumped.stdout);
    // The dump is HTML, not always well-formed XML: look at the detail panel's text directly.
    let detail = dom
        .split("id=\"detail\"")
        .nth(1)
        .unwrap_or_else(|| panic!("no detail panel in the DOM: {dom:.2000}"));
    let tag_end = detail.find('>').unwrap();
    assert!(
        !detail[..tag_end].contains("hidden"),
        "the panel stayed hidden: {}",
        &detail[..tag_end]
    );
    assert!(
        detail.contains("data-open=\"ref.5.0.wrong\""),
        "{:.500}",
        detail
    );
    let transcript = detail
        .split("id=\"d-transcript\">")
        .nth(1)
        .unwrap()
        .split("</pre>")
        .next()
        .unwrap();
    assert!(transcript.contains("SUBSCRIBE"), "{transcript}");
    assert!(transcript.contains("SUBACK"), "{transcript}");
    assert!(detail.contains("expected"), "the reason is not shown");
}
