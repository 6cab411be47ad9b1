//! The broker under test as the fuzzer sees it: where it is, whether it is alive (CONNACK and
//! PINGRESP for a fresh client), and, with `--broker-cmd`, its process, restarted after a
//! death or a wedge.

use std::time::Duration;

use crate::certify::process::{Launch, Process};
use crate::error::Error;
use crate::exec::Settings;
use crate::scenario::Version;

/// The broker under test.
pub struct Broker {
    /// How to reach it.
    pub settings: Settings,
    launch: Option<Launch>,
    process: Option<Process>,
    /// How many times it was restarted.
    pub restarts: u32,
}

impl Broker {
    /// Starts the broker if a command is given; else the broker is expected to be running.
    pub async fn start(settings: Settings, launch: Option<Launch>) -> Result<Self, Error> {
        let process = match &launch {
            Some(l) => Some(l.start().await?),
            None => None,
        };
        Ok(Self {
            settings,
            launch,
            process,
            restarts: 0,
        })
    }

    /// Whether it can be restarted.
    pub fn restartable(&self) -> bool {
        self.launch.is_some()
    }

    /// The liveness oracle: a fresh client gets a CONNACK and a PINGRESP under `v`. The reason
    /// when not (with how the process exited, if it did).
    pub async fn alive(&mut self, v: Version) -> Result<(), String> {
        let checked = crate::runner::responsive(&self.settings, v).await;
        match (checked, self.process.as_mut().and_then(Process::exited)) {
            (Ok(()), _) => Ok(()),
            (Err(e), None) => Err(e),
            (Err(e), Some(exit)) => Err(format!("{e}; {exit}")),
        }
    }

    /// Stops and starts the broker again (it died or wedged).
    pub async fn restart(&mut self) -> Result<(), Error> {
        let Some(launch) = &self.launch else {
            return Err(Error::BrokerStart(
                "no --broker-cmd to restart it with".into(),
            ));
        };
        if let Some(mut p) = self.process.take() {
            p.stop(None, &launch.cwd).await;
        }
        self.process = Some(launch.start().await?);
        self.restarts += 1;
        Ok(())
    }

    /// Stops a broker the fuzzer started.
    pub async fn stop(&mut self) {
        if let (Some(mut p), Some(l)) = (self.process.take(), &self.launch) {
            p.stop(None, &l.cwd).await;
        }
    }

    /// The process group of the broker the fuzzer started (it changes with each restart).
    pub fn group(&self) -> Option<u32> {
        self.process.as_ref().map(Process::group)
    }

    /// The time a connection may take to open.
    pub fn connect_timeout(&self) -> Duration {
        self.settings.step_timeout
    }
}
