//! `webmon run`: the one-machine monitor. Probes the checks of a file on schedule,
//! stores results in SQLite, reloads the file when it changes, and on Ctrl-C (or
//! SIGTERM, or `--duration`) drains everything in flight before exiting.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use webmon_core::ports::SystemClock;
use webmon_core::probe::{EnvSecrets, ProbeOptions, Prober};
use webmon_demo_target::TargetServer;
use webmon_local::runner::{self, RunnerOptions};

use super::secrets::SecretArgs;
use webmon_local::store::SqliteStore;

/// Where `--demo-target` listens when no address is given.
pub const DEMO_TARGET_ADDR: &str = "127.0.0.1:8089";

/// Arguments of `webmon run`.
#[derive(clap::Args)]
pub struct Args {
    /// The checks file (YAML); polled every 2 s and reloaded when it changes.
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// The SQLite database results are written to (created if missing).
    #[arg(long, default_value = "webmon.db", value_name = "FILE")]
    pub db: PathBuf,
    /// Region label of this probe; checks limited to other regions are skipped.
    #[arg(long, default_value = "local")]
    pub region: String,
    /// Most probes in flight at once.
    #[arg(long, default_value_t = 256)]
    pub concurrency: usize,
    /// Let checks that set `allow_private: true` reach loopback and private addresses
    /// (link-local and metadata addresses stay refused). Without it, `allow_private`
    /// in a checks file has no effect: the check author does not decide this.
    #[arg(long)]
    pub allow_private: bool,
    /// Which `${env:NAME}` references the checks may use.
    #[command(flatten)]
    pub secrets: SecretArgs,
    /// Also trust the CA certificates in this PEM file.
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// Start the built-in demo target (the one `examples/checks.yaml` points at) on ADDR.
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = DEMO_TARGET_ADDR)]
    pub demo_target: Option<SocketAddr>,
    /// Stop by itself after this long, e.g. `30s` (default: run until Ctrl-C).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub duration: Option<Duration>,
    /// Port of the built-in dashboard (0 picks a free one).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Address the dashboard binds to; it has no login, so keep it on loopback.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub bind: IpAddr,
    /// Do not serve the dashboard.
    #[arg(long)]
    pub no_ui: bool,
}

/// Runs `webmon run` until Ctrl-C, SIGTERM or `--duration`; exit 0 once drained.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    // Signal handlers first, so an early Ctrl-C is a graceful stop, not a kill.
    let shutdown = shutdown_signal(args.duration)?;
    anyhow::ensure!(
        args.config.is_file(),
        "failed to read the checks file {}: no such file",
        args.config.display()
    );
    let store = SqliteStore::open(&args.db)
        .with_context(|| format!("failed to open the result store {}", args.db.display()))?;
    let dashboard = match args.no_ui {
        true => None,
        false => Some(super::dashboard::spawn_for_run(&store, args.bind, args.port).await?),
    };
    let _target = match args.demo_target {
        Some(addr) => {
            let server = TargetServer::start(addr)
                .with_context(|| format!("failed to start the demo target on {addr}"))?;
            tracing::info!(url = %server.url("/"), "demo target listening");
            Some(server)
        }
        None => None,
    };
    let extra_roots_der = match &args.ca_file {
        Some(path) => super::check::read_ca_file(path)?,
        None => Vec::new(),
    };
    // The demo target listens on loopback: its one address is exempt from the SSRF
    // guard, so the quick start works without opening private addresses to every check.
    let guard_exempt = args
        .demo_target
        .map(|addr| ipnet::IpNet::from(addr.ip()))
        .into_iter()
        .collect();
    let policy = args.secrets.policy();
    let prober = Prober::new(ProbeOptions {
        region: args.region.clone(),
        extra_roots_der,
        allow_private: args.allow_private,
        guard_exempt,
        secret_source: Some(Arc::new(EnvSecrets::new(policy.clone()))),
        ..Default::default()
    });
    let options = RunnerOptions {
        region: args.region.clone(),
        concurrency: args.concurrency,
        secrets: policy,
        ..Default::default()
    };
    let alerting =
        super::alerts::start_for_run(&store, &args.config, &args.region, &options.secrets).await?;
    tracing::info!(config = %args.config.display(), db = %args.db.display(), region = %args.region, "webmon run started");
    let summary = runner::run(
        args.config.clone(),
        prober,
        Arc::new(alerting.store(Arc::new(store.clone()))),
        Arc::new(SystemClock),
        options,
        shutdown,
    )
    .await;
    alerting.stop().await;
    if let Some(dashboard) = dashboard {
        dashboard.stop().await;
    }
    if summary.failed > 0 {
        anyhow::bail!(
            "failed to store {} results (see the errors above)",
            summary.failed
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Resolves on SIGINT, SIGTERM or after `duration`. Handlers are installed now.
fn shutdown_signal(
    duration: Option<Duration>,
) -> anyhow::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    let (mut interrupt, mut terminate) = {
        use tokio::signal::unix::{signal, SignalKind};
        let int =
            signal(SignalKind::interrupt()).context("failed to install the SIGINT handler")?;
        let term =
            signal(SignalKind::terminate()).context("failed to install the SIGTERM handler")?;
        (int, term)
    };
    Ok(async move {
        let timer = async {
            match duration {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        #[cfg(unix)]
        tokio::select! {
            _ = interrupt.recv() => tracing::info!("interrupted; draining"),
            _ = terminate.recv() => tracing::info!("terminated; draining"),
            _ = timer => tracing::info!("duration elapsed; draining"),
        }
        #[cfg(not(unix))]
        tokio::select! {
            _ = tokio::signal::ctrl_c() => tracing::info!("interrupted; draining"),
            _ = timer => tracing::info!("duration elapsed; draining"),
        }
    })
}
