//! The check as written by users: YAML, JSON, or a DynamoDB item (through serde_dynamo).
//!
//! Every field except `id` and `url` is optional; defaults are applied by validation so
//! that a stored item round-trips exactly as it was written.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A check before validation. Unknown fields are rejected.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCheck {
    /// Unique id: letters, digits, `-`, `_`, `.`; 1 to 128 characters.
    pub id: String,
    /// `http://` or `https://` URL to probe.
    pub url: String,
    /// HTTP method, default `GET`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Request headers. Values may reference environment variables as `${env:NAME}` so
    /// that secrets stay out of the config.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Optional request body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// `10s`, `15s`, `20s`, `30s`, or whole minutes up to `1d`; default `1m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    /// Requests per check execution, 1..=20, default 5 (the first on a fresh connection).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<u32>,
    /// Timeout of each request, e.g. `10s` or `500ms`; default `10s`, at most `60s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// Regions that probe this check; empty means every region.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<String>,
    /// Whether the check runs; default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Free-form labels carried into results.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// What a healthy answer looks like.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assertions: Option<RawAssertions>,
    /// Follow redirects; default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follow_redirects: Option<bool>,
    /// Most redirect hops to follow, 0..=20; default 5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_redirects: Option<u32>,
    /// Allow loopback, private, link-local and other non-public addresses; default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_private: Option<bool>,
    /// Most body bytes read per request, default 1 MiB (1048576), at most 64 MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_body_bytes: Option<u64>,
    /// Alerting policy for this check (see `docs/alerting.md`); validated by
    /// `alert::load_alerting`, not by [`RawCheck::validate`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<serde_json::Value>,
}

/// Assertions as written.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAssertions {
    /// Accepted status codes and ranges, e.g. `[200-299, 304]`; default `200-399`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub status: Vec<StatusEntry>,
    /// Texts the body must contain.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub body_contains: Vec<String>,
    /// Regular expressions the body must match.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub body_regex: Vec<String>,
    /// JSON pointers (RFC 6901) into the body and the value each must equal.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub json: Vec<RawJsonPointer>,
    /// Response headers that must equal the given value (names case-insensitive).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Largest acceptable average latency, e.g. `500ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_latency: Option<String>,
    /// Fewest days the TLS certificate must still be valid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_min_days: Option<u32>,
}

/// One JSON pointer assertion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawJsonPointer {
    /// RFC 6901 pointer, e.g. `/status` or `/items/0/name`.
    pub pointer: String,
    /// The JSON value found there must equal this.
    pub equals: serde_json::Value,
}

/// A status entry: a number (`200`) or text (`"200-299"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum StatusEntry {
    /// A single code written as a number.
    Code(u16),
    /// A code or a range written as text.
    Text(String),
}

impl StatusEntry {
    /// The entry as text, for parsing.
    pub fn as_text(&self) -> String {
        match self {
            Self::Code(code) => code.to_string(),
            Self::Text(text) => text.clone(),
        }
    }
}
