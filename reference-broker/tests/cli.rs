//! The `passwd` subcommand writes an entry the password file parser accepts.

use std::io::Write;
use std::process::{Command, Stdio};

use mqtt_reference_broker::engine::auth::Users;

#[test]
fn passwd_prints_an_entry_that_checks_the_password() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mqtt-reference-broker"))
        .args(["passwd", "alice"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"correct horse\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let entry = String::from_utf8(out.stdout).unwrap();
    assert!(entry.starts_with("alice:pbkdf2-sha256:600000:"), "{entry}");
    let users = Users::parse(&format!("{entry}topic alice read x\n")).unwrap();
    assert!(users.check("alice", b"correct horse"));
    assert!(!users.check("alice", b"correct horse\n"));
}
