//! The shipped examples: `examples/checks.yaml` is valid, `examples/dynamo_entries.json`
//! holds exactly the same checks as DynamoDB items (plus the table's key attributes),
//! and every fixture in `examples/invalid/` is refused with the exact check id and field.
//!
//! `dynamo_entries.json` is generated from the YAML: after editing `checks.yaml`, run
//! `WEBMON_BLESS=1 cargo test -p webmon --test examples` and commit both files.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;
use webmon_core::check::{load_checks_file, parse_checks_document, ChecksFile, RawCheck};
use webmon_core::schedule::GroupKey;

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

fn yaml_checks() -> Vec<RawCheck> {
    let text = std::fs::read_to_string(examples().join("checks.yaml")).unwrap();
    let file: ChecksFile = serde_yaml::from_str(&text).unwrap();
    file.checks
}

/// The batch-write-item document for the YAML checks.
fn render_dynamo_entries(checks: &[RawCheck]) -> Value {
    let items: Vec<Value> = checks
        .iter()
        .map(|raw| {
            let check = raw.validate().expect("example checks are valid");
            let mut item: serde_dynamo::Item = serde_dynamo::to_item(raw).unwrap();
            let attrs = item.inner_mut();
            attrs.insert("pk".into(), serde_dynamo::AttributeValue::S(raw.id.clone()));
            attrs.insert(
                "schedule_group".into(),
                serde_dynamo::AttributeValue::S(GroupKey::of(&check).name()),
            );
            serde_json::json!({ "PutRequest": { "Item": serde_json::to_value(&item).unwrap() } })
        })
        .collect();
    serde_json::json!({ "webmon-checks": items })
}

#[test]
fn example_checks_are_valid() {
    let outcome = load_checks_file(&examples().join("checks.yaml"));
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    assert!(outcome.checks.len() >= 5);
    let intervals: BTreeSet<String> = outcome
        .checks
        .iter()
        .map(|c| c.interval.to_string())
        .collect();
    assert!(
        ["10s", "30s", "1m"].iter().all(|i| intervals.contains(*i)),
        "{intervals:?}"
    );
}

#[test]
fn dynamo_entries_hold_the_same_checks() {
    let path = examples().join("dynamo_entries.json");
    let checks = yaml_checks();
    if std::env::var_os("WEBMON_BLESS").is_some() {
        let text = serde_json::to_string_pretty(&render_dynamo_entries(&checks)).unwrap();
        std::fs::write(&path, text + "\n").unwrap();
    }
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let requests = doc["webmon-checks"]
        .as_array()
        .expect("a `webmon-checks` list of requests");
    assert_eq!(
        doc.as_object().unwrap().len(),
        1,
        "one table: webmon-checks"
    );
    assert!(
        requests.len() <= 25,
        "batch-write-item takes at most 25 requests"
    );

    let mut from_dynamo = Vec::new();
    for request in requests {
        let item: serde_dynamo::Item =
            serde_json::from_value(request["PutRequest"]["Item"].clone()).unwrap();
        let mut attrs = item.inner().clone();
        let pk = attrs.remove("pk").expect("pk attribute");
        let group = attrs
            .remove("schedule_group")
            .expect("schedule_group attribute");
        let raw: RawCheck = serde_dynamo::from_item(serde_dynamo::Item::from(attrs)).unwrap();
        let check = raw.validate().unwrap();
        assert_eq!(pk, serde_dynamo::AttributeValue::S(raw.id.clone()));
        assert_eq!(
            group,
            serde_dynamo::AttributeValue::S(GroupKey::of(&check).name()),
            "{}",
            raw.id
        );
        from_dynamo.push(raw);
    }
    assert_eq!(
        from_dynamo, checks,
        "dynamo_entries.json is stale: regenerate it with WEBMON_BLESS=1"
    );
}

/// Every fixture, with the single (check id, field) it must be refused for, and how
/// many valid checks it still holds.
const INVALID: &[(&str, &str, &str, usize)] = &[
    ("bad_body_cap", "bad-body-cap", "max_body_bytes", 0),
    ("bad_header_name", "bad-header", "headers.bad name", 0),
    ("bad_id", "has spaces", "id", 0),
    ("bad_interval", "bad-interval", "interval", 0),
    (
        "bad_json_pointer",
        "bad-json-pointer",
        "assertions.json[0].pointer",
        0,
    ),
    (
        "bad_max_latency",
        "bad-max-latency",
        "assertions.max_latency",
        0,
    ),
    ("bad_method", "bad-method", "method", 0),
    ("bad_regex", "bad-regex", "assertions.body_regex[0]", 0),
    ("bad_region", "bad-region", "regions[0]", 0),
    (
        "bad_status_range",
        "bad-status-range",
        "assertions.status[1]",
        0,
    ),
    ("bad_tag_key", "bad-tag-key", "tags.team-name", 0),
    ("bad_url", "bad-url", "url", 0),
    ("duplicate_id", "twice", "id", 1),
    ("forbidden_header", "forbidden-header", "headers.Host", 0),
    ("missing_id", "<item 1>", "id", 0),
    ("missing_url", "missing-url", "url", 0),
    ("not_a_checks_file", "<file>", "checks", 0),
    ("requests_out_of_range", "too-many-requests", "requests", 0),
    (
        "secret_env_not_allowed",
        "secret-env-not-allowed",
        "headers.Authorization",
        0,
    ),
    (
        "timeout_exceeds_interval",
        "timeout-exceeds-interval",
        "timeout",
        0,
    ),
    ("timeout_too_long", "timeout-too-long", "timeout", 0),
    (
        "too_many_redirects",
        "too-many-redirects",
        "max_redirects",
        0,
    ),
    ("too_many_tags", "too-many-tags", "tags", 0),
    (
        "unknown_assertion",
        "unknown-assertion",
        "assertions.body_equals",
        0,
    ),
    ("unknown_field", "unknown-field", "colour", 0),
    ("unknown_setting", "<file>", "settings.prt", 1),
    ("unknown_top_level", "<file>", "setings", 1),
    ("url_with_user_info", "url-with-user-info", "url", 0),
    ("wrong_type", "wrong-type", "requests", 0),
];

#[test]
fn every_invalid_fixture_names_the_check_and_field() {
    let dir = examples().join("invalid");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| {
            e.unwrap()
                .path()
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    on_disk.sort();
    let listed: Vec<String> = INVALID.iter().map(|(name, ..)| name.to_string()).collect();
    assert_eq!(
        on_disk, listed,
        "every fixture in examples/invalid has a case here"
    );

    for (name, check_id, field, valid) in INVALID {
        let outcome = load_checks_file(&dir.join(format!("{name}.yaml")));
        let got: Vec<(&str, &str)> = outcome
            .errors
            .iter()
            .map(|e| (e.check_id.as_str(), e.field.as_str()))
            .collect();
        assert_eq!(got, [(*check_id, *field)], "{name}: {:?}", outcome.errors);
        assert!(!outcome.errors[0].reason.is_empty(), "{name}");
        assert_eq!(outcome.checks.len(), *valid, "{name}");
    }
}

#[test]
fn valid_checks_survive_invalid_neighbours() {
    let mut text = String::from("checks:\n  - {id: first, url: 'http://127.0.0.1:8089/ok'}\n");
    for name in ["bad_interval", "bad_regex", "unknown_field", "missing_url"] {
        let fixture =
            std::fs::read_to_string(examples().join("invalid").join(format!("{name}.yaml")))
                .unwrap();
        let items = fixture.split_once("checks:\n").unwrap().1;
        text.push_str(items);
    }
    text.push_str(
        "  - {id: last, url: 'http://127.0.0.1:8089/json', interval: 30s, timeout: 2s}\n",
    );
    let outcome = parse_checks_document(&text);
    let ids: Vec<&str> = outcome.checks.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["first", "last"]);
    let fields: Vec<&str> = outcome.errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(
        fields,
        ["interval", "assertions.body_regex[0]", "colour", "url"]
    );
}
