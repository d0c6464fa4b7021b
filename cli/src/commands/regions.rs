//! `webmon regions`. TODO: not implemented yet.

use std::process::ExitCode;

/// Arguments of `webmon regions`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `webmon regions`.
pub async fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`webmon regions` is not implemented yet")
}
