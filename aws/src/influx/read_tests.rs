//! Parsing of `/query` answers as InfluxDB 1.x, 2.x and 3.x give them.

use serde_json::json;

use super::*;

fn answer(values: Value) -> Value {
    json!({"results": [{"statement_id": 0, "series": [{
        "name": "probe",
        "tags": {"check_id": "api", "region": "eu", "url": "http://a"},
        "columns": ["time", "available", "status_code", "error_class", "error_message",
                    "latency_avg_ms", "ttfb_ms", "warm_ttfb_ms", "dns_ms", "connect_ms",
                    "tls_ms", "transfer_ms"],
        "values": values
    }]}]})
}

#[test]
fn rows_take_tags_from_the_series_and_nulls_as_absent() {
    let a = answer(json!([
        [
            1_767_225_600_000_i64,
            true,
            200,
            null,
            null,
            12.5,
            6,
            3.25,
            0.5,
            0.25,
            0,
            0.125
        ],
        [
            "2026-01-01T00:00:10.5Z",
            false,
            null,
            "timeout",
            "no answer",
            0,
            0,
            null,
            0,
            0,
            0,
            0
        ]
    ]));
    let rows = parse_rows(&a, "webmon", 10).unwrap();
    assert_eq!(rows.len(), 2);
    let ok = &rows[0].sample;
    assert_eq!(rows[0].url, "http://a");
    assert_eq!((ok.check_id.as_str(), ok.region.as_str()), ("api", "eu"));
    assert_eq!(
        (ok.scheduled_at_ms, ok.status_code),
        (1_767_225_600_000, Some(200))
    );
    assert_eq!((ok.latency_avg_ms, ok.warm_ttfb_ms), (12.5, Some(3.25)));
    let failed = &rows[1].sample;
    assert_eq!(failed.scheduled_at_ms, 1_767_225_610_500);
    assert!(!failed.available && failed.status_code.is_none());
    assert_eq!(failed.error_class.as_deref(), Some("timeout"));
}

#[test]
fn tags_may_also_come_as_columns() {
    let a = json!({"results": [{"series": [{
        "name": "probe",
        "columns": ["time", "check_id", "region", "available", "latency_avg_ms"],
        "values": [[5, "web", "us", true, 1.5]]
    }]}]});
    let rows = parse_rows(&a, "webmon", 10).unwrap();
    assert_eq!(rows[0].sample.check_id, "web");
    assert_eq!(rows[0].sample.region, "us");
}

#[test]
fn an_empty_answer_is_no_rows() {
    let a = json!({"results": [{"statement_id": 0}]});
    assert!(parse_rows(&a, "webmon", 10).unwrap().is_empty());
}

#[test]
fn errors_name_the_database_and_the_fix() {
    let a = json!({"results": [{"statement_id": 0, "error": "database not found: webmon"}]});
    let e = parse_rows(&a, "webmon", 10).unwrap_err().to_string();
    assert!(
        e.contains("database webmon") && e.contains("dbrp create"),
        "{e}"
    );
    let a = json!({"results": [{"statement_id": 0, "partial": true, "series": []}]});
    let e = parse_rows(&a, "webmon", 10).unwrap_err().to_string();
    assert!(e.contains("max-row-limit"), "{e}");
    let a = answer(json!([[1, true, 200], [2, true, 200]]));
    let e = parse_rows(&a, "webmon", 1).unwrap_err().to_string();
    assert!(e.contains("more than 1 rows"), "{e}");
    let a = answer(json!([[1, "yes"]]));
    let e = parse_rows(&a, "webmon", 5).unwrap_err().to_string();
    assert!(e.contains("available"), "{e}");
}

#[test]
fn reader_settings_are_checked_and_the_token_is_hidden() {
    assert!(InfluxReader::new("ftp://h", "db", Token::default()).is_err());
    assert!(InfluxReader::new("http://h", "", Token::default()).is_err());
    let r = InfluxReader::new("http://h:8086/", "db", Token::new("s3cr3t")).unwrap();
    assert_eq!(r.describe(), "the InfluxDB database db at http://h:8086");
    assert!(!format!("{r:?}").contains("s3cr3t"));
}
