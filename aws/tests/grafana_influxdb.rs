//! Validates `grafana/webmon-influxdb.json` without Grafana: it parses, every panel
//! queries the InfluxDB data source of the `datasource` variable in raw InfluxQL bound to
//! the dashboard's time range, every `$variable` is defined or one of Grafana's, every
//! measurement, field and tag named is one the writer writes (taken from the writer's
//! own line protocol, `webmon_aws::influx::to_line`), and every query runs on a real
//! InfluxDB 1.x holding the writer's points and returns data.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_json::Value;
use webmon_aws::influx::{to_line, InfluxConfig, InfluxStore, Token};
use webmon_core::ports::ResultStore;
use webmon_core::result::ErrorClass;
use webmon_testkit::conformance::{self, result};
use webmon_testkit::influx_servers::Influxd;

/// InfluxQL words and functions the queries may use besides names.
const INFLUXQL_WORDS: &[&str] = &[
    "select",
    "from",
    "where",
    "and",
    "or",
    "as",
    "group",
    "by",
    "time",
    "fill",
    "none",
    "order",
    "desc",
    "asc",
    "limit",
    "show",
    "tag",
    "values",
    "with",
    "key",
    "false",
    "true",
    "count",
    "mean",
    "median",
    "percentile",
    "0",
    "50",
    "95",
];
/// Grafana's own variables for the InfluxDB data source.
const GRAFANA_VARIABLES: &[&str] = &["timeFilter", "__interval", "interval"];

fn dashboard() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../grafana/webmon-influxdb.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("failed to read {}: {e}", path.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not valid JSON: {e}", path.display()))
}

/// The measurement, tag keys and field keys of the writer's point for a result with
/// every optional measure set.
fn written_names() -> (String, BTreeSet<String>, BTreeSet<String>) {
    let mut r = result("api", "eu", conformance::BASE_MS, 2);
    r.error_class = Some(ErrorClass::HttpStatus);
    r.error_message = Some("status".into());
    r.tls_cert_days_left = Some(30);
    let line = to_line(&r);
    let (head, rest) = line.split_once(' ').expect("tags and fields");
    let fields = rest.rsplit_once(' ').expect("timestamp").0;
    let mut parts = head.split(',');
    let measurement = parts.next().unwrap().to_string();
    let tags = parts
        .map(|t| t.split('=').next().unwrap().to_string())
        .collect();
    let fields = fields
        .split(',')
        .map(|f| f.split('=').next().unwrap().to_string())
        .collect();
    (measurement, tags, fields)
}

/// Every query: (where, InfluxQL), panels' and variables'.
fn queries(d: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for p in d["panels"].as_array().expect("panels") {
        for t in p["targets"].as_array().expect("targets") {
            out.push((
                format!("panel {:?} {}", p["title"], t["refId"]),
                t["query"].as_str().expect("raw query").to_string(),
            ));
        }
    }
    for v in d["templating"]["list"].as_array().expect("variables") {
        if v["type"] == "query" {
            out.push((
                format!("variable {}", v["name"]),
                v["query"].as_str().unwrap().into(),
            ));
        }
    }
    out
}

/// Double-quoted names, bare words and `$variables` of a query, with string literals
/// and regexes left out.
fn tokens(q: &str) -> (Vec<String>, Vec<String>, Vec<String>) {
    let (mut quoted, mut words, mut vars) = (vec![], vec![], vec![]);
    let mut chars = q.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => quoted.push(chars.by_ref().take_while(|c| *c != '"').collect()),
            '\'' => drop(chars.by_ref().take_while(|c| *c != '\'').count()),
            '/' => drop(chars.by_ref().take_while(|c| *c != '/').count()),
            '$' => {
                let mut name = String::new();
                while let Some(c) = chars.next_if(|c| c.is_alphanumeric() || *c == '_') {
                    name.push(c);
                }
                vars.push(name);
            }
            c if c.is_alphanumeric() || c == '_' => {
                let mut word = c.to_string();
                while let Some(c) = chars.next_if(|c| c.is_alphanumeric() || *c == '_') {
                    word.push(c);
                }
                words.push(word.to_lowercase());
            }
            _ => {}
        }
    }
    (quoted, words, vars)
}

#[test]
fn queries_name_only_what_the_writer_writes() {
    let d = dashboard();
    let (measurement, tags, fields) = written_names();
    assert!(tags.contains("check_id") && fields.contains("latency_avg_ms"));
    let variables: BTreeSet<String> = d["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap().to_string())
        .collect();
    let ds = d["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["type"] == "datasource")
        .expect("a datasource variable");
    assert_eq!(ds["query"], "influxdb");
    for p in d["panels"].as_array().unwrap() {
        for t in p["targets"].as_array().unwrap() {
            assert_eq!(t["datasource"]["uid"], "${datasource}", "{}", p["title"]);
            assert_eq!(t["rawQuery"], true, "{}: raw InfluxQL", p["title"]);
            let q = t["query"].as_str().unwrap();
            assert!(
                q.contains("$timeFilter"),
                "{}: not bound to the time range",
                p["title"]
            );
        }
    }
    let qs = queries(&d);
    assert!(qs.len() >= 8, "{} queries", qs.len());
    for (place, q) in &qs {
        let (quoted, words, vars) = tokens(q);
        let aliases: BTreeSet<&String> = quoted
            .iter()
            .filter(|n| q.contains(&format!("AS \"{n}\"")))
            .collect();
        for name in &quoted {
            assert!(
                *name == measurement
                    || tags.contains(name)
                    || fields.contains(name)
                    || aliases.contains(name),
                "{place}: {name:?} is not a measurement, tag or field the writer writes"
            );
        }
        for w in &words {
            assert!(
                INFLUXQL_WORDS.contains(&w.as_str()),
                "{place}: unexpected word {w:?}"
            );
        }
        for v in &vars {
            assert!(
                variables.contains(v) || GRAFANA_VARIABLES.contains(&v.as_str()),
                "{place}: ${v} is not defined"
            );
        }
    }
}

#[tokio::test]
async fn every_query_runs_on_influxdb_1x() {
    let server = Influxd::start().await.unwrap_or_else(|e| panic!("{e}"));
    server.create_database("webmon").await.unwrap();
    let store =
        InfluxStore::new(InfluxConfig::v1(&server.url(), "webmon", Token::default())).unwrap();
    store
        .write(&conformance::results_at(conformance::BASE_MS))
        .await
        .unwrap();
    // What Grafana puts in place of its variables (a multi-value region is a regex group).
    let values = BTreeMap::from([
        (
            "$timeFilter",
            "time >= '2025-12-31T00:00:00Z' AND time <= '2026-01-02T00:00:00Z'",
        ),
        ("$__interval", "1m"),
        ("$check", "api"),
        ("$region", "(eu|us)"),
    ]);
    for (place, q) in queries(&dashboard()) {
        let mut q = q.clone();
        for (var, value) in &values {
            q = q.replace(var, value);
        }
        let answer = server.query("webmon", &q).await.unwrap();
        let result = &answer["results"][0];
        assert!(result["error"].is_null(), "{place}: {q}: {result}");
        assert!(
            result["series"].as_array().is_some_and(|s| !s.is_empty()),
            "{place}: no data from {q}"
        );
    }
}
