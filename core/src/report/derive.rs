//! The dashboard's views computed from raw [`Sample`]s, for a store that returns one
//! row per execution (InfluxDB over InfluxQL): the same figures as `webmon report`
//! (nearest-rank percentiles from [`crate::report`]), so every reader built on these
//! agrees with the report exactly. Pure functions, no I/O.

use std::collections::BTreeMap;

use super::Sample;
use super::{percentile, summarize};
use crate::read::model::{
    CheckOverview, CheckUptime, DayUptime, Failure, Failures, Health, LastResult, Overview, Phases,
    RegionOverview, RegionPhases, RegionSeries, Resolution, Series, Uptime, Window, DAY_MS,
};

fn in_window(window: &Window, at_ms: i64) -> bool {
    (window.from_ms..=window.to_ms).contains(&at_ms)
}

fn median(mut values: Vec<f64>) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    percentile(&values, 50.0)
}

/// The overview of `samples` in `window`; `urls` maps a check to the URL of its most
/// recent result (absent: empty).
pub fn overview(samples: &[Sample], urls: &BTreeMap<String, String>, window: Window) -> Overview {
    let samples: Vec<Sample> = samples
        .iter()
        .filter(|s| in_window(&window, s.scheduled_at_ms))
        .cloned()
        .collect();
    let mut last: BTreeMap<(&str, &str), &Sample> = BTreeMap::new();
    for s in &samples {
        let entry = last
            .entry((s.check_id.as_str(), s.region.as_str()))
            .or_insert(s);
        if s.scheduled_at_ms > entry.scheduled_at_ms {
            *entry = s;
        }
    }
    let regions = summarize(&samples).into_iter().map(|stats| {
        let l = last[&(stats.check_id.as_str(), stats.region.as_str())];
        let region = RegionOverview {
            region: stats.region,
            samples: stats.samples,
            passed: stats.available,
            availability_pct: stats.availability_pct,
            p50_ms: stats.latency_p50_ms,
            p95_ms: stats.latency_p95_ms,
            last: LastResult {
                at_ms: l.scheduled_at_ms,
                available: l.available,
                status_code: l.status_code,
                error_class: l.error_class.clone(),
                error_message: l.error_message.clone(),
            },
        };
        (stats.check_id, region)
    });
    let checks = checks_of(regions, urls);
    Overview {
        window,
        checks,
        resolution: Resolution::raw(),
    }
}

/// Checks from their regions' rows, given sorted by check and region: each check's URL
/// from `urls` (absent: empty) and its health from its regions' last results.
pub fn checks_of(
    regions: impl IntoIterator<Item = (String, RegionOverview)>,
    urls: &BTreeMap<String, String>,
) -> Vec<CheckOverview> {
    let mut checks: Vec<CheckOverview> = Vec::new();
    for (check_id, region) in regions {
        match checks.last_mut() {
            Some(c) if c.check_id == check_id => c.regions.push(region),
            _ => checks.push(CheckOverview {
                url: urls.get(&check_id).cloned().unwrap_or_default(),
                check_id,
                health: Health::Up,
                regions: vec![region],
            }),
        }
    }
    for c in &mut checks {
        c.health = Health::from_last(c.regions.iter().map(|r| r.last.available));
    }
    checks
}

/// Mean answered latency and failures of `check_id` per region and
/// [`Window::bucket_ms`] bucket.
pub fn series(samples: &[Sample], check_id: &str, window: Window) -> Series {
    let bucket_ms = window.bucket_ms();
    // region -> bucket start -> (latency sum, answered, failures)
    let mut buckets: BTreeMap<&str, BTreeMap<i64, (f64, u64, u64)>> = BTreeMap::new();
    for s in samples
        .iter()
        .filter(|s| s.check_id == check_id && in_window(&window, s.scheduled_at_ms))
    {
        let start = s.scheduled_at_ms - s.scheduled_at_ms.rem_euclid(bucket_ms);
        let b = buckets
            .entry(s.region.as_str())
            .or_default()
            .entry(start)
            .or_default();
        if s.status_code.is_some() {
            b.0 += s.latency_avg_ms;
            b.1 += 1;
        }
        if !s.available {
            b.2 += 1;
        }
    }
    let regions = buckets
        .into_iter()
        .map(|(region, points)| {
            let mut series = RegionSeries {
                region: region.to_string(),
                t_ms: vec![],
                latency_ms: vec![],
                failures: vec![],
            };
            for (t, (sum, answered, failures)) in points {
                series.t_ms.push(t);
                series
                    .latency_ms
                    .push((answered > 0).then(|| sum / answered as f64));
                series.failures.push(failures);
            }
            series
        })
        .collect();
    Series {
        check_id: check_id.to_string(),
        window,
        bucket_ms,
        regions,
        resolution: Resolution::raw(),
    }
}

/// Median cold phases of the answered executions of `check_id`, per region.
pub fn phases(samples: &[Sample], check_id: &str, window: Window) -> Phases {
    let mut by_region: BTreeMap<&str, Vec<&Sample>> = BTreeMap::new();
    for s in samples.iter().filter(|s| {
        s.check_id == check_id && in_window(&window, s.scheduled_at_ms) && s.status_code.is_some()
    }) {
        by_region.entry(s.region.as_str()).or_default().push(s);
    }
    let regions = by_region
        .into_iter()
        .map(|(region, ss)| {
            let med =
                |f: fn(&Sample) -> f64| median(ss.iter().map(|s| f(s)).collect()).unwrap_or(0.0);
            RegionPhases {
                region: region.to_string(),
                samples: ss.len() as u64,
                dns_ms: med(|s| s.dns_ms),
                connect_ms: med(|s| s.connect_ms),
                tls_ms: med(|s| s.tls_ms),
                ttfb_ms: med(|s| s.cold_ttfb_ms),
                transfer_ms: med(|s| s.transfer_ms),
                warm_ttfb_ms: median(ss.iter().filter_map(|s| s.warm_ttfb_ms).collect()),
            }
        })
        .collect();
    Phases {
        check_id: check_id.to_string(),
        window,
        regions,
        resolution: Resolution::raw(),
    }
}

/// The newest `limit` failures of `check_id`, newest first (then by region).
pub fn failures(samples: &[Sample], check_id: &str, window: Window, limit: usize) -> Failures {
    let mut failed: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.check_id == check_id && !s.available && in_window(&window, s.scheduled_at_ms))
        .collect();
    failed.sort_by(|a, b| {
        b.scheduled_at_ms
            .cmp(&a.scheduled_at_ms)
            .then_with(|| a.region.cmp(&b.region))
    });
    let failures = failed
        .into_iter()
        .take(limit)
        .map(|s| Failure {
            at_ms: s.scheduled_at_ms,
            region: s.region.clone(),
            status_code: s.status_code,
            error_class: s.error_class.clone(),
            error_message: s.error_message.clone(),
        })
        .collect();
    Failures {
        check_id: check_id.to_string(),
        window,
        failures,
    }
}

fn availability_pct(samples: u64, passed: u64) -> Option<f64> {
    (samples > 0).then(|| passed as f64 * 100.0 / samples as f64)
}

/// Daily availability over the `days` UTC days ending at `now_ms` (see
/// [`Uptime::window`]): per check, one entry per day, all regions counted together;
/// a day without executions has no availability. From raw samples; the SQLite store's
/// daily rollups give the same figures through [`uptime_from_counts`].
pub fn daily_uptime(samples: &[Sample], days: u32, now_ms: i64) -> Uptime {
    uptime_from_counts(
        samples.iter().map(|s| {
            (
                s.check_id.as_str(),
                s.scheduled_at_ms,
                1,
                u64::from(s.available),
            )
        }),
        days,
        now_ms,
    )
}

/// Daily availability from `(check, time, executions, passed)` counts: a raw sample is
/// one execution at its scheduled time, a rollup many at its bucket start. Counts
/// outside the history's window are left out.
pub fn uptime_from_counts<'a>(
    counts_in: impl IntoIterator<Item = (&'a str, i64, u64, u64)>,
    days: u32,
    now_ms: i64,
) -> Uptime {
    let days = days.max(1);
    let window = Uptime::window(days, now_ms);
    // check -> day index -> (samples, passed)
    let mut counts: BTreeMap<&str, Vec<(u64, u64)>> = BTreeMap::new();
    for (check_id, at_ms, samples, passed) in counts_in {
        if !in_window(&window, at_ms) {
            continue;
        }
        let index = ((at_ms - window.from_ms) / DAY_MS) as usize;
        let per_day = counts
            .entry(check_id)
            .or_insert_with(|| vec![(0, 0); days as usize]);
        per_day[index].0 += samples;
        per_day[index].1 += passed;
    }
    let checks = counts
        .into_iter()
        .map(|(check_id, per_day)| {
            let samples = per_day.iter().map(|d| d.0).sum();
            let passed = per_day.iter().map(|d| d.1).sum();
            CheckUptime {
                check_id: check_id.to_string(),
                samples,
                passed,
                availability_pct: availability_pct(samples, passed),
                days: per_day
                    .into_iter()
                    .enumerate()
                    .map(|(i, (samples, passed))| DayUptime {
                        day_ms: window.from_ms + i as i64 * DAY_MS,
                        samples,
                        passed,
                        availability_pct: availability_pct(samples, passed),
                    })
                    .collect(),
            }
        })
        .collect();
    Uptime {
        window,
        days,
        checks,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(region: &str, at: i64, ms: f64, ok: bool) -> Sample {
        Sample {
            check_id: "api".into(),
            region: region.into(),
            scheduled_at_ms: at,
            available: ok,
            status_code: Some(if ok { 200 } else { 503 }),
            error_class: (!ok).then(|| "http_status".into()),
            error_message: None,
            latency_avg_ms: ms,
            cold_ttfb_ms: ms / 2.0,
            warm_ttfb_ms: None,
            dns_ms: 1.0,
            connect_ms: 2.0,
            tls_ms: 3.0,
            transfer_ms: 4.0,
        }
    }

    #[test]
    fn views_agree_with_the_report() {
        let window = Window {
            from_ms: 0,
            to_ms: 100_000,
        };
        let mut all: Vec<Sample> = (1..=20)
            .map(|i| sample("eu", i * 1000, i as f64, i != 20))
            .collect();
        all.push(sample("eu", 200_000, 999.0, true));
        let urls = BTreeMap::from([("api".to_string(), "http://a".to_string())]);
        let o = overview(&all, &urls, window);
        let eu = &o.checks[0].regions[0];
        assert_eq!((eu.samples, eu.passed), (20, 19));
        assert_eq!((eu.p50_ms, eu.p95_ms), (Some(10.0), Some(19.0)));
        assert_eq!((eu.last.at_ms, eu.last.available), (20_000, false));
        assert_eq!(o.checks[0].url, "http://a");
        assert_eq!(o.checks[0].health, Health::Down);
        let f = failures(&all, "api", window, 5);
        assert_eq!(f.failures.len(), 1);
        let p = phases(&all, "api", window);
        assert_eq!((p.regions[0].samples, p.regions[0].ttfb_ms), (20, 5.0));
        let s = series(&all, "api", window);
        assert_eq!(s.regions[0].failures.iter().sum::<u64>(), 1);
        assert!(series(&all, "web", window).regions.is_empty());
    }

    #[test]
    fn daily_uptime_has_one_entry_per_utc_day() {
        let now = 10 * DAY_MS + 3_600_000;
        let mut all = vec![
            sample("eu", 10 * DAY_MS, 10.0, true),
            sample("us", 10 * DAY_MS + 1, 10.0, false),
            sample("eu", 9 * DAY_MS - 1, 10.0, true),
            sample("eu", 8 * DAY_MS, 10.0, true),
            // Before the first day and after now: left out.
            sample("eu", 8 * DAY_MS - 1, 10.0, false),
            sample("eu", now + 1, 10.0, false),
        ];
        all[2].check_id = "web".into();
        let u = daily_uptime(&all, 3, now);
        assert_eq!(
            u.window,
            Window {
                from_ms: 8 * DAY_MS,
                to_ms: now
            }
        );
        assert_eq!(u.checks.len(), 2);
        let api = &u.checks[0];
        assert_eq!((api.samples, api.passed), (3, 2));
        let figures: Vec<(i64, u64, Option<f64>)> = api
            .days
            .iter()
            .map(|d| (d.day_ms, d.samples, d.availability_pct))
            .collect();
        assert_eq!(
            figures,
            [
                (8 * DAY_MS, 1, Some(100.0)),
                (9 * DAY_MS, 0, None),
                (10 * DAY_MS, 2, Some(50.0))
            ]
        );
        let web = &u.checks[1];
        assert_eq!(web.days[0].samples, 1);
        assert_eq!(web.days[1].availability_pct, None);
    }
}
