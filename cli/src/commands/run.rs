//! `webmon run`: the one-machine monitor. Probes the checks of a file on schedule,
//! stores results in SQLite, reloads the file when it changes, and on Ctrl-C (or
//! SIGTERM, or `--duration`) drains everything in flight before exiting. A second
//! Ctrl-C (or SIGTERM) stops at once: probes in flight are recorded as cancelled.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use webmon_core::check::{RunSettings, MAX_CONCURRENCY};
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
    #[command(flatten)]
    pub config: super::ConfigArg,
    /// The SQLite database results are written to (created if missing) [default: the
    /// file's `settings.db`, else webmon.db].
    #[arg(long, env = "WEBMON_DB", value_name = "FILE")]
    pub db: Option<PathBuf>,
    /// Region label of this probe; checks limited to other regions are skipped
    /// [default: the file's `settings.region`, else local].
    #[arg(long, env = "WEBMON_REGION")]
    pub region: Option<String>,
    /// Most probes in flight at once [default: the file's `settings.concurrency`, else
    /// 256].
    #[arg(long, env = "WEBMON_CONCURRENCY", value_parser = clap::value_parser!(u64).range(1..=MAX_CONCURRENCY))]
    pub concurrency: Option<u64>,
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
    /// Port of the dashboard (0 picks a free one) [default: the file's `settings.port`,
    /// else 8080].
    #[arg(long, env = "WEBMON_PORT")]
    pub port: Option<u16>,
    /// Address the dashboard binds to; it has no login, so keep it on loopback
    /// [default: the file's `settings.bind`, else 127.0.0.1].
    #[arg(long, env = "WEBMON_BIND")]
    pub bind: Option<IpAddr>,
    /// Do not serve the dashboard.
    #[arg(long)]
    pub no_ui: bool,
    /// How often to log the summary line (`42 up, 1 down, 0 pending`).
    #[arg(long, default_value = "1m", value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub summary_every: Duration,
    /// How long raw executions are kept; older ones live on in the rollups.
    #[arg(long, env = "WEBMON_RAW_RETENTION", default_value = "7d", value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub raw_retention: Duration,
    /// How long the 5-minute, hourly and daily rollups are kept.
    #[arg(long, env = "WEBMON_ROLLUP_RETENTION", default_value = "400d", value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub rollup_retention: Duration,
    /// How often results are rolled up and retention applied.
    #[arg(long, default_value = "1m", value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub rollup_every: Duration,
}

/// What `webmon run` runs with: each setting from its flag, else its environment
/// variable, else the checks file's `settings:` block, else the default.
struct Resolved {
    db: PathBuf,
    region: String,
    concurrency: usize,
    port: u16,
    bind: IpAddr,
}

impl Resolved {
    fn of(args: &Args, file: RunSettings) -> Self {
        Self {
            db: args
                .db
                .clone()
                .or(file.db)
                .unwrap_or_else(|| PathBuf::from(super::DEFAULT_DB)),
            region: args
                .region
                .clone()
                .or(file.region)
                .unwrap_or_else(|| DEFAULT_REGION.to_string()),
            concurrency: args
                .concurrency
                .map(|n| n as usize)
                .or(file.concurrency)
                .unwrap_or(DEFAULT_CONCURRENCY),
            port: args.port.or(file.port).unwrap_or(DEFAULT_PORT),
            bind: args
                .bind
                .or(file.bind)
                .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        }
    }
}

/// Region label when none is set.
const DEFAULT_REGION: &str = "local";
/// Probes in flight when no concurrency is set.
const DEFAULT_CONCURRENCY: usize = 256;
/// Dashboard port when none is set.
const DEFAULT_PORT: u16 = 8080;

/// Runs `webmon run` until Ctrl-C, SIGTERM or `--duration`; exit 0 once drained.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    // Signal handlers first, so an early Ctrl-C is a graceful stop, not a kill.
    let (shutdown, abort) = shutdown_signals(args.duration)?;
    let config = args.config.path()?;
    let settings = Resolved::of(&args, super::settings_of(&config)?);
    super::paths::database(&settings.db)?;
    let store = SqliteStore::open(&settings.db)
        .with_context(|| format!("failed to open the result store {}", settings.db.display()))?;
    // The database's size, growth and free disk, at every summary (webmon_local::disk).
    let disk_watch = tokio::spawn(webmon_local::disk::watch(
        settings.db.clone(),
        args.summary_every,
    ));
    // Rollups and retention in the background (docs/storage.md): short transactions,
    // so probes and the writer never wait long.
    let maintenance = tokio::spawn(webmon_local::store::maintain_every(
        store.clone(),
        webmon_local::store::Retention {
            raw: args.raw_retention,
            rollups: args.rollup_retention,
        },
        args.rollup_every,
        Arc::new(SystemClock),
    ));
    let status = runner::status::RunStatus::default();
    let dashboard = match args.no_ui {
        true => None,
        false => Some(
            super::dashboard::spawn_for_run(
                &store,
                status.clone(),
                &config,
                settings.bind,
                settings.port,
            )
            .await?,
        ),
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
        region: settings.region.clone(),
        extra_roots_der,
        allow_private: args.allow_private,
        guard_exempt,
        secret_source: Some(Arc::new(EnvSecrets::new(policy.clone()))),
        ..Default::default()
    });
    let options = RunnerOptions {
        region: settings.region.clone(),
        concurrency: settings.concurrency,
        secrets: policy,
        status,
        summary_interval: args.summary_every,
        ..Default::default()
    };
    let alerting =
        super::alerts::start_for_run(&store, &config, &settings.region, &options.secrets).await?;
    tracing::info!(config = %config.display(), db = %settings.db.display(), region = %settings.region, concurrency = settings.concurrency, "webmon run started (Ctrl-C to stop)");
    let summary = runner::run_until(
        config,
        prober,
        Arc::new(alerting.store(Arc::new(store.clone()))),
        Arc::new(SystemClock),
        options,
        shutdown,
        abort,
    )
    .await;
    alerting.stop().await;
    disk_watch.abort();
    maintenance.abort();
    if let Some(dashboard) = dashboard {
        dashboard.stop().await;
    }
    if summary.store_errors > 0 {
        anyhow::bail!(
            "failed to store {} results (see the errors above)",
            summary.store_errors
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// A stop signal of `webmon run`.
type Stop = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// Two futures: the first resolves on SIGINT, SIGTERM or after `duration` (drain), the
/// second on the next SIGINT or SIGTERM after that (stop now). Handlers are installed
/// now.
fn shutdown_signals(duration: Option<Duration>) -> anyhow::Result<(Stop, Stop)> {
    let (count_tx, count_rx) = tokio::sync::watch::channel(0u32);
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut int =
            signal(SignalKind::interrupt()).context("failed to install the SIGINT handler")?;
        let mut term =
            signal(SignalKind::terminate()).context("failed to install the SIGTERM handler")?;
        let count = count_tx.clone();
        tokio::spawn(async move {
            loop {
                let name = tokio::select! {
                    Some(()) = int.recv() => "interrupted",
                    Some(()) = term.recv() => "terminated",
                    else => break,
                };
                let n = *count.borrow() + 1;
                match n {
                    1 => tracing::info!("{name}; draining (Ctrl-C again to stop now)"),
                    _ => tracing::warn!("{name} again; stopping now"),
                }
                count.send_replace(n);
            }
        });
    }
    #[cfg(not(unix))]
    {
        let count = count_tx.clone();
        tokio::spawn(async move {
            while tokio::signal::ctrl_c().await.is_ok() {
                let n = *count.borrow() + 1;
                match n {
                    1 => tracing::info!("interrupted; draining (Ctrl-C again to stop now)"),
                    _ => tracing::warn!("interrupted again; stopping now"),
                }
                count.send_replace(n);
            }
        });
    }
    if let Some(d) = duration {
        let count = count_tx;
        tokio::spawn(async move {
            tokio::time::sleep(d).await;
            if *count.borrow() == 0 {
                tracing::info!("duration elapsed; draining");
                count.send_replace(1);
            }
        });
    }
    let wait_for = |n: u32| {
        let mut rx = count_rx.clone();
        Box::pin(async move {
            if rx.wait_for(|c| *c >= n).await.is_err() {
                std::future::pending::<()>().await;
            }
        }) as Stop
    };
    // After `--duration`, the first signal is the second stop.
    Ok((wait_for(1), wait_for(2)))
}
