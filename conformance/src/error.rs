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
