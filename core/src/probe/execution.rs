//! The state of one execution and how one logical request (redirects included) runs.

use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::time::Instant;

use url::Url;

use super::connect::{self, Conn};
use super::exchange::{self, RequestSpec, Response, SendError};
use super::secrets::OutHeader;
use super::{Failure, Inner, Prober, Stage};
use crate::check::Check;
use crate::result::{
    excerpt, ErrorClass, LatencyStats, Phases, ProbeHealth, ProbeResult, RESULT_VERSION,
};

/// State of one execution, filled as requests complete (also on failure, so a result
/// carries whatever was measured).
pub(crate) struct Execution {
    pub(crate) conn: Option<Conn>,
    pub(crate) requests: u32,
    pub(crate) cold: Phases,
    pub(crate) latencies: Vec<f64>,
    pub(crate) warm_ttfbs: Vec<f64>,
    /// Requests whose ttfb was timed by kernel receive stamps.
    pub(crate) kernel_timed: usize,
    pub(crate) status: Option<u16>,
    pub(crate) remote_ip: Option<IpAddr>,
    pub(crate) http_version: Option<&'static str>,
    pub(crate) cert_days_left: Option<i64>,
    pub(crate) redirects: u32,
    pub(crate) final_url: Option<Url>,
    pub(crate) final_method: http::Method,
    /// The headers in force at the final URL (credentials dropped by a cross-origin
    /// redirect stay dropped for the warm requests).
    pub(crate) final_headers: Option<Vec<OutHeader>>,
    pub(crate) last: Option<Response>,
}

fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

impl Execution {
    pub(crate) fn new(check: &Check) -> Self {
        Self {
            conn: None,
            requests: 0,
            cold: Phases::default(),
            latencies: Vec::with_capacity(check.requests as usize),
            warm_ttfbs: Vec::new(),
            kernel_timed: 0,
            status: None,
            remote_ip: None,
            http_version: None,
            cert_days_left: None,
            redirects: 0,
            final_url: None,
            final_method: check.method.clone(),
            final_headers: None,
            last: None,
        }
    }

    /// One logical request: redirects followed, the whole body read.
    pub(crate) async fn request(
        &mut self,
        inner: &Inner,
        check: &Check,
        spec: &RequestSpec<'_>,
        cold: bool,
        stage: &mut Stage,
    ) -> Result<Response, Failure> {
        let started = Instant::now();
        let allow_private = check.allow_private;
        let mut url = self.final_url.clone().unwrap_or_else(|| check.url.clone());
        let mut method = if cold {
            spec.method.clone()
        } else {
            self.final_method.clone()
        };
        let mut body = spec.body.clone();
        let mut headers: Vec<OutHeader> = match (&self.final_headers, cold) {
            (Some(h), false) => h.clone(),
            _ => spec.headers.to_vec(),
        };
        let mut visited = vec![url.clone()];
        let mut hops = 0;
        loop {
            let host = url.host_str().unwrap_or_default();
            if let Some((name, reference)) = headers
                .iter()
                .find_map(|h| h.refused_for(host).map(|r| (&h.name, r)))
            {
                return Err(Failure::new(
                    ErrorClass::Blocked,
                    format!(
                        "refused to send header {name} to {}: {reference} may only be sent \
                         to the hosts listed for it",
                        excerpt(host)
                    ),
                ));
            }
            let hop_spec = RequestSpec {
                method: method.clone(),
                headers: &headers,
                body: body.clone(),
                max_body_bytes: spec.max_body_bytes,
                budget: spec.budget,
            };
            let reusable = self
                .conn
                .as_ref()
                .is_some_and(|c| c.origin == connect::origin(&url) && !c.is_closed());
            if !reusable {
                self.connect(inner, &url, allow_private, cold, stage)
                    .await?;
            }
            let conn = self.conn.as_mut().expect("connected above");
            let response = match exchange::send(conn, &url, &hop_spec, stage).await {
                Ok(r) => r,
                Err(SendError::Failed(f)) => return Err(f),
                Err(SendError::Stale(e)) if !reusable => {
                    return Err(Failure::new(
                        ErrorClass::Other,
                        format!(
                            "failed to get a response from {}: {e}",
                            excerpt(url.as_str())
                        ),
                    ));
                }
                Err(SendError::Stale(_)) => {
                    // The server closed the kept-alive connection: one retry on a fresh one.
                    self.connect(inner, &url, allow_private, cold, stage)
                        .await?;
                    let conn = self.conn.as_mut().expect("connected above");
                    exchange::send(conn, &url, &hop_spec, stage)
                        .await
                        .map_err(|e| match e {
                            SendError::Failed(f) => f,
                            SendError::Stale(e) => Failure::new(
                                ErrorClass::Other,
                                format!(
                                    "failed to get a response from {}: {e}",
                                    excerpt(url.as_str())
                                ),
                            ),
                        })?
                }
            };
            self.status = Some(response.status);
            let location = response
                .headers
                .get(http::header::LOCATION)
                .and_then(|v| v.to_str().ok());
            if check.max_redirects > 0 && is_redirect(response.status) {
                if let Some(location) = location {
                    let from = excerpt(url.as_str());
                    let to = excerpt(location);
                    if hops >= check.max_redirects {
                        return Err(Failure::new(
                            ErrorClass::RedirectLimit,
                            format!(
                                "more than {} redirects (next hop {to} from {from})",
                                check.max_redirects
                            ),
                        ));
                    }
                    let next = url.join(location).map_err(|e| {
                        Failure::new(
                            ErrorClass::Other,
                            format!("failed to follow redirect from {from} to {to:?}: {e}"),
                        )
                    })?;
                    if next.as_str().len() > crate::check::MAX_URL_BYTES {
                        return Err(Failure::new(
                            ErrorClass::Other,
                            format!(
                                "failed to follow redirect from {from} to {to}: the target is \
                                 {} bytes long, more than the {} followed",
                                next.as_str().len(),
                                crate::check::MAX_URL_BYTES
                            ),
                        ));
                    }
                    if !matches!(next.scheme(), "http" | "https") {
                        return Err(Failure::new(
                            ErrorClass::Other,
                            format!("failed to follow redirect from {from} to {to}: not http(s)"),
                        ));
                    }
                    if visited.contains(&next) {
                        return Err(Failure::new(
                            ErrorClass::RedirectLimit,
                            format!("redirect loop: {from} leads back to {to}"),
                        ));
                    }
                    if connect::origin(&next) != connect::origin(&url) {
                        if let Some(secret) = headers.iter().find(|h| h.sensitive) {
                            if url.scheme() == "https" && next.scheme() == "http" {
                                return Err(Failure::new(
                                    ErrorClass::Blocked,
                                    format!(
                                        "refused to follow the redirect from {from} to \
                                         plain-text {to} while header {} carries credentials",
                                        secret.name
                                    ),
                                ));
                            }
                        }
                        // Credentials belong to the origin they were written for.
                        headers.retain(|h| !h.sensitive);
                    }
                    let to_get = response.status == 303
                        || (matches!(response.status, 301 | 302) && method == http::Method::POST);
                    if to_get && method != http::Method::HEAD {
                        method = http::Method::GET;
                        body = None;
                    }
                    visited.push(next.clone());
                    url = next;
                    hops += 1;
                    continue;
                }
            }
            let total_ms = started.elapsed().as_secs_f64() * 1e3;
            self.latencies.push(total_ms);
            self.kernel_timed += usize::from(response.kernel_timestamps);
            if cold {
                self.cold.ttfb_ms = response.ttfb_ms;
                self.cold.transfer_ms = response.transfer_ms;
                self.redirects = hops;
                self.final_url = Some(url);
                self.final_method = method;
                self.final_headers = Some(headers);
            } else {
                self.warm_ttfbs.push(response.ttfb_ms);
            }
            return Ok(response);
        }
    }

    async fn connect(
        &mut self,
        inner: &Inner,
        url: &Url,
        allow_private: bool,
        cold: bool,
        stage: &mut Stage,
    ) -> Result<(), Failure> {
        self.conn = None;
        let conn = connect::open(inner, url, allow_private, stage).await?;
        if cold {
            self.cold.dns_ms += conn.dns_ms;
            self.cold.connect_ms += conn.connect_ms;
            self.cold.tls_ms += conn.tls_ms;
        }
        self.remote_ip = Some(conn.remote_ip);
        self.http_version = Some(conn.http_version);
        self.cert_days_left = conn.cert_days_left;
        self.conn = Some(conn);
        Ok(())
    }

    pub(crate) fn latency_stats(&self) -> LatencyStats {
        if self.latencies.is_empty() {
            return LatencyStats::default();
        }
        let mut sorted = self.latencies.clone();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let p50 = if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
        };
        LatencyStats {
            avg_ms: sorted.iter().sum::<f64>() / n as f64,
            min_ms: sorted[0],
            max_ms: sorted[n - 1],
            p50_ms: p50,
        }
    }

    pub(crate) fn into_result(
        self,
        prober: &Prober,
        check: &Check,
        scheduled_at_ms: i64,
        started_at_ms: i64,
        failure: Option<Failure>,
    ) -> ProbeResult {
        let latency = self.latency_stats();
        let warm_ttfb_ms = (!self.warm_ttfbs.is_empty())
            .then(|| self.warm_ttfbs.iter().sum::<f64>() / self.warm_ttfbs.len() as f64);
        let (error_class, error_message) = match failure {
            Some(f) => (Some(f.class), Some(f.message)),
            None => (None, None),
        };
        let mut result = ProbeResult {
            version: RESULT_VERSION,
            region: prober.inner.options.region.clone(),
            check_id: check.id.clone(),
            url: check.url.to_string(),
            scheduled_at_ms,
            started_at_ms,
            available: error_class.is_none(),
            status_code: self.status,
            error_class,
            error_message,
            requests: self.requests,
            latency,
            cold: self.cold,
            warm_ttfb_ms,
            bytes: self.last.as_ref().map_or(0, |r| r.body.len() as u64),
            remote_ip: self.remote_ip.map(|ip| ip.to_string()),
            http_version: self.http_version.map(str::to_string),
            tls_cert_days_left: self.cert_days_left,
            redirects: self.redirects,
            attempts: 1,
            tags: check.tags.clone(),
            probe: ProbeHealth {
                cold_start: prober.inner.cold_start.load(Ordering::Relaxed),
                start_delay_ms: (started_at_ms - scheduled_at_ms) as f64,
                kernel_timestamps: !self.latencies.is_empty()
                    && self.kernel_timed == self.latencies.len(),
            },
        };
        result.cap_text_fields();
        result
    }
}
