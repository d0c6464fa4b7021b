//! `webmon alerts replay`, `silence` and `status` against a store written here, and
//! `webmon validate` listing alerting errors.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;
use webmon_core::ports::{Clock, ResultStore, SystemClock};
use webmon_local::store::SqliteStore;
use webmon_testkit::conformance::result;
use webmon_testkit::http_recorder::Recorder;
use webmon_testkit::signature::standard_webhook_signature;

const CONFIG: &str = "channels:
  - {id: hook, type: webhook, url: 'http://127.0.0.1:9/hook', secret: 'whsec_MDEyMzQ1Njc4OWFiY2RlZg=='}
alert_defaults: {channels: [hook], failure_threshold: 2, success_threshold: 2, settle: 0s, group: {threshold: 0}}
checks:
  - {id: web, url: 'http://127.0.0.1:9/', interval: 10s, tags: {team: web}}
";

fn webmon(args: &[&str], db: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_webmon"))
        .args(args)
        .arg("--db")
        .arg(db)
        .output()
        .unwrap()
}

fn json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_prints_the_incidents_a_policy_would_open() {
    let dir = tempfile::tempdir().unwrap();
    let (db, config) = (dir.path().join("w.db"), dir.path().join("checks.yaml"));
    std::fs::write(&config, CONFIG).unwrap();
    let base = SystemClock.now_ms() / 10_000 * 10_000 - 30 * 10_000;
    let store = SqliteStore::open(&db).unwrap();
    let results: Vec<_> = (0..20)
        .map(|n| {
            let mut r = result("web", "local", base, n);
            r.available = !(5..9).contains(&n);
            r
        })
        .collect();
    store.write(&results).await.unwrap();
    drop(store);

    let config = config.to_str().unwrap().to_string();
    let out = tokio::task::spawn_blocking({
        let db = db.clone();
        move || {
            let config = config.as_str();
            webmon(
                &[
                    "alerts", "replay", "--since", "1h", "--config", config, "--json",
                ],
                &db,
            )
        }
    })
    .await
    .unwrap();
    let doc = json(&out);
    assert_eq!(doc["results"], 20);
    let incidents = doc["incidents"].as_array().unwrap();
    assert_eq!(incidents.len(), 1, "{doc}");
    assert_eq!(incidents[0]["id"], format!("web:{}", base + 6 * 10_000));
    assert_eq!(
        incidents[0]["notifications"],
        serde_json::json!(["triggered", "resolved"])
    );
    assert_eq!(incidents[0]["resolved"], true);
    // Replay stores nothing.
    let status = json(&webmon(&["alerts", "status", "--json"], &db));
    assert_eq!(status["evaluated_at_ms"], Value::Null);
}

#[test]
fn silences_are_added_listed_and_expired() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("w.db");
    drop(SqliteStore::open(&db).unwrap());
    let added = webmon(
        &[
            "alerts",
            "silence",
            "add",
            "--tag",
            "team=web",
            "--for",
            "2h",
            "--comment",
            "deploy",
        ],
        &db,
    );
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let line = String::from_utf8_lossy(&added.stdout).to_string();
    assert!(
        line.contains("tag team=web until") && line.contains("(deploy)"),
        "{line}"
    );
    let id = line.split_whitespace().nth(1).unwrap().to_string();

    let status = json(&webmon(&["alerts", "status", "--json"], &db));
    assert_eq!(status["silences"][0]["id"], id.as_str());
    assert_eq!(
        status["silences"][0]["tag"],
        serde_json::json!(["team", "web"])
    );

    assert!(webmon(&["alerts", "silence", "expire", &id], &db)
        .status
        .success());
    let list = webmon(&["alerts", "silence", "list"], &db);
    assert!(String::from_utf8_lossy(&list.stdout).trim().is_empty());
    let all = webmon(&["alerts", "silence", "list", "--all"], &db);
    assert!(String::from_utf8_lossy(&all.stdout).contains(&id));
    let again = webmon(&["alerts", "silence", "expire", &id], &db);
    assert_eq!(
        again.status.code(),
        Some(1),
        "an ended silence cannot expire again"
    );
    let forever = webmon(
        &["alerts", "silence", "add", "--check", "web", "--for", "90d"],
        &db,
    );
    assert_eq!(forever.status.code(), Some(1), "silences are bounded");
}

#[test]
fn validate_lists_alerting_errors() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("checks.yaml");
    std::fs::write(
        &file,
        CONFIG.replace("channels: [hook]", "channels: [hook, pager]"),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_webmon"))
        .args(["validate", "--json"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["valid"], 1);
    let errors = doc["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{doc}");
    assert_eq!(errors[0]["value"], "pager");
}

/// A checks file whose one channel is a webhook to `url`, its secret from the
/// operator's environment.
fn hook_config(dir: &Path, url: &str) -> std::path::PathBuf {
    let file = dir.join("channels.yaml");
    let yaml = format!(
        "channels:\n  - {{id: hook, type: webhook, url: '{url}/hook', secret: '${{env:WEBMON_SECRET_HOOK}}'}}\n\
         checks:\n  - {{id: web, url: 'https://example.test/'}}\n"
    );
    std::fs::write(&file, yaml).unwrap();
    file
}

fn alerts_test(config: &Path, channel: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_webmon"))
        .args(["alerts", "test", channel, "--config"])
        .arg(config)
        .env("WEBMON_SECRET_HOOK", HOOK_SECRET)
        .output()
        .unwrap()
}

const HOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

#[test]
fn alerts_test_sends_one_signed_test_message_and_retries_after_a_503() {
    // The first answer is a 503 asking for a retry after 1 s; the next is 204.
    let hook = Recorder::start(vec![(
        503,
        vec![("retry-after", "1".into())],
        String::new(),
    )]);
    let dir = tempfile::tempdir().unwrap();
    let config = hook_config(dir.path(), &hook.url());
    let out = alerts_test(&config, "hook");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("to hook (status 204, 2 attempt(s))"),
        "{stdout}"
    );
    let requests = hook.wait_for(2, std::time::Duration::from_secs(5));
    assert_eq!(requests.len(), 2, "one failed attempt, one delivered");
    // Both attempts carry the same message id, each correctly signed.
    assert_eq!(
        requests[0].header("webhook-id"),
        requests[1].header("webhook-id")
    );
    for r in &requests {
        assert_eq!((r.method.as_str(), r.target.as_str()), ("POST", "/hook"));
        let (id, ts) = (
            r.header("webhook-id").unwrap(),
            r.header("webhook-timestamp").unwrap(),
        );
        assert_eq!(
            r.header("webhook-signature").unwrap(),
            standard_webhook_signature(HOOK_SECRET, id, ts, &r.body)
        );
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body["type"], "test", "{body}");
    }
}

#[test]
fn alerts_test_fails_with_the_reason_when_the_receiver_keeps_refusing() {
    let refusals = (0..3)
        .map(|_| (400, vec![], "bad hook".to_string()))
        .collect();
    let hook = Recorder::start(refusals);
    let dir = tempfile::tempdir().unwrap();
    let config = hook_config(dir.path(), &hook.url());
    let out = alerts_test(&config, "hook");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("400"), "{stderr}");
    // A 400 is not retried: the receiver refuses the message itself.
    assert_eq!(hook.requests().len(), 1);
    // An unknown channel names the ones there are.
    let out = alerts_test(&config, "pager");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("no channel \"pager\"") && stderr.contains("hook"),
        "{stderr}"
    );
}
