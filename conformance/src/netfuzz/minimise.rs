//! Replaying a session alone and shrinking it: drop frames one at a time, from the last,
//! keeping each removal after which the same oracle still fires, then shrink the fields of
//! the frames left (properties, topics, payloads, filters: [`fields::shrink`]) the same way
//! (the broker restarted first whenever the previous attempt killed it).

use super::broker::Broker;
use super::fields;
use super::generate::Plan;
use super::oracle::{self, Oracle, Violation};
use super::session::{self, Outcome};
use crate::error::Error;

/// Replays `plan` alone against a live broker (restarted first if it is not); the violation it
/// causes, if any, with the session's outcome.
pub async fn replay(
    broker: &mut Broker,
    plan: &Plan,
) -> Result<Option<(Violation, Outcome)>, Error> {
    if broker.alive(plan.version).await.is_err() {
        broker.restart().await?;
    }
    let Ok(outcome) = session::run(&broker.settings.target, plan, broker.connect_timeout()).await
    else {
        return Ok(None);
    };
    if let Some(v) = oracle::check(plan, &outcome) {
        return Ok(Some((v, outcome)));
    }
    match broker.alive(plan.version).await {
        Ok(()) => Ok(None),
        Err(why) => Ok(Some((liveness(plan, outcome.sent, &why), outcome))),
    }
}

/// The liveness violation after `sent` frames of `plan`, keyed by the last frame's type.
pub fn liveness(plan: &Plan, sent: usize, why: &str) -> Violation {
    let last = plan.frames.get(sent.saturating_sub(1));
    Violation {
        oracle: Oracle::Liveness,
        packet: last.map_or("none".into(), |f| f.kind()),
        detail: format!("after the session the broker failed the health check: {why}"),
    }
}

/// Whether `v` is the same finding as `key`: same oracle, and for the protocol oracle the
/// same bad packet type (a liveness finding may move to another last frame as frames go).
fn same(v: &Violation, key: &Violation) -> bool {
    v.oracle == key.oracle && (v.oracle == Oracle::Liveness || v.packet == key.packet)
}

/// The smallest session found within `budget` replays that still shows `key`, with its
/// violation and outcome (`None` when nothing smaller reproduced it).
pub async fn minimise(
    broker: &mut Broker,
    plan: Plan,
    key: &Violation,
    budget: usize,
) -> Result<(Plan, Option<(Violation, Outcome)>), Error> {
    let mut best = plan;
    let mut kept = None;
    let mut tries = 0;
    let mut i = best.frames.len();
    while i > 0 && tries < budget {
        i -= 1;
        if best.frames.len() == 1 {
            break;
        }
        let mut candidate = best.clone();
        candidate.frames.remove(i);
        candidate.clean_connect &= i != 0;
        tries += 1;
        if let Some((v, o)) = replay(broker, &candidate).await? {
            if same(&v, key) {
                best = candidate;
                kept = Some((v, o));
            }
        }
    }
    let mut budget = Budget(budget.saturating_sub(tries).max(budget / 2));
    for i in 0..best.frames.len() {
        shrink_frame(broker, &mut best, i, key, &mut kept, &mut budget).await?;
    }
    Ok((best, kept))
}

/// Replays left for field shrinking.
struct Budget(usize);

/// Shrinks frame `i` of `best` while a smaller form of its packet still shows `key`.
async fn shrink_frame(
    broker: &mut Broker,
    best: &mut Plan,
    i: usize,
    key: &Violation,
    kept: &mut Option<(Violation, Outcome)>,
    budget: &mut Budget,
) -> Result<(), Error> {
    let v = best.version;
    'packet: while let Some(p) = fields::decode(&best.frames[i].bytes, v) {
        for smaller in fields::shrink(&p) {
            if budget.0 == 0 {
                return Ok(());
            }
            let what = format!("{} (shrunk)", crate::client::summary(&smaller));
            let Some(f) = fields::frame(&smaller, v, what) else {
                continue;
            };
            let mut candidate = best.clone();
            candidate.frames[i] = f;
            budget.0 -= 1;
            if let Some((found, o)) = replay(broker, &candidate).await? {
                if same(&found, key) {
                    *best = candidate;
                    *kept = Some((found, o));
                    continue 'packet;
                }
            }
        }
        break;
    }
    Ok(())
}
