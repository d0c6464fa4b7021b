//! Every Timestream SQL text the project generates, for representative windows, tables
//! and check ids (hostile ones with quotes among them), written to one JSON file that
//! `infra-tests/test_timestream_sql.py` parses with a real SQL parser (sqlglot, Trino
//! dialect with Timestream's duration literals): a query Timestream could not parse
//! fails there, before any deployment.
//!
//! The file is `$WEBMON_SQL_DUMP` when set (the Python test sets it and runs this test
//! itself, so it never reads a stale dump), else `timestream-sql.json` under cargo's
//! test scratch directory. This test checks on its own that the dump is complete: every
//! query kind, every check id, each escaped as a literal.

use webmon_aws::timestream::samples::ReportQuery;
use webmon_aws::timestream::TimestreamQueries;
use webmon_core::read::model::Window;

/// Check ids as an operator may write them, quotes and SQL fragments included.
const CHECK_IDS: &[&str] = &[
    "api",
    "home-page_v2.eu",
    "it's",
    "'; DROP TABLE results; --",
    "a''b",
    "back\\slash'",
    "ünï'cödé \"quoted\"",
];

/// Windows: a minute, an hour, a day, 30 days, 400 days (the longest `--since`), and a
/// window of one instant.
const WINDOWS: &[(i64, i64)] = &[
    (1_750_000_000_000, 1_750_000_060_000),
    (1_750_000_000_000, 1_750_003_600_000),
    (1_750_000_000_000, 1_750_086_400_000),
    (1_750_000_000_000, 1_752_592_000_000),
    (1_715_440_000_000, 1_750_000_000_000),
    (1_750_000_000_000, 1_750_000_000_000),
];

/// Tables: the default and names at the edges of Timestream's naming rule.
const TABLES: &[(&str, &str)] = &[("webmon", "results"), ("web-mon.prod_1", "r-1.x_y")];

/// The writer's columns (every measure written at least once).
const ALL_COLUMNS: &[&str] = &[
    "check_id",
    "url",
    "region",
    "tag_team",
    "measure_name",
    "time",
    "available",
    "status_code",
    "requests",
    "latency_avg_ms",
    "latency_min_ms",
    "latency_max_ms",
    "latency_p50_ms",
    "dns_ms",
    "connect_ms",
    "tls_ms",
    "ttfb_ms",
    "transfer_ms",
    "warm_ttfb_ms",
    "bytes",
    "redirects",
    "attempts",
    "error_class",
    "error_message",
    "remote_ip",
    "http_version",
    "started_at_ms",
    "start_delay_ms",
    "cold_start",
];
/// A young table: nothing failed yet, no warm requests, nothing answered.
const FEW_COLUMNS: &[&str] = &[
    "check_id",
    "url",
    "region",
    "measure_name",
    "time",
    "available",
    "latency_avg_ms",
];
/// The dimensions alone.
const BARE_COLUMNS: &[&str] = &["check_id", "url", "region", "measure_name", "time"];

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|c| c.to_string()).collect()
}

/// One generated query: where it comes from, the check id it names (if any) and its
/// text.
struct Query {
    at: String,
    check_id: Option<&'static str>,
    sql: String,
}

/// Every query the report and the dashboard build.
fn every_query() -> Vec<Query> {
    let mut out = Vec::new();
    let mut push = |at: String, check_id: Option<&'static str>, sql: String| {
        out.push(Query { at, check_id, sql })
    };
    let column_sets = [
        ("all columns", names(ALL_COLUMNS)),
        ("few columns", names(FEW_COLUMNS)),
        ("bare columns", names(BARE_COLUMNS)),
    ];
    for (database, table) in TABLES {
        let report = ReportQuery::new(database, table).unwrap();
        let dash = TimestreamQueries::new(database, table).unwrap();
        let on = format!("{database}.{table}");
        push(format!("report describe {on}"), None, report.describe());
        push(format!("dashboard describe {on}"), None, dash.describe());
        for &(from_ms, to_ms) in WINDOWS {
            let w = Window { from_ms, to_ms };
            for (set, columns) in &column_sets {
                let at = format!("{on} {from_ms}..{to_ms} {set}");
                push(
                    format!("report samples {at}"),
                    None,
                    report.samples(&w, None, columns),
                );
                push(
                    format!("dashboard samples {at}"),
                    None,
                    dash.samples(&w, None, columns),
                );
                push(
                    format!("dashboard overview {at}"),
                    None,
                    dash.overview(w, columns),
                );
                push(
                    format!("report stats {at}"),
                    None,
                    dash.stats(w, None, false, columns),
                );
                push(
                    format!("dashboard uptime {at}"),
                    None,
                    dash.uptime(w, columns),
                );
                for &id in CHECK_IDS {
                    let at = format!("{at} check {id:?}");
                    let id_query = [
                        ("report samples", report.samples(&w, Some(id), columns)),
                        ("dashboard samples", dash.samples(&w, Some(id), columns)),
                        ("dashboard series", dash.series(id, w, columns)),
                        ("dashboard phases", dash.phases(id, w, columns)),
                        ("dashboard failures", dash.failures(id, w, 50, columns)),
                        ("report stats", dash.stats(w, Some(id), false, columns)),
                        ("badge stats", dash.stats(w, Some(id), true, columns)),
                    ];
                    for (kind, sql) in id_query {
                        push(format!("{kind} {at}"), Some(id), sql);
                    }
                }
            }
        }
    }
    out
}

#[test]
fn every_generated_timestream_query_is_dumped_for_the_sql_parser() {
    let queries = every_query();
    // 2 tables x (2 describes + 6 windows x 3 column sets x (5 + 7 ids x 7)).
    assert_eq!(queries.len(), 2 * (2 + 6 * 3 * (5 + CHECK_IDS.len() * 7)));
    for kind in [
        "report describe",
        "dashboard describe",
        "report samples",
        "dashboard samples",
        "dashboard overview",
        "dashboard series",
        "dashboard phases",
        "dashboard failures",
        "report stats",
        "dashboard uptime",
        "badge stats",
    ] {
        assert!(
            queries.iter().any(|q| q.at.starts_with(kind)),
            "no {kind} query"
        );
    }
    // Every check id reaches the SQL only as a literal with its quotes doubled.
    for &id in CHECK_IDS {
        let literal = format!("'{}'", id.replace('\'', "''"));
        let with_id: Vec<&Query> = queries.iter().filter(|q| q.check_id == Some(id)).collect();
        assert_eq!(with_id.len(), 2 * 6 * 3 * 7, "{id}");
        for q in with_id {
            assert!(q.sql.contains(&literal), "{}: {}", q.at, q.sql);
        }
    }
    let doc = serde_json::Value::Array(
        queries
            .iter()
            .map(|q| serde_json::json!({ "where": q.at, "check_id": q.check_id, "sql": q.sql }))
            .collect(),
    );
    let path = std::env::var_os("WEBMON_SQL_DUMP")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("timestream-sql.json")
        });
    std::fs::write(&path, serde_json::to_string_pretty(&doc).unwrap())
        .unwrap_or_else(|e| panic!("failed to write {}: {e}", path.display()));
    eprintln!("{} queries written to {}", queries.len(), path.display());
}
