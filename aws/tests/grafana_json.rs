//! Validates `grafana/webmon-timestream.json` without Grafana: it parses, every panel
//! queries the Timestream data source through the `datasource` variable, every query is
//! bound to the dashboard's time range, every `$variable` is defined or a macro of the
//! Timestream plugin, and every column named exists in the schema the writer Lambda
//! writes (`aws/src/timestream.rs`).

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::Value;

const PLUGIN: &str = "grafana-timestream-datasource";

/// The table's columns: Timestream's own, the writer's dimensions and its multi-measure
/// columns (measure name `probe`).
const TIMESTREAM_COLUMNS: &[&str] = &["time", "measure_name"];
const DIMENSIONS: &[&str] = &["check_id", "url", "region"];
const MEASURES: &[&str] = &[
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
    "tls_cert_days_left",
    "error_class",
    "error_message",
    "remote_ip",
    "http_version",
    "started_at_ms",
    "start_delay_ms",
    "cold_start",
];

/// Macros the plugin expands on the server, and Grafana's own variables.
const MACROS: &[&str] = &[
    "__timeFilter",
    "__timeFrom",
    "__timeTo",
    "__interval_ms",
    "__interval_raw_ms",
    "__database",
    "__table",
    "__measure",
    "__refId",
    "__all",
];

/// SQL words and functions the queries may use besides columns and their aliases.
const SQL_WORDS: &[&str] = &[
    "select",
    "distinct",
    "from",
    "where",
    "and",
    "or",
    "not",
    "in",
    "is",
    "null",
    "as",
    "group",
    "by",
    "order",
    "asc",
    "desc",
    "limit",
    "case",
    "when",
    "then",
    "else",
    "end",
    "true",
    "false",
    "count",
    "sum",
    "avg",
    "min",
    "max",
    "bin",
    "approx_percentile",
    "create_time_series",
    "ms",
    "s",
    "m",
    "h",
    "d",
];

fn dashboard() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../grafana/webmon-timestream.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("failed to read {}: {e}", path.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not valid JSON: {e}", path.display()))
}

fn variables(d: &Value) -> Vec<&Value> {
    d["templating"]["list"]
        .as_array()
        .expect("templating.list")
        .iter()
        .collect()
}

/// Every query in the dashboard: (where, SQL).
fn queries(d: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for p in d["panels"].as_array().expect("panels") {
        for t in p["targets"].as_array().unwrap_or(&vec![]) {
            out.push((
                format!("panel {:?}", p["title"]),
                t["rawQuery"].as_str().unwrap_or_default().to_string(),
            ));
        }
    }
    for v in variables(d).into_iter().filter(|v| v["type"] == "query") {
        out.push((
            format!("variable {:?}", v["name"]),
            v["query"].as_str().unwrap_or_default().to_string(),
        ));
    }
    out
}

/// `$name`, `${name}`, `${name:format}` and `[[name]]` references.
fn variable_refs(sql: &str) -> Vec<String> {
    let mut refs = Vec::new();
    let bytes = sql.as_bytes();
    let ident = |start: usize| {
        let end = (start..bytes.len())
            .find(|&i| !(bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_'))
            .unwrap_or(bytes.len());
        sql[start..end].to_string()
    };
    for (i, c) in sql.char_indices() {
        if c == '$' {
            let name = if sql[i + 1..].starts_with('{') {
                ident(i + 2)
            } else {
                ident(i + 1)
            };
            refs.push(name);
        }
    }
    refs.extend(
        sql.split("[[")
            .skip(1)
            .map(|rest| rest.split(&[']', ':'][..]).next().unwrap_or("").to_string()),
    );
    refs
}

/// Identifiers outside string literals, quoted names and variable references, lower-cased.
fn identifiers(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = sql.chars().peekable();
    let mut word = String::new();
    let mut after_dollar = false;
    while let Some(c) = chars.next() {
        if c.is_ascii_alphanumeric() || c == '_' {
            word.push(c);
            continue;
        }
        if !word.is_empty() && !after_dollar && !word.chars().next().unwrap().is_ascii_digit() {
            out.push(word.to_ascii_lowercase());
        }
        word.clear();
        // `${name:format}`: neither the name nor its format is an identifier.
        after_dollar = c == '$' || (after_dollar && (c == '{' || c == ':'));
        if c == '\'' || c == '"' {
            for d in chars.by_ref() {
                if d == c {
                    break;
                }
            }
        }
    }
    if !word.is_empty() && !after_dollar && !word.chars().next().unwrap().is_ascii_digit() {
        out.push(word.to_ascii_lowercase());
    }
    out
}

/// Names introduced with `AS name`.
fn aliases(sql: &str) -> BTreeSet<String> {
    let ids = identifiers(sql);
    ids.windows(2)
        .filter(|w| w[0] == "as")
        .map(|w| w[1].clone())
        .collect()
}

#[test]
fn parses_and_every_panel_has_the_datasource_and_a_query() {
    let d = dashboard();
    assert!(d["title"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(d["uid"].as_str().is_some_and(|u| !u.is_empty()));
    let panels = d["panels"].as_array().expect("panels");
    assert!(
        panels.len() >= 4,
        "latency, availability and phase panels expected"
    );
    let mut ids = BTreeSet::new();
    for p in panels {
        let title = p["title"].as_str().expect("panel title");
        assert!(
            ids.insert(p["id"].as_i64().expect("panel id")),
            "duplicate panel id in {title:?}"
        );
        assert!(
            p["gridPos"]["w"].as_i64().is_some(),
            "{title:?} has no gridPos"
        );
        assert_eq!(p["datasource"]["type"], PLUGIN, "{title:?} datasource type");
        assert_eq!(
            p["datasource"]["uid"], "${datasource}",
            "{title:?} datasource uid"
        );
        let targets = p["targets"]
            .as_array()
            .unwrap_or_else(|| panic!("{title:?} has no targets"));
        assert!(!targets.is_empty(), "{title:?} has no query");
        for t in targets {
            assert!(
                t["refId"].as_str().is_some(),
                "{title:?} target without refId"
            );
            assert!(
                t["rawQuery"].as_str().is_some_and(|q| !q.trim().is_empty()),
                "{title:?} has an empty query"
            );
            assert_eq!(
                t["datasource"]["type"], PLUGIN,
                "{title:?} target datasource"
            );
        }
    }
    let titles: Vec<String> = panels
        .iter()
        .map(|p| p["title"].as_str().unwrap().to_ascii_lowercase())
        .collect();
    for wanted in ["p50", "p95", "availability", "phase"] {
        assert!(
            titles.iter().any(|t| t.contains(wanted)),
            "no panel about {wanted}"
        );
    }
    let names: Vec<&str> = variables(&d)
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    for wanted in ["datasource", "check", "region"] {
        assert!(names.contains(&wanted), "no template variable {wanted}");
    }
}

#[test]
fn queries_use_only_defined_variables_and_macros_and_are_time_bound() {
    let d = dashboard();
    let defined: BTreeSet<String> = variables(&d)
        .iter()
        .map(|v| v["name"].as_str().unwrap().to_string())
        .collect();
    for (place, sql) in queries(&d) {
        assert!(
            sql.contains("$__timeFilter"),
            "{place}: every query must be bound to the time range"
        );
        assert!(
            sql.contains("measure_name = '"),
            "{place}: every query must name the measure"
        );
        for name in variable_refs(&sql) {
            assert!(
                defined.contains(&name) || MACROS.contains(&name.as_str()),
                "{place}: ${name} is neither a template variable nor a Timestream macro"
            );
        }
    }
    // Panel targets feed $__database, $__table and $__measure from the variables.
    for p in d["panels"].as_array().unwrap() {
        for t in p["targets"].as_array().unwrap() {
            for field in ["database", "table"] {
                let value = t[field].as_str().unwrap_or_default();
                assert!(
                    variable_refs(value).iter().all(|n| defined.contains(n)),
                    "{field} = {value:?}"
                );
            }
            assert_eq!(t["measure"], "probe");
        }
    }
}

#[test]
fn queries_name_only_columns_of_the_writer_schema() {
    let d = dashboard();
    let known: BTreeSet<&str> = TIMESTREAM_COLUMNS
        .iter()
        .chain(DIMENSIONS)
        .chain(MEASURES)
        .chain(SQL_WORDS)
        .copied()
        .collect();
    for (place, sql) in queries(&d) {
        let aliases = aliases(&sql);
        for id in identifiers(&sql) {
            assert!(
                known.contains(id.as_str()) || aliases.contains(&id),
                "{place}: {id:?} is not a column of the webmon Timestream table (nor an alias or SQL word)"
            );
        }
        // An alias must not shadow a different column by accident: allowed only when it
        // keeps the column's own name (e.g. `approx_percentile(dns_ms, 0.5) AS dns_ms`).
        for a in &aliases {
            if DIMENSIONS.contains(&a.as_str()) {
                panic!("{place}: alias {a:?} shadows a dimension");
            }
        }
    }
}

#[test]
fn schema_list_matches_the_writer() {
    let writer = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/timestream/mod.rs");
    let text = std::fs::read_to_string(&writer)
        .unwrap_or_else(|e| panic!("failed to read {}: {e}", writer.display()));
    assert!(
        text.contains("MEASURE_NAME: &str = \"probe\""),
        "the writer's measure name changed"
    );
    for name in DIMENSIONS {
        assert!(
            text.contains(&format!("dim(\"{name}\"")),
            "the writer no longer writes dimension {name}"
        );
    }
    for name in MEASURES {
        assert!(
            text.contains(&format!("m(\"{name}\"")),
            "the writer no longer writes measure {name}"
        );
    }
}

#[test]
fn helpers_find_what_they_should() {
    assert_eq!(
        variable_refs("a = ${check:sqlstring} AND r IN ($region) [[x]] $__timeFilter"),
        ["check", "region", "__timeFilter", "x"]
    );
    let ids = identifiers("SELECT dns_ms AS d1 FROM \"$__database\".\"$__table\" WHERE x = 'ignored words' AND $__timeFilter AND c = ${check:sqlstring}");
    assert_eq!(
        ids,
        ["select", "dns_ms", "as", "d1", "from", "where", "x", "and", "and", "c"]
    );
}
