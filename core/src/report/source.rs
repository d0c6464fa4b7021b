//! [`StatsReader`]: what `webmon report`, the uptime bars and the badges read. Every
//! store has it; the defaults compute from raw samples through
//! [`ResultReader::samples`], and a store that keeps rollups answers long windows from
//! them instead.

use futures::future::BoxFuture;
use serde::Serialize;

use super::{derive, summarize, CheckRegionStats};
use crate::ports::PortError;
use crate::read::model::{Resolution, Uptime, Window};
use crate::read::ResultReader;

/// The report's statistics over a window and what they were computed from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stats {
    /// One row per check and region (or per check, every region together), sorted.
    pub rows: Vec<CheckRegionStats>,
    /// Raw executions or rollups.
    pub resolution: Resolution,
}

/// The region label of a row that counts every region together.
pub const ALL_REGIONS: &str = "all";

/// A [`ResultReader`] that also answers statistics and daily uptime.
pub trait StatsReader: ResultReader {
    /// Statistics of each check and region in `window`, optionally of one check. With
    /// `regions_together`, one row per check over every region, labelled
    /// [`ALL_REGIONS`].
    fn stats<'a>(
        &'a self,
        window: Window,
        check_id: Option<&'a str>,
        regions_together: bool,
    ) -> BoxFuture<'a, Result<Stats, PortError>> {
        Box::pin(stats_from_samples(self, window, check_id, regions_together))
    }

    /// Daily availability of every check over the `days` UTC days ending at `now_ms`.
    fn uptime(&self, days: u32, now_ms: i64) -> BoxFuture<'_, Result<Uptime, PortError>> {
        Box::pin(uptime_from_samples(self, days, now_ms))
    }
}

/// [`StatsReader::stats`] from one sample per execution: exact nearest-rank figures.
pub async fn stats_from_samples<R: ResultReader + ?Sized>(
    reader: &R,
    window: Window,
    check_id: Option<&str>,
    regions_together: bool,
) -> Result<Stats, PortError> {
    let mut samples = reader.samples(window, check_id).await?;
    if regions_together {
        samples
            .iter_mut()
            .for_each(|s| s.region = ALL_REGIONS.to_string());
    }
    Ok(Stats {
        rows: summarize(&samples),
        resolution: Resolution::raw(),
    })
}

/// [`StatsReader::uptime`] from one sample per execution.
pub async fn uptime_from_samples<R: ResultReader + ?Sized>(
    reader: &R,
    days: u32,
    now_ms: i64,
) -> Result<Uptime, PortError> {
    let samples = reader.samples(Uptime::window(days, now_ms), None).await?;
    Ok(derive::daily_uptime(&samples, days, now_ms))
}
