//! `webmon resync`: reconcile one region's EventBridge rules with the whole check table
//! (the config Lambda's resync mode, run from a workstation): missing rules are created,
//! stale ones updated, orphan `webmon-` rules deleted, stale `schedule_group`s rewritten.

use std::process::ExitCode;

use webmon_aws::dynamodb::DynamoCheckRepository;
use webmon_aws::eventbridge::{
    EventBridgeRules, BIN_CAPACITY_ENV, PREFIX_ENV, PROBE_ARN_ENV, PROBE_MEMORY_ENV,
};
use webmon_core::reconcile::{bin_capacity_for_memory, DEFAULT_PROBE_MEMORY_MB, RULE_PREFIX};

use super::checks::TableArgs;

/// Arguments of `webmon resync`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    table: TableArgs,
    /// ARN of the region's probe Lambda (the rules' target).
    #[arg(long, env = PROBE_ARN_ENV)]
    probe_arn: String,
    /// Rule name prefix.
    #[arg(long, env = PREFIX_ENV, default_value = RULE_PREFIX)]
    prefix: String,
    /// Check executions per trigger minute one rule (one probe invocation) carries
    /// [default: the capacity measured for --probe-memory-mb, as the config Lambda
    /// computes it].
    #[arg(long, env = BIN_CAPACITY_ENV)]
    bin_capacity: Option<u64>,
    /// The region's probe Lambda memory, MB (the stack's probeMemoryMb).
    #[arg(long, env = PROBE_MEMORY_ENV, default_value_t = DEFAULT_PROBE_MEMORY_MB)]
    probe_memory_mb: u32,
}

/// Runs `webmon resync`.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let config = args.table.target().load().await;
    let region = config
        .region()
        .map(|r| r.to_string())
        .ok_or_else(|| anyhow::anyhow!("failed to resync: no region; pass --region"))?;
    let table =
        DynamoCheckRepository::new(aws_sdk_dynamodb::Client::new(&config), &args.table.table);
    let rules = EventBridgeRules::new(
        aws_sdk_eventbridge::Client::new(&config),
        &args.prefix,
        &args.probe_arn,
    )
    .with_bin_capacity(
        args.bin_capacity
            .unwrap_or_else(|| bin_capacity_for_memory(args.probe_memory_mb)),
    );
    let summary = webmon_aws::service::reconcile::resync(&table, &rules, &region)
        .await
        .map_err(|e| {
            let cause = e.to_string();
            if cause.contains("ResourceNotFoundException") && cause.contains("dynamodb") {
                super::checks::table_error(&table, &format!("resync {region} from"), cause)
            } else {
                anyhow::anyhow!("failed to resync {region}: {cause}")
            }
        })?;
    println!(
        "{region}: {} groups in {} rules, {} rules put, {} rules deleted, {} groups rewritten, {} invalid items",
        summary.groups,
        summary.rules,
        summary.rules_put,
        summary.rules_deleted,
        summary.groups_backfilled,
        summary.invalid_items
    );
    Ok(if summary.invalid_items == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}
