//! Latency and availability statistics over stored samples. Pure: no I/O.
//!
//! For each check x region:
//! - `samples`: executions stored in the window; `availability_pct`: the share that
//!   were available (every request answered, every assertion passed).
//! - `p50/p95/p99/avg`: over the per-execution average latency (each execution's N
//!   requests averaged, as the original system did), counting only executions that got
//!   an HTTP answer (`status_code` present): a refused connection or a DNS failure has no
//!   meaningful latency and shows up in availability instead.
//! - Percentiles use the **nearest-rank** method: sort the n values ascending and take
//!   the value at rank `ceil(p / 100 * n)` (1-based). It always returns an observed
//!   value, never an interpolation, so a p99 over 10 samples is the slowest one.
//! - `cold_ttfb_p50_ms` / `warm_ttfb_p50_ms`: medians (nearest rank) of the first
//!   request's time to first byte on a fresh connection and of the mean time to first
//!   byte of the requests that reused it.
//! - `dns/connect/tls/transfer_p50_ms`: medians (nearest rank) of the cold request's
//!   phases over answered executions; the time-to-first-byte phase is `cold_ttfb_p50_ms`.
//! - `last_*`: the most recent execution by scheduled time.
//!
//! Every store feeds the same functions: each returns [`Sample`]s through
//! [`crate::read::ResultReader::samples`], so a report over any store computes
//! identical figures.
//!
//! Submodules: [`window`] (the `--since` window), [`by_region`] (one check's regions
//! side by side, fastest and slowest marked), [`render`] (table and CSV), [`rollup`]
//! (mergeable aggregates that stores keep for long windows).

pub mod by_region;
pub mod derive;
pub mod render;
pub mod rollup;
mod source;
pub mod window;

use std::collections::BTreeMap;

use serde::Serialize;

pub use crate::read::Sample;
pub use source::{stats_from_samples, uptime_from_samples, Stats, StatsReader, ALL_REGIONS};

/// Statistics of one check in one region.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckRegionStats {
    /// Check id.
    pub check_id: String,
    /// Probe region.
    pub region: String,
    /// Executions in the window.
    pub samples: u64,
    /// Executions that passed.
    pub available: u64,
    /// `available / samples * 100`.
    pub availability_pct: f64,
    /// Median of the per-execution average latency (answered executions only).
    pub latency_p50_ms: Option<f64>,
    /// 95th percentile, nearest rank.
    pub latency_p95_ms: Option<f64>,
    /// 99th percentile, nearest rank.
    pub latency_p99_ms: Option<f64>,
    /// Mean of the per-execution average latency.
    pub latency_avg_ms: Option<f64>,
    /// Median cold time to first byte.
    pub cold_ttfb_p50_ms: Option<f64>,
    /// Median warm time to first byte.
    pub warm_ttfb_p50_ms: Option<f64>,
    /// Median cold DNS phase (answered executions).
    pub dns_p50_ms: Option<f64>,
    /// Median cold connect phase.
    pub connect_p50_ms: Option<f64>,
    /// Median cold TLS phase.
    pub tls_p50_ms: Option<f64>,
    /// Median cold transfer phase.
    pub transfer_p50_ms: Option<f64>,
    /// Scheduled time of the latest execution.
    pub last_scheduled_at_ms: i64,
    /// Whether the latest execution passed.
    pub last_available: bool,
    /// Status code of the latest execution.
    pub last_status: Option<u16>,
    /// `class: message` of the latest execution, when it failed.
    pub last_error: Option<String>,
}

/// `available / samples * 100`; 0 without samples.
pub fn availability_pct(samples: u64, available: u64) -> f64 {
    if samples == 0 {
        0.0
    } else {
        available as f64 * 100.0 / samples as f64
    }
}

/// The `last_error` of a row: `class: message`, the class alone, or nothing.
pub fn error_text(class: Option<String>, message: Option<String>) -> Option<String> {
    class.map(|class| match message {
        Some(message) => format!("{class}: {message}"),
        None => class,
    })
}

/// The nearest-rank percentile `p` (0 < p <= 100) of values sorted ascending.
/// `None` for an empty slice.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

fn sorted(mut values: Vec<f64>) -> Vec<f64> {
    values.sort_by(f64::total_cmp);
    values
}

/// Groups samples by check and region (sorted by check id, then region) and computes
/// the statistics of each group.
pub fn summarize(samples: &[Sample]) -> Vec<CheckRegionStats> {
    let mut groups: BTreeMap<(&str, &str), Vec<&Sample>> = BTreeMap::new();
    for s in samples {
        groups
            .entry((s.check_id.as_str(), s.region.as_str()))
            .or_default()
            .push(s);
    }
    groups
        .into_iter()
        .map(|((check, region), group)| stats(check, region, &group))
        .collect()
}

fn stats(check_id: &str, region: &str, group: &[&Sample]) -> CheckRegionStats {
    let samples = group.len() as u64;
    let available = group.iter().filter(|s| s.available).count() as u64;
    let answered: Vec<&&Sample> = group.iter().filter(|s| s.status_code.is_some()).collect();
    let latency = sorted(answered.iter().map(|s| s.latency_avg_ms).collect());
    let cold = sorted(answered.iter().map(|s| s.cold_ttfb_ms).collect());
    let warm = sorted(group.iter().filter_map(|s| s.warm_ttfb_ms).collect());
    let phase =
        |f: fn(&Sample) -> f64| percentile(&sorted(answered.iter().map(|s| f(s)).collect()), 50.0);
    let avg = (!latency.is_empty()).then(|| latency.iter().sum::<f64>() / latency.len() as f64);
    let last = group
        .iter()
        .max_by_key(|s| s.scheduled_at_ms)
        .expect("groups are never empty");
    let last_error = error_text(last.error_class.clone(), last.error_message.clone());
    CheckRegionStats {
        check_id: check_id.to_string(),
        region: region.to_string(),
        samples,
        available,
        availability_pct: availability_pct(samples, available),
        latency_p50_ms: percentile(&latency, 50.0),
        latency_p95_ms: percentile(&latency, 95.0),
        latency_p99_ms: percentile(&latency, 99.0),
        latency_avg_ms: avg,
        cold_ttfb_p50_ms: percentile(&cold, 50.0),
        warm_ttfb_p50_ms: percentile(&warm, 50.0),
        dns_p50_ms: phase(|s| s.dns_ms),
        connect_p50_ms: phase(|s| s.connect_ms),
        tls_p50_ms: phase(|s| s.tls_ms),
        transfer_p50_ms: phase(|s| s.transfer_ms),
        last_scheduled_at_ms: last.scheduled_at_ms,
        last_available: last.available,
        last_status: last.status_code,
        last_error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(check: &str, region: &str, at: i64, latency: f64) -> Sample {
        Sample {
            check_id: check.into(),
            region: region.into(),
            scheduled_at_ms: at,
            available: true,
            status_code: Some(200),
            error_class: None,
            error_message: None,
            latency_avg_ms: latency,
            cold_ttfb_ms: latency / 2.0,
            warm_ttfb_ms: Some(latency / 4.0),
            dns_ms: 1.0,
            connect_ms: 2.0,
            tls_ms: 3.0,
            transfer_ms: latency / 8.0,
        }
    }

    #[test]
    fn nearest_rank_percentiles() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&values, 50.0), Some(50.0));
        assert_eq!(percentile(&values, 95.0), Some(95.0));
        assert_eq!(percentile(&values, 99.0), Some(99.0));
        assert_eq!(percentile(&values, 100.0), Some(100.0));
        let ten: Vec<f64> = (1..=10).map(|v| f64::from(v) * 10.0).collect();
        assert_eq!(percentile(&ten, 50.0), Some(50.0));
        assert_eq!(percentile(&ten, 95.0), Some(100.0));
        assert_eq!(percentile(&ten, 99.0), Some(100.0));
        assert_eq!(percentile(&[7.0], 50.0), Some(7.0));
        assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0], 50.0), Some(2.0));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn groups_and_summarises() {
        let mut samples: Vec<Sample> = (1..=20)
            .map(|i| sample("api", "local", i * 1000, i as f64))
            .collect();
        samples.push(sample("api", "eu-west-1", 5, 40.0));
        // A failure without an answer: counts against availability, not in latency.
        let mut refused = sample("api", "local", 30_000, 0.0);
        refused.available = false;
        refused.status_code = None;
        refused.warm_ttfb_ms = None;
        refused.error_class = Some("connect".into());
        refused.error_message = Some("connection refused".into());
        samples.push(refused);

        let stats = summarize(&samples);
        assert_eq!(stats.len(), 2);
        assert_eq!(
            (stats[0].check_id.as_str(), stats[0].region.as_str()),
            ("api", "eu-west-1")
        );
        assert_eq!(stats[0].samples, 1);
        assert_eq!(stats[0].latency_p99_ms, Some(40.0));

        let local = &stats[1];
        assert_eq!(local.samples, 21);
        assert_eq!(local.available, 20);
        assert!((local.availability_pct - 2000.0 / 21.0).abs() < 1e-9);
        assert_eq!(local.latency_p50_ms, Some(10.0));
        assert_eq!(local.latency_p95_ms, Some(19.0));
        assert_eq!(local.latency_p99_ms, Some(20.0));
        assert_eq!(local.latency_avg_ms, Some(10.5));
        assert_eq!(local.cold_ttfb_p50_ms, Some(5.0));
        assert_eq!(local.warm_ttfb_p50_ms, Some(2.5));
        assert_eq!(local.last_scheduled_at_ms, 30_000);
        assert!(!local.last_available);
        assert_eq!(local.last_status, None);
        assert_eq!(
            local.last_error.as_deref(),
            Some("connect: connection refused")
        );
    }

    #[test]
    fn all_failed_has_no_latency() {
        let mut s = sample("down", "local", 1, 0.0);
        s.available = false;
        s.status_code = None;
        s.warm_ttfb_ms = None;
        s.error_class = Some("timeout".into());
        let stats = summarize(&[s]);
        assert_eq!(stats[0].availability_pct, 0.0);
        assert_eq!(stats[0].latency_p50_ms, None);
        assert_eq!(stats[0].latency_avg_ms, None);
        assert_eq!(stats[0].last_error.as_deref(), Some("timeout"));
    }
}
