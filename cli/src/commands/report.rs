//! `webmon report`: per check x region latency and availability from the local store,
//! as a table, JSON or CSV. The statistics are defined in `webmon_core::report`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use webmon_core::ports::{Clock, SystemClock};
use webmon_core::report::{summarize, CheckRegionStats};
use webmon_core::store::SqliteStore;

/// Arguments of `webmon report`.
#[derive(clap::Args)]
pub struct Args {
    /// The SQLite database written by `webmon run`.
    #[arg(long, default_value = "webmon.db", value_name = "FILE")]
    pub db: PathBuf,
    /// Window: results scheduled in the last `since` (e.g. `15m`, `1h`, `7d`).
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
    pub since: Duration,
    /// Only this check.
    #[arg(long)]
    pub check: Option<String>,
    /// Print JSON.
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// Print CSV.
    #[arg(long)]
    pub csv: bool,
}

/// Runs `webmon report`.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        args.db.is_file(),
        "failed to open the result store {}: no such file (start `webmon run` first)",
        args.db.display()
    );
    let store = SqliteStore::open(&args.db)
        .with_context(|| format!("failed to open the result store {}", args.db.display()))?;
    let now = SystemClock.now_ms();
    let since_ms = now - args.since.as_millis() as i64;
    let samples = store.samples_since(since_ms, args.check.as_deref()).await?;
    let stats = summarize(&samples);
    if args.json {
        let doc =
            serde_json::json!({ "generated_at_ms": now, "since_ms": since_ms, "rows": stats });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else if args.csv {
        print!("{}", csv(&stats));
    } else if stats.is_empty() {
        println!(
            "no results in the last {}",
            humantime::format_duration(args.since)
        );
    } else {
        print!("{}", table(&stats));
    }
    Ok(ExitCode::SUCCESS)
}

const HEADER: [&str; 13] = [
    "check",
    "region",
    "samples",
    "avail_pct",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "avg_ms",
    "cold_ttfb_ms",
    "warm_ttfb_ms",
    "last_status",
    "last_available",
    "last_error",
];

fn cells(s: &CheckRegionStats) -> [String; 13] {
    let num = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.2}"));
    [
        s.check_id.clone(),
        s.region.clone(),
        s.samples.to_string(),
        format!("{:.2}", s.availability_pct),
        num(s.latency_p50_ms),
        num(s.latency_p95_ms),
        num(s.latency_p99_ms),
        num(s.latency_avg_ms),
        num(s.cold_ttfb_p50_ms),
        num(s.warm_ttfb_p50_ms),
        s.last_status.map_or(String::new(), |c| c.to_string()),
        s.last_available.to_string(),
        s.last_error.clone().unwrap_or_default(),
    ]
}

/// RFC 4180 CSV with a header row.
fn csv(stats: &[CheckRegionStats]) -> String {
    let field = |v: &str| {
        if v.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", v.replace('"', "\"\""))
        } else {
            v.to_string()
        }
    };
    let mut out = HEADER.join(",") + "\n";
    for s in stats {
        out += &cells(s)
            .iter()
            .map(|c| field(c))
            .collect::<Vec<_>>()
            .join(",");
        out.push('\n');
    }
    out
}

/// Aligned columns; empty cells shown as `-`.
fn table(stats: &[CheckRegionStats]) -> String {
    let rows: Vec<[String; 13]> = stats
        .iter()
        .map(|s| cells(s).map(|c| if c.is_empty() { "-".into() } else { c }))
        .collect();
    let mut widths = HEADER.map(str::len);
    for row in &rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cols: Vec<&str>| {
        let parts: Vec<String> = cols
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        parts.join("  ").trim_end().to_string() + "\n"
    };
    let mut out = line(HEADER.to_vec());
    for row in &rows {
        out += &line(row.iter().map(String::as_str).collect());
    }
    out
}
