//! Crash isolation: a fake broker (a small Python program, restarted by the harness) that dies
//! when a PUBLISH names a given topic. The certification names the scenario that kills it,
//! reports it as a failure with the crash and its transcript, says once that the broker went
//! down, and re-runs the scenarios the death kept from running.

use std::time::Duration;

use mqtt_conformance::certify::{self, BrokerList, Plan, matrix::CellOutcome};
use mqtt_conformance::corpus;

use crate::support::scenario_dir;

/// MQTT 3.1.1 only, just enough for the scenarios below; exits on a PUBLISH to a topic holding
/// `crash-here`, and when two open connections have published to a topic holding `hold-here`
/// (a death only concurrent scenarios cause).
const FAKE: &str = r#"
import os, socket, sys, threading

holding = [0]
lock = threading.Lock()

def read(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data

def serve(conn):
    held = False
    try:
        while True:
            first = read(conn, 1)[0]
            length, shift = 0, 0
            while True:
                b = read(conn, 1)[0]
                length |= (b & 0x7F) << shift
                shift += 7
                if b < 0x80:
                    break
            body = read(conn, length)
            kind = first >> 4
            if kind == 1:
                if body[6] != 4:
                    return
                conn.sendall(b"\x20\x02\x00\x00")
            elif kind == 3:
                tlen = body[0] << 8 | body[1]
                topic = body[2:2 + tlen].decode()
                if "crash-here" in topic:
                    sys.stderr.write("fake broker: crashing on " + topic + "\n")
                    sys.stderr.flush()
                    os._exit(3)
                if "hold-here" in topic and not held:
                    held = True
                    with lock:
                        holding[0] += 1
                        if holding[0] >= 2:
                            sys.stderr.write("fake broker: two holders at once\n")
                            sys.stderr.flush()
                            os._exit(4)
                if (first >> 1) & 3 == 1:
                    conn.sendall(b"\x40\x02" + body[2 + tlen:4 + tlen])
            elif kind == 8:
                conn.sendall(b"\x90\x03" + body[0:2] + b"\x00")
            elif kind == 12:
                conn.sendall(b"\xd0\x00")
            elif kind == 14:
                return
    except (EOFError, OSError, IndexError):
        pass
    finally:
        if held:
            with lock:
                holding[0] -= 1
        conn.close()

server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", int(sys.argv[1])))
server.listen(64)
while True:
    c, _ = server.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"#;

const PROFILE: &str = r#"
broker: fake broker that dies on a topic
versions: [3.1.1]
capabilities:
  max_qos: 1
  retain: false
  wildcards: false
  shared_subscriptions: false
  subscription_identifiers: false
  persistent_sessions: false
  assigned_client_id: false
  will: false
deviations: []
"#;

fn ping(id: &str) -> String {
    format!(
        "id: {id}\ntitle: PINGREQ is answered.\nstatements: {{ must: [MQTT-3.12.4-1] }}\n\
         versions: [3.1.1]\nsteps:\n  - {{ client: a, connect: {{}} }}\n  \
         - {{ client: a, pingreq: {{}} }}\n  - {{ client: a, expect: {{ pingresp: {{}} }} }}\n"
    )
}

const KILLER: &str = r#"
id: killer
title: A PUBLISH to an ordinary topic is taken without closing.
statements: { must: [MQTT-3.3.4-1] }
versions: [3.1.1]
steps:
  - { client: a, connect: {} }
  - { client: a, publish: { topic: "{t}/crash-here", qos: 0, payload: boom } }
  - { client: a, pingreq: {} }
  - { client: a, expect: { pingresp: {} } }
"#;

/// Holds a connection open (quiet for a while) after publishing to a `hold-here` topic: the
/// fake dies when two of these overlap.
fn holder(id: &str) -> String {
    format!(
        "id: {id}\ntitle: A PUBLISH to an ordinary topic is taken without closing.\n\
         statements: {{ must: [MQTT-3.3.4-1] }}\nversions: [3.1.1]\nsteps:\n  \
         - {{ client: a, connect: {{}} }}\n  \
         - {{ client: a, publish: {{ topic: \"{{t}}/hold-here\", qos: 0, payload: x }} }}\n  \
         - {{ client: a, expect_nothing: 4s }}\n  - {{ client: a, pingreq: {{}} }}\n  \
         - {{ client: a, expect: {{ pingresp: {{}} }} }}\n"
    )
}

/// `pings` ping scenarios plus `extra`, certified against the fake (restarted by the harness).
async fn certify_fake(pings: usize, extra: &[(&str, String)]) -> (certify::matrix::Matrix, Plan) {
    let mut files: Vec<(String, String)> = (0..pings)
        .map(|i| {
            (
                format!("scen/a/ping-{i:02}.yaml"),
                ping(&format!("ping-{i:02}")),
            )
        })
        .collect();
    for (name, text) in extra {
        files.push((format!("scen/b/{name}.yaml"), text.clone()));
    }
    files.push(("fake.py".into(), FAKE.into()));
    files.push(("fake.yaml".into(), PROFILE.into()));
    files.push((
        "brokers.yaml".into(),
        "brokers:\n  - name: fake\n    url: mqtt://127.0.0.1:{port}\n    \
         start: exec python3 fake.py {port}\n    profile: fake.yaml\n    versions: [3.1.1]\n"
            .into(),
    ));
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let dir = scenario_dir(&refs);
    let list = BrokerList::load(&dir.join("brokers.yaml")).unwrap();
    let corpus = corpus::load(&[dir.join("scen")]).unwrap();
    let plan = Plan {
        out: dir.join("out"),
        jobs: 8,
        seed: 3,
        timeout_scale: 0.5,
        only: Vec::new(),
    };
    let m = tokio::time::timeout(
        Duration::from_secs(240),
        certify::certify(&list, &corpus, &plan),
    )
    .await
    .expect("certify stalled")
    .unwrap();
    (m, plan)
}

#[tokio::test]
async fn the_scenario_that_kills_the_broker_is_named() {
    let (m, plan) = certify_fake(12, &[("killer", KILLER.into())]).await;
    let b = &m.brokers[0];
    let down = b.down.as_deref().expect("the death is reported");
    assert!(
        down.contains("`killer` [3.1.1] kills it on its own"),
        "{down}"
    );
    assert!(down.contains("exit status: 3"), "{down}");
    let killer = m.scenarios.iter().find(|r| r.id == "killer").unwrap();
    let cell = &killer.cells[0];
    assert_eq!(cell.outcome, CellOutcome::Fail);
    assert!(
        cell.message.contains("died during this scenario"),
        "{}",
        cell.message
    );
    assert!(cell.message.contains("crashing on"), "{}", cell.message);
    assert!(
        cell.transcript.contains("crash-here"),
        "{}",
        cell.transcript
    );
    // Everything else ran (again, after the restart) and passed: nothing is left "not run".
    for r in m.scenarios.iter().filter(|r| r.id != "killer") {
        assert_eq!(
            r.cells[0].outcome,
            CellOutcome::Pass,
            "{}: {}",
            r.id,
            r.cells[0].message
        );
    }
    assert_eq!(b.counts.get(&CellOutcome::NotRun), None);
    // The summary says it once.
    let summary = std::fs::read_to_string(plan.out.join("summary.md")).unwrap();
    assert_eq!(summary.matches("Broker down").count(), 1, "{summary}");
}

/// A death only concurrent scenarios cause: no suspect kills the broker alone, the suspects
/// run together do, and bisection names the two that must overlap. Both fail, naming each
/// other; the rest run again after the restart and pass.
#[tokio::test]
async fn a_death_only_concurrency_causes_is_narrowed_to_the_set_that_kills() {
    let (m, plan) = certify_fake(
        6,
        &[("hold-a", holder("hold-a")), ("hold-b", holder("hold-b"))],
    )
    .await;
    let b = &m.brokers[0];
    let down = b.down.as_deref().expect("the death is reported");
    assert!(down.contains("none killed it alone"), "{down}");
    assert!(
        down.contains("the smallest set that kills it")
            && down.contains("`hold-a` [3.1.1]")
            && down.contains("`hold-b` [3.1.1]")
            && down.contains("exit status: 4"),
        "{down}"
    );
    for id in ["hold-a", "hold-b"] {
        let cell = &m.scenarios.iter().find(|r| r.id == id).unwrap().cells[0];
        assert_eq!(cell.outcome, CellOutcome::Fail, "{id}: {}", cell.message);
        assert!(
            cell.message.contains("ran together") && cell.message.contains("two holders"),
            "{}",
            cell.message
        );
        assert!(cell.transcript.contains("hold-here"), "{}", cell.transcript);
    }
    for r in m.scenarios.iter().filter(|r| r.id.starts_with("ping-")) {
        assert_eq!(
            r.cells[0].outcome,
            CellOutcome::Pass,
            "{}: {}",
            r.id,
            r.cells[0].message
        );
    }
    let summary = std::fs::read_to_string(plan.out.join("summary.md")).unwrap();
    assert_eq!(summary.matches("Broker down").count(), 1, "{summary}");
}

/// `run --mqtt-version 3.1` against a broker that closes on a 3.1 CONNECT (the fake speaks
/// 3.1.1 only): every scenario is skipped as not offered, with how it refused; exit 0.
#[tokio::test]
async fn a_version_the_broker_refuses_is_skipped_as_not_offered() {
    let dir = scenario_dir(&[("fake.py", FAKE)]);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut fake = tokio::process::Command::new("python3")
        .arg(dir.join("fake.py"))
        .arg(port.to_string())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the fake did not listen"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let url = format!("mqtt://127.0.0.1:{port}");
    let json = dir.join("report.json");
    let (out, _) = crate::support::run_cli(&[
        "run",
        "--broker",
        &url,
        "--json",
        json.to_str().unwrap(),
        "--mqtt-version",
        "3.1",
        "--filter",
        "pingreq-answered",
        "--color",
        "never",
        "--verbose",
    ])
    .await;
    let _ = fake.kill().await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("1 skipped"), "{stdout}");
    assert!(stdout.contains("0 passed"), "{stdout}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    let r = &report["results"][0];
    assert_eq!(r["outcome"], "skip", "{r}");
    let why = r["message"].as_str().unwrap();
    assert!(
        why.contains("MQTT 3.1 not offered") && why.contains("closed"),
        "{why}"
    );
}
