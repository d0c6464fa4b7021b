//! `webmon checks`: manage checks in the DynamoDB table, validated with the same rules
//! as the local checks file. Nothing is written when any item is invalid; every error
//! is listed. `plan` and `apply` make the table match a checks file ([`plan`]).

mod plan;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use webmon_aws::alerting::{AlertTable, ALERT_TABLE_ENV};
use webmon_aws::config::{AwsTarget, ENDPOINT_ENV};
use webmon_aws::dynamodb::{item_to_check, DynamoCheckRepository, DEFAULT_TABLE, TABLE_ENV};
use webmon_core::alert::AlertDocument;
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
    /// Write every check of a checks file (YAML or JSON, `checks:` list); with
    /// `--alert-table`, also its `channels`, `alert_defaults` and `maintenance`.
    Put {
        /// The checks file.
        file: PathBuf,
        #[command(flatten)]
        alerting: AlertingArgs,
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
        #[command(flatten)]
        alerting: AlertingArgs,
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

/// Where the alerting document goes (the home region's alert table).
#[derive(clap::Args, Debug, Clone)]
pub struct AlertingArgs {
    /// Also store the file's alerting blocks (`channels`, `alert_defaults`,
    /// `maintenance`) in this alert table, for the evaluator, notifier and sweeper of
    /// the home region. Each check's own `alert:` block travels with the check.
    #[arg(long, env = ALERT_TABLE_ENV, value_name = "TABLE")]
    alert_table: Option<String>,
}

impl AlertingArgs {
    /// The document of `file`, validated against its checks; `None` without
    /// `--alert-table`. Problems are printed and refuse the whole command.
    fn document(&self, file: &Path, checks: &[Check]) -> anyhow::Result<Option<AlertDocument>> {
        if self.alert_table.as_deref().unwrap_or_default().is_empty() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("failed to read {}", file.display()))?;
        let (document, mut errors) = AlertDocument::read(&text);
        errors.extend(document.build(checks, &[]).errors);
        if let Some(first) = errors.first() {
            for e in &errors {
                eprintln!("{e}");
            }
            anyhow::bail!(
                "{} alerting errors, the first: {first}; nothing written",
                errors.len()
            );
        }
        Ok(Some(document))
    }

    async fn put(&self, table: &TableArgs, document: Option<AlertDocument>) -> anyhow::Result<()> {
        let (Some(name), Some(document)) = (&self.alert_table, document) else {
            return Ok(());
        };
        let client = aws_sdk_dynamodb::Client::new(&table.target().load().await);
        AlertTable::new(client, name)
            .put_document(&document)
            .await
            .with_context(|| format!("failed to write the alerting document to {name}"))?;
        println!(
            "alerting written to {name}: {} channels, {} maintenance windows",
            document.channels.len(),
            document.maintenance.len()
        );
        Ok(())
    }
}

/// Runs `webmon checks`.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let repo = args.table.repo().await;
    match args.command {
        ChecksCommand::Put { file, alerting } => {
            let outcome = load_checks_file(&file);
            let document = alerting.document(&file, &outcome.checks)?;
            let code = write_all(&repo, outcome.checks, outcome.errors).await?;
            if code == ExitCode::SUCCESS {
                alerting.put(&args.table, document).await?;
            }
            Ok(code)
        }
        ChecksCommand::Plan { file } => plan::plan(&repo, &file).await,
        ChecksCommand::Apply {
            file,
            prune,
            alerting,
        } => {
            let document = alerting.document(&file, &load_checks_file(&file).checks)?;
            let code = plan::apply(&repo, &file, prune).await?;
            if code == ExitCode::SUCCESS {
                alerting.put(&args.table, document).await?;
            }
            Ok(code)
        }
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
