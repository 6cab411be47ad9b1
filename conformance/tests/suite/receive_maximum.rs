//! `receive-maximum-exceeded-closes` against fake brokers: every lawful answer to the PUBLISH
//! over the Receive Maximum passes at its grade, every other answer fails.
//!
//! The scenario's grading (5.0): the close is the MUST (MQTT-4.13.1-1); a DISCONNECT 0x93
//! before it is the SHOULD (a bare close is non-strict); an error PUBREC followed by the close
//! breaks no MUST but is not the DISCONNECT recommended (non-strict); an error PUBREC on a
//! connection left open, a success PUBREC, or nothing at all fail.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use mqtt_conformance::profile::Profile;
use mqtt_conformance::runner::Outcome;
use mqtt_conformance::scenario::Version;

use crate::fake::{Fake, Reply, Seen};
use crate::grading::{arrived, corpus_file, result, run_files};

const ID: &str = "receive-maximum-exceeded-closes";

/// The Receive Maximum the fake announces: small, so the scenario fills it at once.
const RECEIVE_MAXIMUM: usize = 2;

/// A 5.0 CONNACK, success, with Receive Maximum 2 (property 0x21).
const CONNACK: [u8; 8] = [0x20, 0x06, 0x00, 0x00, 0x03, 0x21, 0x00, 0x02];

/// The packet identifier of a PUBLISH.
fn publish_id(p: &Seen<'_>) -> [u8; 2] {
    let at = 2 + p.topic().len();
    [p.body[at], p.body[at + 1]]
}

/// A 5.0 PUBREC with a Reason Code.
fn pubrec(id: [u8; 2], code: u8) -> Vec<u8> {
    vec![0x50, 0x03, id[0], id[1], code]
}

/// The SUBACK granting QoS 0 to the one filter of a 5.0 SUBSCRIBE, followed by a QoS 0
/// PUBLISH of `ok` to that filter: the fake routes nothing, and this stands for the forwarded
/// positive control, which the subscriber reads later in the scenario.
fn suback_and_control(p: &Seen<'_>) -> Reply {
    let props = usize::from(p.body[2]);
    let at = 3 + props;
    let len = usize::from(u16::from_be_bytes([p.body[at], p.body[at + 1]]));
    let filter = &p.body[at + 2..at + 2 + len];
    let mut bytes = vec![0x90, 0x04, p.body[0], p.body[1], 0x00, 0x00];
    let body_len = u8::try_from(2 + len + 1 + 2).unwrap();
    bytes.extend([0x30, body_len, 0x00, u8::try_from(len).unwrap()]);
    bytes.extend_from_slice(filter);
    bytes.extend([0x00, b'o', b'k']);
    Reply::Send(bytes)
}

/// A 5.0 fake with Receive Maximum 2 that answers QoS 2 PUBLISH packets with PUBREC and
/// PUBREL with PUBCOMP, and the QoS 2 PUBLISH beyond the client's quota with `excess(id)`.
async fn fake(excess: fn([u8; 2]) -> Reply) -> Fake {
    // Unreleased QoS 2 PUBLISH packets per client id.
    let open: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    Fake::start(move |p| {
        let mut open = open.lock().unwrap();
        let held = open.entry(p.client_id.to_owned()).or_default();
        match p.kind {
            1 => Reply::Send(CONNACK.to_vec()),
            8 => suback_and_control(p),
            3 if (p.flags >> 1) & 3 == 2 => {
                if *held == RECEIVE_MAXIMUM {
                    return excess(publish_id(p));
                }
                *held += 1;
                Reply::Answer
            }
            6 => {
                *held = held.saturating_sub(1);
                Reply::Answer
            }
            _ => Reply::Answer,
        }
    })
    .await
}

/// Runs the corpus scenario against a fake answering the excess PUBLISH with `excess`; the
/// outcome and what the report says arrived.
async fn graded(excess: fn([u8; 2]) -> Reply) -> (Outcome, String) {
    let file = corpus_file("flow-control/receive-maximum-exceeded-closes.yaml");
    let files = [("t/receive-maximum-exceeded-closes.yaml", file.as_str())];
    let fake = fake(excess).await;
    let report = run_files(&files, &fake, &Profile::permissive(), 1.0).await;
    let r = result(&report, ID, Version::V5_0);
    (r.outcome, format!("{} | {}", r.message, arrived(r)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_pubrec_on_a_connection_left_open_fails() {
    // 0x97 Quota exceeded refuses the PUBLISH, but the Protocol Error requires the close
    // (MQTT-4.13.1-1); 4.13.2's per-packet errors are for limits not communicated.
    let (quota, success, silent) = tokio::join!(
        graded(|id| Reply::Send(pubrec(id, 0x97))),
        graded(|id| Reply::Send(pubrec(id, 0x00))),
        graded(|_| Reply::Silent),
    );
    assert_eq!(quota.0, Outcome::Fail, "{}", quota.1);
    assert!(
        quota.1.contains("MQTT-4.13.1-1") && quota.1.contains("still open"),
        "{}",
        quota.1
    );
    // A success PUBREC: the broker took the excess PUBLISH.
    assert_eq!(success.0, Outcome::Fail, "{}", success.1);
    assert!(success.1.contains("arrived PUBREC id=1"), "{}", success.1);
    // Nothing at all, the connection open: the MUST is not met.
    assert_eq!(silent.0, Outcome::Fail, "{}", silent.1);
    assert!(
        silent.1.contains("arrived the connection was still open"),
        "{}",
        silent.1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_success_pubrec_then_the_close_fails() {
    let (outcome, said) = graded(|id| Reply::SendThenClose(pubrec(id, 0x00))).await;
    assert_eq!(outcome, Outcome::Fail, "{said}");
    assert!(said.contains("arrived PUBREC id=1"), "{said}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_close_passes_at_the_grade_of_what_came_first() {
    let (disconnect, bare, quota) = tokio::join!(
        graded(|_| Reply::SendThenClose(vec![0xE0, 0x01, 0x93])),
        graded(|_| Reply::Close),
        graded(|id| Reply::SendThenClose(pubrec(id, 0x97))),
    );
    // DISCONNECT 0x93 then the close: the MUST and the SHOULD.
    assert_eq!(disconnect.0, Outcome::Pass, "{}", disconnect.1);
    // The close alone, or after an error PUBREC: the MUST without the SHOULD.
    assert_eq!(bare.0, Outcome::NonStrict, "{}", bare.1);
    assert_eq!(quota.0, Outcome::NonStrict, "{}", quota.1);
}
