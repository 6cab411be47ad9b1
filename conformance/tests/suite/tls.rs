//! Encrypted transports through the binary, against the in-process reference broker:
//! `mqtts://` with `--ca`, with `--insecure`, and with neither (a handshake that cannot succeed,
//! so the run cannot be done); `wss://` through a TLS-terminating proxy in front of the
//! broker's WebSocket listener, which itself serves plain `ws://` only.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use mqtt_reference_broker::{BrokerHandle, Config, TlsConfig};
use tokio::net::{TcpListener, TcpStream};

use crate::support::{run_cli, scenario_dir};

const GOOD: &str = r#"
id: good
title: A QoS 1 PUBLISH is acknowledged with the same packet identifier.
statements: { must: [MQTT-3.3.4-1] }
versions: [3.1.1, 5.0]
steps:
  - { client: a, connect: {} }
  - { client: a, publish: { topic: "{t}/x", qos: 1, id: 7, payload: hi } }
  - { client: a, expect: { puback: { id: 7 } } }
"#;

/// A self-signed certificate for `127.0.0.1` and `localhost`, made in-process: (cert, key).
fn certificate(name: &str) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!(
        "mqtt-conformance-tls-{}-{name}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let generated =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, generated.cert.pem()).unwrap();
    std::fs::write(&key, generated.key_pair.serialize_pem()).unwrap();
    (cert, key)
}

async fn tls_broker(cert: &Path, key: &Path) -> BrokerHandle {
    mqtt_reference_broker::start(Config {
        tls: Some(TlsConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            cert: cert.to_owned(),
            key: key.to_owned(),
        }),
        websocket: Some("127.0.0.1:0".parse().unwrap()),
        ..Config::default()
    })
    .await
    .unwrap()
}

async fn run(broker: &str, extra: &[&str]) -> std::process::Output {
    let dir = scenario_dir(&[("demo/good.yaml", GOOD)]);
    let mut args = vec![
        "run",
        dir.to_str().unwrap(),
        "--broker",
        broker,
        "--profile",
        "reference",
        "--color",
        "never",
    ];
    args.extend_from_slice(extra);
    run_cli(&args).await.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtts_passes_with_ca_or_insecure_and_cannot_run_with_neither() {
    let (cert, key) = certificate("mqtts");
    let broker = tls_broker(&cert, &key).await;
    let url = format!("mqtts://{}", broker.tls_addr().unwrap());

    let out = run(&url, &["--ca", cert.to_str().unwrap()]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("2 passed"), "{stdout}");

    let out = run(&url, &["--insecure"]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("2 passed"), "{stdout}");

    // The system's roots do not include a certificate made a moment ago.
    let out = run(&url, &[]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("TLS handshake"), "{stderr}");
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wss_passes_through_a_tls_terminating_proxy() {
    let (cert, key) = certificate("wss");
    let broker = tls_broker(&cert, &key).await;
    let proxy = tls_proxy(&cert, &key, broker.ws_addr().unwrap()).await;

    let out = run(
        &format!("wss://{proxy}/mqtt"),
        &["--ca", cert.to_str().unwrap()],
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("2 passed"), "{stdout}");
    broker.shutdown().await;
}

/// Accepts TLS on a loopback port and forwards the plaintext to `upstream`.
async fn tls_proxy(cert: &Path, key: &Path, upstream: SocketAddr) -> SocketAddr {
    let certs = rustls_pemfile::certs(&mut std::fs::read(cert).unwrap().as_slice())
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = rustls_pemfile::private_key(&mut std::fs::read(key).unwrap().as_slice())
        .unwrap()
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(sock).await else {
                    return;
                };
                let Ok(mut plain) = TcpStream::connect(upstream).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    addr
}
