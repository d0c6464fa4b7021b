//! The whole pipeline on one moto server: two probe regions and a home region.
//!
//! Checks are written to each probe region's table (moto does not replicate global
//! tables), each region's config Lambda handles the stream batch, each rule's input
//! invokes that region's probe Lambda (targets: a local HTTP server), and the writer
//! drains the home queue into Timestream. The groups of a region share one rule (bin
//! packing), so each region makes one probe invocation for the trigger minute. Every expected result must be stored with
//! the right region and measures, and the counted calls must meet the amortisation
//! targets per check execution.

use webmon_testkit::pipeline as common;

use std::collections::BTreeMap;

use webmon_aws::timestream::TimestreamStore;
use webmon_core::probe::{ProbeOptions, Prober};
use webmon_core::schedule::executions_in_trigger;
use webmon_testkit::emulator::Emulator;
use webmon_testkit::TargetServer;

const PROBE_REGIONS: [&str; 2] = ["eu-west-1", "us-east-1"];
const HOME: &str = "eu-central-1";
/// Checks per region; half every 10 s, half every minute.
const CHECKS: usize = 500;
/// A trigger minute in the past, so every execution is due at once.
const MINUTE: i64 = 1_767_261_960_000;

/// A clock at the end of [`MINUTE`].
struct EndOfMinute;

impl webmon_core::ports::Clock for EndOfMinute {
    fn now_ms(&self) -> i64 {
        MINUTE + 59_999
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_probe_regions_and_home_end_to_end() {
    let emulator = Emulator::start().await.expect("emulator");
    let target = TargetServer::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let (queue, dlq) = common::home_queue(&emulator, HOME).await;
    let store = TimestreamStore::new(
        TimestreamStore::client(&emulator.target(HOME))
            .await
            .unwrap(),
        "webmon",
        "results",
    );
    store.ensure_table().await.unwrap();

    let checks: Vec<_> = (0..CHECKS)
        .map(|n| {
            let interval = if n % 2 == 0 { "10s" } else { "1m" };
            // One check probed from eu-west-1 only.
            let regions: &[&str] = if n == 7 { &["eu-west-1"] } else { &[] };
            common::check(&format!("site-{n}"), &target.url("/ok"), interval, regions)
        })
        .collect();

    // Config: each region's table gets every item; its config Lambda sees the stream.
    let mut regions = Vec::new();
    for name in PROBE_REGIONS {
        regions.push(common::configured_region(&emulator, name, &checks).await);
    }

    // Probe: one invocation per rule per region, as EventBridge would.
    emulator.reset_counts();
    let mut expected: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut rules_per_region = Vec::new();
    for region in &regions {
        let time = chrono::DateTime::from_timestamp_millis(MINUTE)
            .unwrap()
            .to_rfc3339();
        let inputs = common::rule_inputs(&region.events, &time).await;
        rules_per_region.push(inputs.len());
        // 250 checks every 10 s (6 rounds) and 250 every minute: 1,750 executions per
        // trigger minute, under one rule's capacity, over 64 groups.
        let names: Vec<&str> = inputs.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["webmon-every-1m-0"], "{}", region.name);
        assert_eq!(inputs[0].1["groups"].as_array().unwrap().len(), 64);
        let prober = Prober::new(ProbeOptions {
            region: region.name.clone(),
            // The targets are on 127.0.0.1: the operator allows private addresses.
            allow_private: true,
            cold_start: true,
            ..Default::default()
        });
        let settings = webmon_aws::service::probe::Settings {
            region: region.name.clone(),
            concurrency: 128,
        };
        for (_, input) in inputs {
            emulator.record(&region.name, "lambda", "Invoke");
            webmon_aws::service::probe::handle(
                &region.table,
                &queue,
                &prober,
                &EndOfMinute,
                &settings,
                input,
            )
            .await
            .unwrap();
        }
        for check in checks.iter().filter(|c| c.runs_in(&region.name)) {
            let runs = executions_in_trigger(&check.id, check.interval, MINUTE).len();
            expected.insert((region.name.clone(), check.id.clone()), runs);
        }
    }

    // Write: the writer drains the home queue (Lambda's poller played here).
    let totals = webmon_aws::service::write::poll::drain(&queue, &store, 2, 1000)
        .await
        .unwrap();
    for _ in 0..totals.invocations {
        emulator.record(HOME, "lambda", "Invoke");
    }
    assert!(
        dlq.receive(0).await.unwrap().is_empty(),
        "nothing dead-lettered"
    );

    // Every expected result is stored, with the right region and measures.
    let records = emulator.timestream_records().await.unwrap();
    let mut seen: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut times: BTreeMap<(String, String), std::collections::BTreeSet<String>> = BTreeMap::new();
    for (table_region, record) in &records {
        assert_eq!(table_region, HOME);
        let dim = |name: &str| {
            record["Dimensions"]
                .as_array()
                .unwrap()
                .iter()
                .find(|d| d["Name"] == name)
                .map(|d| d["Value"].as_str().unwrap().to_string())
        };
        let measure = |name: &str| {
            record["MeasureValues"]
                .as_array()
                .unwrap()
                .iter()
                .find(|m| m["Name"] == name)
                .map(|m| m["Value"].as_str().unwrap().to_string())
        };
        assert_eq!(measure("available").as_deref(), Some("true"), "{record}");
        assert_eq!(measure("status_code").as_deref(), Some("200"));
        assert!(
            measure("latency_avg_ms").is_some()
                && measure("connect_ms").is_some()
                && measure("ttfb_ms").is_some()
        );
        assert_eq!(dim("tag_suite").as_deref(), Some("e2e"));
        *seen
            .entry((dim("region").unwrap(), dim("check_id").unwrap()))
            .or_default() += 1;
        times
            .entry((dim("check_id").unwrap(), dim("region").unwrap()))
            .or_default()
            .insert(record["Time"].as_str().unwrap().to_string());
    }
    // Every check probed by both regions has the same set of scheduled times in each.
    for check in checks.iter().filter(|c| c.id != "site-7") {
        let of = |region: &str| times.get(&(check.id.clone(), region.to_string()));
        assert!(of(PROBE_REGIONS[0]).is_some(), "{}", check.id);
        assert_eq!(of(PROBE_REGIONS[0]), of(PROBE_REGIONS[1]), "{}", check.id);
    }
    assert_eq!(
        seen, expected,
        "every execution of every region is stored once"
    );
    assert!(!seen.contains_key(&("us-east-1".to_string(), "site-7".to_string())));

    // Amortisation per check execution, from the counted calls.
    let executions: usize = expected.values().sum();
    let invocations = emulator.count("lambda", "Invoke") as f64;
    let sqs: f64 = ["SendMessageBatch", "ReceiveMessage", "DeleteMessageBatch"]
        .iter()
        .map(|op| emulator.count("sqs", op) as f64)
        .sum();
    let writes = emulator.count("timestream", "WriteRecords") as f64;
    let per = |n: f64| n / executions as f64;
    println!(
        "executions {executions}, rules per region {rules_per_region:?}, invocations {invocations} ({:.4}/exec), sqs requests {sqs} ({:.4}/exec), WriteRecords {writes} ({:.4}/exec), DynamoDB queries {}",
        per(invocations),
        per(sqs),
        per(writes),
        emulator.count("dynamodb", "Query")
    );
    assert_eq!(rules_per_region, [1, 1]);
    // The documented figures, exactly: one probe invocation per rule and trigger minute,
    // and one writer invocation per SQS batch of up to 10 messages.
    let probe_invocations: usize = rules_per_region.iter().sum();
    let messages = totals.summary.messages;
    assert_eq!(totals.summary.written, executions, "{:?}", totals.summary);
    assert_eq!(
        totals.invocations,
        messages.div_ceil(10),
        "{:?}",
        totals.summary
    );
    assert_eq!(
        emulator.count("lambda", "Invoke") as usize,
        probe_invocations + totals.invocations
    );
    // Results travel many per message, and the probe streams them while it probes: a
    // SendMessageBatch (at most 10 messages) at least every second or every 100
    // results, so each probe invocation makes at least one.
    let sends = emulator.count("sqs", "SendMessageBatch") as usize;
    assert!(sends >= probe_invocations, "{sends} sends");
    assert!(
        messages <= 10 * sends,
        "{messages} messages in {sends} sends"
    );
    assert!(
        per(sends as f64) <= 0.05,
        "SendMessageBatch per execution {}",
        per(sends as f64)
    );
    // The writer's poller: one receive per batch, then the 2 empty polls that end the
    // drain (and this test's one look at the dead-letter queue); one delete per batch.
    assert_eq!(
        emulator.count("sqs", "ReceiveMessage") as usize,
        totals.invocations + 2 + 1
    );
    assert_eq!(
        emulator.count("sqs", "DeleteMessageBatch") as usize,
        totals.invocations
    );
    assert_eq!(sqs as usize, sends + 2 * totals.invocations + 3);
    assert!(per(sqs) <= 0.05, "SQS requests per execution {}", per(sqs));
    // Timestream: records in batches of 100 per writer invocation, so at most one
    // partial batch per invocation beyond the full ones.
    assert!(writes as usize >= executions.div_ceil(100));
    assert!(
        (writes as usize) < executions.div_ceil(100) + totals.invocations,
        "{writes} WriteRecords for {executions} executions in {} writer invocations",
        totals.invocations
    );
    assert!(
        per(writes) <= 0.02,
        "WriteRecords per execution {}",
        per(writes)
    );
}
