//! InfluxDB line protocol for one result:
//! `probe,check_id=..,region=..,tag_<name>=..,url=.. available=true,status_code=200i,... <ms>`.
//!
//! Escaping follows the protocol: in the measurement, commas and spaces; in tag keys, tag
//! values and field keys, commas, equals signs and spaces; in string field values, double
//! quotes; backslashes everywhere, so a value ending in one stays closed. Line breaks
//! cannot be written at all, so they become spaces. Empty tag values are left out (the
//! protocol has none), and so are non-finite floats.

use std::fmt::Write as _;

use webmon_core::result::ProbeResult;

use crate::timestream::MEASURE_NAME;

/// Longest string field kept (the same cap as the Timestream record's VARCHARs).
const MAX_TEXT: usize = 1024;

/// The line of a result (no trailing newline).
pub fn to_line(r: &ProbeResult) -> String {
    let mut line = String::with_capacity(400);
    line.push_str(&escape_measurement(MEASURE_NAME));
    // Tags sorted by key, as InfluxDB prefers: check_id < region < tag_* < url.
    let mut tags: Vec<(String, &str)> = vec![
        ("check_id".into(), r.check_id.as_str()),
        ("region".into(), r.region.as_str()),
        ("url".into(), r.url.as_str()),
    ];
    tags.extend(r.tags.iter().map(|(k, v)| (format!("tag_{k}"), v.as_str())));
    tags.sort_by(|a, b| a.0.cmp(&b.0));
    for (key, value) in tags.iter().filter(|(_, v)| !v.is_empty()) {
        let _ = write!(line, ",{}={}", escape_key(key), escape_key(value));
    }
    let mut fields = Fields::default();
    fields.bool("available", r.available);
    if let Some(code) = r.status_code {
        fields.int("status_code", code.into());
    }
    fields.int("requests", r.requests.into());
    fields.float("latency_avg_ms", r.latency.avg_ms);
    fields.float("latency_min_ms", r.latency.min_ms);
    fields.float("latency_max_ms", r.latency.max_ms);
    fields.float("latency_p50_ms", r.latency.p50_ms);
    fields.float("dns_ms", r.cold.dns_ms);
    fields.float("connect_ms", r.cold.connect_ms);
    fields.float("tls_ms", r.cold.tls_ms);
    fields.float("ttfb_ms", r.cold.ttfb_ms);
    fields.float("transfer_ms", r.cold.transfer_ms);
    if let Some(warm) = r.warm_ttfb_ms {
        fields.float("warm_ttfb_ms", warm);
    }
    fields.int("bytes", i64::try_from(r.bytes).unwrap_or(i64::MAX));
    fields.int("redirects", r.redirects.into());
    fields.int("attempts", r.attempts.into());
    if let Some(days) = r.tls_cert_days_left {
        fields.int("tls_cert_days_left", days);
    }
    if let Some(class) = r.error_class {
        fields.text("error_class", class.as_str());
    }
    if let Some(message) = r.error_message.as_deref().filter(|s| !s.is_empty()) {
        fields.text("error_message", message);
    }
    if let Some(ip) = r.remote_ip.as_deref().filter(|s| !s.is_empty()) {
        fields.text("remote_ip", ip);
    }
    if let Some(version) = r.http_version.as_deref().filter(|s| !s.is_empty()) {
        fields.text("http_version", version);
    }
    fields.int("started_at_ms", r.started_at_ms);
    fields.float("start_delay_ms", r.probe.start_delay_ms);
    fields.bool("cold_start", r.probe.cold_start);
    line.push(' ');
    line.push_str(&fields.0);
    let _ = write!(line, " {}", r.scheduled_at_ms);
    line
}

/// The field set being built, `key=value` pairs joined by commas.
#[derive(Default)]
struct Fields(String);

impl Fields {
    fn push(&mut self, key: &str, value: std::fmt::Arguments<'_>) {
        if !self.0.is_empty() {
            self.0.push(',');
        }
        let _ = write!(self.0, "{}={}", escape_key(key), value);
    }
    fn bool(&mut self, key: &str, value: bool) {
        self.push(key, format_args!("{value}"));
    }
    fn int(&mut self, key: &str, value: i64) {
        self.push(key, format_args!("{value}i"));
    }
    fn float(&mut self, key: &str, value: f64) {
        // Rust never prints floats with an exponent; an integral value without a
        // decimal point is still a float in line protocol.
        if value.is_finite() {
            self.push(key, format_args!("{value}"));
        }
    }
    fn text(&mut self, key: &str, value: &str) {
        self.push(key, format_args!("\"{}\"", escape_string(clip(value))));
    }
}

/// Escapes a measurement name.
pub fn escape_measurement(name: &str) -> String {
    escape(name, &[',', ' '])
}

/// Escapes a tag key, a tag value or a field key.
pub fn escape_key(text: &str) -> String {
    escape(text, &[',', '=', ' '])
}

/// Escapes a string field value (without its surrounding quotes).
pub fn escape_string(text: &str) -> String {
    escape(text, &['"'])
}

fn escape(text: &str, special: &[char]) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        let c = if c == '\n' || c == '\r' { ' ' } else { c };
        if c == '\\' || special.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn clip(text: &str) -> &str {
    if text.len() <= MAX_TEXT {
        return text;
    }
    let mut end = MAX_TEXT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use webmon_core::result::{ErrorClass, RESULT_VERSION};

    fn result() -> ProbeResult {
        ProbeResult {
            version: RESULT_VERSION,
            region: "eu-west-1".into(),
            check_id: "home page".into(),
            url: "https://example.com/a,b=c d?q=\"x\"".into(),
            scheduled_at_ms: 1_700_000_000_000,
            started_at_ms: 1_700_000_000_012,
            available: false,
            status_code: Some(503),
            error_class: Some(ErrorClass::HttpStatus),
            error_message: Some("status 503 \"busy\"\nretry\\later".into()),
            requests: 5,
            latency: Default::default(),
            cold: Default::default(),
            warm_ttfb_ms: Some(1.5),
            bytes: 10,
            remote_ip: Some("93.184.216.34".into()),
            http_version: Some("HTTP/1.1".into()),
            tls_cert_days_left: Some(30),
            redirects: 0,
            attempts: 1,
            tags: [
                ("team".to_string(), "sre ops".to_string()),
                ("empty".into(), String::new()),
            ]
            .into_iter()
            .collect(),
            probe: Default::default(),
        }
    }

    #[test]
    fn escaping_follows_the_protocol() {
        assert_eq!(escape_measurement("a b,c=d"), r"a\ b\,c=d");
        assert_eq!(escape_key("a b,c=d"), r"a\ b\,c\=d");
        assert_eq!(escape_key(r"ends\"), r"ends\\");
        assert_eq!(escape_string(r#"say "hi" \o/"#), r#"say \"hi\" \\o/"#);
        assert_eq!(escape_string("two\nlines\r"), "two lines ");
        assert_eq!(escape_key("a\nb"), r"a\ b");
    }

    #[test]
    fn line_has_sorted_escaped_tags_typed_fields_and_the_scheduled_time() {
        let line = to_line(&result());
        let (head, rest) = line.split_once(" available=").unwrap();
        assert_eq!(
            head,
            r#"probe,check_id=home\ page,region=eu-west-1,tag_team=sre\ ops,url=https://example.com/a\,b\=c\ d?q\="x""#
        );
        assert!(rest.starts_with("false,status_code=503i,requests=5i,latency_avg_ms=0,"));
        assert!(rest.contains(",warm_ttfb_ms=1.5,"));
        assert!(rest.contains(r#",error_message="status 503 \"busy\" retry\\later","#));
        assert!(rest.contains(r#",error_class="http_status","#));
        assert!(rest.contains(",tls_cert_days_left=30i,"));
        assert!(rest.ends_with(",cold_start=false 1700000000000"));
        assert!(!line.contains("tag_empty"));
    }

    #[test]
    fn non_finite_floats_are_left_out() {
        let mut r = result();
        r.warm_ttfb_ms = Some(f64::NAN);
        assert!(!to_line(&r).contains("warm_ttfb_ms"));
    }

    #[test]
    fn fields_are_the_timestream_measures() {
        let r = result();
        let record = crate::timestream::to_record(&r);
        let mut measures: Vec<String> = record
            .measure_values()
            .iter()
            .map(|m| m.name().to_string())
            .collect();
        let line = to_line(&r);
        let fields = line.split_once(" available=").unwrap().1;
        let fields = fields.rsplit_once(' ').unwrap().0;
        let mut names: Vec<String> = split_fields(&format!("available={fields}"));
        measures.sort();
        names.sort();
        assert_eq!(names, measures);
    }

    /// Field keys of a field set (keys here have no escapes; values may hold commas).
    fn split_fields(set: &str) -> Vec<String> {
        let mut names = Vec::new();
        let (mut in_string, mut escaped, mut start) = (false, false, 0);
        let bytes = set.as_bytes();
        for (i, &b) in bytes.iter().enumerate() {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = !in_string,
                b',' if !in_string => {
                    names.push(set[start..i].split('=').next().unwrap().to_string());
                    start = i + 1;
                }
                _ => {}
            }
        }
        names.push(set[start..].split('=').next().unwrap().to_string());
        names
    }
}
