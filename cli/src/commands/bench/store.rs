//! `webmon bench store`: the embedded store with months of history. It builds the
//! database `webmon run` would hold after `--days` of `--checks` checks every
//! `--interval`:
//!
//! - the last `--raw-days` through the real path: executions written in batches, rolled
//!   up and cut by retention as `webmon run` does in the background;
//! - the older days as the 5-minute, hourly and daily rollups that path leaves behind,
//!   built from the same generated executions (`Aggregate::add`) and imported directly,
//!   since storing and deleting hundreds of millions of rows first would measure nothing
//!   more.
//!
//! It then measures bytes on disk per execution, the dashboard overview over 1 h, 24 h,
//! 30 d and 90 d (p95), one check's 30-day latency series, and how many results per
//! second the store takes while dashboard queries run without pause. The reference,
//! measured in the same run: the 24 h overview computed from every raw execution (what
//! the store did before rollups). Prints MISSED and exits non-zero when a target is
//! missed.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use webmon_core::ports::ResultStore;
use webmon_core::read::{ResultReader, Sample, Window};
use webmon_core::report::derive;
use webmon_core::report::rollup::{Aggregate, Level};
use webmon_core::result::ProbeResult;
use webmon_local::store::{Retention, SqliteStore};
use webmon_testkit::conformance::result;

/// Arguments of `webmon bench store`.
#[derive(clap::Args)]
pub struct Args {
    /// Checks (one region each, `local`).
    #[arg(long, default_value_t = 1_000)]
    checks: usize,
    /// Days of history.
    #[arg(long, default_value_t = 90)]
    days: i64,
    /// Days kept raw (the raw retention).
    #[arg(long, default_value_t = 7)]
    raw_days: i64,
    /// Interval of every check.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    interval: Duration,
    /// Repetitions of each timed query (the p95 is over these).
    #[arg(long, default_value_t = 20)]
    queries: usize,
    /// How long ingest is measured while queries run.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    ingest_for: Duration,
}

const DAY_MS: i64 = 86_400_000;
/// 2026-01-01T00:00:00Z: the history starts here.
const START_MS: i64 = 1_767_225_600_000;
const BYTES_TARGET: f64 = 120.0;
const OVERVIEW_TARGET_MS: f64 = 150.0;
const SERIES_TARGET_MS: f64 = 100.0;
/// 10,000 checks every 10 s.
const INGEST_TARGET: f64 = 1_000.0;

/// The latency of the `n`th execution of check `c`: a per-check base with jitter, as a
/// real fleet looks; and whether it passed (one in 997 fails).
fn shape(c: usize, n: i64) -> (f64, f64, bool) {
    let base = 20.0 + (c * 37 % 280) as f64;
    let jitter = ((n.wrapping_mul(2_654_435_761) ^ c as i64) & 0xff) as f64 / 255.0;
    (
        base * (0.9 + 0.3 * jitter),
        jitter,
        (n + c as i64) % 997 != 0,
    )
}

/// Sets `s` to the `n`th execution of check `c` at `at_ms`, reusing its strings.
fn fill(s: &mut Sample, c: usize, n: i64, at_ms: i64) {
    let (latency, jitter, available) = shape(c, n);
    s.scheduled_at_ms = at_ms;
    s.available = available;
    s.status_code = Some(if available { 200 } else { 503 });
    if available {
        s.error_class = None;
        s.error_message = None;
    } else {
        s.error_class = Some("http_status".into());
        s.error_message = Some("status 503 is not accepted".into());
    }
    s.latency_avg_ms = latency;
    s.cold_ttfb_ms = latency * 0.4;
    s.warm_ttfb_ms = Some(latency * 0.35);
    s.dns_ms = 0.4 + jitter;
    s.connect_ms = latency * 0.2;
    s.tls_ms = latency * 0.3;
    s.transfer_ms = 0.3 + jitter;
}

/// The `n`th execution of check `c` as the probe reports it: the same figures as
/// [`fill`].
fn execution(c: usize, n: i64, at_ms: i64) -> ProbeResult {
    let mut r = result(&format!("check-{c:05}"), "local", at_ms, 0);
    let mut s = Sample::from(&r);
    fill(&mut s, c, n, at_ms);
    r.available = s.available;
    r.status_code = s.status_code;
    r.error_class = (!s.available).then_some(webmon_core::result::ErrorClass::HttpStatus);
    r.error_message = s.error_message;
    r.latency.avg_ms = s.latency_avg_ms;
    r.latency.min_ms = s.latency_avg_ms * 0.95;
    r.latency.max_ms = s.latency_avg_ms * 1.1;
    r.latency.p50_ms = s.latency_avg_ms;
    r.cold.dns_ms = s.dns_ms;
    r.cold.connect_ms = s.connect_ms;
    r.cold.tls_ms = s.tls_ms;
    r.cold.ttfb_ms = s.cold_ttfb_ms;
    r.cold.transfer_ms = s.transfer_ms;
    r.warm_ttfb_ms = s.warm_ttfb_ms;
    r.started_at_ms = at_ms + 1;
    r.probe.start_delay_ms = 1.0;
    r
}

fn p95(mut ms: Vec<f64>) -> f64 {
    ms.sort_by(f64::total_cmp);
    webmon_core::report::percentile(&ms, 95.0).unwrap_or(f64::NAN)
}

fn mark(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "MISSED"
    }
}

/// Runs `webmon bench store`.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let step = i64::try_from(args.interval.as_millis())?.max(1_000);
    let checks = args.checks.max(1);
    let days = args.days.max(args.raw_days).max(1);
    let now = START_MS + days * DAY_MS;
    let raw_from = now - args.raw_days * DAY_MS;
    let dir = tempfile::tempdir()?;
    let store = SqliteStore::open(&dir.path().join("bench.db"))?;
    println!(
        "store: {checks} checks every {} for {days} days ({} raw), {} executions",
        humantime::format_duration(args.interval),
        args.raw_days,
        checks as i64 * days * DAY_MS / step
    );

    // The older days: rollups, built day by day from the generated executions.
    let t = Instant::now();
    for day in 0..days - args.raw_days {
        let from = START_MS + day * DAY_MS;
        let mut rollups = Vec::new();
        for c in 0..checks {
            let check = format!("check-{c:05}");
            let mut sample = Sample::from(&execution(c, 0, from));
            let mut daily = Aggregate::default();
            for hour in 0..24 {
                let mut hourly = Aggregate::default();
                for five in 0..12 {
                    let bucket = from + hour * 3_600_000 + five * 300_000;
                    let mut a = Aggregate::default();
                    let mut at = bucket;
                    while at < bucket + 300_000 {
                        fill(&mut sample, c, at / step, at);
                        a.add(&sample);
                        at += step;
                    }
                    hourly.merge(&a);
                    rollups.push((check.clone(), "local".into(), Level::FiveMinutes, bucket, a));
                }
                daily.merge(&hourly);
                let start = from + hour * 3_600_000;
                rollups.push((check.clone(), "local".into(), Level::Hour, start, hourly));
            }
            rollups.push((check, "local".into(), Level::Day, from, daily));
        }
        store.import_rollups(rollups).await?;
    }
    let imported = t.elapsed();

    // The raw days: written in batches, rolled up and cut as `webmon run` does.
    let t = Instant::now();
    let mut batch = Vec::with_capacity(10_000);
    let mut at = raw_from;
    while at < now {
        for c in 0..checks {
            batch.push(execution(c, at / step, at));
        }
        if batch.len() >= 10_000 {
            store.write(&batch).await?;
            batch.clear();
        }
        at += step;
    }
    store.write(&batch).await?;
    let written = t.elapsed();
    let t = Instant::now();
    store
        .maintain(
            Retention {
                raw: Duration::from_millis((args.raw_days * DAY_MS) as u64),
                ..Retention::default()
            },
            now,
        )
        .await?;
    let rolled = t.elapsed();
    println!(
        "  built in {:.1} s: older rollups {:.1} s, raw writes {:.1} s, roll-up and retention {:.1} s",
        started.elapsed().as_secs_f64(),
        imported.as_secs_f64(),
        written.as_secs_f64(),
        rolled.as_secs_f64()
    );

    // Bytes on disk per execution.
    let (bytes, raw_rows, rollup_rows) = store.footprint().await?;
    let executions = checks as i64 * days * DAY_MS / step;
    let per_execution = bytes as f64 / executions as f64;
    let bytes_ok = per_execution <= BYTES_TARGET;
    println!(
        "  disk: {:.1} MiB for {executions} executions ({raw_rows} raw rows, {rollup_rows} rollups): {per_execution:.1} bytes per execution (target <= {BYTES_TARGET}: {})",
        bytes as f64 / 1_048_576.0,
        mark(bytes_ok)
    );

    // Query times, over windows ending at 16:36:43 on the last day, as a person asks
    // (a window ending at midnight would be whole daily buckets, the best case).
    let end = now - 7 * 3_600_000 - 23 * 60_000 - 17_000;
    let window = move |span_ms: i64| Window {
        from_ms: end - span_ms,
        to_ms: end - 1,
    };
    let mut all_ok = bytes_ok;
    for (label, span) in [
        ("1h", 3_600_000),
        ("24h", DAY_MS),
        ("30d", 30 * DAY_MS),
        ("90d", 90 * DAY_MS),
    ] {
        let span = span.min(days * DAY_MS);
        let mut times = Vec::new();
        let mut resolution = String::new();
        for _ in 0..args.queries.max(1) {
            let t = Instant::now();
            let o = store.overview(window(span)).await?;
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            anyhow::ensure!(
                o.checks.len() == checks,
                "the {label} overview lists {} checks",
                o.checks.len()
            );
            resolution = o.resolution.describe();
        }
        let p = p95(times);
        let ok = p <= OVERVIEW_TARGET_MS;
        all_ok &= ok;
        println!("  overview {label:>3}: p95 {p:7.1} ms (target <= {OVERVIEW_TARGET_MS} ms: {}), from {resolution}", mark(ok));
    }
    let mut times = Vec::new();
    for _ in 0..args.queries.max(1) {
        let t = Instant::now();
        let s = store
            .series("check-00000", window(30 * DAY_MS.min(days * DAY_MS)))
            .await?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        anyhow::ensure!(!s.regions.is_empty(), "the series is empty");
    }
    let series_p95 = p95(times);
    let series_ok = series_p95 <= SERIES_TARGET_MS;
    all_ok &= series_ok;
    println!(
        "  one check's 30-day series: p95 {series_p95:.1} ms (target <= {SERIES_TARGET_MS} ms: {})",
        mark(series_ok)
    );

    // Reference: the 24 h overview from every raw execution, as before rollups.
    let t = Instant::now();
    let samples = store.samples(window(DAY_MS), None).await?;
    let urls = Default::default();
    let reference = derive::overview(&samples, &urls, window(DAY_MS));
    let reference_ms = t.elapsed().as_secs_f64() * 1000.0;
    anyhow::ensure!(
        reference.checks.len() == checks,
        "the reference lists too few checks"
    );
    println!(
        "  reference, 24h overview from {} raw executions: {reference_ms:.1} ms",
        samples.len()
    );

    // Ingest while dashboard queries run back to back.
    let querying = Arc::new(AtomicBool::new(true));
    let reader = {
        let (store, querying) = (store.clone(), querying.clone());
        tokio::spawn(async move {
            let mut n = 0u64;
            while querying.load(Ordering::Relaxed) {
                let _ = store.overview(window(DAY_MS)).await;
                n += 1;
            }
            n
        })
    };
    let t = Instant::now();
    let mut ingested = 0u64;
    let mut at = now;
    while t.elapsed() < args.ingest_for {
        let batch: Vec<ProbeResult> = (0..1_000)
            .map(|c| execution(c % checks, at / step, at + (c / checks) as i64))
            .collect();
        store.write(&batch).await?;
        ingested += batch.len() as u64;
        at += step;
    }
    let ingest_s = t.elapsed().as_secs_f64();
    querying.store(false, Ordering::Relaxed);
    let overviews = reader.await?;
    let rate = ingested as f64 / ingest_s;
    let ingest_ok = rate >= INGEST_TARGET;
    all_ok &= ingest_ok;
    println!(
        "  ingest while {overviews} 24h overviews ran: {rate:.0} results/s (10,000 checks every 10 s need {INGEST_TARGET}: {})",
        mark(ingest_ok)
    );
    println!("done in {:.1} s", started.elapsed().as_secs_f64());
    Ok(if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
