//! The binary: help text, exit codes, schema, lint.

use std::process::Command;

use crate::support::scenario_dir;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mqtt-conformance"))
}

#[test]
fn help_text() {
    let out = bin().arg("--help").output().unwrap();
    insta::assert_snapshot!("help", String::from_utf8_lossy(&out.stdout));
    let out = bin().args(["run", "--help"]).output().unwrap();
    insta::assert_snapshot!("run_help", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn unreachable_broker_exits_2() {
    // Bind then drop a listener, so the port is very likely closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = bin()
        .args(["run", "--broker", &format!("mqtt://127.0.0.1:{port}")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("broker unreachable"));
}

#[test]
fn bad_arguments_exit_2() {
    let out = bin()
        .args(["run", "--broker", "http://x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn committed_schema_is_current() {
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scenarios/schema.json"
    ))
    .unwrap();
    assert!(
        committed == mqtt_conformance::scenario::schema_json(),
        "scenarios/schema.json is stale: run `mqtt-conformance schema > scenarios/schema.json`"
    );
}

#[test]
fn embedded_corpus_lints_clean() {
    let out = bin().arg("lint").output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn session_present_one_is_asserted_only_where_a_session_statement_is_cited() {
    let steps = "steps:\n  - { client: a, connect: { clean_start: false, properties: { session_expiry_interval: 30 } } }\n  - { client: a, disconnect: {} }\n  - { client: a, connect: { clean_start: false, connack: { session_present: true } } }\n";
    let file = |must: &str| {
        format!("id: s\ntitle: T.\nstatements: {{ must: [{must}] }}\nversions: [5.0]\n{steps}")
    };
    // About message expiry, yet failing a broker that never sets Session Present.
    let dir = scenario_dir(&[("publish/s.yaml", &file("MQTT-3.3.2-5"))]);
    let out = bin().arg("lint").arg(&dir).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("asserts Session Present 1 under 5.0"),
        "{text}"
    );
    // The same assertion inside a graded `expect_one_of` alternative is refused too.
    let one_of = "id: s\ntitle: T.\nstatements: { must: [MQTT-3.3.2-5] }\nversions: [5.0]\nsteps:\n  - { client: a, send: { connect: { clean_start: false } } }\n  - client: a\n    expect_one_of:\n      - expect: { connack: { session_present: true } }\n      - expect_closed: {}\n";
    let dir = scenario_dir(&[("publish/s.yaml", one_of)]);
    let out = bin().arg("lint").arg(&dir).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("steps[1] (expect_one_of)"), "{text}");
    // Citing the session statement makes the assertion the scenario's own.
    let dir = scenario_dir(&[("session/s.yaml", &file("MQTT-3.3.2-5, MQTT-3.1.2-23"))]);
    let out = bin().arg("lint").arg(&dir).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn a_retired_id_is_refused_and_a_profile_naming_it_is_told_why() {
    let id = "not-closed-before-one-and-a-half-keep-alive";
    let dir = scenario_dir(&[(
        &format!("keepalive/{id}.yaml"),
        &format!(
            "id: {id}\ntitle: T.\nstatements: {{ must: [MQTT-3.1.0-1] }}\nversions: [5.0]\nsteps:\n  - {{ client: a, connect: {{}} }}\n"
        ),
    )]);
    let out = bin().arg("lint").arg(&dir).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("id `{id}` is retired")), "{text}");

    // The reference profile with the retired id as a deviation.
    let reference = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scenarios/profiles/reference.yaml"
    ))
    .unwrap();
    let text = reference.replace(
        "deviations: []",
        &format!("deviations:\n  - {{ id: {id}, reason: \"MQTT-3.1.2-24: closes early.\" }}"),
    );
    assert_ne!(text, reference);
    let profile = scenario_dir(&[("p.yaml", &text)]);
    let out = bin()
        .args(["run", "--filter", "connect-*", "--profile"])
        .arg(profile.join("p.yaml"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("deviation `{id}` names a retired scenario")),
        "{text}"
    );
}

#[test]
fn an_unwritable_record_folder_fails_before_the_run() {
    // A file where the folder should be: nothing can be created under it.
    let dir = scenario_dir(&[("file", "")]);
    let out = bin()
        .args(["run", "--record"])
        .arg(dir.join("file/transcripts"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("cannot write"), "{text}");
    // Nothing ran: no results were printed.
    assert!(String::from_utf8_lossy(&out.stdout).is_empty());
}

#[test]
fn lint_names_file_line_and_field() {
    let dir = scenario_dir(&[(
        "x/typo.yaml",
        "id: typo\ntitle: T.\nstatements: { must: [MQTT-3.1.0-2, MQTT-9.9.9-9] }\nversions: [5.0]\nsteps:\n  - { client: a, conect: {} }\n",
    )]);
    let out = bin().arg("lint").arg(&dir).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("typo.yaml"), "{text}");
    assert!(text.contains("steps[0]"), "{text}");
    assert!(text.contains("unknown field `conect`"), "{text}");
    assert!(text.contains("line 6"), "{text}");

    let dir = scenario_dir(&[(
        "x/unknown-statement.yaml",
        "id: unknown-statement\ntitle: T.\nstatements: { must: [MQTT-9.9.9-9] }\nversions: [5.0]\nsteps:\n  - { client: a, connect: {} }\n",
    )]);
    let out = bin().arg("lint").arg(&dir).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("`MQTT-9.9.9-9` is not a statement of MQTT 5.0"),
        "{text}"
    );

    let dir = scenario_dir(&[(
        "x/level-alone.yaml",
        "id: level-alone\ntitle: T.\nstatements: { must: [MQTT-3.1.2-2] }\nversions: [5.0]\nsteps:\n  - { client: a, expect_closed: { connack_level: must } }\n",
    )]);
    let out = bin().arg("lint").arg(&dir).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("`connack_level` grades"), "{text}");
}

/// The broker a run starts lives in a process group of its own, out of reach of a Ctrl-C in the
/// terminal; interrupting the harness must stop it all the same, helpers included. Here the
/// "broker" is a shell that leaves a helper `sleep` in the background (its pid recorded) and
/// then becomes a `sleep` itself; a fake answering CONNACK and PINGRESP holds the port.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_run_stops_the_broker_it_started() {
    use crate::fake::{Fake, Reply};
    let fake = Fake::start(|p| match p.kind {
        1 | 12 => Reply::Answer,
        _ => Reply::Silent,
    })
    .await;
    let dir = scenario_dir(&[]);
    std::fs::create_dir_all(&dir).unwrap();
    let pid_file = dir.join("broker.pid");
    let start = format!(
        "sleep 600 & echo $! > {}; exec sleep 601",
        pid_file.display()
    );
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_mqtt-conformance"))
        .args(["run", "--broker", &format!("mqtt://{}", fake.addr)])
        .args(["--broker-cmd", &start])
        .args(["--filter", "closed-after-one-and-a-half-keep-alive"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // The run is under way once the broker command has written the helper's pid.
    let mut broker = None;
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        broker = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok());
        if broker.is_some() {
            break;
        }
    }
    let helper = broker.expect("the broker command never started");
    let alive = |pid: u32| std::path::Path::new(&format!("/proc/{pid}")).exists();
    assert!(alive(helper));
    let harness = child.id().unwrap().to_string();
    let sent = Command::new("kill")
        .args(["-TERM", &harness])
        .status()
        .unwrap();
    assert!(sent.success());
    let out = tokio::time::timeout(std::time::Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("the harness did not stop")
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("interrupted by SIGTERM"), "{err}");
    // Killed, then reaped by the harness or by init: gone either way within a few seconds.
    let mut gone = false;
    for _ in 0..100 {
        if !alive(helper) {
            gone = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        gone,
        "the broker's helper {helper} outlived the interrupted run"
    );
}
