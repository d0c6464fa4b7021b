//! The InfluxDB store against real servers on 127.0.0.1 started by the tests:
//! InfluxDB 1.x (`influxd`) passes the whole store conformance suite (v1 write API,
//! InfluxQL reads), keeps awkward tag values intact, gives exact nearest-rank figures,
//! and names a missing database; a v2 write to a server without that API says what to
//! set; VictoriaMetrics takes the v2 and v1 write APIs, read back through its export API.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use webmon_aws::influx::{InfluxConfig, InfluxReader, InfluxStore, Token};
use webmon_core::ports::{PortError, ResultStore};
use webmon_core::read::{ResultReader, Window};
use webmon_core::report::summarize;
use webmon_core::result::ProbeResult;
use webmon_testkit::conformance::{self, result};
use webmon_testkit::influx_servers::{Influxd, VictoriaMetrics};

fn quick(mut config: InfluxConfig) -> InfluxStore {
    config.backoff = Duration::from_millis(10);
    config.max_attempts = 2;
    InfluxStore::new(config).expect("valid config")
}

async fn influxd_with(db: &str) -> Influxd {
    let server = Influxd::start().await.unwrap_or_else(|e| panic!("{e}"));
    server.create_database(db).await.expect("create database");
    server
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[tokio::test]
async fn influxdb_1x_passes_the_store_conformance_suite() {
    let server = influxd_with("webmon").await;
    let store = quick(InfluxConfig::v1(&server.url(), "webmon", Token::default()));
    conformance::full("influxdb 1.x", &store).await;
}

#[tokio::test]
async fn influxdb_1x_keeps_awkward_tags_and_gives_exact_percentiles() {
    let server = influxd_with("web mon").await;
    let store = quick(InfluxConfig::v1(
        &server.url(),
        "web mon",
        Token::new("ignored-without-auth"),
    ));
    // Check ids are `[A-Za-z0-9._-]`; URLs and tag values may hold anything but line
    // breaks and backslashes (which InfluxDB 1.x and 2.x keep doubled in a tag).
    let check = "shop.home-page_1";
    let base = conformance::BASE_MS;
    // Twenty executions at 1..=20 ms: nearest rank gives p50 = 10 and p95 = 19 (an
    // interpolating percentile would not).
    let results: Vec<ProbeResult> = (1..=20)
        .map(|n| {
            let mut r = result(check, "eu-west-1", base, n);
            r.url = r#"https://shop.example/a b,c=d?q="it's""#.into();
            r.latency.avg_ms = n as f64;
            r
        })
        .collect();
    store.write(&results).await.expect("write");
    let window = Window {
        from_ms: base,
        to_ms: base + 30 * conformance::STEP_MS,
    };
    let samples = store.samples(window, Some(check)).await.expect("samples");
    assert_eq!(samples.len(), 20, "every execution of the awkward check");
    let stats = &summarize(&samples)[0];
    assert_eq!(stats.check_id, check);
    assert_eq!(
        (stats.latency_p50_ms, stats.latency_p95_ms),
        (Some(10.0), Some(19.0))
    );
    let overview = store.overview(window).await.expect("overview");
    let c = &overview.checks[0];
    assert_eq!(c.url, r#"https://shop.example/a b,c=d?q="it's""#);
    assert_eq!(
        (c.regions[0].p50_ms, c.regions[0].p95_ms),
        (Some(10.0), Some(19.0))
    );
    assert!(store
        .samples(window, Some("shop"))
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .samples(window, Some("it's"))
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn influxdb_1x_counts_the_daily_uptime_itself() {
    use webmon_core::read::Uptime;
    use webmon_core::report::{derive, StatsReader};

    let server = influxd_with("webmon").await;
    let store = quick(InfluxConfig::v1(&server.url(), "webmon", Token::default()));
    // Three UTC days of two checks in two regions every 20 minutes; `web` fails every
    // seventh execution.
    let day = 86_400_000;
    let first_day = conformance::BASE_MS - conformance::BASE_MS.rem_euclid(day);
    let mut results = Vec::new();
    for check in ["api", "web"] {
        for region in ["eu-west-1", "us-east-1"] {
            for n in 0..(3 * 72) {
                let mut r = result(check, region, first_day, 0);
                r.scheduled_at_ms = first_day + n * 1_200_000;
                r.started_at_ms = r.scheduled_at_ms + 2;
                r.available = !(check == "web" && n % 7 == 3);
                results.push(r);
            }
        }
    }
    store.write(&results).await.expect("write");
    let now = first_day + 3 * day - 1;
    // A reader that refuses more than 10 rows: the 864 executions could not be fetched,
    // the 12 daily counts can.
    let reader = InfluxReader::new(&server.url(), "webmon", Token::default())
        .unwrap()
        .with_max_rows(10);
    let err = reader
        .samples(Uptime::window(3, now), None)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("more than 10 rows"), "{err}");
    let uptime = reader.uptime(3, now).await.expect("uptime");
    assert_eq!(store.uptime(3, now).await.expect("uptime"), uptime);
    let samples: Vec<_> = results
        .iter()
        .map(webmon_core::read::Sample::from)
        .collect();
    assert_eq!(uptime, derive::daily_uptime(&samples, 3, now));
    let web = &uptime.checks[1];
    assert_eq!((web.check_id.as_str(), web.samples), ("web", 432));
    assert_eq!(web.passed, 432 - 2 * 31);
    assert_eq!(web.days.len(), 3);
}

#[tokio::test]
async fn influxdb_1x_names_a_missing_database_and_refuses_v2_writes_with_a_hint() {
    let server = influxd_with("webmon").await;
    let reader = InfluxReader::new(&server.url(), "nope", Token::default()).unwrap();
    let window = Window {
        from_ms: 0,
        to_ms: now_ms(),
    };
    match reader.samples(window, None).await {
        Err(PortError::Permanent(e)) => assert!(
            e.contains("database nope") && e.contains("database not found"),
            "{e}"
        ),
        other => panic!("a missing database must be a permanent error, got {other:?}"),
    }
    // InfluxDB 1.7 and older have no /api/v2/write.
    let store = quick(InfluxConfig::new(
        &server.url(),
        "acme",
        "webmon",
        Token::new("t"),
    ));
    let err = store
        .write(&[result("api", "eu", conformance::BASE_MS, 0)])
        .await
        .expect_err("no v2 API on this server");
    assert!(err.to_string().contains("WEBMON_INFLUX_API=v1"), "{err}");
}

/// The samples VictoriaMetrics holds for one field: (check, region, time) -> value.
async fn exported(vm: &VictoriaMetrics, field: &str) -> BTreeMap<(String, String, i64), f64> {
    let mut out = BTreeMap::new();
    for series in vm.export(&format!("probe_{field}")).await.expect("export") {
        let m = &series["metric"];
        let key = |t: &serde_json::Value| {
            (
                m["check_id"].as_str().unwrap_or_default().to_string(),
                m["region"].as_str().unwrap_or_default().to_string(),
                t.as_i64().expect("timestamp"),
            )
        };
        let times = series["timestamps"].as_array().expect("timestamps");
        let values = series["values"].as_array().expect("values");
        for (t, v) in times.iter().zip(values) {
            out.insert(key(t), v.as_f64().expect("value"));
        }
    }
    out
}

#[tokio::test]
async fn victoria_metrics_takes_the_v2_and_v1_write_apis() {
    let vm = VictoriaMetrics::start()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // Recent times: VictoriaMetrics keeps samples inside its retention only.
    let base = (now_ms() / 1000 - 3600) * 1000;
    let v2 = quick(InfluxConfig::new(
        &vm.url(),
        "acme",
        "webmon",
        Token::new("t"),
    ));
    let v1 = quick(InfluxConfig::v1(&vm.url(), "webmon", Token::default()));
    let mut through_v2: Vec<ProbeResult> = conformance::results_at(base);
    // Enough points to be gzipped, twice over (a rewrite stores nothing new).
    v2.write(&through_v2).await.expect("v2 write");
    v2.write(&through_v2).await.expect("v2 rewrite");
    let through_v1: Vec<ProbeResult> = (0..3).map(|n| result("v1", "ap", base, n)).collect();
    v1.write(&through_v1).await.expect("v1 write");
    through_v2.extend(through_v1);

    let latency = exported(&vm, "latency_avg_ms").await;
    let available = exported(&vm, "available").await;
    let status = exported(&vm, "status_code").await;
    assert_eq!(latency.len(), through_v2.len(), "one point per result");
    for r in &through_v2 {
        let key = (r.check_id.clone(), r.region.clone(), r.scheduled_at_ms);
        assert_eq!(latency.get(&key), Some(&r.latency.avg_ms), "{key:?}");
        assert_eq!(
            available.get(&key),
            Some(&if r.available { 1.0 } else { 0.0 }),
            "{key:?}"
        );
        assert_eq!(
            status.get(&key).copied(),
            r.status_code.map(f64::from),
            "{key:?}"
        );
    }
}
