//! `webmon dashboard`. TODO: not implemented yet.

use std::process::ExitCode;

/// Arguments of `webmon dashboard`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `webmon dashboard`.
pub async fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`webmon dashboard` is not implemented yet")
}
