//! Retries inside one execution: configured under a check's `alert.retries` (or
//! `alert_defaults.retries`), applied by the probe engine, which records the attempts in
//! the result. They live here, with the check, because the engine needs them and the
//! alerting module depends on checks, not the other way round.

use serde::{Deserialize, Serialize};

/// Retries inside one execution.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRetries {
    /// Extra attempts after the first, 0..=5; default 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    /// `fixed`, `linear` or `exponential`; default `exponential`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff: Option<String>,
    /// First delay, default `1s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<String>,
    /// `network` (DNS, connect, TLS, timeout; default) or `any` failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on: Option<String>,
}

/// How the delay grows between retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backoff {
    /// `delay` every time.
    Fixed,
    /// `delay`, `2 x delay`, `3 x delay`...
    Linear,
    /// `delay`, `2 x delay`, `4 x delay`...
    Exponential,
}

/// Which failures are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetryOn {
    /// DNS, connect, TLS and timeout errors only.
    Network,
    /// Any failure, including status codes and assertions.
    Any,
}

/// Retries inside one execution, from the same region. The probe engine runs up to
/// `1 + count` attempts and reports one result: the last attempt's data, with
/// `attempts` saying how many ran. An execution is unavailable only if every attempt
/// failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryPolicy {
    /// Extra attempts after the first.
    pub count: u32,
    /// Growth of the delay.
    pub backoff: Backoff,
    /// First delay, milliseconds.
    pub delay_ms: u64,
    /// Which failures are retried.
    pub on: RetryOn,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            count: 0,
            backoff: Backoff::Exponential,
            delay_ms: 1000,
            on: RetryOn::Network,
        }
    }
}

impl RetryPolicy {
    /// Delay before retry number `retry` (1-based), milliseconds.
    pub fn delay_before(&self, retry: u32) -> u64 {
        let retry = retry.max(1) as u64;
        match self.backoff {
            Backoff::Fixed => self.delay_ms,
            Backoff::Linear => self.delay_ms.saturating_mul(retry),
            Backoff::Exponential => self.delay_ms.saturating_mul(1 << (retry - 1).min(16)),
        }
    }

    /// Sum of every delay, milliseconds.
    pub fn total_delay_ms(&self) -> u64 {
        (1..=self.count).map(|r| self.delay_before(r)).sum()
    }
}

/// Most extra attempts a check may ask for.
pub const MAX_RETRIES: u32 = 5;

/// Longest first delay between attempts, milliseconds.
pub const MAX_RETRY_DELAY_MS: u64 = 10_000;

/// Parses a `retries:` block, reporting each bad field as `(field, value, reason)` and
/// keeping the default for it.
pub fn parse_retries(raw: &RawRetries, err: &mut dyn FnMut(&str, String, String)) -> RetryPolicy {
    let before = RetryPolicy::default();
    let count = match raw.count {
        Some(n) if n <= MAX_RETRIES => n,
        Some(n) => {
            err(
                "retries.count",
                n.to_string(),
                format!("must be between 0 and {MAX_RETRIES}"),
            );
            before.count
        }
        None => before.count,
    };
    let backoff = match raw.backoff.as_deref() {
        None => before.backoff,
        Some("fixed") => Backoff::Fixed,
        Some("linear") => Backoff::Linear,
        Some("exponential") => Backoff::Exponential,
        Some(other) => {
            err(
                "retries.backoff",
                other.into(),
                "must be fixed, linear or exponential".into(),
            );
            before.backoff
        }
    };
    let delay_ms = match raw
        .delay
        .as_deref()
        .map(|t| (t, humantime::parse_duration(t.trim())))
    {
        None => before.delay_ms,
        Some((_, Ok(d))) if (1..=MAX_RETRY_DELAY_MS as u128).contains(&d.as_millis()) => {
            d.as_millis() as u64
        }
        Some((text, Ok(_))) => {
            err(
                "retries.delay",
                text.into(),
                "must be between 1ms and 10s".into(),
            );
            before.delay_ms
        }
        Some((text, Err(e))) => {
            err(
                "retries.delay",
                text.into(),
                format!("not a duration like 500ms, 30s or 5m ({e})"),
            );
            before.delay_ms
        }
    };
    let on = match raw.on.as_deref() {
        None | Some("network") => RetryOn::Network,
        Some("any") => RetryOn::Any,
        Some(other) => {
            err("retries.on", other.into(), "must be network or any".into());
            RetryOn::Network
        }
    };
    RetryPolicy {
        count,
        backoff,
        delay_ms,
        on,
    }
}

/// The retry policy of a check: the `retries` of its own `alert` block, else that of the
/// file's `alert_defaults`, else none. A block that does not parse counts as absent and
/// a bad field keeps its default: `alert::load_alerting` and `webmon validate` report
/// those errors with the check's id.
pub fn retries_of(
    alert: Option<&serde_json::Value>,
    defaults: Option<&serde_json::Value>,
) -> RetryPolicy {
    let block = |v: Option<&serde_json::Value>| {
        let raw = v?.get("retries")?;
        serde_json::from_value::<RawRetries>(raw.clone()).ok()
    };
    block(alert)
        .or_else(|| block(defaults))
        .map(|raw| parse_retries(&raw, &mut |_, _, _| {}))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn own_block_wins_over_the_defaults_and_absent_means_no_retries() {
        let own =
            json!({"retries": {"count": 2, "on": "any", "backoff": "fixed", "delay": "50ms"}});
        let defaults = json!({"retries": {"count": 1}});
        let p = retries_of(Some(&own), Some(&defaults));
        assert_eq!(
            (p.count, p.on, p.backoff, p.delay_ms),
            (2, RetryOn::Any, Backoff::Fixed, 50)
        );
        assert_eq!(retries_of(None, Some(&defaults)).count, 1);
        assert_eq!(retries_of(Some(&json!({"channels": ["x"]})), None).count, 0);
        assert_eq!(retries_of(None, None), RetryPolicy::default());
    }

    #[test]
    fn bad_fields_are_reported_by_name_and_keep_their_defaults() {
        let raw = RawRetries {
            count: Some(9),
            backoff: Some("random".into()),
            delay: Some("1h".into()),
            on: Some("status".into()),
        };
        let mut fields = Vec::new();
        let p = parse_retries(&raw, &mut |f, v, _| fields.push(format!("{f}={v}")));
        assert_eq!(
            fields,
            [
                "retries.count=9",
                "retries.backoff=random",
                "retries.delay=1h",
                "retries.on=status"
            ]
        );
        assert_eq!(p, RetryPolicy::default());
    }

    #[test]
    fn delays_grow_by_backoff() {
        let p = RetryPolicy {
            count: 3,
            backoff: Backoff::Exponential,
            delay_ms: 100,
            on: RetryOn::Network,
        };
        assert_eq!(
            (1..=3).map(|r| p.delay_before(r)).collect::<Vec<_>>(),
            [100, 200, 400]
        );
        assert_eq!(p.total_delay_ms(), 700);
    }
}
