//! `mqtt-reference-broker`: parses arguments, loads the config and runs the server until
//! Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
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
    /// WebSocket listen address (subprotocol `mqtt`).
    #[arg(long)]
    ws_listen: Option<SocketAddr>,
    /// Password file (`user:salt:sha256hex` lines and `topic USER ACCESS FILTER` rules).
    #[arg(long)]
    password_file: Option<PathBuf>,
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
    if let Some(ws) = args.ws_listen {
        config.websocket = Some(ws);
    }
    if let Some(path) = &args.password_file {
        match mqtt_reference_broker::engine::auth::Users::load(path) {
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
