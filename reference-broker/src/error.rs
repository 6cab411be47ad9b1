//! The broker's [`Error`]: things that stop the server from starting or running. Misbehaving
//! clients are not errors; they are answered and disconnected by the engine.

use std::path::PathBuf;

/// Why the broker could not start or keep running.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A listener could not bind.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// A config, password, certificate or key file could not be read.
    #[error("cannot read {path}: {source}")]
    ConfigIo {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A config or password file line is wrong.
    #[error("line {line}: {message}")]
    Config {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The TLS certificate or key is unusable.
    #[error("tls: {0}")]
    Tls(String),
}
