//! What `webmon bench cost` prints: the measured usage, the cost breakdown beside the
//! original design, the ratio, and a projection to 10,000 checks; plus the deployed
//! settings read from the Pulumi projects.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Instant;

use webmon_testkit::emulator::CallCounts;

use super::model::{breakdown, DynamoUse, Usage};
use super::prices::Prices;
use super::{Args, ALERT_OPS, HOME, PROBE_REGIONS};

/// Deployed settings read from the Pulumi projects (with their defaults as fallback).
pub(super) struct Infra {
    pub(super) probe_memory_mb: f64,
    pub(super) writer_memory_mb: f64,
    pub(super) notifier_memory_mb: f64,
    pub(super) sweeper_memory_mb: f64,
    /// Alert table stream records per notifier invocation.
    pub(super) notifier_batch_size: usize,
    /// SQS messages per writer invocation.
    pub(super) writer_batch_size: usize,
    /// The writer's event source batching window, seconds.
    pub(super) writer_batching_window_s: f64,
    pub(super) memory_retention_hours: f64,
    pub(super) magnetic_retention_days: f64,
}

impl Infra {
    pub(super) fn read(dir: &Path) -> Self {
        let load = |file: &str| -> serde_yaml::Value {
            std::fs::read_to_string(dir.join(file))
                .ok()
                .and_then(|t| serde_yaml::from_str(&t).ok())
                .unwrap_or_default()
        };
        let (home, region) = (load("Pulumi.yaml"), load("regions/Pulumi.yaml"));
        let get = |doc: &serde_yaml::Value, key: &str, fallback: f64| {
            doc["config"][key]["default"].as_f64().unwrap_or_else(|| {
                eprintln!(
                    "note: config {key} not found under {}, using {fallback}",
                    dir.display()
                );
                fallback
            })
        };
        Self {
            probe_memory_mb: get(&region, "probeMemoryMb", 512.0),
            writer_memory_mb: get(&home, "writerMemoryMb", 256.0),
            notifier_memory_mb: get(&home, "notifierMemoryMb", 128.0),
            sweeper_memory_mb: get(&home, "sweeperMemoryMb", 128.0),
            notifier_batch_size: get(&home, "notifierBatchSize", 10.0).max(1.0) as usize,
            writer_batch_size: get(&home, "writerBatchSize", 10.0).max(1.0) as usize,
            writer_batching_window_s: get(&home, "writerBatchingWindowSeconds", 5.0).max(0.001),
            memory_retention_hours: get(&home, "memoryRetentionHours", 24.0),
            magnetic_retention_days: get(&home, "magneticRetentionDays", 365.0),
        }
    }
}

pub(super) fn print_report(args: &Args, prices: &Prices, u: &Usage, run: &RunInfo) -> bool {
    let RunInfo {
        rules_per_region,
        setup_calls,
        wall,
        rss,
        counts,
        alerting,
        warmup,
    } = run;
    let execs = u.executions as f64;
    let b = breakdown(prices, u);
    println!(
        "executions {} ({} checks x {} regions, {} trigger minutes); setup calls (not billed per execution) {setup_calls}",
        u.executions,
        args.checks,
        PROBE_REGIONS.len(),
        args.minutes
    );
    if let Some(w) = warmup {
        let alerting = if alerting.is_some() {
            format!(
                "; alerting {:.0} read units, {:.0} write units ({} state writes: every check's first evaluation, paid once per check), {} notifications",
                w.alert.read_units,
                w.alert.write_units,
                w.alert.state_writes.values().sum::<u64>(),
                w.notifications
            )
        } else {
            String::new()
        };
        println!(
            "warm-up, before the measured minutes and counted apart like the setup: {} trigger minute(s), {} executions, {} calls{alerting}",
            w.minutes, w.executions, w.calls
        );
    }
    for (region, rules, groups) in rules_per_region {
        println!("{region}: {rules} rules carrying {groups} schedule groups");
    }
    println!(
        "probe: {} invocations ({:.5}/execution), billed {:.1} s of which {:.1} s waiting for offsets, {} MB",
        u.probe.invocations,
        u.probe.invocations as f64 / execs,
        u.probe.billed_ms / 1000.0,
        u.probe.wait_ms / 1000.0,
        u.probe.memory_mb
    );
    println!(
        "writer: {} invocations, billed {:.1} s, {} MB; RSS high-water of this process before reading the records back (every handler of both regions, the target, the proxy) {}",
        u.writer.invocations,
        u.writer.billed_ms / 1000.0,
        u.writer.memory_mb,
        rss.as_deref().unwrap_or("unknown")
    );
    for (label, home) in [("probe regions", false), ("home", true)] {
        let calls: Vec<String> = counts
            .iter()
            .filter(|((region, _, _), _)| (region == HOME) == home)
            .fold(BTreeMap::<String, u64>::new(), |mut m, ((_, s, o), n)| {
                *m.entry(format!("{s}.{o}")).or_default() += n;
                m
            })
            .into_iter()
            .map(|(k, n)| format!("{k} {n} ({:.5})", n as f64 / execs))
            .collect();
        println!("calls of the {label} (per execution): {}", calls.join(", "));
    }
    if let Some(a) = alerting {
        print_alerting(args, u, a);
    }
    println!(
        "Timestream: {} records, {:.0} metered bytes each",
        u.timestream_records,
        u.timestream_record_bytes as f64 / execs
    );
    println!();
    println!(
        "cost per 1,000,000 check executions, {} {} prices as of {}:",
        prices.region, prices.currency, prices.as_of
    );
    println!("(sources: {})", prices.sources.join("; "));
    println!("| item | this design, per execution | this design | original |");
    println!("|---|---|---|---|");
    for l in &b.lines {
        println!(
            "| {} | {} | ${:.4} | ${:.4} |",
            l.item, l.detail, l.ours, l.original
        );
    }
    println!(
        "| **total** | | **${:.3}** | **${:.3}** |",
        b.ours(),
        b.original()
    );
    for l in &b.storage {
        println!(
            "| {} (retention, not in total) | {} | ${:.4} | ${:.4} |",
            l.item, l.detail, l.ours, l.original
        );
    }
    println!();
    println!(
        "ratio original / this design: {:.1}x; target <= $0.60 per million: {}",
        b.original() / b.ours(),
        if b.ours() <= 0.60 { "met" } else { "MISSED" }
    );
    let met = b.ours() <= 0.60;
    if args.checks < 10_000 {
        let k = 10_000.0 / args.checks as f64;
        let mut scaled = u.clone();
        scaled.executions = (execs * k) as u64;
        // Waiting time per invocation stays; the work grows with the executions.
        scaled.probe.billed_ms = u.probe.wait_ms + (u.probe.billed_ms - u.probe.wait_ms) * k;
        scaled.writer.billed_ms *= k;
        scaled.writer.invocations = (u.writer.invocations as f64 * k) as u64;
        for v in [
            &mut scaled.sqs_send_calls,
            &mut scaled.sqs_receive_calls,
            &mut scaled.sqs_delete_calls,
            &mut scaled.timestream_calls,
            &mut scaled.timestream_record_bytes,
        ] {
            *v = (*v as f64 * k) as u64;
        }
        scaled.dynamodb_read_units *= k;
        // Alerting's reads and writes grow with the checks and their executions, the
        // notifier with the incidents; the sweeper still runs once a minute (its work
        // grows with the failing checks: a lower bound too).
        scaled.alert = u.alert.scaled(k);
        scaled.notifier.billed_ms *= k;
        scaled.notifier.invocations = (u.notifier.invocations as f64 * k) as u64;
        scaled.sqs_message_bytes = u.sqs_message_bytes.repeat(k.ceil() as usize);
        let s = breakdown(prices, &scaled);
        println!(
            "projection at 10,000 checks (same rules and probe invocations, {k:.1}x the executions each, a lower bound since more checks fill more bins; everything else per execution as measured): ${:.3} per million, {:.1}x below the original",
            s.ours(),
            s.original() / s.ours()
        );
    }
    eprintln!("done in {:.1} s", wall.elapsed().as_secs_f64());
    met
}

/// The alerting summary: per execution, the home region's DynamoDB, notifications and
/// the notifier's and sweeper's invocations; then who read and wrote alert states.
fn print_alerting(args: &Args, u: &Usage, a: &AlertRun) {
    let execs = u.executions.max(1) as f64;
    let kinds: Vec<String> = a
        .notification_kinds
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    let calls: Vec<String> = ALERT_OPS
        .iter()
        .filter_map(|op| {
            let n = u.alert.calls.get(*op).copied().unwrap_or(0);
            (n > 0).then(|| format!("{op} {n} ({:.5})", n as f64 / execs))
        })
        .collect();
    println!(
        "alerting: {} of {} checks failing ({}%); per execution {:.5} read units and {:.5} write units of the home DynamoDB ({}); {} notifications sent ({}); notifier {} invocations (billed {:.3} s, {} MB), sweeper {} invocations (billed {:.3} s, {} MB)",
        a.failing.len(),
        args.checks,
        args.failing_percent,
        u.alert.read_units / execs,
        u.alert.write_units / execs,
        calls.join(", "),
        u.notifications,
        kinds.join(", "),
        u.notifier.invocations,
        u.notifier.billed_ms / 1000.0,
        u.notifier.memory_mb,
        u.sweeper.invocations,
        u.sweeper.billed_ms / 1000.0,
        u.sweeper.memory_mb
    );
    let split = |m: &BTreeMap<String, u64>| -> (u64, u64) {
        m.iter().fold((0, 0), |(healthy, failing), (id, n)| {
            if a.failing.contains(id) {
                (healthy, failing + n)
            } else {
                (healthy + n, failing)
            }
        })
    };
    let (healthy_reads, failing_reads) = split(&u.alert.state_reads);
    let (healthy_writes, failing_writes) = split(&u.alert.state_writes);
    let healthy_checks = (args.checks - a.failing.len()).max(1) as f64;
    let healthy_execs = u.executions.saturating_sub(a.failing_executions).max(1) as f64;
    println!(
        "alert states: healthy checks {healthy_reads} reads ({:.2} per check), {healthy_writes} writes ({:.5} per execution); failing checks {failing_reads} reads, {failing_writes} writes for {} executions ({:.2} writes per execution)",
        healthy_reads as f64 / healthy_checks,
        healthy_writes as f64 / healthy_execs,
        a.failing_executions,
        failing_writes as f64 / a.failing_executions.max(1) as f64
    );
    if u.alert.server_errors > 0 {
        println!(
            "note: the emulator answered {} home DynamoDB calls with a server error (moto under concurrent transactions); retried, counted in the calls, not billed",
            u.alert.server_errors
        );
    }
    if healthy_writes > 0 {
        println!(
            "note: healthy checks' alert states were written {healthy_writes} times in the measured minutes (a settled check receiving routine results should not be)"
        );
    }
}

/// Alerting facts of the run.
pub(super) struct AlertRun {
    /// Ids of the failing checks.
    pub(super) failing: BTreeSet<String>,
    /// Their executions in the measured minutes.
    pub(super) failing_executions: u64,
    /// Notifications delivered in the measured minutes, by `type state`.
    pub(super) notification_kinds: BTreeMap<String, u64>,
}

/// The warm-up minutes, counted apart.
pub(super) struct WarmUp {
    /// Trigger minutes.
    pub(super) minutes: u32,
    /// Executions.
    pub(super) executions: u64,
    /// API calls.
    pub(super) calls: u64,
    /// Alerting's DynamoDB.
    pub(super) alert: DynamoUse,
    /// Notifications sent.
    pub(super) notifications: u64,
}

/// Facts about the run itself.
pub(super) struct RunInfo {
    /// Per probe region: its rules and the schedule groups they carry.
    pub(super) rules_per_region: Vec<(&'static str, usize, usize)>,
    /// API calls made while setting up (tables, items, rules): not per execution.
    pub(super) setup_calls: u64,
    /// When the run started.
    pub(super) wall: Instant,
    /// `VmHWM` of this process after the pipeline ran.
    pub(super) rss: Option<String>,
    /// Calls counted by the proxy in the measured minutes.
    pub(super) counts: CallCounts,
    /// Alerting, when on.
    pub(super) alerting: Option<AlertRun>,
    /// The warm-up, when there was one.
    pub(super) warmup: Option<WarmUp>,
}

/// `VmHWM` of this process, as `/proc/self/status` gives it.
pub(super) fn rss_high_water() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    Some(line.trim_start_matches("VmHWM:").trim().to_string())
}
