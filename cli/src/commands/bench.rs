//! `webmon bench`: benchmarks that print their figures (not timed tests).
//!
//! One subcommand per benchmark, each in its own module under `bench/`:
//! - `probe`: probe timing accuracy and CPU per request, with curl as the reference.
//! - `cost`: cost per million check executions, measured on the pipeline on the emulator.
//! - `lambda`: each Lambda binary's zip size and cold start on a local runtime API.
//! - `alerts`: alert evaluation cost per result and memory per check at many checks.
//! - `capacity`: executions one probe invocation carries per trigger minute, against
//!   the Lambda memory size and its CPU share (cgroup CPU quota).
//! - `store`: the embedded store with months of history: bytes per execution, query
//!   times and ingest while queries run.

use std::process::ExitCode;

mod alerts;
mod capacity;
mod cost;
mod lambda;
mod probe;
mod store;

/// Arguments of `webmon bench`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: BenchCommand,
}

/// The benchmarks.
#[derive(clap::Subcommand)]
enum BenchCommand {
    /// Timing accuracy (|ttfb - injected delay|) and CPU per request against a local
    /// target, at 1 and at many checks in flight, with curl measured in the same run.
    Probe(probe::Args),
    /// Cost per million check executions: the pipeline on moto's server (2 probe regions
    /// and home), calls counted per service, priced from prices/aws-prices.yaml, beside
    /// the original one-invocation-per-check design.
    Cost(cost::Args),
    /// Zip size (cargo lambda build --release --arm64) and cold start (process start to
    /// the first `next` request on a local runtime API) of each Lambda binary.
    Lambda(lambda::Args),
    /// Alert evaluation cost per result and memory per check (10,000 checks by default),
    /// with parsing the stored results as the reference.
    Alerts(alerts::Args),
    /// The embedded store after 90 days of 1,000 checks every 30 s: bytes on disk per
    /// execution, overview and series query times, ingest while queries run, with the
    /// 24 h overview from raw executions as the reference.
    Store(store::Args),
    /// Executions per trigger minute one probe invocation carries, per Lambda memory
    /// size (its CPU share emulated with a cgroup CPU quota), at 20-300 ms delays.
    Capacity(capacity::Args),
}

/// Runs `webmon bench`.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        BenchCommand::Probe(args) => probe::run(args).await,
        BenchCommand::Cost(args) => cost::run(args).await,
        BenchCommand::Lambda(args) => lambda::run(args).await,
        BenchCommand::Alerts(args) => alerts::run(args).await,
        BenchCommand::Store(args) => store::run(args).await,
        BenchCommand::Capacity(args) => capacity::run(args).await,
    }
}
