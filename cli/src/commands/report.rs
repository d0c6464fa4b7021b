//! `webmon report`: per check x region latency and availability over a window, from the
//! local SQLite store or from Timestream, as a table, JSON or CSV; `--by-region` puts
//! one check's regions side by side. The samples come from the store's
//! [`webmon_core::read::ResultReader`]; the statistics and renderings live in
//! `webmon_core::report`. See docs/report.md.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use webmon_core::ports::{Clock, SystemClock};
use webmon_core::report::by_region::by_region;
use webmon_core::report::render;
use webmon_core::report::window::{between, format_ms, parse_since, parse_time, window, Window};

use super::source::{SourceArgs, SqliteOpen};

#[derive(clap::Args)]
pub struct Args {
    /// The store to read (`--source`, `--db`, the Timestream table).
    #[command(flatten)]
    pub store: SourceArgs,
    /// Window: results scheduled in the last `since` (e.g. `15m`, `1h`, `7d`).
    #[arg(long, default_value = "1h", value_parser = parse_since)]
    pub since: Duration,
    /// Window start, RFC 3339 (`2026-01-31T12:00:00Z`); instead of `--since`.
    #[arg(long, value_name = "TIME", value_parser = parse_time, conflicts_with = "since")]
    pub from: Option<i64>,
    /// Window end, RFC 3339 (default: now); needs `--from`.
    #[arg(long, value_name = "TIME", value_parser = parse_time, requires = "from")]
    pub until: Option<i64>,
    /// Only this check.
    #[arg(long, value_name = "CHECK_ID")]
    pub check: Option<String>,
    /// A checks file whose `settings.db` names the SQLite store (when neither `--db` nor
    /// `WEBMON_DB` does).
    #[arg(long, value_name = "FILE")]
    pub config: Option<std::path::PathBuf>,
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

/// The window of the report and how messages name it (`the last 1h`, or
/// `2026-01-31T12:00:00Z to 2026-01-31T13:00:00Z`): `--from`/`--until` or `--since`.
fn window_of(args: &Args, now: i64) -> anyhow::Result<(Window, String)> {
    match args.from {
        Some(from) => {
            let until = args.until.unwrap_or(now);
            let window = between(from, until).map_err(super::bad_input)?;
            Ok((
                window,
                format!("{} to {}", format_ms(from), format_ms(until)),
            ))
        }
        None => Ok((
            window(args.since, now),
            format!("the last {}", humantime::format_duration(args.since)),
        )),
    }
}

pub async fn run(mut args: Args) -> anyhow::Result<ExitCode> {
    if let Some(config) = &args.config {
        args.store.apply_settings(config)?;
    }
    let check = check_of(&args)?;
    let now = SystemClock.now_ms();
    let (window, span) = window_of(&args, now)?;
    let reader = args.store.open(SqliteOpen::WithResults).await?;
    let source = reader.describe();
    let computed = reader
        .stats(window, check.as_deref(), false)
        .await
        .with_context(|| format!("failed to read the report from {source}"))?;
    if computed.rows.is_empty() {
        match &check {
            Some(c) => anyhow::bail!("no results for check {c:?} in {span} in {source}"),
            None => anyhow::bail!("no results in {span} in {source}"),
        }
    }
    let stats = computed.rows;
    let resolution = computed.resolution;
    let head = |doc: serde_json::Value| {
        let mut head = serde_json::json!({
            "generated_at_ms": now,
            "since_ms": window.from_ms,
            "until_ms": window.to_ms,
            "source": source,
            "resolution": resolution,
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
            println!("{span} in {source}, from {}", resolution.describe());
            print!("{}", render::by_region_table(&view));
        }
    } else if args.json {
        let doc = head(serde_json::json!({ "rows": stats }));
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else if args.csv {
        print!("{}", render::csv(&stats));
    } else {
        print!("{}", render::table(&stats));
        println!("computed from {}", resolution.describe());
        super::alerts::print_incident_summary(&args.store, window.from_ms, window.to_ms).await;
    }
    Ok(ExitCode::SUCCESS)
}
