//! The HTTP server: accept loop, per-connection tasks and graceful shutdown. The
//! listener, the data source, the clock and the shutdown signal are all passed in, so a
//! test binds `127.0.0.1:0` and runs the real server.

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::Request;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::catalog::CheckCatalog;
use super::public::PublicChecks;
use super::routes;
use webmon_core::ports::{Clock, SystemClock};
use webmon_core::read::{AlertReader, Overview, Uptime};
use webmon_core::report::StatsReader;

/// How long open connections get to finish once shutdown is asked for.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// How long a client may take to send its request headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How long an overview is reused: concurrent and repeated requests within it share one
/// store query.
pub const OVERVIEW_CACHE: Duration = Duration::from_secs(2);

/// How long a daily uptime history is reused: it is read from raw samples of many
/// days, and a day's figure barely moves within a minute.
pub const UPTIME_CACHE: Duration = Duration::from_secs(60);

/// What [`serve_with`] takes besides the listener and the source.
#[derive(Clone)]
pub struct ServeOptions {
    /// The clock that anchors `since` windows and staleness.
    pub clock: Arc<dyn Clock>,
    /// The configured checks, if known (`webmon run` passes its own).
    pub catalog: Option<Arc<dyn CheckCatalog>>,
    /// The alert evaluator's state, when the store keeps it (the SQLite store of
    /// `webmon run`): each check's alert level and its incident history.
    pub alerts: Option<Arc<dyn AlertReader>>,
    /// The checks the public status page (`/status`) shows; none by default.
    pub public: PublicChecks,
    /// Serve only the status page, its assets and `/healthz` (everything else is 404),
    /// for exposing the status page where the dashboard must not be.
    pub status_only: bool,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock),
            catalog: None,
            alerts: None,
            public: PublicChecks::default(),
            status_only: false,
        }
    }
}

/// A cached overview: when it was read, for which `since`, and the overview.
pub(crate) type OverviewCache = tokio::sync::Mutex<Option<(std::time::Instant, String, Overview)>>;

/// A cached uptime history: when it was read, for how many days, and the history.
pub(crate) type UptimeCache = tokio::sync::Mutex<Option<(std::time::Instant, u32, Uptime)>>;

/// What every request handler shares.
pub(crate) struct State {
    pub(crate) source: Arc<dyn StatsReader>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) catalog: Option<Arc<dyn CheckCatalog>>,
    pub(crate) alerts: Option<Arc<dyn AlertReader>>,
    /// Held while the overview is read, so concurrent requests wait for one query.
    pub(crate) overview: OverviewCache,
    /// Held while the uptime history is read, like `overview`.
    pub(crate) uptime: UptimeCache,
    /// The checks the status page shows.
    pub(crate) public: PublicChecks,
    /// Whether only the status page is served.
    pub(crate) status_only: bool,
    /// Host names accepted in the `Host` header; `None` accepts any. Set when bound to
    /// loopback, so a web page elsewhere cannot read the dashboard through DNS rebinding.
    pub(crate) allowed_hosts: Option<Vec<String>>,
}

fn allowed_hosts(local: SocketAddr) -> Option<Vec<String>> {
    if !local.ip().is_loopback() {
        return None;
    }
    let mut hosts = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "[::1]".to_string(),
    ];
    match local.ip() {
        IpAddr::V4(ip) => hosts.push(ip.to_string()),
        IpAddr::V6(ip) => hosts.push(format!("[{ip}]")),
    }
    Some(hosts)
}

/// Serves the dashboard on `listener` from `source` until `shutdown` completes, then
/// lets open connections finish (up to [`SHUTDOWN_GRACE`]).
///
/// `webmon dashboard` and `webmon run` both call this. The server is read-only; bind it
/// to loopback unless the network in front of it is trusted.
pub async fn serve(
    listener: TcpListener,
    source: Arc<dyn StatsReader>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    serve_with_clock(listener, source, Arc::new(SystemClock), shutdown).await
}

/// [`serve`] with the clock that anchors `since` windows passed in.
pub async fn serve_with_clock(
    listener: TcpListener,
    source: Arc<dyn StatsReader>,
    clock: Arc<dyn Clock>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let options = ServeOptions {
        clock,
        ..Default::default()
    };
    serve_with(listener, source, options, shutdown).await
}

/// [`serve`] with its options: the clock, the configured checks, the alert state and
/// the status page's checks.
pub async fn serve_with(
    listener: TcpListener,
    source: Arc<dyn StatsReader>,
    options: ServeOptions,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let local = listener.local_addr()?;
    let state = Arc::new(State {
        source,
        clock: options.clock,
        catalog: options.catalog,
        alerts: options.alerts,
        overview: tokio::sync::Mutex::new(None),
        uptime: tokio::sync::Mutex::new(None),
        public: options.public,
        status_only: options.status_only,
        allowed_hosts: allowed_hosts(local),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    tracing::info!(address = %local, "dashboard listening on http://{local}/");
    loop {
        while connections.try_join_next().is_some() {}
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors or a reset before accept: keep serving.
                    tracing::warn!(error = %e, "failed to accept a dashboard connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let state = state.clone();
        let mut stop = stop_rx.clone();
        connections.spawn(async move {
            let service = service_fn(move |req: Request<Incoming>| routes::handle(req, state.clone()));
            let mut builder = auto::Builder::new(TokioExecutor::new());
            builder.http1().timer(TokioTimer::new()).header_read_timeout(HEADER_READ_TIMEOUT);
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            let outcome = tokio::select! {
                outcome = conn.as_mut() => outcome,
                _ = stop.changed() => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = outcome {
                tracing::debug!(peer = %peer, error = %e, "dashboard connection ended with an error");
            }
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    });
    if drained.await.is_err() {
        tracing::warn!("dashboard connections still open after {SHUTDOWN_GRACE:?}; closing them");
        connections.abort_all();
    }
    Ok(())
}
