//! Ports: the small traits the domain uses to reach queues, stores, check repositories
//! and the clock. Adapters implement them (SQLite and in-process channels here; SQS,
//! Timestream and DynamoDB in `webmon-aws`).

use std::fmt;
use std::future::Future;

use futures::future::BoxFuture;

use crate::check::{Check, SecretRef, ValidationError};
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

impl LoadedChecks {
    /// What was loaded, counted: `7 checks, 1 invalid item (3 errors)`.
    pub fn summary(&self) -> crate::check::LoadSummary {
        crate::check::LoadSummary::of(self.checks.len(), &self.errors)
    }
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

/// A secret value read for a probe, and the hosts it may be sent to.
///
/// `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct ResolvedSecret {
    /// The value that replaces the reference.
    pub value: String,
    /// Hosts the value may be sent to (`api.example.com`, or `*.example.com` for any
    /// subdomain); empty means any host the check reaches. The engine refuses, with
    /// error class `blocked`, to send a header holding the value to any other host.
    pub allowed_hosts: Vec<String>,
}

impl ResolvedSecret {
    /// A value that may be sent to any host.
    pub fn new(value: impl Into<String>) -> Self {
        Self {
            value: value.into(),
            allowed_hosts: Vec::new(),
        }
    }

    /// Restricts the value to `hosts`.
    pub fn for_hosts<I, S>(mut self, hosts: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allowed_hosts = hosts.into_iter().map(Into::into).collect();
        self
    }

    /// Whether the value may be sent to `host` (compared case-insensitively; a leading
    /// `*.` matches any subdomain, not the domain itself).
    pub fn may_send_to(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.allowed_hosts.is_empty()
            || self.allowed_hosts.iter().any(|allowed| {
                let allowed = allowed.trim_end_matches('.').to_ascii_lowercase();
                match allowed.strip_prefix("*.") {
                    Some(domain) => host
                        .strip_suffix(domain)
                        .is_some_and(|sub| sub.len() > 1 && sub.ends_with('.')),
                    None => host == allowed,
                }
            })
    }
}

impl fmt::Debug for ResolvedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResolvedSecret")
            .field("value", &"<hidden>")
            .field("allowed_hosts", &self.allowed_hosts)
            .finish()
    }
}

/// Why a secret could not be read. Messages name the reference, never a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// No such variable or secret.
    #[error("{0} is not set")]
    NotFound(String),
    /// The operator's policy does not let checks read it.
    #[error("{0}")]
    Refused(String),
    /// The store could not be reached or answered with an error (worth retrying later).
    #[error("{0}")]
    Unavailable(String),
}

/// Where the probe engine reads `${env:NAME}` and `${secret:NAME}` references: the
/// process environment ([`crate::probe::EnvSecrets`], the default) or a secret store
/// (Secrets Manager, in `webmon-aws`). Called for every reference of every execution, so
/// remote implementations cache. Object-safe so the engine can hold any implementation.
pub trait SecretSource: Send + Sync + fmt::Debug {
    /// Reads the value of `reference`.
    fn get<'a>(
        &'a self,
        reference: &'a SecretRef,
    ) -> BoxFuture<'a, Result<ResolvedSecret, SecretError>>;
}
