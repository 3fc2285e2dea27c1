//! TLS termination in the server itself (`TOOLKIT__SERVER__TLS_CERT` / `_KEY`): rustls with
//! the ring provider named explicitly, so it never depends on a process-wide default.

use std::sync::Arc;

use anyhow::Context;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::configuration::ServerSettings;

/// The rustls configuration when both PEM files are set, `None` for plain HTTP.
///
/// # Errors
/// Unreadable or unparsable files, or a key that does not match the certificate.
pub fn server_config(settings: &ServerSettings) -> anyhow::Result<Option<rustls::ServerConfig>> {
    let (Some(cert), Some(key)) = (&settings.tls_cert, &settings.tls_key) else {
        return Ok(None);
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .with_context(|| format!("cannot read the TLS certificate chain {cert}"))?;
    if chain.is_empty() {
        anyhow::bail!("{cert} holds no certificate");
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("cannot read the TLS private key {key}"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("rustls refuses its default protocol versions")?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .context("the TLS key does not fit the certificate")?;
    Ok(Some(config))
}
