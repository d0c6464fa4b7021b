//! The HTTP(S) client every web channel posts through: rustls with the ring provider and
//! the bundled web PKI roots (no OpenSSL), pooled HTTP/1.1, one deadline over the whole
//! exchange, a capped response body. Non-success answers become
//! [`NotifyError::Rejected`] with the receiver's `Retry-After` (seconds or HTTP date).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::NotifyError;

/// Largest response body read.
pub const MAX_RESPONSE_BYTES: usize = 64 << 10;

/// Default deadline of one exchange.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// A receiver's answer.
#[derive(Debug, Clone)]
pub struct HttpAnswer {
    /// Status code.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body (capped).
    pub body: Bytes,
}

/// A pooled client for `http://` and `https://` URLs.
#[derive(Clone)]
pub struct HttpClient {
    inner: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Default for HttpClient {
    fn default() -> Self {
        Self::new(DEFAULT_TIMEOUT)
    }
}

impl HttpClient {
    /// A client whose every exchange ends within `timeout`.
    pub fn new(timeout: Duration) -> Self {
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
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
        Self { inner, timeout }
    }

    /// POSTs `body` as JSON with extra `headers`; any 2xx is success.
    pub async fn post_json(
        &self,
        channel: &str,
        url: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<HttpAnswer, NotifyError> {
        let mut request = Request::post(url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(
                http::header::USER_AGENT,
                concat!("webmon/", env!("CARGO_PKG_VERSION")),
            );
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let request =
            request
                .body(Full::new(Bytes::from(body)))
                .map_err(|e| NotifyError::Config {
                    channel: channel.into(),
                    reason: format!("cannot build a request to the configured URL: {e}"),
                })?;
        let fail = |reason: String| NotifyError::Transport {
            channel: channel.into(),
            reason,
        };
        let exchange = async {
            let response = self
                .inner
                .request(request)
                .await
                .map_err(|e| fail(error_chain(&e)))?;
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, MAX_RESPONSE_BYTES)
                .collect()
                .await
                .map_err(|e| fail(format!("failed to read the response body: {e}")))?
                .to_bytes();
            Ok(HttpAnswer {
                status: parts.status,
                headers: parts.headers,
                body,
            })
        };
        let answer = tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| fail(format!("no complete answer within {:?}", self.timeout)))??;
        if answer.status.is_success() {
            return Ok(answer);
        }
        let mut text = String::from_utf8_lossy(&answer.body).into_owned();
        text.truncate(text.char_indices().nth(300).map_or(text.len(), |(i, _)| i));
        Err(NotifyError::Rejected {
            channel: channel.into(),
            status: answer.status.as_u16(),
            body: text,
            retry_after: retry_after(&answer.headers, chrono::Utc::now()),
        })
    }
}

/// `Retry-After` as delay-seconds or an HTTP date (relative to `now`).
pub fn retry_after(headers: &HeaderMap, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let value = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    Some(
        (at.with_timezone(&chrono::Utc) - now)
            .to_std()
            .unwrap_or(Duration::ZERO),
    )
}

/// An error and its sources on one line.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_retry_after_forms() {
        let now = chrono::DateTime::parse_from_rfc3339("2015-10-21T07:27:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let mut h = HeaderMap::new();
        h.insert(http::header::RETRY_AFTER, "120".parse().unwrap());
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(120)));
        h.insert(
            http::header::RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(60)));
        h.insert(http::header::RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&h, now), None);
    }
}
