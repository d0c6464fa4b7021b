//! Every region probes a check at the same moments, whenever it created its rules.
//!
//! Two regions reconcile the same checks into trigger rules ([`pack`]), having created
//! them at different times. Their rules are fired as EventBridge fires them (cron fields
//! on the UTC clock; a `rate(...)` rule from its creation time), each firing runs the
//! executions [`executions_in_trigger`] gives for the rule's groups, and the scheduled
//! times of every check, over two days, must be the same in both regions and the same as
//! `webmon run`'s grid ([`next_run_at_or_after`]).

use std::collections::{BTreeMap, BTreeSet};

use webmon_core::check::Interval;
use webmon_core::reconcile::{pack, DEFAULT_BIN_CAPACITY, RULE_PREFIX};
use webmon_core::schedule::{executions_in_trigger, next_run_at_or_after, GroupKey};

const MINUTE: i64 = 60_000;
/// 2026-01-01T00:00:00Z plus 7 minutes: not aligned to any long interval.
const WINDOW_START: i64 = 1_767_225_600_000 + 7 * MINUTE;
const WINDOW_MINUTES: i64 = 2 * 24 * 60;

const INTERVALS: [&str; 18] = [
    "10s", "15s", "20s", "30s", "1m", "2m", "5m", "7m", "13m", "45m", "90m", "100m", "2h", "5h",
    "7h", "16h", "23h", "1d",
];

fn checks() -> Vec<(String, Interval)> {
    INTERVALS
        .iter()
        .flat_map(|i| (0..3).map(move |n| (format!("check-{i}-{n}"), Interval::parse(i).unwrap())))
        .collect()
}

/// A cron field of the forms the rules use: `*`, `N` or `S/N`.
fn field_matches(field: &str, value: i64) -> bool {
    if field == "*" {
        return true;
    }
    if let Some((start, step)) = field.split_once('/') {
        let (start, step): (i64, i64) = (start.parse().unwrap(), step.parse().unwrap());
        return value >= start && (value - start) % step == 0;
    }
    field.parse::<i64>().unwrap() == value
}

/// Whether a rule with `expression`, created at `created_ms`, fires at `minute_ms`.
fn fires(expression: &str, created_ms: i64, minute_ms: i64) -> bool {
    if let Some(rate) = expression
        .strip_prefix("rate(")
        .and_then(|r| r.strip_suffix(" minutes)"))
    {
        let period = rate.parse::<i64>().unwrap() * MINUTE;
        let created = created_ms.div_euclid(MINUTE) * MINUTE;
        return minute_ms > created && (minute_ms - created) % period == 0;
    }
    let inner = expression
        .strip_prefix("cron(")
        .and_then(|c| c.strip_suffix(')'))
        .unwrap_or_else(|| panic!("unknown schedule expression {expression:?}"));
    let fields: Vec<&str> = inner.split(' ').collect();
    assert_eq!(fields.len(), 6, "{expression}");
    assert_eq!(&fields[2..], ["*", "*", "?", "*"], "{expression}");
    let minute_of_day = minute_ms.div_euclid(MINUTE).rem_euclid(24 * 60);
    field_matches(fields[0], minute_of_day % 60) && field_matches(fields[1], minute_of_day / 60)
}

/// The scheduled times of every check in a region whose rules were created at
/// `created_ms`, over the window.
fn region_schedule(
    checks: &[(String, Interval)],
    created_ms: i64,
) -> BTreeMap<String, BTreeSet<i64>> {
    let mut by_group: BTreeMap<GroupKey, Vec<&(String, Interval)>> = BTreeMap::new();
    for check in checks {
        by_group
            .entry(GroupKey::for_id(&check.0, check.1))
            .or_default()
            .push(check);
    }
    let loads = by_group
        .iter()
        .map(|(g, cs)| (*g, cs.len() as u64))
        .collect();
    let rules = pack(RULE_PREFIX, &loads, DEFAULT_BIN_CAPACITY);
    let mut times: BTreeMap<String, BTreeSet<i64>> = BTreeMap::new();
    for k in 0..WINDOW_MINUTES {
        let minute = WINDOW_START + k * MINUTE;
        for rule in rules
            .iter()
            .filter(|r| fires(&r.schedule_expression, created_ms, minute))
        {
            for group in &rule.groups {
                for (id, interval) in &by_group[group] {
                    times
                        .entry(id.clone())
                        .or_default()
                        .extend(executions_in_trigger(id, *interval, minute));
                }
            }
        }
    }
    times
}

/// `webmon run`'s grid over the window.
fn local_schedule(checks: &[(String, Interval)]) -> BTreeMap<String, BTreeSet<i64>> {
    let end = WINDOW_START + WINDOW_MINUTES * MINUTE;
    let mut times: BTreeMap<String, BTreeSet<i64>> = BTreeMap::new();
    for (id, interval) in checks {
        let mut at = next_run_at_or_after(id, *interval, WINDOW_START);
        while at < end {
            times.entry(id.clone()).or_default().insert(at);
            at = next_run_at_or_after(id, *interval, at + 1);
        }
    }
    times
}

#[test]
fn every_region_schedules_each_check_at_the_same_times() {
    let checks = checks();
    // One region created its rules 3 minutes before the window, the other 2 h 11 min.
    let first = region_schedule(&checks, WINDOW_START - 3 * MINUTE);
    let second = region_schedule(&checks, WINDOW_START - 131 * MINUTE);
    let local = local_schedule(&checks);
    for (id, interval) in &checks {
        let expected = &local[id];
        let runs = (WINDOW_MINUTES * MINUTE) / (interval.seconds() as i64 * 1000);
        assert!(
            (runs..=runs + 1).contains(&(expected.len() as i64)),
            "{id}: {} grid times, expected about {runs}",
            expected.len()
        );
        let empty = BTreeSet::new();
        let a = first.get(id).unwrap_or(&empty);
        let b = second.get(id).unwrap_or(&empty);
        assert_eq!(a, b, "{id} ({interval}): the two regions differ");
        assert_eq!(
            a, expected,
            "{id} ({interval}): a region differs from the grid"
        );
    }
}

#[test]
fn every_rule_is_a_clock_aligned_cron() {
    for text in INTERVALS {
        let key = GroupKey {
            interval: Interval::parse(text).unwrap(),
            shard: 0,
        };
        let expr = key.schedule_expression();
        assert!(expr.starts_with("cron("), "{text}: {expr}");
        // The trigger period divides the interval (or is a minute, below one).
        let trigger = key.trigger_seconds();
        assert!(
            key.interval.is_sub_minute() || key.interval.seconds().is_multiple_of(trigger),
            "{text}: trigger {trigger} s"
        );
    }
}
