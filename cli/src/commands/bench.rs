//! `webmon bench`. TODO: not implemented yet.

use std::process::ExitCode;

/// Arguments of `webmon bench`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `webmon bench`.
pub async fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`webmon bench` is not implemented yet")
}
