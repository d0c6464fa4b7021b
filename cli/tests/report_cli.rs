//! `webmon report` as a process: seeded local results with exact figures in JSON, CSV
//! and the by-region table; clear errors and non-zero exits for a bad window, a missing
//! store and an empty window; and `--source timestream` for the report and the
//! dashboard on moto's server with canned query results.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use webmon_aws::timestream::Rows;
use webmon_core::result::{LatencyStats, Phases, ProbeHealth, ProbeResult, RESULT_VERSION};
use webmon_local::store::SqliteStore;
use webmon_testkit::canned;
use webmon_testkit::emulator::Emulator;
use webmon_testkit::process::output_within;

const WEBMON: &str = env!("CARGO_BIN_EXE_webmon");

/// Runs `webmon` to completion, killing it past a minute.
fn run(args: &[&str]) -> Output {
    let mut command = Command::new(WEBMON);
    command
        .args(args)
        .env_remove("WEBMON_AWS_ENDPOINT_URL")
        .env_remove("WEBMON_DB");
    output_within(
        command,
        Duration::from_secs(60),
        &format!("webmon {args:?}"),
    )
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
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

#[test]
fn local_report_json_csv_and_by_region() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("webmon.db");
    let store = SqliteStore::open(&db).unwrap();
    let now = now_ms();
    // Ten minutes of executions: eu-west-1 at 1..=20 ms, us-east-1 at 3 x that. One
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
    store.write_blocking(&batch).unwrap();
    drop(store);
    let db = db.to_str().unwrap();

    let out = run(&["report", "--db", db, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let eu = &doc["rows"][0];
    assert_eq!(eu["region"], "eu-west-1");
    assert_eq!(eu["samples"], 20);
    assert_eq!(
        [
            &eu["latency_p50_ms"],
            &eu["latency_p95_ms"],
            &eu["latency_p99_ms"],
            &eu["latency_avg_ms"]
        ],
        [10.0, 19.0, 20.0, 10.5]
    );
    assert_eq!(
        [
            &eu["dns_p50_ms"],
            &eu["tls_p50_ms"],
            &eu["cold_ttfb_p50_ms"]
        ],
        [1.0, 3.0, 5.0]
    );
    assert!(doc["source"].as_str().unwrap().contains("SQLite store"));

    let out = run(&["report", "--db", db, "--by-region", "api"]);
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

    let out = run(&[
        "report",
        "--db",
        db,
        "--check",
        "api",
        "--by-region",
        "--csv",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let csv = text(&out.stdout);
    assert!(
        csv.lines()
            .nth(2)
            .unwrap()
            .starts_with("api,us-east-1,slowest,3.00,20,100.00,30.00,57.00,60.00"),
        "{csv}"
    );

    let out = run(&[
        "report",
        "--db",
        db,
        "--by-region",
        "api",
        "--json",
        "--since",
        "3h",
    ]);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["by_region"]["fastest"], "eu-west-1");
    assert_eq!(doc["by_region"]["regions"][0]["samples"], 21);

    // Errors: a bad window, --by-region without a check, a check without results, a
    // missing store. Each names the thing and exits non-zero.
    let out = run(&["report", "--db", db, "--since", "banana"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("\"banana\" is not a duration like 15m, 1h or 7d"),
        "{}",
        text(&out.stderr)
    );
    let out = run(&["report", "--db", db, "--by-region"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("--by-region: it needs a check"));
    let out = run(&["report", "--db", db, "--check", "nope", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no results for check \"nope\" in the last 1h"),
        "{}",
        text(&out.stderr)
    );
    let out = run(&["report", "--db", db, "--since", "1s"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("no results in the last 1s"));
    let missing = dir.path().join("nope.db");
    let out = run(&["report", "--db", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("failed to open the result store") && !missing.exists());
}

fn rfc3339(ms: i64) -> String {
    humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(ms as u64)).to_string()
}

#[test]
fn local_report_between_from_and_until() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("webmon.db");
    let store = SqliteStore::open(&db).unwrap();
    // Whole seconds, so the RFC 3339 bounds below are exact.
    let base = (now_ms() - 6 * 3_600_000) / 1000 * 1000;
    // One execution per hour, 1 ms at base, 2 ms an hour later, ... 5 ms 4 h later.
    let batch: Vec<ProbeResult> = (0..5)
        .map(|h| result("eu-west-1", base + h * 3_600_000, (h + 1) as f64))
        .collect();
    store.write_blocking(&batch).unwrap();
    drop(store);
    let db = db.to_str().unwrap();
    let (from, until) = (rfc3339(base + 3_600_000), rfc3339(base + 3 * 3_600_000));

    // Both ends included: the executions at +1 h, +2 h and +3 h, none of the others.
    let out = run(&[
        "report", "--db", db, "--json", "--from", &from, "--until", &until,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (&doc["since_ms"], &doc["until_ms"]),
        (
            &Value::from(base + 3_600_000),
            &Value::from(base + 3 * 3_600_000)
        )
    );
    let row = &doc["rows"][0];
    assert_eq!(
        (
            &row["samples"],
            &row["latency_p50_ms"],
            &row["latency_avg_ms"]
        ),
        (&Value::from(3), &Value::from(3.0), &Value::from(3.0))
    );
    // `--from` alone reaches to now; an offset is read as such.
    let out = run(&["report", "--db", db, "--json", "--from", &from]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["rows"][0]["samples"], 4);
    let offset = humantime::format_rfc3339_seconds(
        UNIX_EPOCH + Duration::from_millis((base + 2 * 3_600_000) as u64),
    )
    .to_string()
    .replace('Z', "+00:00");
    let out = run(&["report", "--db", db, "--json", "--from", &offset]);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["rows"][0]["samples"], 3, "{}", text(&out.stderr));

    // A window with nothing in it names both ends.
    let (empty_from, empty_until) = (rfc3339(base - 7_200_000), rfc3339(base - 3_600_000));
    let out = run(&[
        "report",
        "--db",
        db,
        "--from",
        &empty_from,
        "--until",
        &empty_until,
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "no results in {}Z to {}Z",
            &empty_from[..19],
            &empty_until[..19]
        )),
        "{stderr}"
    );

    // Refused before reading anything, exit 2: backwards, equal ends, not a time,
    // --since with --from, --until without --from.
    let out = run(&["report", "--db", db, "--from", &until, "--until", &from]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "--from ({}Z) must come before --until ({}Z)",
            &until[..19],
            &from[..19]
        )),
        "{stderr}"
    );
    let out = run(&["report", "--db", db, "--from", &from, "--until", &from]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("must come before --until"));
    let out = run(&["report", "--db", db, "--from", "yesterday"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("\"yesterday\" is not an RFC 3339 time"),
        "{}",
        text(&out.stderr)
    );
    let out = run(&["report", "--db", db, "--from", &from, "--since", "2h"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("cannot be used with"),
        "{}",
        text(&out.stderr)
    );
    let out = run(&["report", "--db", db, "--until", &until]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--from"),
        "{}",
        text(&out.stderr)
    );
}

fn rows(columns: &[&str], data: Vec<Vec<&str>>) -> Rows {
    Rows {
        columns: columns.iter().map(|c| c.to_string()).collect(),
        rows: data
            .into_iter()
            .map(|r| r.into_iter().map(|v| Some(v.to_string())).collect())
            .collect(),
    }
}

fn describe() -> Rows {
    let names = [
        "check_id",
        "url",
        "region",
        "measure_name",
        "time",
        "available",
        "status_code",
        "latency_avg_ms",
        "ttfb_ms",
    ];
    rows(
        &["Column", "Type", "Timestream attribute type"],
        names.iter().map(|n| vec![*n, "varchar", "MULTI"]).collect(),
    )
}

// The emulator's proxy runs on the runtime while the test blocks on child processes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timestream_report_and_dashboard_on_moto() {
    let emulator = Emulator::start()
        .await
        .expect("moto_server (pip install 'moto[server]')");
    let (moto, endpoint) = (emulator.moto_url(), emulator.endpoint_url());
    let region = "eu-west-1";
    let aws = [
        "--source",
        "timestream",
        "--region",
        region,
        "--endpoint-url",
        &endpoint,
    ];

    // No DESCRIBE answer: the table does not exist.
    let mut args = vec!["report", "--table", "missing"];
    args.extend(aws);
    let out = run(&args);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("\"webmon\".\"missing\": it does not exist"),
        "{stderr}"
    );

    canned::register(
        &moto,
        region,
        "DESCRIBE \"webmon\".\"results\"",
        // Moto serves registered answers once each: one per report run below, and one
        // for the dashboard (which reuses it for a while).
        vec![
            canned::page(&describe(), None),
            canned::page(&describe(), None),
            canned::page(&describe(), None),
        ],
    )
    .await
    .unwrap();
    // The table exists but the window is empty (moto has no answer for the query).
    let mut args = vec!["report"];
    args.extend(aws);
    let out = run(&args);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr)
        .contains("no results in the last 1h in the Timestream table \"webmon\".\"results\""));

    // The SELECT's window depends on the clock of the process, so its answer is
    // registered for any query text (the exact text and the pagination are checked in
    // webmon-aws's tests; moto repeats an answer given for any text, so one page here).
    let cols = [
        "check_id",
        "region",
        "at_ms",
        "available",
        "status_code",
        "latency_avg_ms",
        "ttfb_ms",
    ];
    let latencies = ["1", "2", "3", "4", "5", "6"];
    let executions = rows(
        &cols,
        latencies
            .iter()
            .map(|ms| vec!["api", "us-west-2", "1750000000000", "true", "200", *ms, "1"])
            .collect(),
    );
    canned::register(&moto, region, "null", vec![canned::page(&executions, None)])
        .await
        .unwrap();
    let mut args = vec!["report", "--json"];
    args.extend(aws);
    let out = run(&args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let row = &doc["rows"][0];
    assert_eq!(
        (row["samples"].as_u64(), row["latency_p50_ms"].as_f64()),
        (Some(6), Some(3.0))
    );

    // The dashboard serves the same table through the same adapter.
    let overview = rows(
        &[
            "check_id",
            "region",
            "url",
            "samples",
            "passed",
            "p50_ms",
            "p95_ms",
            "last_at_ms",
            "last_available",
            "last_status_code",
            "last_error_class",
            "last_error_message",
        ],
        vec![vec![
            "shop",
            "us-west-2",
            "https://shop.example.test/",
            "10",
            "10",
            "4.0",
            "9.0",
            "1750000000000",
            "true",
            "200",
            "",
            "",
        ]],
    );
    canned::register(&moto, region, "null", vec![canned::page(&overview, None)])
        .await
        .unwrap();
    let mut child = Command::new(WEBMON)
        .args(["dashboard", "--port", "0"])
        .args(aws)
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
            .unwrap()
            .to_string();
        let mut stream = std::net::TcpStream::connect(&addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        write!(
            stream,
            "GET /api/overview?since=1h HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(
            answer.contains("\"check_id\":\"shop\"") && answer.contains("\"p95_ms\":9.0"),
            "{answer}"
        );
    });
    child.kill().unwrap();
    child.wait().unwrap();
    outcome.unwrap();
}
