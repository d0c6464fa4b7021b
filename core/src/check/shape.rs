//! The shape of one checks-file item, looked at before serde: every unknown field (with
//! a "did you mean" for a near miss) and every value of the wrong kind is reported, in
//! words a person reads (`expected a whole number`), and removed, so the rest of the
//! item is still validated and every problem is listed at once. Friendly forms are
//! accepted: a single value where a list is expected (`status: 200`,
//! `body_contains: ok`) and plain seconds for durations (`interval: 30`).

use serde_yaml::{Mapping, Value};

use super::ValidationError;

/// What a field holds.
#[derive(Clone, Copy)]
enum Kind {
    Text,
    Duration,
    Whole,
    Bool,
    TextList,
    TextMap,
    StatusList,
    JsonList,
    Assertions,
    /// Checked by serde later (the alert policy).
    Any,
}

const CHECK_FIELDS: [(&str, Kind); 17] = [
    ("id", Kind::Text),
    ("url", Kind::Text),
    ("method", Kind::Text),
    ("headers", Kind::TextMap),
    ("body", Kind::Text),
    ("interval", Kind::Duration),
    ("requests", Kind::Whole),
    ("timeout", Kind::Duration),
    ("regions", Kind::TextList),
    ("enabled", Kind::Bool),
    ("tags", Kind::TextMap),
    ("assertions", Kind::Assertions),
    ("follow_redirects", Kind::Bool),
    ("max_redirects", Kind::Whole),
    ("allow_private", Kind::Bool),
    ("max_body_bytes", Kind::Whole),
    ("alert", Kind::Any),
];

const ASSERTION_FIELDS: [(&str, Kind); 7] = [
    ("status", Kind::StatusList),
    ("body_contains", Kind::TextList),
    ("body_regex", Kind::TextList),
    ("json", Kind::JsonList),
    ("headers", Kind::TextMap),
    ("max_latency", Kind::Duration),
    ("tls_min_days", Kind::Whole),
];

/// Edit distance between two short names.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// The known name closest to `name`, when it is close enough to be a typo.
pub fn did_you_mean<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    known
        .into_iter()
        .map(|k| (distance(name, k), k))
        .filter(|(d, k)| *d <= (k.len() / 3).max(1) + usize::from(k.len() > 8))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// A value described for a message: `the text "many"`, `a list`, `the number 3`.
pub fn describe(value: &Value) -> String {
    match value {
        Value::Null => "nothing".into(),
        Value::Bool(b) => format!("{b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the text {s:?}"),
        Value::Sequence(_) => "a list".into(),
        Value::Mapping(_) => "a mapping".into(),
        Value::Tagged(_) => "a tagged value".into(),
    }
}

fn render(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => serde_yaml::to_string(other)
            .map(|t| t.trim().to_string())
            .unwrap_or_default(),
    }
}

fn is_text(v: &Value) -> bool {
    matches!(v, Value::String(_))
}

/// A scalar as text, for maps of texts (`tags: {version: 2}` is fine).
fn scalar_text(v: &Value) -> Option<Value> {
    match v {
        Value::String(_) => Some(v.clone()),
        Value::Number(n) => Some(Value::String(n.to_string())),
        Value::Bool(b) => Some(Value::String(b.to_string())),
        _ => None,
    }
}

/// Checks (and normalises) one value; `Err` is the reason it is refused.
fn shape(
    kind: Kind,
    value: &mut Value,
    errors: &mut Vec<(String, Value, String)>,
    path: &str,
) -> Result<(), String> {
    match kind {
        Kind::Any => Ok(()),
        Kind::Text if is_text(value) => Ok(()),
        Kind::Text => Err("expected text".into()),
        Kind::Bool if value.is_bool() => Ok(()),
        Kind::Bool => Err("expected true or false".into()),
        Kind::Whole if value.as_u64().is_some() => Ok(()),
        Kind::Whole => Err("expected a whole number (0 or more)".into()),
        Kind::Duration => match value {
            Value::String(_) => Ok(()),
            Value::Number(n) if n.as_u64().is_some() => {
                *value = Value::String(format!("{n}s"));
                Ok(())
            }
            _ => Err(
                "expected a duration such as `30s`, `500ms` or `5m` (a plain number is seconds)"
                    .into(),
            ),
        },
        Kind::TextList => {
            if is_text(value) {
                *value = Value::Sequence(vec![value.clone()]);
            }
            match value.as_sequence() {
                Some(items) if items.iter().all(is_text) => Ok(()),
                Some(_) => Err("expected a list of texts".into()),
                None => Err("expected a text or a list of texts".into()),
            }
        }
        Kind::StatusList => {
            if matches!(value, Value::String(_) | Value::Number(_)) {
                *value = Value::Sequence(vec![value.clone()]);
            }
            match value.as_sequence() {
                Some(items)
                    if items.iter().all(|i| {
                        is_text(i) || i.as_u64().is_some_and(|n| n <= u64::from(u16::MAX))
                    }) =>
                {
                    Ok(())
                }
                _ => Err(
                    "expected a status code, a range such as `200-299`, or a list of them".into(),
                ),
            }
        }
        Kind::JsonList => {
            if value.is_mapping() {
                *value = Value::Sequence(vec![value.clone()]);
            }
            match value.as_sequence() {
                Some(items) if items.iter().all(Value::is_mapping) => Ok(()),
                _ => Err("expected `{pointer, equals}` or a list of them".into()),
            }
        }
        Kind::TextMap => {
            let Some(map) = value.as_mapping_mut() else {
                return Err("expected a mapping of names to texts".into());
            };
            for (k, v) in map.iter_mut() {
                match scalar_text(v) {
                    Some(text) if is_text(k) => *v = text,
                    _ => {
                        return Err(format!(
                            "expected a mapping of names to texts; `{}` holds {}",
                            render(k),
                            describe(v)
                        ))
                    }
                }
            }
            Ok(())
        }
        Kind::Assertions => {
            let Some(map) = value.as_mapping_mut() else {
                return Err("expected a mapping of assertions".into());
            };
            fields(map, &ASSERTION_FIELDS, &format!("{path}."), errors);
            Ok(())
        }
    }
}

/// Checks every field of `map` against `known`, removing the unknown and the
/// ill-typed ones; each problem is pushed as (field path, value, reason).
fn fields(
    map: &mut Mapping,
    known: &[(&str, Kind)],
    prefix: &str,
    errors: &mut Vec<(String, Value, String)>,
) {
    let keys: Vec<Value> = map.keys().cloned().collect();
    for key in keys {
        let name = key.as_str().unwrap_or_default().to_string();
        let path = format!("{prefix}{name}");
        let Some(&(_, kind)) = known.iter().find(|(k, _)| *k == name) else {
            let value = map.remove(&key).unwrap_or(Value::Null);
            let reason = match did_you_mean(&name, known.iter().map(|(k, _)| *k)) {
                Some(guess) => format!("unknown field; did you mean `{guess}`?"),
                None => {
                    let mut names: Vec<&str> = known.iter().map(|(k, _)| *k).collect();
                    names.dedup();
                    format!("unknown field; expected one of {}", names.join(", "))
                }
            };
            errors.push((path, value, reason));
            continue;
        };
        let value = map.get_mut(&key).expect("a key just listed");
        if let Err(reason) = shape(kind, value, errors, &path) {
            let reason = format!("{reason}, got {}", describe(value));
            let value = map.remove(&key).unwrap_or(Value::Null);
            errors.push((path, value, reason));
        }
    }
}

/// Checks and normalises an item in place; returns its shape errors and the fields
/// they name (so validation does not report them twice).
pub fn check_item(label: &str, item: &mut Value) -> Vec<ValidationError> {
    let Some(map) = item.as_mapping_mut() else {
        return vec![ValidationError::new(
            label,
            "<item>",
            render(item),
            format!(
                "expected a mapping with `id` and `url`, got {}",
                describe(item)
            ),
        )];
    };
    let mut errors = Vec::new();
    fields(map, &CHECK_FIELDS, "", &mut errors);
    errors
        .into_iter()
        .map(|(path, value, reason)| ValidationError::new(label, &path, render(&value), reason))
        .collect()
}

/// A serde message in words: `expected u32` becomes `expected a whole number`.
pub fn humanize(message: &str) -> String {
    let mut text = message.to_string();
    for (from, to) in [
        ("expected u8", "expected a whole number"),
        ("expected u16", "expected a whole number"),
        ("expected u32", "expected a whole number"),
        ("expected u64", "expected a whole number"),
        ("expected i64", "expected a whole number"),
        ("expected f64", "expected a number"),
        ("expected a string", "expected text"),
        ("expected a boolean", "expected true or false"),
        ("expected a sequence", "expected a list"),
        ("expected a map", "expected a mapping"),
        ("invalid type: string", "got the text"),
        ("invalid type: integer", "got the number"),
        ("invalid type: sequence", "got a list"),
        ("invalid type: map", "got a mapping"),
    ] {
        text = text.replace(from, to);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_misses_are_suggested() {
        let known = CHECK_FIELDS.iter().map(|(k, _)| *k);
        assert_eq!(did_you_mean("intervall", known.clone()), Some("interval"));
        assert_eq!(did_you_mean("timout", known.clone()), Some("timeout"));
        assert_eq!(did_you_mean("colour", known), None);
    }

    #[test]
    fn every_problem_of_an_item_is_listed_and_friendly_forms_pass() {
        let mut item: Value = serde_yaml::from_str(
            "{id: a, url: 'https://a.test', intervall: 1m, requests: many, enabled: maybe, timeout: 5, regions: local, assertions: {status: 200, body_contains: ok, tls_min_dayz: 3}}",
        )
        .unwrap();
        let errors = check_item("a", &mut item);
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "intervall",
                "requests",
                "enabled",
                "assertions.tls_min_dayz"
            ]
        );
        assert!(
            errors[1].reason.starts_with("expected a whole number"),
            "{}",
            errors[1].reason
        );
        assert_eq!(item["timeout"], Value::String("5s".into()));
        assert!(item["regions"].is_sequence());
        assert!(item["assertions"]["status"].is_sequence());
    }
}
