//! Configuration tests: a full document, defaults, and every kind of bad reference.

use super::config::ChannelConfig;
use super::load::load_alerting;
use super::policy::{Backoff, Quorum, RetryOn};
use super::quiet::{MaintenanceMode, WindowSchedule};
use crate::check::parse_checks_document;

const DOC: &str = r#"
channels:
  - {id: pager, type: pagerduty, routing_key: "${secret:pd-key}"}
  - {id: chat, type: slack, url: "${env:SLACK_URL}"}
  - {id: hooks, type: webhook, url: "https://hooks.example/webmon", secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}
  - {id: mail, type: email, host: smtp.example, username: ops, password: "${secret:smtp}", from: webmon@example.com, to: [ops@example.com]}
alert_defaults:
  channels: [chat]
  routes: {down: [pager, chat]}
  failure_threshold: 3
  failure_window: 5
  reminders: {every: 1h, max: 2}
  group: {threshold: 4, wait: 1m}
  operator_channels: [hooks]
maintenance:
  - {id: db-upgrade, checks: [api], start: "2025-09-01T02:00:00Z", duration: 2h}
  - {id: nightly, tags: {team: pay}, mode: pause, weekly: {days: [mon, fri], at: "03:00", utc_offset: "+02:00"}, duration: 20m}
checks:
  - id: api
    url: https://api.example/health
    interval: 30s
    timeout: 5s
    regions: [eu-west-1, us-east-1, ap-southeast-1]
    tags: {team: pay}
    alert:
      quorum: 2
      retries: {count: 2, backoff: linear, delay: 2s, on: any}
      degraded: {threshold: 800ms, regions: {ap-southeast-1: 1500ms}}
      depends_on: [edge]
  - id: edge
    url: https://edge.example/
"#;

#[test]
fn full_document_loads_with_defaults_applied() {
    let checks = parse_checks_document(DOC);
    assert!(checks.errors.is_empty(), "{:?}", checks.errors);
    let regions = vec!["eu-west-1".to_string(), "us-east-1".to_string()];
    let out = load_alerting(DOC, &checks.checks, &regions);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    let c = &out.config;
    assert_eq!(c.channels.len(), 4);
    assert!(
        matches!(&c.channels["pager"], ChannelConfig::Pagerduty { routing_key, .. } if routing_key == "${secret:pd-key}")
    );
    let api = &c.checks["api"];
    assert_eq!(api.regions, ["ap-southeast-1", "eu-west-1", "us-east-1"]);
    let p = &api.policy;
    assert_eq!(
        (p.failure_threshold, p.failure_window, p.success_threshold),
        (3, 5, 2)
    );
    assert_eq!(p.quorum, Quorum::Count(2));
    assert_eq!(p.routes.down, ["pager", "chat"]);
    assert_eq!(p.routes.regional, ["chat"]);
    assert_eq!(
        (p.retries.count, p.retries.backoff, p.retries.on),
        (2, Backoff::Linear, RetryOn::Any)
    );
    assert_eq!(p.retries.total_delay_ms(), 2000 + 4000);
    let d = p.degraded.as_ref().unwrap();
    assert_eq!(
        (
            d.threshold_for("eu-west-1"),
            d.threshold_for("ap-southeast-1")
        ),
        (Some(800.0), Some(1500.0))
    );
    assert_eq!((p.reminder_every_ms, p.reminder_max), (Some(3_600_000), 2));
    assert_eq!(p.settle_ms, 30_000);
    assert_eq!(p.stale_after_ms, 3 * 30_000 + 30_000);
    assert_eq!(p.tls_days, [30, 14, 7]);
    assert_eq!(p.depends_on, ["edge"]);
    assert_eq!(
        c.checks["edge"].regions, regions,
        "empty regions = every region"
    );
    assert_eq!(
        (c.global.group_threshold, c.global.group_wait_ms),
        (4, 60_000)
    );
    assert_eq!(c.global.operator_channels, ["hooks"]);
    assert_eq!(c.maintenance.len(), 2);
    assert_eq!(c.maintenance[1].mode, MaintenanceMode::Pause);
    assert!(matches!(
        c.maintenance[1].schedule,
        WindowSchedule::Weekly { ref days, minute_of_day: 180, utc_offset_minutes: 120, duration_ms: 1_200_000 } if days == &[0, 4]
    ));
}

fn errors(doc: &str) -> Vec<(String, String, String)> {
    let checks = parse_checks_document(doc);
    assert!(checks.errors.is_empty(), "{:?}", checks.errors);
    load_alerting(doc, &checks.checks, &[])
        .errors
        .into_iter()
        .map(|e| (e.check_id, e.field, e.value))
        .collect()
}

#[test]
fn every_bad_reference_is_named() {
    let doc = r#"
channels:
  - {id: chat, type: slack, url: "not a url"}
  - {id: hook, type: webhook, url: "https://h.example", secret: "plain"}
  - {id: chat, type: discord, url: "https://d.example"}
alert_defaults:
  channels: [nowhere]
  depends_on: [a]
maintenance:
  - {id: m, checks: [ghost], start: "yesterday", duration: 1h}
checks:
  - id: a
    url: https://a.example
    regions: [eu-west-1, us-east-1]
    alert:
      channels: [pager]
      quorum: 3
      failure_threshold: 0
      degraded: {threshold: 1s, regions: {ap-south-1: 2s}}
      depends_on: [b, a, missing]
      reminders: {every: 1m}
      group: {threshold: 2}
  - id: b
    url: https://b.example
    alert: {depends_on: [a], quorum: "half"}
"#;
    let got = errors(doc);
    let want = [
        ("<file>", "channels[0].url", "not a url"),
        ("<file>", "channels[1].secret", "<hidden>"),
        ("<file>", "channels[2].id", "chat"),
        ("<file>", "alert_defaults.channels[0]", "nowhere"),
        ("<file>", "alert_defaults.depends_on", ""),
        ("a", "alert.reminders.every", "1m"),
        ("a", "alert.channels[0]", "pager"),
        ("a", "alert.failure_threshold", "0"),
        ("a", "alert.group", ""),
        ("a", "alert.quorum", "3"),
        ("a", "alert.degraded.regions.ap-south-1", "ap-south-1"),
        ("a", "alert.depends_on[1]", "a"),
        ("a", "alert.depends_on[2]", "missing"),
        ("b", "alert.quorum", "half"),
        ("a", "alert.depends_on", "a -> b -> a"),
        ("b", "alert.depends_on", "b -> a -> b"),
        ("<file>", "maintenance[0].checks[0]", "ghost"),
        ("<file>", "maintenance[0].start", "yesterday"),
    ];
    let want: Vec<(String, String, String)> = want
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn unknown_fields_are_refused_with_their_path() {
    let doc = "channels:\n  - {id: c, type: slack, url: 'https://s.example', colour: red}\n  - {id: d, type: fax, number: 1}\nalert_defaults: {quorom: 2}\nchecks:\n  - {id: a, url: 'https://a.example', alert: {treshold: 1}}\n";
    // A check's alert block is alerting's to validate: a typo in it never stops the
    // check from being probed.
    let checks = parse_checks_document(doc);
    assert!(checks.errors.is_empty(), "{:?}", checks.errors);
    let out = load_alerting(doc, &checks.checks, &[]);
    let fields: Vec<&str> = out.errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "channels[0]",
            "channels[1].type",
            "alert_defaults.quorom",
            "alert.treshold"
        ]
    );
    assert_eq!(out.errors[3].check_id, "a");
    assert!(
        out.errors[3].reason.contains("treshold"),
        "{}",
        out.errors[3].reason
    );
    assert!(
        out.errors[0].reason.contains("colour"),
        "{}",
        out.errors[0].reason
    );
    assert!(
        out.errors[2].reason.contains("quorom"),
        "{}",
        out.errors[2].reason
    );
}

#[test]
fn the_documented_example_is_valid() {
    let doc = include_str!("../../../docs/alerting.md");
    let start = doc
        .find("```yaml\nchannels:")
        .expect("example in docs/alerting.md")
        + 8;
    let example = &doc[start..start + doc[start..].find("```").unwrap()];
    let checks = parse_checks_document(example);
    assert!(checks.errors.is_empty(), "{:?}", checks.errors);
    let out = load_alerting(example, &checks.checks, &[]);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(out.config.channels.len(), 4);
    assert_eq!(out.config.maintenance.len(), 2);
}
