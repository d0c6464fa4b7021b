//! `/metrics`: the last hour per check and region in the Prometheus text exposition
//! format 0.0.4, computed from the window's samples with the dashboard's own figures.

use std::collections::BTreeMap;
use std::fmt::Write;

use webmon_core::read::{Sample, Window};
use webmon_core::report::derive;

/// The content type of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Escapes a label value: backslash, double quote and line feed.
pub fn escape_label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// One gauge family: its name, help text and samples (label pairs, value).
struct Family {
    name: &'static str,
    help: &'static str,
    samples: Vec<(Vec<(&'static str, String)>, f64)>,
}

impl Family {
    fn new(name: &'static str, help: &'static str) -> Self {
        Self {
            name,
            help,
            samples: Vec::new(),
        }
    }

    fn write(&self, out: &mut String) {
        let _ = writeln!(out, "# HELP {} {}", self.name, self.help);
        let _ = writeln!(out, "# TYPE {} gauge", self.name);
        for (labels, value) in &self.samples {
            let labels: Vec<String> = labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", escape_label(v)))
                .collect();
            let _ = writeln!(
                out,
                "{}{{{}}} {}",
                self.name,
                labels.join(","),
                number(*value)
            );
        }
    }
}

/// A sample value as the format writes it (`NaN`, `+Inf` and `-Inf` spelled out).
fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v}")
    }
}

/// The exposition of `samples` over `window`: per check and region, the last result's
/// outcome and time, p50/p95 latency, availability and median phases.
pub fn render(samples: &[Sample], window: Window) -> String {
    let overview = derive::overview(samples, &BTreeMap::new(), window);
    let mut up = Family::new(
        "webmon_up",
        "Whether the last result passed (1) or failed (0).",
    );
    let mut p50 = Family::new(
        "webmon_latency_p50_ms",
        "Median latency of answered executions over the last hour, milliseconds.",
    );
    let mut p95 = Family::new(
        "webmon_latency_p95_ms",
        "95th percentile latency of answered executions over the last hour, milliseconds.",
    );
    let mut availability = Family::new(
        "webmon_availability_ratio",
        "Executions that passed over executions in the last hour.",
    );
    let mut phases = Family::new(
        "webmon_phase_ms",
        "Median cold-request phase of answered executions over the last hour, milliseconds.",
    );
    let mut last = Family::new(
        "webmon_last_result_timestamp_seconds",
        "Scheduled time of the last result, Unix seconds.",
    );
    for check in &overview.checks {
        let timings = derive::phases(samples, &check.check_id, window);
        for r in &check.regions {
            let labels = vec![
                ("check", check.check_id.clone()),
                ("region", r.region.clone()),
            ];
            up.samples
                .push((labels.clone(), if r.last.available { 1.0 } else { 0.0 }));
            if let Some(v) = r.p50_ms {
                p50.samples.push((labels.clone(), v));
            }
            if let Some(v) = r.p95_ms {
                p95.samples.push((labels.clone(), v));
            }
            if r.samples > 0 {
                let ratio = r.passed as f64 / r.samples as f64;
                availability.samples.push((labels.clone(), ratio));
            }
            last.samples
                .push((labels.clone(), r.last.at_ms as f64 / 1000.0));
            if let Some(t) = timings.regions.iter().find(|p| p.region == r.region) {
                for (phase, v) in [
                    ("dns", t.dns_ms),
                    ("connect", t.connect_ms),
                    ("tls", t.tls_ms),
                    ("ttfb", t.ttfb_ms),
                    ("transfer", t.transfer_ms),
                ] {
                    let mut with_phase = labels.clone();
                    with_phase.push(("phase", phase.to_string()));
                    phases.samples.push((with_phase, v));
                }
            }
        }
    }
    let mut out = String::new();
    for family in [&up, &p50, &p95, &availability, &phases, &last] {
        family.write(&mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
        assert_eq!(number(f64::NAN), "NaN");
        assert_eq!(number(1.5), "1.5");
        assert_eq!(number(2.0), "2");
    }
}
