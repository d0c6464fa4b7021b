//! Assertion evaluation: a pure function over a response snapshot, no I/O.

use std::time::Duration;

use crate::check::Assertions;
use crate::result::{excerpt, ErrorClass};

/// What the assertions look at: one response of an execution plus the execution's
/// average latency and the certificate's remaining days. The probe checks the response
/// assertions ([`check_response`]) on every response and the execution assertions
/// ([`check_execution`]) once; [`evaluate`] does both on one snapshot.
#[derive(Debug, Clone, Copy)]
pub struct Snapshot<'a> {
    /// Status code of the response.
    pub status: u16,
    /// Response headers of the response.
    pub headers: &'a http::HeaderMap,
    /// Decoded body of the response.
    pub body: &'a [u8],
    /// Average latency over the execution's requests.
    pub avg_latency: Duration,
    /// Days left on the server certificate (https only).
    pub cert_days_left: Option<i64>,
}

/// A failed assertion: the class (`http_status` or `assertion`) and a message naming
/// what was expected and what was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssertionFailure {
    /// `HttpStatus` for the status set, `Assertion` for everything else.
    pub class: ErrorClass,
    /// Human-readable reason.
    pub message: String,
}

fn fail(class: ErrorClass, message: String) -> Result<(), AssertionFailure> {
    Err(AssertionFailure { class, message })
}

/// Checks the status code alone (evaluated on every request).
pub fn check_status(assertions: &Assertions, status: u16) -> Result<(), AssertionFailure> {
    if assertions.status.accepts(status) {
        Ok(())
    } else {
        fail(
            ErrorClass::HttpStatus,
            format!(
                "status {status} is not among the accepted codes {}",
                assertions.status
            ),
        )
    }
}

/// Evaluates every assertion against `snap`; the first failure is returned.
pub fn evaluate(assertions: &Assertions, snap: &Snapshot<'_>) -> Result<(), AssertionFailure> {
    check_response(assertions, snap.status, snap.headers, snap.body)?;
    check_execution(assertions, snap.avg_latency, snap.cert_days_left)
}

/// The assertions about one response: status, body text and regexes, JSON pointers and
/// headers. The probe runs them on every response of an execution.
pub fn check_response(
    assertions: &Assertions,
    status: u16,
    headers: &http::HeaderMap,
    body: &[u8],
) -> Result<(), AssertionFailure> {
    check_status(assertions, status)?;
    if !assertions.body_contains.is_empty() || !assertions.body_regex.is_empty() {
        let body = String::from_utf8_lossy(body);
        for needle in &assertions.body_contains {
            if !body.contains(needle.as_str()) {
                return fail(
                    ErrorClass::Assertion,
                    format!("body does not contain {:?}", excerpt(needle)),
                );
            }
        }
        for re in &assertions.body_regex {
            if !re.is_match(&body) {
                return fail(
                    ErrorClass::Assertion,
                    format!("body does not match regex {:?}", excerpt(re.as_str())),
                );
            }
        }
    }
    for p in &assertions.json {
        let pointer = excerpt(&p.pointer);
        let expected = excerpt(&p.equals.to_string());
        match super::json::find(body, &p.pointer, &p.equals) {
            Ok(super::json::Found::Value(v)) if v == p.equals => {}
            Ok(super::json::Found::Value(v)) => {
                return fail(
                    ErrorClass::Assertion,
                    format!(
                        "JSON {pointer:?} is {}, expected {expected}",
                        excerpt(&v.to_string())
                    ),
                );
            }
            Ok(super::json::Found::Larger) => {
                return fail(
                    ErrorClass::Assertion,
                    format!("JSON {pointer:?} is a larger value than the expected {expected}"),
                );
            }
            Ok(super::json::Found::Missing) => {
                return fail(
                    ErrorClass::Assertion,
                    format!("JSON {pointer:?} is missing"),
                )
            }
            Err(e) => {
                return fail(
                    ErrorClass::Assertion,
                    format!("body is not JSON ({})", excerpt(&e)),
                )
            }
        }
    }
    for (name, expected) in &assertions.headers {
        let shown = excerpt(expected);
        match headers.get(name.as_str()).map(|v| v.to_str()) {
            Some(Ok(v)) if v == expected => {}
            Some(Ok(v)) => {
                return fail(
                    ErrorClass::Assertion,
                    format!("header {name} is {:?}, expected {shown:?}", excerpt(v)),
                )
            }
            Some(Err(_)) => {
                return fail(
                    ErrorClass::Assertion,
                    format!("header {name} is not text, expected {shown:?}"),
                )
            }
            None => {
                return fail(
                    ErrorClass::Assertion,
                    format!("header {name} is missing, expected {shown:?}"),
                )
            }
        }
    }
    Ok(())
}

/// The assertions about the whole execution: the average latency over all its requests
/// (`max_latency`) and the certificate's days left (`tls_min_days`).
pub fn check_execution(
    assertions: &Assertions,
    avg_latency: Duration,
    cert_days_left: Option<i64>,
) -> Result<(), AssertionFailure> {
    if let Some(max) = assertions.max_latency {
        if avg_latency > max {
            return fail(
                ErrorClass::Assertion,
                format!(
                    "average latency {:.1} ms exceeds {} ms",
                    avg_latency.as_secs_f64() * 1e3,
                    max.as_millis()
                ),
            );
        }
    }
    if let Some(min_days) = assertions.tls_min_days {
        match cert_days_left {
            Some(days) if days >= i64::from(min_days) => {}
            Some(days) => {
                return fail(
                    ErrorClass::Assertion,
                    format!("TLS certificate expires in {days} days, fewer than {min_days}"),
                );
            }
            None => {
                return fail(
                    ErrorClass::Assertion,
                    format!("no TLS certificate to check for {min_days} days left"),
                )
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{JsonPointerEquals, StatusSet};

    fn snap<'a>(headers: &'a http::HeaderMap, body: &'a [u8]) -> Snapshot<'a> {
        Snapshot {
            status: 200,
            headers,
            body,
            avg_latency: Duration::from_millis(40),
            cert_days_left: Some(30),
        }
    }

    fn class(a: &Assertions, s: &Snapshot<'_>) -> Option<ErrorClass> {
        evaluate(a, s).err().map(|f| f.class)
    }

    #[test]
    fn status_set() {
        let h = http::HeaderMap::new();
        let mut s = snap(&h, b"");
        let a = Assertions::default();
        assert_eq!(class(&a, &s), None);
        s.status = 404;
        assert_eq!(class(&a, &s), Some(ErrorClass::HttpStatus));
        let a = Assertions {
            status: StatusSet::parse(&["404".into()]).unwrap(),
            ..Default::default()
        };
        assert_eq!(class(&a, &s), None);
    }

    #[test]
    fn body_contains_and_regex() {
        let h = http::HeaderMap::new();
        let s = snap(&h, b"hello world");
        let a = Assertions {
            body_contains: vec!["world".into()],
            ..Default::default()
        };
        assert_eq!(class(&a, &s), None);
        let a = Assertions {
            body_contains: vec!["planet".into()],
            ..Default::default()
        };
        assert_eq!(class(&a, &s), Some(ErrorClass::Assertion));
        let a = Assertions {
            body_regex: vec![regex::Regex::new("^hel+o").unwrap()],
            ..Default::default()
        };
        assert_eq!(class(&a, &s), None);
        let a = Assertions {
            body_regex: vec![regex::Regex::new("^world").unwrap()],
            ..Default::default()
        };
        assert!(evaluate(&a, &s).unwrap_err().message.contains("^world"));
    }

    #[test]
    fn json_pointer() {
        let h = http::HeaderMap::new();
        let s = snap(&h, br#"{"status":"ok","n":[1,2]}"#);
        let ptr = |p: &str, v: serde_json::Value| Assertions {
            json: vec![JsonPointerEquals {
                pointer: p.into(),
                equals: v,
            }],
            ..Default::default()
        };
        assert_eq!(class(&ptr("/status", "ok".into()), &s), None);
        assert_eq!(class(&ptr("/n/1", 2.into()), &s), None);
        assert_eq!(
            class(&ptr("/status", "down".into()), &s),
            Some(ErrorClass::Assertion)
        );
        assert!(evaluate(&ptr("/missing", 1.into()), &s)
            .unwrap_err()
            .message
            .contains("missing"));
        let not_json = snap(&h, b"<html>");
        assert!(evaluate(&ptr("/status", "ok".into()), &not_json)
            .unwrap_err()
            .message
            .contains("not JSON"));
    }

    #[test]
    fn headers_latency_and_certificate() {
        let mut h = http::HeaderMap::new();
        h.insert("content-type", "application/json".parse().unwrap());
        let s = snap(&h, b"");
        let a = Assertions {
            headers: vec![("content-type".into(), "application/json".into())],
            ..Default::default()
        };
        assert_eq!(class(&a, &s), None);
        let a = Assertions {
            headers: vec![("x-missing".into(), "1".into())],
            ..Default::default()
        };
        assert_eq!(class(&a, &s), Some(ErrorClass::Assertion));
        let a = Assertions {
            max_latency: Some(Duration::from_millis(50)),
            ..Default::default()
        };
        assert_eq!(class(&a, &s), None);
        let a = Assertions {
            max_latency: Some(Duration::from_millis(10)),
            ..Default::default()
        };
        assert_eq!(class(&a, &s), Some(ErrorClass::Assertion));
        let a = Assertions {
            tls_min_days: Some(30),
            ..Default::default()
        };
        assert_eq!(class(&a, &s), None);
        let a = Assertions {
            tls_min_days: Some(31),
            ..Default::default()
        };
        assert_eq!(class(&a, &s), Some(ErrorClass::Assertion));
        let plain = Snapshot {
            cert_days_left: None,
            ..s
        };
        assert_eq!(class(&a, &plain), Some(ErrorClass::Assertion));
    }
}
