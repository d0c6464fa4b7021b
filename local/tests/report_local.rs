//! `webmon report` over the SQLite store with seeded results: exact nearest-rank
//! percentiles and phase medians per check x region, the window bound on both ends, the
//! by-region view with its marks, the renderings, and the errors for a missing file or
//! a file that is not a webmon store.

use std::collections::BTreeMap;

use webmon_core::ports::ResultStore;
use webmon_core::read::ResultReader;
use webmon_core::report::by_region::{by_region, Mark};
use webmon_core::report::window::Window;
use webmon_core::report::{render, summarize};
use webmon_core::result::{
    ErrorClass, LatencyStats, Phases, ProbeHealth, ProbeResult, RESULT_VERSION,
};
use webmon_local::store as local;
use webmon_local::store::SqliteStore;

const T0: i64 = 1_750_000_000_000;

fn result(check: &str, region: &str, i: i64, ms: f64, available: bool) -> ProbeResult {
    ProbeResult {
        version: RESULT_VERSION,
        region: region.into(),
        check_id: check.into(),
        url: format!("https://{check}.example.test/"),
        scheduled_at_ms: T0 + i * 10_000,
        started_at_ms: T0 + i * 10_000 + 2,
        available,
        status_code: available.then_some(200),
        error_class: (!available).then_some(ErrorClass::Timeout),
        error_message: (!available).then(|| "no answer within 5s".to_string()),
        requests: 3,
        latency: LatencyStats {
            avg_ms: ms,
            min_ms: ms,
            max_ms: ms,
            p50_ms: ms,
        },
        cold: Phases {
            dns_ms: ms / 10.0,
            connect_ms: ms / 5.0,
            tls_ms: ms / 4.0,
            ttfb_ms: ms / 2.0,
            transfer_ms: 1.0,
        },
        warm_ttfb_ms: available.then_some(ms / 8.0),
        bytes: 100,
        remote_ip: None,
        http_version: None,
        tls_cert_days_left: None,
        redirects: 0,
        attempts: 1,
        tags: BTreeMap::new(),
        probe: ProbeHealth::default(),
    }
}

/// `api` in three regions: eu-west-1 answers in 1..=100 ms, us-east-1 in 2..=200 ms
/// with every tenth execution timed out, ap-south-1 in 50 ms flat; `web` once.
async fn seeded(path: &std::path::Path) -> SqliteStore {
    let store = SqliteStore::open(path).unwrap();
    let mut batch = Vec::new();
    for i in 1..=100 {
        batch.push(result("api", "eu-west-1", i, i as f64, true));
        let ok = i % 10 != 0;
        batch.push(result(
            "api",
            "us-east-1",
            i,
            if ok { 2.0 * i as f64 } else { 0.0 },
            ok,
        ));
        batch.push(result("api", "ap-south-1", i, 50.0, true));
    }
    batch.push(result("web", "eu-west-1", 50, 7.0, true));
    store.write(&batch).await.unwrap();
    store
}

const ALL: Window = Window {
    from_ms: T0,
    to_ms: T0 + 1_000_000,
};

#[tokio::test]
async fn exact_percentiles_and_phase_medians() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("webmon.db");
    seeded(&path).await;
    let store = local::open_existing(&path).unwrap();
    let stats = summarize(&store.samples(ALL, None).await.unwrap());
    let keys: Vec<(&str, &str)> = stats
        .iter()
        .map(|s| (s.check_id.as_str(), s.region.as_str()))
        .collect();
    assert_eq!(
        keys,
        [
            ("api", "ap-south-1"),
            ("api", "eu-west-1"),
            ("api", "us-east-1"),
            ("web", "eu-west-1")
        ]
    );

    let eu = &stats[1];
    assert_eq!(
        (eu.samples, eu.available, eu.availability_pct),
        (100, 100, 100.0)
    );
    assert_eq!(
        (
            eu.latency_p50_ms,
            eu.latency_p95_ms,
            eu.latency_p99_ms,
            eu.latency_avg_ms
        ),
        (Some(50.0), Some(95.0), Some(99.0), Some(50.5))
    );
    assert_eq!(
        (eu.cold_ttfb_p50_ms, eu.warm_ttfb_p50_ms),
        (Some(25.0), Some(6.25))
    );
    assert_eq!(
        (
            eu.dns_p50_ms,
            eu.connect_p50_ms,
            eu.tls_p50_ms,
            eu.transfer_p50_ms
        ),
        (Some(5.0), Some(10.0), Some(12.5), Some(1.0))
    );
    assert_eq!(
        (eu.last_status, eu.last_available, eu.last_error.as_deref()),
        (Some(200), true, None)
    );

    // 90 answered executions at 2 x {1..=99 without multiples of 10}: the nearest-rank
    // p50 is the 45th (2 x 49 = 98), p95 the 86th (2 x 95 = 190), p99 the 90th (198);
    // the mean is 2 x (5050 - 550) / 90 = 100.
    let us = &stats[2];
    assert_eq!(
        (us.samples, us.available, us.availability_pct),
        (100, 90, 90.0)
    );
    assert_eq!(
        (us.latency_p50_ms, us.latency_p95_ms, us.latency_p99_ms),
        (Some(98.0), Some(190.0), Some(198.0))
    );
    assert_eq!(us.latency_avg_ms, Some(100.0));
    assert_eq!((us.last_available, us.last_status), (false, None));
    assert_eq!(
        us.last_error.as_deref(),
        Some("timeout: no answer within 5s")
    );

    // One check only.
    let web = summarize(&store.samples(ALL, Some("web")).await.unwrap());
    assert_eq!(web.len(), 1);
    assert_eq!(web[0].latency_p99_ms, Some(7.0));
}

#[tokio::test]
async fn window_is_bound_on_both_ends() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("webmon.db");
    seeded(&path).await;
    let store = local::open_existing(&path).unwrap();
    // Executions 11..=20 exactly: both ends included.
    let w = Window {
        from_ms: T0 + 110_000,
        to_ms: T0 + 200_000,
    };
    let samples = store.samples(w, Some("api")).await.unwrap();
    assert_eq!(samples.len(), 30);
    let eu = summarize(&samples)
        .into_iter()
        .find(|s| s.region == "eu-west-1")
        .unwrap();
    assert_eq!(
        (eu.latency_p50_ms, eu.latency_p99_ms),
        (Some(15.0), Some(20.0))
    );
    let empty = Window {
        from_ms: T0 + 2_000_000,
        to_ms: T0 + 3_000_000,
    };
    assert!(store.samples(empty, None).await.unwrap().is_empty());
}

#[tokio::test]
async fn by_region_marks_and_renderings() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("webmon.db");
    seeded(&path).await;
    let store = local::open_existing(&path).unwrap();
    let stats = summarize(&store.samples(ALL, None).await.unwrap());

    let view = by_region(&stats, "api").unwrap();
    let order: Vec<&str> = view
        .regions
        .iter()
        .map(|r| r.stats.region.as_str())
        .collect();
    // p50: eu-west-1 50 (p95 95) ties ap-south-1 50 (p95 50): the lower p95 wins.
    assert_eq!(order, ["ap-south-1", "eu-west-1", "us-east-1"]);
    assert_eq!(view.fastest.as_deref(), Some("ap-south-1"));
    assert_eq!(view.slowest.as_deref(), Some("us-east-1"));
    let marks: Vec<Option<Mark>> = view.regions.iter().map(|r| r.mark).collect();
    assert_eq!(marks, [Some(Mark::Fastest), None, Some(Mark::Slowest)]);
    assert_eq!(view.regions[2].p50_vs_fastest, Some(1.96));
    assert!(by_region(&stats, "nope").is_none());
    // One region: nothing to compare, nothing marked.
    let single = by_region(&stats, "web").unwrap();
    assert_eq!((single.fastest, single.regions[0].mark), (None, None));

    let json = serde_json::to_value(&view).unwrap();
    assert_eq!(json["ranked_by"], "latency_p50_ms");
    assert_eq!(json["regions"][0]["region"], "ap-south-1");
    assert_eq!(json["regions"][0]["mark"], "fastest");
    assert_eq!(json["regions"][2]["latency_p95_ms"], 190.0);

    let table = render::by_region_table(&view);
    let first = table.lines().next().unwrap();
    assert!(
        first.starts_with("check api")
            && first.contains("ap-south-1 (fastest)")
            && first.contains("us-east-1 (slowest)")
            && first.contains("  eu-west-1  "),
        "{table}"
    );
    let p95 = table.lines().find(|l| l.starts_with("p95_ms")).unwrap();
    assert_eq!(
        p95.split_whitespace().collect::<Vec<_>>(),
        ["p95_ms", "50.00", "95.00", "190.00"]
    );

    let csv = render::by_region_csv(&view);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], render::BY_REGION_HEADER.join(","));
    assert!(
        lines[1].starts_with("api,ap-south-1,fastest,1.00,100,100.00,50.00"),
        "{csv}"
    );
    assert!(
        lines[3].starts_with("api,us-east-1,slowest,1.96,100,90.00,98.00,190.00,198.00,100.00"),
        "{csv}"
    );
    assert!(lines[3].ends_with(",timeout: no answer within 5s"), "{csv}");

    let csv = render::csv(&stats);
    assert_eq!(csv.lines().count(), 5);
    assert!(csv.starts_with("check,region,samples,avail_pct,p50_ms,p95_ms,p99_ms,avg_ms,cold_ttfb_ms,warm_ttfb_ms,dns_ms,connect_ms,tls_ms,transfer_ms,"));
    assert!(csv.contains("\napi,eu-west-1,100,100.00,50.00,95.00,99.00,50.50,25.00,6.25,5.00,10.00,12.50,1.00,200,true,\n"), "{csv}");
}

#[tokio::test]
async fn missing_file_and_foreign_database_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.db");
    let err = local::open_existing(&missing).unwrap_err().to_string();
    assert!(
        err.contains("failed to open the result store") && err.contains("no such file"),
        "{err}"
    );
    assert!(!missing.exists(), "a report never creates a store");

    let foreign = dir.path().join("other.db");
    foreign_database(&foreign);
    let err = local::open_existing(&foreign).unwrap_err().to_string();
    assert!(err.contains("has no executions table"), "{err}");

    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "this is not a database, just some text long enough").unwrap();
    let err = local::open_existing(&text).unwrap_err().to_string();
    assert!(
        err.contains("failed to read the result store") && err.contains("notes.txt"),
        "{err}"
    );
}

/// A SQLite file with a table of its own and none of ours.
fn foreign_database(path: &std::path::Path) {
    rusqlite::Connection::open(path)
        .unwrap()
        .execute_batch("CREATE TABLE notes (n TEXT);")
        .unwrap();
}
