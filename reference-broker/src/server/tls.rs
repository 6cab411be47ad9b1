//! TLS listener setup: a rustls server config from PEM files.

use std::sync::Arc;

use tokio_rustls::TlsAcceptor;

use crate::config::TlsConfig;
use crate::error::Error;

/// Builds an acceptor from the PEM certificate chain and private key in `config`.
pub(crate) fn acceptor(config: &TlsConfig) -> Result<TlsAcceptor, Error> {
    let read = |path: &std::path::Path| {
        std::fs::read(path).map_err(|source| Error::ConfigIo {
            path: path.to_owned(),
            source,
        })
    };
    let cert_pem = read(&config.cert)?;
    let key_pem = read(&config.key)?;
    let certs = rustls_pemfile::certs(&mut cert_pem.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::Tls(format!("certificate: {e}")))?;
    if certs.is_empty() {
        return Err(Error::Tls("no certificate in the PEM file".to_owned()));
    }
    let key = rustls_pemfile::private_key(&mut key_pem.as_slice())
        .map_err(|e| Error::Tls(format!("private key: {e}")))?
        .ok_or_else(|| Error::Tls("no private key in the PEM file".to_owned()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| Error::Tls(e.to_string()))?;
    Ok(TlsAcceptor::from(Arc::new(server)))
}
