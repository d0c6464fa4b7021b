//! `webmon validate`. TODO: not implemented yet.

use std::process::ExitCode;

/// Arguments of `webmon validate`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `webmon validate`.
pub async fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`webmon validate` is not implemented yet")
}
