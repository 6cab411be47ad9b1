//! The resource oracle (`--broker-pid PID`): the broker's resident memory and open file
//! descriptors, read from `/proc/PID` (Linux) after every round, once the round's sessions
//! are closed. Growth past a threshold over the first sample that does not come back within a
//! settling time is a finding: a leak per session, or connections never released.

use std::path::PathBuf;
use std::time::Duration;

/// Memory growth that counts, past the first sample: this much, or the first sample again
/// (whichever is larger), so ordinary caches and allocator slack never count.
const RSS_GROWTH_KIB: u64 = 64 * 1024;
/// Descriptor growth that counts: closed sessions must give their sockets back.
const FD_GROWTH: u64 = 64;
/// How long growth may take to come back before it is a finding, and how often to look.
const SETTLE: Duration = Duration::from_secs(3);
const SETTLE_STEP: Duration = Duration::from_millis(250);

/// One reading of the broker process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Sample {
    /// Resident set size in KiB (`VmRSS`).
    pub rss_kib: u64,
    /// Open file descriptors.
    pub fds: u64,
}

/// The sampler of one process and its first sample.
#[derive(Debug)]
pub struct Resources {
    proc: PathBuf,
    /// The first sample, after the broker answered its first health check.
    pub baseline: Sample,
    /// The largest values seen (each on its own).
    pub peak: Sample,
}

impl Resources {
    /// Starts watching `pid`; an error naming why when its `/proc` entry cannot be read.
    pub fn watch(pid: u32) -> Result<Self, String> {
        let proc = PathBuf::from(format!("/proc/{pid}"));
        let baseline = sample(&proc)?;
        Ok(Self {
            proc,
            baseline,
            peak: baseline,
        })
    }

    /// After a round: `Ok(None)` when within the thresholds (now or within the settling
    /// time), `Ok(Some(why))` for growth that stays, `Err` when the process is gone.
    pub async fn check(&mut self) -> Result<Option<String>, String> {
        let mut waited = Duration::ZERO;
        loop {
            let now = sample(&self.proc)?;
            self.peak.rss_kib = self.peak.rss_kib.max(now.rss_kib);
            self.peak.fds = self.peak.fds.max(now.fds);
            let Some(why) = self.excess(now) else {
                return Ok(None);
            };
            if waited >= SETTLE {
                return Ok(Some(why));
            }
            tokio::time::sleep(SETTLE_STEP).await;
            waited += SETTLE_STEP;
        }
    }

    /// What in `now` is past the thresholds over the baseline.
    pub fn excess(&self, now: Sample) -> Option<String> {
        let b = self.baseline;
        let rss_limit = b.rss_kib + RSS_GROWTH_KIB.max(b.rss_kib);
        let fd_limit = b.fds + FD_GROWTH;
        let mut why = Vec::new();
        if now.rss_kib > rss_limit {
            why.push(format!(
                "resident memory {} KiB, up from {} KiB (limit {rss_limit} KiB)",
                now.rss_kib, b.rss_kib
            ));
        }
        if now.fds > fd_limit {
            why.push(format!(
                "{} open file descriptors, up from {} (limit {fd_limit})",
                now.fds, b.fds
            ));
        }
        (!why.is_empty()).then(|| {
            format!(
                "{} and still so {} s after the sessions closed",
                why.join(", "),
                SETTLE.as_secs()
            )
        })
    }
}

/// Reads `VmRSS` from `status` and counts the entries of `fd`.
fn sample(proc: &std::path::Path) -> Result<Sample, String> {
    let gone = |e: std::io::Error| format!("cannot read {}: {e}", proc.display());
    let status = std::fs::read_to_string(proc.join("status")).map_err(gone)?;
    let rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| format!("no VmRSS in {}/status", proc.display()))?;
    let fds = std::fs::read_dir(proc.join("fd")).map_err(gone)?.count() as u64;
    Ok(Sample { rss_kib, fds })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process_and_judges_growth_against_the_baseline() {
        let r = Resources::watch(std::process::id()).unwrap();
        assert!(
            r.baseline.rss_kib > 0 && r.baseline.fds > 0,
            "{:?}",
            r.baseline
        );
        assert_eq!(r.excess(r.baseline), None);
        let b = r.baseline;
        let fds = Sample {
            fds: b.fds + FD_GROWTH + 1,
            ..b
        };
        assert!(r.excess(fds).unwrap().contains("open file descriptors"));
        let rss = Sample {
            rss_kib: b.rss_kib * 2 + RSS_GROWTH_KIB + 1,
            ..b
        };
        assert!(r.excess(rss).unwrap().contains("resident memory"));
        assert!(Resources::watch(u32::MAX).is_err());
    }
}
