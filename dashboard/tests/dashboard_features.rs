//! The overview's summary and tags, daily uptime, check settings, badges, the
//! Prometheus exposition and the public status page, over a real SQLite store and a
//! real server on 127.0.0.1, with exact expected figures.

mod dashboard_support;

use std::collections::{BTreeMap, BTreeSet};

use dashboard_support::{
    get, request_with, result_at, Running, Setup, EXECUTIONS, INTERVAL_MS, REGIONS,
};
use serde_json::{json, Value};
use webmon_core::check::parse_checks_document;
use webmon_core::result::{ErrorClass, ProbeResult};
use webmon_dashboard::{ConfiguredCheck, PublicChecks};

const NOW_MS: i64 = 1_750_000_000_000;
const DAY_MS: i64 = 86_400_000;
/// 00:00 UTC of the day `NOW_MS` falls on.
const TODAY_MS: i64 = NOW_MS - NOW_MS % DAY_MS;

/// The checks file the catalog is read from, as `webmon dashboard --config` reads it.
const CHECKS: &str = "
checks:
  - id: api
    url: 'https://api.example.test/health'
    interval: 30s
    timeout: 5s
    tags: {team: core, public: 'true'}
  - id: web
    url: 'https://web.example.test/health'
    interval: 30s
    method: HEAD
    requests: 3
    regions: [eu-west-1, us-east-1]
    tags: {team: web}
  - {id: broken, url: 'https://broken.example.test/', interval: 30s, tags: {team: core}}
  - {id: old, url: 'https://old.example.test/', interval: 30s}
  - {id: fresh, url: 'https://fresh.example.test/', interval: 1m}
";

fn catalog() -> Vec<ConfiguredCheck> {
    let outcome = parse_checks_document(CHECKS);
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    outcome.checks.iter().map(ConfiguredCheck::from).collect()
}

fn failed(mut r: ProbeResult) -> ProbeResult {
    r.available = false;
    r.status_code = Some(500);
    r.error_class = Some(ErrorClass::HttpStatus);
    r.error_message = Some("status 500 is not accepted".into());
    r
}

/// `broken`: down now (one failed result). `old`: its only result 20 minutes ago, so
/// stale after 2 x 30 s + 5 s.
fn down_and_stale() -> Vec<ProbeResult> {
    vec![
        failed(result_at("broken", 1, NOW_MS - INTERVAL_MS, 0)),
        result_at("old", 1, NOW_MS - 20 * 60_000, 0),
    ]
}

/// `api` in eu-west-1 on earlier days, `n` executions a minute apart from 00:00 UTC of
/// `days_ago`, the first `failures` failed.
fn history(days_ago: i64, n: i64, failures: i64) -> Vec<ProbeResult> {
    let start = TODAY_MS - days_ago * DAY_MS;
    (0..n)
        .map(|k| {
            let r = result_at("api", 1, start + k * 60_000, k);
            if k < failures {
                failed(r)
            } else {
                r
            }
        })
        .collect()
}

fn uptime_history() -> Vec<ProbeResult> {
    let mut all = Vec::new();
    all.extend(history(1, 200, 1)); // 99.5 %
    all.extend(history(2, 10, 0)); // 100 %
    all.extend(history(5, 20, 2)); // 90 %
    all.extend(history(89, 4, 0)); // the first day of 90
    all.extend(history(90, 3, 3)); // before it: not counted
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overview_counts_states_and_carries_tags() {
    let app = Running::start_with(
        NOW_MS,
        Setup {
            extra: down_and_stale(),
            catalog: Some(catalog()),
            ..Default::default()
        },
    )
    .await;
    let body = get(app.addr, "/api/overview?since=1h").await.json();
    assert_eq!(
        body["summary"],
        json!({"total": 5, "up": 1, "down": 1, "degraded": 1, "stale": 1, "pending": 1}),
        "{body}"
    );
    let states: BTreeMap<&str, &str> = body["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["check_id"].as_str().unwrap(),
                c["state"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        states,
        BTreeMap::from([
            ("api", "up"),
            ("broken", "down"),
            ("fresh", "pending"),
            ("old", "stale"),
            ("web", "degraded")
        ])
    );
    let tags = |id: &str| {
        body["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["check_id"] == id)
            .unwrap()["tags"]
            .clone()
    };
    assert_eq!(tags("api"), json!({"team": "core", "public": "true"}));
    assert_eq!(tags("web"), json!({"team": "web"}));
    assert_eq!(tags("fresh"), json!({}));

    // Without a catalog: the checks with results, no tags known.
    app.stop().await;
    let bare = Running::start(NOW_MS).await;
    let body = get(bare.addr, "/api/overview").await.json();
    assert_eq!(
        body["summary"],
        json!({"total": 2, "up": 1, "down": 0, "degraded": 1, "stale": 0, "pending": 0})
    );
    assert_eq!(body["checks"][0]["tags"], json!({}));
    bare.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daily_uptime_over_90_utc_days() {
    let app = Running::start_with(
        NOW_MS,
        Setup {
            extra: uptime_history(),
            ..Default::default()
        },
    )
    .await;
    let reply = get(app.addr, "/api/uptime?days=90").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let body = reply.json();
    assert_eq!(body["days"], 90);
    assert_eq!(
        body["window"],
        json!({"from_ms": TODAY_MS - 89 * DAY_MS, "to_ms": NOW_MS})
    );
    let ids: Vec<&str> = body["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["check_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["api", "web"]);
    let api = &body["checks"][0];
    let days = api["days"].as_array().unwrap();
    assert_eq!(days.len(), 90);
    let figures = |i: usize| {
        let d = &days[i];
        (
            d["day_ms"].as_i64().unwrap(),
            d["samples"].as_u64().unwrap(),
            d["passed"].as_u64().unwrap(),
            d["availability_pct"].as_f64(),
        )
    };
    // Today: 60 executions in each of three regions, all passed.
    assert_eq!(figures(89), (TODAY_MS, 180, 180, Some(100.0)));
    assert_eq!(figures(88), (TODAY_MS - DAY_MS, 200, 199, Some(99.5)));
    assert_eq!(figures(87), (TODAY_MS - 2 * DAY_MS, 10, 10, Some(100.0)));
    assert_eq!(figures(84), (TODAY_MS - 5 * DAY_MS, 20, 18, Some(90.0)));
    assert_eq!(figures(0), (TODAY_MS - 89 * DAY_MS, 4, 4, Some(100.0)));
    assert_eq!(figures(1), (TODAY_MS - 88 * DAY_MS, 0, 0, None));
    let with_data = days.iter().filter(|d| d["samples"] != 0).count();
    assert_eq!(with_data, 5);
    // 180 + 200 + 10 + 20 + 4 executions; 411 passed (the 3 failures of day 90 are out).
    assert_eq!(
        (api["samples"].as_u64(), api["passed"].as_u64()),
        (Some(414), Some(411))
    );
    assert_eq!(api["availability_pct"], 411.0 * 100.0 / 414.0);
    let web = &body["checks"][1];
    assert_eq!(web["days"][89]["samples"], 180);
    assert_eq!(web["days"][89]["passed"], 173);
    assert_eq!(web["days"][88]["availability_pct"], Value::Null);

    // A week: the days from 00:00 UTC six days ago.
    let week = get(app.addr, "/api/checks/api/uptime?days=7").await.json();
    assert_eq!(week["days"].as_array().unwrap().len(), 7);
    assert_eq!(week["days"][0]["day_ms"], TODAY_MS - 6 * DAY_MS);
    assert_eq!(
        (week["samples"].as_u64(), week["passed"].as_u64()),
        (Some(410), Some(407))
    );

    // A check without executions: every day without data.
    let none = get(app.addr, "/api/checks/nosuch/uptime").await.json();
    assert_eq!(none["days"].as_array().unwrap().len(), 90);
    assert!(none["days"]
        .as_array()
        .unwrap()
        .iter()
        .all(|d| d["availability_pct"].is_null()));
    assert_eq!(none["samples"], 0);

    for bad in [
        "/api/uptime?days=0",
        "/api/uptime?days=91",
        "/api/uptime?days=x",
    ] {
        let reply = get(app.addr, bad).await;
        assert_eq!(reply.status, 400, "{bad}");
        assert!(
            reply.body.contains("days must be a number from 1 to 90"),
            "{}",
            reply.body
        );
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_settings_come_from_the_catalog() {
    let app = Running::start_with(
        NOW_MS,
        Setup {
            catalog: Some(catalog()),
            ..Default::default()
        },
    )
    .await;
    let api = get(app.addr, "/api/checks/api/settings").await.json();
    assert_eq!(
        api,
        json!({
            "check_id": "api", "configured": true, "url": "https://api.example.test/health",
            "interval_ms": 30_000, "method": "GET", "requests": 5, "timeout_ms": 5_000,
            "regions": [], "tags": {"team": "core", "public": "true"}
        })
    );
    let web = get(app.addr, "/api/checks/web/settings").await.json();
    assert_eq!(web["method"], "HEAD");
    assert_eq!(web["requests"], 3);
    assert_eq!(web["regions"], json!(["eu-west-1", "us-east-1"]));
    let unknown = get(app.addr, "/api/checks/nosuch/settings").await.json();
    assert_eq!(unknown, json!({"check_id": "nosuch", "configured": false}));
    // The page has the sections the script fills.
    let page = get(app.addr, "/check/api").await.body;
    for id in ["id=\"settings\"", "id=\"uptime\"", "id=\"check-url\""] {
        assert!(page.contains(id), "{id} missing");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svg_badges_for_uptime_and_latency() {
    let app = Running::start(NOW_MS).await;
    let web = get(app.addr, "/badge/web/uptime.svg?since=1h").await;
    assert_eq!(web.status, 200, "{}", web.body);
    assert_eq!(web.header("content-type"), Some("image/svg+xml"));
    assert_eq!(web.header("cache-control"), Some("public, max-age=300"));
    assert_eq!(
        web.header("cross-origin-resource-policy"),
        Some("cross-origin")
    );
    assert!(web
        .body
        .starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(web.body.ends_with("</svg>"));
    // 180 executions, 7 failed: 96.11 %, yellow.
    assert!(web.body.contains(">uptime 1h</text>"), "{}", web.body);
    assert!(web.body.contains(">96.11%</text>"), "{}", web.body);
    assert!(web.body.contains("fill=\"#dfb317\""));
    assert_eq!(
        web.body.matches("<text").count(),
        web.body.matches("</text>").count()
    );

    // Default window 24 h; all passed.
    let api = get(app.addr, "/badge/api/uptime.svg").await.body;
    assert!(
        api.contains(">uptime 24h</text>") && api.contains(">100%</text>"),
        "{api}"
    );
    assert!(api.contains("fill=\"#4c1\""));

    // p50 of 180 latencies (40..49, 90..99, 180..189 ms, six of each value): rank 90.
    let latency = get(app.addr, "/badge/api/latency.svg?since=1h").await.body;
    assert!(
        latency.contains(">p50 1h</text>") && latency.contains(">94 ms</text>"),
        "{latency}"
    );

    for path in ["/badge/nosuch/uptime.svg", "/badge/nosuch/latency.svg"] {
        let reply = get(app.addr, path).await;
        assert_eq!(reply.status, 200);
        assert!(reply.body.contains(">no data</text>"), "{}", reply.body);
        assert!(reply.body.contains("fill=\"#9f9f9f\""));
    }
    assert_eq!(get(app.addr, "/badge/api/other.svg").await.status, 404);
    assert_eq!(
        get(app.addr, "/badge/api/uptime.svg?since=soon")
            .await
            .status,
        400
    );

    // Another site's page may show a badge, and may not read the API.
    let cross = [
        ("Sec-Fetch-Site", "cross-site"),
        ("Sec-Fetch-Mode", "no-cors"),
    ];
    let host = app.addr.to_string();
    let badge = request_with(app.addr, "GET", "/badge/api/uptime.svg", &host, &cross).await;
    assert_eq!(badge.status, 200);
    let api = request_with(app.addr, "GET", "/api/overview", &host, &cross).await;
    assert_eq!(api.status, 403);
    app.stop().await;
}

/// One parsed sample line: name, labels, value.
type MetricLine = (String, BTreeMap<String, String>, f64);

fn metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn label_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Parses the text exposition format 0.0.4 strictly: `# HELP`/`# TYPE` lines, and
/// sample lines `name{label="value",...} value` with only `\\`, `\"` and `\n` escapes
/// in label values. Panics naming the line on anything else.
fn parse_exposition(text: &str) -> (BTreeMap<String, String>, Vec<MetricLine>) {
    let mut types = BTreeMap::new();
    let mut samples = Vec::new();
    assert!(text.ends_with('\n'), "the exposition ends with a line feed");
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            let (kind, name, tail) = (parts.next(), parts.next(), parts.next());
            assert!(name.is_some_and(metric_name), "bad name: {line}");
            match kind {
                Some("HELP") => assert!(tail.is_some_and(|t| !t.is_empty()), "{line}"),
                Some("TYPE") => {
                    assert_eq!(tail, Some("gauge"), "{line}");
                    let previous = types.insert(name.unwrap().to_string(), "gauge".to_string());
                    assert!(previous.is_none(), "TYPE given twice: {line}");
                }
                _ => panic!("unknown comment: {line}"),
            }
            continue;
        }
        let brace = line
            .find('{')
            .unwrap_or_else(|| panic!("no labels: {line}"));
        let name = &line[..brace];
        assert!(metric_name(name), "bad metric name: {line}");
        assert!(types.contains_key(name), "sample before its TYPE: {line}");
        let mut labels = BTreeMap::new();
        let mut chars = line[brace + 1..].chars().peekable();
        loop {
            let label: String = chars.by_ref().take_while(|c| *c != '=').collect();
            assert!(label_name(&label), "bad label name {label:?}: {line}");
            assert_eq!(chars.next(), Some('"'), "label value not quoted: {line}");
            let mut value = String::new();
            loop {
                match chars.next() {
                    Some('\\') => match chars.next() {
                        Some('\\') => value.push('\\'),
                        Some('"') => value.push('"'),
                        Some('n') => value.push('\n'),
                        other => panic!("bad escape {other:?}: {line}"),
                    },
                    Some('"') => break,
                    Some('\n') | None => panic!("unterminated label value: {line}"),
                    Some(c) => value.push(c),
                }
            }
            assert!(labels.insert(label, value).is_none(), "label twice: {line}");
            match chars.next() {
                Some(',') => continue,
                Some('}') => break,
                other => panic!("unexpected {other:?}: {line}"),
            }
        }
        let rest: String = chars.collect();
        let value = rest
            .strip_prefix(' ')
            .unwrap_or_else(|| panic!("no space before the value: {line}"));
        let value: f64 = match value {
            "NaN" => f64::NAN,
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v
                .parse()
                .unwrap_or_else(|_| panic!("bad value {v:?}: {line}")),
        };
        samples.push((name.to_string(), labels, value));
    }
    (types, samples)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_metrics_parse_and_hold_exact_figures() {
    // A region label that needs every escape of the format.
    let odd_region = "lab \"b\"\\2\nrack";
    let mut odd = result_at("api", 1, NOW_MS - 60_000, 0);
    odd.region = odd_region.to_string();
    let app = Running::start_with(
        NOW_MS,
        Setup {
            extra: vec![odd],
            ..Default::default()
        },
    )
    .await;
    let reply = get(app.addr, "/metrics").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let (types, samples) = parse_exposition(&reply.body);
    let families: BTreeSet<&str> = types.keys().map(String::as_str).collect();
    assert_eq!(
        families,
        BTreeSet::from([
            "webmon_availability_ratio",
            "webmon_last_result_timestamp_seconds",
            "webmon_latency_p50_ms",
            "webmon_latency_p95_ms",
            "webmon_phase_ms",
            "webmon_up"
        ])
    );
    let value = |name: &str, check: &str, region: &str, phase: Option<&str>| {
        let found: Vec<f64> = samples
            .iter()
            .filter(|(n, l, _)| {
                n == name
                    && l["check"] == check
                    && l["region"] == region
                    && l.get("phase").map(String::as_str) == phase
            })
            .map(|(_, _, v)| *v)
            .collect();
        assert_eq!(found.len(), 1, "{name} {check} {region} {phase:?}");
        found[0]
    };
    // Two checks in three regions, and the odd region of api.
    let ups = samples.iter().filter(|(n, _, _)| n == "webmon_up").count();
    assert_eq!(ups, 7);
    assert_eq!(value("webmon_up", "web", "us-east-1", None), 0.0);
    assert_eq!(value("webmon_up", "web", "ap-southeast-2", None), 1.0);
    assert_eq!(value("webmon_up", "api", odd_region, None), 1.0);
    assert_eq!(
        value("webmon_latency_p50_ms", "api", "eu-west-1", None),
        44.0
    );
    assert_eq!(
        value("webmon_latency_p95_ms", "api", "eu-west-1", None),
        49.0
    );
    assert_eq!(
        value("webmon_availability_ratio", "web", "ap-southeast-2", None),
        0.9
    );
    assert_eq!(
        value("webmon_availability_ratio", "api", "eu-west-1", None),
        1.0
    );
    for (phase, expected) in [
        ("dns", 2.0),
        ("connect", 11.0),
        ("tls", 11.0),
        // Timings are stored to the microsecond.
        ("ttfb", (44.0f64 / 3.0 * 1000.0).round() / 1000.0),
        ("transfer", 2.0),
    ] {
        assert_eq!(
            value("webmon_phase_ms", "api", "eu-west-1", Some(phase)),
            expected,
            "{phase}"
        );
    }
    assert_eq!(
        value(
            "webmon_last_result_timestamp_seconds",
            "web",
            REGIONS[2],
            None
        ),
        ((NOW_MS - INTERVAL_MS) / 1000) as f64
    );
    assert_eq!(
        value(
            "webmon_last_result_timestamp_seconds",
            "api",
            odd_region,
            None
        ),
        ((NOW_MS - 60_000) / 1000) as f64
    );
    // Series are unique.
    let keys: BTreeSet<String> = samples
        .iter()
        .map(|(n, l, _)| format!("{n}{l:?}"))
        .collect();
    assert_eq!(keys.len(), samples.len());
    assert_eq!(EXECUTIONS, 60);
    app.stop().await;
}

#[test]
fn the_strict_parser_refuses_broken_lines() {
    let head = "# HELP m help\n# TYPE m gauge\n";
    let good = format!("{head}m{{a=\"x\\\"y\"}} 1\n");
    assert_eq!(parse_exposition(&good).1[0].1["a"], "x\"y");
    for bad in [
        "m{a=\"x\"} 1\n",                    // no TYPE
        "# TYPE m gauge\nm{a=\"x\\t\"} 1\n", // unknown escape
        "# TYPE m gauge\nm{a=x} 1\n",        // unquoted
        "# TYPE m gauge\nm{a=\"x\"}1\n",     // no space
        "# TYPE m gauge\nm{a=\"x\"} one\n",  // not a number
    ] {
        let outcome = std::panic::catch_unwind(|| parse_exposition(bad));
        assert!(outcome.is_err(), "accepted {bad:?}");
    }
}

/// Text that must never reach the status page: URLs, error messages, regions.
const PRIVATE: [&str; 7] = [
    "example.test",
    "not accepted",
    "http_status",
    "timed out",
    "us-east-1",
    "ap-southeast-2",
    "onerror",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_page_shows_only_public_checks() {
    let app = Running::start_with(
        NOW_MS,
        Setup {
            catalog: Some(catalog()),
            public: PublicChecks::parse(["public=true", "web"]),
            alerting: true,
            ..Default::default()
        },
    )
    .await;
    let reply = get(app.addr, "/api/status").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    for private in PRIVATE {
        assert!(!reply.body.contains(private), "{private} in {}", reply.body);
    }
    let body = reply.json();
    let ids: Vec<(&str, &str)> = body["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["check_id"].as_str().unwrap(),
                c["state"].as_str().unwrap(),
            )
        })
        .collect();
    // api by its tag, web by id; broken, old and fresh are not public.
    assert_eq!(ids, [("api", "up"), ("web", "degraded")]);
    assert_eq!(body["days"], 90);
    assert_eq!(body["checks"][1]["days"].as_array().unwrap().len(), 90);
    assert_eq!(body["checks"][1]["days"][89]["passed"], 173);
    assert_eq!(body["checks"][0]["availability_pct"], 100.0);
    assert_eq!(body["incidents_available"], true);
    // web's open incident (see the alert test): opened at execution 25.
    let opened = NOW_MS - (EXECUTIONS - 25) * INTERVAL_MS;
    assert_eq!(
        body["incidents"],
        json!([{"check_id": "web", "level": "REGIONAL", "opened_at_ms": opened}])
    );
    let page = get(app.addr, "/status").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("data-page=\"status\""));
    app.stop().await;

    // Public by tag only: web's incident is not shown.
    let app = Running::start_with(
        NOW_MS,
        Setup {
            catalog: Some(catalog()),
            public: PublicChecks::parse(["public=true"]),
            alerting: true,
            ..Default::default()
        },
    )
    .await;
    let body = get(app.addr, "/api/status").await.json();
    assert_eq!(body["checks"].as_array().unwrap().len(), 1);
    assert_eq!(body["incidents"], json!([]));
    app.stop().await;

    // Nothing marked public: an empty page, without alert state.
    let app = Running::start(NOW_MS).await;
    let body = get(app.addr, "/api/status").await.json();
    assert_eq!(body["checks"], json!([]));
    assert_eq!(body["incidents_available"], false);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_only_serves_nothing_else() {
    let app = Running::start_with(
        NOW_MS,
        Setup {
            public: PublicChecks::parse(["api"]),
            status_only: true,
            ..Default::default()
        },
    )
    .await;
    for path in [
        "/status",
        "/api/status",
        "/assets/app.js",
        "/assets/style.css",
        "/healthz",
    ] {
        let reply = get(app.addr, path).await;
        assert_eq!(reply.status, 200, "{path}");
        for private in PRIVATE {
            assert!(!reply.body.contains(private), "{private} in {path}");
        }
    }
    assert_eq!(
        get(app.addr, "/api/status").await.json()["checks"][0]["check_id"],
        "api"
    );
    for path in [
        "/",
        "/check/api",
        "/api/overview",
        "/api/checks/web/failures",
        "/api/alerts",
        "/api/uptime",
        "/metrics",
        "/badge/api/uptime.svg",
        "/assets/uPlot.iife.min.js",
    ] {
        let reply = get(app.addr, path).await;
        assert_eq!(reply.status, 404, "{path}: {}", reply.body);
        assert!(!reply.body.contains("example.test"), "{path}");
    }
    // A link from another site to the status page works.
    let nav = [
        ("Sec-Fetch-Site", "cross-site"),
        ("Sec-Fetch-Mode", "navigate"),
    ];
    let linked = request_with(app.addr, "GET", "/status", &app.addr.to_string(), &nav).await;
    assert_eq!(linked.status, 200);
    app.stop().await;
}
