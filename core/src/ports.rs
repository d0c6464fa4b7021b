//! Ports: the small traits the domain uses to reach queues, stores, check repositories
//! and the clock. Adapters implement them (SQLite and in-process channels here; SQS,
//! Timestream and DynamoDB in `webmon-aws`).

use std::future::Future;

use crate::check::{Check, ValidationError};
use crate::result::ProbeResult;
use crate::schedule::GroupKey;

/// Failure of one of our own components (never a target being down).
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    /// Worth retrying: throttling, timeouts, 5xx.
    #[error("transient failure: {0}")]
    Transient(String),
    /// Retrying will not help: bad request, missing resource, permissions.
    #[error("permanent failure: {0}")]
    Permanent(String),
}

impl PortError {
    /// Whether a retry may succeed.
    pub fn is_retriable(&self) -> bool {
        matches!(self, Self::Transient(_))
    }
}

/// Where results are sent after probing (SQS, or an in-process channel).
pub trait ResultQueue: Send + Sync {
    /// Sends results. Either all are accepted, or the error says which were not.
    fn send(&self, results: &[ProbeResult]) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// Where results are stored (Timestream, InfluxDB, SQLite).
pub trait ResultStore: Send + Sync {
    /// Stores results; idempotent for an identical result.
    fn write(&self, results: &[ProbeResult]) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// Checks loaded from a repository, valid and invalid side by side.
#[derive(Debug, Default)]
pub struct LoadedChecks {
    /// Valid checks.
    pub checks: Vec<Check>,
    /// Items that failed validation (logged and skipped by callers).
    pub errors: Vec<ValidationError>,
}

/// Where check definitions live (a YAML file, a DynamoDB table).
pub trait CheckRepository: Send + Sync {
    /// Every check.
    fn all(&self) -> impl Future<Output = Result<LoadedChecks, PortError>> + Send;
    /// The checks of one schedule group.
    fn group(&self, key: GroupKey) -> impl Future<Output = Result<LoadedChecks, PortError>> + Send;
}

/// Wall-clock time, passed in so tests can control it.
pub trait Clock: Send + Sync {
    /// Unix milliseconds now.
    fn now_ms(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        chrono::Utc::now().timestamp_millis()
    }
}
