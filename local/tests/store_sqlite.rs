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

    // Retention deletes only what is rolled up: nothing before the first roll-up.
    let nothing = store.apply_retention(103_000, 0).await.unwrap();
    assert_eq!(nothing.executions, 0);
    assert_eq!(store.roll_up(1_000).await.unwrap().executions, 15);
    assert_eq!(
        store.apply_retention(103_000, 0).await.unwrap().executions,
        9
    );
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

const DAY: i64 = 86_400_000;

/// Three days of two checks in two regions every 30 s (34,560 executions), latencies
/// spread over 40-240 ms, a failure every 37th execution.
fn three_days() -> Vec<ProbeResult> {
    let mut all = Vec::new();
    for (c, check) in ["api", "web"].iter().enumerate() {
        for (r, region) in ["eu-west-1", "us-east-1"].iter().enumerate() {
            for i in 0..(3 * 2880) {
                let at = 10 * DAY + i * 30_000;
                let latency = 40.0 + ((i * 7919 + c as i64 * 13 + r as i64 * 29) % 200) as f64;
                all.push(result(check, region, at, latency, i % 37 != 5));
            }
        }
    }
    all
}

fn close(approx: Option<f64>, exact: Option<f64>, what: &str) {
    let (a, e) = (approx.unwrap(), exact.unwrap());
    assert!(
        (a - e).abs() <= e * 0.005 + 1e-9,
        "{what}: {a} vs exact {e}"
    );
}

#[tokio::test]
async fn long_windows_read_rollups_that_match_the_raw_figures() {
    use webmon_core::read::{ResultReader, Window};
    use webmon_core::report::StatsReader;
    use webmon_local::store::Retention;

    let store = SqliteStore::open_in_memory().unwrap();
    let all = three_days();
    for chunk in all.chunks(5_000) {
        store.write(chunk).await.unwrap();
    }
    let now = 13 * DAY;
    let window = Window {
        from_ms: 10 * DAY + 5 * 60_000,
        to_ms: now - 1,
    };
    // Before any roll-up: raw, exact.
    let exact = store.stats(window, None, false).await.unwrap();
    assert!(exact.resolution.rollups.is_empty() && exact.resolution.raw);
    assert_eq!(exact.rows.len(), 4);
    let exact_overview = store.overview(window).await.unwrap();
    let exact_uptime = store.uptime(3, now - 1).await.unwrap();

    // Roll up, and keep raw executions for one day only.
    let retention = Retention {
        raw: std::time::Duration::from_secs(86_400),
        ..Retention::default()
    };
    let (rolled, kept) = store.maintain(retention, now).await.unwrap();
    assert_eq!(rolled.executions, all.len() as u64);
    assert_eq!(kept.executions, 4 * 2 * 2880);
    assert_eq!(store.count().await.unwrap(), 4 * 2880);
    // A second pass finds nothing to do.
    let (again, _) = store.maintain(retention, now).await.unwrap();
    assert_eq!(again.executions, 0);

    let approx = store.stats(window, None, false).await.unwrap();
    assert_eq!(approx.resolution.rollups, ["1d", "1h", "5m"]);
    assert!(!approx.resolution.widened);
    for (a, e) in approx.rows.iter().zip(&exact.rows) {
        assert_eq!((&a.check_id, &a.region), (&e.check_id, &e.region));
        assert_eq!(a.samples, e.samples, "{} {}", a.check_id, a.region);
        assert_eq!(a.available, e.available);
        close(a.latency_p50_ms, e.latency_p50_ms, "p50");
        close(a.latency_p95_ms, e.latency_p95_ms, "p95");
        close(a.latency_p99_ms, e.latency_p99_ms, "p99");
        close(a.latency_avg_ms, e.latency_avg_ms, "avg");
        close(a.cold_ttfb_p50_ms, e.cold_ttfb_p50_ms, "cold ttfb");
        close(a.warm_ttfb_p50_ms, e.warm_ttfb_p50_ms, "warm ttfb");
        assert_eq!(a.last_scheduled_at_ms, e.last_scheduled_at_ms);
        assert_eq!(a.last_error, e.last_error);
    }
    let overview = store.overview(window).await.unwrap();
    assert_eq!(overview.resolution, approx.resolution);
    for (a, e) in overview.checks.iter().zip(&exact_overview.checks) {
        assert_eq!(a.url, e.url);
        assert_eq!(a.health, e.health);
        for (ra, re) in a.regions.iter().zip(&e.regions) {
            assert_eq!(
                (ra.samples, ra.passed, &ra.last),
                (re.samples, re.passed, &re.last)
            );
            close(ra.p95_ms, re.p95_ms, "overview p95");
        }
    }
    assert_eq!(store.uptime(3, now - 1).await.unwrap(), exact_uptime);
    let series = store.series("api", window).await.unwrap();
    assert_eq!(series.regions.len(), 2);
    let failures: u64 = series.regions[0].failures.iter().sum();
    assert_eq!(failures, exact.rows[0].samples - exact.rows[0].available);
    // Regions together: one row per check.
    let together = store.stats(window, Some("web"), true).await.unwrap();
    assert_eq!(together.rows.len(), 1);
    assert_eq!(together.rows[0].region, "all");
    assert_eq!(
        together.rows[0].samples,
        exact.rows[2].samples + exact.rows[3].samples
    );
    // A short window is still raw and exact.
    let hour = Window {
        from_ms: now - 1_800_000,
        to_ms: now - 1,
    };
    assert!(store
        .stats(hour, None, false)
        .await
        .unwrap()
        .resolution
        .rollups
        .is_empty());
}

#[tokio::test]
async fn a_late_result_is_rolled_up_once() {
    use webmon_core::read::Window;
    use webmon_core::report::StatsReader;

    let store = SqliteStore::open_in_memory().unwrap();
    let day: Vec<ProbeResult> = (0..2880)
        .map(|i| result("api", "local", 10 * DAY + i * 30_000, 50.0, true))
        .collect();
    store.write(&day).await.unwrap();
    assert_eq!(store.roll_up(10_000).await.unwrap().executions, 2880);
    // A retried batch (already stored) changes nothing; a late execution in a bucket
    // already rolled up is folded in by the next run.
    store.write(&day[..100]).await.unwrap();
    store
        .write(&[result("api", "local", 10 * DAY + 15_000, 80.0, false)])
        .await
        .unwrap();
    assert_eq!(store.roll_up(10_000).await.unwrap().executions, 1);
    assert_eq!(store.roll_up(10_000).await.unwrap().executions, 0);
    store.apply_retention(11 * DAY, 0).await.unwrap();
    assert_eq!(store.count().await.unwrap(), 0);
    let stats = store
        .stats(
            Window {
                from_ms: 10 * DAY,
                to_ms: 11 * DAY - 1,
            },
            None,
            false,
        )
        .await
        .unwrap();
    assert_eq!(stats.resolution.rollups, ["1d"]);
    assert_eq!(
        (stats.rows[0].samples, stats.rows[0].available),
        (2881, 2880)
    );
}

#[tokio::test]
async fn a_schema_3_database_carries_forward_with_its_ids() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let old = result("api", "local", 5_000, 12.5, false);
    {
        // The schema-3 results table, as an earlier webmon created it.
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE results (id INTEGER PRIMARY KEY, check_id TEXT NOT NULL, region TEXT NOT NULL,
                scheduled_at_ms INTEGER NOT NULL, result_json TEXT NOT NULL);
             PRAGMA user_version = 3;
             CREATE TABLE alert_incidents (id TEXT PRIMARY KEY);",
        )
        .unwrap();
        conn.execute(
            "INSERT INTO results (id, check_id, region, scheduled_at_ms, result_json) VALUES (42, 'api', 'local', 5000, ?1)",
            [serde_json::to_string(&old).unwrap()],
        )
        .unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.results_since(0, None).await.unwrap(), vec![old]);
    assert_eq!(store.last_result_id().await.unwrap(), 42);
}
