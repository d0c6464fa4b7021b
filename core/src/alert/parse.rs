//! Context-free parsing of the raw alerting blocks: durations, ranges, names and channel
//! references. What depends on the check (its regions, interval, the other checks) is
//! checked in [`super::load`].

use std::collections::BTreeSet;

use super::config::{RawAlertPolicy, RawQuorum, RawRoutes};
use super::policy::{DegradedPolicy, Quorum, RetryPolicy};

/// Reports `(field, value, reason)`.
pub(super) type Err<'a> = dyn FnMut(&str, String, String) + 'a;

/// Per-level routes, each optional.
#[derive(Debug, Clone, Default)]
pub(super) struct PartialRoutes {
    pub down: Option<Vec<String>>,
    pub regional: Option<Vec<String>>,
    pub degraded: Option<Vec<String>>,
    pub unknown: Option<Vec<String>>,
    pub tls: Option<Vec<String>>,
}

/// A policy block with every valid field parsed and every absent or bad one `None`.
#[derive(Debug, Clone, Default)]
pub(super) struct PartialPolicy {
    pub channels: Option<Vec<String>>,
    pub routes: Option<PartialRoutes>,
    pub failure_threshold: Option<u32>,
    pub failure_window: Option<u32>,
    pub success_threshold: Option<u32>,
    pub quorum: Option<Quorum>,
    pub retries: Option<RetryPolicy>,
    pub degraded: Option<DegradedPolicy>,
    pub settle_ms: Option<i64>,
    pub stale_after_ms: Option<i64>,
    pub reminders: Option<(Option<i64>, u32)>,
    pub flapping: Option<(u32, i64, i64)>,
    pub tls_days: Option<Vec<u32>>,
    pub resolved: Option<bool>,
    pub depends_on: Option<Vec<String>>,
    pub group: Option<(u32, i64)>,
    pub suspect: Option<(u32, u32)>,
    pub operator_channels: Option<Vec<String>>,
}

/// Parses a duration such as `30s` or `500ms` into milliseconds.
pub(super) fn duration_ms(text: &str) -> Result<i64, String> {
    humantime::parse_duration(text.trim())
        .map(|d| d.as_millis() as i64)
        .map_err(|e| format!("not a duration like 500ms, 30s or 5m ({e})"))
}

fn ranged(field: &str, v: Option<u32>, lo: u32, hi: u32, err: &mut Err<'_>) -> Option<u32> {
    let v = v?;
    if (lo..=hi).contains(&v) {
        Some(v)
    } else {
        err(
            field,
            v.to_string(),
            format!("must be between {lo} and {hi}"),
        );
        None
    }
}

fn dur(field: &str, v: &Option<String>, lo_ms: i64, hi_ms: i64, err: &mut Err<'_>) -> Option<i64> {
    let text = v.as_ref()?;
    match duration_ms(text) {
        Ok(ms) if (lo_ms..=hi_ms).contains(&ms) => Some(ms),
        Ok(_) => {
            let fmt = |ms: i64| {
                humantime::format_duration(std::time::Duration::from_millis(ms as u64)).to_string()
            };
            err(
                field,
                text.clone(),
                format!("must be between {} and {}", fmt(lo_ms), fmt(hi_ms)),
            );
            None
        }
        Err(reason) => {
            err(field, text.clone(), reason);
            None
        }
    }
}

fn channel_list(
    field: &str,
    v: &Option<Vec<String>>,
    ids: &BTreeSet<String>,
    err: &mut Err<'_>,
) -> Option<Vec<String>> {
    let list = v.as_ref()?;
    let mut out = Vec::new();
    for (i, id) in list.iter().enumerate() {
        if ids.contains(id) {
            if !out.contains(id) {
                out.push(id.clone());
            }
        } else {
            err(
                &format!("{field}[{i}]"),
                id.clone(),
                "is not the id of a channel in `channels`".into(),
            );
        }
    }
    Some(out)
}

/// Parses a quorum: `majority`, a count, or `N%`.
pub(super) fn quorum(field: &str, raw: &Option<RawQuorum>, err: &mut Err<'_>) -> Option<Quorum> {
    let bad = |text: String, err: &mut Err<'_>| {
        err(
            field,
            text,
            "must be `majority`, a region count of at least 1, or a percentage like `75%`".into(),
        );
        None
    };
    match raw.as_ref()? {
        RawQuorum::Count(0) => bad("0".into(), err),
        RawQuorum::Count(c) => Some(Quorum::Count(*c)),
        RawQuorum::Text(t) if t.trim() == "majority" => Some(Quorum::Majority),
        RawQuorum::Text(t) => match t.trim().strip_suffix('%').map(|p| p.trim().parse::<u32>()) {
            Some(Ok(p)) if (1..=100).contains(&p) => Some(Quorum::Percent(p)),
            _ => match t.trim().parse::<u32>() {
                Ok(c) if c > 0 => Some(Quorum::Count(c)),
                _ => bad(t.clone(), err),
            },
        },
    }
}

fn routes(
    raw: &Option<RawRoutes>,
    ids: &BTreeSet<String>,
    err: &mut Err<'_>,
) -> Option<PartialRoutes> {
    let r = raw.as_ref()?;
    Some(PartialRoutes {
        down: channel_list("routes.down", &r.down, ids, err),
        regional: channel_list("routes.regional", &r.regional, ids, err),
        degraded: channel_list("routes.degraded", &r.degraded, ids, err),
        unknown: channel_list("routes.unknown", &r.unknown, ids, err),
        tls: channel_list("routes.tls", &r.tls, ids, err),
    })
}

/// Parses every field of a policy block that can be checked on its own.
pub(super) fn parse_policy(
    raw: &RawAlertPolicy,
    ids: &BTreeSet<String>,
    err: &mut Err<'_>,
) -> PartialPolicy {
    const MIN: i64 = 60_000;
    let retries = raw.retries.as_ref().map(|r| {
        crate::check::parse_retries(r, &mut |field, value, reason| err(field, value, reason))
    });
    let degraded = raw.degraded.as_ref().map(|d| {
        let threshold_ms =
            dur("degraded.threshold", &d.threshold, 1, 600_000, err).map(|ms| ms as f64);
        let regions = d
            .regions
            .iter()
            .filter_map(|(region, text)| {
                dur(
                    &format!("degraded.regions.{region}"),
                    &Some(text.clone()),
                    1,
                    600_000,
                    err,
                )
                .map(|ms| (region.clone(), ms as f64))
            })
            .collect();
        DegradedPolicy {
            threshold_ms,
            regions,
            after: ranged("degraded.after", d.after, 1, 20, err).unwrap_or(2),
            recovery: ranged("degraded.recovery", d.recovery, 1, 20, err).unwrap_or(2),
            quorum: quorum("degraded.quorum", &d.quorum, err)
                .or_else(|| quorum("quorum", &raw.quorum, &mut |_, _, _| {}))
                .unwrap_or(Quorum::Majority),
        }
    });
    let reminders = raw.reminders.as_ref().map(|r| {
        let every = match r.every.as_deref().map(duration_ms) {
            None => Some(30 * MIN),
            Some(Ok(0)) => None,
            Some(Ok(ms)) if ms >= 5 * MIN => Some(ms),
            Some(Ok(_)) | Some(Err(_)) => {
                err(
                    "reminders.every",
                    r.every.clone().unwrap_or_default(),
                    "must be 0s (off) or at least 5m".into(),
                );
                Some(30 * MIN)
            }
        };
        (
            every,
            ranged("reminders.max", r.max, 0, 100, err).unwrap_or(6),
        )
    });
    let flapping = raw.flapping.as_ref().map(|f| {
        (
            ranged("flapping.changes", f.changes, 2, 100, err).unwrap_or(5),
            dur("flapping.window", &f.window, MIN, 24 * 60 * MIN, err).unwrap_or(30 * MIN),
            dur(
                "flapping.stable_for",
                &f.stable_for,
                1000,
                24 * 60 * MIN,
                err,
            )
            .unwrap_or(10 * MIN),
        )
    });
    let tls_days = raw.tls_days.as_ref().map(|days| {
        days.iter()
            .enumerate()
            .filter_map(|(i, d)| ranged(&format!("tls_days[{i}]"), Some(*d), 1, 365, err))
            .collect()
    });
    let group = raw.group.as_ref().map(|g| {
        (
            ranged("group.threshold", g.threshold, 0, 1000, err).unwrap_or(5),
            dur("group.wait", &g.wait, 0, 10 * MIN, err).unwrap_or(30_000),
        )
    });
    let suspect = raw.suspect.as_ref().map(|s| {
        (
            ranged("suspect.min_checks", s.min_checks, 1, 100_000, err).unwrap_or(3),
            ranged("suspect.percent", s.percent, 1, 100, err).unwrap_or(50),
        )
    });
    PartialPolicy {
        channels: channel_list("channels", &raw.channels, ids, err),
        routes: routes(&raw.routes, ids, err),
        failure_threshold: ranged("failure_threshold", raw.failure_threshold, 1, 10, err),
        failure_window: ranged("failure_window", raw.failure_window, 1, 20, err),
        success_threshold: ranged("success_threshold", raw.success_threshold, 1, 10, err),
        quorum: quorum("quorum", &raw.quorum, err),
        retries,
        degraded,
        settle_ms: dur("settle", &raw.settle, 0, 5 * MIN, err),
        stale_after_ms: dur(
            "stale_after",
            &raw.stale_after,
            10_000,
            7 * 24 * 60 * MIN,
            err,
        ),
        reminders,
        flapping,
        tls_days,
        resolved: raw.resolved,
        depends_on: raw.depends_on.clone(),
        group,
        suspect,
        operator_channels: channel_list("operator_channels", &raw.operator_channels, ids, err),
    }
}
