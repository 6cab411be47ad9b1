//! TLS client certificates (mTLS): the subject's Common Name is the user for the ACL.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use mqtt_codec::{Connect, Decoded, Decoder, Packet, ProtocolVersion, QoS, ReasonCode, Subscribe};
use mqtt_reference_broker::engine::auth::{Access, Users};
use mqtt_reference_broker::{Config, Limits, TlsConfig, start};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(10);
const V5: ProtocolVersion = ProtocolVersion::V5_0;

struct Pki {
    dir: PathBuf,
    server: rcgen::Certificate,
    ca: rcgen::Certificate,
    ca_key: rcgen::KeyPair,
}

impl Pki {
    fn new() -> Self {
        // One directory per test: tests run in parallel and each removes its own.
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("broker-mtls-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca.distinguished_name.push(rcgen::DnType::CommonName, "ca");
        let ca = ca.self_signed(&ca_key).unwrap();
        let server_key = rcgen::KeyPair::generate().unwrap();
        let server = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .signed_by(&server_key, &ca, &ca_key)
            .unwrap();
        std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
        std::fs::write(dir.join("server.pem"), server.pem()).unwrap();
        std::fs::write(dir.join("server.key"), server_key.serialize_pem()).unwrap();
        Self {
            dir,
            server,
            ca,
            ca_key,
        }
    }

    /// A client certificate for `name`, signed by the CA.
    fn client(&self, name: &str) -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let cert = params.signed_by(&key, &self.ca, &self.ca_key).unwrap();
        let key = PrivatePkcs8KeyDer::from(key.serialize_der());
        (cert.der().clone(), key.into())
    }
}

async fn tls_client(
    addr: std::net::SocketAddr,
    pki: &Pki,
    cert: Option<(CertificateDer<'static>, PrivateKeyDer<'static>)>,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki.ca.der().clone()).unwrap();
    let _ = &pki.server;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match cert {
        Some((cert, key)) => builder.with_client_auth_cert(vec![cert], key).unwrap(),
        None => builder.with_no_client_auth(),
    };
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from("localhost").unwrap();
    timeout(WAIT, connector.connect(name, tcp)).await?
}

/// Sends `packets` and returns the replies, up to `replies` of them or the close.
async fn exchange<S>(stream: &mut S, packets: Vec<Packet>, replies: usize) -> Vec<Packet>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    for p in packets {
        if stream.write_all(&p.to_bytes(V5).unwrap()).await.is_err() {
            return Vec::new();
        }
    }
    let (mut buf, mut decoder, mut out) = (BytesMut::new(), Decoder::new(V5), Vec::new());
    while out.len() < replies {
        if let Ok(Decoded::Packet(p)) = decoder.decode(&mut buf) {
            out.push(p);
            continue;
        }
        match timeout(WAIT, stream.read_buf(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => {}
            _ => break,
        }
    }
    out
}

#[tokio::test]
async fn a_client_certificate_names_the_user_the_acl_applies_to() {
    let pki = Pki::new();
    let mut users = Users::default();
    users.add_with_iterations("alice", b"unused", 1000);
    users.allow("alice", "alice/#", Access::Read);
    let broker = start(Config {
        tls: Some(TlsConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            cert: pki.dir.join("server.pem"),
            key: pki.dir.join("server.key"),
        }),
        tls_client_ca: Some(pki.dir.join("ca.pem")),
        limits: Limits {
            users: Some(users),
            ..Limits::default()
        },
        ..Config::default()
    })
    .await
    .unwrap();
    let addr = broker.tls_addr().unwrap();

    // alice's certificate, no user name, no password: connected as alice.
    let mut alice = tls_client(addr, &pki, Some(pki.client("alice")))
        .await
        .unwrap();
    let replies = exchange(
        &mut alice,
        vec![
            Connect::new(V5, "alice-cert").into(),
            Subscribe::single(1, "alice/x", QoS::AtMostOnce).into(),
            Subscribe::single(2, "bob/x", QoS::AtMostOnce).into(),
        ],
        3,
    )
    .await;
    let codes: Vec<ReasonCode> = replies
        .iter()
        .map(|p| match p {
            Packet::ConnAck(a) => a.code,
            Packet::SubAck(a) => a.codes[0],
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        codes,
        [
            ReasonCode::SUCCESS,
            ReasonCode::SUCCESS,
            ReasonCode::NOT_AUTHORIZED
        ]
    );

    // alice's certificate claiming to be bob: refused.
    let mut liar = tls_client(addr, &pki, Some(pki.client("alice")))
        .await
        .unwrap();
    let mut connect = Connect::new(V5, "liar");
    connect.username = Some("bob".into());
    let replies = exchange(&mut liar, vec![connect.into()], 1).await;
    assert!(
        matches!(&replies[..], [Packet::ConnAck(a)] if a.code == ReasonCode::BAD_USER_NAME_OR_PASSWORD)
    );

    // No certificate: the handshake (or the first read) fails, nothing is served.
    if let Ok(mut anonymous) = tls_client(addr, &pki, None).await {
        let replies = exchange(&mut anonymous, vec![Connect::new(V5, "anon").into()], 1).await;
        assert!(
            replies.is_empty(),
            "served without a certificate: {replies:?}"
        );
    }
    broker.shutdown().await;
    let _ = std::fs::remove_dir_all(&pki.dir);
}

/// The CONNACK a client with `name`'s certificate gets for a persistent session `shared`.
async fn connack_for(
    addr: std::net::SocketAddr,
    pki: &Pki,
    name: &str,
) -> Option<mqtt_codec::ConnAck> {
    let mut stream = tls_client(addr, pki, Some(pki.client(name))).await.unwrap();
    let mut connect = Connect::new(V5, "shared");
    connect.clean_start = false;
    connect
        .properties
        .push(mqtt_codec::Property::SessionExpiryInterval(600));
    let replies = exchange(&mut stream, vec![connect.into()], 1).await;
    match replies.into_iter().next() {
        Some(Packet::ConnAck(ack)) => Some(ack),
        _ => None,
    }
}

#[tokio::test]
async fn a_certificate_user_owns_its_session_without_a_password_file() {
    let pki = Pki::new();
    let broker = start(Config {
        tls: Some(TlsConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            cert: pki.dir.join("server.pem"),
            key: pki.dir.join("server.key"),
        }),
        tls_client_ca: Some(pki.dir.join("ca.pem")),
        ..Config::default()
    })
    .await
    .unwrap();
    let addr = broker.tls_addr().unwrap();
    let first = connack_for(addr, &pki, "alice").await.unwrap();
    assert_eq!(first.code, ReasonCode::SUCCESS);
    // alice's connection is closed when the exchange's stream is dropped; bob is refused
    // her session whether she is online or not.
    let theft = connack_for(addr, &pki, "bob").await.unwrap();
    assert_eq!(theft.code, ReasonCode::NOT_AUTHORIZED);
    let again = connack_for(addr, &pki, "alice").await.unwrap();
    assert_eq!(again.code, ReasonCode::SUCCESS);
    assert!(again.session_present, "alice lost her session");
    broker.shutdown().await;
    let _ = std::fs::remove_dir_all(&pki.dir);
}
