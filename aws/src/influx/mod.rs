//! The result store in an InfluxDB-compatible database (InfluxDB 2 and 3, Timestream for
//! InfluxDB), a [`ResultStore`] and a [`BatchStore`] like the Timestream one.
//!
//! One line-protocol point per result ([`line`]): measurement `probe`, tags `check_id`,
//! `region`, `url` and `tag_<name>` per check tag, the same measures as the Timestream
//! record as fields, timestamp = scheduled time in milliseconds. Points go by `POST
//! /api/v2/write?org=..&bucket=..&precision=ms`, up to 5,000 per request, gzipped above
//! 1 KiB. A point written twice with the same tags and time is overwritten, so replays
//! are harmless. 429 and 5xx answers and transport failures are retried with backoff
//! ([`is_retriable_status`]); other 4xx answers are refused for good, with the answer's
//! body as the reason. The token never reaches a log line or an error message.

use std::io::Write as _;
use std::time::Duration;

use bytes::Bytes;
use tracing::Instrument;
use webmon_core::ports::{PortError, ResultStore};
use webmon_core::result::ProbeResult;

use crate::config::{env, env_or, AwsTarget};
use crate::https::HttpsClient;
use crate::store::{BatchStore, WriteReport};
use crate::AwsError;

pub mod line;

pub use line::to_line;

/// Environment variables of the sink.
pub const URL_ENV: &str = "WEBMON_INFLUX_URL";
/// See [`URL_ENV`].
pub const ORG_ENV: &str = "WEBMON_INFLUX_ORG";
/// See [`URL_ENV`].
pub const BUCKET_ENV: &str = "WEBMON_INFLUX_BUCKET";
/// The API token, or the ARN of a Secrets Manager secret holding it.
pub const TOKEN_ENV: &str = "WEBMON_INFLUX_TOKEN";
/// Most points per write request (InfluxDB's advice).
pub const MAX_LINES: usize = 5_000;
/// Bodies at least this long are gzipped.
const GZIP_FROM: usize = 1024;
/// Longest answer body kept in a reason.
const MAX_REASON: usize = 512;

/// An API token. Its `Debug` hides it, so it cannot leak through a logged config.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    /// Wraps a token.
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// Where and how to write.
#[derive(Debug, Clone)]
pub struct InfluxConfig {
    /// Base URL, e.g. `https://influx.example.net:8086`.
    pub url: String,
    /// Organisation (name or id).
    pub org: String,
    /// Bucket (InfluxDB 3: the database).
    pub bucket: String,
    /// API token, sent as `Authorization: Token ...`.
    pub token: Token,
    /// Points per request, 1 to [`MAX_LINES`].
    pub max_lines: usize,
    /// Attempts per request, at least 1.
    pub max_attempts: u32,
    /// First retry delay; doubled on each retry, at most 5 s (or the `Retry-After`).
    pub backoff: Duration,
    /// Deadline of one request.
    pub timeout: Duration,
}

impl InfluxConfig {
    /// A configuration with the default limits.
    pub fn new(url: &str, org: &str, bucket: &str, token: Token) -> Self {
        Self {
            url: url.trim_end_matches('/').to_string(),
            org: org.into(),
            bucket: bucket.into(),
            token,
            max_lines: MAX_LINES,
            max_attempts: 5,
            backoff: Duration::from_millis(200),
            timeout: Duration::from_secs(10),
        }
    }

    /// Reads `WEBMON_INFLUX_URL`, `_ORG`, `_BUCKET` and `_TOKEN` (the token, or the ARN
    /// of a Secrets Manager secret holding it, read through `target`'s endpoint).
    pub async fn from_env(target: &AwsTarget) -> Result<Self, AwsError> {
        let token = resolve_token(target, &env(TOKEN_ENV)?).await?;
        let config = Self::new(
            &env(URL_ENV)?,
            &env(ORG_ENV)?,
            &env_or(BUCKET_ENV, "webmon"),
            token,
        );
        config.validate()?;
        Ok(config)
    }

    /// Checks the URL and the limits.
    pub fn validate(&self) -> Result<(), AwsError> {
        let bad = |name: &str, reason: String| {
            Err(AwsError::Setting {
                name: name.into(),
                reason,
            })
        };
        if !(self.url.starts_with("http://") || self.url.starts_with("https://")) {
            return bad(URL_ENV, format!("{:?} is not an http(s) URL", self.url));
        }
        if self.org.is_empty() {
            return bad(ORG_ENV, "is empty".into());
        }
        if self.bucket.is_empty() {
            return bad(BUCKET_ENV, "is empty".into());
        }
        if self.token.0.is_empty() {
            return bad(TOKEN_ENV, "is empty".into());
        }
        if !(1..=MAX_LINES).contains(&self.max_lines) {
            return bad(
                "influx max_lines",
                format!("{} is not within 1..={MAX_LINES}", self.max_lines),
            );
        }
        if self.max_attempts == 0 {
            return bad("influx max_attempts", "must be at least 1".into());
        }
        Ok(())
    }

    /// The write URL (org and bucket query-encoded).
    pub fn write_url(&self) -> String {
        format!(
            "{}/api/v2/write?org={}&bucket={}&precision=ms",
            self.url,
            query_encode(&self.org),
            query_encode(&self.bucket)
        )
    }
}

/// The token `value` names: itself, or when it is a Secrets Manager ARN the secret's
/// value (a JSON secret's `token` field, or the whole string), read in the ARN's region.
pub async fn resolve_token(target: &AwsTarget, value: &str) -> Result<Token, AwsError> {
    let value = value.trim();
    let parts: Vec<&str> = value.splitn(5, ':').collect();
    if parts.len() < 5 || parts[0] != "arn" || parts[2] != "secretsmanager" {
        return Ok(Token::new(value));
    }
    let region = Some(parts[3]).filter(|r| !r.is_empty());
    let target = AwsTarget {
        region: region.map(str::to_string).or_else(|| target.region.clone()),
        endpoint_url: target.endpoint_url.clone(),
    };
    Ok(Token::new(
        crate::secrets::read_secret(&target, value, "token").await?,
    ))
}

/// The retry decision for an answer: throttling, timeouts and server failures may pass
/// later; any other 4xx (bad point, bad token, missing bucket) will not.
pub fn is_retriable_status(status: u16) -> bool {
    matches!(status, 408 | 429) || (500..=599).contains(&status) && status != 501
}

/// The InfluxDB write API.
#[derive(Debug, Clone)]
pub struct InfluxStore {
    config: InfluxConfig,
    client: HttpsClient,
    write_url: String,
}

/// What became of one request.
enum Outcome {
    Written,
    Refused(String),
    Failed(String),
}

impl InfluxStore {
    /// A store writing with `config` (validated).
    pub fn new(config: InfluxConfig) -> Result<Self, AwsError> {
        config.validate()?;
        Ok(Self {
            client: HttpsClient::new(config.timeout),
            write_url: config.write_url(),
            config,
        })
    }

    /// Writes results in requests of up to `max_lines` points and reports each one's fate.
    pub async fn write_batch(&self, results: &[ProbeResult]) -> WriteReport {
        let mut report = WriteReport::default();
        for (chunk_no, chunk) in results.chunks(self.config.max_lines).enumerate() {
            let base = chunk_no * self.config.max_lines;
            let mut body = String::with_capacity(chunk.len() * 400);
            for r in chunk {
                body.push_str(&to_line(r));
                body.push('\n');
            }
            let span = tracing::info_span!("influx.write", points = chunk.len());
            let (outcome, calls) = self.send(body).instrument(span).await;
            report.calls += calls;
            match outcome {
                Outcome::Written => report.written += chunk.len(),
                Outcome::Refused(reason) => {
                    tracing::error!(points = chunk.len(), reason = %reason, "InfluxDB refused the points");
                    report
                        .rejected
                        .extend((base..base + chunk.len()).map(|i| (i, reason.clone())));
                }
                Outcome::Failed(reason) => {
                    tracing::warn!(points = chunk.len(), error = %reason, "InfluxDB write failed");
                    report.failed.extend(base..base + chunk.len());
                    report.error = Some(reason);
                }
            }
        }
        report
    }

    /// Sends one body, retrying what may pass later; returns the outcome and the calls.
    async fn send(&self, body: String) -> (Outcome, usize) {
        let gzip = body.len() >= GZIP_FROM;
        let payload = if gzip {
            Bytes::from(gzip_bytes(body.as_bytes()))
        } else {
            Bytes::from(body)
        };
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let mut request = http::Request::post(&self.write_url)
                .header(
                    http::header::AUTHORIZATION,
                    format!("Token {}", self.config.token.0),
                )
                .header(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")
                .header(http::header::ACCEPT, "application/json");
            if gzip {
                request = request.header(http::header::CONTENT_ENCODING, "gzip");
            }
            let request = match request.body(payload.clone()) {
                Ok(r) => r,
                Err(e) => {
                    return (
                        Outcome::Refused(format!("failed to build the request: {e}")),
                        0,
                    )
                }
            };
            let (reason, retriable, retry_after) = match self.client.send(request).await {
                Ok(answer) if answer.status().is_success() => {
                    return (Outcome::Written, attempt as usize)
                }
                Ok(answer) => {
                    let status = answer.status().as_u16();
                    let retry_after = answer
                        .headers()
                        .get(http::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok())
                        .map(Duration::from_secs);
                    let text = String::from_utf8_lossy(answer.body());
                    let reason = format!(
                        "failed to write to InfluxDB bucket {}: status {status}: {}",
                        self.config.bucket,
                        clip(text.trim())
                    );
                    (reason, is_retriable_status(status), retry_after)
                }
                Err(e) => (e.to_string(), true, None),
            };
            if !retriable {
                return (Outcome::Refused(reason), attempt as usize);
            }
            if attempt >= self.config.max_attempts {
                return (
                    Outcome::Failed(format!("{reason} (after {attempt} attempts)")),
                    attempt as usize,
                );
            }
            let delay = retry_after
                .unwrap_or(self.config.backoff * 2u32.pow(attempt - 1))
                .min(Duration::from_secs(5));
            tracing::info!(attempt, delay_ms = delay.as_millis() as u64, reason = %reason, "retrying the InfluxDB write");
            tokio::time::sleep(delay).await;
        }
    }
}

impl BatchStore for InfluxStore {
    async fn write_detailed(&self, results: &[ProbeResult]) -> WriteReport {
        self.write_batch(results).await
    }
}

impl ResultStore for InfluxStore {
    async fn write(&self, results: &[ProbeResult]) -> Result<(), PortError> {
        self.write_batch(results).await.into_port_result(results)
    }
}

fn gzip_bytes(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(data.len() / 4),
        flate2::Compression::fast(),
    );
    encoder
        .write_all(data)
        .and_then(|_| encoder.finish())
        .expect("writing to memory does not fail")
}

/// Percent-encodes a query component (everything but unreserved characters).
fn query_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn clip(text: &str) -> &str {
    if text.len() <= MAX_REASON {
        return text;
    }
    let mut end = MAX_REASON;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_decision() {
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(is_retriable_status(s), "{s}");
        }
        for s in [400, 401, 403, 404, 413, 422, 501] {
            assert!(!is_retriable_status(s), "{s}");
        }
    }

    #[test]
    fn write_url_encodes_org_and_bucket() {
        let c = InfluxConfig::new("http://127.0.0.1:8086/", "my org", "a&b", Token::new("t"));
        assert_eq!(
            c.write_url(),
            "http://127.0.0.1:8086/api/v2/write?org=my%20org&bucket=a%26b&precision=ms"
        );
    }

    #[test]
    fn token_never_shows_in_debug() {
        let c = InfluxConfig::new("http://h", "o", "b", Token::new("s3cr3t-token"));
        assert!(!format!("{c:?}").contains("s3cr3t"));
    }

    #[test]
    fn bad_settings_are_named() {
        let mut c = InfluxConfig::new("ftp://h", "o", "b", Token::new("t"));
        assert!(c.validate().unwrap_err().to_string().contains(URL_ENV));
        c.url = "http://h".into();
        c.max_lines = MAX_LINES + 1;
        assert!(c.validate().unwrap_err().to_string().contains("max_lines"));
    }
}
