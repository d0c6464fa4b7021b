//! The probe result: versioned and serialisable, the unit that flows through queues and
//! lands in stores.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

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
    /// The check's tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// The probe's own health.
    #[serde(default)]
    pub probe: ProbeHealth,
}
