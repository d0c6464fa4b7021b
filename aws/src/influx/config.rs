//! Where and how the InfluxDB store writes and reads: the URL, the organisation, the
//! bucket (the database on InfluxDB 1.x and 3.x), the token, and which write API to use
//! ([`WriteApi`]). Read from `WEBMON_INFLUX_*` by the writer Lambda and from flags by
//! the CLI. The token never reaches a log line or an error message.

use std::time::Duration;

use crate::config::{env, env_or, AwsTarget};
use crate::AwsError;

/// Environment variables of the store.
pub const URL_ENV: &str = "WEBMON_INFLUX_URL";
/// See [`URL_ENV`].
pub const ORG_ENV: &str = "WEBMON_INFLUX_ORG";
/// See [`URL_ENV`].
pub const BUCKET_ENV: &str = "WEBMON_INFLUX_BUCKET";
/// The API token, or the ARN of a Secrets Manager secret holding it.
pub const TOKEN_ENV: &str = "WEBMON_INFLUX_TOKEN";
/// The write API: `v2` (default) or `v1`.
pub const API_ENV: &str = "WEBMON_INFLUX_API";
/// Most points per write request (InfluxDB's advice).
pub const MAX_LINES: usize = 5_000;

/// An API token. Its `Debug` hides it, so it cannot leak through a logged config. An
/// empty token sends no `Authorization` header (InfluxDB 1.x without authentication).
#[derive(Clone, Default)]
pub struct Token(String);

impl Token {
    /// Wraps a token.
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into().trim().to_string())
    }

    /// Whether there is no token.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The token this one names: itself, or the secret its Secrets Manager ARN names
    /// ([`resolve_token`]).
    pub async fn resolve(&self, target: &AwsTarget) -> Result<Token, AwsError> {
        resolve_token(target, &self.0).await
    }

    /// The `Authorization` header value (`Token ...`), when there is a token.
    pub(crate) fn header(&self) -> Option<String> {
        (!self.0.is_empty()).then(|| format!("Token {}", self.0))
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// Which write endpoint points go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteApi {
    /// `POST /api/v2/write?org=..&bucket=..`: InfluxDB 2.x (and Timestream for
    /// InfluxDB), 3.x, 1.8+, VictoriaMetrics. Needs the organisation and a token.
    V2,
    /// `POST /write?db=..`: InfluxDB 1.x (every release), 2.x through its
    /// v1-compatible API, 3.x, VictoriaMetrics.
    V1,
}

impl WriteApi {
    /// Parses `v2` or `v1` (case-insensitive; empty is `v2`).
    pub fn parse(value: &str) -> Result<Self, AwsError> {
        match value.trim().to_ascii_lowercase().as_str() {
            "" | "v2" => Ok(Self::V2),
            "v1" => Ok(Self::V1),
            other => Err(AwsError::Setting {
                name: API_ENV.into(),
                reason: format!("{other:?} is not one of v2, v1"),
            }),
        }
    }
}

/// Where and how to write.
#[derive(Debug, Clone)]
pub struct InfluxConfig {
    /// Base URL, e.g. `https://influx.example.net:8086`.
    pub url: String,
    /// Organisation (name or id); needed by the v2 write API only.
    pub org: String,
    /// Bucket (InfluxDB 1.x and 3.x: the database).
    pub bucket: String,
    /// API token, sent as `Authorization: Token ...`.
    pub token: Token,
    /// The write endpoint.
    pub api: WriteApi,
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
    /// A configuration for the v2 write API with the default limits.
    pub fn new(url: &str, org: &str, bucket: &str, token: Token) -> Self {
        Self {
            url: url.trim_end_matches('/').to_string(),
            org: org.into(),
            bucket: bucket.into(),
            token,
            api: WriteApi::V2,
            max_lines: MAX_LINES,
            max_attempts: 5,
            backoff: Duration::from_millis(200),
            timeout: Duration::from_secs(10),
        }
    }

    /// A configuration for the v1 write API (`/write?db=`), e.g. InfluxDB 1.x: no
    /// organisation, and the token may be empty.
    pub fn v1(url: &str, database: &str, token: Token) -> Self {
        Self {
            api: WriteApi::V1,
            ..Self::new(url, "", database, token)
        }
    }

    /// Reads `WEBMON_INFLUX_URL`, `_ORG`, `_BUCKET`, `_TOKEN` (the token, or the ARN of
    /// a Secrets Manager secret holding it, read through `target`'s endpoint) and `_API`.
    /// With the v1 API, the organisation and the token may be unset.
    pub async fn from_env(target: &AwsTarget) -> Result<Self, AwsError> {
        let api = WriteApi::parse(&env_or(API_ENV, "v2"))?;
        let (org, token) = match api {
            WriteApi::V2 => (env(ORG_ENV)?, env(TOKEN_ENV)?),
            WriteApi::V1 => (env_or(ORG_ENV, ""), env_or(TOKEN_ENV, "")),
        };
        let token = resolve_token(target, &token).await?;
        let mut config = Self::new(&env(URL_ENV)?, &org, &env_or(BUCKET_ENV, "webmon"), token);
        config.api = api;
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
        if self.api == WriteApi::V2 && self.org.is_empty() {
            return bad(ORG_ENV, "is empty (the v2 write API needs it)".into());
        }
        if self.bucket.is_empty() {
            return bad(BUCKET_ENV, "is empty".into());
        }
        if self.api == WriteApi::V2 && self.token.is_empty() {
            return bad(TOKEN_ENV, "is empty (the v2 write API needs it)".into());
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

    /// The write URL (org, bucket or database query-encoded).
    pub fn write_url(&self) -> String {
        match self.api {
            WriteApi::V2 => format!(
                "{}/api/v2/write?org={}&bucket={}&precision=ms",
                self.url,
                query_encode(&self.org),
                query_encode(&self.bucket)
            ),
            WriteApi::V1 => format!(
                "{}/write?db={}&precision=ms",
                self.url,
                query_encode(&self.bucket)
            ),
        }
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

/// Percent-encodes a query component (everything but unreserved characters).
pub fn query_encode(value: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_urls_encode_their_names() {
        let c = InfluxConfig::new("http://127.0.0.1:8086/", "my org", "a&b", Token::new("t"));
        assert_eq!(
            c.write_url(),
            "http://127.0.0.1:8086/api/v2/write?org=my%20org&bucket=a%26b&precision=ms"
        );
        let c = InfluxConfig::v1("http://127.0.0.1:8086", "web mon", Token::default());
        assert_eq!(
            c.write_url(),
            "http://127.0.0.1:8086/write?db=web%20mon&precision=ms"
        );
        c.validate().expect("v1 needs no org and no token");
    }

    #[test]
    fn token_never_shows_in_debug() {
        let c = InfluxConfig::new("http://h", "o", "b", Token::new("s3cr3t-token"));
        assert!(!format!("{c:?}").contains("s3cr3t"));
        assert_eq!(Token::default().header(), None);
    }

    #[test]
    fn bad_settings_are_named() {
        let mut c = InfluxConfig::new("ftp://h", "o", "b", Token::new("t"));
        assert!(c.validate().unwrap_err().to_string().contains(URL_ENV));
        c.url = "http://h".into();
        c.max_lines = MAX_LINES + 1;
        assert!(c.validate().unwrap_err().to_string().contains("max_lines"));
        c.max_lines = 10;
        c.token = Token::new(" ");
        assert!(c.validate().unwrap_err().to_string().contains(TOKEN_ENV));
        assert_eq!(WriteApi::parse(" V1 ").unwrap(), WriteApi::V1);
        assert!(WriteApi::parse("v3")
            .unwrap_err()
            .to_string()
            .contains(API_ENV));
    }
}
