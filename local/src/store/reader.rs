//! [`ResultReader`] over the embedded [`SqliteStore`]: the store returns the window's
//! samples, and the views are computed from them by [`webmon_core::report::derive`],
//! the same code every sample-returning store uses, so the dashboard and
//! `webmon report` agree.

use std::collections::BTreeMap;

use futures::future::BoxFuture;

use super::SqliteStore;
use webmon_core::ports::PortError;
use webmon_core::read::model::{Failures, Overview, Phases, Series, Window};
use webmon_core::read::{AlertReader, AlertView, CheckLevel, ResultReader};
use webmon_core::report::{derive, Sample};

fn in_window(window: &Window, at_ms: i64) -> bool {
    (window.from_ms..=window.to_ms).contains(&at_ms)
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
        Ok(derive::overview(&samples, &urls, window))
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
        Box::pin(async move {
            let samples = self.window_samples(&window, Some(check_id)).await?;
            Ok(derive::series(&samples, check_id, window))
        })
    }

    fn phases<'a>(
        &'a self,
        check_id: &'a str,
        window: Window,
    ) -> BoxFuture<'a, Result<Phases, PortError>> {
        Box::pin(async move {
            let samples = self.window_samples(&window, Some(check_id)).await?;
            Ok(derive::phases(&samples, check_id, window))
        })
    }

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
