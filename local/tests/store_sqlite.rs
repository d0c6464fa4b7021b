//! The SQLite result store: batch writes, idempotence, migrations on reopen, WAL, and the
//! query API used by reports and dashboards.

use std::collections::BTreeMap;

use webmon_core::ports::ResultStore;
use webmon_core::result::{
    ErrorClass, LatencyStats, Phases, ProbeHealth, ProbeResult, RESULT_VERSION,
};
use webmon_local::store::{CheckRegion, SqliteStore};

fn result(check: &str, region: &str, at: i64, latency: f64, available: bool) -> ProbeResult {
    ProbeResult {
        version: RESULT_VERSION,
        region: region.into(),
        check_id: check.into(),
        url: format!("http://127.0.0.1:9/{check}"),
        scheduled_at_ms: at,
        started_at_ms: at + 3,
        available,
        status_code: if available { Some(200) } else { Some(503) },
        error_class: (!available).then_some(ErrorClass::HttpStatus),
        error_message: (!available).then(|| "status 503 is not accepted".to_string()),
        requests: 5,
        latency: LatencyStats {
            avg_ms: latency,
            min_ms: latency - 1.0,
            max_ms: latency + 1.0,
            p50_ms: latency,
        },
        cold: Phases {
            dns_ms: 0.5,
            connect_ms: 0.25,
            tls_ms: 0.0,
            ttfb_ms: latency / 2.0,
            transfer_ms: 0.125,
        },
        warm_ttfb_ms: Some(latency / 4.0),
        bytes: 1234,
        remote_ip: Some("127.0.0.1".into()),
        http_version: Some("HTTP/1.1".into()),
        tls_cert_days_left: None,
        redirects: 0,
        attempts: 1,
        tags: BTreeMap::from([("team".to_string(), "web".to_string())]),
        probe: ProbeHealth {
            cold_start: false,
            start_delay_ms: 3.0,
            ..Default::default()
        },
    }
}

#[tokio::test]
async fn writes_are_idempotent_per_execution() {
    let store = SqliteStore::open_in_memory().unwrap();
    let batch: Vec<ProbeResult> = (0..10)
        .map(|i| result("api", "local", i * 10_000, 10.0 + i as f64, true))
        .collect();
    store.write(&batch).await.unwrap();
    // A retried batch, overlapping the first: no duplicates.
    store.write(&batch[5..]).await.unwrap();
    let mut again = result("api", "local", 0, 999.0, false);
    again.started_at_ms = 1;
    store.write(&[again]).await.unwrap();
    assert_eq!(store.count().await.unwrap(), 10);
    let first = store.results_since(0, Some("api")).await.unwrap();
    assert_eq!(
        first[0], batch[0],
        "the first copy is kept, every field round-trips"
    );
    // Same schedule in another region is another execution.
    store
        .write(&[result("api", "eu-west-1", 0, 20.0, true)])
        .await
        .unwrap();
    assert_eq!(store.count().await.unwrap(), 11);
}

#[tokio::test]
async fn queries_filter_and_order() {
    let store = SqliteStore::open_in_memory().unwrap();
    let mut batch = Vec::new();
    for i in 0..5 {
        batch.push(result("web", "local", 100_000 + i * 1000, 30.0, i != 4));
        batch.push(result("api", "local", 100_000 + i * 1000, 10.0, true));
        batch.push(result("api", "us-east-1", 100_000 + i * 1000, 90.0, true));
    }
    store.write(&batch).await.unwrap();

    let pairs = store.checks_and_regions().await.unwrap();
    let expect = |c: &str, r: &str| CheckRegion {
        check_id: c.into(),
        region: r.into(),
    };
    assert_eq!(
        pairs,
        [
            expect("api", "local"),
            expect("api", "us-east-1"),
            expect("web", "local")
        ]
    );

    let since = store.samples_since(102_000, None).await.unwrap();
    assert_eq!(since.len(), 9);
    assert!(since
        .windows(2)
        .all(|w| (&w[0].check_id, &w[0].region, w[0].scheduled_at_ms)
            < (&w[1].check_id, &w[1].region, w[1].scheduled_at_ms)));
    let web = store.samples_since(0, Some("web")).await.unwrap();
    assert_eq!(web.len(), 5);
    assert_eq!(web[4].error_class.as_deref(), Some("http_status"));
    assert_eq!(web[4].status_code, Some(503));
    assert_eq!(web[0].cold_ttfb_ms, 15.0);
    assert_eq!(web[0].warm_ttfb_ms, Some(7.5));

    let latest = store.latest().await.unwrap();
    assert_eq!(latest.len(), 3);
    assert!(latest.iter().all(|r| r.scheduled_at_ms == 104_000));
    let one = store.latest_for("web", "local").await.unwrap().unwrap();
    assert!(!one.available);
    assert!(store.latest_for("web", "mars-1").await.unwrap().is_none());

    assert_eq!(store.delete_before(103_000).await.unwrap(), 9);
    assert_eq!(store.count().await.unwrap(), 6);
}

#[tokio::test]
async fn file_store_uses_wal_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("webmon.db");
    {
        let store = SqliteStore::open(&path).unwrap();
        store
            .write(&[result("api", "local", 1, 5.0, true)])
            .await
            .unwrap();
    }
    // Reopening runs migrations again (a no-op) and keeps the data.
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.count().await.unwrap(), 1);
    let mode: String = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA journal_mode", [], |row| row.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    // A second connection (a report while `webmon run` writes) reads concurrently.
    let reader = SqliteStore::open(&path).unwrap();
    store
        .write(&[result("api", "local", 2, 5.0, true)])
        .await
        .unwrap();
    assert_eq!(reader.count().await.unwrap(), 2);
}

#[tokio::test]
async fn report_over_stored_samples() {
    let store = SqliteStore::open_in_memory().unwrap();
    let batch: Vec<ProbeResult> = (1..=100)
        .map(|i| result("api", "local", i, i as f64, i % 10 != 0))
        .collect();
    store.write(&batch).await.unwrap();
    let stats = webmon_core::report::summarize(&store.samples_since(0, None).await.unwrap());
    assert_eq!(stats.len(), 1);
    let s = &stats[0];
    assert_eq!((s.samples, s.available), (100, 90));
    assert_eq!(s.availability_pct, 90.0);
    assert_eq!(
        (s.latency_p50_ms, s.latency_p95_ms, s.latency_p99_ms),
        (Some(50.0), Some(95.0), Some(99.0))
    );
    assert_eq!(s.latency_avg_ms, Some(50.5));
    assert_eq!(s.last_status, Some(503));
    assert_eq!(
        s.last_error.as_deref(),
        Some("http_status: status 503 is not accepted")
    );
}
