//! Runs the planned jobs: many at once, an exclusive scenario alone, each bounded by its
//! overall limit. A failure, an error or a hang may be the broker dying rather than
//! misbehaving: a health check tells them apart, and a dead broker makes the rest of the run
//! errors naming the likely culprit instead of a wall of timeouts.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::Semaphore;

use crate::corpus::Loaded;
use crate::error::HarnessError;
use crate::exec::{self, Execution, Settings, Verdict};
use crate::scenario::Version;

use super::cleanup::cleanup;
use super::down::{Down, DownWhen, Suspect};
use super::grade::Attempt;
use super::health::alive;
use super::plan::{Job, overall_limit};

/// What the jobs produced.
pub(super) struct Ran {
    /// The attempts of each scenario and version, in no particular order.
    pub(super) attempts: BTreeMap<(usize, Version), Vec<Attempt>>,
    /// Whether (and by whose doing, likely) the broker died.
    pub(super) state: Arc<Shared>,
}

/// What every job shares.
struct Context {
    corpus: Arc<Vec<Loaded>>,
    settings: Arc<Settings>,
    redirects: bool,
    state: Arc<Shared>,
    permits: Semaphore,
    /// Scenarios with fixed topics take it: one at a time, alongside the others.
    fixed: tokio::sync::Mutex<()>,
    /// Scenarios that leave delayed wills take it when [`Locks::delayed_wills_apart`] is on.
    delayed_wills: Option<tokio::sync::Mutex<()>>,
    progress: indicatif::ProgressBar,
}

/// How many jobs run at once, and which scenarios never overlap.
pub(super) struct Locks {
    /// Jobs at once.
    pub(super) parallel: usize,
    /// Scenarios that leave delayed wills run one at a time among themselves.
    pub(super) delayed_wills_apart: bool,
}

/// Runs `jobs` within `locks`.
pub(super) async fn execute(
    corpus: &[Loaded],
    jobs: Vec<Job>,
    locks: Locks,
    settings: &Arc<Settings>,
    redirects: bool,
    progress: &indicatif::ProgressBar,
) -> Ran {
    let cx = Arc::new(Context {
        corpus: Arc::new(corpus.to_vec()),
        settings: settings.clone(),
        redirects,
        state: Arc::new(Shared::default()),
        permits: Semaphore::new(locks.parallel.max(1)),
        fixed: tokio::sync::Mutex::new(()),
        delayed_wills: locks
            .delayed_wills_apart
            .then(|| tokio::sync::Mutex::new(())),
        progress: progress.clone(),
    });
    let mut attempts: BTreeMap<(usize, Version), Vec<Attempt>> = BTreeMap::new();
    // Exclusive scenarios run one at a time before anything else starts. Racing the others for
    // a lock instead let a long scenario start first now and then, and everything queued
    // behind the exclusive one waited for it: a run of 6 s took 10.
    let (alone, together): (Vec<Job>, Vec<Job>) = jobs
        .into_iter()
        .partition(|job| corpus[job.idx].scenario.exclusive);
    for job in alone {
        let (key, attempt) = run_job(cx.clone(), job).await;
        attempts.entry(key).or_default().push(attempt);
    }
    let handles: Vec<_> = together
        .into_iter()
        .map(|job| tokio::spawn(run_job(cx.clone(), job)))
        .collect();
    for h in handles {
        if let Ok((key, attempt)) = h.await {
            attempts.entry(key).or_default().push(attempt);
        }
    }
    Ran {
        attempts,
        state: cx.state.clone(),
    }
}

/// One job, waiting for its turn.
async fn run_job(cx: Arc<Context>, job: Job) -> ((usize, Version), Attempt) {
    let l = &cx.corpus[job.idx];
    // Taken before the permit, so a scenario waiting for its fixed topics holds no permit.
    let _fixed = if l.scenario.fixed_topics {
        Some(cx.fixed.lock().await)
    } else {
        None
    };
    // Always taken in this order (fixed, delayed wills, permit), so no two jobs wait for each
    // other.
    let _wills = match &cx.delayed_wills {
        Some(m) if l.scenario.delays_wills() => Some(m.lock().await),
        _ => None,
    };
    let _permit = cx.permits.acquire().await;
    let name = Suspect {
        id: l.scenario.id.clone(),
        version: job.version,
    };
    cx.progress.set_message(name.to_string());
    let start = Instant::now();
    let exec = match cx.state.dead() {
        Some(suspects) => Err(HarnessError::BrokerDied(Down {
            when: DownWhen::Before,
            suspects,
        })),
        None => {
            // Running until its cleanup is done: a death the cleanup's reconnection causes is
            // still this scenario's doing.
            cx.state.begin(&name);
            let exec = bounded(&cx, l, &job).await;
            let exec = settle(&cx, &job, &name, exec).await;
            cx.state.end(&name);
            exec
        }
    };
    cx.progress.inc(1);
    ((job.idx, job.version), (exec, start.elapsed()))
}

/// Executes the scenario within its overall limit.
async fn bounded(cx: &Context, l: &Loaded, job: &Job) -> Result<Execution, HarnessError> {
    let limit = overall_limit(&l.scenario, &cx.settings);
    let run = exec::execute(&l.scenario, job.version, &job.tag, &cx.settings);
    tokio::time::timeout(limit, run)
        .await
        .map_err(|_| HarnessError::Hung(limit))
}

/// After a run: a suspect result asks whether the broker is alive; a live broker is cleaned
/// up after.
async fn settle(
    cx: &Context,
    job: &Job,
    name: &Suspect,
    exec: Result<Execution, HarnessError>,
) -> Result<Execution, HarnessError> {
    let e = match exec {
        Ok(e) => e,
        Err(hung) => {
            return match culprit(cx, job, name).await {
                None => Err(hung),
                Some(suspects) => Err(HarnessError::BrokerDied(Down {
                    when: DownWhen::AfterHang,
                    suspects,
                })),
            };
        }
    };
    let suspect = e.unreachable || matches!(e.verdict, Verdict::Fail(_) | Verdict::Error(_));
    if suspect {
        if let Some(suspects) = culprit(cx, job, name).await {
            return Err(HarnessError::BrokerDied(Down {
                when: DownWhen::During,
                suspects,
            }));
        }
        cleanup(&cx.settings, job.version, &e, &job.tag).await;
    } else if cx.state.dead().is_none() && !cleanup(&cx.settings, job.version, &e, &job.tag).await {
        // Cleanup stops at its first failure; the broker may have died just after the
        // scenario's last step. (A pass before the broker died has nothing left to clean.)
        let _ = culprit(cx, job, name).await;
    }
    Ok(e)
}

/// The likely culprits once the broker is dead (found now or before); `None` while it
/// answers.
async fn culprit(cx: &Context, job: &Job, name: &Suspect) -> Option<Vec<Suspect>> {
    if let Some(c) = cx.state.dead() {
        return Some(c);
    }
    if alive(&cx.settings, job.version, cx.redirects).await {
        None
    } else {
        Some(cx.state.mark_dead(name))
    }
}

/// What the jobs know of each other: which run now, which just finished, whether (and after
/// which) the broker died.
#[derive(Default)]
pub(super) struct Shared {
    in_flight: Mutex<BTreeSet<Suspect>>,
    recent: Mutex<VecDeque<Suspect>>,
    dead: Mutex<Option<Vec<Suspect>>>,
}

impl Shared {
    fn begin(&self, name: &Suspect) {
        if let Ok(mut s) = self.in_flight.lock() {
            s.insert(name.clone());
        }
    }
    fn end(&self, name: &Suspect) {
        if let Ok(mut s) = self.in_flight.lock() {
            s.remove(name);
        }
        if let Ok(mut r) = self.recent.lock() {
            r.push_back(name.clone());
            if r.len() > 3 {
                r.pop_front();
            }
        }
    }
    /// The likely culprits, once the broker died.
    pub(super) fn dead(&self) -> Option<Vec<Suspect>> {
        self.dead.lock().ok().and_then(|d| d.clone())
    }
    /// Records the death and names the likely culprits: the scenario that noticed it first,
    /// then those running beside it or just finished.
    fn mark_dead(&self, current: &Suspect) -> Vec<Suspect> {
        let mut guard = match self.dead.lock() {
            Ok(g) => g,
            Err(_) => return vec![current.clone()],
        };
        if let Some(c) = &*guard {
            return c.clone();
        }
        let mut names = vec![current.clone()];
        if let Ok(s) = self.in_flight.lock() {
            names.extend(s.iter().filter(|n| *n != current).cloned());
        }
        if let Ok(r) = self.recent.lock() {
            for n in r.iter().rev() {
                if !names.contains(n) {
                    names.push(n.clone());
                }
            }
        }
        *guard = Some(names.clone());
        names
    }
}
