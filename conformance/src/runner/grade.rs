//! Grading executions into outcomes: the verdict, the statements' level, the profile's
//! deviations, and the worst of several repeats.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::corpus::Loaded;
use crate::error::HarnessError;
use crate::exec::{Execution, Verdict};
use crate::profile::Profile;
use crate::scenario::{Level, Version};

use super::{Options, Outcome, ScenarioResult};

/// One repeat of one scenario: its execution (or why there was none) and its wall time.
pub(super) type Attempt = (Result<Execution, HarnessError>, Duration);

/// Grades every repeat of every scenario run; a scenario whose repeats differ is flaky.
pub(super) fn collect(
    corpus: &[Loaded],
    attempts: BTreeMap<(usize, Version), Vec<Attempt>>,
    profile: &Profile,
    opts: &Options,
) -> Vec<ScenarioResult> {
    let mut results = Vec::new();
    for ((idx, v), list) in attempts {
        let l = &corpus[idx];
        let graded: Vec<ScenarioResult> = list
            .into_iter()
            .map(|(e, d)| grade(l, v, e, d, profile, opts))
            .collect();
        let outcomes: Vec<Outcome> = graded.iter().map(|r| r.outcome).collect();
        let flaky = outcomes.iter().any(|o| *o != outcomes[0]);
        // Report the worst repeat: the first one that did not pass.
        let mut chosen = graded
            .iter()
            .find(|r| r.outcome != Outcome::Pass)
            .unwrap_or(&graded[0])
            .clone();
        if flaky {
            chosen.flaky = Some(outcomes);
        }
        results.push(chosen);
    }
    results
}

pub(super) fn base_result(
    l: &Loaded,
    v: Version,
    outcome: Outcome,
    message: String,
) -> ScenarioResult {
    ScenarioResult {
        id: l.scenario.id.clone(),
        title: l.scenario.title.clone(),
        area: l.area.clone(),
        version: v,
        outcome,
        statements: l.scenario.statements.for_version(v),
        duration: Duration::ZERO,
        message,
        failure: None,
        transcript: Vec::new(),
        flaky: None,
        down: None,
    }
}

/// Grades one execution: the verdict, the statements' level, then the profile's deviation.
/// Crash isolation grades the scenario that killed the broker here too.
pub(crate) fn grade(
    l: &Loaded,
    v: Version,
    exec: Result<Execution, HarnessError>,
    d: Duration,
    profile: &Profile,
    opts: &Options,
) -> ScenarioResult {
    let mut r = base_result(l, v, Outcome::Pass, String::new());
    r.duration = d;
    let exec = match exec {
        Ok(e) => e,
        Err(e) => {
            r.outcome = Outcome::Error;
            r.message = e.to_string();
            if let HarnessError::BrokerDied(down) = e {
                r.down = Some(down);
            }
            return r;
        }
    };
    let only_should = !r.statements.iter().any(|s| s.level == Level::Must);
    match exec.verdict {
        Verdict::Pass => {}
        Verdict::NonStrict(notes) => {
            r.outcome = Outcome::NonStrict;
            r.message = notes.join("; ");
        }
        Verdict::Fail(f) => {
            r.outcome = if only_should {
                Outcome::NonStrict
            } else {
                Outcome::Fail
            };
            r.message = format!(
                "step {} ({}): expected {}, arrived {}",
                f.step + 1,
                f.step_desc,
                f.expected,
                f.arrived
            );
            r.failure = Some(f);
        }
        Verdict::Untestable(why) => {
            // Never a pass: the broker's lawful answer left the statement unchecked.
            r.outcome = Outcome::Skip;
            r.message = format!("untestable on this broker: {why}");
        }
        Verdict::Crashed(why) => {
            // Whatever the statements' level: a server that dies serves nobody.
            r.outcome = Outcome::Fail;
            r.message = why;
        }
        Verdict::Error(e) => {
            r.outcome = Outcome::Error;
            r.message = e.to_string();
        }
    }
    if !opts.strict {
        deviate(&mut r, profile);
    }
    if r.outcome != Outcome::Pass || opts.keep_transcripts {
        r.transcript = exec.transcript;
    }
    r
}

/// The profile's deviation for this scenario and version, applied: a failure it lists is
/// expected, a pass it lists is unexpected. An intermittent entry leaves a pass, or a result
/// that only missed a SHOULD, as it is.
fn deviate(r: &mut ScenarioResult, profile: &Profile) {
    let Some(dev) = profile.deviation(&r.id, r.version) else {
        return;
    };
    match r.outcome {
        // The listed failure did not show; what did show is only a SHOULD not followed, which
        // the report must not pass off as the listed deviation.
        Outcome::NonStrict if dev.intermittent => {
            r.message = format!(
                "{}; listed as an intermittent deviation, which did not show this time ({})",
                r.message, dev.reason
            );
        }
        Outcome::Fail | Outcome::NonStrict => {
            r.outcome = Outcome::ExpectedFailure;
            r.message = format!("known deviation: {} ({})", dev.reason, r.message);
        }
        Outcome::Pass if dev.intermittent => {
            r.message = format!(
                "listed as an intermittent deviation; passed this time ({})",
                dev.reason
            );
        }
        Outcome::Pass => {
            r.outcome = Outcome::UnexpectedPass;
            r.message = format!(
                "listed as a deviation in the profile but passed; remove the entry ({})",
                dev.reason
            );
        }
        // Still a skip, but a listed failure that could not even be checked is an entry that
        // no longer describes the broker: say so, so that the profile gets mended.
        Outcome::Skip if !dev.intermittent => {
            r.message = format!(
                "{}; the profile lists it as a deviation, which did not show: review the entry",
                r.message
            );
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Deviation;

    fn result(outcome: Outcome) -> ScenarioResult {
        ScenarioResult {
            id: "s".into(),
            title: String::new(),
            area: String::new(),
            version: Version::V5_0,
            outcome,
            statements: Vec::new(),
            duration: Duration::ZERO,
            message: "why".into(),
            failure: None,
            transcript: Vec::new(),
            flaky: None,
            down: None,
        }
    }

    fn profile(intermittent: bool) -> Profile {
        let mut p = Profile::permissive();
        p.deviations.push(Deviation {
            id: "s".into(),
            versions: Some(vec![Version::V5_0]),
            reason: "MQTT-0-0: listed".into(),
            intermittent,
        });
        p
    }

    fn deviated(outcome: Outcome, intermittent: bool) -> ScenarioResult {
        let mut r = result(outcome);
        deviate(&mut r, &profile(intermittent));
        r
    }

    #[test]
    fn a_listed_failure_is_expected_and_a_listed_pass_is_not() {
        for o in [Outcome::Fail, Outcome::NonStrict] {
            let r = deviated(o, false);
            assert_eq!(r.outcome, Outcome::ExpectedFailure);
            assert!(
                r.message.starts_with("known deviation: MQTT-0-0"),
                "{}",
                r.message
            );
        }
        assert_eq!(
            deviated(Outcome::Pass, false).outcome,
            Outcome::UnexpectedPass
        );
        assert_eq!(deviated(Outcome::Pass, true).outcome, Outcome::Pass);
    }

    #[test]
    fn an_intermittent_entry_leaves_a_non_strict_result_non_strict() {
        let r = deviated(Outcome::NonStrict, true);
        assert_eq!(r.outcome, Outcome::NonStrict);
        assert!(
            r.message.starts_with("why; listed as an intermittent"),
            "{}",
            r.message
        );
        assert_eq!(
            deviated(Outcome::Fail, true).outcome,
            Outcome::ExpectedFailure
        );
    }

    #[test]
    fn a_listed_scenario_that_was_untestable_stays_a_skip_and_says_the_entry_is_stale() {
        let r = deviated(Outcome::Skip, false);
        assert_eq!(r.outcome, Outcome::Skip);
        assert!(r.message.contains("review the entry"), "{}", r.message);
        assert_eq!(deviated(Outcome::Skip, true).message, "why");
    }

    #[test]
    fn an_unlisted_version_is_left_alone() {
        let mut r = result(Outcome::Fail);
        r.version = Version::V3_1_1;
        deviate(&mut r, &profile(false));
        assert_eq!(r.outcome, Outcome::Fail);
    }
}
