//! `webmon report` and `webmon dashboard` with `--source influxdb`, as processes, over
//! a real InfluxDB 1.x (`influxd` on 127.0.0.1) filled through the InfluxDB store: latency
//! by region with exact figures, errors that name the database and never the token.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use webmon_aws::influx::{InfluxConfig, InfluxStore, Token};
use webmon_core::ports::ResultStore;
use webmon_core::result::{LatencyStats, Phases, ProbeHealth, ProbeResult, RESULT_VERSION};
use webmon_testkit::influx_servers::Influxd;
use webmon_testkit::process::output_within;

const WEBMON: &str = env!("CARGO_BIN_EXE_webmon");
const TOKEN: &str = "influx-s3cret-for-report";

/// Runs `webmon` with `env` to completion, killing it past a minute.
fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(WEBMON);
    command.args(args);
    for name in [
        "WEBMON_INFLUX_URL",
        "WEBMON_INFLUX_ORG",
        "WEBMON_INFLUX_BUCKET",
        "WEBMON_INFLUX_TOKEN",
        "WEBMON_AWS_ENDPOINT_URL",
    ] {
        command.env_remove(name);
    }
    command.envs(env.iter().copied());
    output_within(
        command,
        Duration::from_secs(60),
        &format!("webmon {args:?}"),
    )
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn result(region: &str, at: i64, ms: f64) -> ProbeResult {
    ProbeResult {
        version: RESULT_VERSION,
        region: region.into(),
        check_id: "api".into(),
        url: "https://api.example.test/".into(),
        scheduled_at_ms: at,
        started_at_ms: at,
        available: true,
        status_code: Some(200),
        error_class: None,
        error_message: None,
        requests: 1,
        latency: LatencyStats {
            avg_ms: ms,
            min_ms: ms,
            max_ms: ms,
            p50_ms: ms,
        },
        cold: Phases {
            dns_ms: 1.0,
            connect_ms: 2.0,
            tls_ms: 3.0,
            ttfb_ms: ms / 2.0,
            transfer_ms: 0.5,
        },
        warm_ttfb_ms: None,
        bytes: 10,
        remote_ip: None,
        http_version: None,
        tls_cert_days_left: None,
        redirects: 0,
        attempts: 1,
        tags: BTreeMap::new(),
        probe: ProbeHealth::default(),
    }
}

/// `GET path` on the dashboard at `addr`; the whole answer.
fn get(addr: &str, path: &str) -> String {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

// The test blocks on child processes while influxd runs on its own.
/// A running influxd with the database `webmon`, its store, and the time now (ms).
async fn influxd_with_database() -> (Influxd, InfluxStore, i64) {
    let server = Influxd::start().await.unwrap_or_else(|e| panic!("{e}"));
    server.create_database("webmon").await.unwrap();
    let store =
        InfluxStore::new(InfluxConfig::v1(&server.url(), "webmon", Token::default())).unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    (server, store, now)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn influxdb_report_and_dashboard_on_a_real_influxd() {
    let (server, store, now) = influxd_with_database().await;
    let url = server.url();
    // Ten minutes of executions: eu-west-1 at 1..=20 ms, us-east-1 at 3 x that; one
    // older execution (2 h ago) lies outside the default 1 h window.
    let mut batch: Vec<ProbeResult> = (1..=20)
        .flat_map(|i| {
            let at = now - 600_000 + i * 20_000;
            [
                result("eu-west-1", at, i as f64),
                result("us-east-1", at, 3.0 * i as f64),
            ]
        })
        .collect();
    batch.push(result("eu-west-1", now - 7_200_000, 5_000.0));
    store.write(&batch).await.expect("write to influxd");
    let env = [("WEBMON_INFLUX_TOKEN", TOKEN)];
    let source = ["--source", "influxdb", "--influx-url", &url];

    // Latency by region, exact nearest-rank figures.
    let mut args = vec!["report", "--by-region", "api"];
    args.extend(source);
    let out = run(&args, &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    assert!(
        table.contains("eu-west-1 (fastest)") && table.contains("us-east-1 (slowest)"),
        "{table}"
    );
    let p50 = table.lines().find(|l| l.starts_with("p50_ms")).unwrap();
    assert_eq!(
        p50.split_whitespace().collect::<Vec<_>>(),
        ["p50_ms", "10.00", "30.00"]
    );
    let mut args = vec!["report", "--json", "--influx-bucket", "webmon"];
    args.extend(source);
    let out = run(&args, &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let eu = &doc["rows"][0];
    assert_eq!(eu["region"], "eu-west-1");
    assert_eq!(eu["samples"], 20);
    assert_eq!(
        [
            &eu["latency_p50_ms"],
            &eu["latency_p95_ms"],
            &eu["latency_p99_ms"]
        ],
        [10.0, 19.0, 20.0]
    );
    let described = doc["source"].as_str().unwrap();
    assert!(
        described.contains("InfluxDB database webmon"),
        "{described}"
    );

    // Errors name the database or the missing setting, never the token.
    let mut args = vec!["report", "--influx-bucket", "missing"];
    args.extend(source);
    let out = run(&args, &env);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("database not found: missing"), "{stderr}");
    assert!(!stderr.contains(TOKEN), "{stderr}");
    let out = run(&["report", "--source", "influxdb"], &env);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("--influx-url"));
    let out = run(&["report", "--help"], &env);
    assert!(!text(&out.stdout).contains(TOKEN), "help shows no token");

    // The dashboard serves the same database through the same reader.
    let mut child = Command::new(WEBMON)
        .args(["dashboard", "--port", "0"])
        .args(source)
        .env("WEBMON_INFLUX_TOKEN", TOKEN)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let outcome = std::panic::catch_unwind(|| {
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|r| r.split('/').next())
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_string();
        let answer = get(&addr, "/api/overview?since=1h");
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(
            answer.contains("\"check_id\":\"api\"")
                && answer.contains("\"p95_ms\":19.0")
                && answer.contains("\"url\":\"https://api.example.test/\""),
            "{answer}"
        );
        let answer = get(&addr, "/api/checks/api/phases?since=1h");
        assert!(answer.contains("\"region\":\"us-east-1\""), "{answer}");
    });
    child.kill().unwrap();
    child.wait().unwrap();
    outcome.unwrap();
}

/// `webmon alerts replay --source influxdb`: results the AWS pipeline stored in
/// InfluxDB, replayed through a checks file's policy with every region found in them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_replay_reads_influxdb() {
    let (server, store, now) = influxd_with_database().await;
    let url = server.url();
    // Twenty rounds 20 s apart; eu-west-1 fails rounds 5 to 9, us-east-1 never.
    let batch: Vec<ProbeResult> = (1..=20)
        .flat_map(|i| {
            let at = now - 600_000 + i * 20_000;
            let mut eu = result("eu-west-1", at, 10.0);
            if (5..=9).contains(&i) {
                eu.available = false;
                eu.status_code = Some(503);
                eu.error_class = Some(webmon_core::result::ErrorClass::HttpStatus);
                eu.error_message = Some("status 503".into());
            }
            [eu, result("us-east-1", at, 30.0)]
        })
        .collect();
    store.write(&batch).await.expect("write to influxd");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("checks.yaml");
    std::fs::write(
        &config,
        "alert_defaults: {failure_threshold: 2, success_threshold: 2, settle: 0s}\n\
         checks:\n  - {id: api, url: 'https://api.example.test/', interval: 20s}\n",
    )
    .unwrap();
    let out = run(
        &[
            "alerts",
            "replay",
            "--since",
            "1h",
            "--config",
            config.to_str().unwrap(),
            "--source",
            "influxdb",
            "--influx-url",
            &url,
            "--json",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["results"], 40, "{doc}");
    let incidents = doc["incidents"].as_array().unwrap();
    assert_eq!(incidents.len(), 1, "{doc}");
    assert_eq!(incidents[0]["check_id"], "api");
    assert_eq!(
        incidents[0]["worst"], "REGIONAL",
        "one region of two failed"
    );
    assert_eq!(incidents[0]["resolved"], true);
}
