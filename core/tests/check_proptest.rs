//! Property tests for the parsers of outside input: the YAML checks file and a raw check
//! from JSON (the DynamoDB and API form). Whatever the input, parsing and validation
//! return checks or errors, never panic.
//!
//! CI runs 256 cases per property. For a long run, set the case count in the
//! environment, e.g.
//! `PROPTEST_CASES=1000000 cargo test --release -p webmon-core --test check_proptest`.

use proptest::prelude::*;
use webmon_core::check::{parse_checks_document, RawCheck};

/// Cases per property: `PROPTEST_CASES` when set, else 256.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    ProptestConfig::with_cases(cases)
}

/// Field names, including unknown and nested ones.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("id"),
        Just("url"),
        Just("method"),
        Just("headers"),
        Just("body"),
        Just("interval"),
        Just("requests"),
        Just("timeout"),
        Just("regions"),
        Just("enabled"),
        Just("tags"),
        Just("assertions"),
        Just("status"),
        Just("json"),
        Just("pointer"),
        Just("equals"),
        Just("body_regex"),
        Just("max_latency"),
        Just("tls_min_days"),
        Just("follow_redirects"),
        Just("max_redirects"),
        Just("allow_private"),
        Just("max_body_bytes"),
        Just("checks"),
        Just("Authorization"),
    ]
    .prop_map(str::to_string)
    .boxed()
    .prop_union(".{0,12}".boxed())
    .boxed()
}

/// Scalars that probe the validators' edges.
fn scalar() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<u64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        Just(serde_json::Value::Null),
        prop_oneof![
            Just("10s"),
            Just("0s"),
            Just("99999999999999999999h"),
            Just("https://user:pw@example.com/"),
            Just("http://[::1]:0/"),
            Just("${env:AWS_SECRET_ACCESS_KEY}"),
            Just("${env:"),
            Just("${secret:x}"),
            Just("200-100"),
            Just("/a~1b"),
            Just("(unclosed"),
            Just("GET"),
        ]
        .prop_map(serde_json::Value::from),
        ".{0,40}".prop_map(serde_json::Value::from),
    ]
}

/// JSON values of a few levels, shaped like checks often enough to reach validation.
fn value() -> impl Strategy<Value = serde_json::Value> {
    scalar().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(key(), inner, 0..8)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A check-shaped object: id and url most of the time, then anything.
fn check_like() -> impl Strategy<Value = serde_json::Value> {
    (
        prop::option::of(scalar()),
        prop::option::of(scalar()),
        prop::collection::btree_map(key(), value(), 0..8),
    )
        .prop_map(|(id, url, rest)| {
            let mut map: serde_json::Map<String, serde_json::Value> = rest.into_iter().collect();
            if let Some(id) = id {
                map.insert("id".into(), id);
            }
            if let Some(url) = url {
                map.insert("url".into(), url);
            }
            serde_json::Value::Object(map)
        })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_text_as_a_checks_file_never_panics(text in ".{0,400}") {
        let outcome = parse_checks_document(&text);
        let _ = outcome.summary().to_string();
    }

    #[test]
    fn any_checks_document_never_panics(items in prop::collection::vec(check_like(), 0..4)) {
        let doc = serde_json::json!({ "checks": items });
        // JSON is YAML: the file loader reads it as is.
        let outcome = parse_checks_document(&doc.to_string());
        prop_assert!(outcome.checks.len() + outcome.summary().invalid_items <= items.len().max(1) + items.len());
    }

    #[test]
    fn any_raw_check_from_json_never_panics(item in check_like()) {
        if let Ok(raw) = serde_json::from_value::<RawCheck>(item) {
            let _ = raw.validate();
        }
    }

    #[test]
    fn any_bytes_as_a_raw_check_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(raw) = serde_json::from_slice::<RawCheck>(&bytes) {
            let _ = raw.validate();
        }
    }
}
