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
//!    handshake -> first request byte written to first response byte received (`ttfb_ms`,
//!    from kernel receive timestamps on Linux, see `timed_io`) -> to the last body byte
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
mod execution;
pub mod guard;
pub mod kernel_time;
mod timed_io;
mod tls;

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::check::{resolve_secrets, Check};
use crate::result::{ErrorClass, ProbeResult};
use exchange::RequestSpec;
use execution::Execution;

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
            || self
                .options
                .guard_exempt
                .iter()
                .any(|net| net.contains(&ip))
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
        // Switch kernel receive stamps on now, so the first probe's packets carry them.
        kernel_time::hold_enabled();
        let cold_start = AtomicBool::new(options.cold_start);
        Self {
            inner: Arc::new(Inner {
                options,
                tls,
                cold_start,
            }),
        }
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
            let resolved = resolve_secrets(value).map_err(|e| {
                Failure::new(
                    ErrorClass::Other,
                    format!("failed to resolve header {name}: {e}"),
                )
            })?;
            let value = http::HeaderValue::from_str(&resolved).map_err(|_| {
                Failure::new(
                    ErrorClass::Other,
                    format!("failed to use header {name}: invalid value"),
                )
            })?;
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
            let outcome = tokio::time::timeout(
                check.timeout,
                exec.request(&self.inner, check, &spec, cold, &mut stage),
            )
            .await;
            let response = match outcome {
                Ok(r) => r?,
                Err(_) => {
                    let url = exec.final_url.as_ref().unwrap_or(&check.url);
                    return Err(Failure::new(
                        ErrorClass::Timeout,
                        format!(
                            "no complete response from {url} within {} ms ({})",
                            check.timeout.as_millis(),
                            stage.as_str()
                        ),
                    ));
                }
            };
            let status = response.status;
            exec.last = Some(response);
            assert::check_status(&check.assertions, status)
                .map_err(|f| Failure::new(f.class, f.message))?;
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
