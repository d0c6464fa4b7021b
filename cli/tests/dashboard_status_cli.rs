//! `webmon dashboard --status-public/--status-only` and the check settings `webmon run`
//! and `webmon dashboard --config` give the dashboard, as processes on loopback.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use webmon_core::ports::{Clock, ResultStore, SystemClock};
use webmon_core::result::{ProbeResult, RESULT_VERSION};
use webmon_local::store::SqliteStore;

const CHECKS: &str = "checks:
  - {id: api, url: 'http://127.0.0.1:9/api', interval: 30s, method: HEAD, requests: 2, tags: {public: 'true'}}
  - {id: web, url: 'http://127.0.0.1:9/web', interval: 1m, tags: {public: 'false'}}
";

fn webmon() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_webmon"));
    cmd.env_remove("WEBMON_DB");
    cmd
}

fn get(addr: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (status, body)
}

fn json(addr: &str, path: &str) -> Value {
    let (status, body) = get(addr, path);
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap()
}

/// The address in the first stdout line naming one (`... on http://ADDR/...`).
fn served_addr(child: &mut Child) -> String {
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "no address printed"
        );
        if let Some(rest) = line.split(" on http://").nth(1) {
            return rest.split('/').next().unwrap().to_string();
        }
    }
}

/// Kills the child when dropped, so a failed assertion leaves no process behind.
struct Stop(Child);

impl Drop for Stop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn result(id: &str, at_ms: i64) -> ProbeResult {
    ProbeResult {
        version: RESULT_VERSION,
        region: "local".into(),
        check_id: id.into(),
        url: format!("http://127.0.0.1:9/{id}"),
        scheduled_at_ms: at_ms,
        started_at_ms: at_ms,
        available: true,
        status_code: Some(200),
        error_class: None,
        error_message: None,
        requests: 1,
        latency: Default::default(),
        cold: Default::default(),
        warm_ttfb_ms: Some(1.0),
        bytes: 2,
        remote_ip: Some("127.0.0.1".into()),
        http_version: Some("HTTP/1.1".into()),
        tls_cert_days_left: None,
        redirects: 0,
        attempts: 1,
        tags: Default::default(),
        probe: Default::default(),
    }
}

#[test]
fn status_only_serves_the_public_checks_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let (config, db) = (dir.path().join("checks.yaml"), dir.path().join("webmon.db"));
    std::fs::write(&config, CHECKS).unwrap();
    let now = SystemClock.now_ms();
    let store = SqliteStore::open(&db).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(store.write(&[result("api", now - 1_000), result("web", now - 1_000)]))
        .unwrap();
    let mut child = webmon()
        .args(["dashboard", "--port", "0", "--status-only"])
        .args(["--status-public", "public=true"])
        .args([
            "--db",
            db.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let addr = served_addr(&mut child);
    let _stop = Stop(child);
    let status = json(&addr, "/api/status");
    let ids: Vec<&str> = status["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["check_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["api"], "{status}");
    assert_eq!(status["checks"][0]["state"], "up");
    assert_eq!(get(&addr, "/status").0, 200);
    assert_eq!(get(&addr, "/").0, 404);
    assert_eq!(get(&addr, "/api/overview").0, 404);
}

#[test]
fn status_public_by_tag_needs_the_checks_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("webmon.db");
    drop(SqliteStore::open(&db).unwrap());
    let out = webmon()
        .args([
            "dashboard",
            "--port",
            "0",
            "--status-public",
            "api,public=true",
        ])
        .args(["--db", db.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--status-public with KEY=VALUE") && stderr.contains("--config"),
        "{stderr}"
    );
}

#[test]
fn run_and_dashboard_show_check_settings() {
    let dir = tempfile::tempdir().unwrap();
    let (config, db) = (dir.path().join("checks.yaml"), dir.path().join("webmon.db"));
    std::fs::write(&config, CHECKS).unwrap();
    let mut child = webmon()
        .args(["run", "--port", "0", "--duration", "60s"])
        .args([
            "--db",
            db.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let addr = served_addr(&mut child);
    let stop = Stop(child);
    // The dashboard listens before the runner has read the checks file: wait for it.
    let started = std::time::Instant::now();
    let api = loop {
        let api = json(&addr, "/api/checks/api/settings");
        if api["configured"] == true || started.elapsed() > Duration::from_secs(20) {
            break api;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(api["configured"], true, "{api}");
    assert_eq!(api["url"], "http://127.0.0.1:9/api");
    assert_eq!(api["method"], "HEAD");
    assert_eq!(api["requests"], 2);
    assert_eq!(api["interval_ms"], 30_000);
    assert_eq!(api["tags"], serde_json::json!({"public": "true"}));
    let overview = json(&addr, "/api/overview");
    let web = overview["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check_id"] == "web")
        .unwrap_or_else(|| panic!("web missing: {overview}"))
        .clone();
    assert_eq!(web["tags"], serde_json::json!({"public": "false"}));
    drop(stop);

    // `webmon dashboard --config` reads the same settings.
    let mut child = webmon()
        .args(["dashboard", "--port", "0"])
        .args([
            "--db",
            db.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let addr = served_addr(&mut child);
    let _stop = Stop(child);
    let web = json(&addr, "/api/checks/web/settings");
    assert_eq!(web["interval_ms"], 60_000, "{web}");
    assert_eq!(web["method"], "GET");
    assert_eq!(
        json(&addr, "/api/checks/nosuch/settings")["configured"],
        false
    );
}
