//! The AWS side of webmon: one adapter per service behind the `webmon-core` ports, the
//! AWS stores (write and read), and the application services the Lambdas and the CLI
//! run.
//!
//! It may import `webmon-core` and the AWS SDKs; it may not import a Lambda crate, the
//! local product, the dashboard or the CLI. The Lambda crates are only wiring around
//! [`service`]: each `main.rs` reads settings, builds adapters from here and calls one
//! service.
//!
//! Layout:
//! - [`service`]: the use cases: reconcile a region's rules from a stream batch or a
//!   resync ([`service::reconcile`]), probe a trigger ([`service::probe`]), write a
//!   batch of result messages ([`service::write`]).
//! - [`budget`]: the probe Lambda's time budget.
//! - [`config`]: shared SDK configuration, with the `WEBMON_AWS_ENDPOINT_URL` override
//!   (an emulator such as moto's server) and static credentials for it.
//! - [`dynamodb`]: the check table, a [`webmon_core::ports::CheckRepository`]; items are
//!   the `RawCheck` fields plus `pk` and `schedule_group` (queried through the
//!   `by_group` index, never scanned by the probe).
//! - [`check_plan`]: the difference between a checks file and the check table, what
//!   `webmon checks plan` shows and `webmon checks apply` writes.
//! - [`eventbridge`]: the region's `webmon-` trigger rules and their targets.
//! - [`sqs`]: the result queue, a [`webmon_core::ports::ResultQueue`] packing many
//!   results per message ([`envelope`]) and sending them with `SendMessageBatch`.
//! - [`timestream`]: the Timestream for LiveAnalytics store: writes (multi-measure
//!   records, 100 per call), reads ([`timestream::TimestreamReader`], a
//!   [`webmon_core::read::ResultReader`]) and its SQL dialect.
//! - [`influx`]: the InfluxDB store (line protocol over the v2 write API), for accounts
//!   without Timestream for LiveAnalytics.
//! - [`secrets`]: Secrets Manager, for the InfluxDB token.
//! - [`sink`]: the writer's store chosen by `WEBMON_SINK` (Timestream, InfluxDB, both).
//! - [`store`]: [`store::BatchStore`], a write that reports per result, for the writer.
//! - [`telemetry`]: `tracing` JSON logs and OpenTelemetry spans, exported over OTLP.
//! - [`https`]: the HTTP(S) client for the non-AWS endpoints (InfluxDB, OTLP).
//! - [`error`]: the crate's one error type and the retry decision.

pub mod alerting;
pub mod budget;
pub mod check_plan;
pub mod config;
pub mod dynamodb;
pub mod envelope;
pub mod error;
pub mod eventbridge;
pub mod https;
pub mod influx;
pub mod secrets;
pub mod service;
pub mod sink;
pub mod sqs;
pub mod store;
pub mod telemetry;
pub mod timestream;

pub use error::AwsError;
