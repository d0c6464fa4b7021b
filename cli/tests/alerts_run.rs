//! Alerting in `webmon run`, end to end with the real binary: a target on 127.0.0.1
//! whose status flips to 503 and back, and a real webhook receiver on 127.0.0.1 that
//! must get exactly one `triggered` and one `resolved`, every signature verified with an
//! independent HMAC implementation; and the same across a kill and a restart.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use webmon_testkit::http_recorder::{Recorded, Recorder};
use webmon_testkit::signature::standard_webhook_signature;
use webmon_testkit::switch_target::SwitchTarget;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn write_config(dir: &Path, target: &SwitchTarget, hook: &Recorder) -> std::path::PathBuf {
    let file = dir.join("checks.yaml");
    // `settle: 5s`: a round is closed 5 s after its scheduled time at the earliest, so
    // a timer evaluation that lands between an execution's start and its storing (the
    // batching writer's flush) cannot close the round before its result is in. With
    // 0 s that race made the result late (ignored) under load.
    let yaml = format!(
        "channels:
  - {{id: hook, type: webhook, url: '{}/hook', secret: '${{env:WEBMON_SECRET_HOOK}}'}}
alert_defaults:
  channels: [hook]
  failure_threshold: 1
  success_threshold: 1
  settle: 5s
  group: {{threshold: 0}}
checks:
  - {{id: flip, url: 'http://127.0.0.1:{}/', interval: 10s, timeout: 2s, requests: 1, allow_private: true}}
",
        hook.url(),
        target.addr.port()
    );
    std::fs::write(&file, yaml).unwrap();
    file
}

/// A running `webmon run`, killed when dropped: a failing test leaves nothing behind.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn start(config: &Path, db: &Path) -> Running {
    let child = Command::new(env!("CARGO_BIN_EXE_webmon"))
        .env("RUST_LOG", "info")
        .env("WEBMON_SECRET_HOOK", SECRET)
        .args(["run", "--allow-private", "--no-ui", "--config"])
        .arg(config)
        .arg("--db")
        .arg(db)
        .stdout(Stdio::null())
        .stderr(log(db))
        .spawn()
        .unwrap();
    Running(child)
}

/// The log of the runs on `db`, appended to `<db>.log` (printed when a test fails).
fn log(db: &Path) -> Stdio {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(db.with_extension("log"))
        .unwrap();
    Stdio::from(file)
}

fn logs(db: &Path) -> String {
    std::fs::read_to_string(db.with_extension("log")).unwrap_or_default()
}

fn stop(mut running: Running, signal: &str) {
    let child = &mut running.0;
    let sent = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .expect("`kill` is needed (procps)");
    assert!(sent.success());
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            if signal == "-INT" {
                assert_eq!(status.code(), Some(0));
            }
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "webmon run did not stop"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `webmon alerts status --json`, or `None` while the store is not created yet.
fn try_status(db: &Path) -> Option<Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_webmon"))
        .args(["alerts", "status", "--json", "--db"])
        .arg(db)
        .output()
        .unwrap();
    out.status
        .success()
        .then(|| serde_json::from_slice(&out.stdout).unwrap())
}

fn status(db: &Path) -> Value {
    try_status(db).expect("alerts status succeeds")
}

/// Waits (bounded) until `cond` holds for the status of `db`.
fn wait_status(db: &Path, within: Duration, cond: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + within;
    loop {
        if let Some(s) = try_status(db) {
            if cond(&s) {
                return s;
            }
        }
        assert!(
            Instant::now() < deadline,
            "timed out; {:?}\n{}",
            try_status(db),
            logs(db)
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn verify(r: &Recorded) -> Value {
    let (id, ts, sig) = (
        r.header("webhook-id").unwrap(),
        r.header("webhook-timestamp").unwrap(),
        r.header("webhook-signature").unwrap(),
    );
    let expected = standard_webhook_signature(SECRET, id, ts, &r.body);
    assert_eq!(sig, expected, "signature of {id}");
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["id"], id);
    body
}

fn kinds(requests: &[Recorded]) -> Vec<String> {
    requests
        .iter()
        .map(|r| verify(r)["type"].as_str().unwrap().to_string())
        .collect()
}

fn assert_one_incident(requests: &[Recorded], db: &Path) {
    let kinds = kinds(requests);
    assert_eq!(
        kinds,
        ["incident.triggered", "incident.resolved"],
        "{}",
        logs(db)
    );
    let bodies: Vec<Value> = requests.iter().map(verify).collect();
    assert_eq!(bodies[0]["incident"]["id"], bodies[1]["incident"]["id"]);
    assert_eq!(bodies[0]["check_id"], "flip");
    assert_eq!(bodies[0]["state"], "DOWN");
    assert_eq!(bodies[1]["state"], "UP");
}

/// Longest wait for one round to be probed, evaluated and delivered (10 s interval).
const ROUND: Duration = Duration::from_secs(40);

#[test]
fn a_flip_to_503_and_back_notifies_once_each_way() {
    let dir = tempfile::tempdir().unwrap();
    let (target, hook) = (SwitchTarget::start(), Recorder::start(vec![]));
    let config = write_config(dir.path(), &target, &hook);
    let db = dir.path().join("webmon.db");
    let child = start(&config, &db);

    wait_status(&db, ROUND, |s| s["checks"][0]["level"] == "UP");
    target.set_status(503);
    assert_eq!(
        hook.wait_for(1, ROUND).len(),
        1,
        "the outage is notified: {}",
        logs(&db)
    );
    let s = wait_status(&db, ROUND, |s| s["outbox"]["sent"] == 1);
    assert_eq!(s["open_incidents"].as_array().unwrap().len(), 1);
    assert_eq!(s["checks"][0]["level"], "DOWN");
    target.set_status(200);
    assert_eq!(
        hook.wait_for(2, ROUND).len(),
        2,
        "the recovery is notified: {}",
        logs(&db)
    );
    // Two more rounds: nothing else is sent.
    std::thread::sleep(Duration::from_secs(21));
    stop(child, "-INT");
    assert_one_incident(&hook.requests(), &db);
    let s = status(&db);
    assert_eq!(s["outbox"]["sent"], 2);
    assert_eq!(s["open_incidents"].as_array().unwrap().len(), 0);
}

#[test]
fn a_restart_during_an_incident_does_not_notify_again() {
    let dir = tempfile::tempdir().unwrap();
    let (target, hook) = (SwitchTarget::start(), Recorder::start(vec![]));
    let config = write_config(dir.path(), &target, &hook);
    let db = dir.path().join("webmon.db");
    let first = start(&config, &db);

    wait_status(&db, ROUND, |s| s["checks"][0]["level"] == "UP");
    target.set_status(503);
    assert_eq!(hook.wait_for(1, ROUND).len(), 1, "{}", logs(&db));
    wait_status(&db, ROUND, |s| s["outbox"]["sent"] == 1);
    stop(first, "-KILL");

    let second = start(&config, &db);
    // The incident is remembered across the kill; more failing rounds add nothing.
    let s = wait_status(&db, ROUND, |s| {
        s["open_incidents"].as_array().unwrap().len() == 1
    });
    assert_eq!(s["checks"][0]["level"], "DOWN");
    std::thread::sleep(Duration::from_secs(15));
    assert_eq!(
        hook.requests().len(),
        1,
        "no second trigger after the restart"
    );
    target.set_status(200);
    assert_eq!(
        hook.wait_for(2, ROUND).len(),
        2,
        "the recovery is notified: {}",
        logs(&db)
    );
    std::thread::sleep(Duration::from_secs(11));
    stop(second, "-INT");
    assert_one_incident(&hook.requests(), &db);
}
