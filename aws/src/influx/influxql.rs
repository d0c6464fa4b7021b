//! The InfluxDB reader's query dialect: InfluxQL, which InfluxDB 1.x serves natively,
//! 2.x through its v1-compatible `/query` endpoint (a DBRP mapping from database name to
//! bucket) and 3.x as well. Only a raw `SELECT` of fields with a time range, a tag
//! filter and `GROUP BY` tags is used: the subset every one of them runs alike. Figures
//! (percentiles, medians) are computed from the rows, never by the server.

use chrono::{DateTime, SecondsFormat, Utc};
use webmon_core::read::Window;

use crate::timestream::MEASURE_NAME;

/// The fields a [`webmon_core::read::Sample`] is read from, in select order; a field
/// the database never saw (no `error_class` before the first failure) reads as null.
pub const SAMPLE_FIELDS: [&str; 11] = [
    "available",
    "status_code",
    "error_class",
    "error_message",
    "latency_avg_ms",
    "ttfb_ms",
    "warm_ttfb_ms",
    "dns_ms",
    "connect_ms",
    "tls_ms",
    "transfer_ms",
];

/// The tags the answer is grouped by: each series of the answer is one check, region
/// and URL.
pub const GROUP_TAGS: [&str; 3] = ["check_id", "region", "url"];

/// A double-quoted identifier (`"probe"`), backslashes and double quotes escaped.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A single-quoted string literal, backslashes and single quotes escaped; line breaks
/// (which a tag value cannot hold) become `\n`.
pub fn literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// A time literal: RFC 3339 in UTC with milliseconds (`'2026-01-01T00:00:00.000Z'`),
/// which every InfluxQL version reads.
pub fn time_literal(ms: i64) -> String {
    let at = DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default();
    format!("'{}'", at.to_rfc3339_opts(SecondsFormat::Millis, true))
}

/// The reader's queries over one measurement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfluxQueries {
    measurement: String,
}

impl Default for InfluxQueries {
    fn default() -> Self {
        Self::new(MEASURE_NAME)
    }
}

impl InfluxQueries {
    /// Queries over `measurement` (the writer's is `probe`).
    pub fn new(measurement: &str) -> Self {
        Self {
            measurement: measurement.to_string(),
        }
    }

    /// One row per execution scheduled in `window` (both ends included), optionally of
    /// one check, grouped by [`GROUP_TAGS`].
    pub fn samples(&self, window: &Window, check_id: Option<&str>) -> String {
        let fields: Vec<String> = SAMPLE_FIELDS.iter().map(|f| quote_ident(f)).collect();
        let check = check_id
            .map(|c| format!(" AND {} = {}", quote_ident("check_id"), literal(c)))
            .unwrap_or_default();
        let group: Vec<String> = GROUP_TAGS.iter().map(|t| quote_ident(t)).collect();
        format!(
            "SELECT {} FROM {} WHERE time >= {} AND time <= {}{check} GROUP BY {}",
            fields.join(", "),
            quote_ident(&self.measurement),
            time_literal(window.from_ms),
            time_literal(window.to_ms),
            group.join(", ")
        )
    }

    /// Two statements: executions, then passed executions, per check and UTC day in
    /// `window` (`COUNT` grouped by `time(1d)`, which starts days at 00:00 UTC; empty
    /// days left out).
    pub fn uptime(&self, window: &Window) -> String {
        let count = |name: &str, extra: &str| {
            format!(
                "SELECT COUNT({}) AS {} FROM {} WHERE time >= {} AND time <= {}{extra} GROUP BY time(1d), {} fill(none)",
                quote_ident("available"),
                quote_ident(name),
                quote_ident(&self.measurement),
                time_literal(window.from_ms),
                time_literal(window.to_ms),
                quote_ident("check_id"),
            )
        };
        format!(
            "{}; {}",
            count("samples", ""),
            count(
                "passed",
                &format!(" AND {} = true", quote_ident("available"))
            )
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_escapes_what_would_end_the_text() {
        assert_eq!(quote_ident(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(literal(r"it's a \ test"), r"'it\'s a \\ test'");
        assert_eq!(literal("two\nlines"), r"'two\nlines'");
        assert_eq!(
            time_literal(1_767_225_600_123),
            "'2026-01-01T00:00:00.123Z'"
        );
    }

    #[test]
    fn samples_query_is_bounded_filtered_and_grouped() {
        let w = Window {
            from_ms: 1_767_225_600_000,
            to_ms: 1_767_225_660_000,
        };
        let q = InfluxQueries::default().samples(&w, Some("o'k"));
        assert_eq!(
            q,
            "SELECT \"available\", \"status_code\", \"error_class\", \"error_message\", \
             \"latency_avg_ms\", \"ttfb_ms\", \"warm_ttfb_ms\", \"dns_ms\", \"connect_ms\", \
             \"tls_ms\", \"transfer_ms\" FROM \"probe\" WHERE time >= '2026-01-01T00:00:00.000Z' \
             AND time <= '2026-01-01T00:01:00.000Z' AND \"check_id\" = 'o\\'k' \
             GROUP BY \"check_id\", \"region\", \"url\""
        );
        assert!(!InfluxQueries::default()
            .samples(&w, None)
            .contains("\"check_id\" ="));
    }
}
