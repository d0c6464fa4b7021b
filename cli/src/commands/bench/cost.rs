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
//! The writer's duration is its handler's wall time; its invocations hold the results
//! a deployed poller would hand it (a batching window of them, see [`Poller`]). Prices
//! come from the committed table (`prices/aws-prices.yaml`); the model and the original
//! design's model are in [`model`].
//!
//! Alerting is on (unless `--no-alerting`): the home region holds the alert table, the
//! home replica of the checks table and an alerting document with one webhook channel
//! (a receiver on 127.0.0.1) for every check. The writer evaluates what it stored
//! (`handle_then` with the alert evaluator); after each minute's drain the notifier
//! handles the alert table's stream (its real records, filtered and batched as the
//! event source mapping does), and the sweeper runs once, as its `rate(1 minute)` rule
//! would. `--failing-percent` of the checks point at `/status/503`: they open
//! incidents and stay DOWN. Every call of the home region's DynamoDB client is metered
//! from its request and response bodies ([`model::DynamoMeter`]). The first
//! `--warmup-minutes` are run but counted apart, like the setup: they hold every
//! check's first evaluation, paid once per check.

mod model;
mod prices;
mod report;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{anyhow, bail, Context};
use aws_lambda_events::event::dynamodb::Event as StreamEvent;
use aws_sdk_dynamodb::config::interceptors::{
    BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_sdk_dynamodb::config::retry::{RetryConfig, RetryPartition, TokenBucket};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use model::{item_size, record_bytes, DynamoMeter, DynamoUse, Usage};
use prices::{DynamoPrices, Prices};
use report::{print_report, rss_high_water, AlertRun, Infra, RunInfo, WarmUp};
use webmon_aws::alerting::channels::AwsChannelClients;
use webmon_aws::alerting::deliver::{DeliverySettings, Notifier};
use webmon_aws::alerting::{AlertEvaluator, AlertTable};
use webmon_aws::dynamodb::{check_to_item, DynamoCheckRepository, DEFAULT_TABLE};
use webmon_aws::eventbridge::EventBridgeRules;
use webmon_aws::sqs::SqsResultQueue;
use webmon_aws::timestream::TimestreamStore;
use webmon_core::alert::{AlertDocument, ChannelConfig, RawAlertPolicy};
use webmon_core::check::{Check, RawCheck};
use webmon_core::ports::Clock;
use webmon_core::probe::{ProbeOptions, Prober};
use webmon_core::reconcile::RULE_PREFIX;
use webmon_core::schedule::{executions_in_trigger, GroupKey};
use webmon_testkit::emulator::Emulator;
use webmon_testkit::http_recorder::Recorder;
use webmon_testkit::streams::StreamReader;
use webmon_testkit::TargetServer;

const PROBE_REGIONS: [&str; 2] = ["eu-west-1", "us-east-1"];
const HOME: &str = "eu-central-1";
/// First trigger minute: 2026-01-01 10:00 UTC, aligned to the hour so every group's
/// clock-aligned schedule fires in it (the first warm-up minute, when there is one).
const START_MS: i64 = 1_767_261_600_000;
/// The home region's alert table.
const ALERT_TABLE: &str = "webmon-alerts";
/// The webhook channel's signing key: a literal `whsec_` key, so building the channel
/// reads no secret (no Secrets Manager call).
const WEBHOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// The path of the target that fails (the demo target answers it with that status).
const FAILING_PATH: &str = "/status/503";
/// The home region's DynamoDB operations of alerting, as the proxy counts them.
pub(super) const ALERT_OPS: [&str; 7] = [
    "GetItem",
    "Query",
    "Scan",
    "TransactWriteItems",
    "UpdateItem",
    "PutItem",
    "DeleteItem",
];

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
    /// Share of the checks, in percent, that point at a failing path of the target
    /// (`/status/503`): they open incidents, stay DOWN and are evaluated on every
    /// execution.
    #[arg(long, default_value_t = 1.0)]
    failing_percent: f64,
    /// Trigger minutes run before the measured ones and counted apart: every check's
    /// first evaluation (its initial alert state) is paid once per check.
    #[arg(long, default_value_t = 1)]
    warmup_minutes: u32,
    /// Leave alerting off (no alert evaluation, notifier or sweeper), for comparison.
    #[arg(long)]
    no_alerting: bool,
}

/// A clock at the last millisecond of a trigger minute: every execution is due.
struct EndOfMinute(i64);

impl Clock for EndOfMinute {
    fn now_ms(&self) -> i64 {
        self.0 + 59_999
    }
}

/// The clock of the home region's alerting: when a deployed writer would evaluate the
/// results at hand, then the last millisecond of the trigger minute (notifier, sweeper).
#[derive(Default)]
struct MinuteClock(AtomicI64);

impl MinuteClock {
    /// At the end of the minute starting at `minute_start_ms`.
    fn set(&self, minute_start_ms: i64) {
        self.set_now(minute_start_ms + 59_999);
    }

    fn set_now(&self, now_ms: i64) {
        self.0.store(now_ms, Ordering::SeqCst);
    }
}

impl Clock for MinuteClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// Meters every call of the home region's DynamoDB client from its request and
/// response bodies ([`DynamoMeter`]): the proxy counts calls, this sizes them.
#[derive(Debug, Clone)]
struct MeterInterceptor {
    prices: DynamoPrices,
    state: Arc<Mutex<MeterState>>,
}

#[derive(Debug, Default)]
struct MeterState {
    /// The request of each attempt in flight, by its call's config bag (one per call,
    /// the same object from the first hook to the last).
    in_flight: HashMap<usize, (String, serde_json::Value)>,
    meter: DynamoMeter,
}

impl MeterInterceptor {
    fn new(prices: DynamoPrices) -> Self {
        Self {
            prices,
            state: Arc::default(),
        }
    }

    /// What was metered since the last call.
    fn take(&self) -> DynamoUse {
        self.state.lock().expect("not poisoned").meter.take()
    }
}

fn bag_id(cfg: &ConfigBag) -> usize {
    cfg as *const ConfigBag as usize
}

fn json_body(bytes: Option<&[u8]>) -> serde_json::Value {
    bytes
        .and_then(|b| serde_json::from_slice(b).ok())
        .unwrap_or_default()
}

impl Intercept for MeterInterceptor {
    fn name(&self) -> &'static str {
        "webmon-bench-dynamodb-meter"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request();
        let op = request
            .headers()
            .get("x-amz-target")
            .and_then(|t| t.rsplit('.').next())
            .unwrap_or_default()
            .to_string();
        let body = json_body(request.body().bytes());
        self.state
            .lock()
            .expect("not poisoned")
            .in_flight
            .insert(bag_id(cfg), (op, body));
        Ok(())
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let mut state = self.state.lock().expect("not poisoned");
        let Some((op, request)) = state.in_flight.remove(&bag_id(cfg)) else {
            return Ok(());
        };
        // No response: the call never reached DynamoDB.
        let Some(response) = context.response() else {
            return Ok(());
        };
        let body = json_body(response.body().bytes());
        let failed = response.status().is_server_error();
        state.meter.call(&self.prices, &op, &request, &body, failed);
        Ok(())
    }
}

/// Alerting in the home region: the writer's evaluator, the notifier and the sweeper
/// (each Lambda its own container, with its own caches), the alert table's stream and
/// the webhook receiver.
struct Alerting {
    writer: AlertEvaluator<DynamoCheckRepository>,
    sweeper: AlertEvaluator<DynamoCheckRepository>,
    notifier: Notifier,
    sweeper_notifier: Notifier,
    stream: StreamReader,
    receiver: Recorder,
    /// Stream records per notifier invocation (`notifierBatchSize`).
    batch_size: usize,
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
    if !(0.0..=100.0).contains(&args.failing_percent) {
        bail!("failed to start: --failing-percent must be between 0 and 100");
    }
    let prices = Prices::load(&args.prices)?;
    let infra = Infra::read(&args.infra);
    let probe_mb = args.probe_memory_mb.unwrap_or(infra.probe_memory_mb);
    let writer_mb = args.writer_memory_mb.unwrap_or(infra.writer_memory_mb);
    let wall = Instant::now();
    let emulator = Emulator::start().await.map_err(|e| anyhow!("{e}"))?;
    let target =
        TargetServer::start("127.0.0.1:0".parse()?).context("failed to start the local target")?;
    let failing = (args.checks as f64 * args.failing_percent / 100.0).round() as usize;
    let checks = make_checks(
        args.checks,
        &args.mix,
        &target.url("/ok"),
        failing,
        &target.url(FAILING_PATH),
    )?;
    let item_bytes: HashMap<String, u64> = checks
        .iter()
        .map(|c| Ok((c.id.clone(), item_size(&check_to_item(c)?))))
        .collect::<anyhow::Result<_>>()?;
    eprintln!(
        "emulator at {}; {} checks ({}), {failing} of them failing, {} trigger minutes after {} warm-up, regions {} + home {HOME}, alerting {}",
        emulator.endpoint_url(),
        checks.len(),
        args.mix.join(", "),
        args.minutes,
        args.warmup_minutes,
        PROBE_REGIONS.join(", "),
        if args.no_alerting { "off" } else { "on" }
    );

    // Home: queue, dead-letter queue, Timestream table.
    let sqs = aws_sdk_sqs::Client::new(&emulator.target(HOME).load().await);
    let (url, dlq_url) = webmon_aws::sqs::create_queue_with_dlq(&sqs, "webmon-results", 3).await?;
    // The poller receives a whole minute before the writer runs: received messages stay
    // hidden meanwhile, as with the deployed queueVisibilityTimeoutSeconds.
    sqs.set_queue_attributes()
        .queue_url(&url)
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout,
            "360",
        )
        .send()
        .await
        .context("failed to set the queue's visibility timeout")?;
    let queue = SqsResultQueue::new(sqs.clone(), url);
    let dlq = SqsResultQueue::new(sqs, dlq_url);
    let store = TimestreamStore::new(
        TimestreamStore::client(&emulator.target(HOME)).await?,
        "webmon",
        "results",
    );
    store.ensure_table().await?;
    // Home: alerting, on a DynamoDB client whose every call is metered.
    let meter = MeterInterceptor::new(prices.dynamodb.clone());
    let clock = Arc::new(MinuteClock::default());
    let mut alerting = if args.no_alerting {
        None
    } else {
        Some(
            setup_alerting(
                &emulator,
                &meter,
                &checks,
                clock.clone(),
                infra.notifier_batch_size,
            )
            .await?,
        )
    };

    // Probe regions: table, items, rules through the config Lambda's resync.
    let mut regions = Vec::new();
    for name in PROBE_REGIONS {
        regions.push(setup_region(&emulator, name, &checks).await?);
    }
    let setup_calls: u64 = emulator.counts().values().sum();
    emulator.reset_counts();
    meter.take();

    let granularity = prices.lambda.billing_granularity_ms;
    let fresh_usage = || {
        let mut u = Usage {
            memory_retention_hours: infra.memory_retention_hours,
            magnetic_retention_days: infra.magnetic_retention_days,
            ..Default::default()
        };
        u.probe.memory_mb = probe_mb;
        u.writer.memory_mb = writer_mb;
        u.notifier.memory_mb = infra.notifier_memory_mb;
        u.sweeper.memory_mb = infra.sweeper_memory_mb;
        u
    };
    let mut usage = fresh_usage();
    let mut warmup: Option<WarmUp> = None;
    let by_group = group_checks(&checks);
    for minute in 0..args.warmup_minutes + args.minutes {
        let minute_start = START_MS + i64::from(minute) * 60_000;
        clock.set(minute_start);
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
        let poller = Poller {
            emulator: &emulator,
            queue: &queue,
            store: &store,
            evaluator: alerting.as_ref().map(|a| &a.writer),
            clock: &clock,
            batch_size: infra.writer_batch_size,
            window_ms: (infra.writer_batching_window_s * 1000.0) as i64,
            granularity,
        };
        poller.drain(&mut usage).await?;
        // The notifier and the sweeper run after the writer, at the minute's end at the
        // earliest.
        clock.set_now(clock.now_ms().max(minute_start + 59_999));
        if let Some(a) = alerting.as_mut() {
            notify(&emulator, a, &*clock, &mut usage, granularity).await?;
            sweep(&emulator, a, &mut usage, granularity).await?;
        }
        if minute + 1 == args.warmup_minutes {
            warmup = Some(WarmUp {
                minutes: args.warmup_minutes,
                executions: usage.executions,
                calls: emulator.counts().values().sum(),
                alert: meter.take(),
                notifications: alerting
                    .as_ref()
                    .map_or(0, |a| a.receiver.requests().len() as u64),
            });
            emulator.reset_counts();
            usage = fresh_usage();
            eprintln!("warm-up done at {:.1} s", wall.elapsed().as_secs_f64());
        }
    }
    if !dlq.receive(0).await?.is_empty() {
        bail!("results were dead-lettered: the run is not valid");
    }

    // Calls counted by the proxy, alerting's DynamoDB metered; records read back from moto.
    usage.alert = meter.take();
    let counts = emulator.counts();
    let warm_notifications = warmup.as_ref().map_or(0, |w| w.notifications) as usize;
    let mut notification_kinds: BTreeMap<String, u64> = BTreeMap::new();
    if let Some(a) = &alerting {
        for r in a.receiver.requests().iter().skip(warm_notifications) {
            let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
            let kind = format!(
                "{} {}",
                body["type"].as_str().unwrap_or("?"),
                body["state"].as_str().unwrap_or("?")
            );
            *notification_kinds.entry(kind).or_default() += 1;
            usage.notifications += 1;
        }
    }
    usage.sqs_send_calls = emulator.count("sqs", "SendMessageBatch");
    usage.sqs_receive_calls = emulator.count("sqs", "ReceiveMessage");
    usage.sqs_delete_calls = emulator.count("sqs", "DeleteMessageBatch");
    usage.sqs_message_bytes = emulator.sqs_message_bytes();
    // The probe regions' config reads only: the home region's alerting calls are apart.
    usage.dynamodb_queries = counts
        .iter()
        .filter(|((region, service, op), _)| {
            region != HOME && service == "dynamodb" && op == "Query"
        })
        .map(|(_, n)| n)
        .sum();
    usage.timestream_calls = emulator.count("timestream", "WriteRecords");
    // Every alerting call the proxy saw must have been metered (none left unpriced).
    for op in ALERT_OPS {
        let seen = counts
            .get(&(HOME.to_string(), "dynamodb".to_string(), op.to_string()))
            .copied()
            .unwrap_or(0);
        let metered = usage.alert.calls.get(op).copied().unwrap_or(0);
        if seen > metered {
            bail!("{seen} home DynamoDB {op} calls reached the emulator but only {metered} were metered: the cost would be understated");
        }
    }
    if !usage.alert.unpriced.is_empty() {
        bail!(
            "home DynamoDB calls the model does not price: {:?}",
            usage.alert.unpriced
        );
    }
    let rss = rss_high_water();
    let records = emulator.timestream_records().await?;
    let warm_executions = warmup.as_ref().map_or(0, |w| w.executions);
    if records.len() as u64 != usage.executions + warm_executions {
        bail!(
            "failed to store every result: {} executions ({warm_executions} of them warming up), {} records in Timestream",
            usage.executions + warm_executions,
            records.len()
        );
    }
    // The measured minutes' records (the warm-up's are scheduled before them).
    let measured_from = START_MS + i64::from(args.warmup_minutes) * 60_000;
    let measured: Vec<&serde_json::Value> = records
        .iter()
        .map(|(_, r)| r)
        .filter(|r| {
            r["Time"]
                .as_str()
                .and_then(|t| t.parse::<i64>().ok())
                .is_some_and(|t| t >= measured_from)
        })
        .collect();
    usage.timestream_records = measured.len() as u64;
    usage.timestream_record_bytes = measured.iter().map(|r| record_bytes(r)).sum();
    if usage.timestream_records != usage.executions {
        bail!(
            "failed to store every result: {} executions in the measured minutes, {} records scheduled in them in Timestream",
            usage.executions,
            usage.timestream_records
        );
    }
    let failing_ids: BTreeSet<String> = checks.iter().take(failing).map(|c| c.id.clone()).collect();
    let failing_executions = checks
        .iter()
        .take(failing)
        .map(|c| {
            (args.warmup_minutes..args.warmup_minutes + args.minutes)
                .map(|m| {
                    executions_in_trigger(&c.id, c.interval, START_MS + i64::from(m) * 60_000).len()
                        as u64
                })
                .sum::<u64>()
        })
        .sum::<u64>()
        * PROBE_REGIONS.len() as u64;
    let run = RunInfo {
        rules_per_region: regions
            .iter()
            .map(|r| (r.name, r.rules.len(), r.rules.iter().map(Vec::len).sum()))
            .collect(),
        setup_calls,
        wall,
        rss,
        counts,
        alerting: alerting.as_ref().map(|_| AlertRun {
            failing: failing_ids,
            failing_executions,
            notification_kinds,
        }),
        warmup,
    };
    // A missed target fails the run, so a script or CI step cannot pass over it.
    let met = print_report(&args, &prices, &usage, &run);
    Ok(if met {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The home region's alerting: its checks table (the global table's replica) and alert
/// table with an alerting document that routes every check to one webhook, on a
/// metered client; the writer's, notifier's and sweeper's handlers.
async fn setup_alerting(
    emulator: &Emulator,
    meter: &MeterInterceptor,
    checks: &[Check],
    clock: Arc<MinuteClock>,
    batch_size: usize,
) -> anyhow::Result<Alerting> {
    let sdk = emulator.target(HOME).load().await;
    // moto's TransactWriteItems fails now and then with a 500 under concurrent calls (it
    // copies the table to roll back, while another thread changes it): retried here
    // until it passes; those answers are counted, not billed.
    let retries = RetryPartition::custom("webmon-bench-home")
        .token_bucket(TokenBucket::unlimited())
        .build();
    let ddb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk)
            .interceptor(meter.clone())
            .retry_config(RetryConfig::standard().with_max_attempts(20))
            .retry_partition(retries)
            .build(),
    );
    let home_checks = DynamoCheckRepository::new(ddb.clone(), DEFAULT_TABLE);
    home_checks.ensure_table().await?;
    put_checks(&home_checks, checks).await?;
    let table = AlertTable::new(ddb.clone(), ALERT_TABLE);
    table.ensure_table().await?;
    let receiver = Recorder::start(Vec::new());
    table
        .put_document(&AlertDocument {
            channels: vec![ChannelConfig::Webhook {
                id: "hook".into(),
                url: receiver.url(),
                secret: WEBHOOK_SECRET.into(),
            }],
            alert_defaults: RawAlertPolicy {
                channels: Some(vec!["hook".into()]),
                ..Default::default()
            },
            ..Default::default()
        })
        .await?;
    let regions: Vec<String> = PROBE_REGIONS.iter().map(|r| r.to_string()).collect();
    let evaluator = || {
        AlertEvaluator::new(
            table.clone(),
            DynamoCheckRepository::new(ddb.clone(), DEFAULT_TABLE),
            regions.clone(),
        )
        .with_clock(clock.clone() as Arc<dyn Clock>)
    };
    // No `${secret:...}` in the channel: the prefix is never used.
    let notifier = || {
        Notifier::new(
            table.clone(),
            AwsChannelClients::new(&sdk, "webmon/bench/channel/"),
            DeliverySettings::default(),
        )
    };
    Ok(Alerting {
        writer: evaluator(),
        sweeper: evaluator(),
        notifier: notifier(),
        sweeper_notifier: notifier(),
        stream: StreamReader::open(&emulator.target(HOME), ALERT_TABLE).await,
        receiver,
        batch_size: batch_size.max(1),
    })
}

/// Plays the notifier's event source mapping: the stream records written since the
/// last call (reading them is free for a Lambda trigger), filtered as the mapping's
/// filter does (inserted `NOTIFY#` items only), in batches of `notifierBatchSize`,
/// each one notifier invocation (timed).
async fn notify(
    emulator: &Emulator,
    alerting: &mut Alerting,
    clock: &dyn Clock,
    usage: &mut Usage,
    granularity: f64,
) -> anyhow::Result<()> {
    let event = alerting.stream.next_event().await;
    let records: Vec<_> = event
        .records
        .into_iter()
        .filter(|r| {
            r.event_name == "INSERT"
                && matches!(
                    r.change.keys.get("pk"),
                    Some(serde_dynamo::AttributeValue::S(pk)) if pk.starts_with("NOTIFY#")
                )
        })
        .collect();
    for batch in records.chunks(alerting.batch_size) {
        let mut event = StreamEvent::default();
        event.records = batch.to_vec();
        emulator.record(HOME, "lambda", "Invoke");
        let started = Instant::now();
        let (response, _) = alerting.notifier.handle_stream(event, clock).await;
        usage.notifier.add(ms(started), 0.0, granularity);
        if !response.batch_item_failures.is_empty() {
            bail!(
                "the notifier failed {} stream records",
                response.batch_item_failures.len()
            );
        }
    }
    Ok(())
}

/// One sweeper invocation (timed), as its `rate(1 minute)` rule fires it.
async fn sweep(
    emulator: &Emulator,
    alerting: &Alerting,
    usage: &mut Usage,
    granularity: f64,
) -> anyhow::Result<()> {
    emulator.record(HOME, "lambda", "Invoke");
    let started = Instant::now();
    let swept = webmon_aws::alerting::sweep::sweep(&alerting.sweeper, &alerting.sweeper_notifier)
        .await
        .map_err(|e| anyhow!("the sweeper failed: {e}"))?;
    usage.sweeper.add(ms(started), 0.0, granularity);
    if !swept.failed.is_empty() {
        bail!("the sweeper failed to evaluate {:?}", swept.failed);
    }
    Ok(())
}

/// Plays Lambda's SQS poller for the writer.
///
/// A deployed probe runs its minute in real time and streams its results (a message
/// every second, or every 100 results); the poller hands the writer what arrived within
/// its batching window (`writerBatchingWindowSeconds`), at most `writerBatchSize`
/// messages. Here every execution of the minute ran at once, so the poller receives
/// every message of the minute, orders the results by scheduled time and cuts them into
/// the batches a deployed poller would have made: a window's results, at most
/// `writerBatchSize` x 100. Each batch is one writer invocation (timed; its messages
/// re-encoded as the probe encodes them), which evaluates alerts (with `evaluator`) at
/// the time it would run: its newest result plus the probe's flush interval. The
/// received messages are then deleted, ten per call.
struct Poller<'a> {
    emulator: &'a Emulator,
    queue: &'a SqsResultQueue,
    store: &'a TimestreamStore,
    evaluator: Option<&'a AlertEvaluator<DynamoCheckRepository>>,
    clock: &'a MinuteClock,
    batch_size: usize,
    window_ms: i64,
    granularity: f64,
}

impl Poller<'_> {
    async fn drain(&self, usage: &mut Usage) -> anyhow::Result<()> {
        use webmon_aws::service::probe::{FLUSH_EVERY, FLUSH_RESULTS};
        let mut messages: Vec<webmon_aws::sqs::Received> = Vec::new();
        let mut empty = 0;
        while empty < 2 {
            let received = self.queue.receive(0).await?;
            if received.is_empty() {
                empty += 1;
            }
            messages.extend(received);
        }
        let mut results = Vec::new();
        for m in &messages {
            let decoded = webmon_aws::envelope::decode(&m.body)
                .map_err(|e| anyhow!("a results message does not decode: {e}"))?;
            if !decoded.invalid.is_empty() {
                bail!(
                    "a results message holds {} results that do not parse",
                    decoded.invalid.len()
                );
            }
            results.extend(decoded.results);
        }
        results.sort_by(|a, b| {
            (a.scheduled_at_ms, &a.region, &a.check_id).cmp(&(
                b.scheduled_at_ms,
                &b.region,
                &b.check_id,
            ))
        });
        let most = self.batch_size.max(1) * FLUSH_RESULTS;
        let mut now = i64::MIN;
        let mut start = 0;
        let mut invocation = 0;
        while start < results.len() {
            let closes = results[start]
                .scheduled_at_ms
                .saturating_add(self.window_ms.max(1));
            let mut end = start + 1;
            while end < results.len() && end - start < most && results[end].scheduled_at_ms < closes
            {
                end += 1;
            }
            let batch = &results[start..end];
            let bodies =
                webmon_aws::envelope::encode(batch, webmon_aws::envelope::MAX_MESSAGE_BYTES)?;
            let messages: Vec<webmon_aws::sqs::Received> = bodies
                .into_iter()
                .enumerate()
                .map(|(j, body)| webmon_aws::sqs::Received {
                    message_id: format!("batch-{invocation}-{j}"),
                    receipt_handle: String::new(),
                    body,
                })
                .collect();
            // A result is sent within the flush interval of its execution; never back in time.
            let newest = batch.iter().map(|r| r.scheduled_at_ms).max().unwrap_or(now);
            now = now.max(newest.saturating_add(FLUSH_EVERY.as_millis() as i64));
            self.clock.set_now(now);
            let event = webmon_aws::service::write::poll::sqs_event(&messages);
            self.emulator.record(HOME, "lambda", "Invoke");
            let started = Instant::now();
            let (response, summary) = match self.evaluator {
                Some(e) => webmon_aws::service::write::handle_then(self.store, e, event).await,
                None => webmon_aws::service::write::handle(self.store, event).await,
            };
            usage.writer.add(ms(started), 0.0, self.granularity);
            if !response.batch_item_failures.is_empty() {
                bail!(
                    "the writer failed {} messages ({} of them in alert evaluation)",
                    response.batch_item_failures.len(),
                    summary.alert_failed_messages
                );
            }
            start = end;
            invocation += 1;
        }
        self.queue
            .delete(&messages.iter().collect::<Vec<_>>())
            .await?;
        Ok(())
    }
}

async fn setup_region(
    emulator: &Emulator,
    name: &'static str,
    checks: &[Check],
) -> anyhow::Result<Region> {
    let config = emulator.target(name).load().await;
    let table = DynamoCheckRepository::new(aws_sdk_dynamodb::Client::new(&config), DEFAULT_TABLE);
    table.ensure_table().await?;
    put_checks(&table, checks).await?;
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

/// Writes the checks to a table, eight writers at once.
async fn put_checks(table: &DynamoCheckRepository, checks: &[Check]) -> anyhow::Result<()> {
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
    Ok(())
}

/// `n` checks against `url`, intervals taken in turn from `mix`; the first `failing`
/// of them (so they take every interval in turn too) against `failing_url`.
fn make_checks(
    n: usize,
    mix: &[String],
    url: &str,
    failing: usize,
    failing_url: &str,
) -> anyhow::Result<Vec<Check>> {
    (0..n)
        .map(|i| {
            RawCheck {
                id: format!("bench-{i:05}"),
                url: if i < failing { failing_url } else { url }.into(),
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

fn ms(started: Instant) -> f64 {
    started.elapsed().as_secs_f64() * 1000.0
}
