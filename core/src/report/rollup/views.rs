//! The dashboard's views and the report's statistics from [`Aggregate`]s: the same
//! shapes as [`crate::report::derive`] builds from raw samples, with percentiles and
//! medians from the sketches (within [`super::RELATIVE_ACCURACY`]) instead of sorting.

use std::collections::BTreeMap;

use super::Aggregate;
use crate::read::model::{
    LastResult, Overview, Phases, RegionOverview, RegionPhases, RegionSeries, Resolution, Series,
    Uptime, Window,
};
use crate::report::{availability_pct, derive, error_text, CheckRegionStats};

fn last_of(a: &Aggregate) -> LastResult {
    a.last.clone().unwrap_or(LastResult {
        at_ms: 0,
        available: a.passed == a.samples,
        status_code: None,
        error_class: None,
        error_message: None,
    })
}

/// The overview from one aggregate per (check, region) over the window; `urls` maps a
/// check to the URL of its most recent result.
pub fn overview(
    groups: &BTreeMap<(String, String), Aggregate>,
    urls: &BTreeMap<String, String>,
    window: Window,
    resolution: Resolution,
) -> Overview {
    let regions = groups
        .iter()
        .filter(|(_, a)| a.samples > 0)
        .map(|((check_id, region), a)| {
            let region = RegionOverview {
                region: region.clone(),
                samples: a.samples,
                passed: a.passed,
                availability_pct: availability_pct(a.samples, a.passed),
                p50_ms: a.latency.percentile(50.0),
                p95_ms: a.latency.percentile(95.0),
                last: last_of(a),
            };
            (check_id.clone(), region)
        });
    let checks = derive::checks_of(regions, urls);
    Overview {
        window,
        checks,
        resolution,
    }
}

/// The latency series of one check from one aggregate per (region, bucket start).
pub fn series(
    groups: &BTreeMap<(String, i64), Aggregate>,
    check_id: &str,
    window: Window,
    resolution: Resolution,
) -> Series {
    let mut regions: Vec<RegionSeries> = Vec::new();
    for ((region, t), a) in groups {
        if regions.last().is_none_or(|r| &r.region != region) {
            regions.push(RegionSeries {
                region: region.clone(),
                t_ms: vec![],
                latency_ms: vec![],
                failures: vec![],
            });
        }
        let r = regions.last_mut().expect("pushed above");
        let answered = a.answered();
        r.t_ms.push(*t);
        r.latency_ms
            .push((answered > 0).then(|| a.latency_sum_ms / answered as f64));
        r.failures.push(a.samples - a.passed);
    }
    Series {
        check_id: check_id.to_string(),
        window,
        bucket_ms: window.bucket_ms(),
        regions,
        resolution,
    }
}

/// Median cold phases of one check from one aggregate per region.
pub fn phases(
    groups: &BTreeMap<String, Aggregate>,
    check_id: &str,
    window: Window,
    resolution: Resolution,
) -> Phases {
    let regions = groups
        .iter()
        .filter(|(_, a)| a.answered() > 0)
        .map(|(region, a)| RegionPhases {
            region: region.clone(),
            samples: a.answered(),
            dns_ms: a.dns.percentile(50.0).unwrap_or(0.0),
            connect_ms: a.connect.percentile(50.0).unwrap_or(0.0),
            tls_ms: a.tls.percentile(50.0).unwrap_or(0.0),
            ttfb_ms: a.cold_ttfb.percentile(50.0).unwrap_or(0.0),
            transfer_ms: a.transfer.percentile(50.0).unwrap_or(0.0),
            warm_ttfb_ms: a.warm_ttfb.percentile(50.0),
        })
        .collect();
    Phases {
        check_id: check_id.to_string(),
        window,
        regions,
        resolution,
    }
}

/// The report's statistics from one aggregate per (check, region).
pub fn stats(groups: &BTreeMap<(String, String), Aggregate>) -> Vec<CheckRegionStats> {
    groups
        .iter()
        .filter(|(_, a)| a.samples > 0)
        .map(|((check_id, region), a)| {
            let last = last_of(a);
            let answered = a.answered();
            CheckRegionStats {
                check_id: check_id.clone(),
                region: region.clone(),
                samples: a.samples,
                available: a.passed,
                availability_pct: availability_pct(a.samples, a.passed),
                latency_p50_ms: a.latency.percentile(50.0),
                latency_p95_ms: a.latency.percentile(95.0),
                latency_p99_ms: a.latency.percentile(99.0),
                latency_avg_ms: (answered > 0).then(|| a.latency_sum_ms / answered as f64),
                cold_ttfb_p50_ms: a.cold_ttfb.percentile(50.0),
                warm_ttfb_p50_ms: a.warm_ttfb.percentile(50.0),
                dns_p50_ms: a.dns.percentile(50.0),
                connect_p50_ms: a.connect.percentile(50.0),
                tls_p50_ms: a.tls.percentile(50.0),
                transfer_p50_ms: a.transfer.percentile(50.0),
                last_scheduled_at_ms: last.at_ms,
                last_available: last.available,
                last_status: last.status_code,
                last_error: error_text(last.error_class, last.error_message),
            }
        })
        .collect()
}

/// Daily availability from one aggregate per (check, UTC day start).
pub fn daily_uptime(groups: &BTreeMap<(String, i64), Aggregate>, days: u32, now_ms: i64) -> Uptime {
    derive::uptime_from_counts(
        groups
            .iter()
            .map(|((check, day), a)| (check.as_str(), *day, a.samples, a.passed)),
        days,
        now_ms,
    )
}

#[cfg(test)]
mod tests {
    use super::super::{group, tests::sample, Aggregate, Rollup};
    use super::*;
    use crate::report::{derive, summarize};

    #[test]
    fn rollup_figures_match_raw_ones_within_the_accuracy() {
        let samples: Vec<_> = (0..600)
            .map(|i| sample(i * 30_000, 50.0 + (i * 37 % 200) as f64, i % 50 != 7))
            .collect();
        // Half as 5-minute rollups, half raw: the figures must match the raw report.
        let (old, recent) = samples.split_at(300);
        let rollups: Vec<Rollup> = group(old, &[], |c, r, t| {
            (c.to_string(), r.to_string(), t - t.rem_euclid(300_000))
        })
        .into_iter()
        .map(|((check_id, region, start_ms), aggregate)| Rollup {
            check_id,
            region,
            start_ms,
            aggregate: {
                let (summary, phases) = aggregate.encode();
                Aggregate::decode(&summary, Some(&phases)).unwrap()
            },
        })
        .collect();
        let groups = group(recent, &rollups, |c, r, _| (c.to_string(), r.to_string()));
        let approx = &stats(&groups)[0];
        let exact = &summarize(&samples)[0];
        assert_eq!(approx.samples, exact.samples);
        assert_eq!(approx.available, exact.available);
        assert_eq!(approx.last_scheduled_at_ms, exact.last_scheduled_at_ms);
        assert_eq!(approx.last_error, exact.last_error);
        let close = |a: Option<f64>, b: Option<f64>, what: &str| {
            let (a, b) = (a.unwrap(), b.unwrap());
            assert!((a - b).abs() <= b * 0.005 + 1e-9, "{what}: {a} vs {b}");
        };
        close(approx.latency_p50_ms, exact.latency_p50_ms, "p50");
        close(approx.latency_p95_ms, exact.latency_p95_ms, "p95");
        close(approx.latency_p99_ms, exact.latency_p99_ms, "p99");
        close(approx.latency_avg_ms, exact.latency_avg_ms, "avg");
        close(approx.cold_ttfb_p50_ms, exact.cold_ttfb_p50_ms, "ttfb");

        // The daily uptime agrees exactly.
        let days = group(recent, &rollups, |c, _, t| {
            (c.to_string(), t - t.rem_euclid(86_400_000))
        });
        let now = 600 * 30_000;
        assert_eq!(
            daily_uptime(&days, 2, now),
            derive::daily_uptime(&samples, 2, now)
        );
    }
}
