//! The webmon domain, with no AWS dependency.
//!
//! Layout:
//! - [`alert`]: the pure alerting evaluator (region state machines, quorum, incidents,
//!   maintenance, silences) and its configuration.
//! - [`check`]: check definitions, raw (as written in YAML, JSON or DynamoDB) and
//!   validated, plus the checks file loader that collects every error at once.
//! - [`probe`]: the probe engine: a hyper-level HTTP(S) client that times every phase,
//!   the SSRF guard applied to each resolved address, and assertion evaluation.
//! - [`result`]: the versioned, serialisable probe result.
//! - [`schedule`]: stable per-check offsets and schedule groups.
//! - [`reconcile`]: trigger-rule reconciliation for the AWS config Lambda (pure).
//! - [`ports`]: the small traits in front of the queue, the result store, the check
//!   repository and the clock; adapters (SQLite here, AWS in `webmon-aws`) implement them.
//! - [`store`]: the embedded SQLite result store.
//! - [`runner`]: the one-machine scheduler loop used by `webmon run`.
//! - [`report`]: latency statistics (percentiles, availability) over stored results.
//! - [`dashboard`]: the read-only web dashboard (pages, JSON API, embedded charts) served
//!   by `webmon run` and `webmon dashboard`, behind the `DashboardSource` port.
//! - [`target`]: a tiny HTTP target server used by the demo, the tests and the benchmarks.

pub mod alert;
pub mod check;
pub mod dashboard;
pub mod ports;
pub mod probe;
pub mod reconcile;
pub mod report;
pub mod result;
pub mod runner;
pub mod schedule;
pub mod store;
pub mod target;
