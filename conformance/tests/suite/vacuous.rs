//! The whole corpus against brokers that do nothing useful: a result that passes against one of
//! them checks nothing. Each run prints its figures and holds them under a bound.
//!
//! - `answers_nothing`: CONNACK and PINGRESP only, every other packet ignored.
//! - `closes_on_anything`: the same, but any other packet closes the connection.
//! - `answers_junk`: the same, but any other packet is answered with `00 00` (no such packet).

use std::path::PathBuf;
use std::time::Duration;

use mqtt_conformance::profile::Profile;
use mqtt_conformance::runner::{Outcome, RunReport};
use mqtt_conformance::transport::Target;

use crate::fake::{Fake, Reply, Seen};
use crate::support::{options, run_with};

/// At most this share of the results may pass against a broker that does nothing. Every
/// negative scenario first shows that the connection carries a well-formed packet other than
/// PINGREQ (a positive control), so a broker closing on everything passes none of them. What
/// still passes (14 of about 400 results against each fake): the scenarios about CONNACK and
/// PINGRESP themselves, which the fakes answer as a broker must, and
/// `no-auth-method-no-auth-packets`, whose right answer is to send nothing.
const BOUND: f64 = 0.05;

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

/// CONNACK and PINGRESP as a real broker sends them; `other` for every other packet.
fn minimal(other: Reply) -> impl Fn(&Seen<'_>) -> Reply + Send + Sync + 'static {
    move |p| match p.kind {
        1 | 12 => Reply::Answer,
        _ => other.clone(),
    }
}

async fn run_corpus(fake: &Fake) -> RunReport {
    let mut opts = options(Target::tcp(fake.addr), Duration::from_millis(700));
    opts.jobs = 32;
    let (dir, profile) = (corpus(), Profile::permissive());
    tokio::time::timeout(Duration::from_secs(300), run_with(&dir, &profile, &opts))
        .await
        .expect("the run stalled")
        .unwrap()
}

/// Prints the figures and the passing results; returns the share that passed.
fn passed_share(name: &str, report: &RunReport) -> f64 {
    let counted: Vec<_> = report
        .results
        .iter()
        .filter(|r| r.outcome != Outcome::Skip)
        .collect();
    let passed: Vec<_> = counted
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Pass | Outcome::NonStrict))
        .collect();
    println!("{name}: {} of {} results pass", passed.len(), counted.len());
    for r in &passed {
        println!("  {} ({}) {:?}", r.id, r.version, r.outcome);
    }
    passed.len() as f64 / counted.len().max(1) as f64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_nothing() {
    let fake = Fake::start(minimal(Reply::Silent)).await;
    let report = run_corpus(&fake).await;
    let share = passed_share("answers_nothing", &report);
    assert!(share <= BOUND, "{:.1}% pass", share * 100.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closes_on_anything() {
    let fake = Fake::start(minimal(Reply::Close)).await;
    let report = run_corpus(&fake).await;
    let share = passed_share("closes_on_anything", &report);
    assert!(share <= BOUND, "{:.1}% pass", share * 100.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_junk() {
    let fake = Fake::start(minimal(Reply::Send(vec![0x00, 0x00]))).await;
    let report = run_corpus(&fake).await;
    let share = passed_share("answers_junk", &report);
    assert!(share <= BOUND, "{:.1}% pass", share * 100.0);
}
