//! AWS adapters for the webmon ports, one file per service.
//!
//! Layout:
//! - [`config`]: shared SDK configuration, with the `WEBMON_AWS_ENDPOINT_URL` override
//!   (an emulator such as moto's server) and static credentials for it.
//! - [`dynamodb`]: the check table, a [`webmon_core::ports::CheckRepository`]; items are
//!   the `RawCheck` fields plus `pk` and `schedule_group` (queried through the
//!   `by_group` index, never scanned by the probe).
//! - [`eventbridge`]: the region's `webmon-` trigger rules and their targets.
//! - [`sqs`]: the result queue, a [`webmon_core::ports::ResultQueue`] packing many
//!   results per message ([`envelope`]) and sending them with `SendMessageBatch`.
//! - [`timestream`]: the result store, a [`webmon_core::ports::ResultStore`] writing
//!   multi-measure records in batches of 100.
//! - [`timestream_query`]: SQL on Timestream (aws-sdk-timestreamquery), all pages, for
//!   the dashboard's and the report's `QueryRunner`.
//! - [`influx`]: the same store in an InfluxDB-compatible database (line protocol over
//!   the v2 write API), for accounts without Timestream for LiveAnalytics.
//! - [`secrets`]: Secrets Manager, for the InfluxDB token.
//! - [`sink`]: the writer's store chosen by `WEBMON_SINK` (Timestream, InfluxDB, both).
//! - [`store`]: [`store::BatchStore`], a write that reports per result, for the writer.
//! - [`telemetry`]: `tracing` JSON logs and OpenTelemetry spans, exported over OTLP.
//! - [`https`]: the HTTP(S) client for the non-AWS endpoints (InfluxDB, OTLP).
//! - [`error`]: the crate's one error type and the retry decision.
//! - `emulator` (feature `emulator`): moto's server behind a counting, fault-injecting
//!   proxy, for the tests and `webmon bench cost`.

pub mod config;
pub mod dynamodb;
pub mod envelope;
pub mod error;
pub mod eventbridge;
pub mod https;
pub mod influx;
pub mod secrets;
pub mod sink;
pub mod sqs;
pub mod store;
pub mod telemetry;
pub mod timestream;
pub mod timestream_query;

#[cfg(feature = "emulator")]
pub mod emulator;

pub use error::AwsError;
