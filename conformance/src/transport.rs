//! Transports to the broker under test: `mqtt://` (TCP), `mqtts://` (TLS), `ws://` and `wss://`
//! (WebSocket, subprotocol `mqtt`). Each yields one byte stream; MQTT framing is the client's.

use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::error::{Error, HarnessError};

/// A bad URL or TLS setting: the user's to fix.
fn usage(why: String) -> Error {
    Error::Usage(why)
}

/// A connection that could not be opened.
fn connect(why: String) -> HarnessError {
    HarnessError::Connect(why)
}

/// A byte stream to the broker.
pub trait Stream: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Stream for T {}

/// The scheme of a broker URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `mqtt://`: plain TCP.
    Tcp,
    /// `mqtts://`: TLS over TCP.
    Tls,
    /// `ws://`: WebSocket.
    Ws,
    /// `wss://`: WebSocket over TLS.
    Wss,
}

/// TLS options from the command line.
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    /// PEM file with the CA certificates to trust (default: the system's roots).
    pub ca: Option<std::path::PathBuf>,
    /// PEM client certificate chain.
    pub cert: Option<std::path::PathBuf>,
    /// PEM client private key.
    pub key: Option<std::path::PathBuf>,
    /// Accept any server certificate.
    pub insecure: bool,
}

/// Where the broker is and how to reach it.
#[derive(Clone)]
pub struct Target {
    /// The URL as given (credentials removed).
    pub url: String,
    /// Scheme.
    pub scheme: Scheme,
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// WebSocket path.
    pub path: String,
    /// User name from the URL.
    pub username: Option<String>,
    /// Password from the URL.
    pub password: Option<String>,
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Target {
    /// Parses a broker URL such as `mqtt://127.0.0.1:1883` or `wss://user:pw@host/mqtt`.
    pub fn parse(url: &str, tls: &TlsOptions) -> Result<Self, Error> {
        let parsed =
            url::Url::parse(url).map_err(|e| usage(format!("bad broker URL `{url}`: {e}")))?;
        let (scheme, default_port) = match parsed.scheme() {
            "mqtt" | "tcp" => (Scheme::Tcp, 1883),
            "mqtts" | "ssl" | "tls" => (Scheme::Tls, 8883),
            "ws" => (Scheme::Ws, 80),
            "wss" => (Scheme::Wss, 443),
            other => {
                return Err(usage(format!(
                    "unsupported scheme `{other}` in `{url}`: use mqtt://, mqtts://, ws:// or wss://"
                )));
            }
        };
        let host = parsed
            .host_str()
            .ok_or_else(|| usage(format!("no host in `{url}`")))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = parsed.port().unwrap_or(default_port);
        let username = (!parsed.username().is_empty()).then(|| decode(parsed.username()));
        let password = parsed.password().map(decode);
        let path = if parsed.path().is_empty() {
            "/"
        } else {
            parsed.path()
        }
        .to_owned();
        let tls = match scheme {
            Scheme::Tls | Scheme::Wss => Some(Arc::new(client_config(tls)?)),
            Scheme::Tcp | Scheme::Ws => None,
        };
        let mut shown = parsed.clone();
        let _ = shown.set_username("");
        let _ = shown.set_password(None);
        Ok(Self {
            url: shown.to_string().trim_end_matches('/').to_owned(),
            scheme,
            host,
            port,
            path,
            username,
            password,
            tls,
        })
    }

    /// A plain TCP target on a local address (the in-process broker).
    pub fn tcp(addr: std::net::SocketAddr) -> Self {
        Self {
            url: format!("mqtt://{addr}"),
            scheme: Scheme::Tcp,
            host: addr.ip().to_string(),
            port: addr.port(),
            path: "/".into(),
            username: None,
            password: None,
            tls: None,
        }
    }

    /// Opens a byte stream to the broker.
    pub async fn connect(&self) -> Result<Box<dyn Stream>, HarnessError> {
        let tcp = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| connect(format!("cannot connect to {}: {e}", self.url)))?;
        let _ = tcp.set_nodelay(true);
        let stream: Box<dyn Stream> = match &self.tls {
            Some(config) => {
                let name = ServerName::try_from(self.host.clone())
                    .map_err(|e| connect(format!("bad TLS server name `{}`: {e}", self.host)))?;
                let tls = tokio_rustls::TlsConnector::from(config.clone())
                    .connect(name, tcp)
                    .await
                    .map_err(|e| connect(format!("TLS handshake with {} failed: {e}", self.url)))?;
                Box::new(tls)
            }
            None => Box::new(tcp),
        };
        match self.scheme {
            Scheme::Tcp | Scheme::Tls => Ok(stream),
            Scheme::Ws | Scheme::Wss => self.websocket(stream).await,
        }
    }

    async fn websocket(&self, stream: Box<dyn Stream>) -> Result<Box<dyn Stream>, HarnessError> {
        let scheme = if self.scheme == Scheme::Wss {
            "wss"
        } else {
            "ws"
        };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let mut request = format!("{scheme}://{host}:{}{}", self.port, self.path)
            .into_client_request()
            .map_err(|e| connect(format!("bad WebSocket URL: {e}")))?;
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            "mqtt"
                .parse()
                .map_err(|_| connect("bad header".to_owned()))?,
        );
        let (ws, _) = tokio_tungstenite::client_async(request, stream)
            .await
            .map_err(|e| connect(format!("WebSocket handshake with {} failed: {e}", self.url)))?;
        // Bridge the message stream to a byte stream through an in-memory pipe, so the client
        // sees every transport the same way.
        let (ours, theirs) = tokio::io::duplex(64 * 1024);
        tokio::spawn(pump(ws, theirs));
        Ok(Box::new(ours))
    }
}

async fn pump<S>(ws: tokio_tungstenite::WebSocketStream<S>, pipe: tokio::io::DuplexStream)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (mut sink, mut source) = ws.split();
    let (mut pipe_read, mut pipe_write) = tokio::io::split(pipe);
    let upstream = async {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match pipe_read.read(&mut buf).await {
                Ok(0) | Err(_) => {
                    let _ = sink.close().await;
                    return;
                }
                Ok(n) => {
                    if sink.send(Message::binary(buf[..n].to_vec())).await.is_err() {
                        return;
                    }
                }
            }
        }
    };
    let downstream = async {
        while let Some(Ok(msg)) = source.next().await {
            match msg {
                Message::Binary(b) if pipe_write.write_all(&b).await.is_err() => {
                    return;
                }
                Message::Close(_) => break,
                _ => {}
            }
        }
        let _ = pipe_write.shutdown().await;
    };
    tokio::select! {
        () = upstream => {}
        () = downstream => {}
    }
}

fn decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| s.to_owned())
}

fn client_config(opts: &TlsOptions) -> Result<rustls::ClientConfig, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| usage(format!("TLS setup: {e}")))?;
    let builder = if opts.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnything(provider)))
    } else {
        let mut roots = rustls::RootCertStore::empty();
        match &opts.ca {
            Some(path) => {
                for cert in read_certs(path)? {
                    roots.add(cert).map_err(|e| {
                        usage(format!("bad CA certificate in {}: {e}", path.display()))
                    })?;
                }
            }
            None => {
                for cert in rustls_native_certs::load_native_certs().certs {
                    let _ = roots.add(cert);
                }
            }
        }
        builder.with_root_certificates(roots)
    };
    match (&opts.cert, &opts.key) {
        (Some(cert), Some(key)) => {
            let chain = read_certs(cert)?;
            let key = read_key(key)?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| usage(format!("client certificate: {e}")))
        }
        (None, None) => Ok(builder.with_no_client_auth()),
        _ => Err(usage("--cert and --key go together".into())),
    }
}

fn read_certs(path: &std::path::Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    let data =
        std::fs::read(path).map_err(|e| usage(format!("cannot read {}: {e}", path.display())))?;
    rustls_pemfile::certs(&mut data.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| usage(format!("bad PEM in {}: {e}", path.display())))
}

fn read_key(path: &std::path::Path) -> Result<PrivateKeyDer<'static>, Error> {
    let data =
        std::fs::read(path).map_err(|e| usage(format!("cannot read {}: {e}", path.display())))?;
    rustls_pemfile::private_key(&mut data.as_slice())
        .map_err(|e| usage(format!("bad PEM in {}: {e}", path.display())))?
        .ok_or_else(|| usage(format!("no private key in {}", path.display())))
}

/// `--insecure`: accepts any certificate, still checking handshake signatures.
#[derive(Debug)]
struct AcceptAnything(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAnything {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
