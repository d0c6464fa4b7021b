//! TLS client configuration (rustls with ring, webpki roots plus optional extra roots)
//! and certificate expiry.

use std::sync::Arc;

use rustls::pki_types::CertificateDer;

/// Builds the client configuration shared by every probe: webpki roots, the extra roots
/// given (invalid ones are logged and skipped), ALPN `h2` then `http/1.1`.
pub(crate) fn client_config(extra_roots_der: &[Vec<u8>]) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for (i, der) in extra_roots_der.iter().enumerate() {
        if let Err(e) = roots.add(CertificateDer::from(der.clone())) {
            tracing::warn!(index = i, error = %e, "failed to add extra root certificate; skipping it");
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Arc::new(config)
}

/// Whole days from `now_unix` until the certificate's `notAfter` (negative once expired),
/// or `None` when the certificate cannot be parsed.
pub(crate) fn days_left(cert_der: &[u8], now_unix: i64) -> Option<i64> {
    let (_, cert) = x509_parser::parse_x509_certificate(cert_der).ok()?;
    let not_after = cert.validity().not_after.timestamp();
    Some((not_after - now_unix).div_euclid(86_400))
}
