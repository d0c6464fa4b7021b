//! `webmon alerts`: what the alerting of `webmon run` knows and does.
//!
//! - `status`: each check's level and open incidents, silences and the outbox;
//! - `test CHANNEL`: sends a test notification through a channel of a checks file;
//! - `replay --since 7d`: runs stored results through a candidate policy and prints the
//!   incidents it would have opened;
//! - `silence add|list|expire`: ad-hoc silences by check or tag, always with an expiry.
//!
//! Also here: what `webmon run` calls to start alerting ([`start_for_run`]), what
//! `webmon validate` calls to report alerting errors ([`with_alerting_errors`]) and the
//! incident section of `webmon report` ([`print_incident_summary`]).

mod aws;
mod replay;
mod silence;
mod status;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use webmon_core::alert::channels::channel_secret_refs;
use webmon_core::alert::NotificationIntent;
use webmon_core::check::{load_checks_file_with, LoadOutcome, SecretPolicy, ValidationError};
use webmon_core::ports::{Clock, SystemClock};
use webmon_local::alerting::{load_for_region, Alerting, AlertingOptions, PolicyResolver};
use webmon_local::store::{open_existing, SqliteStore};
use webmon_notify::{build_channel, send_with_retries, ChannelContext, RetryPolicy};

use super::secrets::SecretArgs;
use super::source::{Source, SourceArgs};

/// Arguments of `webmon alerts`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: AlertsCommand,
}

#[derive(clap::Subcommand)]
enum AlertsCommand {
    /// Each check's alert level, open incidents, silences in force and the outbox.
    Status(status::Args),
    /// Send a test notification through one channel of a checks file.
    Test(TestArgs),
    /// Replay stored results through the policy of a checks file and print the
    /// incidents it would have opened.
    Replay(replay::Args),
    /// Silence notifications of a check or a tag for a while.
    Silence(silence::Args),
    /// Create the AWS alert table (keys, stream, indexes, encryption, TTL) unless it
    /// exists; the Pulumi program creates it in a deployment.
    CreateTable(aws::AlertTableArgs),
}

/// Arguments of `webmon alerts test`.
#[derive(clap::Args)]
struct TestArgs {
    /// The channel id.
    channel: String,
    /// The checks file that defines the channel (with `--source sqlite`).
    #[arg(long, value_name = "FILE", required_if_eq("source", "sqlite"))]
    config: Option<PathBuf>,
    /// `sqlite`: send from here, as `webmon run` would. `timestream` or `influxdb`:
    /// enqueue in the AWS alert table, for the deployed notifier to deliver.
    #[arg(long, value_enum, default_value = "sqlite")]
    source: Source,
    /// The alert table (AWS sources).
    #[command(flatten)]
    table: aws::AlertTableArgs,
    /// How long to wait for the notifier (AWS sources).
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    wait: Duration,
    /// Which `${env:NAME}` references channels may use.
    #[command(flatten)]
    secrets: SecretArgs,
}

/// Runs `webmon alerts`.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        AlertsCommand::Status(a) => status::run(a).await,
        AlertsCommand::Test(a) => test(a).await,
        AlertsCommand::Replay(a) => replay::run(a).await,
        AlertsCommand::Silence(a) => silence::run(a).await,
        AlertsCommand::CreateTable(a) => aws::create_table(&a).await,
    }
}

/// The `--db` of the alerts subcommands.
#[derive(clap::Args, Clone)]
pub(crate) struct DbArg {
    /// SQLite database written by `webmon run`.
    #[arg(
        long,
        default_value = "webmon.db",
        env = "WEBMON_DB",
        value_name = "FILE"
    )]
    pub db: PathBuf,
}

impl DbArg {
    /// Opens the store for reading only (`status`, `replay`).
    pub(crate) fn open(&self) -> anyhow::Result<SqliteStore> {
        super::paths::database(&self.db)?;
        Ok(open_existing(&self.db)?)
    }

    /// Opens an existing store to write to it (`silence add|expire`): the file must
    /// already hold the results of `webmon run`.
    pub(crate) fn open_writable(&self) -> anyhow::Result<SqliteStore> {
        super::paths::database(&self.db)?;
        open_existing(&self.db)?;
        Ok(SqliteStore::open(&self.db)?)
    }
}

/// Loads the alerting configuration of a checks file as `webmon run --region region`
/// would; fails when the file or its alerting has errors.
pub(crate) fn load_config(
    path: &Path,
    region: &str,
    policy: &SecretPolicy,
) -> anyhow::Result<webmon_core::alert::AlertConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("failed to read the checks file {}", path.display()))?;
    let checks = load_checks_file_with(path, policy);
    let outcome = load_for_region(&text, &checks, region);
    refuse_errors(path, &text, &checks, policy)?;
    Ok(outcome.config)
}

/// Loads the alerting configuration of a checks file for the AWS pipeline: a check
/// without `regions` is probed from every one of `regions`.
pub(crate) fn load_config_for_regions(
    path: &Path,
    regions: &[String],
    policy: &SecretPolicy,
) -> anyhow::Result<webmon_core::alert::AlertConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("failed to read the checks file {}", path.display()))?;
    let checks = load_checks_file_with(path, policy);
    let outcome = webmon_core::alert::load_alerting(&text, &checks.checks, regions);
    refuse_errors(path, &text, &checks, policy)?;
    Ok(outcome.config)
}

fn refuse_errors(
    path: &Path,
    text: &str,
    checks: &LoadOutcome,
    policy: &SecretPolicy,
) -> anyhow::Result<()> {
    let errors = alerting_errors(text, checks, policy);
    if let Some(first) = errors.first() {
        anyhow::bail!(
            "{}: {} alerting errors, the first: {first} (see `webmon validate`)",
            path.display(),
            errors.len()
        );
    }
    Ok(())
}

async fn test(args: TestArgs) -> anyhow::Result<ExitCode> {
    let path = match (args.source, &args.config) {
        (Source::Timestream | Source::Influxdb, _) => {
            return aws::test(&args.table, &args.channel, args.wait).await
        }
        (Source::Sqlite, Some(path)) => path.clone(),
        (Source::Sqlite, None) => {
            anyhow::bail!("--config FILE names the checks file with the channel")
        }
    };
    let policy = args.secrets.policy();
    let config = load_config(&path, "local", &policy)?;
    let Some(channel) = config.channels.get(&args.channel) else {
        let ids: Vec<&str> = config.channels.keys().map(String::as_str).collect();
        anyhow::bail!(
            "no channel {:?} in {} (channels: {})",
            args.channel,
            path.display(),
            ids.join(", ")
        );
    };
    let ctx = ChannelContext {
        secrets: Arc::new(PolicyResolver::new(policy)),
        ..ChannelContext::default()
    };
    let channel = build_channel(channel, &ctx)?;
    let n = NotificationIntent::test(&args.channel, SystemClock.now_ms());
    let retry = RetryPolicy {
        max_attempts: 3,
        base: Duration::from_secs(1),
        max_delay: Duration::from_secs(10),
    };
    match send_with_retries(channel.as_ref(), &n, retry).await {
        (Ok(d), attempts) => {
            println!(
                "sent test notification {} to {} (status {}, {attempts} attempt(s))",
                n.id, args.channel, d.status
            );
            Ok(ExitCode::SUCCESS)
        }
        (Err(e), attempts) => anyhow::bail!("failed after {attempts} attempt(s): {e}"),
    }
}

/// Starts alerting for `webmon run` on `store` (see `webmon_local::alerting`).
pub async fn start_for_run(
    store: &SqliteStore,
    config: &Path,
    region: &str,
    secrets: &SecretPolicy,
) -> anyhow::Result<Alerting> {
    let options = AlertingOptions::new(config.to_path_buf(), region, secrets.clone());
    Alerting::start(store.clone(), Arc::new(SystemClock), options)
        .await
        .context("failed to start alerting")
}

/// Every alerting problem of a checks document: the configuration's own errors and
/// channel secret references the operator's policy refuses.
pub fn alerting_errors(
    text: &str,
    checks: &LoadOutcome,
    policy: &SecretPolicy,
) -> Vec<ValidationError> {
    let outcome = load_for_region(text, checks, "local");
    let mut errors = outcome.errors;
    let resolver = PolicyResolver::new(policy.clone());
    for (id, channel) in &outcome.config.channels {
        for (field, kind, name) in channel_secret_refs(channel) {
            if let Err(reason) = resolver.permits(&kind, &name) {
                let at = format!("channels.{id}.{field}");
                errors.push(ValidationError::new("<file>", &at, "", reason));
            }
        }
    }
    errors
}

/// `outcome` (the checks of the file `text`) with the file's alerting errors appended,
/// for `webmon validate`.
pub fn with_alerting_errors(
    text: &str,
    policy: &SecretPolicy,
    mut outcome: LoadOutcome,
) -> LoadOutcome {
    if outcome.checks.is_empty() && outcome.errors.iter().any(|e| e.check_id == "<file>") {
        return outcome;
    }
    let mut errors = alerting_errors(text, &outcome, policy);
    outcome.errors.append(&mut errors);
    outcome
}

/// Incident counts and downtime per check since `since_ms`, printed after the report
/// table; nothing for a store other than SQLite or one without incidents.
pub async fn print_incident_summary(source: &SourceArgs, since_ms: i64, now_ms: i64) {
    if !matches!(source.source, Source::Sqlite) {
        return;
    }
    let Ok(store) = open_existing(&source.db_path()) else {
        return;
    };
    let Ok(incidents) = store.incidents_since(since_ms).await else {
        return;
    };
    if incidents.is_empty() {
        return;
    }
    print!("\n{}", status::incident_table(&incidents, since_ms, now_ms));
}

#[cfg(test)]
mod tests {
    use super::*;
    use webmon_core::check::parse_checks_document_with;

    #[test]
    fn validation_reports_alerting_errors_and_refused_references() {
        let text = "channels:
  - {id: hook, type: webhook, url: 'http://127.0.0.1:9/', secret: '${env:HOME}'}
  - {id: chat, type: slack, url: '${env:WEBMON_SECRET_SLACK}'}
alert_defaults: {channels: [hook, pager]}
checks:
  - {id: a, url: 'http://127.0.0.1:9/', alert: {failure_threshold: 99}}
";
        let policy = SecretPolicy::new();
        let checks = parse_checks_document_with(text, &policy);
        let errors = alerting_errors(text, &checks, &policy);
        let all: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        assert!(all.iter().any(|e| e.contains("pager")), "{all:?}");
        assert!(
            all.iter().any(|e| e.contains("failure_threshold")),
            "{all:?}"
        );
        assert!(
            all.iter()
                .any(|e| e.contains("channels.hook.secret") && e.contains("HOME")),
            "{all:?}"
        );
        assert!(!all.iter().any(|e| e.contains("chat")), "{all:?}");
        let allowed = SecretPolicy::new().allow_env(["HOME"]);
        let errors = alerting_errors(text, &checks, &allowed);
        assert!(
            !errors.iter().any(|e| e.field.contains("hook")),
            "{errors:?}"
        );
    }
}
