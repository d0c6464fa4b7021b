//! `webmon alerts status`: each check's alert level, open incidents, silences in force
//! and the outbox, from the store `webmon run` writes.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::ExitCode;

use serde::Serialize;
use webmon_core::ports::{Clock, SystemClock};
use webmon_core::read::{AlertReader, CheckLevel};
use webmon_local::store::{IncidentRecord, OutboxCounts};

use super::DbArg;

/// Arguments of `webmon alerts status`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    db: DbArg,
    /// `sqlite` (the store of `webmon run`), or `timestream`/`influxdb` for an AWS
    /// deployment, whose alert state is in the alert table.
    #[arg(long, value_enum, default_value = "sqlite")]
    source: crate::commands::source::Source,
    /// The alert table (AWS sources).
    #[command(flatten)]
    table: super::aws::AlertTableArgs,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Status {
    evaluated_at_ms: Option<i64>,
    checks: Vec<CheckLevel>,
    open_incidents: Vec<IncidentRecord>,
    silences: Vec<webmon_core::alert::Silence>,
    outbox: OutboxCounts,
}

/// Formats Unix milliseconds as RFC 3339 (seconds).
pub(crate) fn time(ms: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_seconds(t).to_string()
}

fn duration(ms: i64) -> String {
    humantime::format_duration(std::time::Duration::from_secs((ms / 1000).max(0) as u64))
        .to_string()
}

/// Runs `webmon alerts status`.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.source != crate::commands::source::Source::Sqlite {
        return super::aws::status(&args.table, args.json).await;
    }
    let store = args.db.open()?;
    let now = SystemClock.now_ms();
    // Incidents open now only: none was opened or resolved after the end of time.
    let view = store.alerts(i64::MAX).await?;
    let status = Status {
        evaluated_at_ms: view.evaluated_at_ms,
        checks: view.checks,
        open_incidents: view.incidents,
        silences: store.silences(now).await?,
        outbox: store.outbox_counts().await?,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&status)?);
        return Ok(ExitCode::SUCCESS);
    }
    let Some(at) = status.evaluated_at_ms else {
        println!("no alert evaluation yet in {}", args.db.db.display());
        return Ok(ExitCode::SUCCESS);
    };
    println!(
        "last evaluation {} ({} checks)",
        time(at),
        status.checks.len()
    );
    for c in status.checks.iter().filter(|c| c.level != "UP") {
        println!(
            "  {:<32} {:<9} since {}",
            c.check_id,
            c.level,
            time(c.since_ms)
        );
    }
    println!("open incidents: {}", status.open_incidents.len());
    for i in &status.open_incidents {
        println!(
            "  {}  {} (worst {}, notified {}) for {}",
            i.id,
            i.level,
            i.worst,
            i.notified_level,
            duration(i.duration_ms(now))
        );
    }
    println!("silences in force: {}", status.silences.len());
    for s in &status.silences {
        println!("  {}", super::silence::describe(s));
    }
    let o = status.outbox;
    println!(
        "outbox: {} pending, {} sent, {} failed",
        o.pending, o.sent, o.failed
    );
    Ok(ExitCode::SUCCESS)
}

/// Incidents and downtime per check (overlap with the window only), as a small table.
pub(crate) fn incident_table(incidents: &[IncidentRecord], since_ms: i64, now_ms: i64) -> String {
    let mut per_check: BTreeMap<&str, (u32, i64, u32)> = BTreeMap::new();
    for i in incidents {
        let e = per_check.entry(&i.check_id).or_default();
        e.0 += 1;
        let start = i.opened_at_ms.max(since_ms);
        e.1 += (i.resolved_at_ms.unwrap_or(now_ms) - start).max(0);
        e.2 += u32::from(i.resolved_at_ms.is_none());
    }
    let mut out = format!(
        "{:<32} {:>9} {:>6} {:>12}\n",
        "incidents", "count", "open", "downtime"
    );
    for (check, (count, down, open)) in per_check {
        let _ = writeln!(
            out,
            "{check:<32} {count:>9} {open:>6} {:>12}",
            duration(down)
        );
    }
    out
}
