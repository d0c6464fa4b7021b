//! The webmon domain: what a check is, how it is probed, what a result says, when each
//! check runs, and the ports every adapter implements.
//!
//! This crate does no I/O of its own except the probe engine's own sockets. It may not
//! import an AWS SDK, a database driver or an HTTP server; stores, queues, the dashboard
//! and the Lambda wiring live in the crates that depend on it (`webmon-local`,
//! `webmon-dashboard`, `webmon-aws`), never the other way round.
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
//! - [`reconcile`]: trigger-rule planning for the AWS config service (pure).
//! - [`report`]: latency statistics (percentiles, availability) over stored samples,
//!   and their renderings (pure).
//! - [`read`]: what a reader of stored results sees (overview, series, phases,
//!   failures, samples) and [`read::ResultReader`], the read port every store implements.
//! - [`text`]: bounded excerpts of outside data for messages.
//! - [`ports`]: the write-side ports: the result queue, the result store, the check
//!   repository and the clock.

pub mod alert;
pub mod check;
pub mod ports;
pub mod probe;
pub mod read;
pub mod reconcile;
pub mod report;
pub mod result;
pub mod schedule;
pub mod text;
