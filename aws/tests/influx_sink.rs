//! The InfluxDB sink against a real HTTP server on 127.0.0.1 that records the write
//! requests: line protocol parsed back (escaping, field types, timestamps), batching,
//! gzip, the token header, the retry path (503 then 204), the permanent path (400), and
//! the `both` sink with Timestream on moto's server.

use std::collections::BTreeMap;
use std::time::Duration;

use webmon_aws::influx::{resolve_token, InfluxConfig, InfluxStore, Token};
use webmon_aws::sink::Both;
use webmon_aws::store::BatchStore;
use webmon_aws::timestream::TimestreamStore;
use webmon_core::ports::{PortError, ResultStore};
use webmon_core::result::{ErrorClass, ProbeResult, RESULT_VERSION};
use webmon_testkit::http_recorder::Recorder;

const TOKEN: &str = "influx-s3cret-token";

fn result(n: usize) -> ProbeResult {
    ProbeResult {
        version: RESULT_VERSION,
        region: "eu-west-1".into(),
        check_id: format!("shop, home {n}"),
        url: format!("https://shop.example/search?q=a b&n={n}"),
        scheduled_at_ms: 1_700_000_000_000 + n as i64 * 30_000,
        started_at_ms: 1_700_000_000_004 + n as i64 * 30_000,
        available: n.is_multiple_of(2),
        status_code: Some(if n.is_multiple_of(2) { 200 } else { 500 }),
        error_class: (n % 2 == 1).then_some(ErrorClass::HttpStatus),
        error_message: (n % 2 == 1).then(|| "status 500: \"oops\" \\ retry".to_string()),
        requests: 5,
        latency: webmon_core::result::LatencyStats {
            avg_ms: 12.25,
            min_ms: 10.0,
            max_ms: 15.5,
            p50_ms: 12.0,
        },
        cold: Default::default(),
        warm_ttfb_ms: Some(3.5),
        bytes: 2048,
        remote_ip: Some("127.0.0.1".into()),
        http_version: Some("HTTP/1.1".into()),
        tls_cert_days_left: None,
        redirects: 1,
        attempts: 1,
        tags: [("team".to_string(), "web=shop".to_string())]
            .into_iter()
            .collect(),
        probe: Default::default(),
    }
}

fn store(server: &Recorder, max_lines: usize, max_attempts: u32) -> InfluxStore {
    let mut config = InfluxConfig::new(&server.url(), "acme org", "webmon", Token::new(TOKEN));
    config.max_lines = max_lines;
    config.max_attempts = max_attempts;
    config.backoff = Duration::from_millis(10);
    config.timeout = Duration::from_secs(5);
    InfluxStore::new(config).expect("valid config")
}

/// One parsed point: measurement, tags, fields (raw values), timestamp.
#[derive(Debug)]
struct Point {
    measurement: String,
    tags: BTreeMap<String, String>,
    fields: BTreeMap<String, String>,
    time: i64,
}

/// Splits at unescaped `sep` outside double quotes, unescaping as it goes (string field
/// values keep their quotes so their type stays visible).
fn split(text: &str, sep: char) -> Vec<String> {
    let (mut parts, mut cur, mut quoted, mut chars) =
        (Vec::new(), String::new(), false, text.chars());
    while let Some(c) = chars.next() {
        match c {
            '\\' => cur.push(chars.next().expect("escape at end of line")),
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            c if c == sep && !quoted => parts.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    parts.push(cur);
    parts
}

fn parse(line: &str) -> Point {
    let sections = split_raw(line);
    assert_eq!(sections.len(), 3, "three sections in {line}");
    let series = split(&sections[0], ',');
    let pairs = |items: &[String]| -> BTreeMap<String, String> {
        items
            .iter()
            .map(|kv| {
                let (k, v) = kv.split_once('=').expect("key=value");
                (k.to_string(), v.to_string())
            })
            .collect()
    };
    Point {
        measurement: series[0].clone(),
        tags: pairs(&series[1..]),
        fields: pairs(&split(&sections[1], ',')),
        time: sections[2].parse().expect("timestamp"),
    }
}

/// The three space-separated sections, escapes kept for the second split.
fn split_raw(line: &str) -> Vec<String> {
    let (mut parts, mut cur, mut quoted, mut chars) =
        (Vec::new(), String::new(), false, line.chars());
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                cur.push(c);
                cur.push(chars.next().unwrap());
            }
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            ' ' if !quoted => parts.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    parts.push(cur);
    parts
}

fn lines(body: &[u8]) -> Vec<String> {
    String::from_utf8(body.to_vec())
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn points_are_batched_escaped_typed_and_timed() {
    let server = Recorder::start(vec![]);
    let store = store(&server, 3, 3);
    let results: Vec<ProbeResult> = (0..7).map(result).collect();
    let report = store.write_detailed(&results).await;
    assert_eq!(report.written, 7);
    assert_eq!(report.calls, 3);
    assert!(report.rejected.is_empty() && report.failed.is_empty());

    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    for r in &requests {
        assert_eq!(r.method, "POST");
        assert_eq!(
            r.target,
            "/api/v2/write?org=acme%20org&bucket=webmon&precision=ms"
        );
        assert_eq!(r.header("authorization"), Some(&*format!("Token {TOKEN}")));
        assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    }
    // Three full lines are over 1 KiB and go gzipped; the last single line does not.
    assert!(requests[0].gzipped && requests[1].gzipped && !requests[2].gzipped);
    let all: Vec<String> = requests.iter().flat_map(|r| lines(&r.body)).collect();
    assert_eq!(all.len(), 7);

    for (n, line) in all.iter().enumerate() {
        let p = parse(line);
        let r = &results[n];
        assert_eq!(p.measurement, "probe");
        assert_eq!(p.tags["check_id"], r.check_id, "{line}");
        assert_eq!(p.tags["url"], r.url);
        assert_eq!(p.tags["region"], "eu-west-1");
        assert_eq!(p.tags["tag_team"], "web=shop");
        assert_eq!(p.time, r.scheduled_at_ms);
        assert_eq!(p.fields["available"], r.available.to_string());
        assert_eq!(
            p.fields["status_code"],
            format!("{}i", r.status_code.unwrap())
        );
        assert_eq!(p.fields["latency_avg_ms"], "12.25");
        assert_eq!(p.fields["latency_min_ms"], "10");
        assert_eq!(p.fields["bytes"], "2048i");
        assert_eq!(p.fields["remote_ip"], "\"127.0.0.1\"");
        assert_eq!(p.fields["started_at_ms"], format!("{}i", r.started_at_ms));
        assert!(!p.fields.contains_key("tls_cert_days_left"));
        if n % 2 == 1 {
            assert_eq!(p.fields["error_message"], r#""status 500: "oops" \ retry""#);
            assert_eq!(p.fields["error_class"], "\"http_status\"");
        }
    }
}

#[tokio::test]
async fn a_503_is_retried_and_then_written() {
    let server = Recorder::start(vec![(
        503,
        vec![("retry-after", "0".into())],
        r#"{"code":"unavailable","message":"busy"}"#.into(),
    )]);
    let store = store(&server, 5_000, 3);
    let results: Vec<ProbeResult> = (0..2).map(result).collect();
    let report = store.write_detailed(&results).await;
    assert_eq!(report.written, 2, "{report:?}");
    assert_eq!(report.calls, 2);
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].body, requests[1].body, "the same points resent");
    store.write(&results).await.expect("ResultStore write");
}

#[tokio::test]
async fn a_400_is_refused_for_good_with_the_answer_body() {
    let body = r#"{"code":"invalid","message":"partial write: field type conflict"}"#;
    let server = Recorder::start(vec![(400, vec![], body.into()), (400, vec![], body.into())]);
    let store = store(&server, 5_000, 5);
    let results: Vec<ProbeResult> = (0..3).map(result).collect();
    let report = store.write_detailed(&results).await;
    assert_eq!(report.written, 0);
    assert_eq!(report.calls, 1, "no retry of a 400");
    assert_eq!(
        report.rejected.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
        vec![0, 1, 2]
    );
    let reason = &report.rejected[0].1;
    assert!(
        reason.contains("status 400") && reason.contains("field type conflict"),
        "{reason}"
    );
    assert!(!reason.contains(TOKEN));
    match store.write(&results).await {
        Err(PortError::Permanent(m)) => assert!(m.contains("shop, home 0"), "{m}"),
        other => panic!("expected a permanent error, got {other:?}"),
    }
}

#[tokio::test]
async fn failures_that_persist_are_reported_retriable() {
    let answers = (0..3).map(|_| (503, vec![], "down".to_string())).collect();
    let server = Recorder::start(answers);
    let store = store(&server, 5_000, 3);
    let results: Vec<ProbeResult> = (0..2).map(result).collect();
    let report = store.write_detailed(&results).await;
    assert_eq!(report.failed, vec![0, 1]);
    assert_eq!(report.calls, 3);
    let error = report.error.expect("error kept");
    assert!(
        error.contains("503") && error.contains("after 3 attempts"),
        "{error}"
    );
    assert!(!error.contains(TOKEN));

    // Nobody listening at all: a transport failure, retriable too.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut config = InfluxConfig::new(
        &format!("http://127.0.0.1:{port}"),
        "o",
        "b",
        Token::new(TOKEN),
    );
    config.max_attempts = 2;
    config.backoff = Duration::from_millis(10);
    let unreachable = InfluxStore::new(config).unwrap();
    match unreachable.write(&results).await {
        Err(PortError::Transient(m)) => assert!(!m.contains(TOKEN), "{m}"),
        other => panic!("expected a transient error, got {other:?}"),
    }
}

#[tokio::test]
async fn both_sinks_write_each_result_and_a_failing_one_fails_the_batch() {
    let emulator = webmon_testkit::emulator::Emulator::start()
        .await
        .expect("emulator (pip install 'moto[server]')");
    let client = TimestreamStore::client(&emulator.target("eu-west-1"))
        .await
        .unwrap();
    let timestream = TimestreamStore::new(client, "webmon", "results");
    timestream.ensure_table().await.unwrap();
    let server = Recorder::start(vec![
        (503, vec![], "down".into()),
        (503, vec![], "down".into()),
    ]);
    let both = Both(timestream, store(&server, 5_000, 2));
    let results: Vec<ProbeResult> = (0..4).map(result).collect();

    let first = both.write_detailed(&results).await;
    assert_eq!(first.written, 0);
    assert_eq!(
        first.failed,
        vec![0, 1, 2, 3],
        "InfluxDB still down: all retried"
    );

    // The retry (SQS redelivery) rewrites Timestream identically and reaches InfluxDB.
    let second = both.write_detailed(&results).await;
    assert_eq!(second.written, 4, "{second:?}");
    assert!(second.failed.is_empty() && second.rejected.is_empty());
    // moto keeps both copies; Timestream itself takes the identical second one (same
    // version) as a duplicate. Either way every result is there once per key.
    let records = emulator.timestream_records().await.unwrap();
    let keys: std::collections::BTreeSet<(String, String)> = records
        .iter()
        .map(|(_, r)| {
            let check = r["Dimensions"]
                .as_array()
                .unwrap()
                .iter()
                .find(|d| d["Name"] == "check_id")
                .unwrap()["Value"]
                .to_string();
            (check, r["Time"].to_string())
        })
        .collect();
    assert_eq!(keys.len(), 4);
    let points: Vec<String> = server
        .requests()
        .iter()
        .skip(2)
        .flat_map(|r| lines(&r.body))
        .collect();
    assert_eq!(points.len(), 4);
}

#[tokio::test]
async fn the_token_may_come_from_secrets_manager() {
    let emulator = webmon_testkit::emulator::Emulator::start()
        .await
        .expect("emulator (pip install 'moto[server]')");
    let target = emulator.target("eu-west-1");
    let client = aws_sdk_secretsmanager::Client::new(&target.load().await);
    let plain = client
        .create_secret()
        .name("webmon/influx-plain")
        .secret_string(TOKEN)
        .send()
        .await
        .unwrap();
    let json = client
        .create_secret()
        .name("webmon/influx-json")
        .secret_string(format!(r#"{{"token":"{TOKEN}","org":"acme"}}"#))
        .send()
        .await
        .unwrap();
    let server = Recorder::start(vec![]);
    for arn in [plain.arn().unwrap(), json.arn().unwrap()] {
        assert!(
            arn.starts_with("arn:aws:secretsmanager:eu-west-1:"),
            "{arn}"
        );
        let token = resolve_token(&target, arn).await.expect("secret read");
        // The token is only ever seen on the wire.
        assert!(!format!("{token:?}").contains(TOKEN));
        let config = InfluxConfig::new(&server.url(), "acme", "webmon", token);
        InfluxStore::new(config)
            .unwrap()
            .write(&[result(0)])
            .await
            .unwrap();
    }
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    for r in requests {
        assert_eq!(r.header("authorization"), Some(&*format!("Token {TOKEN}")));
    }
    let missing = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:nope-AbCdEf";
    let err = resolve_token(&target, missing)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("GetSecretValue"), "{err}");
    // A plain token is used as it is, with no call.
    let plain = resolve_token(&target, "just-a-token").await.unwrap();
    assert!(format!("{plain:?}").contains("redacted"));
}
