//! Finding what kills a broker the harness restarts: each suspect alone first; when none does,
//! the suspects together, concurrently as the run had them, narrowed by delta debugging
//! (halves, then complements of smaller chunks) to the smallest set that still kills it.
//! Every try starts from a fresh broker.

use std::time::Duration;

use futures_util::future::join_all;

use super::isolate::{Managed, last_output};
use crate::client::Entry;
use crate::corpus::Loaded;
use crate::error::Error;
use crate::exec::{self, Execution, Verdict};
use crate::probe::Endpoint;
use crate::profile::Profile;
use crate::runner::{self, Options, ScenarioResult, Suspect};
use crate::scenario::Version;

/// Group runs per round, at most (each restarts the broker).
const MAX_TRIES: usize = 12;
/// A killing set this small has each member failed; a larger one is only named.
const MAX_NAMED: usize = 4;

/// A suspect ready to run.
#[derive(Clone)]
pub(super) struct Trial {
    pub(super) loaded: Loaded,
    pub(super) version: Version,
}

impl Trial {
    /// The suspect's scenario in the corpus.
    pub(super) fn find(corpus: &[Loaded], s: Suspect) -> Option<Self> {
        let loaded = corpus.iter().find(|l| l.scenario.id == s.id)?.clone();
        Some(Self {
            loaded,
            version: s.version,
        })
    }

    fn name(&self) -> String {
        format!("`{}` [{}]", self.loaded.scenario.id, self.version)
    }
}

/// A suspect whose run killed the broker: how it died and what the suspect saw.
pub(super) struct Found {
    pub(super) trial: Trial,
    pub(super) death: String,
    transcript: Vec<Entry>,
}

impl Found {
    /// The suspect's result, graded by the runner: a failure saying `why`, unless the
    /// profile lists the scenario as a deviation.
    pub(super) fn graded(self, why: String, profile: &Profile, opts: &Options) -> ScenarioResult {
        let exec = Execution {
            verdict: Verdict::Crashed(why),
            transcript: self.transcript,
            retained: Default::default(),
            client_ids: Default::default(),
            unreachable: false,
        };
        let t = &self.trial;
        runner::grade(
            &t.loaded,
            t.version,
            Ok(exec),
            Duration::ZERO,
            profile,
            opts,
        )
    }
}

/// What running the suspects together showed.
pub(super) enum Group {
    /// Fewer than two suspects: nothing to run together.
    Single,
    /// Together they did not kill it either.
    NotReproduced(usize),
    /// The smallest set found that kills it, out of how many suspects, in how many tries.
    Kills {
        set: Vec<Found>,
        from: usize,
        tries: usize,
    },
}

impl Group {
    /// One clause for the report's notice.
    pub(super) fn note(&self) -> String {
        match self {
            Self::Single => "the death could not be reproduced".into(),
            Self::NotReproduced(n) => {
                format!("nor did the {n} suspects run together: the death could not be reproduced")
            }
            Self::Kills { set, from, tries } => {
                let names: Vec<String> = set.iter().map(|f| f.trial.name()).collect();
                let death = set.first().map(|f| f.death.as_str()).unwrap_or_default();
                let what = if set.len() <= MAX_NAMED {
                    "the smallest set that kills it"
                } else {
                    "no smaller set killing it was found; it dies under"
                };
                format!(
                    "the {from} suspects run together kill it; {tries} group runs found {what}: \
                     {} ({death})",
                    names.join(", ")
                )
            }
        }
    }

    /// The results of a small killing set's members: each a failure naming the others.
    pub(super) fn results(
        self,
        profile: &Profile,
        opts: &Options,
        log: &std::path::Path,
    ) -> Vec<ScenarioResult> {
        let Self::Kills { set, .. } = self else {
            return Vec::new();
        };
        if set.len() > MAX_NAMED {
            return Vec::new();
        }
        let names: Vec<String> = set.iter().map(|f| f.trial.name()).collect();
        let output = last_output(log);
        set.into_iter()
            .map(|f| {
                let why = format!(
                    "the broker died when these scenarios ran together, reproduced after a \
                     restart (none kills it alone): {}: {}{output}",
                    names.join(", "),
                    f.death
                );
                f.graded(why, profile, opts)
            })
            .collect()
    }
}

/// The managed broker, the run's options and the check that tells a dead broker.
pub(super) struct Isolation<'a> {
    pub(super) m: &'a mut Managed,
    pub(super) opts: &'a Options,
    pub(super) check: Endpoint,
}

impl Isolation<'_> {
    /// Runs the suspects one at a time (the broker freshly started) until one kills it; the
    /// broker is running again afterwards.
    pub(super) async fn alone(&mut self, suspects: &[Trial]) -> Result<Option<Found>, Error> {
        for t in suspects {
            let transcript = self.execute(t).await;
            if let Some(death) = self.m.dead(&self.check, t.version).await {
                self.m.restart().await?;
                return Ok(Some(Found {
                    trial: t.clone(),
                    death,
                    transcript,
                }));
            }
        }
        Ok(None)
    }

    /// Runs the suspects together and, when that kills the broker, narrows the set.
    pub(super) async fn together(&mut self, suspects: &[Trial]) -> Result<Group, Error> {
        if suspects.len() < 2 {
            return Ok(Group::Single);
        }
        let Some(mut set) = self.batch(suspects).await? else {
            return Ok(Group::NotReproduced(suspects.len()));
        };
        let mut cur = suspects.to_vec();
        let mut tries = 1;
        let mut n = 2;
        while cur.len() > 2 && tries < MAX_TRIES {
            let mut narrowed = None;
            for cand in candidates(&cur, n) {
                if tries >= MAX_TRIES {
                    break;
                }
                tries += 1;
                if let Some(found) = self.batch(&cand).await? {
                    narrowed = Some((cand, found));
                    break;
                }
            }
            match narrowed {
                Some((cand, found)) => {
                    n = if cand.len() * 2 <= cur.len() {
                        2
                    } else {
                        (n - 1).max(2)
                    };
                    cur = cand;
                    set = found;
                }
                None if n >= cur.len() => break,
                None => n = (n * 2).min(cur.len()),
            }
        }
        Ok(Group::Kills {
            set,
            from: suspects.len(),
            tries,
        })
    }

    /// Restarts the broker, runs `trials` at once, and tells whether it died; restarts it
    /// again when it did.
    async fn batch(&mut self, trials: &[Trial]) -> Result<Option<Vec<Found>>, Error> {
        self.m.restart().await?;
        let runs = join_all(trials.iter().map(|t| self.execute(t))).await;
        let v = trials[0].version;
        let Some(death) = self.m.dead(&self.check, v).await else {
            return Ok(None);
        };
        self.m.restart().await?;
        let found = trials
            .iter()
            .zip(runs)
            .map(|(t, transcript)| Found {
                trial: t.clone(),
                death: death.clone(),
                transcript,
            })
            .collect();
        Ok(Some(found))
    }

    /// One run of one suspect within its overall limit, then its cleanup, as the run does
    /// it (a death may need the cleanup's reconnection: a broker whose session store broke
    /// when the scenario's connection failed); the scenario's transcript.
    async fn execute(&self, t: &Trial) -> Vec<Entry> {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let tag = format!("iso{:04}", N.fetch_add(1, Ordering::Relaxed));
        let s = &self.opts.settings;
        let limit = runner::overall_limit(&t.loaded.scenario, s);
        let run = exec::execute(&t.loaded.scenario, t.version, &tag, s);
        match tokio::time::timeout(limit, run).await {
            Ok(e) => {
                runner::cleanup(s, t.version, &e, &tag).await;
                e.transcript
            }
            Err(_) => Vec::new(),
        }
    }
}

/// The sets delta debugging tries at granularity `n`: each of the `n` chunks (of two or
/// more; one alone is known not to kill), then each chunk's complement.
fn candidates(cur: &[Trial], n: usize) -> Vec<Vec<Trial>> {
    let size = cur.len().div_ceil(n);
    let chunks: Vec<&[Trial]> = cur.chunks(size).collect();
    let mut out: Vec<Vec<Trial>> = chunks
        .iter()
        .filter(|c| c.len() >= 2)
        .map(|c| c.to_vec())
        .collect();
    if chunks.len() > 2 {
        for i in 0..chunks.len() {
            let rest: Vec<Trial> = chunks
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .flat_map(|(_, c)| c.iter().cloned())
                .collect();
            out.push(rest);
        }
    }
    out
}
