//! Raw check -> validated [`Check`], collecting every problem.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use regex::Regex;
use serde::Serialize;
use url::Url;

use super::secret::{parse_template, Segment};
use super::{Interval, RawCheck, SecretPolicy, StatusSet};
use crate::text::excerpt;

/// Default requests per check execution, as in the original system.
pub const DEFAULT_REQUESTS: u32 = 5;
/// Longest default per-request timeout. A check without `timeout` gets
/// `min(DEFAULT_TIMEOUT, interval / requests)` (whole milliseconds, rounded down; see
/// [`default_timeout`]), so the defaults always fit in the interval.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest per-request timeout.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(60);
/// Default body cap: 1 MiB.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 1 << 20;
/// Largest body cap: 64 MiB.
pub const MAX_BODY_BYTES_LIMIT: u64 = 64 << 20;
/// Default redirect hops.
pub const DEFAULT_MAX_REDIRECTS: u32 = 5;
/// Longest URL, in bytes once normalised (also Timestream's dimension value limit).
pub const MAX_URL_BYTES: usize = 2048;
/// Most tags on a check.
pub const MAX_TAGS: usize = 10;
/// Longest tag key: stores name the dimension `tag_<key>`, and Timestream allows 60 bytes.
pub const MAX_TAG_KEY_BYTES: usize = 56;
/// Longest tag value, in bytes.
pub const MAX_TAG_VALUE_BYTES: usize = 256;
/// Longest region name in `regions`.
pub const MAX_REGION_BYTES: usize = 32;
/// Most bytes of the store dimensions a check controls: the names and values of
/// `check_id`, `url` and every `tag_<key>`. With the probe's own measures (at most about
/// 1,150 bytes, the error message capped at the result's error message cap)
/// and the region, a record stays under Timestream's 2 KiB record limit.
pub const MAX_DIMENSION_BYTES: usize = 800;
/// Request headers a check may not set: the engine writes them itself, and letting a
/// check set them would allow request smuggling or a misdirected request.
pub const FORBIDDEN_REQUEST_HEADERS: [&str; 9] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
];

/// The timeout a check gets when it sets none: `min(DEFAULT_TIMEOUT, interval / requests)`,
/// in whole milliseconds rounded down, so `requests x timeout` always fits the interval.
pub fn default_timeout(interval: Interval, requests: u32) -> Duration {
    let share_ms = interval.duration().as_millis() as u64 / u64::from(requests.max(1));
    DEFAULT_TIMEOUT.min(Duration::from_millis(share_ms))
}

/// Whether `key` is a valid tag key: `[a-zA-Z_][a-zA-Z0-9_]{0,55}`.
pub fn valid_tag_key(key: &str) -> bool {
    key.len() <= MAX_TAG_KEY_BYTES
        && key
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// One reason a check was refused: names the check, the field, the value and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("check {check_id:?}: field `{field}` = {value:?}: {reason}")]
pub struct ValidationError {
    /// The check's id (`<item N>` when the item has no readable id).
    pub check_id: String,
    /// The field, as a path (`assertions.status[1]`).
    pub field: String,
    /// The offending value as written.
    pub value: String,
    /// Why it was refused.
    pub reason: String,
}

impl ValidationError {
    /// Builds an error.
    pub fn new(
        check_id: &str,
        field: &str,
        value: impl fmt::Display,
        reason: impl Into<String>,
    ) -> Self {
        Self {
            check_id: check_id.to_string(),
            field: field.to_string(),
            value: value.to_string(),
            reason: reason.into(),
        }
    }
}

/// A JSON pointer assertion.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonPointerEquals {
    /// RFC 6901 pointer.
    pub pointer: String,
    /// Expected value.
    pub equals: serde_json::Value,
}

/// Validated assertions.
#[derive(Debug, Clone, Default)]
pub struct Assertions {
    /// Accepted status codes.
    pub status: StatusSet,
    /// Texts the body must contain.
    pub body_contains: Vec<String>,
    /// Patterns the body must match.
    pub body_regex: Vec<Regex>,
    /// JSON pointer equalities.
    pub json: Vec<JsonPointerEquals>,
    /// Response headers that must equal a value (lower-case names).
    pub headers: Vec<(String, String)>,
    /// Largest acceptable average latency.
    pub max_latency: Option<Duration>,
    /// Fewest days left on the TLS certificate.
    pub tls_min_days: Option<u32>,
}

/// A validated check, ready for the probe engine.
#[derive(Debug, Clone)]
pub struct Check {
    /// Unique id.
    pub id: String,
    /// Target URL.
    pub url: Url,
    /// HTTP method.
    pub method: http::Method,
    /// Request headers; values may hold `${env:NAME}` references, resolved at probe time.
    pub headers: Vec<(http::HeaderName, String)>,
    /// Request body.
    pub body: Option<String>,
    /// How often it runs.
    pub interval: Interval,
    /// Requests per execution (the first cold, the others warm).
    pub requests: u32,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Regions that probe it; empty = all.
    pub regions: Vec<String>,
    /// Whether it runs.
    pub enabled: bool,
    /// Labels carried into results.
    pub tags: BTreeMap<String, String>,
    /// What a healthy answer looks like.
    pub assertions: Assertions,
    /// Most redirect hops followed (0 = redirects are not followed).
    pub max_redirects: u32,
    /// Whether non-public addresses may be reached.
    pub allow_private: bool,
    /// Body read cap per request.
    pub max_body_bytes: u64,
    /// Retries inside one execution (`alert.retries`, or the file's
    /// `alert_defaults.retries`); none by default.
    pub retries: super::RetryPolicy,
    /// The check as written, for storing it back unchanged.
    pub source: RawCheck,
}

impl Check {
    /// The longest one execution can take: every attempt's requests at their timeout,
    /// plus the delays between attempts.
    pub fn worst_case_run(&self) -> Duration {
        let attempts = 1 + self.retries.count;
        self.timeout * self.requests * attempts
            + Duration::from_millis(self.retries.total_delay_ms())
    }

    /// Whether `region` should probe this check.
    pub fn runs_in(&self, region: &str) -> bool {
        self.enabled && (self.regions.is_empty() || self.regions.iter().any(|r| r == region))
    }
}

fn valid_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|e| format!("not a duration like 500ms or 10s ({e})"))
}

impl RawCheck {
    /// Validates the check under the default [`SecretPolicy`] (only `WEBMON_SECRET_*`
    /// environment variables), returning every problem found.
    pub fn validate(&self) -> Result<Check, Vec<ValidationError>> {
        self.validate_with(&SecretPolicy::default())
    }

    /// Validates the check under the operator's secret policy, returning every problem
    /// found.
    pub fn validate_with(&self, secrets: &SecretPolicy) -> Result<Check, Vec<ValidationError>> {
        let id = self.id.as_str();
        let mut errors = Vec::new();
        let mut err = |field: &str, value: &dyn fmt::Display, reason: String| {
            errors.push(ValidationError::new(id, field, value, reason));
        };

        if !valid_id(id) {
            err(
                "id",
                &id,
                "must be 1-128 characters of letters, digits, '-', '_' or '.'".into(),
            );
        }
        let url = match Url::parse(&self.url) {
            Ok(u) if !u.username().is_empty() || u.password().is_some() => {
                err(
                    "url",
                    &excerpt(&self.url),
                    "must not carry user info (user:password@); send credentials in a header"
                        .into(),
                );
                None
            }
            Ok(u) if u.as_str().len() > MAX_URL_BYTES => {
                err(
                    "url",
                    &excerpt(&self.url),
                    format!(
                        "is {} bytes long; at most {MAX_URL_BYTES} are allowed",
                        u.as_str().len()
                    ),
                );
                None
            }
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => Some(u),
            Ok(_) => {
                err(
                    "url",
                    &self.url,
                    "must be an http:// or https:// URL with a host".into(),
                );
                None
            }
            Err(e) => {
                err("url", &excerpt(&self.url), format!("is not a URL ({e})"));
                None
            }
        };
        let method_text = self.method.as_deref().unwrap_or("GET");
        let method = match http::Method::from_bytes(method_text.to_ascii_uppercase().as_bytes()) {
            Ok(m) => Some(m),
            Err(_) => {
                err("method", &method_text, "is not an HTTP method".into());
                None
            }
        };
        let mut headers = Vec::new();
        for (name, value) in &self.headers {
            let field = format!("headers.{name}");
            match http::HeaderName::from_bytes(name.as_bytes()) {
                Ok(h) if FORBIDDEN_REQUEST_HEADERS.contains(&h.as_str()) => err(
                    &field,
                    name,
                    "is set by the probe itself and may not be set by a check".into(),
                ),
                Ok(h) => headers.push((h, value.clone())),
                Err(_) => err(&field, name, "is not a valid header name".into()),
            }
            if value.contains(['\r', '\n']) {
                err(&field, &"<hidden>", "must not contain line breaks".into());
                continue;
            }
            match parse_template(value) {
                Ok(segments) => {
                    let mut literal = String::new();
                    for segment in segments {
                        match segment {
                            Segment::Text(text) => literal.push_str(text),
                            Segment::Ref(reference) => {
                                if let Err(reason) = secrets.permits(&reference) {
                                    err(&field, &reference, reason);
                                }
                            }
                        }
                    }
                    if http::HeaderValue::from_str(&literal).is_err() {
                        err(
                            &field,
                            &"<hidden>",
                            "must be visible ASCII text, spaces and tabs".into(),
                        );
                    }
                }
                Err(reason) => err(&field, &"<hidden>", reason),
            }
        }
        let interval = match Interval::parse(self.interval.as_deref().unwrap_or("1m")) {
            Ok(i) => Some(i),
            Err(reason) => {
                err(
                    "interval",
                    &self.interval.as_deref().unwrap_or_default(),
                    reason,
                );
                None
            }
        };
        let requests = self.requests.unwrap_or(DEFAULT_REQUESTS);
        if !(1..=20).contains(&requests) {
            err("requests", &requests, "must be between 1 and 20".into());
        }
        let timeout = match self.timeout.as_deref().map(parse_duration).transpose() {
            Ok(Some(t)) if t.is_zero() || t > MAX_TIMEOUT => {
                err(
                    "timeout",
                    &self.timeout.as_deref().unwrap_or_default(),
                    "must be more than 0 and at most 60s".into(),
                );
                DEFAULT_TIMEOUT
            }
            Ok(Some(t)) => t,
            Ok(None) => interval.map_or(DEFAULT_TIMEOUT, |i| default_timeout(i, requests)),
            Err(reason) => {
                err(
                    "timeout",
                    &self.timeout.as_deref().unwrap_or_default(),
                    reason,
                );
                DEFAULT_TIMEOUT
            }
        };
        if let Some(interval) = interval {
            if timeout.saturating_mul(requests) > interval.duration() {
                err(
                    "timeout",
                    &format!("{timeout:?}"),
                    format!("times {requests} requests must fit in the interval {interval}"),
                );
            }
        }
        for (i, region) in self.regions.iter().enumerate() {
            if region.is_empty()
                || region.len() > MAX_REGION_BYTES
                || !region
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            {
                err(
                    &format!("regions[{i}]"),
                    region,
                    format!(
                        "must be a region name such as eu-west-1 \
                         (lower-case letters, digits, '-'; at most {MAX_REGION_BYTES})"
                    ),
                );
            }
        }
        if self.tags.len() > MAX_TAGS {
            err(
                "tags",
                &self.tags.len(),
                format!("at most {MAX_TAGS} tags are allowed"),
            );
        }
        for (key, value) in &self.tags {
            let field = format!("tags.{key}");
            if !valid_tag_key(key) {
                err(
                    &field,
                    &excerpt(key),
                    format!(
                        "tag keys must be a letter or '_' then letters, digits or '_' \
                         (at most {MAX_TAG_KEY_BYTES})"
                    ),
                );
            }
            if value.len() > MAX_TAG_VALUE_BYTES {
                err(
                    &field,
                    &excerpt(value),
                    format!("is {} bytes; at most {MAX_TAG_VALUE_BYTES}", value.len()),
                );
            } else if value.chars().any(char::is_control) {
                err(
                    &field,
                    &excerpt(value),
                    "must not contain control characters (line breaks, tabs)".into(),
                );
            }
        }
        if let Some(url) = &url {
            let used = dimension_bytes(id, url.as_str(), &self.tags);
            if used > MAX_DIMENSION_BYTES {
                err(
                    "tags",
                    &format!("{used} bytes"),
                    format!(
                        "id, url and tags together become {used} bytes of store dimensions; \
                         at most {MAX_DIMENSION_BYTES} fit a result record"
                    ),
                );
            }
        }
        let max_redirects = if self.follow_redirects == Some(false) {
            0
        } else {
            self.max_redirects.unwrap_or(DEFAULT_MAX_REDIRECTS)
        };
        if max_redirects > 20 {
            err("max_redirects", &max_redirects, "must be at most 20".into());
        }
        let max_body_bytes = self.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY_BYTES);
        if !(1..=MAX_BODY_BYTES_LIMIT).contains(&max_body_bytes) {
            err(
                "max_body_bytes",
                &max_body_bytes,
                format!("must be between 1 and {MAX_BODY_BYTES_LIMIT}"),
            );
        }
        let assertions = self.validate_assertions(&mut err);

        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Check {
            id: self.id.clone(),
            url: url.expect("validated"),
            method: method.expect("validated"),
            headers,
            body: self.body.clone(),
            interval: interval.expect("validated"),
            requests,
            timeout,
            regions: self.regions.clone(),
            enabled: self.enabled.unwrap_or(true),
            tags: self.tags.clone(),
            assertions,
            max_redirects,
            allow_private: self.allow_private.unwrap_or(false),
            max_body_bytes,
            retries: super::retries_of(self.alert.as_ref(), None),
            source: self.clone(),
        })
    }

    fn validate_assertions(
        &self,
        err: &mut dyn FnMut(&str, &dyn fmt::Display, String),
    ) -> Assertions {
        let Some(raw) = &self.assertions else {
            return Assertions::default();
        };
        let mut out = Assertions::default();
        let mut ranges = Vec::new();
        for (i, entry) in raw.status.iter().enumerate() {
            let text = entry.as_text();
            match StatusSet::parse(std::slice::from_ref(&text)) {
                Ok(set) => ranges.extend(set.0),
                Err(reason) => err(&format!("assertions.status[{i}]"), &text, reason),
            }
        }
        if !ranges.is_empty() {
            out.status = StatusSet(ranges);
        }
        out.body_contains = raw.body_contains.clone();
        for (i, pattern) in raw.body_regex.iter().enumerate() {
            match Regex::new(pattern) {
                Ok(re) => out.body_regex.push(re),
                Err(e) => err(
                    &format!("assertions.body_regex[{i}]"),
                    pattern,
                    format!("is not a valid regex ({e})"),
                ),
            }
        }
        for (i, p) in raw.json.iter().enumerate() {
            if !(p.pointer.is_empty() || p.pointer.starts_with('/')) {
                err(
                    &format!("assertions.json[{i}].pointer"),
                    &p.pointer,
                    "must be empty or start with '/' (RFC 6901)".into(),
                );
            } else {
                out.json.push(JsonPointerEquals {
                    pointer: p.pointer.clone(),
                    equals: p.equals.clone(),
                });
            }
        }
        for (name, value) in &raw.headers {
            if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                err(
                    &format!("assertions.headers.{name}"),
                    name,
                    "is not a valid header name".into(),
                );
            }
            out.headers.push((name.to_ascii_lowercase(), value.clone()));
        }
        if let Some(text) = &raw.max_latency {
            match parse_duration(text) {
                Ok(d) if !d.is_zero() => out.max_latency = Some(d),
                Ok(_) => err("assertions.max_latency", text, "must be more than 0".into()),
                Err(reason) => err("assertions.max_latency", text, reason),
            }
        }
        if let Some(days) = raw.tls_min_days {
            if days > 3650 {
                err(
                    "assertions.tls_min_days",
                    &days,
                    "must be at most 3650".into(),
                );
            }
            out.tls_min_days = Some(days);
        }
        out
    }
}

/// Bytes of the store dimensions a check controls: `check_id`, `url` and one
/// `tag_<key>` per tag, names and values (see [`MAX_DIMENSION_BYTES`]).
pub fn dimension_bytes(id: &str, url: &str, tags: &BTreeMap<String, String>) -> usize {
    "check_id".len()
        + id.len()
        + "url".len()
        + url.len()
        + tags
            .iter()
            .map(|(k, v)| "tag_".len() + k.len() + v.len())
            .sum::<usize>()
}

/// Replaces `${env:NAME}` references in a header value with environment variables
/// allowed by the default [`SecretPolicy`] (`WEBMON_SECRET_*` only). `${secret:...}`
/// references need the engine's secret source and are refused here. The error names the
/// reference, never a value.
pub fn resolve_secrets(value: &str) -> Result<String, String> {
    let policy = SecretPolicy::default();
    let mut out = String::with_capacity(value.len());
    for segment in parse_template(value)? {
        match segment {
            Segment::Text(text) => out.push_str(text),
            Segment::Ref(reference) => {
                policy
                    .permits(&reference)
                    .map_err(|reason| format!("{reference} {reason}"))?;
                if reference.kind != super::SecretKind::Env {
                    return Err(format!("{reference} needs the engine's secret source"));
                }
                let resolved = std::env::var(&reference.name)
                    .map_err(|_| format!("environment variable {} is not set", reference.name))?;
                out.push_str(&resolved);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(id: &str, url: &str) -> RawCheck {
        RawCheck {
            id: id.into(),
            url: url.into(),
            ..Default::default()
        }
    }

    #[test]
    fn applies_defaults() {
        let check = raw("home", "https://example.com/").validate().unwrap();
        assert_eq!(check.requests, 5);
        assert_eq!(check.interval.seconds(), 60);
        assert_eq!(check.timeout, Duration::from_secs(10));
        assert_eq!(check.max_redirects, 5);
        assert!(!check.allow_private && check.enabled);
        assert!(check.assertions.status.accepts(301) && !check.assertions.status.accepts(404));
    }

    #[test]
    fn reports_every_error_with_names() {
        let mut bad = raw("bad id!", "ftp://x");
        bad.requests = Some(0);
        bad.interval = Some("45s".into());
        let errors = bad.validate().unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["id", "url", "interval", "requests"]);
        assert!(errors.iter().all(|e| e.check_id == "bad id!"));
        assert_eq!(errors[2].value, "45s");
    }

    #[test]
    fn explicit_status_replaces_default() {
        let mut check = raw("s", "http://example.com");
        check.assertions = Some(super::super::RawAssertions {
            status: vec![
                super::super::StatusEntry::Code(404),
                super::super::StatusEntry::Text("500-502".into()),
            ],
            ..Default::default()
        });
        let check = check.validate().unwrap();
        assert!(check.assertions.status.accepts(404) && check.assertions.status.accepts(501));
        assert!(!check.assertions.status.accepts(200));
    }

    #[test]
    fn resolves_env_secrets() {
        std::env::set_var("WEBMON_SECRET_UNIT_TOKEN", "s3cret");
        assert_eq!(
            resolve_secrets("Bearer ${env:WEBMON_SECRET_UNIT_TOKEN}").unwrap(),
            "Bearer s3cret"
        );
        let missing = resolve_secrets("${env:WEBMON_SECRET_UNIT_MISSING}").unwrap_err();
        assert!(missing.contains("WEBMON_SECRET_UNIT_MISSING"));
        assert!(resolve_secrets("${env:HOME}").is_err());
    }
}
