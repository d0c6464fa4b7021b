//! TLS client configuration (rustls with ring, webpki roots plus optional extra roots)
//! and certificate expiry.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, OtherError, SignatureScheme};

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
    let inner = rustls::client::WebPkiServerVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .expect("the webpki roots are never empty");
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Verifier { inner }))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Arc::new(config)
}

/// The verifier of every probe: webpki's, with one refinement. A certificate webpki
/// refuses for an unknown issuer whose issuer is its own subject is reported as
/// [`SelfSigned`], so the failure can say "self-signed" rather than "unknown issuer".
#[derive(Debug)]
struct Verifier {
    inner: Arc<rustls::client::WebPkiServerVerifier>,
}

/// The refusal of a self-signed certificate no trusted root vouches for.
#[derive(Debug)]
pub(crate) struct SelfSigned;

impl std::fmt::Display for SelfSigned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SelfSigned")
    }
}

impl std::error::Error for SelfSigned {}

/// Whether the certificate names itself as its issuer.
fn is_self_signed(cert_der: &[u8]) -> bool {
    x509_parser::parse_x509_certificate(cert_der)
        .map(|(_, cert)| cert.issuer().as_raw() == cert.subject().as_raw())
        .unwrap_or(false)
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            .map_err(|e| match e {
                rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)
                    if is_self_signed(end_entity) =>
                {
                    rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(
                        Arc::new(SelfSigned),
                    )))
                }
                other => other,
            })
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// Hint appended to failures a trusted CA certificate would fix.
pub const CA_FILE_HINT: &str = "if you trust it, pass its CA certificate with --ca-file PEM";

/// What a certificate failure means, in words, from the verifier's error text (its
/// variant name or message), and whether [`CA_FILE_HINT`] applies.
pub fn certificate_words(message: &str) -> Option<(&'static str, bool)> {
    const KNOWN: [(&[&str], &str, bool); 10] = [
        (
            &["CaUsedAsEndEntity", "ca used as end entity"],
            "the server presents a CA certificate as its own certificate (it must serve a \
             certificate issued by that CA)",
            true,
        ),
        (
            &["SelfSigned", "self-signed"],
            "the certificate is self-signed",
            true,
        ),
        (
            &["UnknownIssuer", "unknown issuer"],
            "the certificate is signed by an unknown issuer (a private CA, or a chain the \
             server does not send in full)",
            true,
        ),
        (
            &["NotValidYet", "not valid yet"],
            "the certificate is not valid yet",
            false,
        ),
        (
            &["Expired", "expired"],
            "the certificate has expired",
            false,
        ),
        (
            &["NotValidForName", "not valid for name"],
            "the certificate is not valid for this host name",
            false,
        ),
        (
            &["Revoked", "revoked"],
            "the certificate has been revoked",
            false,
        ),
        (
            &["BadSignature", "bad signature"],
            "the certificate's signature is invalid",
            false,
        ),
        (
            &[
                "UnsupportedSignatureAlgorithm",
                "unsupported signature algorithm",
            ],
            "the certificate uses an unsupported signature algorithm",
            false,
        ),
        (
            &["BadEncoding", "bad encoding"],
            "the certificate cannot be parsed",
            false,
        ),
    ];
    let lower = message.to_ascii_lowercase();
    KNOWN
        .iter()
        .find(|(keys, _, _)| {
            keys.iter()
                .any(|k| message.contains(k) || lower.contains(&k.to_ascii_lowercase()))
        })
        .map(|(_, words, hint)| (*words, *hint))
}

/// The message of a failed handshake: `failed TLS handshake with HOST (IP): <words>;
/// <hint> [<the verifier's error>]`, or the verifier's error as it is when it is no
/// certificate failure.
pub(crate) fn handshake_message(host: &str, remote: &str, error: &str) -> String {
    match certificate_words(error) {
        Some((words, true)) => {
            format!(
                "failed TLS handshake with {host} ({remote}): {words}; {CA_FILE_HINT} [{error}]"
            )
        }
        Some((words, false)) => {
            format!("failed TLS handshake with {host} ({remote}): {words} [{error}]")
        }
        None => format!("failed TLS handshake with {host} ({remote}): {error}"),
    }
}

/// Whole days from `now_unix` until the certificate's `notAfter` (negative once expired),
/// or `None` when the certificate cannot be parsed.
pub(crate) fn days_left(cert_der: &[u8], now_unix: i64) -> Option<i64> {
    let (_, cert) = x509_parser::parse_x509_certificate(cert_der).ok()?;
    let not_after = cert.validity().not_after.timestamp();
    Some((not_after - now_unix).div_euclid(86_400))
}
