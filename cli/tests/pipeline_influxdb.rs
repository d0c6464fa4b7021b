//! The AWS pipeline with the InfluxDB store, end to end: checks written to two probe
//! regions' tables on moto's server, each region's config service reconciling its
//! rules, each rule's input probing local targets, the results travelling through the
//! home SQS queue, and the writer draining it into a real InfluxDB (`influxd` 1.x on
//! 127.0.0.1). Then `webmon report --source influxdb`, the real binary, shows latency by
//! region from what the writer stored.

use std::collections::BTreeMap;
use std::process::Command;

use serde_json::Value;
use webmon_aws::influx::{InfluxConfig, InfluxStore, Token};
use webmon_core::probe::{ProbeOptions, Prober};
use webmon_core::schedule::executions_in_trigger;
use webmon_testkit::emulator::Emulator;
use webmon_testkit::influx_servers::Influxd;
use webmon_testkit::pipeline as aws;
use webmon_testkit::TargetServer;

const PROBE_REGIONS: [&str; 2] = ["eu-west-1", "us-east-1"];
const HOME: &str = "eu-central-1";
const CHECKS: usize = 12;

/// A clock at the end of one trigger minute.
struct EndOf(i64);

impl webmon_core::ports::Clock for EndOf {
    fn now_ms(&self) -> i64 {
        self.0 + 59_999
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_reach_influxdb_and_report_shows_latency_by_region() {
    let emulator = Emulator::start().await.expect("emulator");
    let influxd = Influxd::start().await.unwrap_or_else(|e| panic!("{e}"));
    influxd.create_database("webmon").await.unwrap();
    let target = TargetServer::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let (queue, dlq) = aws::home_queue(&emulator, HOME).await;
    // The trigger minute before last, so every execution is due at once and the results
    // fall inside the report's default one-hour window.
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let minute = (now_ms / 60_000 - 2) * 60_000;

    // Every minute from both regions; one check from eu-west-1 only.
    let checks: Vec<_> = (0..CHECKS)
        .map(|n| {
            let regions: &[&str] = if n == 3 { &["eu-west-1"] } else { &[] };
            aws::check(&format!("shop-{n}"), &target.url("/ok"), "1m", regions)
        })
        .collect();
    let mut expected: BTreeMap<String, usize> = BTreeMap::new();
    for name in PROBE_REGIONS {
        let region = aws::configured_region(&emulator, name, &checks).await;
        let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(minute as u64);
        let time = humantime::format_rfc3339_seconds(at).to_string();
        let inputs = aws::rule_inputs(&region.events, &time).await;
        assert!(!inputs.is_empty(), "{name} has rules");
        let prober = Prober::new(ProbeOptions {
            region: name.to_string(),
            // The targets are on 127.0.0.1: the operator allows private addresses.
            allow_private: true,
            ..Default::default()
        });
        let settings = webmon_aws::service::probe::Settings {
            region: name.to_string(),
            concurrency: 16,
        };
        for (_, input) in inputs {
            webmon_aws::service::probe::handle(
                &region.table,
                &queue,
                &prober,
                &EndOf(minute),
                &settings,
                input,
            )
            .await
            .unwrap();
        }
        let runs: usize = checks
            .iter()
            .filter(|c| c.runs_in(name))
            .map(|c| executions_in_trigger(&c.id, c.interval, minute).len())
            .sum();
        expected.insert(name.to_string(), runs);
    }

    // The writer drains the home queue into InfluxDB (Lambda's poller played here).
    let store = InfluxStore::new(InfluxConfig::v1(&influxd.url(), "webmon", Token::default()))
        .expect("InfluxDB settings");
    let totals = webmon_aws::service::write::poll::drain(&queue, &store, 2, 100)
        .await
        .unwrap();
    let executions: usize = expected.values().sum();
    assert_eq!(executions, 2 * CHECKS - 1);
    assert_eq!(totals.summary.written, executions, "{:?}", totals.summary);
    assert!(
        dlq.receive(0).await.unwrap().is_empty(),
        "nothing dead-lettered"
    );

    // `webmon report --source influxdb`: a row per check and region, every execution
    // counted once.
    let out = Command::new(env!("CARGO_BIN_EXE_webmon"))
        .args(["report", "--json", "--source", "influxdb"])
        .args(["--influx-url", &influxd.url()])
        .env_remove("WEBMON_INFLUX_TOKEN")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut by_region: BTreeMap<String, u64> = BTreeMap::new();
    for row in doc["rows"].as_array().unwrap() {
        let region = row["region"].as_str().unwrap().to_string();
        assert!(row["latency_p50_ms"].as_f64().unwrap() > 0.0, "{row}");
        assert_eq!(row["availability_pct"], 100.0, "{row}");
        *by_region.entry(region).or_default() += row["samples"].as_u64().unwrap();
    }
    let wanted: BTreeMap<String, u64> = expected.into_iter().map(|(r, n)| (r, n as u64)).collect();
    assert_eq!(by_region, wanted, "{doc}");

    // The human table names both regions side by side for one check.
    let out = Command::new(env!("CARGO_BIN_EXE_webmon"))
        .args(["report", "--by-region", "shop-0", "--source", "influxdb"])
        .args(["--influx-url", &influxd.url()])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        table.contains("eu-west-1") && table.contains("us-east-1") && table.contains("p50_ms"),
        "{table}"
    );
}
