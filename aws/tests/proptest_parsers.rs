//! Property tests of every parser of outside input on the AWS side: no input panics.
//!
//! - result envelopes (`envelope::decode`): any text, base64 of any bytes, gzip of any
//!   JSON-like text;
//! - SQS events as the writer receives them (the Lambda event, then each body);
//! - DynamoDB stream events as the config service reads them (the event, then each
//!   image through `item_to_check`, `item_group`, `item_id`);
//! - the probe trigger (the rule's input, or a scheduled event);
//! - InfluxDB line protocol written from any result: one line, the measurement first.
//!
//! Cases: 256 each, or `PROPTEST_CASES`.

use std::io::Write;

use base64::Engine;
use proptest::prelude::*;
use webmon_core::result::ProbeResult;

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    ProptestConfig::with_cases(cases)
}

/// Any JSON value, biased toward the keys and shapes the parsers look for.
fn json() -> impl Strategy<Value = serde_json::Value> {
    let key = prop_oneof![
        Just("version".to_string()),
        Just("results".to_string()),
        Just("groups".to_string()),
        Just("group".to_string()),
        Just("time".to_string()),
        Just("detail".to_string()),
        Just("Records".to_string()),
        Just("body".to_string()),
        Just("messageId".to_string()),
        Just("dynamodb".to_string()),
        Just("NewImage".to_string()),
        Just("OldImage".to_string()),
        Just("eventName".to_string()),
        Just("S".to_string()),
        Just("N".to_string()),
        Just("M".to_string()),
        Just("pk".to_string()),
        Just("id".to_string()),
        Just("url".to_string()),
        Just("schedule_group".to_string()),
        "[a-z_]{0,8}",
    ];
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        prop_oneof![
            Just("1m-3".to_string()),
            Just("10s-31".to_string()),
            Just("2026-01-01T10:05:00Z".to_string()),
            Just("https://example.com/".to_string()),
            Just("H4sI".to_string()),
            ".{0,16}",
        ]
        .prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
            prop::collection::btree_map(key.clone(), inner, 0..6)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

fn gzip_base64(text: &[u8]) -> String {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(text).unwrap();
    base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap())
}

fn result_strategy() -> impl Strategy<Value = ProbeResult> {
    (
        ".{0,24}",
        ".{0,24}",
        ".{0,24}",
        prop::collection::btree_map(".{0,8}", ".{0,12}", 0..4),
        any::<i64>(),
        any::<f64>(),
        prop::option::of(".{0,32}"),
        any::<u64>(),
        prop::option::of(any::<i64>()),
    )
        .prop_map(
            |(check_id, region, url, tags, at, latency, message, bytes, days)| {
                let mut r: ProbeResult = serde_json::from_value(serde_json::json!({
                    "version": 1, "region": "r", "check_id": "c", "url": "u",
                    "scheduled_at_ms": 0, "started_at_ms": 0, "available": false,
                    "requests": 1,
                    "latency": {"avg_ms": 0.0, "min_ms": 0.0, "max_ms": 0.0, "p50_ms": 0.0},
                    "cold": {"dns_ms": 0.0, "connect_ms": 0.0, "tls_ms": 0.0, "ttfb_ms": 0.0, "transfer_ms": 0.0},
                    "bytes": 0, "redirects": 0
                }))
                .unwrap();
                r.check_id = check_id;
                r.region = region;
                r.url = url;
                r.tags = tags;
                r.scheduled_at_ms = at;
                r.latency.avg_ms = latency;
                r.error_message = message;
                r.bytes = bytes;
                r.tls_cert_days_left = days;
                r
            },
        )
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn envelope_decode_never_panics_on_text(body in ".{0,256}") {
        let _ = webmon_aws::envelope::decode(&body);
    }

    #[test]
    fn envelope_decode_never_panics_on_base64(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = webmon_aws::envelope::decode(&base64::engine::general_purpose::STANDARD.encode(&bytes));
    }

    #[test]
    fn envelope_decode_never_panics_on_gzipped_json(value in json()) {
        let mut text = value.to_string();
        let _ = webmon_aws::envelope::decode(&text);
        let _ = webmon_aws::envelope::decode(&gzip_base64(text.as_bytes()));
        // The same inside a well-formed envelope, so the results are parsed one by one.
        text = serde_json::json!({"version": 1, "results": [value]}).to_string();
        let _ = webmon_aws::envelope::decode(&text);
    }

    #[test]
    fn sqs_events_never_panic(value in json(), bodies in prop::collection::vec(".{0,64}", 0..4)) {
        // Any Lambda payload, as the runtime hands it to the writer...
        if let Ok(event) = serde_json::from_value::<aws_lambda_events::event::sqs::SqsEvent>(value) {
            for record in &event.records {
                let _ = webmon_aws::envelope::decode(record.body.as_deref().unwrap_or_default());
            }
        }
        // ...and a well-formed event carrying any bodies.
        let records: Vec<_> = bodies.iter().enumerate().map(|(i, b)| serde_json::json!({"messageId": format!("m{i}"), "body": b})).collect();
        let event: aws_lambda_events::event::sqs::SqsEvent = serde_json::from_value(serde_json::json!({"Records": records})).unwrap();
        for record in &event.records {
            let _ = webmon_aws::envelope::decode(record.body.as_deref().unwrap_or_default());
        }
    }

    #[test]
    fn dynamodb_stream_events_never_panic(value in json(), image in json()) {
        let mut events = vec![value];
        events.push(serde_json::json!({"Records": [{
            "eventID": "e", "eventName": "MODIFY", "eventSource": "aws:dynamodb",
            "dynamodb": {"NewImage": image.clone(), "OldImage": image, "SequenceNumber": "1"}
        }]}));
        for payload in events {
            if let Ok(event) = serde_json::from_value::<aws_lambda_events::event::dynamodb::Event>(payload) {
                for record in &event.records {
                    for item in [&record.change.new_image, &record.change.old_image] {
                        let _ = webmon_aws::dynamodb::item_group(item);
                        let _ = webmon_aws::dynamodb::item_id(item);
                        let _ = webmon_aws::dynamodb::item_to_check_noting(item.clone());
                    }
                }
            }
        }
    }

    #[test]
    fn probe_triggers_never_panic(value in json(), now in any::<i64>(), time in ".{0,32}") {
        let _ = webmon_aws::service::probe::trigger_at(&value, now);
        let rendered = webmon_aws::eventbridge::render_input(r#"{"groups":["1m-3"],"time":"<time>"}"#, &time);
        if let Ok(input) = serde_json::from_str::<serde_json::Value>(&rendered) {
            let _ = webmon_aws::service::probe::trigger_at(&input, now);
        }
    }

    #[test]
    fn line_protocol_is_one_line_for_any_result(r in result_strategy()) {
        let line = webmon_aws::influx::line::to_line(&r);
        prop_assert!(!line.contains('\n') && !line.contains('\r'), "{line:?}");
        prop_assert!(line.starts_with("probe"));
        let timestamp = line.rsplit(' ').next().unwrap();
        prop_assert_eq!(timestamp, r.scheduled_at_ms.to_string());
    }
}
