//! `webmon report`. TODO: not implemented yet.

use std::process::ExitCode;

/// Arguments of `webmon report`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `webmon report`.
pub async fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`webmon report` is not implemented yet")
}
