//! `mqtt-reference-broker`: parses arguments, loads the config and runs the server until
//! Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use mqtt_reference_broker::engine::auth::Users;
use mqtt_reference_broker::{Config, TlsConfig};

/// A spec-strict MQTT 3.1, 3.1.1 and 5.0 reference broker.
#[derive(Debug, Parser)]
#[command(name = "mqtt-reference-broker", version)]
struct Args {
    /// Plain TCP listen address.
    #[arg(long, default_value = "127.0.0.1:1883")]
    listen: SocketAddr,
    /// Config file of `key = value` lines (see the crate docs of `config`).
    #[arg(long)]
    config: Option<PathBuf>,
    /// TLS listen address (needs --tls-cert and --tls-key).
    #[arg(long, requires_all = ["tls_cert", "tls_key"])]
    tls_listen: Option<SocketAddr>,
    /// PEM certificate chain for TLS.
    #[arg(long)]
    tls_cert: Option<PathBuf>,
    /// PEM private key for TLS.
    #[arg(long)]
    tls_key: Option<PathBuf>,
    /// PEM CA certificates for client certificates (mTLS): TLS clients must present one, and
    /// its subject Common Name is their user name.
    #[arg(long)]
    tls_client_ca: Option<PathBuf>,
    /// WebSocket listen address (subprotocol `mqtt`).
    #[arg(long)]
    ws_listen: Option<SocketAddr>,
    /// Password file (`USER:pbkdf2-sha256:...` entries and `topic USER ACCESS FILTER`
    /// rules; see `passwd`).
    #[arg(long)]
    password_file: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Reads a password from the first line of standard input and prints the password file
    /// entry for USER (PBKDF2-HMAC-SHA256, random salt, 600,000 rounds).
    Passwd {
        /// The user name.
        user: String,
    },
}

/// `passwd USER`: one password file line on standard output.
fn passwd(user: &str) -> ExitCode {
    if user.is_empty() || user.contains(char::is_whitespace) {
        eprintln!("mqtt-reference-broker: a user name must be non-empty, without spaces");
        return ExitCode::from(2);
    }
    let mut line = String::new();
    if let Err(e) = std::io::stdin().read_line(&mut line) {
        eprintln!("mqtt-reference-broker: cannot read the password: {e}");
        return ExitCode::from(2);
    }
    let password = line.trim_end_matches(['\r', '\n']);
    if password.is_empty() {
        eprintln!("mqtt-reference-broker: empty password");
        return ExitCode::from(2);
    }
    match Users::entry(user, password.as_bytes()) {
        Some(entry) => {
            println!("{entry}");
            ExitCode::SUCCESS
        }
        None => {
            eprintln!("mqtt-reference-broker: no randomness available for the salt");
            ExitCode::from(2)
        }
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    if let Some(Command::Passwd { user }) = &args.command {
        return passwd(user);
    }
    let mut config = match &args.config {
        Some(path) => match Config::from_file(path) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("mqtt-reference-broker: {e}");
                return ExitCode::from(2);
            }
        },
        None => Config::default(),
    };
    if args.config.is_none() || args.listen != SocketAddr::from(([127, 0, 0, 1], 1883)) {
        config.listen = args.listen;
    }
    if let (Some(listen), Some(cert), Some(key)) = (args.tls_listen, args.tls_cert, args.tls_key) {
        config.tls = Some(TlsConfig { listen, cert, key });
    }
    if let Some(ca) = args.tls_client_ca {
        config.tls_client_ca = Some(ca);
    }
    if let Some(ws) = args.ws_listen {
        config.websocket = Some(ws);
    }
    if let Some(path) = &args.password_file {
        match Users::load(path) {
            Ok(users) => config.limits.users = Some(users),
            Err(e) => {
                eprintln!("mqtt-reference-broker: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("mqtt-reference-broker: {e}");
            return ExitCode::from(2);
        }
    };
    runtime.block_on(async {
        let broker = match mqtt_reference_broker::start(config).await {
            Ok(b) => b,
            Err(e) => {
                eprintln!("mqtt-reference-broker: {e}");
                return ExitCode::from(2);
            }
        };
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down");
        broker.shutdown().await;
        ExitCode::SUCCESS
    })
}
