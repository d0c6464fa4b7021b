//! The Timestream side of the dashboard without AWS: the SQL of each call (bound to the
//! window, quoting what it must) and the parsing of result rows shaped as Timestream
//! returns them (scalars as text, NULL as absent).

use webmon_aws::timestream::read::{parse_failures, parse_overview, parse_phases, parse_series};
use webmon_aws::timestream::{Rows, TimestreamQueries};
use webmon_core::read::model::Health;
use webmon_core::read::Window;

const NOW_MS: i64 = 1_750_000_000_000;

fn window() -> Window {
    Window::since(Some("1h"), NOW_MS).unwrap()
}

fn rows(columns: &[&str], data: &[&[Option<&str>]]) -> Rows {
    Rows {
        columns: columns.iter().map(|c| c.to_string()).collect(),
        rows: data
            .iter()
            .map(|r| r.iter().map(|v| v.map(str::to_string)).collect())
            .collect(),
    }
}

/// Every column a webmon table has once every measure was written.
const ALL: [&str; 17] = [
    "check_id",
    "url",
    "region",
    "measure_name",
    "time",
    "available",
    "status_code",
    "error_class",
    "error_message",
    "latency_avg_ms",
    "dns_ms",
    "connect_ms",
    "tls_ms",
    "ttfb_ms",
    "transfer_ms",
    "warm_ttfb_ms",
    "tls_cert_days_left",
];

fn columns(without: &[&str]) -> Vec<String> {
    ALL.iter()
        .filter(|c| !without.contains(c))
        .map(|c| c.to_string())
        .collect()
}

#[test]
fn every_query_is_bound_to_the_window_and_the_measure() {
    let q = TimestreamQueries::new("webmon", "results").unwrap();
    let w = window();
    let all = columns(&[]);
    assert_eq!(q.describe(), "DESCRIBE \"webmon\".\"results\"");
    let bound = format!(
        "FROM \"webmon\".\"results\" WHERE measure_name = 'probe' AND time BETWEEN from_milliseconds({}) AND from_milliseconds({})",
        w.from_ms, w.to_ms
    );
    for sql in [
        q.overview(w, &all),
        q.series("api", w, &all),
        q.phases("api", w, &all),
        q.failures("api", w, 50, &all),
    ] {
        assert!(sql.contains(&bound), "{sql}");
        assert!(sql.starts_with("SELECT "), "{sql}");
    }
    assert!(q.series("api", w, &all).contains("bin(time, 15000ms)"));
    assert!(q.series("api", w, &all).contains("AND check_id = 'api'"));
    assert!(q.failures("api", w, 7, &all).ends_with("LIMIT 7"));
    assert!(q
        .phases("api", w, &all)
        .contains("AND status_code IS NOT NULL"));
    // Quotes in values are escaped, not trusted.
    assert!(q
        .failures("it's", w, 1, &all)
        .contains("check_id = 'it''s'"));
    assert!(TimestreamQueries::new("web\"mon", "results")
        .unwrap_err()
        .contains("web\\\"mon"));
    assert!(TimestreamQueries::new("webmon", "").is_err());
}

/// A table where nothing failed yet and no warm request was made has no `error_class`,
/// `error_message` or `warm_ttfb_ms` column: the SQL must not name them, and selects a
/// typed NULL under the same result name instead.
#[test]
fn measures_never_written_are_selected_as_null() {
    let q = TimestreamQueries::new("webmon", "results").unwrap();
    let w = window();
    let absent = ["error_class", "error_message", "warm_ttfb_ms"];
    let some = columns(&absent);
    let all = columns(&[]);
    let sql = |columns: &[String]| {
        [
            q.overview(w, columns),
            q.series("api", w, columns),
            q.phases("api", w, columns),
            q.failures("api", w, 10, columns),
        ]
    };
    for text in sql(&some) {
        for name in absent {
            // Only as a result name (`AS warm_ttfb_ms`), never read from the table.
            let read = text
                .replace(&format!("AS last_{name}"), "")
                .replace(&format!("AS {name}"), "");
            assert!(!read.contains(name), "{name} in {text}");
        }
    }
    let [overview, _, phases, failures] = sql(&some);
    assert!(overview.contains(
        "CAST(NULL AS VARCHAR) AS last_error_class, CAST(NULL AS VARCHAR) AS last_error_message"
    ));
    assert!(
        phases.contains("CAST(NULL AS DOUBLE) AS warm_ttfb_ms"),
        "{phases}"
    );
    assert!(failures.contains(
        "status_code AS status_code, CAST(NULL AS VARCHAR) AS error_class, CAST(NULL AS VARCHAR) AS error_message"
    ));

    let [overview, _, phases, failures] = sql(&all);
    assert!(overview.contains(
        "max_by(error_class, time) AS last_error_class, max_by(error_message, time) AS last_error_message"
    ), "{overview}");
    assert!(phases.contains("approx_percentile(warm_ttfb_ms, 0.5) AS warm_ttfb_ms"));
    assert!(failures.contains("error_class AS error_class, error_message AS error_message"));
    assert!(!sql(&all).concat().contains("CAST(NULL"));

    // Nothing answered yet: no status_code, so no latency and no answered phases.
    let unanswered = columns(&["status_code"]);
    let [overview, series, phases, _] = sql(&unanswered);
    assert!(
        overview.contains("CAST(NULL AS DOUBLE) AS p50_ms"),
        "{overview}"
    );
    assert!(overview.contains("CAST(NULL AS BIGINT) AS last_status_code"));
    assert!(
        series.contains("CAST(NULL AS DOUBLE) AS latency_ms"),
        "{series}"
    );
    assert!(
        phases.contains("AND CAST(NULL AS BIGINT) IS NOT NULL"),
        "{phases}"
    );
    assert!(!sql(&unanswered).concat().contains("status_code IS"));
}

#[test]
fn overview_rows_become_checks_with_health() {
    let r = rows(
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
        &[
            &[
                Some("api"),
                Some("eu-west-1"),
                Some("https://api.example.test/"),
                Some("60"),
                Some("60"),
                Some("44.0"),
                Some("49.0"),
                Some("1749999970000"),
                Some("true"),
                Some("200"),
                None,
                None,
            ],
            &[
                Some("api"),
                Some("us-east-1"),
                Some("https://api.example.test/"),
                Some("40"),
                Some("30"),
                None,
                None,
                Some("1749999970000"),
                Some("false"),
                None,
                Some("connect"),
                Some("connection refused"),
            ],
        ],
    );
    let o = parse_overview(&r, window()).unwrap();
    assert_eq!(o.checks.len(), 1);
    let c = &o.checks[0];
    assert_eq!(
        (c.check_id.as_str(), c.url.as_str(), c.health),
        ("api", "https://api.example.test/", Health::Degraded)
    );
    assert_eq!(c.regions[0].p95_ms, Some(49.0));
    assert_eq!(c.regions[0].last.status_code, Some(200));
    assert_eq!(c.regions[1].availability_pct, 75.0);
    assert_eq!(c.regions[1].p50_ms, None);
    assert_eq!(
        c.regions[1].last.error_message.as_deref(),
        Some("connection refused")
    );
}

#[test]
fn series_phases_and_failures_rows() {
    let w = window();
    let s = parse_series(
        &rows(
            &["region", "t_ms", "latency_ms", "failures"],
            &[
                &[
                    Some("eu-west-1"),
                    Some("1749996400000"),
                    Some("41.5"),
                    Some("0"),
                ],
                &[Some("eu-west-1"), Some("1749996415000"), None, Some("1")],
                &[
                    Some("us-east-1"),
                    Some("1749996400000"),
                    Some("90.25"),
                    Some("0.0"),
                ],
            ],
        ),
        "api",
        w,
    )
    .unwrap();
    assert_eq!(s.bucket_ms, 15_000);
    assert_eq!(s.regions.len(), 2);
    assert_eq!(s.regions[0].latency_ms, [Some(41.5), None]);
    assert_eq!(s.regions[0].failures, [0, 1]);
    assert_eq!(s.regions[1].t_ms, [1_749_996_400_000]);

    let p = parse_phases(
        &rows(
            &[
                "region",
                "samples",
                "dns_ms",
                "connect_ms",
                "tls_ms",
                "ttfb_ms",
                "transfer_ms",
                "warm_ttfb_ms",
            ],
            &[&[
                Some("eu-west-1"),
                Some("12"),
                Some("1.5"),
                Some("10"),
                Some("12"),
                Some("20"),
                Some("2"),
                None,
            ]],
        ),
        "api",
        w,
    )
    .unwrap();
    assert_eq!(
        (
            p.regions[0].samples,
            p.regions[0].connect_ms,
            p.regions[0].warm_ttfb_ms
        ),
        (12, 10.0, None)
    );

    let f = parse_failures(
        &rows(
            &[
                "at_ms",
                "region",
                "status_code",
                "error_class",
                "error_message",
            ],
            &[&[
                Some("1749999970000"),
                Some("us-east-1"),
                Some("503"),
                Some("http_status"),
                Some("status 503"),
            ]],
        ),
        "api",
        w,
    )
    .unwrap();
    assert_eq!(
        (f.failures[0].at_ms, f.failures[0].status_code),
        (1_749_999_970_000, Some(503))
    );
}

#[test]
fn malformed_rows_name_the_column() {
    let w = window();
    let bad_number = rows(
        &["region", "t_ms", "latency_ms", "failures"],
        &[&[Some("eu"), Some("x1"), None, None]],
    );
    let e = parse_series(&bad_number, "api", w).unwrap_err().to_string();
    assert!(e.contains("column t_ms") && e.contains("\"x1\""), "{e}");
    let missing = rows(&["region"], &[&[Some("eu")]]);
    let e = parse_failures(&missing, "api", w).unwrap_err().to_string();
    assert!(e.contains("no column at_ms"), "{e}");
    assert!(!parse_failures(&missing, "api", w)
        .unwrap_err()
        .is_retriable());
}

#[test]
fn long_window_statistics_and_uptime_are_aggregated_in_timestream() {
    use webmon_aws::timestream::read::{parse_stats, parse_uptime};

    let q = TimestreamQueries::new("webmon", "results").unwrap();
    let w = Window::since(Some("30d"), NOW_MS).unwrap();
    let sql = q.stats(w, Some("it's"), false, &columns(&[]));
    assert!(sql.contains("approx_percentile(CASE WHEN status_code IS NOT NULL THEN latency_avg_ms END, 0.99) AS p99_ms"), "{sql}");
    assert!(sql.contains("AND check_id = 'it''s'"), "{sql}");
    assert!(
        sql.ends_with("GROUP BY check_id, region ORDER BY check_id, region"),
        "{sql}"
    );
    let together = q.stats(w, None, true, &columns(&["warm_ttfb_ms", "error_class"]));
    assert!(
        together.starts_with("SELECT check_id, 'all' AS region,"),
        "{together}"
    );
    assert!(
        together.contains("CAST(NULL AS DOUBLE) AS warm_ttfb_p50_ms"),
        "{together}"
    );
    assert!(
        together.contains("CAST(NULL AS VARCHAR) AS last_error_class"),
        "{together}"
    );
    assert!(
        together.ends_with("GROUP BY check_id ORDER BY check_id"),
        "{together}"
    );

    let cols = [
        "check_id",
        "region",
        "samples",
        "passed",
        "p50_ms",
        "p95_ms",
        "p99_ms",
        "avg_ms",
        "ttfb_p50_ms",
        "warm_ttfb_p50_ms",
        "dns_p50_ms",
        "connect_p50_ms",
        "tls_p50_ms",
        "transfer_p50_ms",
        "last_at_ms",
        "last_available",
        "last_status_code",
        "last_error_class",
        "last_error_message",
    ];
    let stats = parse_stats(&rows(
        &cols,
        &[&[
            Some("api"),
            Some("eu-west-1"),
            Some("86400"),
            Some("86391"),
            Some("120.5"),
            Some("180.25"),
            Some("240.0"),
            Some("125.125"),
            Some("60.0"),
            None,
            Some("1.5"),
            Some("20.0"),
            Some("30.0"),
            Some("2.0"),
            Some("1752592000000"),
            Some("false"),
            Some("503"),
            Some("http_status"),
            Some("status 503 is not accepted"),
        ]],
    ))
    .unwrap();
    let s = &stats[0];
    assert_eq!((s.samples, s.available), (86_400, 86_391));
    assert!((s.availability_pct - 99.989_583).abs() < 1e-4);
    assert_eq!((s.latency_p99_ms, s.warm_ttfb_p50_ms), (Some(240.0), None));
    assert_eq!(s.last_status, Some(503));
    assert_eq!(
        s.last_error.as_deref(),
        Some("http_status: status 503 is not accepted")
    );
    assert!(parse_stats(&rows(&cols[..3], &[&[Some("api"), Some("eu"), Some("x")]])).is_err());

    let day = 86_400_000;
    let today = NOW_MS - NOW_MS.rem_euclid(day);
    let uptime_sql = q.uptime(
        Window {
            from_ms: today - day,
            to_ms: NOW_MS,
        },
        &columns(&[]),
    );
    assert!(
        uptime_sql.contains("GROUP BY check_id, bin(time, 86400000ms)"),
        "{uptime_sql}"
    );
    let today_ms = today.to_string();
    let yesterday_ms = (today - day).to_string();
    let uptime = parse_uptime(
        &rows(
            &["check_id", "day_ms", "samples", "passed"],
            &[
                &[Some("api"), Some(&yesterday_ms), Some("2880"), Some("2880")],
                &[Some("api"), Some(&today_ms), Some("100"), Some("99")],
            ],
        ),
        2,
        NOW_MS,
    )
    .unwrap();
    let api = &uptime.checks[0];
    assert_eq!((api.samples, api.passed), (2_980, 2_979));
    assert_eq!(api.days[0].availability_pct, Some(100.0));
    assert_eq!(api.days[1].availability_pct, Some(99.0));
}
