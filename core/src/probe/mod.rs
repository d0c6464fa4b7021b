//! The probe engine.
//!
//! A hyper-level HTTP(S) client rather than reqwest: reqwest exposes no per-phase
//! timings, and timing DNS, TCP connect and the TLS handshake separately needs the
//! connection steps in our hands. Each execution of a check runs its N requests:
//!
//! 1. **Cold request** on a fresh connection: DNS on the runtime with a timeout per query
//!    ([`resolve`]; `dns_ms`, 0 for IP literals) -> the SSRF guard ([`guard`]) on *every* resolved address, connecting
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
//! cap (lowered by the deployment's cap, if any) and under a process-wide budget of body
//! bytes in flight; gzip bodies are decoded (also under both) before assertions run. The
//! first failing request ends the execution. A target that is down is a result, never an
//! `Err`.
//!
//! Secrets: header values may hold `${env:NAME}` and `${secret:NAME}` references, read
//! through the engine's [`SecretSource`] when the execution starts. Headers that carry
//! credentials (`Authorization`, `Cookie`, `Proxy-Authorization`, any value built from a
//! secret) are dropped on a redirect to another origin, an https -> http redirect is
//! refused while they are set, and a secret bound to hosts is never sent elsewhere.
//!
//! Layout: [`guard`] (address classification), [`assert`] (assertions over a response
//! snapshot), [`batch`] (scheduled, bounded-concurrency runs); `connect`, `tls` and
//! `exchange` hold the connection steps.

pub mod assert;
pub mod batch;
mod budget;
mod connect;
mod exchange;
mod execution;
pub mod guard;
mod json;
pub mod kernel_time;
pub mod resolve;
mod secrets;
mod timed_io;
mod tls;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::check::{Check, SecretPolicy};
use crate::ports::SecretSource;
use crate::result::{ErrorClass, ProbeResult};
use budget::BodyBudget;
use exchange::RequestSpec;
use execution::Execution;

pub use batch::run_scheduled;
pub use resolve::DEFAULT_DNS_QUERY_TIMEOUT;
pub use secrets::EnvSecrets;

/// Default process-wide budget of body bytes in flight: 256 MiB.
pub const DEFAULT_BODY_BUDGET_BYTES: u64 = 256 << 20;

/// The environment variable through which AWS Lambda tells a function where its Runtime
/// API listens; the engine never connects there (see [`ProbeOptions::blocked_endpoints`]).
pub const LAMBDA_RUNTIME_API_ENV: &str = "AWS_LAMBDA_RUNTIME_API";

/// Engine-wide options, all set by the operator (never by a check).
#[derive(Debug, Clone, Default)]
pub struct ProbeOptions {
    /// Region label written into results.
    pub region: String,
    /// Extra trusted root certificates (DER), e.g. a private CA; webpki roots always apply.
    pub extra_roots_der: Vec<Vec<u8>>,
    /// Networks the SSRF guard treats as public for every check (tests, labs). A network
    /// exempts sensitive addresses (link-local, metadata, the Runtime API) only when it
    /// lies inside their named range (see [`guard::SENSITIVE_RANGES`]).
    pub guard_exempt: Vec<ipnet::IpNet>,
    /// The deployment allows private targets: a check's `allow_private` is honoured only
    /// when this is on (`--allow-private` on `webmon run`, a stack setting on AWS). Off by
    /// default. Link-local, metadata and Runtime API addresses stay refused regardless.
    pub allow_private: bool,
    /// Initial value of the "fresh probe process" flag written into results; see
    /// [`Prober::set_cold_start`].
    pub cold_start: bool,
    /// Endpoints never connected to, whatever a check allows: the Lambda Runtime API.
    /// The address in `AWS_LAMBDA_RUNTIME_API` is added automatically when it is set.
    pub blocked_endpoints: Vec<SocketAddr>,
    /// Name servers to ask instead of those of `/etc/resolv.conf`.
    pub name_servers: Vec<SocketAddr>,
    /// Timeout of one DNS query; [`DEFAULT_DNS_QUERY_TIMEOUT`] when unset. A name
    /// lookup takes at most twice this before failing with class `dns`.
    pub dns_query_timeout: Option<Duration>,
    /// Process-wide budget of body bytes held in memory by probes at once (raw and
    /// decoded); [`DEFAULT_BODY_BUDGET_BYTES`] when unset. A probe waits for room (within
    /// its timeout); no body may be larger than the whole budget.
    pub body_budget_bytes: Option<u64>,
    /// The deployment's cap on `max_body_bytes` (e.g. lower on AWS Lambda): a check's own
    /// cap is lowered to it.
    pub max_body_bytes_cap: Option<u64>,
    /// Where `${env:...}` and `${secret:...}` references are read;
    /// `EnvSecrets::new(SecretPolicy::default())` when unset.
    pub secret_source: Option<Arc<dyn SecretSource>>,
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
    WaitingForMemory,
}

impl Stage {
    fn as_str(self) -> &'static str {
        match self {
            Self::Resolving => "resolving the name",
            Self::Connecting => "connecting",
            Self::Tls => "in the TLS handshake",
            Self::WaitingForHeaders => "waiting for response headers",
            Self::ReadingBody => "reading the body",
            Self::WaitingForMemory => "waiting for room in the engine's body memory budget",
        }
    }
}

pub(crate) struct Inner {
    options: ProbeOptions,
    tls: Arc<rustls::ClientConfig>,
    cold_start: AtomicBool,
    dns: resolve::Dns,
    budget: BodyBudget,
    secrets: Arc<dyn SecretSource>,
    blocked_endpoints: Vec<SocketAddr>,
}

impl Inner {
    /// Whether the guard lets a probe connect to `addr`; the error says why not.
    fn permits(&self, addr: SocketAddr, check_allows_private: bool) -> Result<(), String> {
        let ip = addr.ip();
        let exempt = || {
            self.options
                .guard_exempt
                .iter()
                .any(|net| net.contains(&ip))
        };
        let exempt_by_name = |host_only: bool| {
            self.options.guard_exempt.iter().any(|net| {
                net.contains(&ip)
                    && if host_only {
                        net.prefix_len() == net.max_prefix_len()
                    } else {
                        guard::names_sensitive_range(net)
                    }
            })
        };
        if self.blocked_endpoints.contains(&addr) && !exempt_by_name(true) {
            return Err(format!(
                "{addr} is the Lambda Runtime API endpoint, never probed \
                 (unless the operator exempts {ip} by name)"
            ));
        }
        match guard::classify(ip) {
            None => Ok(()),
            Some(refusal) if refusal.is_sensitive() => {
                if exempt_by_name(false) {
                    Ok(())
                } else {
                    Err(format!(
                        "{ip} is a {}, never probed, even with allow_private \
                         (unless the operator exempts its network by name)",
                        refusal.as_str()
                    ))
                }
            }
            Some(refusal) => {
                if exempt() || (check_allows_private && self.options.allow_private) {
                    Ok(())
                } else if check_allows_private {
                    Err(format!(
                        "{ip} is a {}; the check sets allow_private but this deployment \
                         does not allow private targets",
                        refusal.as_str()
                    ))
                } else {
                    Err(format!(
                        "{ip} is a {} (set allow_private on a deployment that allows \
                         private targets to permit it)",
                        refusal.as_str()
                    ))
                }
            }
        }
    }

    /// The longest a name lookup may take: twice the query timeout (one query for each
    /// address family).
    fn dns_lookup_bound(&self) -> Duration {
        self.options
            .dns_query_timeout
            .unwrap_or(DEFAULT_DNS_QUERY_TIMEOUT)
            .saturating_mul(2)
    }

    /// The body cap of `check` on this engine: its own, lowered to the deployment's cap
    /// and to the whole budget.
    fn body_cap(&self, check: &Check) -> u64 {
        check
            .max_body_bytes
            .min(self.options.max_body_bytes_cap.unwrap_or(u64::MAX))
            .min(self.budget.total())
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
        let dns = resolve::Dns::new(
            &options.name_servers,
            options
                .dns_query_timeout
                .unwrap_or(DEFAULT_DNS_QUERY_TIMEOUT),
        );
        let budget = BodyBudget::new(
            options
                .body_budget_bytes
                .unwrap_or(DEFAULT_BODY_BUDGET_BYTES),
        );
        let secrets = options
            .secret_source
            .clone()
            .unwrap_or_else(|| Arc::new(EnvSecrets::new(SecretPolicy::default())));
        let mut blocked_endpoints = options.blocked_endpoints.clone();
        if let Ok(text) = std::env::var(LAMBDA_RUNTIME_API_ENV) {
            match text.parse::<SocketAddr>() {
                Ok(addr) => blocked_endpoints.push(addr),
                Err(_) => {
                    tracing::warn!(value = %text, "failed to read {LAMBDA_RUNTIME_API_ENV} as an address; it is not blocked by address")
                }
            }
        }
        Self {
            inner: Arc::new(Inner {
                options,
                tls,
                cold_start,
                dns,
                budget,
                secrets,
                blocked_endpoints,
            }),
        }
    }

    /// Body bytes held by probes now, and the budget (see
    /// [`ProbeOptions::body_budget_bytes`]).
    pub fn body_bytes_in_flight(&self) -> (u64, u64) {
        (self.inner.budget.in_use(), self.inner.budget.total())
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

    /// Runs one execution of `check` (its N requests) scheduled at `scheduled_at_ms`,
    /// retrying a failure as the check's retry policy says (each attempt on fresh
    /// connections, after the policy's delay). Never fails: a target that is down is a
    /// result, holding the last attempt's data and the number of attempts.
    pub async fn probe(&self, check: &Check, scheduled_at_ms: i64) -> ProbeResult {
        let started_at_ms = chrono::Utc::now().timestamp_millis();
        let mut attempt = 1;
        loop {
            let mut exec = Execution::new(check);
            let failure = self.run(check, &mut exec).await.err();
            let retry = failure.as_ref().is_some_and(|f| {
                attempt <= check.retries.count && retried(&check.retries, f.class)
            });
            if !retry {
                let mut result =
                    exec.into_result(self, check, scheduled_at_ms, started_at_ms, failure);
                result.attempts = attempt;
                return result;
            }
            let delay = check.retries.delay_before(attempt);
            tokio::time::sleep(Duration::from_millis(delay)).await;
            attempt += 1;
        }
    }

    async fn run(&self, check: &Check, exec: &mut Execution) -> Result<(), Failure> {
        let mut headers = Vec::with_capacity(check.headers.len());
        for (name, template) in &check.headers {
            let header = secrets::resolve_header(self.inner.secrets.as_ref(), name, template)
                .await
                .map_err(|(refused, e)| {
                    let class = if refused {
                        ErrorClass::Blocked
                    } else {
                        ErrorClass::Other
                    };
                    Failure::new(class, format!("failed to resolve header {name}: {e}"))
                })?;
            headers.push(header);
        }
        let spec = RequestSpec {
            method: check.method.clone(),
            headers: &headers,
            body: check.body.clone().map(Bytes::from),
            max_body_bytes: self.inner.body_cap(check),
            budget: &self.inner.budget,
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
                            "no complete response from {} within {} ms ({})",
                            crate::result::excerpt(url.as_str()),
                            check.timeout.as_millis(),
                            stage.as_str()
                        ),
                    ));
                }
            };
            // Every response must pass the response assertions (status, body, JSON,
            // headers), not only the last one.
            let checked = assert::check_response(
                &check.assertions,
                response.status,
                &response.headers,
                &response.body,
            );
            exec.last = Some(response);
            checked.map_err(|f| {
                // The first request's failures read as before; a later one says which.
                let message = if i > 0 {
                    format!("request {} of {}: {}", i + 1, check.requests, f.message)
                } else {
                    f.message
                };
                Failure::new(f.class, message)
            })?;
        }
        let avg_latency = Duration::from_secs_f64(exec.latency_stats().avg_ms / 1e3);
        assert::check_execution(&check.assertions, avg_latency, exec.cert_days_left)
            .map_err(|f| Failure::new(f.class, f.message))
    }
}

/// Whether the policy retries a failure of `class`: `network` retries DNS, connect, TLS
/// and timeout failures, `any` every failure but a refusal by the address guard (the
/// operator's rule, never transient).
fn retried(policy: &crate::check::RetryPolicy, class: ErrorClass) -> bool {
    match policy.on {
        crate::check::RetryOn::Any => class != ErrorClass::Blocked,
        crate::check::RetryOn::Network => matches!(
            class,
            ErrorClass::Dns | ErrorClass::Connect | ErrorClass::Tls | ErrorClass::Timeout
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_retries_only_network_failures_and_any_never_a_guard_refusal() {
        let network = crate::check::RetryPolicy::default();
        assert!(retried(&network, ErrorClass::Connect) && retried(&network, ErrorClass::Timeout));
        assert!(
            !retried(&network, ErrorClass::HttpStatus) && !retried(&network, ErrorClass::Blocked)
        );
        let any = crate::check::RetryPolicy {
            on: crate::check::RetryOn::Any,
            ..network
        };
        assert!(retried(&any, ErrorClass::HttpStatus) && !retried(&any, ErrorClass::Blocked));
    }

    fn prober(exempt: &[&str]) -> Prober {
        Prober::new(ProbeOptions {
            allow_private: true,
            guard_exempt: exempt.iter().map(|n| n.parse().unwrap()).collect(),
            ..Default::default()
        })
    }

    fn permits(prober: &Prober, addr: &str) -> bool {
        prober.inner.permits(addr.parse().unwrap(), true).is_ok()
    }

    #[test]
    fn link_local_metadata_and_local_nat64_stay_blocked_with_private_allowed() {
        let open = prober(&[]);
        assert!(permits(&open, "10.0.0.1:80") && permits(&open, "127.0.0.1:80"));
        for addr in [
            "169.254.169.254:80",
            "169.254.170.2:80",
            "[fd00:ec2::254]:80",
            "[fd00:ec2::23]:80",
            "[fe80::1]:80",
            "[::ffff:169.254.169.254]:80",
            "[64:ff9b::a9fe:a9fe]:80",
            "[64:ff9b:1::808:808]:80",
            "[64:ff9b:1:abcd::1]:80",
        ] {
            assert!(!permits(&open, addr), "{addr}");
        }
        // A wide exemption does not reach them; one naming their range does.
        let wide = prober(&["0.0.0.0/0", "::/0"]);
        assert!(!permits(&wide, "169.254.169.254:80"));
        assert!(!permits(&wide, "[fd00:ec2::254]:80"));
        let named = prober(&["169.254.169.254/32", "fd00:ec2::/32"]);
        assert!(permits(&named, "169.254.169.254:80"));
        assert!(!permits(&named, "169.254.169.253:80"));
        assert!(permits(&named, "[fd00:ec2::254]:80"));
    }

    #[test]
    fn a_check_asking_for_private_is_refused_when_the_operator_has_not_allowed_it() {
        let closed = Prober::new(ProbeOptions::default());
        let why = closed
            .inner
            .permits("10.0.0.1:80".parse().unwrap(), true)
            .unwrap_err();
        assert!(why.contains("does not allow private targets"), "{why}");
        assert!(closed
            .inner
            .permits("10.0.0.1:80".parse().unwrap(), false)
            .is_err());
    }
}
