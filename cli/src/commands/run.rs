//! `webmon run`. TODO: not implemented yet.

use std::process::ExitCode;

/// Arguments of `webmon run`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `webmon run`.
pub async fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`webmon run` is not implemented yet")
}
