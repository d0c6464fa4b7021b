//! `webmon checks`: manage checks in the DynamoDB table, validated with the same rules
//! as the local checks file. Nothing is written when any item is invalid; every error
//! is listed. `plan` and `apply` make the table match a checks file ([`plan`]).

mod plan;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use webmon_aws::config::{AwsTarget, ENDPOINT_ENV};
use webmon_aws::dynamodb::{item_to_check, DynamoCheckRepository, DEFAULT_TABLE, TABLE_ENV};
use webmon_core::check::{load_checks_file, Check, ValidationError};
use webmon_core::ports::CheckRepository;
use webmon_core::schedule::GroupKey;

/// Where the table is.
#[derive(clap::Args, Debug, Clone)]
pub struct TableArgs {
    /// Table name.
    #[arg(long, env = TABLE_ENV, default_value = DEFAULT_TABLE, global = true)]
    pub table: String,
    /// Region of the table (default: the SDK's, e.g. AWS_REGION).
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// Endpoint override (an emulator such as moto's server).
    #[arg(long, env = ENDPOINT_ENV, global = true)]
    pub endpoint_url: Option<String>,
}

impl TableArgs {
    /// The SDK target.
    pub fn target(&self) -> AwsTarget {
        AwsTarget {
            region: self.region.clone(),
            endpoint_url: self.endpoint_url.clone(),
        }
    }

    async fn repo(&self) -> DynamoCheckRepository {
        let config = self.target().load().await;
        DynamoCheckRepository::new(aws_sdk_dynamodb::Client::new(&config), &self.table)
    }
}

/// Arguments of `webmon checks`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    table: TableArgs,
    #[command(subcommand)]
    command: ChecksCommand,
}

#[derive(clap::Subcommand)]
enum ChecksCommand {
    /// Write every check of a checks file (YAML or JSON, `checks:` list).
    Put {
        /// The checks file.
        file: PathBuf,
    },
    /// Show what `apply` would change in the table: adds, changes (with the fields that
    /// differ) and the removals `--prune` would make. Writes nothing.
    Plan {
        /// The checks file.
        file: PathBuf,
    },
    /// Make the table match a checks file: put new and changed checks; with `--prune`,
    /// delete the checks the file lacks. Running it again changes nothing.
    Apply {
        /// The checks file.
        file: PathBuf,
        /// Also delete the checks of the table that are not in the file.
        #[arg(long)]
        prune: bool,
    },
    /// List the checks in the table (and the items that fail validation).
    List {
        /// Print JSON (`checks`, `errors`).
        #[arg(long)]
        json: bool,
    },
    /// Delete a check.
    Delete {
        /// Check id.
        id: String,
    },
    /// Import an `aws dynamodb batch-write-item` request file (e.g. examples/dynamo_entries.json).
    Import {
        /// The request file: `{"<table>": [{"PutRequest": {"Item": {...}}}]}`.
        file: PathBuf,
    },
    /// Create the table (with its stream and `by_group` index) unless it exists.
    CreateTable,
}

/// Runs `webmon checks`.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let repo = args.table.repo().await;
    match args.command {
        ChecksCommand::Put { file } => {
            let outcome = load_checks_file(&file);
            write_all(&repo, outcome.checks, outcome.errors).await
        }
        ChecksCommand::Plan { file } => plan::plan(&repo, &file).await,
        ChecksCommand::Apply { file, prune } => plan::apply(&repo, &file, prune).await,
        ChecksCommand::Import { file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("failed to read {}", file.display()))?;
            let (checks, errors) = parse_batch_write(&text)
                .with_context(|| format!("failed to read {}", file.display()))?;
            write_all(&repo, checks, errors).await
        }
        ChecksCommand::List { json } => {
            let loaded = repo
                .all()
                .await
                .map_err(|e| table_error(&repo, "list the checks in", e.to_string()))?;
            let summary = loaded.summary();
            let mut checks = loaded.checks;
            checks.sort_by(|a, b| a.id.cmp(&b.id));
            if json {
                let doc = serde_json::json!({
                    "checks": checks.iter().map(|c| serde_json::json!({
                        "id": c.id,
                        "url": c.url.to_string(),
                        "interval": c.interval.to_string(),
                        "group": GroupKey::of(c).name(),
                        "regions": c.regions,
                        "enabled": c.enabled,
                    })).collect::<Vec<_>>(),
                    "errors": loaded.errors,
                    "summary": summary,
                });
                println!("{}", serde_json::to_string_pretty(&doc)?);
                return Ok(if loaded.errors.is_empty() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(2)
                });
            }
            println!(
                "{:<32} {:>8} {:<8} {:<24} URL",
                "ID", "INTERVAL", "GROUP", "REGIONS"
            );
            for c in &checks {
                let regions = if c.regions.is_empty() {
                    "all".to_string()
                } else {
                    c.regions.join(",")
                };
                let state = if c.enabled { "" } else { " (disabled)" };
                println!(
                    "{:<32} {:>8} {:<8} {:<24} {}{state}",
                    c.id,
                    c.interval.to_string(),
                    GroupKey::of(c).name(),
                    regions,
                    c.url
                );
            }
            for e in &loaded.errors {
                eprintln!("invalid item: {e}");
            }
            println!("{summary}");
            Ok(if loaded.errors.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            })
        }
        ChecksCommand::Delete { id } => {
            let existed = repo
                .delete(&id)
                .await
                .map_err(|e| table_error(&repo, "delete a check from", e.to_string()))?;
            if existed {
                println!("deleted {id}");
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("no check {id:?} in {}", repo.table());
                Ok(ExitCode::from(2))
            }
        }
        ChecksCommand::CreateTable => {
            repo.ensure_table().await?;
            println!("table {} ready", repo.table());
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn write_all(
    repo: &DynamoCheckRepository,
    checks: Vec<Check>,
    errors: Vec<ValidationError>,
) -> anyhow::Result<ExitCode> {
    if !errors.is_empty() {
        for e in &errors {
            eprintln!("{e}");
        }
        eprintln!("{} errors; nothing written", errors.len());
        return Ok(ExitCode::from(2));
    }
    for check in &checks {
        repo.put(check)
            .await
            .map_err(|e| table_error(repo, "write", e.to_string()))?;
        println!(
            "put {} ({} in group {})",
            check.id,
            check.interval,
            GroupKey::of(check).name()
        );
    }
    println!("{} checks written to {}", checks.len(), repo.table());
    Ok(ExitCode::SUCCESS)
}

/// An error reaching the table, as `failed to <what> <table>: <cause>`; a table that
/// does not exist says so and points to `webmon checks create-table`.
pub fn table_error(repo: &DynamoCheckRepository, what: &str, cause: String) -> anyhow::Error {
    if cause.contains("ResourceNotFoundException") {
        return anyhow::anyhow!(
            "failed to {what} {table}: the table {table} does not exist; create it with \
             `webmon checks create-table --table {table}` (with the same --region and \
             --endpoint-url), then run this again",
            table = repo.table()
        );
    }
    anyhow::anyhow!("failed to {what} {}: {cause}", repo.table())
}

/// Reads a batch-write-item request file into checks and errors (every table's items).
pub fn parse_batch_write(text: &str) -> anyhow::Result<(Vec<Check>, Vec<ValidationError>)> {
    let doc: serde_json::Value = serde_json::from_str(text).context("not JSON")?;
    let tables = doc
        .as_object()
        .context("expected an object keyed by table name")?;
    let (mut checks, mut errors) = (Vec::new(), Vec::new());
    for (table, requests) in tables {
        for (i, request) in requests
            .as_array()
            .with_context(|| format!("{table}: expected a list of requests"))?
            .iter()
            .enumerate()
        {
            let Some(item) = request.get("PutRequest").and_then(|p| p.get("Item")) else {
                errors.push(ValidationError::new(
                    &format!("<{table} item {}>", i + 1),
                    "PutRequest",
                    "<missing>",
                    "only PutRequest items can be imported",
                ));
                continue;
            };
            match serde_json::from_value::<serde_dynamo::Item>(item.clone()) {
                Ok(item) => match item_to_check(item) {
                    Ok(check) => checks.push(check),
                    Err(e) => errors.extend(e),
                },
                Err(e) => errors.push(ValidationError::new(
                    &format!("<{table} item {}>", i + 1),
                    "Item",
                    "<item>",
                    format!("is not DynamoDB JSON ({e})"),
                )),
            }
        }
    }
    Ok((checks, errors))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_example_entries_import_cleanly() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../examples/dynamo_entries.json"
        ))
        .unwrap();
        let (checks, errors) = super::parse_batch_write(&text).unwrap();
        assert!(errors.is_empty(), "{errors:?}");
        assert!(!checks.is_empty());
    }
}
