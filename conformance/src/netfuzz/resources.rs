//! The resource oracle: the broker's resident memory and open file descriptors, read from
//! `/proc` (Linux) after every round, once the round's sessions are closed. It watches the
//! process `--broker-pid` names, or else the process group `--broker-cmd` started (the shell
//! and the broker it runs, whatever their pids), following each restart. Growth past a threshold over the first sample that does not come back within a
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

/// What is watched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Watched {
    /// One process (`--broker-pid`, an external broker).
    Pid(u32),
    /// Every process of a group (the broker `--broker-cmd` started), summed.
    Group(u32),
}

/// The sampler of one process or group and its first sample.
#[derive(Debug)]
pub struct Resources {
    watched: Watched,
    /// The first sample, after the broker answered its first health check.
    pub baseline: Sample,
    /// The largest values seen (each on its own).
    pub peak: Sample,
}

impl Resources {
    /// Starts watching; an error naming why when its `/proc` entries cannot be read.
    pub fn watch(watched: Watched) -> Result<Self, String> {
        let baseline = sample(watched)?;
        Ok(Self {
            watched,
            baseline,
            peak: baseline,
        })
    }

    /// What is watched.
    pub fn watched(&self) -> Watched {
        self.watched
    }

    /// Watches `watched` instead (the broker was restarted): growth is measured from its own
    /// first sample; the peaks are kept.
    pub fn follow(&mut self, watched: Watched) -> Result<(), String> {
        self.watched = watched;
        self.rebase()
    }

    /// Takes a new baseline (after a finding, so only further growth is reported again).
    pub fn rebase(&mut self) -> Result<(), String> {
        self.baseline = sample(self.watched)?;
        self.peak.rss_kib = self.peak.rss_kib.max(self.baseline.rss_kib);
        self.peak.fds = self.peak.fds.max(self.baseline.fds);
        Ok(())
    }

    /// After a round: `Ok(None)` when within the thresholds (now or within the settling
    /// time), `Ok(Some(why))` for growth that stays, `Err` when the process is gone.
    pub async fn check(&mut self) -> Result<Option<String>, String> {
        let mut waited = Duration::ZERO;
        loop {
            let now = sample(self.watched)?;
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

/// The sum over what is watched.
fn sample(watched: Watched) -> Result<Sample, String> {
    match watched {
        Watched::Pid(pid) => sample_proc(&PathBuf::from(format!("/proc/{pid}"))),
        Watched::Group(group) => {
            let members = members(group)?;
            // A member that exits between the listing and the reading is left out.
            let samples: Vec<Sample> = members.iter().filter_map(|p| sample_proc(p).ok()).collect();
            if samples.is_empty() {
                return Err(format!("no process of group {group} is left"));
            }
            Ok(Sample {
                rss_kib: samples.iter().map(|s| s.rss_kib).sum(),
                fds: samples.iter().map(|s| s.fds).sum(),
            })
        }
    }
}

/// The `/proc` entries of the processes in `group`.
fn members(group: u32) -> Result<Vec<PathBuf>, String> {
    let all = std::fs::read_dir("/proc").map_err(|e| format!("cannot list /proc: {e}"))?;
    Ok(all
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| process_group(p) == Some(group))
        .collect())
}

/// The process group of a `/proc/PID` entry: the fifth field of `stat`, counted after the
/// command name (which is in parentheses and may hold spaces).
fn process_group(proc: &std::path::Path) -> Option<u32> {
    let stat = std::fs::read_to_string(proc.join("stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(2)?.parse().ok()
}

/// Reads `VmRSS` from `status` and counts the entries of `fd`.
fn sample_proc(proc: &std::path::Path) -> Result<Sample, String> {
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
        let r = Resources::watch(Watched::Pid(std::process::id())).unwrap();
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
        assert!(Resources::watch(Watched::Pid(u32::MAX)).is_err());
    }

    #[test]
    fn a_group_is_the_sum_of_its_processes() {
        let me = PathBuf::from(format!("/proc/{}", std::process::id()));
        let group = process_group(&me).unwrap();
        assert!(members(group).unwrap().contains(&me));
        let one = sample_proc(&me).unwrap();
        let all = Resources::watch(Watched::Group(group)).unwrap().baseline;
        assert!(all.rss_kib > 0 && all.fds > 0, "{all:?}");
        // This process is one of the group: the sum is at least its descriptors (its memory
        // moves between the two readings, its descriptor count hardly).
        assert!(all.fds + 8 >= one.fds, "{all:?} {one:?}");
        assert!(Resources::watch(Watched::Group(u32::MAX)).is_err());
    }
}
