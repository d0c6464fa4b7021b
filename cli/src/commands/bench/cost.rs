//! `webmon bench cost`: cost per million check executions, measured on the real pipeline.
//!
//! Runs the config, probe and writer handlers on moto's server (the `webmon-aws`
//! emulator harness, whose proxy counts every API call) with two probe regions and a
//! home region, against a local target on 127.0.0.1. Each trigger minute fires the
//! rules due in it (each rule bin-packs schedule groups), as EventBridge would; every
//! execution of the minute is made due at once (a clock at the minute's end), so the
//! run takes seconds, not minutes. Lambda billed duration of a probe invocation = the
//! last scheduled offset of its groups' checks in the minute (time a real invocation
//! waits for it) + the handler's measured wall time.
//! The writer's duration is its handler's wall time. Prices come from the committed
//! table (`prices/aws-prices.yaml`); the model and the original design's model are in
//! [`model`].

mod model;
mod prices;
mod report;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{anyhow, bail, Context};
use aws_sdk_dynamodb::types::AttributeValue;
use model::{record_bytes, Usage};
use prices::Prices;
use report::{print_report, rss_high_water, Infra, RunInfo};
use webmon_aws::dynamodb::{check_to_item, DynamoCheckRepository, DEFAULT_TABLE};
use webmon_aws::eventbridge::EventBridgeRules;
use webmon_aws::sqs::SqsResultQueue;
use webmon_aws::timestream::TimestreamStore;
use webmon_core::check::{Check, RawCheck};
use webmon_core::ports::Clock;
use webmon_core::probe::{ProbeOptions, Prober};
use webmon_core::reconcile::RULE_PREFIX;
use webmon_core::schedule::{executions_in_trigger, GroupKey};
use webmon_testkit::emulator::Emulator;
use webmon_testkit::TargetServer;

const PROBE_REGIONS: [&str; 2] = ["eu-west-1", "us-east-1"];
const HOME: &str = "eu-central-1";
/// First trigger minute: 2026-01-01 10:00 UTC, aligned to the hour so every group's
/// clock-aligned schedule fires in it.
const START_MS: i64 = 1_767_261_600_000;

/// Arguments of `webmon bench cost`.
#[derive(clap::Args)]
pub struct Args {
    /// Checks in the table, each probed from both probe regions.
    #[arg(long, default_value_t = 1000)]
    checks: usize,
    /// Trigger minutes to run (5 covers one cycle of every interval of the default mix).
    #[arg(long, default_value_t = 5)]
    minutes: u32,
    /// Intervals of the checks, in equal shares.
    #[arg(long, value_delimiter = ',', default_value = "10s,30s,1m,5m")]
    mix: Vec<String>,
    /// The price table.
    #[arg(long, default_value = "prices/aws-prices.yaml")]
    prices: PathBuf,
    /// Directory holding `Pulumi.yaml` and `regions/Pulumi.yaml`, read for the memory
    /// sizes and the Timestream retention.
    #[arg(long, default_value = ".")]
    infra: PathBuf,
    /// Probe Lambda memory, MB [default: probeMemoryMb of regions/Pulumi.yaml].
    #[arg(long)]
    probe_memory_mb: Option<f64>,
    /// Writer Lambda memory, MB [default: writerMemoryMb of Pulumi.yaml].
    #[arg(long)]
    writer_memory_mb: Option<f64>,
    /// Probes in flight per invocation (WEBMON_CONCURRENCY).
    #[arg(long, default_value_t = 256)]
    concurrency: usize,
}

/// A clock at the last millisecond of a trigger minute: every execution is due.
struct EndOfMinute(i64);

impl Clock for EndOfMinute {
    fn now_ms(&self) -> i64 {
        self.0 + 59_999
    }
}

/// One probe region on the emulator.
struct Region {
    name: &'static str,
    table: DynamoCheckRepository,
    /// Each rule's groups, as its input names them.
    rules: Vec<Vec<GroupKey>>,
    prober: Prober,
}

/// Runs `webmon bench cost`.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.checks == 0 || args.minutes == 0 || args.mix.is_empty() {
        bail!("failed to start: --checks, --minutes and --mix must not be zero or empty");
    }
    let prices = Prices::load(&args.prices)?;
    let infra = Infra::read(&args.infra);
    let probe_mb = args.probe_memory_mb.unwrap_or(infra.probe_memory_mb);
    let writer_mb = args.writer_memory_mb.unwrap_or(infra.writer_memory_mb);
    let wall = Instant::now();
    let emulator = Emulator::start().await.map_err(|e| anyhow!("{e}"))?;
    let target =
        TargetServer::start("127.0.0.1:0".parse()?).context("failed to start the local target")?;
    let checks = make_checks(args.checks, &args.mix, &target.url("/ok"))?;
    let item_bytes: HashMap<String, u64> = checks
        .iter()
        .map(|c| Ok((c.id.clone(), item_size(&check_to_item(c)?))))
        .collect::<anyhow::Result<_>>()?;
    eprintln!(
        "emulator at {}; {} checks ({}), {} trigger minutes, regions {} + home {HOME}",
        emulator.endpoint_url(),
        checks.len(),
        args.mix.join(", "),
        args.minutes,
        PROBE_REGIONS.join(", ")
    );

    // Home: queue, dead-letter queue, Timestream table.
    let sqs = aws_sdk_sqs::Client::new(&emulator.target(HOME).load().await);
    let (url, dlq_url) = webmon_aws::sqs::create_queue_with_dlq(&sqs, "webmon-results", 3).await?;
    let queue = SqsResultQueue::new(sqs.clone(), url);
    let dlq = SqsResultQueue::new(sqs, dlq_url);
    let store = TimestreamStore::new(
        TimestreamStore::client(&emulator.target(HOME)).await?,
        "webmon",
        "results",
    );
    store.ensure_table().await?;

    // Probe regions: table, items, rules through the config Lambda's resync.
    let mut regions = Vec::new();
    for name in PROBE_REGIONS {
        regions.push(setup_region(&emulator, name, &checks).await?);
    }
    let setup_calls: u64 = emulator.counts().values().sum();
    emulator.reset_counts();

    let granularity = prices.lambda.billing_granularity_ms;
    let mut usage = Usage {
        memory_retention_hours: infra.memory_retention_hours,
        magnetic_retention_days: infra.magnetic_retention_days,
        ..Default::default()
    };
    usage.probe.memory_mb = probe_mb;
    usage.writer.memory_mb = writer_mb;
    let by_group = group_checks(&checks);
    for minute in 0..args.minutes {
        let minute_start = START_MS + i64::from(minute) * 60_000;
        for region in &regions {
            let settings = webmon_aws::service::probe::Settings {
                region: region.name.to_string(),
                concurrency: args.concurrency,
            };
            for groups in &region.rules {
                let trigger = groups.first().map_or(60, GroupKey::trigger_seconds);
                if (minute_start / 1000) % trigger as i64 != 0 {
                    continue;
                }
                let members: Vec<&Check> = groups
                    .iter()
                    .flat_map(|g| by_group.get(g).map(Vec::as_slice).unwrap_or_default())
                    .collect();
                let wait_ms = last_offset_ms(&members, minute_start);
                emulator.record(region.name, "lambda", "Invoke");
                let started = Instant::now();
                let names: Vec<String> = groups.iter().map(GroupKey::name).collect();
                let summary = webmon_aws::service::probe::handle(
                    &region.table,
                    &queue,
                    &region.prober,
                    &EndOfMinute(minute_start),
                    &settings,
                    serde_json::json!({ "groups": names }),
                )
                .await
                .map_err(|e| anyhow!("probe invocation {names:?} failed: {e}"))?;
                usage.probe.add(ms(started), wait_ms, granularity);
                usage.executions += summary.executions as u64;
                // One query per group, each rounded up to whole read units.
                for group in groups {
                    let bytes: u64 = by_group
                        .get(group)
                        .map(|cs| cs.iter().map(|c| item_bytes[&c.id]).sum())
                        .unwrap_or(0);
                    usage.dynamodb_read_units += bytes
                        .div_ceil(prices.dynamodb.read_unit_bytes as u64)
                        .max(1) as f64
                        * prices.dynamodb.eventually_consistent_factor;
                }
            }
        }
        drain(&emulator, &queue, &store, &mut usage, granularity).await?;
    }
    if !dlq.receive(0).await?.is_empty() {
        bail!("results were dead-lettered: the run is not valid");
    }

    // Calls counted by the proxy; records read back from moto.
    usage.sqs_send_calls = emulator.count("sqs", "SendMessageBatch");
    usage.sqs_receive_calls = emulator.count("sqs", "ReceiveMessage");
    usage.sqs_delete_calls = emulator.count("sqs", "DeleteMessageBatch");
    usage.sqs_message_bytes = emulator.sqs_message_bytes();
    usage.dynamodb_queries = emulator.count("dynamodb", "Query");
    usage.timestream_calls = emulator.count("timestream", "WriteRecords");
    let rss = rss_high_water();
    let records = emulator.timestream_records().await?;
    usage.timestream_records = records.len() as u64;
    usage.timestream_record_bytes = records.iter().map(|(_, r)| record_bytes(r)).sum();
    if usage.timestream_records != usage.executions {
        bail!(
            "failed to store every result: {} executions, {} records in Timestream",
            usage.executions,
            usage.timestream_records
        );
    }
    let run = RunInfo {
        rules_per_region: regions
            .iter()
            .map(|r| (r.name, r.rules.len(), r.rules.iter().map(Vec::len).sum()))
            .collect(),
        setup_calls,
        wall,
        rss,
    };
    // A missed target fails the run, so a script or CI step cannot pass over it.
    let met = print_report(&args, &prices, &usage, &emulator, &run);
    Ok(if met {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Plays Lambda's SQS poller: receive up to 10, invoke the writer (timed), delete.
async fn drain(
    emulator: &Emulator,
    queue: &SqsResultQueue,
    store: &TimestreamStore,
    usage: &mut Usage,
    granularity: f64,
) -> anyhow::Result<()> {
    let mut empty = 0;
    while empty < 2 {
        let received = queue.receive(0).await?;
        if received.is_empty() {
            empty += 1;
            continue;
        }
        empty = 0;
        let event = webmon_aws::service::write::poll::sqs_event(&received);
        emulator.record(HOME, "lambda", "Invoke");
        let started = Instant::now();
        let (response, _) = webmon_aws::service::write::handle(store, event).await;
        usage.writer.add(ms(started), 0.0, granularity);
        if !response.batch_item_failures.is_empty() {
            bail!(
                "the writer failed {} messages",
                response.batch_item_failures.len()
            );
        }
        queue.delete(&received.iter().collect::<Vec<_>>()).await?;
    }
    Ok(())
}

async fn setup_region(
    emulator: &Emulator,
    name: &'static str,
    checks: &[Check],
) -> anyhow::Result<Region> {
    let config = emulator.target(name).load().await;
    let table = DynamoCheckRepository::new(aws_sdk_dynamodb::Client::new(&config), DEFAULT_TABLE);
    table.ensure_table().await?;
    let mut puts = tokio::task::JoinSet::new();
    for chunk in checks.chunks(checks.len().div_ceil(8)) {
        let (table, chunk) = (table.clone(), chunk.to_vec());
        puts.spawn(async move {
            for check in &chunk {
                table.put(check).await?;
            }
            Ok::<_, webmon_aws::AwsError>(())
        });
    }
    while let Some(done) = puts.join_next().await {
        done??;
    }
    let arn = format!("arn:aws:lambda:{name}:123456789012:function:webmon-probe");
    let rules = EventBridgeRules::new(aws_sdk_eventbridge::Client::new(&config), RULE_PREFIX, arn);
    webmon_aws::service::reconcile::resync(&table, &rules, name)
        .await
        .map_err(|e| anyhow!("config resync in {name} failed: {e}"))?;
    let mut packed = Vec::new();
    for rule in rules.list().await? {
        let groups: Vec<GroupKey> = rule.groups().into_iter().collect();
        if groups.is_empty() {
            bail!("rule {} names no group", rule.name);
        }
        packed.push(groups);
    }
    let prober = Prober::new(ProbeOptions {
        region: name.into(),
        // The targets are on 127.0.0.1: the operator allows private addresses.
        allow_private: true,
        cold_start: true,
        ..Default::default()
    });
    Ok(Region {
        name,
        table,
        rules: packed,
        prober,
    })
}

/// `n` checks against `url`, intervals taken in turn from `mix`.
fn make_checks(n: usize, mix: &[String], url: &str) -> anyhow::Result<Vec<Check>> {
    (0..n)
        .map(|i| {
            RawCheck {
                id: format!("bench-{i:05}"),
                url: url.into(),
                interval: Some(mix[i % mix.len()].clone()),
                timeout: Some("2s".into()),
                allow_private: Some(true),
                tags: [("suite".to_string(), "bench".to_string())].into(),
                ..Default::default()
            }
            .validate()
            .map_err(|e| anyhow!("failed to build bench check {i}: {e:?}"))
        })
        .collect()
}

fn group_checks(checks: &[Check]) -> BTreeMap<GroupKey, Vec<Check>> {
    let mut out: BTreeMap<GroupKey, Vec<Check>> = BTreeMap::new();
    for c in checks {
        out.entry(GroupKey::of(c)).or_default().push(c.clone());
    }
    out
}

/// Latest scheduled offset of the group's executions in the minute, ms.
fn last_offset_ms(checks: &[&Check], minute_start: i64) -> f64 {
    checks
        .iter()
        .flat_map(|c| executions_in_trigger(&c.id, c.interval, minute_start))
        .map(|at| (at - minute_start) as f64)
        .fold(0.0, f64::max)
}

/// DynamoDB item size: attribute names plus values.
fn item_size(item: &HashMap<String, AttributeValue>) -> u64 {
    item.iter()
        .map(|(k, v)| k.len() as u64 + value_size(v))
        .sum()
}

fn value_size(v: &AttributeValue) -> u64 {
    match v {
        AttributeValue::S(s) => s.len() as u64,
        AttributeValue::N(n) => n.len().div_ceil(2) as u64 + 1,
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::L(l) => 3 + l.iter().map(|x| 1 + value_size(x)).sum::<u64>(),
        AttributeValue::M(m) => {
            3 + m
                .iter()
                .map(|(k, x)| 1 + k.len() as u64 + value_size(x))
                .sum::<u64>()
        }
        AttributeValue::Ss(l) => l.iter().map(|s| s.len() as u64).sum(),
        _ => 8,
    }
}

fn ms(started: Instant) -> f64 {
    started.elapsed().as_secs_f64() * 1000.0
}
