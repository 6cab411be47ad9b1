//! Findings: what the fuzzer reports, and the files it writes for each: a scenario that
//! replays the session ([`super::reproducer`]), the raw transcript, `report.json` and a table.

use std::fmt::Write as _;
use std::path::Path;

use super::generate::Plan;
use super::oracle::{self, Oracle, Violation};
use super::reproducer;
use super::resources::Sample;
use super::session::Outcome;
use crate::client::{Transcript, hex};
use crate::error::Error;

/// One distinct finding.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Finding {
    /// File name stem and scenario id.
    pub name: String,
    /// The oracle that fired.
    pub oracle: Oracle,
    /// The packet type it is keyed by (see [`Violation::packet`]).
    pub packet: String,
    /// The MQTT version of the session.
    pub version: String,
    /// What happened.
    pub detail: String,
    /// The session number (with the run's seed it regenerates the session).
    pub session: u64,
    /// Frames in the session as found, and after minimisation.
    pub frames_found: usize,
    /// Frames kept by minimisation.
    pub frames: Vec<String>,
    /// Whether replaying the minimised session alone reproduced the finding.
    pub reproduced: bool,
    /// The reproducer scenario file, relative to the output folder (none for resource
    /// findings, nor for protocol findings whose rule has no statement id).
    pub scenario: Option<String>,
    /// The transcript file, relative to the output folder.
    pub transcript: String,
    /// How many sessions hit the same oracle and packet type.
    pub hits: u64,
}

impl Finding {
    /// The deduplication key: oracle and first bad packet type.
    pub fn key(&self) -> (Oracle, String) {
        (self.oracle, self.packet.clone())
    }

    /// A finding for `plan` (already minimised) and its violation.
    pub fn new(v: &Violation, found: usize, plan: &Plan, reproduced: bool) -> Self {
        let digest = plan
            .frames
            .iter()
            .flat_map(|f| f.bytes.iter())
            .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
            });
        let name = format!(
            "fuzz-{}-{}-{:08x}",
            v.oracle,
            v.packet.to_lowercase(),
            digest & 0xffff_ffff
        );
        Self {
            name: name.clone(),
            oracle: v.oracle,
            packet: v.packet.clone(),
            version: plan.version.key().to_owned(),
            detail: v.detail.clone(),
            session: plan.index,
            frames_found: found,
            frames: plan.frames.iter().map(|f| hex(&f.bytes)).collect(),
            reproduced,
            scenario: None,
            transcript: format!("findings/{name}.transcript.txt"),
            hits: 1,
        }
    }

    /// Writes the transcript (of `outcome`, the session as replayed, when there is one) and
    /// the reproducer scenario ([`reproducer`]): for a liveness finding always, for a protocol
    /// finding when the oracle cites a statement; a resource finding's file says why it has none.
    pub fn write(
        &mut self,
        out: &Path,
        plan: &Plan,
        outcome: Option<&Outcome>,
    ) -> Result<(), Error> {
        let dir = out.join("findings");
        std::fs::create_dir_all(&dir).map_err(Error::write(&dir))?;
        let t = dir.join(format!("{}.transcript.txt", self.name));
        let transcript = match (self.oracle, outcome) {
            (Oracle::Resources, _) => self.resource_note(),
            (_, Some(o)) => Transcript::render(&o.transcript),
            (_, None) => String::new(),
        };
        std::fs::write(&t, transcript).map_err(Error::write(&t))?;
        let yaml = match (self.oracle, outcome) {
            (Oracle::Liveness, _) => Some(reproducer::liveness(self, plan)),
            (Oracle::Protocol, Some(o)) => oracle::check_at(plan, o)
                .and_then(|(bad, _)| reproducer::protocol(self, plan, &o.events, bad)),
            _ => None,
        };
        if let Some(yaml) = yaml {
            let s = dir.join(format!("{}.yaml", self.name));
            std::fs::write(&s, yaml).map_err(Error::write(&s))?;
            self.scenario = Some(format!("findings/{}.yaml", self.name));
        }
        Ok(())
    }

    /// What a resource finding's file holds instead of a transcript.
    fn resource_note(&self) -> String {
        format!(
            "Resource finding: {}\n\nNo reproducer scenario: a scenario cannot express it (the runner \
             does not read the broker's memory or descriptors, and the growth builds up over many \
             sessions, not one). To see it again, rerun `mqtt-conformance fuzz` with the same \
             --seed and --broker-pid (or --broker-cmd); it began with session {}.\n",
            self.detail, self.session
        )
    }
}

/// `report.json`.
#[derive(Debug, serde::Serialize)]
pub struct Report {
    /// The run's seed.
    pub seed: u64,
    /// Seconds spent fuzzing.
    pub seconds: f64,
    /// Sessions run.
    pub sessions: u64,
    /// Of those, sessions replayed from the `--corpus` recordings.
    pub recorded_sessions: u64,
    /// Frames written.
    pub packets: u64,
    /// Broker restarts.
    pub restarts: u32,
    /// Frames written per packet type and version.
    pub coverage: std::collections::BTreeMap<String, u64>,
    /// The distinct findings.
    pub findings: Vec<Finding>,
    /// Why the run ended early, if it did.
    pub stopped: Option<String>,
    /// With `--broker-pid` or `--broker-cmd`: the broker's first and peak readings (first of
    /// the process now running, peaks over every restart).
    pub resources: Option<(Sample, Sample)>,
    /// Why the resource oracle stopped, if it did (the process went away).
    pub resources_note: Option<String>,
}

impl Report {
    /// An empty report for a run with `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            seconds: 0.0,
            sessions: 0,
            recorded_sessions: 0,
            packets: 0,
            restarts: 0,
            coverage: std::collections::BTreeMap::new(),
            findings: Vec::new(),
            stopped: None,
            resources: None,
            resources_note: None,
        }
    }

    /// Writes `DIR/report.json`.
    pub fn write(&self, out: &Path) -> Result<(), Error> {
        let p = out.join("report.json");
        let text = serde_json::to_string_pretty(self).unwrap_or_default();
        std::fs::write(&p, text).map_err(Error::write(&p))
    }

    /// The terminal summary.
    pub fn table(&self) -> String {
        let mut t = String::new();
        let _ = writeln!(
            t,
            "{} sessions, {} packets in {:.1} s ({:.1} sessions/s, {:.1} packets/s), {} restarts, seed {}",
            self.sessions,
            self.packets,
            self.seconds,
            self.sessions as f64 / self.seconds.max(0.001),
            self.packets as f64 / self.seconds.max(0.001),
            self.restarts,
            self.seed
        );
        if let Some(why) = &self.stopped {
            let _ = writeln!(t, "stopped early: {why}");
        }
        if let Some((first, peak)) = &self.resources {
            let _ = writeln!(
                t,
                "broker resources: {} KiB resident and {} descriptors at first, peaks {} KiB and {}",
                first.rss_kib, first.fds, peak.rss_kib, peak.fds
            );
        }
        if let Some(note) = &self.resources_note {
            let _ = writeln!(t, "resource oracle {note}");
        }
        if self.findings.is_empty() {
            let _ = writeln!(t, "no findings");
            return t;
        }
        let _ = writeln!(
            t,
            "{:<9} {:<12} {:<6} {:>5} {:>7}  reproducer",
            "oracle", "packet", "mqtt", "hits", "frames"
        );
        for f in &self.findings {
            let file = f.scenario.as_deref().unwrap_or(&f.transcript);
            let _ = writeln!(
                t,
                "{:<9} {:<12} {:<6} {:>5} {:>7}  {file}",
                f.oracle.to_string(),
                f.packet,
                f.version,
                f.hits,
                f.frames.len()
            );
            let _ = writeln!(
                t,
                "          {}{}",
                f.detail,
                if f.reproduced {
                    ""
                } else {
                    " (did not reproduce alone)"
                }
            );
        }
        t
    }
}
