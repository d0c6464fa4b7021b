//! `webmon`: clap parsing and dispatch, nothing else. Each subcommand lives in its own
//! module under `commands/` and exposes an `Args` type and a `run` function.

mod commands;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Multi-region website monitoring; runs on one machine with an embedded store too.
#[derive(Parser)]
#[command(name = "webmon", version, about)]
struct Cli {
    /// Log as JSON lines instead of human-readable text.
    #[arg(long, global = true)]
    log_json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Probe one URL now and print the result.
    Check(commands::check::Args),
    /// Validate a checks file and list every error.
    Validate(commands::validate::Args),
    /// Run every check of a file once, now, and print a table.
    Test(commands::test::Args),
    /// Probe the checks of a file on schedule and store the results locally.
    Run(commands::run::Args),
    /// Latency and availability per check and region.
    Report(commands::report::Args),
    /// Manage checks in the DynamoDB table.
    Checks(commands::checks::Args),
    /// Reconcile a region's EventBridge rules with the whole check table.
    Resync(commands::resync::Args),
    /// Probe regions: list them, add one.
    Regions(commands::regions::Args),
    /// Alerting: status, test a channel, replay a policy, silences.
    Alerts(commands::alerts::Args),
    /// Serve the dashboard from a store.
    Dashboard(commands::dashboard::Args),
    /// Benchmarks that print their figures (built with `--features bench`).
    #[cfg(feature = "bench")]
    Bench(commands::bench::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    commands::init_logging(cli.log_json);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: failed to start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async move {
        match cli.command {
            Command::Check(args) => commands::check::run(args).await,
            Command::Validate(args) => commands::validate::run(args).await,
            Command::Test(args) => commands::test::run(args).await,
            Command::Run(args) => commands::run::run(args).await,
            Command::Report(args) => commands::report::run(args).await,
            Command::Checks(args) => commands::checks::run(args).await,
            Command::Resync(args) => commands::resync::run(args).await,
            Command::Regions(args) => commands::regions::run(args).await,
            Command::Dashboard(args) => commands::dashboard::run(args).await,
            Command::Alerts(args) => commands::alerts::run(args).await,
            #[cfg(feature = "bench")]
            Command::Bench(args) => commands::bench::run(args).await,
        }
    });
    match outcome {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            if e.downcast_ref::<commands::BadInput>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
