//! The read side of every result store: [`ResultReader`], the port that the SQLite,
//! Timestream and InfluxDB stores implement, and [`model`], the types it returns. The
//! dashboard and `webmon report` are written against this port only, so a new store
//! serves both by implementing it (and passing the shared conformance suite in
//! `webmon-testkit`). A store that can only return raw rows builds the dashboard's
//! views from them with [`derive`].

mod alerts;
pub mod model;
mod sample;

use futures::future::BoxFuture;

pub use alerts::{AlertReader, AlertView, CheckLevel, IncidentRecord};
pub use model::{
    CheckUptime, DayUptime, Failures, Overview, Phases, Resolution, Series, Uptime, Window,
};
pub use sample::Sample;

use crate::ports::PortError;

/// Read-only queries over stored results. Object safe, so a server holds an
/// `Arc<dyn ResultReader>` chosen at run time.
///
/// A check with no results in the window is not an error: `overview` leaves it out,
/// the per-check queries return empty region lists and `samples` an empty list.
pub trait ResultReader: Send + Sync {
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

    /// One [`Sample`] per stored execution scheduled in `window` (both ends included),
    /// optionally of one check: what `webmon report` computes its figures from.
    fn samples<'a>(
        &'a self,
        window: Window,
        check_id: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Vec<Sample>, PortError>>;

    /// Where the results are read from, for messages (`the SQLite store webmon.db`).
    fn describe(&self) -> String;
}
