//! [`ResultReader`] over the embedded [`SqliteStore`], through its read API. The
//! numbers come from [`webmon_core::report`], so the dashboard and `webmon report` agree.

use std::collections::BTreeMap;

use futures::future::BoxFuture;

use super::SqliteStore;
use webmon_core::ports::PortError;
use webmon_core::read::model::{
    CheckOverview, Failure, Failures, Health, LastResult, Overview, Phases, RegionOverview,
    RegionPhases, RegionSeries, Series, Window,
};
use webmon_core::read::ResultReader;
use webmon_core::report::{percentile, summarize, Sample};
use webmon_core::result::ProbeResult;

fn in_window(window: &Window, at_ms: i64) -> bool {
    (window.from_ms..=window.to_ms).contains(&at_ms)
}

fn median(mut values: Vec<f64>) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    percentile(&values, 50.0)
}

impl SqliteStore {
    async fn window_samples(
        &self,
        window: &Window,
        check_id: Option<&str>,
    ) -> Result<Vec<Sample>, PortError> {
        let mut samples = self.samples_since(window.from_ms, check_id).await?;
        samples.retain(|s| in_window(window, s.scheduled_at_ms));
        Ok(samples)
    }

    async fn dashboard_overview(&self, window: Window) -> Result<Overview, PortError> {
        let samples = self.window_samples(&window, None).await?;
        let urls: BTreeMap<String, String> = self
            .latest()
            .await?
            .into_iter()
            .map(|r| (r.check_id, r.url))
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
        let mut checks: Vec<CheckOverview> = Vec::new();
        for stats in summarize(&samples) {
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
            match checks.last_mut() {
                Some(c) if c.check_id == stats.check_id => c.regions.push(region),
                _ => checks.push(CheckOverview {
                    url: urls.get(&stats.check_id).cloned().unwrap_or_default(),
                    check_id: stats.check_id,
                    health: Health::Up,
                    regions: vec![region],
                }),
            }
        }
        for c in &mut checks {
            c.health = Health::from_last(c.regions.iter().map(|r| r.last.available));
        }
        Ok(Overview { window, checks })
    }

    async fn dashboard_series(&self, check_id: &str, window: Window) -> Result<Series, PortError> {
        let samples = self.window_samples(&window, Some(check_id)).await?;
        let bucket_ms = window.bucket_ms();
        // region -> bucket start -> (latency sum, answered, failures)
        let mut buckets: BTreeMap<&str, BTreeMap<i64, (f64, u64, u64)>> = BTreeMap::new();
        for s in &samples {
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
        Ok(Series {
            check_id: check_id.to_string(),
            window,
            bucket_ms,
            regions,
        })
    }

    async fn dashboard_phases(&self, check_id: &str, window: Window) -> Result<Phases, PortError> {
        let results = self.results_since(window.from_ms, Some(check_id)).await?;
        let mut by_region: BTreeMap<&str, Vec<&ProbeResult>> = BTreeMap::new();
        for r in results
            .iter()
            .filter(|r| in_window(&window, r.scheduled_at_ms) && r.status_code.is_some())
        {
            by_region.entry(r.region.as_str()).or_default().push(r);
        }
        let regions = by_region
            .into_iter()
            .map(|(region, rs)| {
                let med = |f: fn(&ProbeResult) -> f64| {
                    median(rs.iter().map(|r| f(r)).collect()).unwrap_or(0.0)
                };
                RegionPhases {
                    region: region.to_string(),
                    samples: rs.len() as u64,
                    dns_ms: med(|r| r.cold.dns_ms),
                    connect_ms: med(|r| r.cold.connect_ms),
                    tls_ms: med(|r| r.cold.tls_ms),
                    ttfb_ms: med(|r| r.cold.ttfb_ms),
                    transfer_ms: med(|r| r.cold.transfer_ms),
                    warm_ttfb_ms: median(rs.iter().filter_map(|r| r.warm_ttfb_ms).collect()),
                }
            })
            .collect();
        Ok(Phases {
            check_id: check_id.to_string(),
            window,
            regions,
        })
    }

    async fn dashboard_failures(
        &self,
        check_id: &str,
        window: Window,
        limit: usize,
    ) -> Result<Failures, PortError> {
        let mut samples = self.window_samples(&window, Some(check_id)).await?;
        samples.retain(|s| !s.available);
        samples.sort_by(|a, b| {
            b.scheduled_at_ms
                .cmp(&a.scheduled_at_ms)
                .then_with(|| a.region.cmp(&b.region))
        });
        let failures = samples
            .into_iter()
            .take(limit)
            .map(|s| Failure {
                at_ms: s.scheduled_at_ms,
                region: s.region,
                status_code: s.status_code,
                error_class: s.error_class,
                error_message: s.error_message,
            })
            .collect();
        Ok(Failures {
            check_id: check_id.to_string(),
            window,
            failures,
        })
    }
}

impl ResultReader for SqliteStore {
    fn overview(&self, window: Window) -> BoxFuture<'_, Result<Overview, PortError>> {
        Box::pin(self.dashboard_overview(window))
    }

    fn series<'a>(
        &'a self,
        check_id: &'a str,
        window: Window,
    ) -> BoxFuture<'a, Result<Series, PortError>> {
        Box::pin(self.dashboard_series(check_id, window))
    }

    fn phases<'a>(
        &'a self,
        check_id: &'a str,
        window: Window,
    ) -> BoxFuture<'a, Result<Phases, PortError>> {
        Box::pin(self.dashboard_phases(check_id, window))
    }

    fn failures<'a>(
        &'a self,
        check_id: &'a str,
        window: Window,
        limit: usize,
    ) -> BoxFuture<'a, Result<Failures, PortError>> {
        Box::pin(self.dashboard_failures(check_id, window, limit))
    }

    fn samples<'a>(
        &'a self,
        window: Window,
        check_id: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Vec<Sample>, PortError>> {
        Box::pin(async move { self.window_samples(&window, check_id).await })
    }

    fn describe(&self) -> String {
        format!("the SQLite store {}", self.path_label())
    }
}
