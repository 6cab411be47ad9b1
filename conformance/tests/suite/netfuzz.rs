//! `mqtt-conformance fuzz` against the reference broker with its planted crash armed (feature
//! `planted-bug`, a dev-dependency feature): the fuzzer finds it, restarting the broker, and
//! the reproducer scenario it writes fails on that broker and passes on the normal one, while
//! the resource oracle follows the restarted process. And
//! against the normal broker: recorded sessions replayed, the process watched, no finding.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::scenario_dir;

/// The address the helper process serves the planted broker on.
const LISTEN: &str = "MQTT_CONFORMANCE_PLANTED_LISTEN";
/// Set for a helper process that serves the normal broker (the crash not armed).
const NORMAL: &str = "MQTT_CONFORMANCE_NORMAL_BROKER";

/// Not a check: the broker process `fuzz --broker-cmd` starts, which is this test binary run
/// again with only this test selected and `LISTEN` set. It serves the reference broker with
/// the planted crash armed until it is killed.
#[test]
#[ignore = "a helper process of fuzz_finds_the_planted_crash_and_writes_a_reproducer"]
fn planted_broker_process() {
    let Ok(addr) = std::env::var(LISTEN) else {
        return;
    };
    // The normal broker for the tests that fuzz a correct one.
    if std::env::var_os(NORMAL).is_none() {
        mqtt_reference_broker::planted::arm();
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let config = mqtt_reference_broker::Config {
            listen: addr.parse().unwrap(),
            ..mqtt_reference_broker::Config::default()
        };
        let _broker = mqtt_reference_broker::start(config).await.unwrap();
        std::future::pending::<()>().await;
    });
}

/// A port free a moment ago (the broker process binds it by number).
fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn cli(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mqtt-conformance"))
        .args(args)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The liveness finding's scenario file, from report.json.
fn liveness_scenario(out: &Path) -> std::path::PathBuf {
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let finding = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["oracle"] == "liveness" && f["reproduced"] == true)
        .unwrap_or_else(|| panic!("no reproduced liveness finding in {report:#}"));
    out.join(finding["scenario"].as_str().unwrap())
}

#[test]
fn fuzz_finds_the_planted_crash_and_writes_a_reproducer() {
    let port = free_port();
    let url = format!("mqtt://127.0.0.1:{port}");
    let exe = std::env::current_exe().unwrap();
    let cmd = format!(
        "{LISTEN}=127.0.0.1:{port} exec '{}' netfuzz::planted_broker_process --exact --ignored --nocapture",
        exe.display()
    );
    let out = scenario_dir(&[]);
    let out_s = out.to_str().unwrap();
    let fuzz = cli(&[
        "fuzz",
        "--broker",
        &url,
        "--broker-cmd",
        &cmd,
        "--duration",
        "10s",
        "--seed",
        "7",
        "--out",
        out_s,
        "--timeout-scale",
        "0.5",
    ]);
    let said = text(&fuzz);
    assert_eq!(fuzz.status.code(), Some(1), "{said}");
    assert!(said.contains("liveness"), "{said}");
    // The resource oracle watches the started broker, and follows it through its restarts.
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert!(report["restarts"].as_u64().unwrap() > 0, "{report:#}");
    assert!(
        report["resources"][0]["rss_kib"].as_u64().unwrap() > 0,
        "{report:#}"
    );
    assert!(report["resources_note"].is_null(), "{report:#}");
    let scenario = liveness_scenario(&out);
    let yaml = std::fs::read_to_string(&scenario).unwrap();
    assert!(yaml.contains("send_hex"), "{yaml}");
    let scenario = scenario.to_str().unwrap();

    // With a profile: probing the broker's features would itself trip the planted crash.
    let planted = cli(&[
        "run",
        scenario,
        "--broker",
        &url,
        "--broker-cmd",
        &cmd,
        "--profile",
        "reference",
    ]);
    assert_eq!(planted.status.code(), Some(1), "{}\n{yaml}", text(&planted));
    // Against the normal broker (in-process; the crash is compiled into this build but not armed).
    let normal = cli(&["run", scenario]);
    assert_eq!(normal.status.code(), Some(0), "{}\n{yaml}", text(&normal));
    let _ = std::fs::remove_dir_all(&out);
}

/// The helper process serving the normal reference broker on `port`, once it listens.
fn normal_broker(port: u16) -> std::process::Child {
    let child = Command::new(std::env::current_exe().unwrap())
        .args([
            "netfuzz::planted_broker_process",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env(LISTEN, format!("127.0.0.1:{port}"))
        .env(NORMAL, "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "the broker never listened on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

/// Recorded sessions (`--corpus`) are replayed and mutated, the resource oracle reads the
/// broker process (`--broker-pid`), and the normal reference broker gives no finding.
#[test]
fn fuzz_replays_recorded_sessions_and_watches_the_broker_process() {
    let out = scenario_dir(&[]);
    let rec = out.join("recorded");
    let scenarios = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/subscribe");
    let record = cli(&[
        "run",
        scenarios.to_str().unwrap(),
        "--record",
        rec.to_str().unwrap(),
    ]);
    assert_eq!(record.status.code(), Some(0), "{}", text(&record));

    let port = free_port();
    let mut broker = normal_broker(port);
    let pid = broker.id().to_string();
    let fuzz = cli(&[
        "fuzz",
        "--broker",
        &format!("mqtt://127.0.0.1:{port}"),
        "--duration",
        "6s",
        "--seed",
        "3",
        "--corpus",
        rec.to_str().unwrap(),
        "--broker-pid",
        &pid,
        "--out",
        out.join("fuzz").to_str().unwrap(),
        "--timeout-scale",
        "3",
    ]);
    let _ = broker.kill();
    let _ = broker.wait();
    let said = text(&fuzz);
    assert_eq!(fuzz.status.code(), Some(0), "{said}");
    assert!(said.contains("broker resources:"), "{said}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("fuzz/report.json")).unwrap())
            .unwrap();
    let (all, recorded) = (
        report["sessions"].as_u64().unwrap(),
        report["recorded_sessions"].as_u64().unwrap(),
    );
    assert!(
        recorded > 0 && recorded < all,
        "{recorded} of {all} recorded"
    );
    assert!(
        report["resources"][0]["rss_kib"].as_u64().unwrap() > 0,
        "{report:#}"
    );
    let _ = std::fs::remove_dir_all(&out);
}
