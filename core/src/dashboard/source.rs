//! The port in front of the dashboard's data, so the same pages can be served from the
//! embedded SQLite store or from Timestream.

use futures::future::BoxFuture;

use super::model::{Failures, Overview, Phases, Series, Window};
use crate::ports::PortError;

/// Read-only queries the dashboard makes. Object safe, so a server holds an
/// `Arc<dyn DashboardSource>` chosen at run time.
///
/// A check with no results in the window is not an error: `overview` leaves it out and
/// the per-check queries return empty region lists.
pub trait DashboardSource: Send + Sync {
    /// Every check with results in `window`: per region, samples, availability,
    /// p50/p95 latency and the last result.
    fn overview(&self, window: Window) -> BoxFuture<'_, Result<Overview, PortError>>;

    /// Latency over time of one check, one series per region, bucketed to
    /// [`Window::bucket_ms`].
    fn series<'a>(
        &'a self,
        check_id: &'a str,
        window: Window,
    ) -> BoxFuture<'a, Result<Series, PortError>>;

    /// Median phase timings of one check, per region.
    fn phases<'a>(
        &'a self,
        check_id: &'a str,
        window: Window,
    ) -> BoxFuture<'a, Result<Phases, PortError>>;

    /// The most recent failures of one check (at most `limit`), newest first.
    fn failures<'a>(
        &'a self,
        check_id: &'a str,
        window: Window,
        limit: usize,
    ) -> BoxFuture<'a, Result<Failures, PortError>>;
}
