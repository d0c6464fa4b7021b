//! The Timestream query adapter on moto's server with canned results: the query text
//! the project builds is the text moto receives (moto only answers a registered exact
//! string), pages are followed by `NextToken`, rows become the same statistics as the
//! local report, and a missing table, an empty window and too many rows give clear
//! errors. The dashboard's `QueryRunner` port runs through the same adapter.

use std::sync::Arc;
use std::time::Duration;

use webmon_aws::timestream::query::TimestreamQuery;
use webmon_aws::timestream::samples::{fetch_samples, ReportQuery};
use webmon_aws::timestream::{Rows, TimestreamQueries, TimestreamReader};
use webmon_core::read::{ResultReader, Window};
use webmon_core::report::{by_region::by_region, summarize};
use webmon_testkit::canned;
use webmon_testkit::emulator::Emulator;

const REGION: &str = "eu-west-1";
const WINDOW: Window = Window {
    from_ms: 1_750_000_000_000,
    to_ms: 1_750_003_600_000,
};

fn rows(columns: &[&str], data: Vec<Vec<Option<String>>>) -> Rows {
    Rows {
        columns: columns.iter().map(|c| c.to_string()).collect(),
        rows: data,
    }
}

/// `DESCRIBE` as Timestream answers it, for a table where no execution ever failed with
/// a message and no warm request was made (those measures were never written).
fn describe() -> Rows {
    let columns = [
        ("check_id", "varchar", "DIMENSION"),
        ("url", "varchar", "DIMENSION"),
        ("region", "varchar", "DIMENSION"),
        ("measure_name", "varchar", "MEASURE_NAME"),
        ("time", "timestamp", "TIMESTAMP"),
        ("available", "boolean", "MULTI"),
        ("status_code", "bigint", "MULTI"),
        ("error_class", "varchar", "MULTI"),
        ("latency_avg_ms", "double", "MULTI"),
        ("dns_ms", "double", "MULTI"),
        ("connect_ms", "double", "MULTI"),
        ("tls_ms", "double", "MULTI"),
        ("ttfb_ms", "double", "MULTI"),
        ("transfer_ms", "double", "MULTI"),
    ];
    rows(
        &["Column", "Type", "Timestream attribute type"],
        columns
            .iter()
            .map(|(c, t, a)| {
                vec![
                    Some(c.to_string()),
                    Some(t.to_string()),
                    Some(a.to_string()),
                ]
            })
            .collect(),
    )
}

const SAMPLE_COLUMNS: [&str; 13] = [
    "check_id",
    "region",
    "at_ms",
    "available",
    "status_code",
    "error_class",
    "latency_avg_ms",
    "dns_ms",
    "connect_ms",
    "tls_ms",
    "ttfb_ms",
    "transfer_ms",
    "ignored_extra",
];

/// One execution row: latency `ms`, phases derived from it.
fn execution(region: &str, at_ms: i64, ms: f64, ok: bool) -> Vec<Option<String>> {
    let s = |v: String| Some(v);
    vec![
        s("api".into()),
        s(region.into()),
        s(at_ms.to_string()),
        s(ok.to_string()),
        ok.then(|| "200".to_string()),
        (!ok).then(|| "connect".to_string()),
        s(if ok { ms.to_string() } else { "0.0".into() }),
        s((ms / 10.0).to_string()),
        s((ms / 5.0).to_string()),
        s("0.0".into()),
        s((ms / 2.0).to_string()),
        s("1.5".into()),
        None,
    ]
}

async fn start() -> (Emulator, TimestreamQuery) {
    let emulator = Emulator::start()
        .await
        .expect("moto_server (pip install 'moto[server]')");
    let runner = TimestreamQuery::connect(&emulator.target(REGION))
        .await
        .unwrap();
    (emulator, runner)
}

#[tokio::test]
async fn report_query_text_pages_and_exact_stats() {
    let (emulator, runner) = start().await;
    let query = ReportQuery::new("webmon", "results").unwrap();
    let moto = emulator.moto_url();
    canned::register(
        &moto,
        REGION,
        &query.describe(),
        vec![canned::page(&describe(), None)],
    )
    .await
    .unwrap();
    let columns: Vec<String> = describe()
        .rows
        .iter()
        .map(|r| r[0].clone().unwrap())
        .collect();
    let sql = query.samples(&WINDOW, None, &columns);
    assert!(
        !sql.contains("warm_ttfb_ms") && !sql.contains("error_message"),
        "{sql}"
    );

    // eu-west-1: 1..=20 ms; us-east-1: 2..=40 ms then one refused connection, last.
    let at = |i: i64| WINDOW.from_ms + i * 10_000;
    let mut data: Vec<Vec<Option<String>>> = (1..=20)
        .map(|i| execution("eu-west-1", at(i), i as f64, true))
        .collect();
    data.extend((1..=20).map(|i| execution("us-east-1", at(i), 2.0 * i as f64, true)));
    data.push(execution("us-east-1", at(21), 0.0, false));
    let (first, second) = data.split_at(17);
    let (second, third) = second.split_at(17);
    let pages = vec![
        canned::page(&rows(&SAMPLE_COLUMNS, first.to_vec()), Some("page-2")),
        canned::page(&rows(&SAMPLE_COLUMNS, vec![]), Some("page-3")),
        canned::page(&rows(&SAMPLE_COLUMNS, second.to_vec()), Some("page-4")),
        canned::page(&rows(&SAMPLE_COLUMNS, third.to_vec()), None),
    ];
    canned::register(&moto, REGION, &sql, pages).await.unwrap();

    let samples = fetch_samples(&runner, &query, &WINDOW, None).await.unwrap();
    assert_eq!(samples.len(), 41);
    // DESCRIBE, then four pages of the same query.
    assert_eq!(emulator.count("timestream", "Query"), 5);

    let stats = summarize(&samples);
    assert_eq!(stats.len(), 2);
    let eu = &stats[0];
    assert_eq!(
        (eu.region.as_str(), eu.samples, eu.available),
        ("eu-west-1", 20, 20)
    );
    assert_eq!(
        (
            eu.latency_p50_ms,
            eu.latency_p95_ms,
            eu.latency_p99_ms,
            eu.latency_avg_ms
        ),
        (Some(10.0), Some(19.0), Some(20.0), Some(10.5))
    );
    assert_eq!(eu.cold_ttfb_p50_ms, Some(5.0));
    assert_eq!(eu.warm_ttfb_p50_ms, None);
    assert_eq!((eu.dns_p50_ms, eu.connect_p50_ms), (Some(1.0), Some(2.0)));
    assert_eq!((eu.tls_p50_ms, eu.transfer_p50_ms), (Some(0.0), Some(1.5)));
    let us = &stats[1];
    assert_eq!((us.samples, us.available), (21, 20));
    assert!((us.availability_pct - 2000.0 / 21.0).abs() < 1e-9);
    assert_eq!(
        (us.latency_p50_ms, us.latency_p95_ms, us.latency_p99_ms),
        (Some(20.0), Some(38.0), Some(40.0))
    );
    assert_eq!((us.last_available, us.last_status), (false, None));
    assert_eq!(us.last_error.as_deref(), Some("connect"));

    let view = by_region(&stats, "api").unwrap();
    assert_eq!(view.fastest.as_deref(), Some("eu-west-1"));
    assert_eq!(view.slowest.as_deref(), Some("us-east-1"));
    assert_eq!(view.regions[1].p50_vs_fastest, Some(2.0));
}

#[tokio::test]
async fn missing_table_empty_window_and_row_limit() {
    let (emulator, runner) = start().await;
    let moto = emulator.moto_url();

    // Moto answers an unregistered DESCRIBE with no rows, as for a table never written.
    let missing = ReportQuery::new("webmon", "nope").unwrap();
    let err = fetch_samples(&runner, &missing, &WINDOW, None)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("failed to read the Timestream table \"webmon\".\"nope\": it does not exist"),
        "{err}"
    );

    // A table that exists but holds no execution in the window: no rows, no error.
    let query = ReportQuery::new("webmon", "results").unwrap();
    canned::register(
        &moto,
        REGION,
        &query.describe(),
        vec![canned::page(&describe(), None)],
    )
    .await
    .unwrap();
    let samples = fetch_samples(&runner, &query, &WINDOW, Some("it's"))
        .await
        .unwrap();
    assert!(samples.is_empty());

    // Past the row limit the query is refused, with what to do about it.
    let limited = runner.clone().with_max_rows(3);
    let sql = "SELECT 1 AS n";
    let page = |n: i64| canned::page(&rows(&["n"], vec![vec![Some(n.to_string())]; 2]), None);
    let mut first = page(1);
    first["NextToken"] = "next".into();
    canned::register(&moto, REGION, sql, vec![first, page(2)])
        .await
        .unwrap();
    let err = limited.query_all(sql).await.unwrap_err().to_string();
    assert!(err.contains("more than 3 rows; narrow the window"), "{err}");

    // A token that comes back unchanged would page forever: refused at once.
    let sql = "SELECT 2 AS n";
    let mut again = page(3);
    again["NextToken"] = "same".into();
    canned::register(
        &moto,
        REGION,
        sql,
        vec![again.clone(), again.clone(), again],
    )
    .await
    .unwrap();
    let err = runner.query_all(sql).await.unwrap_err().to_string();
    assert!(
        err.contains("the same NextToken came back twice after page 2"),
        "{err}"
    );
}

/// The dashboard asks the table's columns with the report's `DESCRIBE` once, reuses
/// them, and never names a measure the table lacks (moto answers only the exact text).
#[tokio::test]
async fn dashboard_source_runs_through_the_adapter() {
    let (emulator, runner) = start().await;
    let moto = emulator.moto_url();
    let queries = TimestreamQueries::new("webmon", "results").unwrap();
    assert_eq!(
        queries.describe(),
        ReportQuery::new("webmon", "results").unwrap().describe()
    );
    canned::register(
        &moto,
        REGION,
        &queries.describe(),
        vec![canned::page(&describe(), None)],
    )
    .await
    .unwrap();
    let columns: Vec<String> = describe()
        .rows
        .iter()
        .map(|r| r[0].clone().unwrap())
        .collect();
    let sql = queries.overview(WINDOW, &columns);
    assert!(
        sql.contains("CAST(NULL AS VARCHAR) AS last_error_message")
            && sql.contains("max_by(error_class, time) AS last_error_class"),
        "{sql}"
    );
    let overview = rows(
        &[
            "check_id",
            "region",
            "url",
            "samples",
            "passed",
            "p50_ms",
            "p95_ms",
            "last_at_ms",
            "last_available",
            "last_status_code",
            "last_error_class",
            "last_error_message",
        ],
        vec![[
            "api",
            "eu-west-1",
            "https://api.example.test/",
            "60",
            "59",
            "44.0",
            "90.5",
        ]
        .iter()
        .map(|v| Some(v.to_string()))
        .chain([
            Some(WINDOW.to_ms.to_string()),
            Some("true".into()),
            Some("200".into()),
            None,
            None,
        ])
        .collect()],
    );
    // Moto serves each registered page once: one per overview call below.
    let page = canned::page(&overview, None);
    canned::register(&moto, REGION, &sql, vec![page.clone(), page])
        .await
        .unwrap();
    let source = TimestreamReader::new(Arc::new(runner.clone()), queries.clone());
    for _ in 0..2 {
        let got = source.overview(WINDOW).await.unwrap();
        assert_eq!(got.checks.len(), 1);
        let region = &got.checks[0].regions[0];
        assert_eq!(
            (region.samples, region.passed, region.p95_ms),
            (60, 59, Some(90.5))
        );
    }
    // One DESCRIBE for both calls (the column list is reused), then the two overviews.
    assert_eq!(emulator.count("timestream", "Query"), 3);
    // A call moto has no answer for reads as an empty window, not an error.
    let series = source.series("api", WINDOW).await.unwrap();
    assert!(series.regions.is_empty());
    assert_eq!(emulator.count("timestream", "Query"), 4);

    // Past the TTL the table is described again: the second call finds moto out of
    // DESCRIBE answers, and a table without columns is an error naming it.
    canned::register(
        &moto,
        REGION,
        &queries.describe(),
        vec![canned::page(&describe(), None)],
    )
    .await
    .unwrap();
    let expired = TimestreamReader::new(Arc::new(runner), queries).with_columns_ttl(Duration::ZERO);
    assert!(expired.series("api", WINDOW).await.is_ok());
    let err = expired.series("api", WINDOW).await.unwrap_err().to_string();
    assert!(
        err.contains("\"webmon\".\"results\": it does not exist"),
        "{err}"
    );
    assert_eq!(emulator.count("timestream", "Query"), 7);
}
