//! `webmon alerts status|test` against an AWS deployment (`--source timestream` or
//! `--source influxdb`): the alert table in the home region holds the state and the
//! outbox; a test notification is enqueued there and delivered by the deployed
//! notifier, so the test covers the same path as an incident.

use std::process::ExitCode;
use std::time::Duration;

use webmon_aws::alerting::outbox::Status;
use webmon_aws::alerting::table::AlertTable;
use webmon_aws::alerting::{ALERT_TABLE_ENV, DEFAULT_ALERT_TABLE};
use webmon_aws::config::{AwsTarget, ENDPOINT_ENV};
use webmon_core::alert::NotificationIntent;
use webmon_core::ports::{Clock, SystemClock};

use super::status::time;

/// Where the alert table is.
#[derive(clap::Args, Debug, Clone)]
pub struct AlertTableArgs {
    /// The alert table (with `--source timestream|influxdb`).
    #[arg(long, env = ALERT_TABLE_ENV, default_value = DEFAULT_ALERT_TABLE)]
    pub alert_table: String,
    /// The home region (default: the SDK's, e.g. AWS_REGION).
    #[arg(long)]
    pub home_region: Option<String>,
    /// Endpoint override (an emulator such as moto's server).
    #[arg(long, env = ENDPOINT_ENV)]
    pub endpoint_url: Option<String>,
}

impl AlertTableArgs {
    /// The table.
    pub async fn table(&self) -> AlertTable {
        let target = AwsTarget {
            region: self.home_region.clone(),
            endpoint_url: self.endpoint_url.clone().filter(|u| !u.is_empty()),
        };
        let client = aws_sdk_dynamodb::Client::new(&target.load().await);
        AlertTable::new(client, &self.alert_table)
    }
}

/// `webmon alerts create-table`.
pub async fn create_table(args: &AlertTableArgs) -> anyhow::Result<ExitCode> {
    let table = args.table().await;
    table.ensure_table().await?;
    println!("alert table {} ready", table.name());
    Ok(ExitCode::SUCCESS)
}

/// `webmon alerts status` on AWS.
pub async fn status(args: &AlertTableArgs, json: bool) -> anyhow::Result<ExitCode> {
    let table = args.table().await;
    let states = table.states().await?;
    let deliveries = table.delivery_counts().await?;
    if json {
        let doc = serde_json::json!({
            "table": table.name(),
            "checks": states.iter().map(|(id, s)| serde_json::json!({
                "check_id": id,
                "level": s.state.level.as_str(),
                "since_ms": s.state.level_since_ms,
                "settled": webmon_core::alert::is_settled(&s.state),
                "incident": s.state.incident.as_ref().filter(|i| i.is_open()).map(|i| &i.id),
            })).collect::<Vec<_>>(),
            "deliveries": deliveries,
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "alert table {}: {} checks with state",
        table.name(),
        states.len()
    );
    for (id, s) in states
        .iter()
        .filter(|(_, s)| s.state.level.as_str() != "UP")
    {
        println!(
            "  {:<32} {:<9} since {}",
            id,
            s.state.level.as_str(),
            time(s.state.level_since_ms)
        );
    }
    let open: Vec<_> = states
        .iter()
        .filter_map(|(_, s)| s.state.incident.as_ref().filter(|i| i.is_open()))
        .collect();
    println!("open incidents: {}", open.len());
    for i in open {
        println!(
            "  {}  {} (worst {}, notified {})",
            i.id,
            i.level.as_str(),
            i.worst.as_str(),
            i.notified_level.as_str()
        );
    }
    let counts: Vec<String> = deliveries
        .by_status
        .iter()
        .map(|(k, v)| format!("{v} {k}"))
        .collect();
    println!(
        "outbox: {}",
        if counts.is_empty() {
            "empty".into()
        } else {
            counts.join(", ")
        }
    );
    for e in deliveries.errors.iter().take(10) {
        println!("  {e}");
    }
    Ok(ExitCode::SUCCESS)
}

/// `webmon alerts test CHANNEL` on AWS: enqueues a test notification and waits (up to
/// `wait`) for the notifier to record its delivery.
pub async fn test(
    args: &AlertTableArgs,
    channel: &str,
    wait: Duration,
) -> anyhow::Result<ExitCode> {
    let table = args.table().await;
    let document = table.document().await?.ok_or_else(|| {
        anyhow::anyhow!(
            "no alerting document in {}: run `webmon checks put FILE --alert-table {}` first",
            table.name(),
            table.name()
        )
    })?;
    if !document.channels.iter().any(|c| c.id() == channel) {
        let ids: Vec<&str> = document.channels.iter().map(|c| c.id()).collect();
        anyhow::bail!(
            "no channel {channel:?} in the alerting document of {} (channels: {})",
            table.name(),
            ids.join(", ")
        );
    }
    let intent = NotificationIntent::test(channel, SystemClock.now_ms());
    table.enqueue(&intent, SystemClock.now_ms()).await?;
    println!("enqueued test notification {} for {channel}", intent.id);
    let deadline = tokio::time::Instant::now() + wait;
    // Bounded by `wait`.
    loop {
        let delivery = table.delivery(&intent.id, channel).await?;
        match delivery.map(|d| d.status) {
            Some(Status::Sent) => {
                println!("delivered by the notifier");
                return Ok(ExitCode::SUCCESS);
            }
            Some(Status::Failed) => {
                let errors = table.delivery_counts().await?.errors;
                let why = errors
                    .iter()
                    .find(|e| e.starts_with(&intent.id))
                    .cloned()
                    .unwrap_or_default();
                anyhow::bail!("the notifier gave up: {why}");
            }
            _ if tokio::time::Instant::now() >= deadline => {
                anyhow::bail!(
                    "not delivered within {}: is the notifier deployed and its stream mapping enabled? (`webmon alerts status --source timestream` shows the outbox)",
                    humantime::format_duration(wait)
                );
            }
            _ => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}
