//! `webmon dashboard`: serves the read-only web dashboard from a result store until
//! Ctrl-C. `webmon run` serves the same pages in-process through
//! [`webmon_core::dashboard::serve`].

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use webmon_core::dashboard::timestream::{TimestreamQueries, TimestreamSource};
use webmon_core::dashboard::{self, DashboardSource};
use webmon_core::store::SqliteStore;

/// Where the dashboard reads results from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Source {
    /// The embedded SQLite store written by `webmon run` (`--db`).
    Sqlite,
    /// Amazon Timestream, written by the writer Lambda.
    Timestream,
}

/// Arguments of `webmon dashboard`.
#[derive(clap::Args)]
pub struct Args {
    /// Where to read results from.
    #[arg(long, value_enum, default_value = "sqlite")]
    source: Source,
    /// SQLite database written by `webmon run` (with `--source sqlite`).
    #[arg(long, default_value = "webmon.db", env = "WEBMON_DB")]
    db: PathBuf,
    /// The Timestream table (with `--source timestream`).
    #[command(flatten)]
    timestream: super::report::TimestreamArgs,
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Address to bind. The dashboard has no login: keep it on loopback unless the
    /// network in front of it is trusted.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    bind: IpAddr,
}

async fn open_source(args: &Args) -> anyhow::Result<Arc<dyn DashboardSource>> {
    match args.source {
        Source::Sqlite => {
            if !args.db.exists() {
                anyhow::bail!(
                    "failed to open the SQLite store {}: no such file (start `webmon run --db {}` first, or pass --db)",
                    args.db.display(),
                    args.db.display()
                );
            }
            let store = SqliteStore::open(&args.db).with_context(|| {
                format!("failed to open the SQLite store {}", args.db.display())
            })?;
            Ok(Arc::new(store))
        }
        Source::Timestream => {
            let t = &args.timestream;
            let queries = TimestreamQueries::new(&t.database, &t.table)
                .map_err(|e| anyhow::anyhow!("failed to read --database/--table: {e}"))?;
            // The report's connect validates the names with the service's naming rule.
            let (_, runner) = t.connect().await?;
            Ok(Arc::new(TimestreamSource::new(Arc::new(runner), queries)))
        }
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
    ip: IpAddr,
    port: u16,
) -> anyhow::Result<RunDashboard> {
    let listener = bind(ip, port).await?;
    let local = listener
        .local_addr()
        .context("failed to read the dashboard's address")?;
    println!("webmon dashboard on http://{local}/");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let source: Arc<dyn DashboardSource> = Arc::new(store.clone());
    let task = tokio::spawn(dashboard::serve(listener, source, async move {
        let _ = stopped.await;
    }));
    Ok(RunDashboard { stop, task })
}

/// Runs `webmon dashboard`.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let source = open_source(&args).await?;
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
    dashboard::serve(listener, source, shutdown)
        .await
        .context("failed to serve the dashboard")?;
    Ok(ExitCode::SUCCESS)
}
