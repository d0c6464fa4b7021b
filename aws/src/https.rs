//! A small HTTP(S) client for the non-AWS endpoints: the InfluxDB write API and the
//! OTLP span collector. Rustls with the ring provider and the bundled web PKI roots
//! (no OpenSSL, no system trust store needed in the Lambda image), HTTP/1.1, pooled
//! connections, a deadline covering the whole exchange, and a capped response body.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// Largest response body read; longer answers are an error (a write API answers little).
pub const MAX_RESPONSE_BYTES: usize = 1 << 20;

/// Why an exchange did not produce a response: connect, TLS, timeout, body read.
#[derive(Debug, thiserror::Error)]
#[error("failed to reach {url}: {reason}")]
pub struct TransportError {
    /// The URL requested, without its query string.
    pub url: String,
    /// What went wrong.
    pub reason: String,
}

/// A pooled HTTP/1.1 client for `http://` and `https://` URLs.
#[derive(Clone)]
pub struct HttpsClient {
    inner: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
    max_response_bytes: usize,
}

impl std::fmt::Debug for HttpsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpsClient")
            .field("timeout", &self.timeout)
            .field("max_response_bytes", &self.max_response_bytes)
            .finish_non_exhaustive()
    }
}

impl HttpsClient {
    /// A client whose every exchange (connect to last body byte) ends within `timeout`.
    /// Must be called within a Tokio runtime's context only when used; building is plain.
    pub fn new(timeout: Duration) -> Self {
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        // The provider is named explicitly: several are compiled in, so none is implied.
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .build();
        let inner = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Self {
            inner,
            timeout,
            max_response_bytes: MAX_RESPONSE_BYTES,
        }
    }

    /// Reads answers of up to `bytes` instead of [`MAX_RESPONSE_BYTES`] (a query API's
    /// answers are larger than a write API's).
    pub fn with_max_response_bytes(mut self, bytes: usize) -> Self {
        self.max_response_bytes = bytes;
        self
    }

    /// Sends a request and reads the whole response, whatever its status.
    pub async fn send(&self, request: Request<Bytes>) -> Result<Response<Bytes>, TransportError> {
        let uri = request.uri();
        let url = format!(
            "{}://{}{}",
            uri.scheme_str().unwrap_or("http"),
            uri.authority().map(|a| a.as_str()).unwrap_or_default(),
            uri.path()
        );
        let fail = |reason: String| TransportError {
            url: url.clone(),
            reason,
        };
        let exchange = async {
            let response = self
                .inner
                .request(request.map(Full::new))
                .await
                .map_err(|e| fail(error_chain(&e)))?;
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, self.max_response_bytes)
                .collect()
                .await
                .map_err(|e| fail(format!("failed to read the response body: {e}")))?
                .to_bytes();
            Ok(Response::from_parts(parts, body))
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| fail(format!("no complete answer within {:?}", self.timeout)))?
    }
}

/// An error and its sources on one line (hyper's own message alone says little).
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
