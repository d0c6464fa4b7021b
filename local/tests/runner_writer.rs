//! The batching writer of `webmon run` (`runner::writer`) against the real SQLite store:
//! a flush every `batch_size` results and every `flush_interval`, a final flush when the
//! queue closes, retries while another connection holds the database's write lock, the
//! one-by-one fallback when a batch is refused, and the count of results lost. The store
//! fails for real: a SQLite trigger refuses marked rows, a second connection holds the
//! write lock.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use webmon_core::result::{LatencyStats, Phases, ProbeHealth, ProbeResult, RESULT_VERSION};
use webmon_local::runner::writer::{self, WriterStats};
use webmon_local::store::SqliteStore;

fn result(check: &str, at: i64) -> ProbeResult {
    ProbeResult {
        version: RESULT_VERSION,
        region: "local".into(),
        check_id: check.into(),
        url: format!("http://127.0.0.1:9/{check}"),
        scheduled_at_ms: at,
        started_at_ms: at + 3,
        available: true,
        status_code: Some(200),
        error_class: None,
        error_message: None,
        requests: 1,
        latency: LatencyStats {
            avg_ms: 10.0,
            min_ms: 10.0,
            max_ms: 10.0,
            p50_ms: 10.0,
        },
        cold: Phases {
            dns_ms: 0.0,
            connect_ms: 1.0,
            tls_ms: 0.0,
            ttfb_ms: 5.0,
            transfer_ms: 1.0,
        },
        warm_ttfb_ms: None,
        bytes: 10,
        remote_ip: Some("127.0.0.1".into()),
        http_version: Some("HTTP/1.1".into()),
        tls_cert_days_left: None,
        redirects: 0,
        attempts: 1,
        tags: BTreeMap::new(),
        probe: ProbeHealth::default(),
    }
}

/// A store in a fresh file, and the file's path (kept alive by the returned dir).
fn store() -> (tempfile::TempDir, std::path::PathBuf, Arc<SqliteStore>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("webmon.db");
    let store = Arc::new(SqliteStore::open(&path).unwrap());
    (dir, path, store)
}

/// A trigger that refuses (`RAISE(ABORT)`, a constraint error) every row whose check id
/// starts with `refused`, as a corrupt or rejected row would be.
fn refuse_marked_rows(path: &Path) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(
        "CREATE TRIGGER refuse_marked BEFORE INSERT ON executions
         WHEN (SELECT check_id FROM series WHERE id = NEW.series) LIKE 'refused%'
         BEGIN SELECT RAISE(ABORT, 'row refused by the test trigger'); END;",
    )
    .unwrap();
}

async fn stored_ids(store: &SqliteStore) -> Vec<String> {
    let mut ids: Vec<String> = store
        .results_since(0, None)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.check_id)
        .collect();
    ids.sort();
    ids
}

/// Polls the store's row count until it is `n` or `limit` passes; returns the count.
async fn wait_for_count(store: &SqliteStore, n: u64, limit: Duration) -> u64 {
    let started = Instant::now();
    loop {
        let count = store.count().await.unwrap();
        if count == n || started.elapsed() > limit {
            return count;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn flushes_when_a_batch_is_full_without_waiting_for_the_interval() {
    let (_dir, _path, store) = store();
    let (tx, rx) = mpsc::channel(64);
    // An interval no test waits for: only the batch size can flush.
    let task = tokio::spawn(writer::run(store.clone(), rx, 5, Duration::from_secs(3600)));
    tokio::time::sleep(Duration::from_millis(50)).await;
    for i in 0..5 {
        tx.send(result(&format!("c{i}"), 1_000 + i)).await.unwrap();
    }
    assert_eq!(
        wait_for_count(&store, 5, Duration::from_secs(5)).await,
        5,
        "a full batch is written at once"
    );
    // Two more stay queued: the batch is not full and the interval is far away.
    for i in 5..7 {
        tx.send(result(&format!("c{i}"), 1_000 + i)).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(store.count().await.unwrap(), 5, "a partial batch waits");
    // Closing the queue flushes what is left.
    drop(tx);
    let stats = task.await.unwrap();
    assert_eq!(
        stats,
        WriterStats {
            written: 7,
            failed: 0,
            batches: 2
        }
    );
    assert_eq!(store.count().await.unwrap(), 7);
}

#[tokio::test]
async fn flushes_a_partial_batch_when_the_interval_passes() {
    let (_dir, _path, store) = store();
    let (tx, rx) = mpsc::channel(64);
    let interval = Duration::from_millis(400);
    let task = tokio::spawn(writer::run(store.clone(), rx, 100, interval));
    // The interval's first tick is immediate; let it pass with an empty buffer.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let sent = Instant::now();
    for i in 0..3 {
        tx.send(result(&format!("t{i}"), 2_000 + i)).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(
        store.count().await.unwrap(),
        0,
        "3 of 100 wait for the interval"
    );
    assert_eq!(wait_for_count(&store, 3, Duration::from_secs(5)).await, 3);
    let waited = sent.elapsed();
    assert!(
        waited < Duration::from_secs(2),
        "written at the next tick, not later: {waited:?}"
    );
    // The queue is still open: the interval flushed them, not the close.
    assert!(!task.is_finished());
    drop(tx);
    assert_eq!(
        task.await.unwrap(),
        WriterStats {
            written: 3,
            failed: 0,
            batches: 1
        }
    );
}

#[tokio::test]
async fn retries_while_another_connection_holds_the_write_lock() {
    let (_dir, path, store) = store();
    // Another process's transaction holds the write lock for longer than the store's
    // busy timeout (5 s): the first attempt fails with SQLITE_BUSY, a transient error.
    let held = Duration::from_millis(6_500);
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let holder = std::thread::spawn(move || {
        let mut conn = rusqlite::Connection::open(&path).unwrap();
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .unwrap();
        locked_tx.send(()).unwrap();
        std::thread::sleep(held);
        tx.commit().unwrap();
    });
    locked_rx.recv().unwrap();
    let (tx, rx) = mpsc::channel(64);
    let task = tokio::spawn(writer::run(store.clone(), rx, 3, Duration::from_secs(3600)));
    for i in 0..3 {
        tx.send(result(&format!("r{i}"), 3_000 + i)).await.unwrap();
    }
    drop(tx);
    let stats = task.await.unwrap();
    holder.join().unwrap();
    assert_eq!(
        stats,
        WriterStats {
            written: 3,
            failed: 0,
            batches: 2
        },
        "one busy attempt, then the retry"
    );
    assert_eq!(stored_ids(&store).await, ["r0", "r1", "r2"]);
}

#[tokio::test]
async fn a_refused_batch_is_written_one_by_one_and_only_refused_rows_are_lost() {
    let (_dir, path, store) = store();
    refuse_marked_rows(&path);
    let (tx, rx) = mpsc::channel(64);
    let task = tokio::spawn(writer::run(store.clone(), rx, 5, Duration::from_secs(3600)));
    for (i, id) in ["a", "refused-1", "b", "refused-2", "c"].iter().enumerate() {
        tx.send(result(id, 4_000 + i as i64)).await.unwrap();
    }
    drop(tx);
    let stats = task.await.unwrap();
    // The batch's one transaction is refused (a permanent error: no retry), then each
    // result is written alone: 1 + 5 store calls.
    assert_eq!(
        stats,
        WriterStats {
            written: 3,
            failed: 2,
            batches: 6
        }
    );
    assert_eq!(stored_ids(&store).await, ["a", "b", "c"]);
}

#[tokio::test]
async fn a_lone_refused_result_is_counted_lost_once() {
    let (_dir, path, store) = store();
    refuse_marked_rows(&path);
    let (tx, rx) = mpsc::channel(64);
    let task = tokio::spawn(writer::run(
        store.clone(),
        rx,
        100,
        Duration::from_secs(3600),
    ));
    tx.send(result("refused-alone", 5_000)).await.unwrap();
    drop(tx);
    assert_eq!(
        task.await.unwrap(),
        WriterStats {
            written: 0,
            failed: 1,
            batches: 1
        }
    );
    assert_eq!(store.count().await.unwrap(), 0);
}
