//! `webmon checks`. TODO: not implemented yet.

use std::process::ExitCode;

/// Arguments of `webmon checks`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `webmon checks`.
pub async fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`webmon checks` is not implemented yet")
}
