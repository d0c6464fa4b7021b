//! `webmon alerts replay`, `silence` and `status` against a store written here, and
//! `webmon validate` listing alerting errors.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;
use webmon_core::ports::{Clock, ResultStore, SystemClock};
use webmon_local::store::SqliteStore;
use webmon_testkit::conformance::result;

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
