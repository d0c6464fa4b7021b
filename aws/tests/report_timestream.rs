//! The Timestream side of `webmon report` without AWS: the exact SQL (window bound with
//! `from_milliseconds`, names checked and quoted, check ids escaped, only existing
//! columns selected) and the parsing of rows as Timestream returns them.

use webmon_aws::timestream::samples::{parse_columns, parse_samples, ReportQuery};
use webmon_aws::timestream::Rows;
use webmon_core::report::summarize;
use webmon_core::report::window::Window;

const W: Window = Window {
    from_ms: 1_750_000_000_000,
    to_ms: 1_750_003_600_000,
};

fn rows(columns: &[&str], data: &[&[Option<&str>]]) -> Rows {
    Rows {
        columns: columns.iter().map(|c| c.to_string()).collect(),
        rows: data
            .iter()
            .map(|r| r.iter().map(|v| v.map(str::to_string)).collect())
            .collect(),
    }
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|c| c.to_string()).collect()
}

#[test]
fn exact_sql_bound_to_the_window() {
    let q = ReportQuery::new("webmon", "results").unwrap();
    assert_eq!(q.describe(), "DESCRIBE \"webmon\".\"results\"");
    let all = names(&[
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
        "ttfb_ms",
        "warm_ttfb_ms",
        "dns_ms",
        "connect_ms",
        "tls_ms",
        "transfer_ms",
        "bytes",
        "tag_team",
    ]);
    assert_eq!(
        q.samples(&W, None, &all),
        "SELECT check_id, region, to_milliseconds(time) AS at_ms, available, status_code, \
         error_class, error_message, latency_avg_ms, ttfb_ms, warm_ttfb_ms, dns_ms, connect_ms, \
         tls_ms, transfer_ms FROM \"webmon\".\"results\" WHERE measure_name = 'probe' AND time \
         BETWEEN from_milliseconds(1750000000000) AND from_milliseconds(1750003600000)"
    );
    // Measures never written are not selected; a check id is an escaped literal.
    let few = names(&["check_id", "region", "time", "available", "latency_avg_ms"]);
    assert_eq!(
        q.samples(&W, Some("it's'; DROP"), &few),
        "SELECT check_id, region, to_milliseconds(time) AS at_ms, available, latency_avg_ms \
         FROM \"webmon\".\"results\" WHERE measure_name = 'probe' AND time BETWEEN \
         from_milliseconds(1750000000000) AND from_milliseconds(1750003600000) \
         AND check_id = 'it''s''; DROP'"
    );
}

#[test]
fn names_outside_the_service_rule_are_refused() {
    assert!(ReportQuery::new("web-mon.prod_1", "results").is_ok());
    for (db, table) in [
        ("web\"mon", "results"),
        ("webmon", "a b"),
        ("db", "results"),
        ("webmon", ""),
    ] {
        let err = ReportQuery::new(db, table).unwrap_err();
        assert!(err.contains("is not 3 to 256 letters"), "{err}");
    }
    let long = "x".repeat(257);
    assert!(ReportQuery::new("webmon", &long).is_err());
}

#[test]
fn describe_tells_missing_and_foreign_tables_apart() {
    let table = "\"webmon\".\"results\"";
    let none = rows(&["Column", "Type", "Timestream attribute type"], &[]);
    let err = parse_columns(&none, table).unwrap_err().to_string();
    assert!(
        err.contains("\"webmon\".\"results\": it does not exist or has no columns"),
        "{err}"
    );
    let foreign = rows(
        &["Column", "Type", "Timestream attribute type"],
        &[
            &[Some("host"), Some("varchar"), Some("DIMENSION")],
            &[Some("time"), Some("timestamp"), Some("TIMESTAMP")],
        ],
    );
    let err = parse_columns(&foreign, table).unwrap_err().to_string();
    assert!(err.contains("has no check_id column"), "{err}");
    let ours = rows(
        &["Column"],
        &[&[Some("check_id")], &[Some("region")], &[Some("available")]],
    );
    assert_eq!(
        parse_columns(&ours, table).unwrap(),
        names(&["check_id", "region", "available"])
    );
}

#[test]
fn rows_parse_into_samples_with_absent_columns_as_null() {
    let r = rows(
        &[
            "check_id",
            "region",
            "at_ms",
            "available",
            "status_code",
            "latency_avg_ms",
            "ttfb_ms",
            "dns_ms",
        ],
        &[
            &[
                Some("api"),
                Some("eu-west-1"),
                Some("1750000010000"),
                Some("true"),
                Some("200"),
                Some("12.5"),
                Some("6.0"),
                Some("1.25"),
            ],
            &[
                Some("api"),
                Some("eu-west-1"),
                Some("1750000020000"),
                Some("false"),
                None,
                Some("0.0"),
                Some("0.0"),
                Some("0.0"),
            ],
        ],
    );
    let samples = parse_samples(&r).unwrap();
    assert_eq!(samples.len(), 2);
    assert_eq!(samples[0].status_code, Some(200));
    assert_eq!((samples[0].warm_ttfb_ms, samples[0].tls_ms), (None, 0.0));
    assert_eq!(samples[1].error_class, None);
    let stats = summarize(&samples);
    assert_eq!((stats[0].samples, stats[0].available), (2, 1));
    assert_eq!(
        (stats[0].latency_p50_ms, stats[0].dns_p50_ms),
        (Some(12.5), Some(1.25))
    );
    assert_eq!(
        (stats[0].last_available, stats[0].last_scheduled_at_ms),
        (false, 1_750_000_020_000)
    );

    let bad = rows(
        &["check_id", "region", "at_ms", "latency_avg_ms"],
        &[&[Some("api"), Some("x"), Some("1"), Some("fast")]],
    );
    let err = parse_samples(&bad).unwrap_err().to_string();
    assert!(
        err.contains("column latency_avg_ms: \"fast\" is not a number"),
        "{err}"
    );
    let no_region = rows(&["check_id", "at_ms"], &[&[Some("api"), Some("1")]]);
    let err = parse_samples(&no_region).unwrap_err().to_string();
    assert!(err.contains("a row has no region"), "{err}");
}
