//! JSON pointer assertions without building the document.
//!
//! A hostile body such as `[0,0,0,...]` of 64 MiB turns into a `serde_json::Value` of
//! more than a gigabyte. Instead the body is walked once per pointer: subtrees off the
//! pointer's path are skipped ([`IgnoredAny`]), and the value at the pointer is built
//! only up to the size of the expected value (a larger one cannot be equal), so memory
//! stays bounded by the expected value plus the parser's nesting (limited to 128 levels).

use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// What a pointer found.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Found {
    /// Nothing at the pointer.
    Missing,
    /// A value no larger than the expected one.
    Value(Value),
    /// A value larger than the expected one (so not equal).
    Larger,
}

const TOO_LARGE: &str = "webmon: value larger than expected";

/// Looks up `pointer` (RFC 6901) in the JSON `body`, building the value found only when
/// it is no larger than `expected`. Errors when the body is not JSON.
pub(crate) fn find(body: &[u8], pointer: &str, expected: &Value) -> Result<Found, String> {
    let tokens = tokens(pointer);
    let mut found = Found::Missing;
    let mut de = serde_json::Deserializer::from_slice(body);
    let walked = Walk {
        tokens: &tokens,
        budget: cost(expected),
        found: &mut found,
    }
    .deserialize(&mut de);
    match walked {
        // Parsing stopped as soon as the value outgrew the expected one.
        Err(_) if found == Found::Larger => Ok(found),
        Err(e) => Err(e.to_string()),
        Ok(()) => {
            de.end().map_err(|e| e.to_string())?;
            Ok(found)
        }
    }
}

fn tokens(pointer: &str) -> Vec<String> {
    if pointer.is_empty() {
        return Vec::new();
    }
    pointer
        .split('/')
        .skip(1)
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect()
}

/// The size of a value as [`Bounded`] counts it.
fn cost(value: &Value) -> usize {
    match value {
        Value::Null | Value::Bool(_) => 1,
        Value::Number(_) => 8,
        Value::String(s) => 1 + s.len(),
        Value::Array(items) => 1 + items.iter().map(cost).sum::<usize>(),
        Value::Object(map) => {
            1 + map
                .iter()
                .map(|(k, v)| 1 + k.len() + cost(v))
                .sum::<usize>()
        }
    }
}

/// An array index token: digits without a leading zero (RFC 6901).
fn index(token: &str) -> Option<usize> {
    if token.is_empty() || (token.len() > 1 && token.starts_with('0')) {
        return None;
    }
    token.parse().ok()
}

struct Walk<'a> {
    tokens: &'a [String],
    budget: usize,
    found: &'a mut Found,
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        if self.tokens.is_empty() {
            let left = Cell::new(self.budget);
            match (Bounded { left: &left }).deserialize(d) {
                Ok(value) => *self.found = Found::Value(value),
                Err(e) if e.to_string().starts_with(TOO_LARGE) => {
                    // The rest of the document is not read: the answer is known.
                    *self.found = Found::Larger;
                    return Err(e);
                }
                Err(e) => return Err(e),
            }
            Ok(())
        } else {
            d.deserialize_any(self)
        }
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let wanted = &self.tokens[0];
        while let Some(matches) = map.next_key_seed(KeyIs(wanted))? {
            if matches {
                // Duplicate keys: the last one wins, as in a parsed document.
                *self.found = Found::Missing;
                map.next_value_seed(Walk {
                    tokens: &self.tokens[1..],
                    budget: self.budget,
                    found: self.found,
                })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let wanted = index(&self.tokens[0]);
        let mut i = 0usize;
        loop {
            if Some(i) == wanted {
                let walk = Walk {
                    tokens: &self.tokens[1..],
                    budget: self.budget,
                    found: self.found,
                };
                if seq.next_element_seed(walk)?.is_none() {
                    return Ok(());
                }
            } else if seq.next_element::<IgnoredAny>()?.is_none() {
                return Ok(());
            }
            i += 1;
        }
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
}

/// A map key compared with the wanted token without keeping it.
struct KeyIs<'a>(&'a str);

impl<'de> DeserializeSeed<'de> for KeyIs<'_> {
    type Value = bool;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeyIs<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<bool, E> {
        Ok(key == self.0)
    }
}

/// Builds a value while counting its size against a budget; fails with [`TOO_LARGE`]
/// past it.
struct Bounded<'a> {
    left: &'a Cell<usize>,
}

impl Bounded<'_> {
    fn charge<E: de::Error>(&self, n: usize) -> Result<(), E> {
        match self.left.get().checked_sub(n) {
            Some(left) => {
                self.left.set(left);
                Ok(())
            }
            None => Err(E::custom(TOO_LARGE)),
        }
    }
}

impl<'de> DeserializeSeed<'de> for Bounded<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Bounded<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        self.charge(1)?;
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        self.charge(8)?;
        Ok(Value::from(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        self.charge(8)?;
        Ok(Value::from(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        self.charge(8)?;
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        self.charge(1 + v.len())?;
        Ok(Value::String(v.to_string()))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        self.charge(1)?;
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        self.charge(1)?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(Bounded { left: self.left })? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        self.charge(1)?;
        let mut out = Map::new();
        while let Some(key) = map.next_key_seed(BoundedKey { left: self.left })? {
            let value = map.next_value_seed(Bounded { left: self.left })?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

struct BoundedKey<'a> {
    left: &'a Cell<usize>,
}

impl<'de> DeserializeSeed<'de> for BoundedKey<'_> {
    type Value = String;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for BoundedKey<'_> {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<String, E> {
        (Bounded { left: self.left }).charge(1 + key.len())?;
        Ok(key.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(body: &str, pointer: &str, expected: Value) -> Found {
        find(body.as_bytes(), pointer, &expected).unwrap()
    }

    #[test]
    fn finds_values_like_a_parsed_document() {
        let body = r#"{"a":{"b":[1,{"c":"x"}]},"n":-2,"f":1.5,"d":1,"d":2,"s/l":true}"#;
        assert_eq!(at(body, "/a/b/1/c", json!("x")), Found::Value(json!("x")));
        assert_eq!(at(body, "/n", json!(-2)), Found::Value(json!(-2)));
        assert_eq!(at(body, "/f", json!(1.5)), Found::Value(json!(1.5)));
        assert_eq!(at(body, "/d", json!(2)), Found::Value(json!(2)));
        assert_eq!(at(body, "/s~1l", json!(true)), Found::Value(json!(true)));
        assert_eq!(at(body, "/a/b/01", json!(1)), Found::Missing);
        assert_eq!(at(body, "/a/b/5", json!(1)), Found::Missing);
        assert_eq!(at(body, "/n/x", json!(1)), Found::Missing);
        assert_eq!(at(body, "/a", json!(1)), Found::Larger);
        let whole = at(r#"{"k":[1,2]}"#, "", json!({"k":[1,2]}));
        assert_eq!(whole, Found::Value(json!({"k":[1,2]})));
        assert!(find(b"{\"a\":", "/a", &json!(1)).is_err());
        assert!(find(b"[1] x", "/0", &json!(1)).is_err());
    }
}
