//! `webmon dashboard`: serves the read-only web dashboard from a result store until
//! Ctrl-C. `webmon run` serves the same pages in-process through
//! [`webmon_dashboard::serve`].

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use webmon_core::report::StatsReader;
use webmon_dashboard::{CheckCatalog, ConfiguredCheck, PublicChecks, ServeOptions};
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
    /// Checks the public status page (`/status`) shows: a check id, or `KEY=VALUE` for
    /// every configured check with that tag (needs `--config`). Repeat it or separate
    /// with commas. Without it the status page lists no check.
    #[arg(long, value_name = "ID|KEY=VALUE", value_delimiter = ',')]
    status_public: Vec<String>,
    /// Serve only the public status page (`/status`, its data and assets, `/healthz`):
    /// no URL, error message or other page is reachable, so it is safe to expose.
    #[arg(long)]
    status_only: bool,
}

/// The enabled checks of the checks file at `path`, with their settings.
fn configured_checks(path: &std::path::Path) -> Vec<ConfiguredCheck> {
    webmon_core::check::load_checks_file(path)
        .checks
        .iter()
        .filter(|c| c.enabled)
        .map(ConfiguredCheck::from)
        .collect()
}

/// The checks `webmon run` is running, for its dashboard: the runner's set, each with
/// its settings from the checks file (read again only when the file changes).
struct RunCatalog {
    status: RunStatus,
    config: std::path::PathBuf,
    /// The checks file's modification time and length when last read, and its checks.
    settings: std::sync::Mutex<Option<(FileStamp, Vec<ConfiguredCheck>)>>,
}

/// What says a file changed: its modification time and length.
type FileStamp = (Option<std::time::SystemTime>, u64);

impl RunCatalog {
    fn settings(&self) -> Vec<ConfiguredCheck> {
        let stamp = std::fs::metadata(&self.config)
            .map(|m| (m.modified().ok(), m.len()))
            .unwrap_or((None, 0));
        let mut cached = self.settings.lock().unwrap_or_else(|p| p.into_inner());
        match cached.as_ref() {
            Some((at, checks)) if *at == stamp => checks.clone(),
            _ => {
                let checks = configured_checks(&self.config);
                *cached = Some((stamp, checks.clone()));
                checks
            }
        }
    }
}

impl CheckCatalog for RunCatalog {
    fn checks(&self) -> Vec<ConfiguredCheck> {
        let settings = self.settings();
        self.status
            .snapshot()
            .into_iter()
            .map(|c| {
                let known = settings.iter().find(|s| s.id == c.id && s.url == c.url);
                known.cloned().unwrap_or(ConfiguredCheck {
                    id: c.id,
                    url: c.url,
                    interval_ms: c.interval_ms,
                    ..Default::default()
                })
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
/// `webmon run` (`--port`, `--bind`; `--no-ui` skips this). `config` is the checks file
/// being run, where the dashboard reads each check's settings.
pub async fn spawn_for_run(
    store: &SqliteStore,
    status: RunStatus,
    config: &std::path::Path,
    ip: IpAddr,
    port: u16,
) -> anyhow::Result<RunDashboard> {
    let listener = bind(ip, port).await?;
    let local = listener
        .local_addr()
        .context("failed to read the dashboard's address")?;
    println!("webmon dashboard on http://{local}/");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let source: Arc<dyn StatsReader> = Arc::new(store.clone());
    let options = ServeOptions {
        catalog: Some(Arc::new(RunCatalog {
            status,
            config: config.to_path_buf(),
            settings: std::sync::Mutex::new(None),
        })),
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
    let catalog: Option<Arc<dyn CheckCatalog>> = args
        .config
        .as_deref()
        .map(|path| Arc::new(configured_checks(path)) as Arc<dyn CheckCatalog>);
    let public = PublicChecks::parse(args.status_public.iter().map(String::as_str));
    anyhow::ensure!(
        public.tags.is_empty() || catalog.is_some(),
        "--status-public with KEY=VALUE selects checks by their tags: give the checks file with --config"
    );
    let listener = bind(args.bind, args.port).await?;
    let local = listener
        .local_addr()
        .context("failed to read the dashboard's address")?;
    if args.status_only {
        println!("webmon status page on http://{local}/status (Ctrl-C to stop)");
    } else {
        println!("webmon dashboard on http://{local}/ (Ctrl-C to stop)");
    }
    let shutdown = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "failed to listen for Ctrl-C; stop the process to exit");
            std::future::pending::<()>().await;
        }
    };
    let options = ServeOptions {
        catalog,
        alerts: args.store.alerts()?,
        public,
        status_only: args.status_only,
        ..Default::default()
    };
    webmon_dashboard::serve_with(listener, source, options, shutdown)
        .await
        .context("failed to serve the dashboard")?;
    Ok(ExitCode::SUCCESS)
}
