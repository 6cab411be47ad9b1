//! A broker process the harness starts, watches and stops: `start:` in a broker list, or
//! `run --broker-cmd`. It runs in its own process group, so stopping it stops its helpers too.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

use crate::error::Error;

/// How long a broker has to exit after SIGTERM before it gets SIGKILL.
const GRACE: Duration = Duration::from_secs(10);

/// A started broker.
#[derive(Debug)]
pub struct Process {
    child: Child,
    /// The process group (the shell's pid).
    pgid: u32,
    /// The command's output.
    pub log: PathBuf,
    started: Instant,
}

/// What a broker needs to be started again after a death.
#[derive(Debug, Clone)]
pub struct Launch {
    /// The shell command.
    pub command: String,
    /// Its working folder.
    pub cwd: PathBuf,
    /// Output goes here (appended, so restarts keep the earlier output).
    pub log: PathBuf,
    /// host:port to wait for.
    pub host: String,
    /// The port.
    pub port: u16,
    /// Bound on the wait for the port.
    pub timeout: Duration,
}

impl Launch {
    /// Starts the command and waits until its port accepts connections.
    pub async fn start(&self) -> Result<Process, Error> {
        let fail = |e: String| Error::BrokerStart(format!("`{}`: {e}", self.command));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(Error::write(&self.log))?;
        let err = log.try_clone().map_err(Error::write(&self.log))?;
        let child = Command::new("sh")
            .arg("-c")
            .arg(&self.command)
            .current_dir(&self.cwd)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| fail(e.to_string()))?;
        let pgid = child.id().ok_or_else(|| fail("exited at once".into()))?;
        let mut p = Process {
            child,
            pgid,
            log: self.log.clone(),
            started: Instant::now(),
        };
        let deadline = Instant::now() + self.timeout;
        loop {
            if tokio::net::TcpStream::connect((self.host.as_str(), self.port))
                .await
                .is_ok()
            {
                return Ok(p);
            }
            if let Ok(Some(status)) = p.child.try_wait() {
                return Err(fail(format!(
                    "exited ({status}) before {}:{} accepted connections; last output:\n{}",
                    self.host,
                    self.port,
                    tail(&self.log)
                )));
            }
            if Instant::now() >= deadline {
                p.stop(None, &self.cwd).await;
                return Err(fail(format!(
                    "{}:{} did not accept connections within {}",
                    self.host,
                    self.port,
                    humantime::format_duration(self.timeout)
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Process {
    /// Its process group (every process the command started is in it).
    pub fn group(&self) -> u32 {
        self.pgid
    }

    /// Whether the process has exited, and how.
    pub fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(format!(
                "the broker process exited ({status}) {:.1} s after it started",
                self.started.elapsed().as_secs_f64()
            )),
            _ => None,
        }
    }

    /// Waits at most `bound` for the process to exit; how it exited, if it did.
    pub async fn exit_within(&mut self, bound: Duration) -> Option<String> {
        tokio::time::timeout(bound, self.child.wait())
            .await
            .ok()?
            .ok()?;
        self.exited()
    }

    /// Runs `stop` if given, then signals the process group: SIGTERM, SIGKILL after a grace
    /// period. Always returns.
    pub async fn stop(&mut self, stop: Option<&str>, cwd: &Path) {
        if let Some(cmd) = stop {
            let run = Command::new("sh")
                .arg("-c")
                .arg(cmd)
                .current_dir(cwd)
                .stdin(Stdio::null())
                .kill_on_drop(true)
                .status();
            let _ = tokio::time::timeout(GRACE, run).await;
        }
        signal(self.pgid, "TERM").await;
        if tokio::time::timeout(GRACE, self.child.wait())
            .await
            .is_err()
        {
            signal(self.pgid, "KILL").await;
            let _ = tokio::time::timeout(GRACE, self.child.wait()).await;
        }
        // Helpers left in the group (an epmd, a JVM's children) go too.
        signal(self.pgid, "KILL").await;
    }
}

impl Drop for Process {
    /// A broker still running when its handle goes (the run was interrupted, or failed before
    /// `stop`) is killed with its whole group, so no broker outlives the harness that started
    /// it. Only while the group's leader runs: once it is reaped, the id may name another group.
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = std::process::Command::new("kill")
                .arg("-KILL")
                .arg("--")
                .arg(format!("-{}", self.pgid))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

async fn signal(pgid: u32, sig: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg("--")
        .arg(format!("-{pgid}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await;
}

/// The last lines of a log, for error messages.
pub fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}
