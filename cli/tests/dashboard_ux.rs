//! The dashboard as `webmon run` and `webmon dashboard` serve it: configured checks
//! that have not run yet are pending, a check without a fresh result is stale,
//! cross-site requests are refused, and the overview is read once per 2 s.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use webmon_core::ports::{Clock, ResultStore, SystemClock};
use webmon_core::result::{ProbeResult, RESULT_VERSION};
use webmon_local::store::SqliteStore;

fn webmon() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_webmon"));
    cmd.env("RUST_LOG", "info").env_remove("WEBMON_DB");
    cmd
}

fn get(addr: &str, path: &str, extra: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{extra}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (status, body)
}

fn overview(addr: &str) -> Value {
    let (status, body) = get(addr, "/api/overview?since=1h", "");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

fn state_of(doc: &Value, id: &str) -> String {
    doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check_id"] == id)
        .unwrap_or_else(|| panic!("{id} missing: {doc}"))["state"]
        .as_str()
        .unwrap()
        .to_string()
}

fn dashboard_addr(child: &mut Child) -> String {
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "no dashboard address printed"
        );
        if let Some(rest) = line.split("webmon dashboard on http://").nth(1) {
            return rest.split('/').next().unwrap().to_string();
        }
    }
}

struct Stop(Child);

impl Drop for Stop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn run_shows_pending_checks_and_refuses_cross_site_requests() {
    let dir = tempfile::tempdir().unwrap();
    let (config, db) = (dir.path().join("checks.yaml"), dir.path().join("webmon.db"));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::write(
        &config,
        format!("checks:\n  - {{id: slow-one, url: 'http://127.0.0.1:{port}/delay/4000', interval: 1m, timeout: 10s, requests: 1}}\n"),
    )
    .unwrap();
    let mut child = webmon()
        .args([
            "run",
            "--config",
            config.to_str().unwrap(),
            "--db",
            db.to_str().unwrap(),
        ])
        .args(["--demo-target", &format!("127.0.0.1:{port}"), "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let addr = dashboard_addr(&mut child);
    let _stop = Stop(child);
    // The check is in flight for 4 s: configured, no result yet.
    let mut doc = overview(&addr);
    for _ in 0..20 {
        if !doc["checks"].as_array().unwrap().is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        doc = overview(&addr);
    }
    assert_eq!(state_of(&doc, "slow-one"), "pending", "{doc}");

    let (status, body) = get(
        &addr,
        "/api/overview",
        "Sec-Fetch-Site: cross-site\r\nSec-Fetch-Mode: cors\r\n",
    );
    assert_eq!(status, 403, "{body}");
    let (status, _) = get(&addr, "/api/overview", "Sec-Fetch-Site: same-origin\r\n");
    assert_eq!(status, 200);
    // A link from another site still opens the page.
    let (status, _) = get(
        &addr,
        "/",
        "Sec-Fetch-Site: cross-site\r\nSec-Fetch-Mode: navigate\r\n",
    );
    assert_eq!(status, 200);
}

fn result(id: &str, at_ms: i64) -> ProbeResult {
    ProbeResult {
        version: RESULT_VERSION,
        region: "local".into(),
        check_id: id.into(),
        url: "http://127.0.0.1:9/".into(),
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
fn dashboard_marks_stale_checks_and_caches_the_overview() {
    let dir = tempfile::tempdir().unwrap();
    let (config, db) = (dir.path().join("checks.yaml"), dir.path().join("webmon.db"));
    let now = SystemClock.now_ms();
    let store = SqliteStore::open(&db).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    // `old` last ran 8 minutes ago on a 1 m interval; `fresh` ran just now.
    rt.block_on(store.write(&[
        result("old", now - 8 * 60_000),
        result("fresh", now - 1_000),
    ]))
    .unwrap();
    std::fs::write(
        &config,
        "checks:\n  - {id: old, url: 'http://127.0.0.1:9/', interval: 1m}\n  - {id: fresh, url: 'http://127.0.0.1:9/', interval: 1m}\n  - {id: never, url: 'http://127.0.0.1:9/', interval: 1m}\n",
    )
    .unwrap();
    let mut child = webmon()
        .args(["dashboard", "--db", db.to_str().unwrap(), "--port", "0"])
        .args(["--config", config.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let addr = dashboard_addr(&mut child);
    let _stop = Stop(child);
    let doc = overview(&addr);
    assert_eq!(state_of(&doc, "old"), "stale", "{doc}");
    assert_eq!(state_of(&doc, "fresh"), "up", "{doc}");
    assert_eq!(state_of(&doc, "never"), "pending", "{doc}");

    // A new result is not seen within the cache's 2 s, and is seen after.
    rt.block_on(store.write(&[result("late", now)])).unwrap();
    let cached = overview(&addr);
    assert!(
        cached["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["check_id"] != "late"),
        "{cached}"
    );
    std::thread::sleep(Duration::from_millis(2_200));
    let fresh = overview(&addr);
    assert_eq!(state_of(&fresh, "late"), "up", "{fresh}");
}
