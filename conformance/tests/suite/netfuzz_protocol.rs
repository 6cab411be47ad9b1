//! `mqtt-conformance fuzz` against a fake broker that answers every fuzz session's CONNECT
//! with a CONNACK and then a PUBACK for a packet id the client never used (MQTT-2.3.1-6): the
//! protocol oracle reports it, and the reproducer scenario it writes fails on the fake and
//! passes on the reference broker.

use std::path::Path;

use crate::fake::{Fake, Reply};
use crate::support::{run_cli, scenario_dir};

/// The illegal PUBACK, for packet id 0x7777.
const STRAY_PUBACK: [u8; 4] = [0x40, 0x02, 0x77, 0x77];

/// Answers like a broker, except that a fuzz session (client ids `nf...`) gets the stray
/// PUBACK right after its CONNACK; health checks and the runner's own clients never do.
async fn stray_puback_broker() -> Fake {
    Fake::start(|p| {
        if p.kind == 1 && p.client_id.starts_with("nf") {
            Reply::Send([vec![0x20, 0x02, 0x00, 0x00], STRAY_PUBACK.to_vec()].concat())
        } else {
            Reply::Answer
        }
    })
    .await
}

fn text(o: &std::process::Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The PUBACK protocol finding of `report.json` in `out`.
fn puback_finding(out: &Path) -> serde_json::Value {
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["oracle"] == "protocol" && f["packet"] == "PUBACK")
        .cloned()
        .unwrap_or_else(|| panic!("no PUBACK protocol finding in {report:#}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_protocol_finding_becomes_a_scenario_failing_the_broker_and_passing_a_correct_one() {
    let fake = stray_puback_broker().await;
    let url = format!("mqtt://{}", fake.addr);
    let out = scenario_dir(&[]);
    let (fuzz, _) = run_cli(&[
        "fuzz",
        "--broker",
        &url,
        "--duration",
        "3s",
        "--seed",
        "11",
        "--mqtt-version",
        "3.1.1",
        "--out",
        out.to_str().unwrap(),
        "--timeout-scale",
        "3",
    ])
    .await;
    let said = text(&fuzz);
    assert_eq!(fuzz.status.code(), Some(1), "{said}");
    let finding = puback_finding(&out);
    assert_eq!(finding["reproduced"], true, "{finding:#}");
    let scenario =
        out.join(finding["scenario"].as_str().unwrap_or_else(|| {
            panic!("the protocol finding has no reproducer scenario: {finding:#}")
        }));
    let yaml = std::fs::read_to_string(&scenario).unwrap();
    assert!(yaml.contains("MQTT-2.3.1-6"), "{yaml}");
    assert!(yaml.contains("expect_nothing"), "{yaml}");
    let scenario = scenario.to_str().unwrap();

    let (on_fake, _) = run_cli(&[
        "run",
        scenario,
        "--broker",
        &url,
        "--profile",
        "reference",
        "--mqtt-version",
        "3.1.1",
    ])
    .await;
    assert_eq!(on_fake.status.code(), Some(1), "{}\n{yaml}", text(&on_fake));
    assert!(text(&on_fake).contains("PUBACK"), "{}", text(&on_fake));
    // The in-process reference broker.
    let (on_reference, _) = run_cli(&["run", scenario]).await;
    assert_eq!(
        on_reference.status.code(),
        Some(0),
        "{}\n{yaml}",
        text(&on_reference)
    );
    let _ = std::fs::remove_dir_all(&out);
}
