//! Every scenario of the built-in corpus, under each version it lists, as its own named test
//! (`connect::second-connect-closes@5.0`) against one in-process reference broker.
//!
//! The reference broker is the oracle the corpus is proven on: each run must pass outright
//! (non-strict counts as a failure here, since the reference broker follows every SHOULD).
//! A scenario with a `reference_config` runs against its own reference broker so configured
//! (one lacking a feature, for the client-side statements only such a broker can test).
//! `cargo test -p mqtt-conformance --test scenarios -- qos2` runs a slice.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use libtest_mimic::{Arguments, Failed, Trial};
use mqtt_conformance::corpus::{self, Loaded};
use mqtt_conformance::exec::{self, Settings, Verdict};
use mqtt_conformance::profile::Profile;
use mqtt_conformance::scenario::ReferenceConfig;
use mqtt_conformance::transport::Target;

/// The per-step timeout the CLI uses by default.
const STEP_TIMEOUT: Duration = Duration::from_secs(3);

fn main() {
    let mut args = Arguments::from_args();
    // Scenarios mostly wait on the network: run many at once, as the CLI does.
    args.test_threads.get_or_insert(32);
    let (corpus, problems) = corpus::parse_all(&corpus::embedded_sources());
    // What the in-process broker offers: a scenario needing anything else is ignored, as the
    // runner skips it.
    let profile = Profile::load("reference").expect("the embedded reference profile loads");
    let runtime = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime"),
    );
    let broker = runtime
        .block_on(mqtt_reference_broker::start(
            mqtt_reference_broker::Config::default(),
        ))
        .expect("the reference broker starts");
    let settings = Arc::new(Settings {
        target: Target::tcp(broker.tcp_addr()),
        step_timeout: STEP_TIMEOUT,
        scale: 1.0,
        credentials: None,
    });
    // Exclusive scenarios take the write side: they run while nothing else does.
    let exclusive = Arc::new(RwLock::new(()));

    let models = model_trials(&corpus, &runtime, &settings, &exclusive);
    let mut trials: Vec<Trial> = problems
        .into_iter()
        .map(|p| {
            let name = format!("lint::{}", p.path);
            let message = p.to_string();
            Trial::test(name, move || Err(Failed::from(message)))
        })
        .collect();
    for (n, loaded) in corpus.into_iter().enumerate() {
        let loaded = Arc::new(loaded);
        for &version in &loaded.scenario.versions {
            let name = format!("{}::{}@{version}", loaded.area, loaded.scenario.id);
            let (loaded, runtime, settings, exclusive) = (
                Arc::clone(&loaded),
                Arc::clone(&runtime),
                Arc::clone(&settings),
                Arc::clone(&exclusive),
            );
            let tag = format!("t{n}v{}", version.protocol().level());
            let offered = loaded.scenario.requires.iter().all(|c| profile.has(*c));
            trials.push(
                Trial::test(name, move || {
                    run_one(&loaded, version, &tag, &runtime, &settings, &exclusive)
                })
                .with_ignored_flag(!offered),
            );
        }
    }
    trials.extend(models);
    let conclusion = libtest_mimic::run(&args, trials);
    runtime.block_on(broker.shutdown());
    conclusion.exit();
}

fn run_one(
    loaded: &Loaded,
    version: mqtt_conformance::scenario::Version,
    tag: &str,
    runtime: &tokio::runtime::Runtime,
    settings: &Settings,
    exclusive: &RwLock<()>,
) -> Result<(), Failed> {
    let scenario = &loaded.scenario;
    // A poisoned lock only means another test panicked; the broker is still usable. Fixed
    // topics run alone here too: simpler than the runner's own lock for them, and as safe.
    let _guard = if scenario.exclusive || scenario.fixed_topics {
        Guard::Write(exclusive.write().unwrap_or_else(|e| e.into_inner()))
    } else {
        Guard::Read(exclusive.read().unwrap_or_else(|e| e.into_inner()))
    };
    let execution = match &scenario.reference_config {
        None => runtime.block_on(exec::execute(scenario, version, tag, settings)),
        Some(wanted) => {
            let config = configured(wanted).map_err(|e| format!("{}: {e}", loaded.path))?;
            runtime.block_on(async {
                let broker = mqtt_reference_broker::start(config)
                    .await
                    .map_err(|e| format!("{}: the configured broker: {e}", loaded.path))?;
                let own = Settings {
                    target: Target::tcp(broker.tcp_addr()),
                    ..settings.clone()
                };
                let execution = exec::execute(scenario, version, tag, &own).await;
                broker.shutdown().await;
                Ok::<_, String>(execution)
            })?
        }
    };
    match execution.verdict {
        Verdict::Pass => Ok(()),
        Verdict::NonStrict(reasons) => Err(format!(
            "{}: the reference broker did not follow a SHOULD:\n  {}",
            loaded.path,
            reasons.join("\n  ")
        )
        .into()),
        Verdict::Fail(failure) => Err(format!(
            "{} failed at step {} ({})\n  expected: {}\n  arrived:  {}\n  {}\ntranscript:\n{}",
            loaded.path,
            failure.step + 1,
            failure.step_desc,
            failure.expected,
            failure.arrived,
            failure.diff.join("\n  "),
            transcript(&execution.transcript),
        )
        .into()),
        // The oracle must show every scenario checkable: refusing here would hide a broken
        // scenario behind a skip.
        Verdict::Untestable(why) => Err(format!(
            "{}: untestable on the reference broker: {why}\ntranscript:\n{}",
            loaded.path,
            transcript(&execution.transcript),
        )
        .into()),
        // Only crash isolation gives this verdict, never a scenario run.
        Verdict::Crashed(why) => Err(format!("{}: the broker died: {why}", loaded.path).into()),
        Verdict::Error(message) => Err(format!("{}: harness error: {message}", loaded.path).into()),
    }
}

/// The corpus scenario that reads the broker's Receive Maximum from the CONNACK
/// (`capture_receive_maximum`) and fills exactly that many slots (`repeat`), proven again on
/// reference brokers announcing other values; above the repeat cap it must be untestable, not
/// passed.
const ANY_LIMIT: &str = "receive-maximum-exceeded-closes";

fn model_trials(
    corpus: &[Loaded],
    runtime: &Arc<tokio::runtime::Runtime>,
    settings: &Arc<Settings>,
    exclusive: &Arc<RwLock<()>>,
) -> Vec<Trial> {
    let Some(base) = corpus.iter().find(|l| l.scenario.id == ANY_LIMIT) else {
        return vec![Trial::test(format!("model::{ANY_LIMIT}"), || {
            Err(Failed::from(format!("{ANY_LIMIT} is not in the corpus")))
        })];
    };
    [1_u16, 20, 100, 2_000]
        .into_iter()
        .map(|maximum| {
            let mut loaded = base.clone();
            loaded.scenario.reference_config = Some(ReferenceConfig {
                receive_maximum: Some(maximum),
                ..ReferenceConfig::default()
            });
            let (runtime, settings, exclusive) = (
                Arc::clone(runtime),
                Arc::clone(settings),
                Arc::clone(exclusive),
            );
            let name = format!("model::{ANY_LIMIT}@{maximum}");
            Trial::test(name, move || {
                let tag = format!("rm{maximum}");
                let version = mqtt_conformance::scenario::Version::V5_0;
                let result = run_one(&loaded, version, &tag, &runtime, &settings, &exclusive);
                match (maximum > 1_000, result) {
                    (false, result) => result,
                    // Over the cap: run_one reports the untestable verdict as an error.
                    (true, Err(e)) if format!("{e:?}").contains("untestable") => Ok(()),
                    (true, other) => Err(format!("expected untestable, got {other:?}").into()),
                }
            })
        })
        .collect()
}

/// The default reference broker configuration with a scenario's `reference_config` applied.
fn configured(wanted: &ReferenceConfig) -> Result<mqtt_reference_broker::Config, String> {
    let mut config = mqtt_reference_broker::Config::default();
    let limits = &mut config.limits;
    if let Some(qos) = wanted.max_qos {
        limits.max_qos = mqtt_codec::QoS::from_u8(qos)
            .ok_or_else(|| format!("reference_config: max_qos {qos} is not a QoS"))?;
    }
    if let Some(retain) = wanted.retain_available {
        limits.retain_available = retain;
    }
    if let Some(maximum) = wanted.topic_alias_maximum {
        limits.topic_alias_maximum = maximum;
    }
    if let Some(maximum) = wanted.receive_maximum {
        limits.receive_maximum = maximum.max(1);
    }
    Ok(config)
}

/// Keeps whichever side of the exclusive lock a test holds for as long as it runs.
enum Guard<'a> {
    Read(#[expect(dead_code, reason = "held for its drop")] std::sync::RwLockReadGuard<'a, ()>),
    Write(#[expect(dead_code, reason = "held for its drop")] std::sync::RwLockWriteGuard<'a, ()>),
}

fn transcript(entries: &[mqtt_conformance::client::Entry]) -> String {
    entries
        .iter()
        .map(|e| {
            format!(
                "  {:>6} ms  {:<8} {:?}  {}",
                e.at_ms, e.client, e.dir, e.what
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}
