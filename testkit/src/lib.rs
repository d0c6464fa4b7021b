//! Test and benchmark machinery, never part of a production binary: test crates take
//! it as a dev-dependency, and the `webmon` CLI only with its `bench` feature.
//!
//! Layout:
//! - [`emulator`]: moto's server as a child process behind a counting, fault-injecting
//!   proxy.
//! - [`canned`]: registering Timestream query answers on moto's server.
//! - [`http_recorder`]: an HTTP server on 127.0.0.1 that records every request and
//!   answers from a script.
//! - [`bench_target`]: the benchmark's delay server, answering exactly at its deadline.
//! - [`influx_servers`]: real InfluxDB 1.x (`influxd`) and VictoriaMetrics servers on
//!   127.0.0.1, started and stopped by the tests.
//! - [`pipeline`]: the AWS pipeline's set-up on the emulator (regions, home queue,
//!   checks, stream events, rule inputs) for end-to-end tests.
//! - [`process`]: child processes run to completion under a time limit.
//! - [`streams`]: a DynamoDB stream read as Lambda's stream poller would deliver it.
//! - [`switch_target`]: a probe target whose status a test switches.
//! - [`conformance`]: the one test suite every result store passes, written against
//!   the ports.
//! - [`TargetServer`]: the demo target, re-exported for the tests that start it.

pub mod bench_target;
pub mod canned;
pub mod conformance;
pub mod emulator;
pub mod http_recorder;
pub mod influx_servers;
pub mod pipeline;
pub mod process;
pub mod signature;
pub mod streams;
pub mod switch_target;

pub use webmon_demo_target::TargetServer;
