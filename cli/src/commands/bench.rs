//! `webmon bench`: benchmarks that print their figures (not timed tests).
//!
//! One subcommand per benchmark, each in its own module under `bench/`:
//! - `probe`: probe timing accuracy and CPU per request, with curl as the reference.
//! - `cost` (planned, `bench/cost.rs`): cost per million check executions.

use std::process::ExitCode;

mod probe;

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
    // Cost(cost::Args): cost per million check executions, in `bench/cost.rs`.
}

/// Runs `webmon bench`.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        BenchCommand::Probe(args) => probe::run(args).await,
    }
}
