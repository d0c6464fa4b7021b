//! The probe result: versioned and serialisable, the unit that flows through queues and
//! lands in stores.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use crate::text::{excerpt, truncate_str, MAX_ECHO_BYTES};

/// Version of the [`ProbeResult`] wire format. Bump on incompatible changes.
pub const RESULT_VERSION: u32 = 1;

/// Why a check failed. A target that is down is a result carrying one of these, never an `Err`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// Name resolution failed.
    Dns,
    /// TCP connection failed (refused, unreachable).
    Connect,
    /// TLS handshake or certificate verification failed.
    Tls,
    /// A request took longer than the check's timeout.
    Timeout,
    /// The status code is not among the accepted ones.
    HttpStatus,
    /// A body, header, latency or certificate assertion failed.
    Assertion,
    /// The body exceeded the check's cap.
    BodyTooLarge,
    /// More redirects than the check allows (or a loop).
    RedirectLimit,
    /// The SSRF guard refused the resolved address.
    Blocked,
    /// Anything else (protocol errors, bad redirect locations...).
    Other,
}

impl ErrorClass {
    /// The snake_case name used in stores and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Dns => "dns",
            Self::Connect => "connect",
            Self::Tls => "tls",
            Self::Timeout => "timeout",
            Self::HttpStatus => "http_status",
            Self::Assertion => "assertion",
            Self::BodyTooLarge => "body_too_large",
            Self::RedirectLimit => "redirect_limit",
            Self::Blocked => "blocked",
            Self::Other => "other",
        }
    }
}

/// Cold-request phase timings in milliseconds. See `docs/architecture.md` for what each
/// phase covers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Phases {
    /// Name resolution (0 for IP literals).
    pub dns_ms: f64,
    /// TCP connect to the address that answered.
    pub connect_ms: f64,
    /// TLS handshake (0 for http).
    pub tls_ms: f64,
    /// First request byte written to first response byte received (kernel receive
    /// timestamp where available, see [`ProbeHealth::kernel_timestamps`]).
    pub ttfb_ms: f64,
    /// First response byte to the last body byte received.
    pub transfer_ms: f64,
}

/// Latency over the requests of one execution, in milliseconds (each request from
/// start to last body byte; the cold one includes DNS, connect and TLS).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencyStats {
    /// Mean.
    pub avg_ms: f64,
    /// Fastest.
    pub min_ms: f64,
    /// Slowest.
    pub max_ms: f64,
    /// Median.
    pub p50_ms: f64,
}

/// The probe's own health, so results can be trusted or discounted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ProbeHealth {
    /// The result came from a freshly started probe process (a Lambda cold start).
    pub cold_start: bool,
    /// How late the execution started against its scheduled time, in milliseconds.
    pub start_delay_ms: f64,
    /// The ttfb of every completed request was timed from kernel receive timestamps
    /// (Linux); false when any fell back to user-space clocks (absent in older results).
    #[serde(default)]
    pub kernel_timestamps: bool,
}

/// One check execution from one region.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeResult {
    /// Wire format version, [`RESULT_VERSION`].
    pub version: u32,
    /// Region label of the probe (`local` on one machine).
    pub region: String,
    /// Check id.
    pub check_id: String,
    /// URL probed (the check's URL, before redirects).
    pub url: String,
    /// Scheduled time, Unix milliseconds.
    pub scheduled_at_ms: i64,
    /// Actual start, Unix milliseconds.
    pub started_at_ms: i64,
    /// All requests answered and every assertion passed.
    pub available: bool,
    /// Last status code seen.
    pub status_code: Option<u16>,
    /// Why it failed, when it did.
    pub error_class: Option<ErrorClass>,
    /// Human-readable message for failures.
    pub error_message: Option<String>,
    /// Requests made (may be fewer than asked when one fails).
    pub requests: u32,
    /// Latency over the requests made.
    pub latency: LatencyStats,
    /// Phase timings of the first (cold) request.
    pub cold: Phases,
    /// Mean time to first byte of the warm requests (reused connection), if any.
    pub warm_ttfb_ms: Option<f64>,
    /// Body bytes received on the last request (after decoding).
    pub bytes: u64,
    /// The IP address that answered.
    pub remote_ip: Option<String>,
    /// `HTTP/1.1` or `HTTP/2`.
    pub http_version: Option<String>,
    /// Days until the TLS certificate expires (https only).
    pub tls_cert_days_left: Option<i64>,
    /// Redirect hops followed.
    pub redirects: u32,
    /// Attempts made: 1, or more when the check's retry policy retried a failure (the
    /// result holds the last attempt's data).
    #[serde(default = "one_attempt")]
    pub attempts: u32,
    /// The check's tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// The probe's own health.
    #[serde(default)]
    pub probe: ProbeHealth,
}

fn one_attempt() -> u32 {
    1
}

/// Longest `error_message` of a result, in bytes. Messages are built from short texts
/// and [`excerpt`]s, so only a pathological one reaches it.
pub const MAX_ERROR_MESSAGE_BYTES: usize = 512;

/// Longest tag value, region or other short text field of a result, in bytes.
pub const MAX_SHORT_TEXT_BYTES: usize = 256;

fn cut(text: &mut String, max: usize) -> bool {
    if text.len() <= max {
        return false;
    }
    let keep = truncate_str(text, max).len();
    text.truncate(keep);
    true
}

impl ProbeResult {
    /// Caps every text field at its limit: `error_message` at
    /// [`MAX_ERROR_MESSAGE_BYTES`], the URL at the longest URL a check may have, and the
    /// region, ids, addresses and tags at [`MAX_SHORT_TEXT_BYTES`]. The engine applies it
    /// to every result; call it on results from elsewhere before storing them.
    pub fn cap_text_fields(&mut self) {
        if let Some(message) = &mut self.error_message {
            cut(message, MAX_ERROR_MESSAGE_BYTES);
        }
        cut(&mut self.url, crate::check::MAX_URL_BYTES);
        cut(&mut self.region, MAX_SHORT_TEXT_BYTES);
        cut(&mut self.check_id, MAX_SHORT_TEXT_BYTES);
        for text in [&mut self.remote_ip, &mut self.http_version]
            .into_iter()
            .flatten()
        {
            cut(text, MAX_SHORT_TEXT_BYTES);
        }
        if self.tags.keys().any(|k| k.len() > MAX_SHORT_TEXT_BYTES)
            || self.tags.values().any(|v| v.len() > MAX_SHORT_TEXT_BYTES)
        {
            self.tags = std::mem::take(&mut self.tags)
                .into_iter()
                .map(|(mut k, mut v)| {
                    cut(&mut k, MAX_SHORT_TEXT_BYTES);
                    cut(&mut v, MAX_SHORT_TEXT_BYTES);
                    (k, v)
                })
                .collect();
        }
    }

    /// Size of the result as JSON, in bytes.
    pub fn json_len(&self) -> usize {
        serde_json::to_vec(self).map_or(usize::MAX, |v| v.len())
    }

    /// Shrinks the result until its JSON form fits in `budget` bytes, giving up text in
    /// this order: caps every field ([`ProbeResult::cap_text_fields`]), then shortens the
    /// error message, drops tags (largest first), and shortens the URL. Numbers, ids and
    /// the error class are kept. Returns whether the result now fits.
    pub fn shrink_to(&mut self, budget: usize) -> bool {
        self.cap_text_fields();
        let mut size = self.json_len();
        if size <= budget {
            return true;
        }
        if let Some(message) = &mut self.error_message {
            let over = size - budget;
            // JSON escaping can make a byte cost up to six; cut generously, then re-measure.
            let keep = message.len().saturating_sub(over);
            cut(message, keep);
            size = self.json_len();
            while size > budget && !message_is_empty(&self.error_message) {
                if let Some(m) = &mut self.error_message {
                    let keep = m.len() / 2;
                    cut(m, keep);
                }
                size = self.json_len();
            }
        }
        while size > budget && !self.tags.is_empty() {
            let largest = self
                .tags
                .iter()
                .max_by_key(|(k, v)| k.len() + v.len())
                .map(|(k, _)| k.clone())
                .expect("not empty");
            self.tags.remove(&largest);
            size = self.json_len();
        }
        if size > budget {
            let over = size - budget;
            let keep = self.url.len().saturating_sub(over);
            cut(&mut self.url, keep);
            size = self.json_len();
        }
        size <= budget
    }
}

fn message_is_empty(message: &Option<String>) -> bool {
    message.as_deref().is_none_or(str::is_empty)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpt_keeps_short_text_and_cuts_long_text_on_a_boundary() {
        assert_eq!(excerpt("short"), "short");
        let long = "é".repeat(100);
        let cut = excerpt(&long);
        assert!(cut.len() <= MAX_ECHO_BYTES + 20, "{cut}");
        assert!(cut.ends_with("...(200 bytes)"), "{cut}");
    }
}
