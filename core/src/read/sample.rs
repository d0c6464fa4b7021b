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

impl Sample {
    /// The result as far as a sample tells it (what alert replays from stores that
    /// keep samples need): timings, outcome and error; no TLS, tags or probe details.
    pub fn to_result(&self) -> ProbeResult {
        use crate::result::{ErrorClass, LatencyStats, Phases, RESULT_VERSION};
        let error_class = self.error_class.as_ref().map(|c| {
            serde_json::from_value::<ErrorClass>(serde_json::Value::String(c.clone()))
                .unwrap_or(ErrorClass::Other)
        });
        ProbeResult {
            version: RESULT_VERSION,
            region: self.region.clone(),
            check_id: self.check_id.clone(),
            url: String::new(),
            scheduled_at_ms: self.scheduled_at_ms,
            started_at_ms: self.scheduled_at_ms,
            available: self.available,
            status_code: self.status_code,
            error_class,
            error_message: self.error_message.clone(),
            requests: 1,
            latency: LatencyStats {
                avg_ms: self.latency_avg_ms,
                min_ms: self.latency_avg_ms,
                max_ms: self.latency_avg_ms,
                p50_ms: self.latency_avg_ms,
            },
            cold: Phases {
                dns_ms: self.dns_ms,
                connect_ms: self.connect_ms,
                tls_ms: self.tls_ms,
                ttfb_ms: self.cold_ttfb_ms,
                transfer_ms: self.transfer_ms,
            },
            warm_ttfb_ms: self.warm_ttfb_ms,
            bytes: 0,
            remote_ip: None,
            http_version: None,
            tls_cert_days_left: None,
            redirects: 0,
            attempts: 1,
            tags: Default::default(),
            probe: Default::default(),
        }
    }
}
