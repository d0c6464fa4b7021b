//! `webmon alerts replay --since 7d`: stored results through a candidate policy, the way
//! `webmon run` would have evaluated them (`webmon_core::alert::replay`), and the
//! incidents that policy would have opened. Nothing is sent or stored.
//!
//! `--source timestream|influxdb` replays what the AWS pipeline stored, every probe
//! region together (the regions are those found in the results); TLS warnings are not
//! replayed there, as those stores keep no certificate dates.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use serde::Serialize;
use webmon_core::alert::{replay, EventKind, Level, NotificationIntent};
use webmon_core::ports::{Clock, SystemClock};

use super::status::time;
use super::DbArg;
use crate::commands::secrets::SecretArgs;
use crate::commands::source::{Source, SourceArgs};
use webmon_core::read::Window;

/// Arguments of `webmon alerts replay`.
#[derive(clap::Args)]
pub struct Args {
    /// Results scheduled in the last `since` (e.g. `1h`, `7d`).
    #[arg(long, default_value = "7d", value_parser = humantime::parse_duration)]
    since: Duration,
    /// The checks file with the policy to try.
    #[arg(long, default_value = "checks.yaml", value_name = "FILE")]
    config: PathBuf,
    /// Where the results are (`--source sqlite` by default, `--db`).
    #[command(flatten)]
    source: SourceArgs,
    /// The region the results were probed from (with `--source sqlite`).
    #[arg(long, default_value = "local")]
    probe_region: String,
    #[command(flatten)]
    secrets: SecretArgs,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// One incident the policy would have opened.
#[derive(Debug, Serialize)]
struct Replayed {
    id: String,
    check_id: String,
    opened_at_ms: i64,
    worst: Level,
    notifications: Vec<String>,
    resolved: bool,
}

fn incidents(intents: &[NotificationIntent]) -> Vec<Replayed> {
    let mut by_id: BTreeMap<String, Replayed> = BTreeMap::new();
    let flat = intents
        .iter()
        .flat_map(|n| std::iter::once(n).chain(n.members.iter()));
    for n in flat {
        let (Some(id), Some(check)) = (&n.incident_id, &n.check) else {
            continue;
        };
        let r = by_id.entry(id.clone()).or_insert_with(|| Replayed {
            id: id.clone(),
            check_id: check.id.clone(),
            opened_at_ms: n.opened_at_ms.unwrap_or(n.at_ms),
            worst: n.level,
            notifications: Vec::new(),
            resolved: false,
        });
        r.worst = r.worst.max(n.level);
        r.notifications.push(n.kind.as_str().into());
        r.resolved |= n.kind == EventKind::Resolved;
    }
    let mut out: Vec<Replayed> = by_id.into_values().collect();
    out.sort_by_key(|r| (r.opened_at_ms, r.id.clone()));
    out
}

/// Runs `webmon alerts replay`.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let now = SystemClock.now_ms();
    let since_ms = now - args.since.as_millis() as i64;
    let policy = args.secrets.policy();
    let (config, results, silences) = match args.source.source {
        Source::Sqlite => {
            let config = super::load_config(&args.config, &args.probe_region, &policy)?;
            let store = DbArg {
                db: args.source.db_path(),
            }
            .open()?;
            let results = store.results_since(since_ms, None).await?;
            let silences = store.silences(since_ms).await?;
            (config, results, silences)
        }
        Source::Timestream | Source::Influxdb => {
            let reader = args
                .source
                .open(crate::commands::source::SqliteOpen::WithResults)
                .await?;
            let window = Window {
                from_ms: since_ms,
                to_ms: now,
            };
            let samples = reader.samples(window, None).await?;
            let results: Vec<_> = samples.iter().map(|s| s.to_result()).collect();
            let mut regions: Vec<String> = results.iter().map(|r| r.region.clone()).collect();
            regions.sort();
            regions.dedup();
            let config = super::load_config_for_regions(&args.config, &regions, &policy)?;
            (config, results, Vec::new())
        }
    };
    let (_, intents) = replay(&config, &results, &silences, 10_000, now);
    let found = incidents(&intents);
    if args.json {
        let doc = serde_json::json!({
            "results": results.len(),
            "notifications": intents.len(),
            "incidents": found,
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "replayed {} results from {}: {} incidents, {} notifications",
        results.len(),
        time(since_ms),
        found.len(),
        intents.len()
    );
    for r in &found {
        let state = if r.resolved { "resolved" } else { "open" };
        println!(
            "  {}  opened {}  worst {}  {state}  notified: {}",
            r.id,
            time(r.opened_at_ms),
            r.worst.as_str(),
            r.notifications.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}
