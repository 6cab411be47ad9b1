//! Findings: what the fuzzer reports, and the files it writes for each: a scenario that
//! replays the session (liveness findings), the raw transcript, `report.json` and a table.

use std::fmt::Write as _;
use std::path::Path;

use super::generate::Plan;
use super::oracle::{Oracle, Violation};
use super::resources::Sample;
use crate::client::{Entry, Transcript, hex};
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
    /// The scenario file, relative to the output folder (liveness findings only).
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

    /// Writes the transcript and, for a liveness finding, the reproducer scenario.
    pub fn write(&mut self, out: &Path, plan: &Plan, transcript: &[Entry]) -> Result<(), Error> {
        let dir = out.join("findings");
        std::fs::create_dir_all(&dir).map_err(Error::write(&dir))?;
        let t = dir.join(format!("{}.transcript.txt", self.name));
        std::fs::write(&t, Transcript::render(transcript)).map_err(Error::write(&t))?;
        if self.oracle == Oracle::Liveness {
            let s = dir.join(format!("{}.yaml", self.name));
            std::fs::write(&s, self.scenario_yaml(plan)).map_err(Error::write(&s))?;
            self.scenario = Some(format!("findings/{}.yaml", self.name));
        }
        Ok(())
    }

    /// The reproducer: the session's frames as raw writes, then a fresh client that must get
    /// CONNACK and PINGRESP. It fails on a broker the frames kill or wedge, and passes on one
    /// that survives them, whatever it answered the frames.
    fn scenario_yaml(&self, plan: &Plan) -> String {
        let mut y = String::new();
        let _ = writeln!(y, "id: {}", self.name);
        let _ = writeln!(
            y,
            "title: The broker survives this {} session (found by mqtt-conformance fuzz) - a fresh client still gets CONNACK and PINGRESP.",
            self.packet
        );
        let _ = writeln!(y, "statements:\n  must: [MQTT-3.12.4-1]");
        let _ = writeln!(y, "versions: [{}]", self.version);
        let _ = writeln!(y, "exclusive: true");
        let detail = self.detail.replace('\n', " ");
        let _ = writeln!(
            y,
            "notes: >\n  Session {} of the fuzz run, minimised from {} to {} frames. Found: {detail}",
            self.session,
            self.frames_found,
            plan.frames.len()
        );
        let _ = writeln!(y, "steps:");
        for f in &plan.frames {
            let what = f.what.replace(['\n', '#'], " ");
            let _ = writeln!(y, "  # {what}");
            let _ = writeln!(y, "  - {{ client: fuzz, send_hex: \"{}\" }}", hex(&f.bytes));
        }
        y.push_str("  - { client: fuzz, wait: 300ms }\n");
        y.push_str("  - { client: check, connect: {} }\n");
        y.push_str("  - { client: check, pingreq: {} }\n");
        y.push_str("  - { client: check, expect: { pingresp: {} } }\n");
        y
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
    /// With `--broker-pid`: the broker's first and peak readings.
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
