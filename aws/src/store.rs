//! The writer's view of a result store: a write that reports each result's fate, so a
//! batch of queue messages can be acknowledged message by message.

use std::future::Future;

use webmon_core::result::ProbeResult;

/// What became of the results given to [`BatchStore::write_detailed`].
#[derive(Debug, Default)]
pub struct WriteReport {
    /// Results stored (identical duplicates included).
    pub written: usize,
    /// `(index, reason)` of results refused for good.
    pub rejected: Vec<(usize, String)>,
    /// Indexes of results whose call failed and may succeed later.
    pub failed: Vec<usize>,
    /// The last call error, when some failed.
    pub error: Option<String>,
    /// Write calls made.
    pub calls: usize,
}

/// A result store that reports per result (Timestream, InfluxDB).
pub trait BatchStore: Send + Sync {
    /// Writes results (idempotent for identical ones) and says what became of each.
    fn write_detailed(&self, results: &[ProbeResult]) -> impl Future<Output = WriteReport> + Send;
}
