//! What `webmon bench cost` prints: the measured usage, the cost breakdown beside the
//! original design, the ratio, and a projection to 10,000 checks; plus the deployed
//! settings read from the Pulumi projects.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use webmon_testkit::emulator::Emulator;

use super::model::{breakdown, Usage};
use super::prices::Prices;
use super::{Args, PROBE_REGIONS};

/// Deployed settings read from the Pulumi projects (with their defaults as fallback).
pub(super) struct Infra {
    pub(super) probe_memory_mb: f64,
    pub(super) writer_memory_mb: f64,
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
            memory_retention_hours: get(&home, "memoryRetentionHours", 24.0),
            magnetic_retention_days: get(&home, "magneticRetentionDays", 365.0),
        }
    }
}

pub(super) fn print_report(
    args: &Args,
    prices: &Prices,
    u: &Usage,
    emulator: &Emulator,
    run: &RunInfo,
) -> bool {
    let RunInfo {
        rules_per_region,
        setup_calls,
        wall,
        rss,
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
    let calls: Vec<String> = emulator
        .counts()
        .iter()
        .fold(BTreeMap::<String, u64>::new(), |mut m, ((_, s, o), n)| {
            *m.entry(format!("{s}.{o}")).or_default() += n;
            m
        })
        .into_iter()
        .map(|(k, n)| format!("{k} {n} ({:.5})", n as f64 / execs))
        .collect();
    println!("calls (per execution): {}", calls.join(", "));
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
}

/// `VmHWM` of this process, as `/proc/self/status` gives it.
pub(super) fn rss_high_water() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    Some(line.trim_start_matches("VmHWM:").trim().to_string())
}
