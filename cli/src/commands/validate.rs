//! `webmon validate FILE`: every problem in a checks file at once, and the count of
//! checks that would run.

use std::path::PathBuf;
use std::process::ExitCode;

use webmon_core::check::load_checks_file_with;

use super::secrets::SecretArgs;

/// Arguments of `webmon validate`.
#[derive(clap::Args)]
pub struct Args {
    /// The checks file (YAML with a top-level `checks:` list).
    pub file: PathBuf,
    /// Print the outcome as JSON (`valid`, `checks`, `errors`).
    #[arg(long)]
    pub json: bool,
    /// Which `${env:NAME}` references the checks may use.
    #[command(flatten)]
    pub secrets: SecretArgs,
}

/// Runs `webmon validate`: exit 0 when the file has no error, 1 otherwise.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let outcome = super::alerts::with_alerting_errors(
        &args.file,
        &args.secrets.policy(),
        load_checks_file_with(&args.file, &args.secrets.policy()),
    );
    if args.json {
        let ids: Vec<&str> = outcome.checks.iter().map(|c| c.id.as_str()).collect();
        let doc = serde_json::json!({
            "file": args.file.display().to_string(),
            "valid": ids.len(),
            "checks": ids,
            "errors": outcome.errors,
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        for error in &outcome.errors {
            println!("error: {error}");
        }
        println!("{}: {}", args.file.display(), outcome.summary());
    }
    Ok(if outcome.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
