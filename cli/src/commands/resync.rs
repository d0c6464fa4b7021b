//! `webmon resync`. TODO: not implemented yet.

use std::process::ExitCode;

/// Arguments of `webmon resync`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `webmon resync`.
pub async fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`webmon resync` is not implemented yet")
}
