//! The `webmon` binary on one machine: validate, check, run (with the demo target),
//! report, config reload and Ctrl-C. Every target is a server on 127.0.0.1.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use webmon_core::check::Interval;
use webmon_core::ports::{Clock, SystemClock};
use webmon_core::schedule::next_run_at_or_after;
use webmon_demo_target::TargetServer;
use webmon_local::store::SqliteStore;

fn webmon() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_webmon"));
    cmd.env("RUST_LOG", "info");
    cmd
}

fn run(args: &[&str]) -> Output {
    webmon().args(args).output().expect("webmon runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An id with `prefix` whose next 10 s run is between `lo` and `hi` ms from now.
fn id_due_within(prefix: &str, lo: i64, hi: i64) -> (String, i64) {
    let interval = Interval::parse("10s").unwrap();
    let now = SystemClock.now_ms();
    (0..10_000)
        .map(|n| format!("{prefix}-{n}"))
        .map(|id| {
            let due = next_run_at_or_after(&id, interval, now);
            (id, due)
        })
        .find(|(_, due)| (now + lo..now + hi).contains(due))
        .expect("some id is due in the window")
}

fn check_yaml(id: &str, url: &str, interval: &str) -> String {
    format!("  - {{id: {id}, url: '{url}', interval: {interval}, timeout: 3s, requests: 2, allow_private: true}}\n")
}

#[test]
fn validate_lists_every_error_and_counts_valid_checks() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("checks.yaml");
    let mut yaml = String::from("checks:\n");
    yaml += &check_yaml("good-1", "http://127.0.0.1:8089/ok", "1m");
    yaml += &check_yaml("bad-interval", "http://127.0.0.1:8089/ok", "45s");
    yaml += &check_yaml("good-2", "http://127.0.0.1:8089/json", "30s");
    yaml += "  - {id: bad-url, url: 'ftp://x'}\n  - {id: typo, url: 'http://127.0.0.1/', intervall: 1m}\n";
    std::fs::write(&file, yaml).unwrap();

    let out = run(&["validate", file.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(r#"check "bad-interval": field `interval` = "45s""#),
        "{stdout}"
    );
    assert!(
        stdout.contains(r#"check "bad-url": field `url` = "ftp://x""#),
        "{stdout}"
    );
    assert!(
        stdout.contains(r#"check "typo": field `intervall`"#),
        "{stdout}"
    );
    assert!(
        stdout.contains("2 checks, 3 invalid items (3 errors)"),
        "{stdout}"
    );

    let out = run(&["validate", "--json", file.to_str().unwrap()]);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["valid"], 2);
    assert_eq!(doc["errors"].as_array().unwrap().len(), 3);
    assert_eq!(doc["errors"][0]["check_id"], "bad-interval");
    assert_eq!(doc["errors"][0]["field"], "interval");

    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/checks.yaml");
    let out = run(&["validate", example.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains("0 invalid items"),
        "{}",
        text(&out.stdout)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_probes_a_local_target() {
    let target = TargetServer::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let (ok, status, blocked) = (
        target.url("/json"),
        target.url("/status/500"),
        target.url("/ok"),
    );
    let outputs = tokio::task::spawn_blocking(move || {
        [
            run(&[
                "check",
                &ok,
                "--json",
                "--allow-private",
                "--requests",
                "3",
                "--timeout",
                "2s",
            ]),
            run(&["check", &status, "--allow-private", "--requests", "1"]),
            run(&["check", &blocked, "--json"]),
        ]
    })
    .await
    .unwrap();

    let [ok, status, blocked] = outputs;
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stderr));
    let r: Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(r["available"], true);
    assert_eq!(r["status_code"], 200);
    assert_eq!(r["requests"], 3);
    assert_eq!(r["region"], "local");
    assert_eq!(r["remote_ip"], "127.0.0.1");
    assert!(r["warm_ttfb_ms"].as_f64().is_some());

    assert_eq!(status.status.code(), Some(1));
    let table = text(&status.stdout);
    assert!(
        table.contains("available    NO") && table.contains("http_status"),
        "{table}"
    );

    // Loopback is refused unless asked for.
    assert_eq!(blocked.status.code(), Some(1));
    let r: Value = serde_json::from_slice(&blocked.stdout).unwrap();
    assert_eq!(r["error_class"], "blocked");

    let bad = run(&["check", "http://127.0.0.1/", "--requests", "50"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad.stderr).contains("--requests"));
}

#[test]
fn run_with_demo_target_then_report() {
    let dir = tempfile::tempdir().unwrap();
    let (config, db) = (dir.path().join("checks.yaml"), dir.path().join("webmon.db"));
    let port = free_port();
    let (home, _) = id_due_within("home", 1_000, 3_500);
    let (api, _) = id_due_within("api", 1_000, 3_500);
    let mut yaml = String::from("checks:\n");
    yaml += &check_yaml(&home, &format!("http://127.0.0.1:{port}/ok"), "10s");
    yaml += &check_yaml(&api, &format!("http://127.0.0.1:{port}/json"), "10s");
    std::fs::write(&config, yaml).unwrap();

    let out = run(&[
        "run",
        "--config",
        config.to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
        "--demo-target",
        &format!("127.0.0.1:{port}"),
        "--duration",
        "6s",
        "--no-ui",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    let out = run(&[
        "report",
        "--db",
        db.to_str().unwrap(),
        "--json",
        "--since",
        "10m",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = doc["rows"].as_array().unwrap();
    let ids: Vec<&str> = rows
        .iter()
        .map(|r| r["check_id"].as_str().unwrap())
        .collect();
    let mut expected = vec![api.as_str(), home.as_str()];
    expected.sort();
    assert_eq!(ids, expected);
    for row in rows {
        assert_eq!(row["region"], "local");
        assert!(row["samples"].as_u64().unwrap() >= 1);
        assert_eq!(row["availability_pct"], 100.0);
        assert_eq!(row["last_status"], 200);
        assert!(row["latency_p99_ms"].as_f64().unwrap() > 0.0);
    }

    let csv = text(&run(&["report", "--db", db.to_str().unwrap(), "--csv"]).stdout);
    assert!(
        csv.starts_with("check,region,samples,avail_pct,p50_ms,p95_ms,p99_ms"),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), 3);
    let table = text(&run(&["report", "--db", db.to_str().unwrap()]).stdout);
    assert!(table.contains(&home) && table.contains("100.00"), "{table}");

    let missing = run(&[
        "report",
        "--db",
        dir.path().join("nope.db").to_str().unwrap(),
    ]);
    assert_ne!(missing.status.code(), Some(0));
    assert!(text(&missing.stderr).contains("failed to open the result store"));
}

/// Reload with an invalid edit keeps the previous version; Ctrl-C then waits for the
/// probe in flight and stores it before exiting 0.
#[test]
fn bad_reload_keeps_running_and_sigint_drains() {
    let dir = tempfile::tempdir().unwrap();
    let (config, db) = (dir.path().join("checks.yaml"), dir.path().join("webmon.db"));
    let port = free_port();
    // Due 6-8 s from now: the immediate first run at start does not skip it.
    let (slow, due) = id_due_within("slow", 6_000, 8_000);
    let url = format!("http://127.0.0.1:{port}/delay/2000");
    std::fs::write(
        &config,
        format!("checks:\n{}", check_yaml(&slow, &url, "10s")),
    )
    .unwrap();

    let mut child = webmon()
        .args([
            "--log-json",
            "run",
            "--config",
            config.to_str().unwrap(),
            "--db",
            db.to_str().unwrap(),
        ])
        .args(["--demo-target", &format!("127.0.0.1:{port}"), "--no-ui"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    std::thread::sleep(Duration::from_millis(1_000));
    // An invalid edit of the running check: logged, and the old version keeps running.
    std::fs::write(
        &config,
        format!("checks:\n{}", check_yaml(&slow, &url, "45s")),
    )
    .unwrap();

    // Interrupt while the probe is waiting for its 2 s answer.
    let stop_at = due + 1_000;
    std::thread::sleep(Duration::from_millis(
        (stop_at - SystemClock.now_ms()).max(0) as u64,
    ));
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    assert!(kill
        .expect("`kill` is needed (apt-get install procps)")
        .success());

    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "webmon run did not stop"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(status.code(), Some(0), "{stderr}");

    let logs: Vec<Value> = stderr
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let invalid = logs
        .iter()
        .find(|l| l["fields"]["message"] == "invalid check")
        .unwrap_or_else(|| panic!("the invalid edit is logged: {stderr}"));
    assert_eq!(invalid["fields"]["check_id"], slow.as_str());
    assert_eq!(invalid["fields"]["field"], "interval");
    assert_eq!(invalid["fields"]["value"], "45s");
    assert!(
        logs.iter()
            .any(|l| l["fields"]["message"] == "interrupted; draining (Ctrl-C again to stop now)"),
        "{stderr}"
    );

    let results = tokio::runtime::Runtime::new().unwrap().block_on(async {
        SqliteStore::open(&db)
            .unwrap()
            .results_since(0, Some(&slow))
            .await
            .unwrap()
    });
    assert_eq!(
        results.len(),
        2,
        "the run at start and the probe in flight were stored: {stderr}"
    );
    let last = results
        .iter()
        .find(|r| r.scheduled_at_ms == due)
        .unwrap_or_else(|| panic!("the previous version (10 s) kept its schedule: {results:?}"));
    assert!(last.available && last.latency.avg_ms >= 2000.0, "{last:?}");
}
