//! The local runner end to end: a real target server on 127.0.0.1, the real probe
//! engine, a real SQLite store. Check ids are picked so their stable offset falls a
//! second or two ahead, which keeps each test short without faking time.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use webmon_core::check::Interval;
use webmon_core::ports::{Clock, SystemClock};
use webmon_core::probe::{ProbeOptions, Prober};
use webmon_core::schedule::next_run_at_or_after;
use webmon_local::runner::{self, RunSummary, RunnerOptions};
use webmon_local::store::SqliteStore;
use webmon_testkit::TargetServer;

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

fn check_yaml(id: &str, url: &str, extra: &str) -> String {
    format!("  - {{id: {id}, url: '{url}', interval: 10s, timeout: 3s, requests: 1, allow_private: true{extra}}}\n")
}

fn write(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn options() -> RunnerOptions {
    RunnerOptions {
        reload_interval: Duration::from_millis(200),
        ..Default::default()
    }
}

fn start(
    config: &Path,
    store: &SqliteStore,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> tokio::task::JoinHandle<RunSummary> {
    let prober = Prober::new(ProbeOptions {
        region: "local".into(),
        // The targets are on 127.0.0.1: the operator allows private addresses.
        allow_private: true,
        ..Default::default()
    });
    let run = runner::run(
        config.to_path_buf(),
        prober,
        Arc::new(store.clone()),
        Arc::new(SystemClock),
        options(),
        shutdown,
    );
    tokio::spawn(run)
}

async fn wait_for(store: &SqliteStore, check: &str, count: usize, limit: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if store.results_since(0, Some(check)).await.unwrap().len() >= count {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_drains_probes_in_flight() {
    let target = TargetServer::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("checks.yaml");
    let (slow, _) = id_due_within("slow", 8_000, 10_000);
    let (fast, _) = id_due_within("fast", 8_000, 10_000);
    let mut text = String::from("checks:\n");
    text += &check_yaml(&slow, &target.url("/delay/2000"), "");
    text += &check_yaml(&fast, &target.url("/ok"), ", tags: {team: web}");
    write(&config, &text);
    let store = SqliteStore::open(&dir.path().join("webmon.db")).unwrap();

    // New checks run at once; shut down while the slow probe waits for its answer.
    let started = SystemClock.now_ms();
    let shutdown = tokio::time::sleep(Duration::from_millis(1_000));
    let summary = tokio::time::timeout(Duration::from_secs(15), start(&config, &store, shutdown))
        .await
        .expect("the runner stops")
        .unwrap();

    assert_eq!(summary.store_errors, 0);
    assert_eq!(summary.stored, summary.executions);
    assert_eq!((summary.up, summary.down, summary.cancelled), (2, 0, 0));
    let results = store.results_since(0, Some(&slow)).await.unwrap();
    assert_eq!(
        results.len(),
        1,
        "the probe in flight at shutdown was stored"
    );
    let r = &results[0];
    assert!(
        r.scheduled_at_ms >= started && r.scheduled_at_ms - started < 1_000,
        "a new check runs at once: scheduled {} for a start at {started}",
        r.scheduled_at_ms
    );
    assert!(r.available, "{r:?}");
    assert!(r.latency.avg_ms >= 2000.0, "{}", r.latency.avg_ms);
    let fast_results = store.results_since(0, Some(&fast)).await.unwrap();
    assert_eq!(fast_results.len(), 1);
    assert_eq!(fast_results[0].region, "local");
    assert_eq!(
        fast_results[0].tags.get("team").map(String::as_str),
        Some("web")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_reload_keeps_old_checks_and_good_reload_swaps() {
    let target = TargetServer::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("checks.yaml");
    let (a, _) = id_due_within("a", 300, 1_500);
    write(
        &config,
        &format!("checks:\n{}", check_yaml(&a, &target.url("/ok"), "")),
    );
    let store = SqliteStore::open_in_memory().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let handle = start(&config, &store, async move {
        let _ = stopped.await;
    });
    assert!(
        wait_for(&store, &a, 1, Duration::from_secs(5)).await,
        "first run of {a}"
    );

    // An unparsable file: `a` keeps running (its next run is 10 s after the first).
    write(&config, "checks: [ {id: ");
    assert!(
        wait_for(&store, &a, 2, Duration::from_secs(12)).await,
        "{a} kept running"
    );

    // A valid file that drops `a` and adds `b`, plus a broken check that never ran.
    let (b, _) = id_due_within("b", 600, 2_000);
    let mut text = String::from("checks:\n");
    text += &check_yaml(&b, &target.url("/json"), "");
    text += "  - {id: broken, url: 'http://127.0.0.1/', interval: 45s}\n";
    write(&config, &text);
    assert!(
        wait_for(&store, &b, 1, Duration::from_secs(5)).await,
        "{b} started after the reload"
    );

    stop.send(()).unwrap();
    let summary = tokio::time::timeout(Duration::from_secs(10), handle)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        summary.reloads, 2,
        "the bad file and the good file each count as a reload"
    );
    assert_eq!(
        store.results_since(0, Some(&a)).await.unwrap().len(),
        2,
        "{a} stopped after the swap"
    );
    assert!(store
        .results_since(0, Some("broken"))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(summary.stored, store.count().await.unwrap());
}
