//! `webmon report`: per check x region latency and availability over a window, from the
//! local SQLite store or from Timestream, as a table, JSON or CSV; `--by-region` puts
//! one check's regions side by side. The statistics, the Timestream SQL and the
//! renderings live in `webmon_core::report`; the Timestream call in
//! `webmon_aws::timestream_query`. See docs/report.md.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use webmon_aws::config::{AwsTarget, ENDPOINT_ENV};
use webmon_aws::timestream::{DATABASE_ENV, TABLE_ENV};
use webmon_aws::timestream_query::TimestreamQuery;
use webmon_core::ports::{Clock, SystemClock};
use webmon_core::report::by_region::by_region;
use webmon_core::report::timestream::{fetch_samples, ReportQuery};
use webmon_core::report::window::{parse_since, window, Window};
use webmon_core::report::{local, render, summarize, Sample};

/// Where results are read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Source {
    /// The embedded SQLite store written by `webmon run` (`--db`).
    Sqlite,
    /// Amazon Timestream, written by the writer Lambda (`--database`, `--table`).
    Timestream,
}

/// Where the Timestream table is (`--source timestream`); `webmon dashboard` shares it.
#[derive(clap::Args, Debug, Clone)]
pub struct TimestreamArgs {
    /// Timestream database (with `--source timestream`).
    #[arg(long, env = DATABASE_ENV, default_value = "webmon")]
    pub database: String,
    /// Timestream table (with `--source timestream`).
    #[arg(long, env = TABLE_ENV, default_value = "results")]
    pub table: String,
    /// AWS region of the Timestream table (default: the SDK's, e.g. AWS_REGION).
    #[arg(long)]
    pub region: Option<String>,
    /// Endpoint override (an emulator such as moto's server); turns endpoint discovery off.
    #[arg(long, env = ENDPOINT_ENV)]
    pub endpoint_url: Option<String>,
}

impl TimestreamArgs {
    /// The validated queries and the query adapter.
    pub async fn connect(&self) -> anyhow::Result<(ReportQuery, TimestreamQuery)> {
        let query = ReportQuery::new(&self.database, &self.table)
            .map_err(|e| anyhow::anyhow!("failed to read --database/--table: {e}"))?;
        let target = AwsTarget {
            region: self.region.clone(),
            endpoint_url: self.endpoint_url.clone().filter(|u| !u.is_empty()),
        };
        let runner = TimestreamQuery::connect(&target)
            .await
            .context("failed to set up the Timestream query client")?;
        Ok((query, runner))
    }
}

/// Arguments of `webmon report`.
#[derive(clap::Args)]
pub struct Args {
    /// Where to read results from.
    #[arg(long, value_enum, default_value = "sqlite")]
    pub source: Source,
    /// The SQLite database written by `webmon run` (with `--source sqlite`).
    #[arg(
        long,
        default_value = "webmon.db",
        env = "WEBMON_DB",
        value_name = "FILE"
    )]
    pub db: PathBuf,
    #[command(flatten)]
    pub timestream: TimestreamArgs,
    /// Window: results scheduled in the last `since` (e.g. `15m`, `1h`, `7d`).
    #[arg(long, default_value = "1h", value_parser = parse_since)]
    pub since: Duration,
    /// Only this check.
    #[arg(long, value_name = "CHECK_ID")]
    pub check: Option<String>,
    /// One check's regions side by side, fastest and slowest marked (ranked by p50):
    /// `--by-region CHECK_ID`, or `--by-region` with `--check CHECK_ID`.
    #[arg(long, value_name = "CHECK_ID", num_args = 0..=1, default_missing_value = "")]
    pub by_region: Option<String>,
    /// Print JSON.
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// Print CSV.
    #[arg(long)]
    pub csv: bool,
}

/// The one check of `--by-region`, or `--check`, or none.
fn check_of(args: &Args) -> anyhow::Result<Option<String>> {
    match (args.by_region.as_deref(), args.check.as_deref()) {
        (None, check) => Ok(check.map(str::to_string)),
        (Some(""), None) => anyhow::bail!(
            "failed to read --by-region: it needs a check (--by-region CHECK_ID or --check CHECK_ID)"
        ),
        (Some(""), Some(check)) => Ok(Some(check.to_string())),
        (Some(a), Some(b)) if a != b => anyhow::bail!(
            "failed to read --by-region: it names check {a:?} and --check names {b:?}; give one"
        ),
        (Some(a), _) => Ok(Some(a.to_string())),
    }
}

async fn samples(
    args: &Args,
    window: &Window,
    check: Option<&str>,
) -> anyhow::Result<(Vec<Sample>, String)> {
    match args.source {
        Source::Sqlite => {
            let store = local::open_existing(&args.db)?;
            let samples = local::samples(&store, window, check).await?;
            Ok((samples, format!("the SQLite store {}", args.db.display())))
        }
        Source::Timestream => {
            let (query, runner) = args.timestream.connect().await?;
            let samples = fetch_samples(&runner, &query, window, check)
                .await
                .with_context(|| {
                    format!(
                        "failed to read the report from Timestream table {}",
                        query.table()
                    )
                })?;
            Ok((samples, format!("the Timestream table {}", query.table())))
        }
    }
}

/// Runs `webmon report`.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let check = check_of(&args)?;
    let now = SystemClock.now_ms();
    let window = window(args.since, now);
    let (samples, source) = samples(&args, &window, check.as_deref()).await?;
    let since = humantime::format_duration(args.since);
    if samples.is_empty() {
        match &check {
            Some(c) => anyhow::bail!("no results for check {c:?} in the last {since} in {source}"),
            None => anyhow::bail!("no results in the last {since} in {source}"),
        }
    }
    let stats = summarize(&samples);
    let head = |doc: serde_json::Value| {
        let mut head = serde_json::json!({
            "generated_at_ms": now,
            "since_ms": window.from_ms,
            "until_ms": window.to_ms,
            "source": source,
        });
        head.as_object_mut()
            .expect("an object")
            .extend(doc.as_object().cloned().unwrap_or_default());
        head
    };
    if args.by_region.is_some() {
        let c = check.as_deref().expect("by-region always names a check");
        let view = by_region(&stats, c).expect("samples of the check were found");
        if args.json {
            let doc = head(serde_json::json!({ "by_region": view }));
            println!("{}", serde_json::to_string_pretty(&doc)?);
        } else if args.csv {
            print!("{}", render::by_region_csv(&view));
        } else {
            println!("last {since} in {source}");
            print!("{}", render::by_region_table(&view));
        }
    } else if args.json {
        let doc = head(serde_json::json!({ "rows": stats }));
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else if args.csv {
        print!("{}", render::csv(&stats));
    } else {
        print!("{}", render::table(&stats));
    }
    Ok(ExitCode::SUCCESS)
}
