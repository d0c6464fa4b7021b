//! Unit tests of [`super`]: items and checks.

use super::*;
use webmon_core::check::RawCheck;

#[test]
fn items_round_trip_and_carry_keys() {
    let raw = RawCheck {
        id: "a".into(),
        url: "https://example.com".into(),
        interval: Some("30s".into()),
        requests: Some(3),
        ..Default::default()
    };
    let check = raw.validate().unwrap();
    let item = check_to_item(&check).unwrap();
    assert_eq!(item[PK], AttributeValue::S("a".into()));
    assert_eq!(
        item[GROUP_ATTR],
        AttributeValue::S(GroupKey::of(&check).name())
    );
    let back = item_to_check(serde_dynamo::Item::from(item)).unwrap();
    assert_eq!(back.source, raw);
}

#[test]
fn bad_items_name_the_field_and_value() {
    let mut item: Item = HashMap::new();
    item.insert(PK.into(), AttributeValue::S("b".into()));
    item.insert("id".into(), AttributeValue::S("b".into()));
    item.insert(
        "url".into(),
        AttributeValue::S("https://example.com".into()),
    );
    item.insert("requests".into(), AttributeValue::S("many".into()));
    let errors = item_to_check(serde_dynamo::Item::from(item)).unwrap_err();
    assert_eq!(
        (
            errors[0].check_id.as_str(),
            errors[0].field.as_str(),
            errors[0].value.as_str()
        ),
        ("b", "requests", "many")
    );
}

#[test]
fn extra_attributes_are_ignored_and_named() {
    let raw = RawCheck {
        id: "c".into(),
        url: "https://example.com".into(),
        ..Default::default()
    };
    let mut item = check_to_item(&raw.clone().validate().unwrap()).unwrap();
    item.insert("ttl".into(), AttributeValue::N("1893456000".into()));
    item.insert("updated_by".into(), AttributeValue::S("terraform".into()));
    let (check, extra) = item_to_check_noting(serde_dynamo::Item::from(item));
    assert_eq!(check.unwrap().source, raw);
    assert_eq!(extra, ["ttl", "updated_by"]);
    // The checks file stays strict.
    let err = serde_json::from_str::<RawCheck>(r#"{"id":"c","url":"https://example.com","ttl":1}"#);
    assert!(err.is_err());
}

#[test]
fn checks_that_cannot_fit_the_probe_budget_are_refused() {
    let check = |id: &str, requests: u32, timeout: &str, interval: &str| {
        RawCheck {
            id: id.into(),
            url: "https://example.com".into(),
            interval: Some(interval.into()),
            requests: Some(requests),
            timeout: Some(timeout.into()),
            ..Default::default()
        }
        .validate()
        .unwrap()
    };
    // Defaults (5 x 10 s) fit from any offset.
    for n in 0..200 {
        let c = check(&format!("d{n}"), 5, "10s", "1m");
        assert!(check_fits_budget(&c, probe_time_budget()).is_ok());
    }
    let slow = check("slow", 4, "60s", "5m");
    let err = check_fits_budget(&slow, probe_time_budget()).unwrap_err();
    assert_eq!(
        (
            err.check_id.as_str(),
            err.field.as_str(),
            err.value.as_str()
        ),
        ("slow", "timeout", "60s")
    );
    assert!(err.reason.contains("time budget"), "{}", err.reason);
    let item = check_to_item(&slow).unwrap();
    let errors = item_to_check(serde_dynamo::Item::from(item)).unwrap_err();
    assert_eq!(errors[0].field, "timeout");
}
