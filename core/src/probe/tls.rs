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
    let provider_for_verifier = provider.clone();
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
        .with_custom_certificate_verifier(Arc::new(Verifier {
            inner,
            provider: provider_for_verifier,
        }))
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
    provider: Arc<rustls::crypto::CryptoProvider>,
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

impl Verifier {
    /// Whether the certificate is signed by its own key: trusted as its own root, it
    /// verifies (or fails only for its name or dates). Asked only after a refusal.
    fn is_self_signed(
        &self,
        end_entity: &CertificateDer<'_>,
        server_name: &ServerName<'_>,
        now: UnixTime,
    ) -> bool {
        let mut roots = rustls::RootCertStore::empty();
        if roots.add(end_entity.clone().into_owned()).is_err() {
            return false;
        }
        let Ok(itself) = rustls::client::WebPkiServerVerifier::builder_with_provider(
            Arc::new(roots),
            self.provider.clone(),
        )
        .build() else {
            return false;
        };
        match itself.verify_server_cert(end_entity, &[], server_name, &[], now) {
            Ok(_) => true,
            Err(rustls::Error::InvalidCertificate(e)) => matches!(
                e,
                CertificateError::NotValidForName
                    | CertificateError::NotValidForNameContext { .. }
                    | CertificateError::Expired
                    | CertificateError::ExpiredContext { .. }
                    | CertificateError::NotValidYet
                    | CertificateError::NotValidYetContext { .. }
            ),
            Err(_) => false,
        }
    }
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
                    if self.is_self_signed(end_entity, server_name, now) =>
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

/// Hint appended to a self-signed certificate's failure.
pub const SELF_SIGNED_HINT: &str =
    "if you trust it, pass the certificate itself with --ca-file PEM";

/// What a certificate failure means, in words, from the verifier's error text (its
/// variant name or message), and the hint that applies ([`CA_FILE_HINT`],
/// [`SELF_SIGNED_HINT`]), if any.
pub fn certificate_words(message: &str) -> Option<(&'static str, Option<&'static str>)> {
    const KNOWN: [(&[&str], &str, Option<&str>); 10] = [
        (
            &["CaUsedAsEndEntity", "ca used as end entity"],
            "the server presents a CA certificate as its own certificate (it must serve a \
             certificate issued by that CA)",
            Some(CA_FILE_HINT),
        ),
        (
            &["SelfSigned", "self-signed"],
            "the certificate is self-signed",
            Some(SELF_SIGNED_HINT),
        ),
        (
            &["UnknownIssuer", "unknown issuer"],
            "the certificate is signed by an unknown issuer (a private CA, or a chain the \
             server does not send in full)",
            Some(CA_FILE_HINT),
        ),
        (
            &["NotValidYet", "not valid yet"],
            "the certificate is not valid yet",
            None,
        ),
        (&["Expired", "expired"], "the certificate has expired", None),
        (
            &["NotValidForName", "not valid for name"],
            "the certificate is not valid for this host name",
            None,
        ),
        (
            &["Revoked", "revoked"],
            "the certificate has been revoked",
            None,
        ),
        (
            &["BadSignature", "bad signature"],
            "the certificate's signature is invalid",
            None,
        ),
        (
            &[
                "UnsupportedSignatureAlgorithm",
                "unsupported signature algorithm",
            ],
            "the certificate uses an unsupported signature algorithm",
            None,
        ),
        (
            &["BadEncoding", "bad encoding"],
            "the certificate cannot be parsed",
            None,
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
        Some((words, Some(hint))) => {
            format!("failed TLS handshake with {host} ({remote}): {words}; {hint} [{error}]")
        }
        Some((words, None)) => {
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
