//! The plan of one scenario run under one version: the steps that apply, each with its
//! timeout and its client's credentials resolved before the run starts.

use std::time::Duration;

use crate::scenario::{Scenario, Step, Version};

use super::Settings;

/// One step as it will run.
pub(super) struct Planned<'a> {
    /// Its index in the scenario (0-based; failures count from 1).
    pub(super) index: usize,
    pub(super) step: &'a Step,
    /// Its own timeout under `--timeout-scale`, or the run's step timeout.
    pub(super) timeout: Duration,
    /// Credentials for a CONNECT of its client, unless the scenario says it sends none.
    pub(super) credentials: Option<&'a (String, Option<String>)>,
}

/// The steps of `scenario` that run under `version`.
pub(super) fn plan<'a>(
    scenario: &'a Scenario,
    version: Version,
    settings: &'a Settings,
) -> Vec<Planned<'a>> {
    let applies = |s: &Step| s.versions.as_ref().is_none_or(|v| v.contains(&version));
    scenario
        .steps
        .iter()
        .enumerate()
        .filter(|(_, s)| applies(s))
        .map(|(index, step)| {
            let sends = scenario
                .clients
                .get(&step.client)
                .and_then(|c| c.credentials)
                .unwrap_or(true);
            Planned {
                index,
                step,
                timeout: step
                    .timeout
                    .map_or(settings.step_timeout, |d| d.0.mul_f64(settings.scale)),
                credentials: settings.credentials.as_ref().filter(|_| sends),
            }
        })
        .collect()
}
