//! [`Sample`]: one stored execution as a reader returns it.

use serde::Serialize;

use crate::result::ProbeResult;

/// The fields of one execution that reports need (a stored row, lighter than a
/// [`ProbeResult`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sample {
    /// Check id.
    pub check_id: String,
    /// Probe region.
    pub region: String,
    /// Scheduled time, Unix milliseconds.
    pub scheduled_at_ms: i64,
    /// Whether the execution passed.
    pub available: bool,
    /// Last status code seen.
    pub status_code: Option<u16>,
    /// Error class name (`timeout`, `http_status`...), when it failed.
    pub error_class: Option<String>,
    /// Human-readable failure message.
    pub error_message: Option<String>,
    /// Mean latency over the execution's requests, milliseconds.
    pub latency_avg_ms: f64,
    /// Time to first byte of the cold request, milliseconds.
    pub cold_ttfb_ms: f64,
    /// Mean time to first byte of the warm requests, milliseconds.
    pub warm_ttfb_ms: Option<f64>,
    /// Name resolution of the cold request, milliseconds.
    pub dns_ms: f64,
    /// TCP connect of the cold request, milliseconds.
    pub connect_ms: f64,
    /// TLS handshake of the cold request, milliseconds.
    pub tls_ms: f64,
    /// Response headers to last body byte of the cold request, milliseconds.
    pub transfer_ms: f64,
}

impl From<&ProbeResult> for Sample {
    fn from(r: &ProbeResult) -> Self {
        Self {
            check_id: r.check_id.clone(),
            region: r.region.clone(),
            scheduled_at_ms: r.scheduled_at_ms,
            available: r.available,
            status_code: r.status_code,
            error_class: r.error_class.map(|c| c.as_str().to_string()),
            error_message: r.error_message.clone(),
            latency_avg_ms: r.latency.avg_ms,
            cold_ttfb_ms: r.cold.ttfb_ms,
            warm_ttfb_ms: r.warm_ttfb_ms,
            dns_ms: r.cold.dns_ms,
            connect_ms: r.cold.connect_ms,
            tls_ms: r.cold.tls_ms,
            transfer_ms: r.cold.transfer_ms,
        }
    }
}
