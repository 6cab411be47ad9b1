//! The plan of a run: one job per scenario, version and repeat, in a seeded order; a result
//! straight away for what does not run (skips, and versions the broker refused).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::corpus::Loaded;
use crate::exec::{DEFAULT_QUIET, Settings};
use crate::profile::Profile;
use crate::scenario::{Action, ClosedSpec, Version};

use super::grade::base_result;
use super::health::Absent;
use super::{Options, Outcome, ScenarioResult};

/// One run of one scenario under one version.
pub(super) struct Job {
    /// Index into the corpus.
    pub(super) idx: usize,
    pub(super) version: Version,
    /// Makes topics and client ids unique to this run.
    pub(super) tag: String,
}

/// The jobs to run, and the results of what will not run.
pub(super) struct Plan {
    pub(super) jobs: Vec<Job>,
    pub(super) results: Vec<ScenarioResult>,
}

/// Jobs for every selected scenario and version the profile and broker allow, ordered by
/// `seed` (the exclusive ones run before all others whatever their place: `schedule`): those
/// with fixed topics first, which run one at a time, so their chain starts early and overlaps the
/// rest; then the others longest first, so the slow timers (keep alive, expiry, will delay)
/// overlap the rest.
pub(super) fn plan(
    corpus: &[Loaded],
    profile: &Profile,
    opts: &Options,
    absent: &BTreeMap<Version, Absent>,
) -> Plan {
    let mut results = Vec::new();
    let mut jobs = Vec::new();
    let run_id = format!("{:04x}", opts.seed & 0xffff);
    let mut counter = 0u32;
    for (idx, l) in corpus.iter().enumerate() {
        for &v in l
            .scenario
            .versions
            .iter()
            .filter(|v| opts.versions.contains(v))
        {
            if let Some((outcome, why)) = not_run(l, v, profile, absent) {
                results.push(base_result(l, v, outcome, why));
                continue;
            }
            for _ in 0..opts.repeat.max(1) {
                counter += 1;
                let tag = format!("{run_id}{counter:04}");
                jobs.push(Job {
                    idx,
                    version: v,
                    tag,
                });
            }
        }
    }
    shuffle(&mut jobs, opts.seed);
    // The sort is stable: within equal keys the seeded order stands.
    jobs.sort_by_key(|j| {
        let s = &corpus[j.idx].scenario;
        (
            !s.fixed_topics,
            // A chain of scenarios that run one at a time starts first.
            !(opts.delayed_wills_apart && s.delays_wills()),
            std::cmp::Reverse(overall_limit(s, &opts.settings)),
        )
    });
    Plan { jobs, results }
}

/// Why a scenario does not run under `v`, as the outcome it gets: a skip for what the profile
/// or the broker lawfully lacks, a failure for a version the broker refused.
fn not_run(
    l: &Loaded,
    v: Version,
    profile: &Profile,
    absent: &BTreeMap<Version, Absent>,
) -> Option<(Outcome, String)> {
    if !profile.versions.contains(&v) {
        return Some((Outcome::Skip, profile.version_skip(v)));
    }
    match absent.get(&v) {
        // Brokers without 5.0 (amqtt, mqttools) often leave its CONNECT unanswered.
        Some(Absent::NotOffered(why)) => Some((
            Outcome::Skip,
            format!("MQTT {v} not offered by the broker: {why}"),
        )),
        Some(Absent::Refused(why)) => Some((Outcome::Fail, why.clone())),
        None => profile
            .missing(&l.scenario.requires)
            .map(|why| (Outcome::Skip, why)),
    }
}

/// A bound on one scenario run, so a hung broker or harness never stalls the run.
pub fn overall_limit(s: &crate::scenario::Scenario, settings: &Settings) -> Duration {
    let mut total = settings.step_timeout * 2;
    for step in &s.steps {
        total += match step.timeout {
            Some(d) => d.0.mul_f64(settings.scale),
            None => settings.step_timeout,
        };
        match &step.action {
            Action::Wait(d) => total += d.0,
            Action::ExpectNothing(d) => total += d.0.mul_f64(settings.scale),
            Action::ExpectClosed(ClosedSpec {
                keep_alive: Some(k),
                ..
            }) => total += crate::judge::keep_alive_deadline(*k, settings.scale) * 2,
            Action::ExpectUnordered(u) => {
                total += u
                    .quiet
                    .map_or(DEFAULT_QUIET, |d| d.0)
                    .mul_f64(settings.scale)
                    + settings.step_timeout;
            }
            Action::ExpectAcross(a) => {
                total += (a
                    .quiet
                    .map_or(DEFAULT_QUIET, |d| d.0)
                    .mul_f64(settings.scale)
                    + settings.step_timeout)
                    * u32::try_from(a.clients.len()).unwrap_or(u32::MAX);
            }
            Action::ExpectOneOf(alts) => {
                for a in alts {
                    if let Some(d) = a.expect_nothing {
                        total += d.0.mul_f64(settings.scale) + settings.step_timeout;
                    }
                }
            }
            _ => {}
        }
    }
    total
}

/// A deterministic shuffle (xorshift64*), so `--seed` reproduces an order.
fn shuffle<T>(v: &mut [T], seed: u64) {
    let mut x = seed | 1;
    for i in (1..v.len()).rev() {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        let r = x.wrapping_mul(0x2545_F491_4F6C_DD1D);
        let j = usize::try_from(r % (i as u64 + 1)).unwrap_or(0);
        v.swap(i, j);
    }
}
