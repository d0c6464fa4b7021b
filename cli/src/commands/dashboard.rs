//! `webmon dashboard`: serves the read-only web dashboard from a result store until
//! Ctrl-C. `webmon run` serves the same pages in-process through
//! [`webmon_core::dashboard::serve`].

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
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
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Address to bind. The dashboard has no login: keep it on loopback unless the
    /// network in front of it is trusted.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    bind: IpAddr,
}

fn open_source(args: &Args) -> anyhow::Result<Arc<dyn DashboardSource>> {
    match args.source {
        Source::Sqlite => {
            if !args.db.exists() {
                anyhow::bail!(
                    "failed to open the SQLite store {}: no such file (start `webmon run --db {}` first, or pass --db)",
                    args.db.display(),
                    args.db.display()
                );
            }
            let store = SqliteStore::open(&args.db)
                .with_context(|| format!("failed to open the SQLite store {}", args.db.display()))?;
            Ok(Arc::new(store))
        }
        Source::Timestream => anyhow::bail!(
            "failed to open the timestream source: timestream source needs a Timestream query runner \
             (aws-sdk-timestreamquery) in webmon-aws, which is not built yet; use --source sqlite, \
             or the Grafana dashboard in grafana/webmon-timestream.json (see docs/dashboard.md)"
        ),
    }
}

/// Runs `webmon dashboard`.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let source = open_source(&args)?;
    let addr = SocketAddr::new(args.bind, args.port);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("failed to listen on {addr}"))?;
    let local = listener
        .local_addr()
        .context("failed to read the listening address")?;
    if !local.ip().is_loopback() {
        tracing::warn!(address = %local, "the dashboard is reachable from the network and has no login");
    }
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
