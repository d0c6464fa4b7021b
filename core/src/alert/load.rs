//! Turns the alerting parts of a checks document into an [`AlertConfig`], reporting every
//! problem as a [`ValidationError`] (check id or `<file>`, field path, value, reason).
//!
//! A field set in a check's `alert:` block replaces the same field of `alert_defaults:`
//! whole (nested blocks such as `degraded` are not merged). A problem in `alert_defaults`
//! is reported once, against `<file>`; checks then use the built-in default for that
//! field. Alerting errors never make a check invalid for probing: they are reported
//! beside the checks, and `webmon validate` lists them with the others.

use std::collections::{BTreeMap, BTreeSet};

use serde::de::DeserializeOwned;

use super::channels::validate_channel;
use super::config::{ChannelConfig, RawAlertPolicy, RawMaintenance};
use super::parse::{parse_policy, PartialPolicy};
use super::policy::{AlertConfig, AlertPolicy, CheckAlerting, GlobalPolicy, Quorum, Routes};
use crate::check::{Check, ValidationError};

/// The alerting configuration and every problem found, side by side.
#[derive(Debug, Default)]
pub struct AlertingOutcome {
    /// What the evaluator uses (bad fields fall back to defaults, bad channels are left out).
    pub config: AlertConfig,
    /// Every problem, in document order.
    pub errors: Vec<ValidationError>,
}

const FILE: &str = "<file>";

/// The document-level alerting blocks of a checks file (`channels:`,
/// `alert_defaults:`, `maintenance:`), as written. The AWS pipeline stores it beside the
/// checks, whose own `alert:` blocks travel with each check.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AlertDocument {
    /// `channels:`.
    #[serde(default)]
    pub channels: Vec<ChannelConfig>,
    /// `alert_defaults:`.
    #[serde(default)]
    pub alert_defaults: RawAlertPolicy,
    /// `maintenance:`.
    #[serde(default)]
    pub maintenance: Vec<RawMaintenance>,
}

impl AlertDocument {
    /// Reads the blocks from a checks document; a block that does not parse is left
    /// out (or empty) and reported against `<file>`.
    pub fn read(text: &str) -> (Self, Vec<ValidationError>) {
        let mut errors = Vec::new();
        let doc: serde_yaml::Value = match serde_yaml::from_str(text) {
            Ok(doc) => doc,
            Err(e) => {
                errors.push(ValidationError::new(FILE, "<document>", "", e.to_string()));
                return (Self::default(), errors);
            }
        };
        let channels = parse_list(&doc, "channels", &mut errors);
        let maintenance = parse_list(&doc, "maintenance", &mut errors);
        let alert_defaults = match doc.get("alert_defaults") {
            None | Some(serde_yaml::Value::Null) => RawAlertPolicy::default(),
            Some(v) => parse_one(v, "alert_defaults", &mut errors).unwrap_or_default(),
        };
        let document = Self {
            channels,
            alert_defaults,
            maintenance,
        };
        (document, errors)
    }

    /// Validates the document against the checks (see [`build_alerting`]).
    pub fn build(&self, checks: &[Check], all_regions: &[String]) -> AlertingOutcome {
        build_alerting(
            &self.channels,
            &self.alert_defaults,
            &self.maintenance,
            checks,
            all_regions,
        )
    }
}

/// Reads `channels:`, `alert_defaults:` and `maintenance:` from a checks document and the
/// `alert:` block of each check. `all_regions` replaces an empty `regions` list of a
/// check (`["local"]` when it is empty too).
pub fn load_alerting(text: &str, checks: &[Check], all_regions: &[String]) -> AlertingOutcome {
    let (document, mut errors) = AlertDocument::read(text);
    let mut outcome = document.build(checks, all_regions);
    errors.append(&mut outcome.errors);
    outcome.errors = errors;
    outcome
}

fn parse_one<T: DeserializeOwned>(
    value: &serde_yaml::Value,
    field: &str,
    errors: &mut Vec<ValidationError>,
) -> Option<T> {
    match serde_path_to_error::deserialize(value.clone()) {
        Ok(v) => Some(v),
        Err(e) => {
            let path = e.path().to_string();
            let path = if path == "." {
                String::new()
            } else {
                format!(".{path}")
            };
            errors.push(ValidationError::new(
                FILE,
                &format!("{field}{path}"),
                "",
                e.into_inner().to_string(),
            ));
            None
        }
    }
}

fn parse_list<T: DeserializeOwned>(
    doc: &serde_yaml::Value,
    key: &str,
    errors: &mut Vec<ValidationError>,
) -> Vec<T> {
    match doc.get(key) {
        None | Some(serde_yaml::Value::Null) => Vec::new(),
        Some(serde_yaml::Value::Sequence(items)) => items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| parse_one(item, &format!("{key}[{i}]"), errors))
            .collect(),
        Some(_) => {
            errors.push(ValidationError::new(FILE, key, "", "must be a list"));
            Vec::new()
        }
    }
}

/// Validates already-parsed alerting configuration against the checks.
pub fn build_alerting(
    channels: &[ChannelConfig],
    defaults: &RawAlertPolicy,
    maintenance: &[RawMaintenance],
    checks: &[Check],
    all_regions: &[String],
) -> AlertingOutcome {
    let mut errors = Vec::new();
    let mut config = AlertConfig::default();
    let mut seen = BTreeSet::new();
    for (i, channel) in channels.iter().enumerate() {
        let field = format!("channels[{i}]");
        let before = errors.len();
        validate_channel(channel, &field, &mut errors);
        if !seen.insert(channel.id()) {
            errors.push(ValidationError::new(
                FILE,
                &format!("{field}.id"),
                channel.id(),
                "is used by an earlier channel",
            ));
        } else if errors.len() == before {
            config
                .channels
                .insert(channel.id().to_string(), channel.clone());
        }
    }
    let channel_ids: BTreeSet<String> = channels.iter().map(|c| c.id().to_string()).collect();
    let check_ids: BTreeSet<&str> = checks.iter().map(|c| c.id.as_str()).collect();

    let mut report = |owner: &str, field: &str, value: String, reason: String| {
        errors.push(ValidationError::new(owner, field, value, reason));
    };
    let base = parse_policy(defaults, &channel_ids, &mut |f, v, r| {
        report(FILE, &format!("alert_defaults.{f}"), v, r)
    });
    if defaults.depends_on.is_some() {
        report(
            FILE,
            "alert_defaults.depends_on",
            String::new(),
            "is only allowed in a check's alert block".into(),
        );
    }
    config.global = global(&base);
    for check in checks.iter().filter(|c| c.enabled) {
        let id = check.id.as_str();
        let raw: RawAlertPolicy = match &check.source.alert {
            None => RawAlertPolicy::default(),
            Some(value) => serde_path_to_error::deserialize(value.clone()).unwrap_or_else(|e| {
                let path = e.path().to_string();
                let field = match path.as_str() {
                    "" | "." => "alert".to_string(),
                    p => format!("alert.{p}"),
                };
                report(id, &field, String::new(), e.inner().to_string());
                RawAlertPolicy::default()
            }),
        };
        let own = parse_policy(&raw, &channel_ids, &mut |f, v, r| {
            report(id, &format!("alert.{f}"), v, r)
        });
        for (set, name) in [
            (raw.group.is_some(), "group"),
            (raw.suspect.is_some(), "suspect"),
            (raw.operator_channels.is_some(), "operator_channels"),
        ] {
            if set {
                report(
                    id,
                    &format!("alert.{name}"),
                    String::new(),
                    "is only allowed in alert_defaults".into(),
                );
            }
        }
        let mut regions = if check.regions.is_empty() {
            all_regions.to_vec()
        } else {
            check.regions.clone()
        };
        if regions.is_empty() {
            regions.push("local".into());
        }
        regions.sort();
        regions.dedup();
        let interval_ms = check.interval.seconds() as i64 * 1000;
        let policy = finish(
            &own,
            &base,
            &regions,
            interval_ms,
            &check_ids,
            id,
            &mut report,
        );
        config.checks.insert(
            check.id.clone(),
            CheckAlerting {
                check_id: check.id.clone(),
                url: check.url.to_string(),
                tags: check.tags.clone(),
                regions,
                interval_ms,
                policy,
            },
        );
    }
    for (id, cycle) in cycles(&config) {
        report(
            &id,
            "alert.depends_on",
            cycle.clone(),
            format!("forms a cycle: {cycle}"),
        );
    }
    config.maintenance = super::windows::maintenance(maintenance, &check_ids, &mut |f, v, r| {
        report(FILE, &f, v, r)
    });
    AlertingOutcome { config, errors }
}

fn global(base: &PartialPolicy) -> GlobalPolicy {
    let d = GlobalPolicy::default();
    let (group_threshold, group_wait_ms) =
        base.group.unwrap_or((d.group_threshold, d.group_wait_ms));
    let (suspect_min_checks, suspect_percent) = base
        .suspect
        .unwrap_or((d.suspect_min_checks, d.suspect_percent));
    GlobalPolicy {
        group_threshold,
        group_wait_ms,
        suspect_min_checks,
        suspect_percent,
        operator_channels: base.operator_channels.clone().unwrap_or_default(),
    }
}

fn pick<T: Clone>(own: &Option<T>, base: &Option<T>) -> Option<T> {
    own.clone().or_else(|| base.clone())
}

type Report<'a> = dyn FnMut(&str, &str, String, String) + 'a;

/// Merges a check's fields over the defaults and checks what depends on the check.
fn finish(
    own: &PartialPolicy,
    base: &PartialPolicy,
    regions: &[String],
    interval_ms: i64,
    check_ids: &BTreeSet<&str>,
    id: &str,
    report: &mut Report<'_>,
) -> AlertPolicy {
    let channels: Vec<String> = pick(&own.channels, &base.channels).unwrap_or_default();
    let r = own
        .routes
        .clone()
        .or_else(|| base.routes.clone())
        .unwrap_or_default();
    let or = |v: Option<Vec<String>>| v.unwrap_or_else(|| channels.clone());
    let routes = Routes {
        down: or(r.down),
        regional: or(r.regional),
        degraded: or(r.degraded),
        unknown: or(r.unknown),
        tls: or(r.tls),
    };
    let failure_threshold = pick(&own.failure_threshold, &base.failure_threshold).unwrap_or(2);
    let mut failure_window =
        pick(&own.failure_window, &base.failure_window).unwrap_or(failure_threshold);
    if failure_window < failure_threshold {
        if own.failure_window.is_some() || own.failure_threshold.is_some() {
            report(
                id,
                "alert.failure_window",
                failure_window.to_string(),
                format!("must be at least failure_threshold ({failure_threshold})"),
            );
        }
        failure_window = failure_threshold;
    }
    let quorum = pick(&own.quorum, &base.quorum).unwrap_or(Quorum::Majority);
    if let Some(Quorum::Count(c)) = own.quorum {
        if c as usize > regions.len() {
            report(
                id,
                "alert.quorum",
                c.to_string(),
                format!("is more than the check's {} regions", regions.len()),
            );
        }
    }
    let retries = pick(&own.retries, &base.retries).unwrap_or_default();
    if own.retries.is_some() && retries.total_delay_ms() as i64 > interval_ms / 2 {
        report(
            id,
            "alert.retries",
            format!("{} retries", retries.count),
            format!(
                "their delays ({} ms) must fit in half the interval",
                retries.total_delay_ms()
            ),
        );
    }
    let degraded = pick(&own.degraded, &base.degraded);
    if let Some(d) = &own.degraded {
        for region in d.regions.keys().filter(|r| !regions.contains(r)) {
            report(
                id,
                &format!("alert.degraded.regions.{region}"),
                region.clone(),
                format!("is not one of the check's regions ({})", regions.join(", ")),
            );
        }
    }
    let settle_ms = pick(&own.settle_ms, &base.settle_ms).unwrap_or(interval_ms.min(30_000));
    let stale_after_ms =
        pick(&own.stale_after_ms, &base.stale_after_ms).unwrap_or(3 * interval_ms + settle_ms);
    let (reminder_every_ms, reminder_max) =
        pick(&own.reminders, &base.reminders).unwrap_or((Some(30 * 60_000), 6));
    let (flap_changes, flap_window_ms, flap_stable_ms) =
        pick(&own.flapping, &base.flapping).unwrap_or((5, 30 * 60_000, 10 * 60_000));
    let mut tls_days = pick(&own.tls_days, &base.tls_days).unwrap_or_else(|| vec![30, 14, 7]);
    tls_days.sort_unstable_by(|a, b| b.cmp(a));
    tls_days.dedup();
    let depends_on = own.depends_on.clone().unwrap_or_default();
    for (i, parent) in depends_on.iter().enumerate() {
        let reason = if parent == id {
            "a check cannot depend on itself"
        } else if !check_ids.contains(parent.as_str()) {
            "is not a check in this file"
        } else {
            continue;
        };
        report(
            id,
            &format!("alert.depends_on[{i}]"),
            parent.clone(),
            reason.into(),
        );
    }
    AlertPolicy {
        routes,
        failure_threshold,
        failure_window,
        success_threshold: pick(&own.success_threshold, &base.success_threshold).unwrap_or(2),
        quorum,
        retries,
        degraded,
        settle_ms,
        stale_after_ms,
        reminder_every_ms,
        reminder_max,
        flap_changes,
        flap_window_ms,
        flap_stable_ms,
        tls_days,
        resolved: pick(&own.resolved, &base.resolved).unwrap_or(true),
        depends_on: depends_on
            .into_iter()
            .filter(|p| p != id && check_ids.contains(p.as_str()))
            .collect(),
    }
}

/// Every check on a `depends_on` cycle, with the cycle written `a -> b -> a`.
fn cycles(config: &AlertConfig) -> Vec<(String, String)> {
    let edges: BTreeMap<&str, Vec<&str>> = config
        .checks
        .iter()
        .map(|(id, c)| {
            (
                id.as_str(),
                c.policy.depends_on.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    let mut found = Vec::new();
    for start in edges.keys() {
        // Depth-first search from `start` back to itself, bounded by the check count.
        let mut stack = vec![(*start, vec![*start])];
        let mut seen = BTreeSet::new();
        while let Some((node, path)) = stack.pop() {
            for next in edges.get(node).into_iter().flatten() {
                if next == start {
                    let mut cycle = path.clone();
                    cycle.push(start);
                    found.push((start.to_string(), cycle.join(" -> ")));
                    stack.clear();
                    break;
                }
                if seen.insert(*next) {
                    let mut p = path.clone();
                    p.push(next);
                    stack.push((next, p));
                }
            }
        }
    }
    found
}
