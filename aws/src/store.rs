//! The writer's view of a result store: a write that reports each result's fate, so a
//! batch of queue messages can be acknowledged message by message.

use std::future::Future;

use webmon_core::ports::PortError;
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

impl WriteReport {
    /// The report as the core's `ResultStore` port sees it: a call error is transient,
    /// a refused result permanent (naming the first refused check), otherwise written.
    pub fn into_port_result(self, results: &[ProbeResult]) -> Result<(), PortError> {
        if let Some(error) = self.error {
            return Err(PortError::Transient(error));
        }
        if let Some((index, reason)) = self.rejected.first() {
            return Err(PortError::Permanent(format!(
                "failed to write the result of check {}: {reason} ({} refused)",
                results[*index].check_id,
                self.rejected.len()
            )));
        }
        Ok(())
    }
}

/// A result store that reports per result (Timestream, InfluxDB).
pub trait BatchStore: Send + Sync {
    /// Writes results (idempotent for identical ones) and says what became of each.
    fn write_detailed(&self, results: &[ProbeResult]) -> impl Future<Output = WriteReport> + Send;
}
