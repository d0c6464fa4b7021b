//! `webmon check`. TODO: not implemented yet.

use std::process::ExitCode;

/// Arguments of `webmon check`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `webmon check`.
pub async fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`webmon check` is not implemented yet")
}
