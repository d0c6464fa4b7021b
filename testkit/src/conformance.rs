//! The result-store conformance suite, written once against the ports and run against
//! every store adapter, so a new store proves itself by passing it.
//!
//! - [`full`]: for a store that implements both the write port
//!   ([`ResultStore`]) and the read port ([`ResultReader`]): what is written is read back
//!   field for field, rewrites never duplicate, windows include both ends and exclude
//!   the rest, `--check` narrows, and the dashboard's queries agree with the samples.
//! - [`write_only`]: for a store whose reads cannot run where the test runs (Timestream
//!   on the emulator, which has no query engine): every result written is stored exactly
//!   once, also when a batch is written again, as seen by a store-specific read-back.
//!
//! Each check panics with a message naming the store and what differed.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

use webmon_core::ports::ResultStore;
use webmon_core::read::{ResultReader, Window};
use webmon_core::report::Sample;
use webmon_core::result::{
    ErrorClass, LatencyStats, Phases, ProbeHealth, ProbeResult, RESULT_VERSION,
};

/// Start of the suite's data (2026-01-01T00:00:00Z), well inside any store's retention
/// window when the caller shifts it with [`results_at`].
pub const BASE_MS: i64 = 1_767_225_600_000;
/// Spacing of the suite's executions.
pub const STEP_MS: i64 = 10_000;
/// Executions per check and region.
pub const EXECUTIONS: i64 = 6;

/// One result of the suite: `check` in `region`, the `n`th execution after `base_ms`.
/// Every third execution of `api` in `eu` fails with a 503.
pub fn result(check: &str, region: &str, base_ms: i64, n: i64) -> ProbeResult {
    let available = !(check == "api" && region == "eu" && n % 3 == 2);
    let latency = 10.0 + n as f64 + if region == "eu" { 5.0 } else { 0.0 };
    ProbeResult {
        version: RESULT_VERSION,
        region: region.into(),
        check_id: check.into(),
        url: format!("http://127.0.0.1:9/{check}"),
        scheduled_at_ms: base_ms + n * STEP_MS,
        started_at_ms: base_ms + n * STEP_MS + 2,
        available,
        status_code: Some(if available { 200 } else { 503 }),
        error_class: (!available).then_some(ErrorClass::HttpStatus),
        error_message: (!available).then(|| "status 503 is not accepted".to_string()),
        requests: 2,
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
        bytes: 100,
        remote_ip: Some("127.0.0.1".into()),
        http_version: Some("HTTP/1.1".into()),
        tls_cert_days_left: None,
        redirects: 0,
        attempts: 1,
        tags: BTreeMap::from([("team".to_string(), "web".to_string())]),
        probe: ProbeHealth::default(),
    }
}

/// The suite's data set from `base_ms`: checks `api` and `web`, regions `eu` and `us`,
/// [`EXECUTIONS`] executions each.
pub fn results_at(base_ms: i64) -> Vec<ProbeResult> {
    let mut all = Vec::new();
    for check in ["api", "web"] {
        for region in ["eu", "us"] {
            for n in 0..EXECUTIONS {
                all.push(result(check, region, base_ms, n));
            }
        }
    }
    all
}

fn key(check: &str, region: &str, at_ms: i64) -> (String, String, i64) {
    (check.to_string(), region.to_string(), at_ms)
}

fn sorted(mut samples: Vec<Sample>) -> Vec<Sample> {
    samples.sort_by(|a, b| {
        (&a.check_id, &a.region, a.scheduled_at_ms).cmp(&(
            &b.check_id,
            &b.region,
            b.scheduled_at_ms,
        ))
    });
    samples
}

/// The whole suite for a store with both ports. `name` labels the failures.
pub async fn full<S: ResultStore + ResultReader>(name: &str, store: &S) {
    let written = results_at(BASE_MS);
    let span = Window {
        from_ms: BASE_MS,
        to_ms: BASE_MS + (EXECUTIONS - 1) * STEP_MS,
    };

    // An empty store answers with empty lists, not errors.
    let empty = store.samples(span, None).await;
    assert!(
        matches!(&empty, Ok(s) if s.is_empty()),
        "{name}: an empty store must give no samples, got {empty:?}"
    );
    let overview = store
        .overview(span)
        .await
        .expect("overview of an empty store");
    assert!(
        overview.checks.is_empty(),
        "{name}: overview of an empty store lists {:?}",
        overview.checks
    );

    // Write in two batches, then write everything again: nothing is duplicated.
    let (first, second) = written.split_at(written.len() / 2);
    store
        .write(first)
        .await
        .unwrap_or_else(|e| panic!("{name}: write failed: {e}"));
    store
        .write(second)
        .await
        .unwrap_or_else(|e| panic!("{name}: write failed: {e}"));
    store
        .write(&written)
        .await
        .unwrap_or_else(|e| panic!("{name}: rewrite failed: {e}"));

    // Every execution comes back once, field for field.
    let samples = sorted(store.samples(span, None).await.expect("samples"));
    let expected = sorted(written.iter().map(Sample::from).collect());
    assert_eq!(
        samples.len(),
        expected.len(),
        "{name}: samples read back after a rewrite"
    );
    for (got, want) in samples.iter().zip(&expected) {
        assert_eq!(
            got, want,
            "{name}: sample read back differs from the one written"
        );
    }

    // Windows include both ends and nothing outside.
    let inner = Window {
        from_ms: BASE_MS + STEP_MS,
        to_ms: BASE_MS + 3 * STEP_MS,
    };
    let inside = store
        .samples(inner, None)
        .await
        .expect("samples of an inner window");
    let times: BTreeSet<i64> = inside.iter().map(|s| s.scheduled_at_ms).collect();
    assert_eq!(
        times,
        BTreeSet::from([
            BASE_MS + STEP_MS,
            BASE_MS + 2 * STEP_MS,
            BASE_MS + 3 * STEP_MS
        ]),
        "{name}: a window must include both ends and exclude the rest"
    );
    assert_eq!(
        inside.len(),
        3 * 4,
        "{name}: 3 executions x 2 checks x 2 regions"
    );

    // One check only.
    let web = store
        .samples(span, Some("web"))
        .await
        .expect("samples of one check");
    assert_eq!(
        web.len() as i64,
        2 * EXECUTIONS,
        "{name}: samples of check web"
    );
    assert!(
        web.iter().all(|s| s.check_id == "web"),
        "{name}: --check leaked other checks"
    );
    let none = store
        .samples(span, Some("nope"))
        .await
        .expect("samples of an unknown check");
    assert!(none.is_empty(), "{name}: an unknown check has no samples");

    // The overview agrees with the samples: per check and region, the count and the
    // number that passed, and the last result.
    let overview = store.overview(span).await.expect("overview");
    let ids: Vec<&str> = overview
        .checks
        .iter()
        .map(|c| c.check_id.as_str())
        .collect();
    assert_eq!(ids, ["api", "web"], "{name}: overview checks");
    let api = &overview.checks[0];
    let eu = api
        .regions
        .iter()
        .find(|r| r.region == "eu")
        .expect("api in eu");
    assert_eq!(eu.samples as i64, EXECUTIONS, "{name}: api/eu samples");
    assert_eq!(eu.passed, 4, "{name}: api/eu passed (2 of 6 failed)");
    assert_eq!(eu.last.at_ms, span.to_ms, "{name}: api/eu last result time");
    assert!(
        !eu.last.available,
        "{name}: the last api/eu execution failed"
    );
    assert_eq!(
        eu.last.error_class.as_deref(),
        Some("http_status"),
        "{name}: api/eu last error class"
    );

    // Failures: newest first, limited, only failures.
    let failures = store.failures("api", span, 1).await.expect("failures");
    assert_eq!(failures.failures.len(), 1, "{name}: failures limit 1");
    assert_eq!(
        failures.failures[0].at_ms,
        BASE_MS + 5 * STEP_MS,
        "{name}: the newest failure comes first"
    );
    let all_failures = store.failures("api", span, 50).await.expect("failures");
    assert_eq!(all_failures.failures.len(), 2, "{name}: api failed twice");
    let none = store
        .failures("web", span, 50)
        .await
        .expect("failures of web");
    assert!(none.failures.is_empty(), "{name}: web never failed");

    // Series and phases: one entry per region.
    let series = store.series("api", span).await.expect("series");
    let regions: BTreeSet<&str> = series.regions.iter().map(|r| r.region.as_str()).collect();
    assert_eq!(
        regions,
        BTreeSet::from(["eu", "us"]),
        "{name}: series regions"
    );
    assert!(
        series.regions.iter().all(|r| !r.t_ms.is_empty()),
        "{name}: every region has latency points"
    );
    let phases = store.phases("api", span).await.expect("phases");
    assert_eq!(phases.regions.len(), 2, "{name}: phases per region");
    assert!(
        !store.describe().is_empty(),
        "{name}: describe names the store"
    );
}

/// The write half of the suite, for a store whose reads cannot run here. `read_back`
/// returns the (check id, region, scheduled time) of every stored record, duplicates
/// included. With `exactly_once`, a rewritten batch must leave no duplicate; without
/// it (an emulator that appends every record, where the real service keeps one copy
/// of an identical record), every result must be stored and nothing else.
pub async fn write_only<S, F, Fut>(name: &str, store: &S, exactly_once: bool, read_back: F)
where
    S: ResultStore,
    F: Fn() -> Fut,
    Fut: Future<Output = Vec<(String, String, i64)>>,
{
    let written = results_at(BASE_MS);
    let (first, second) = written.split_at(written.len() / 2);
    store
        .write(first)
        .await
        .unwrap_or_else(|e| panic!("{name}: write failed: {e}"));
    store
        .write(second)
        .await
        .unwrap_or_else(|e| panic!("{name}: write failed: {e}"));
    store
        .write(&written)
        .await
        .unwrap_or_else(|e| panic!("{name}: rewrite failed: {e}"));
    let mut stored = read_back().await;
    stored.sort();
    if !exactly_once {
        stored.dedup();
    }
    let mut expected: Vec<_> = written
        .iter()
        .map(|r| key(&r.check_id, &r.region, r.scheduled_at_ms))
        .collect();
    expected.sort();
    assert_eq!(
        stored, expected,
        "{name}: every result stored exactly once after a rewrite"
    );
}
