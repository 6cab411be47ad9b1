//! The crate's error type: failures of the harness itself, never of the broker under test.

/// Why a command could not do its job.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad arguments or unreadable files.
    #[error("{0}")]
    Usage(String),
    /// Scenario files that do not parse or validate, one message per problem.
    #[error("bad scenario files:\n  {}", .0.join("\n  "))]
    BadScenarios(Vec<String>),
    /// The broker could not be reached or did not answer the health check.
    #[error("broker unreachable: {0}")]
    Unreachable(String),
    /// The in-process reference broker could not start.
    #[error("cannot start the in-process reference broker: {0}")]
    Broker(String),
    /// A broker process the harness was asked to start did not start or did not listen.
    #[error("cannot start the broker: {0}")]
    BrokerStart(String),
    /// SIGINT or SIGTERM arrived: the command stopped, and so did any broker it started.
    #[error("interrupted by {0}; any broker this run started was stopped")]
    Interrupted(&'static str),
    /// Writing a report failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

impl Error {
    /// The error for a failed write to `path`, as `map_err(Error::write(path))`.
    pub fn write(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Self + '_ {
        move |source| Self::Write {
            path: path.display().to_string(),
            source,
        }
    }
}

/// Why the harness could not check a scenario: never a verdict on the broker, which the
/// scenario's own steps give.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HarnessError {
    /// No connection to the broker (TCP, TLS or WebSocket failed).
    #[error("{0}")]
    Connect(String),
    /// The connection did not open in time.
    #[error("connecting to {0} timed out")]
    ConnectTimeout(String),
    /// A packet of the scenario cannot be built (the file passed lint, so this is a bad
    /// combination of values, such as a protocol name over 65,535 bytes).
    #[error("cannot build the packet: {0}")]
    Build(String),
    /// A step names a packet id no earlier step captured.
    #[error("packet id ${0} was never captured")]
    NotCaptured(String),
    /// Sending failed before any byte left.
    #[error("cannot send: {0}")]
    Send(String),
    /// The broker never answered the PINGREQ a step ends with, so the step could not check
    /// that nothing else arrived.
    #[error(
        "could not check: no PINGRESP to the barrier PINGREQ within {} ({before} other events \
         first); this step relies on it (see pingreq-answered)",
        humantime::format_duration(*waited)
    )]
    NoBarrier {
        /// How long the step waited.
        waited: std::time::Duration,
        /// Events that arrived meanwhile.
        before: usize,
    },
    /// The scenario ran past its overall limit.
    #[error("the scenario hung: it did not finish within {}", humantime::format_duration(*.0))]
    Hung(std::time::Duration),
    /// The broker died, during this scenario or before it ran; when, and the likely culprits.
    #[error("{0}")]
    BrokerDied(crate::runner::Down),
    /// The error of step `step` (1-based).
    #[error("step {step}: {source}")]
    Step {
        /// The step number, from 1.
        step: usize,
        /// What went wrong.
        source: Box<HarnessError>,
    },
}
