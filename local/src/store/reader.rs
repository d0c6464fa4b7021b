//! [`ResultReader`] and [`StatsReader`] over the embedded [`SqliteStore`].
//!
//! A window of at most [`RAW_WINDOW_MS`], or one whose time is not rolled up yet, is
//! read from raw executions and computed by [`webmon_core::report::derive`], exactly as
//! every sample-returning store does. A longer one is split by
//! [`webmon_core::report::rollup::cover()`] into daily, hourly and 5-minute rollups plus
//! raw executions at the edges, and computed by [`views`]; each view says which
//! it used (`resolution`).

use std::collections::BTreeMap;

use futures::future::BoxFuture;

use super::SqliteStore;
use webmon_core::ports::PortError;
use webmon_core::read::model::{Failures, Overview, Phases, Resolution, Series, Uptime, Window};
use webmon_core::read::{AlertReader, AlertView, CheckLevel, ResultReader};
use webmon_core::report::rollup::{cover, group, views, Cover, Level, Rollup};
use webmon_core::report::{derive, summarize, Sample, Stats, StatsReader, ALL_REGIONS};

/// Windows of at most this are read from raw executions only, exactly.
pub const RAW_WINDOW_MS: i64 = 3_600_000;

/// The raw samples and rollups that make up a window, and what they are.
struct Gathered {
    samples: Vec<Sample>,
    rollups: Vec<Rollup>,
    resolution: Resolution,
}

impl SqliteStore {
    async fn window_samples(
        &self,
        window: &Window,
        check_id: Option<&str>,
    ) -> Result<Vec<Sample>, PortError> {
        self.samples_between(window.from_ms, window.to_ms.saturating_add(1), check_id)
            .await
    }

    /// How `window` splits into rollups (at most `max_width_ms` wide) and raw ranges.
    async fn cover_of(&self, window: Window, max_width_ms: i64) -> Result<Cover, PortError> {
        let bounds = self.rollup_bounds().await?;
        Ok(cover(
            window,
            bounds.raw_from_ms,
            bounds.rolled_to_ms,
            max_width_ms,
            RAW_WINDOW_MS,
        ))
    }

    /// The raw samples and rollups of `cover`; with `phases`, the rollups' phase sketches
    /// too (the overview, series and uptime need none). When no rollup is found (a
    /// raw-only cover, or time not rolled up), callers compute from the samples exactly.
    async fn gather(
        &self,
        cover: &Cover,
        check_id: Option<&str>,
        phases: bool,
    ) -> Result<Gathered, PortError> {
        let mut samples = Vec::new();
        for (from, to) in &cover.raw {
            samples.extend(self.samples_between(*from, *to, check_id).await?);
        }
        let mut rollups = Vec::new();
        for (level, first, last) in &cover.rollups {
            rollups.extend(
                self.rollups_between(*level, *first, *last, check_id, phases)
                    .await?,
            );
        }
        Ok(Gathered {
            samples,
            rollups,
            resolution: cover.resolution(),
        })
    }

    async fn dashboard_overview(&self, window: Window) -> Result<Overview, PortError> {
        let urls: BTreeMap<String, String> = self
            .latest()
            .await?
            .into_iter()
            .map(|r| (r.check_id, r.url))
            .collect();
        let cover = self.cover_of(window, i64::MAX).await?;
        let g = self.gather(&cover, None, false).await?;
        if g.rollups.is_empty() {
            return Ok(derive::overview(&g.samples, &urls, window));
        }
        let groups = group(&g.samples, &g.rollups, |c, r, _| {
            (c.to_string(), r.to_string())
        });
        Ok(views::overview(&groups, &urls, window, g.resolution))
    }

    async fn window_series(&self, check_id: &str, window: Window) -> Result<Series, PortError> {
        let bucket_ms = window.bucket_ms();
        let cover = self.cover_of(window, bucket_ms).await?;
        let g = self.gather(&cover, Some(check_id), false).await?;
        if g.rollups.is_empty() {
            return Ok(derive::series(&g.samples, check_id, window));
        }
        let groups = group(&g.samples, &g.rollups, |_, r, t| {
            (r.to_string(), t - t.rem_euclid(bucket_ms))
        });
        Ok(views::series(&groups, check_id, window, g.resolution))
    }

    async fn window_phases(&self, check_id: &str, window: Window) -> Result<Phases, PortError> {
        let cover = self.cover_of(window, i64::MAX).await?;
        let g = self.gather(&cover, Some(check_id), true).await?;
        if g.rollups.is_empty() {
            return Ok(derive::phases(&g.samples, check_id, window));
        }
        let groups = group(&g.samples, &g.rollups, |_, r, _| r.to_string());
        Ok(views::phases(&groups, check_id, window, g.resolution))
    }

    async fn window_stats(
        &self,
        window: Window,
        check_id: Option<&str>,
        regions_together: bool,
    ) -> Result<Stats, PortError> {
        let cover = self.cover_of(window, i64::MAX).await?;
        let g = self.gather(&cover, check_id, true).await?;
        let region = |r: &str| {
            if regions_together {
                ALL_REGIONS.to_string()
            } else {
                r.to_string()
            }
        };
        if g.rollups.is_empty() {
            let mut samples = g.samples;
            samples
                .iter_mut()
                .for_each(|s| s.region = region(&s.region));
            return Ok(Stats {
                rows: summarize(&samples),
                resolution: Resolution::raw(),
            });
        }
        let groups = group(&g.samples, &g.rollups, |c, r, _| (c.to_string(), region(r)));
        Ok(Stats {
            rows: views::stats(&groups),
            resolution: g.resolution,
        })
    }

    async fn window_uptime(&self, days: u32, now_ms: i64) -> Result<Uptime, PortError> {
        let window = Uptime::window(days, now_ms);
        let cover = self.cover_of(window, Level::Day.width_ms()).await?;
        let g = self.gather(&cover, None, false).await?;
        let groups = group(&g.samples, &g.rollups, |c, _, t| {
            (c.to_string(), Level::Day.start_of(t))
        });
        Ok(views::daily_uptime(&groups, days, now_ms))
    }
}

impl StatsReader for SqliteStore {
    fn stats<'a>(
        &'a self,
        window: Window,
        check_id: Option<&'a str>,
        regions_together: bool,
    ) -> BoxFuture<'a, Result<Stats, PortError>> {
        Box::pin(self.window_stats(window, check_id, regions_together))
    }

    fn uptime(&self, days: u32, now_ms: i64) -> BoxFuture<'_, Result<Uptime, PortError>> {
        Box::pin(self.window_uptime(days, now_ms))
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
        Box::pin(self.window_series(check_id, window))
    }

    fn phases<'a>(
        &'a self,
        check_id: &'a str,
        window: Window,
    ) -> BoxFuture<'a, Result<Phases, PortError>> {
        Box::pin(self.window_phases(check_id, window))
    }

    /// Failures come from raw executions only: rollups keep counts by class, not the
    /// messages, so failures older than the raw retention are not listed.
    fn failures<'a>(
        &'a self,
        check_id: &'a str,
        window: Window,
        limit: usize,
    ) -> BoxFuture<'a, Result<Failures, PortError>> {
        Box::pin(async move {
            let samples = self.window_samples(&window, Some(check_id)).await?;
            Ok(derive::failures(&samples, check_id, window, limit))
        })
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

impl SqliteStore {
    async fn alert_view(&self, since_ms: i64) -> Result<AlertView, PortError> {
        let stored = self.load_alerting().await?;
        let checks = stored.as_ref().map_or_else(Vec::new, |s| {
            s.state
                .checks
                .iter()
                .map(|(id, c)| CheckLevel {
                    check_id: id.clone(),
                    level: c.level.as_str().to_string(),
                    since_ms: c.level_since_ms,
                    incident_id: c
                        .incident
                        .as_ref()
                        .filter(|i| i.is_open())
                        .map(|i| i.id.clone()),
                    notified_level: c
                        .incident
                        .as_ref()
                        .map(|i| i.notified_level.as_str().to_string()),
                })
                .collect()
        });
        Ok(AlertView {
            evaluated_at_ms: stored.map(|s| s.evaluated_at_ms),
            checks,
            incidents: self.incidents_since(since_ms).await?,
        })
    }
}

impl AlertReader for SqliteStore {
    fn alerts(&self, since_ms: i64) -> BoxFuture<'_, Result<AlertView, PortError>> {
        Box::pin(self.alert_view(since_ms))
    }
}
