//! The probe engine.
//!
//! A hyper-level HTTP(S) client rather than reqwest: reqwest exposes no per-phase
//! timings, and timing DNS, TCP connect and the TLS handshake separately needs the
//! connection steps in our hands. Each execution of a check runs its N requests:
//!
//! 1. **Cold request** on a fresh connection: DNS via the system resolver (`dns_ms`, 0 for
//!    IP literals) -> the SSRF guard ([`guard`]) on *every* resolved address, connecting
//!    only to permitted ones, in order -> TCP connect (`connect_ms`) -> TLS handshake with
//!    rustls, ALPN `h2`/`http/1.1` (`tls_ms`, 0 for http) -> HTTP/1.1 or HTTP/2 client
//!    handshake -> request sent to response head (`ttfb_ms`) -> head to last body byte
//!    (`transfer_ms`). When redirects are followed, DNS, connect and TLS add up over the
//!    connections opened and ttfb/transfer are those of the final response.
//! 2. **Warm requests** reuse that connection (reconnecting if the server closed it) and
//!    go straight to the final URL of the cold request; their ttfb is `warm_ttfb_ms`.
//!
//! Redirects are followed by hand so every hop is re-resolved and re-guarded. Each
//! request, redirects and body included, is bounded by the check's timeout, so a server
//! that trickles or hangs cannot hold a probe longer. Bodies are read under the check's
//! cap; gzip bodies are decoded (also under the cap) before assertions run. The first
//! failing request ends the execution. A target that is down is a result, never an `Err`.
//!
//! Layout: [`guard`] (address classification), [`assert`] (assertions over a response
//! snapshot), [`batch`] (scheduled, bounded-concurrency runs); `connect`, `tls` and
//! `exchange` hold the connection steps.

pub mod assert;
pub mod batch;
mod connect;
mod exchange;
pub mod guard;
mod tls;

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use url::Url;

use crate::check::{resolve_secrets, Check};
use crate::result::{ErrorClass, LatencyStats, Phases, ProbeHealth, ProbeResult, RESULT_VERSION};
use connect::Conn;
use exchange::{RequestSpec, Response, SendError};

pub use batch::run_scheduled;

/// Engine-wide options.
#[derive(Debug, Clone, Default)]
pub struct ProbeOptions {
    /// Region label written into results.
    pub region: String,
    /// Extra trusted root certificates (DER), e.g. a private CA; webpki roots always apply.
    pub extra_roots_der: Vec<Vec<u8>>,
    /// Networks the SSRF guard treats as public for every check (tests, labs).
    pub guard_exempt: Vec<ipnet::IpNet>,
    /// Forces `allow_private` on for every check (CLI `--allow-private`).
    pub allow_private: bool,
    /// Initial value of the "fresh probe process" flag written into results; see
    /// [`Prober::set_cold_start`].
    pub cold_start: bool,
}

/// A failure to report: class and human message.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    class: ErrorClass,
    message: String,
}

impl Failure {
    fn new(class: ErrorClass, message: String) -> Self {
        Self { class, message }
    }
}

/// Where a request was when it ran out of time.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Stage {
    Resolving,
    Connecting,
    Tls,
    WaitingForHeaders,
    ReadingBody,
}

impl Stage {
    fn as_str(self) -> &'static str {
        match self {
            Self::Resolving => "resolving the name",
            Self::Connecting => "connecting",
            Self::Tls => "in the TLS handshake",
            Self::WaitingForHeaders => "waiting for response headers",
            Self::ReadingBody => "reading the body",
        }
    }
}

pub(crate) struct Inner {
    options: ProbeOptions,
    tls: Arc<rustls::ClientConfig>,
    cold_start: AtomicBool,
}

impl Inner {
    /// Whether the guard lets a probe connect to `ip`.
    fn permits(&self, ip: IpAddr, check_allows_private: bool) -> bool {
        check_allows_private
            || self.options.allow_private
            || self.options.guard_exempt.iter().any(|net| net.contains(&ip))
            || guard::classify(ip).is_none()
    }
}

/// Probes checks. Cheap to clone; share one per process.
#[derive(Clone)]
pub struct Prober {
    inner: Arc<Inner>,
}

impl Prober {
    /// Builds a prober (TLS configuration included; invalid extra roots are logged and skipped).
    pub fn new(options: ProbeOptions) -> Self {
        let tls = tls::client_config(&options.extra_roots_der);
        let cold_start = AtomicBool::new(options.cold_start);
        Self { inner: Arc::new(Inner { options, tls, cold_start }) }
    }

    /// The options this prober was built with.
    pub fn options(&self) -> &ProbeOptions {
        &self.inner.options
    }

    /// Sets the "fresh probe process" flag written into subsequent results (a Lambda
    /// sets it for its first invocation and clears it afterwards).
    pub fn set_cold_start(&self, cold: bool) {
        self.inner.cold_start.store(cold, Ordering::Relaxed);
    }

    /// Runs one execution of `check` (its N requests) scheduled at `scheduled_at_ms`.
    /// Never fails: a target that is down is a result.
    pub async fn probe(&self, check: &Check, scheduled_at_ms: i64) -> ProbeResult {
        let started_at_ms = chrono::Utc::now().timestamp_millis();
        let mut exec = Execution::new(check);
        let failure = self.run(check, &mut exec).await.err();
        exec.into_result(self, check, scheduled_at_ms, started_at_ms, failure)
    }

    async fn run(&self, check: &Check, exec: &mut Execution) -> Result<(), Failure> {
        let mut headers = Vec::with_capacity(check.headers.len());
        for (name, value) in &check.headers {
            let resolved = resolve_secrets(value)
                .map_err(|e| Failure::new(ErrorClass::Other, format!("failed to resolve header {name}: {e}")))?;
            let value = http::HeaderValue::from_str(&resolved)
                .map_err(|_| Failure::new(ErrorClass::Other, format!("failed to use header {name}: invalid value")))?;
            headers.push((name.clone(), value));
        }
        let spec = RequestSpec {
            method: check.method.clone(),
            headers: &headers,
            body: check.body.clone().map(Bytes::from),
            max_body_bytes: check.max_body_bytes,
        };
        for i in 0..check.requests {
            exec.requests = i + 1;
            let mut stage = Stage::Resolving;
            let cold = i == 0;
            let outcome = tokio::time::timeout(check.timeout, exec.request(&self.inner, check, &spec, cold, &mut stage)).await;
            let response = match outcome {
                Ok(r) => r?,
                Err(_) => {
                    let url = exec.final_url.as_ref().unwrap_or(&check.url);
                    return Err(Failure::new(
                        ErrorClass::Timeout,
                        format!("no complete response from {url} within {} ms ({})", check.timeout.as_millis(), stage.as_str()),
                    ));
                }
            };
            let status = response.status;
            exec.last = Some(response);
            assert::check_status(&check.assertions, status).map_err(|f| Failure::new(f.class, f.message))?;
        }
        let last = exec.last.as_ref().expect("at least one request ran");
        let snap = assert::Snapshot {
            status: last.status,
            headers: &last.headers,
            body: &last.body,
            avg_latency: Duration::from_secs_f64(exec.latency_stats().avg_ms / 1e3),
            cert_days_left: exec.cert_days_left,
        };
        assert::evaluate(&check.assertions, &snap).map_err(|f| Failure::new(f.class, f.message))
    }
}

/// State of one execution, filled as requests complete (also on failure, so a result
/// carries whatever was measured).
struct Execution {
    conn: Option<Conn>,
    requests: u32,
    cold: Phases,
    latencies: Vec<f64>,
    warm_ttfbs: Vec<f64>,
    status: Option<u16>,
    remote_ip: Option<IpAddr>,
    http_version: Option<&'static str>,
    cert_days_left: Option<i64>,
    redirects: u32,
    final_url: Option<Url>,
    final_method: http::Method,
    last: Option<Response>,
}

fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

impl Execution {
    fn new(check: &Check) -> Self {
        Self {
            conn: None,
            requests: 0,
            cold: Phases::default(),
            latencies: Vec::with_capacity(check.requests as usize),
            warm_ttfbs: Vec::new(),
            status: None,
            remote_ip: None,
            http_version: None,
            cert_days_left: None,
            redirects: 0,
            final_url: None,
            final_method: check.method.clone(),
            last: None,
        }
    }

    /// One logical request: redirects followed, the whole body read.
    async fn request(
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
        let mut method = if cold { spec.method.clone() } else { self.final_method.clone() };
        let mut body = spec.body.clone();
        let mut visited = vec![url.clone()];
        let mut hops = 0;
        loop {
            let hop_spec = RequestSpec { method: method.clone(), headers: spec.headers, body: body.clone(), max_body_bytes: spec.max_body_bytes };
            let reusable = self.conn.as_ref().is_some_and(|c| c.origin == connect::origin(&url) && !c.is_closed());
            if !reusable {
                self.connect(inner, &url, allow_private, cold, stage).await?;
            }
            let conn = self.conn.as_mut().expect("connected above");
            let response = match exchange::send(conn, &url, &hop_spec, stage).await {
                Ok(r) => r,
                Err(SendError::Failed(f)) => return Err(f),
                Err(SendError::Stale(e)) if !reusable => {
                    return Err(Failure::new(ErrorClass::Other, format!("failed to get a response from {url}: {e}")));
                }
                Err(SendError::Stale(_)) => {
                    // The server closed the kept-alive connection: one retry on a fresh one.
                    self.connect(inner, &url, allow_private, cold, stage).await?;
                    let conn = self.conn.as_mut().expect("connected above");
                    exchange::send(conn, &url, &hop_spec, stage).await.map_err(|e| match e {
                        SendError::Failed(f) => f,
                        SendError::Stale(e) => Failure::new(ErrorClass::Other, format!("failed to get a response from {url}: {e}")),
                    })?
                }
            };
            self.status = Some(response.status);
            let location = response.headers.get(http::header::LOCATION).and_then(|v| v.to_str().ok());
            if check.max_redirects > 0 && is_redirect(response.status) {
                if let Some(location) = location {
                    if hops >= check.max_redirects {
                        return Err(Failure::new(
                            ErrorClass::RedirectLimit,
                            format!("more than {} redirects (next hop {location} from {url})", check.max_redirects),
                        ));
                    }
                    let next = url.join(location).map_err(|e| {
                        Failure::new(ErrorClass::Other, format!("failed to follow redirect from {url} to {location:?}: {e}"))
                    })?;
                    if !matches!(next.scheme(), "http" | "https") {
                        return Err(Failure::new(ErrorClass::Other, format!("failed to follow redirect from {url} to {next}: not http(s)")));
                    }
                    if visited.contains(&next) {
                        return Err(Failure::new(ErrorClass::RedirectLimit, format!("redirect loop: {url} leads back to {next}")));
                    }
                    let to_get = response.status == 303 || (matches!(response.status, 301 | 302) && method == http::Method::POST);
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
            if cold {
                self.cold.ttfb_ms = response.ttfb_ms;
                self.cold.transfer_ms = response.transfer_ms;
                self.redirects = hops;
                self.final_url = Some(url);
                self.final_method = method;
            } else {
                self.warm_ttfbs.push(response.ttfb_ms);
            }
            return Ok(response);
        }
    }

    async fn connect(&mut self, inner: &Inner, url: &Url, allow_private: bool, cold: bool, stage: &mut Stage) -> Result<(), Failure> {
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

    fn latency_stats(&self) -> LatencyStats {
        if self.latencies.is_empty() {
            return LatencyStats::default();
        }
        let mut sorted = self.latencies.clone();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let p50 = if n % 2 == 1 { sorted[n / 2] } else { (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0 };
        LatencyStats { avg_ms: sorted.iter().sum::<f64>() / n as f64, min_ms: sorted[0], max_ms: sorted[n - 1], p50_ms: p50 }
    }

    fn into_result(self, prober: &Prober, check: &Check, scheduled_at_ms: i64, started_at_ms: i64, failure: Option<Failure>) -> ProbeResult {
        let latency = self.latency_stats();
        let warm_ttfb_ms = (!self.warm_ttfbs.is_empty()).then(|| self.warm_ttfbs.iter().sum::<f64>() / self.warm_ttfbs.len() as f64);
        let (error_class, error_message) = match failure {
            Some(f) => (Some(f.class), Some(f.message)),
            None => (None, None),
        };
        ProbeResult {
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
            tags: check.tags.clone(),
            probe: ProbeHealth {
                cold_start: prober.inner.cold_start.load(Ordering::Relaxed),
                start_delay_ms: (started_at_ms - scheduled_at_ms) as f64,
            },
        }
    }
}
