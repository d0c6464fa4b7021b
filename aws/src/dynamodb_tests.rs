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
