//! `webmon dashboard`: serves the read-only web dashboard from a result store until
//! Ctrl-C. `webmon run` serves the same pages in-process through
//! [`webmon_dashboard::serve`].

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use webmon_core::read::ResultReader;
use webmon_dashboard::{CheckCatalog, ConfiguredCheck, ServeOptions};
use webmon_local::runner::status::RunStatus;
use webmon_local::store::SqliteStore;

use super::source::{SourceArgs, SqliteOpen};

/// Arguments of `webmon dashboard`.
#[derive(clap::Args)]
pub struct Args {
    /// The store to read (`--source`, `--db`, the Timestream table).
    #[command(flatten)]
    store: SourceArgs,
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Address to bind. The dashboard has no login: keep it on loopback unless the
    /// network in front of it is trusted.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    bind: IpAddr,
    /// The checks file being run, if any: its checks without results show as pending,
    /// and their intervals say when a result is stale; its `settings.db` names the
    /// store when neither `--db` nor `WEBMON_DB` does.
    #[arg(long, value_name = "FILE")]
    config: Option<std::path::PathBuf>,
}

/// The checks `webmon run` is running, for its dashboard.
struct RunCatalog(RunStatus);

impl CheckCatalog for RunCatalog {
    fn checks(&self) -> Vec<ConfiguredCheck> {
        self.0
            .snapshot()
            .into_iter()
            .map(|c| ConfiguredCheck {
                id: c.id,
                url: c.url,
                interval_ms: c.interval_ms,
            })
            .collect()
    }
}

async fn bind(ip: IpAddr, port: u16) -> anyhow::Result<tokio::net::TcpListener> {
    let addr = SocketAddr::new(ip, port);
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| {
        format!("failed to listen on {addr} for the dashboard (pick another --port)")
    })?;
    let local = listener
        .local_addr()
        .context("failed to read the dashboard's address")?;
    if !local.ip().is_loopback() {
        tracing::warn!(address = %local, "the dashboard is reachable from the network and has no login");
    }
    Ok(listener)
}

/// The dashboard served next to `webmon run`; stop it once the runner has drained.
pub struct RunDashboard {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunDashboard {
    /// Stops serving and waits for open connections (bounded by the server's grace).
    pub async fn stop(self) {
        let _ = self.stop.send(());
        match self.task.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "the dashboard stopped with an error"),
            Err(e) => tracing::warn!(error = %e, "the dashboard task failed"),
        }
    }
}

/// Binds `ip:port` and serves the dashboard from `store` in the background, for
/// `webmon run` (`--port`, `--bind`; `--no-ui` skips this).
pub async fn spawn_for_run(
    store: &SqliteStore,
    status: RunStatus,
    ip: IpAddr,
    port: u16,
) -> anyhow::Result<RunDashboard> {
    let listener = bind(ip, port).await?;
    let local = listener
        .local_addr()
        .context("failed to read the dashboard's address")?;
    println!("webmon dashboard on http://{local}/");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let source: Arc<dyn ResultReader> = Arc::new(store.clone());
    let options = ServeOptions {
        catalog: Some(Arc::new(RunCatalog(status))),
        alerts: Some(Arc::new(store.clone())),
        ..Default::default()
    };
    let task = tokio::spawn(webmon_dashboard::serve_with(
        listener,
        source,
        options,
        async move {
            let _ = stopped.await;
        },
    ));
    Ok(RunDashboard { stop, task })
}

/// Runs `webmon dashboard`.
pub async fn run(mut args: Args) -> anyhow::Result<ExitCode> {
    if let Some(config) = &args.config {
        args.store.apply_settings(config)?;
    }
    let source = args.store.open(SqliteOpen::Existing).await?;
    let catalog: Option<Arc<dyn CheckCatalog>> = match &args.config {
        Some(path) => {
            let outcome = webmon_core::check::load_checks_file(path);
            let checks: Vec<ConfiguredCheck> = outcome
                .checks
                .iter()
                .filter(|c| c.enabled)
                .map(|c| ConfiguredCheck {
                    id: c.id.clone(),
                    url: c.url.to_string(),
                    interval_ms: c.interval.seconds() as i64 * 1000,
                })
                .collect();
            Some(Arc::new(checks))
        }
        None => None,
    };
    let listener = bind(args.bind, args.port).await?;
    let local = listener
        .local_addr()
        .context("failed to read the dashboard's address")?;
    println!("webmon dashboard on http://{local}/ (Ctrl-C to stop)");
    let shutdown = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "failed to listen for Ctrl-C; stop the process to exit");
            std::future::pending::<()>().await;
        }
    };
    let options = ServeOptions {
        catalog,
        alerts: args.store.alerts()?,
        ..Default::default()
    };
    webmon_dashboard::serve_with(listener, source, options, shutdown)
        .await
        .context("failed to serve the dashboard")?;
    Ok(ExitCode::SUCCESS)
}
