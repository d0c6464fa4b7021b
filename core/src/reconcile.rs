//! Trigger-rule reconciliation, with no I/O.
//!
//! Schedule groups are bin-packed into rules ([`pack`]): every group whose
//! [`GroupKey::schedule_expression`] is the same can share a rule, and groups are placed
//! first-fit-decreasing (in a fixed order) into bins of at most a capacity of executions
//! per trigger minute and at most [`MAX_GROUPS_PER_RULE`] groups, so the rule's input
//! stays far under EventBridge's 8,192-character limit. A rule is `<prefix><slug>-<bin>`
//! (`webmon-every-1m-0`) with input `{"groups":["10s-3","1m-0"]}`. The rules wanted
//! against the rules existing give a plan ([`plan`]); an empty plan makes no API call,
//! so replaying a stream batch changes nothing.

use std::collections::{BTreeMap, BTreeSet};

use crate::check::Interval;
use crate::schedule::GroupKey;

/// Prefix of every rule we manage; rules without it are never touched.
pub const RULE_PREFIX: &str = "webmon-";
/// Id of the probe target on each rule.
pub const TARGET_ID: &str = "probe";
/// Check executions per trigger minute one probe invocation carried with every
/// execution a full TLS handshake, by Lambda memory size (MB; 1 vCPU at 1,769 MB,
/// proportional below), at 20-300 ms target delays: the highest rate whose p99 start
/// lateness stayed under 100 ms, times 60. Measured with `webmon bench capacity --tls`
/// (docs/benchmarks.md, "Probe Lambda capacity"); the CPU per execution was 0.5-0.7 ms,
/// so capacity follows the CPU share. The 1,024 and 1,769 MB rows reached the highest
/// rate tried.
pub const MEASURED_CAPACITY: [(u32, u64); 5] = [
    (128, 6_000),
    (256, 12_000),
    (512, 24_000),
    (1024, 48_000),
    (1769, 48_000),
];
/// Probes in flight per invocation (the probe's default `WEBMON_CONCURRENCY`).
pub const PROBE_IN_FLIGHT: u64 = 256;
/// Mean execution time the in-flight bound assumes, ms: real sites are slower than the
/// bench's, and a few hanging to their timeout hold slots for seconds.
pub const ASSUMED_MEAN_EXECUTION_MS: u64 = 2_000;
/// The probe Lambda's memory when the deployment does not say (regions/Pulumi.yaml).
pub const DEFAULT_PROBE_MEMORY_MB: u32 = 512;

/// The bin capacity for a probe Lambda of `memory_mb`: half the measured CPU capacity
/// ([`MEASURED_CAPACITY`], interpolated linearly, flat beyond its ends), and at most
/// what [`PROBE_IN_FLIGHT`] slots carry at [`ASSUMED_MEAN_EXECUTION_MS`] per execution.
pub fn bin_capacity_for_memory(memory_mb: u32) -> u64 {
    let points = &MEASURED_CAPACITY;
    let cpu = match points.iter().position(|(mb, _)| memory_mb <= *mb) {
        Some(0) => points[0].1,
        None => points[points.len() - 1].1,
        Some(i) => {
            let ((m0, c0), (m1, c1)) = (points[i - 1], points[i]);
            let f = f64::from(memory_mb - m0) / f64::from(m1 - m0);
            (c0 as f64 + f * (c1 as f64 - c0 as f64)) as u64
        }
    };
    let in_flight = PROBE_IN_FLIGHT * 60_000 / ASSUMED_MEAN_EXECUTION_MS;
    (cpu / 2).min(in_flight).max(1)
}

/// Default bin capacity: check executions per trigger minute one rule (one probe
/// invocation) carries, for the default probe memory (a test holds it equal to
/// `bin_capacity_for_memory(DEFAULT_PROBE_MEMORY_MB)`).
pub const DEFAULT_BIN_CAPACITY: u64 = 7_680;
/// Most groups in one rule: 400 names of at most 10 characters, quoted and
/// comma-separated, keep the input under 5,000 of EventBridge's 8,192 characters.
pub const MAX_GROUPS_PER_RULE: usize = 400;
/// The placeholder of the event time in a rule's input template (EventBridge's input
/// transformer fills it from the event's `$.time`).
pub const TIME_PLACEHOLDER: &str = "<time>";
/// EventBridge's limit on a target's constant input, in characters.
pub const MAX_INPUT_CHARS: usize = 8192;

/// A rule and its probe target as they should be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSpec {
    /// Rule name, `<prefix><slug>-<bin>`, e.g. `webmon-every-1m-0`.
    pub name: String,
    /// The groups it triggers, sorted.
    pub groups: Vec<GroupKey>,
    /// EventBridge schedule expression, shared by every group of the rule.
    pub schedule_expression: String,
    /// Target input template: `{"groups":["30s-3","1m-0"],"time":"<time>"}`; the
    /// adapter has EventBridge fill [`TIME_PLACEHOLDER`] with the event's time, so a
    /// retried invocation knows its trigger minute.
    pub input: String,
}

impl RuleSpec {
    /// The rule for bin `bin` holding `groups` (all of one schedule expression).
    pub fn for_bin(prefix: &str, bin: usize, mut groups: Vec<GroupKey>) -> Self {
        groups.sort();
        let first = groups.first().expect("a bin holds at least one group");
        let names: Vec<String> = groups.iter().map(GroupKey::name).collect();
        Self {
            name: rule_name(prefix, &first.trigger_slug(), bin),
            schedule_expression: first.schedule_expression(),
            input: serde_json::json!({ "groups": names, "time": TIME_PLACEHOLDER }).to_string(),
            groups,
        }
    }
}

/// Executions per trigger minute of a group holding `checks` checks.
pub fn group_load(group: GroupKey, checks: u64) -> u64 {
    checks * group.rounds_per_trigger()
}

/// Packs groups (with their executions per trigger minute) into rules. Per schedule
/// expression, groups are taken by decreasing load (then by key) and put into the first
/// bin with room for them; a group larger than `capacity` gets a bin of its own. The
/// result depends on the loads only, never on the order they were given in.
pub fn pack(prefix: &str, loads: &BTreeMap<GroupKey, u64>, capacity: u64) -> Vec<RuleSpec> {
    let mut by_schedule: BTreeMap<(u64, String), Vec<(GroupKey, u64)>> = BTreeMap::new();
    for (&group, &load) in loads {
        by_schedule
            .entry((group.trigger_seconds(), group.schedule_expression()))
            .or_default()
            .push((group, load));
    }
    let mut rules = Vec::new();
    for mut groups in by_schedule.into_values() {
        groups.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut bins: Vec<(u64, Vec<GroupKey>)> = Vec::new();
        for (group, load) in groups {
            let fits = |(used, members): &&mut (u64, Vec<GroupKey>)| {
                members.len() < MAX_GROUPS_PER_RULE && used + load <= capacity
            };
            match bins.iter_mut().find(|b| fits(b)) {
                Some(bin) => {
                    bin.0 += load;
                    bin.1.push(group);
                }
                None => bins.push((load, vec![group])),
            }
        }
        rules.extend(
            bins.into_iter()
                .enumerate()
                .map(|(n, (_, members))| RuleSpec::for_bin(prefix, n, members)),
        );
    }
    rules
}

/// A target as it exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingTarget {
    /// Target id.
    pub id: String,
    /// Target ARN.
    pub arn: String,
    /// Constant JSON input, if any.
    pub input: Option<String>,
}

/// A rule as it exists (only rules with our prefix are listed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingRule {
    /// Rule name.
    pub name: String,
    /// Its schedule expression.
    pub schedule_expression: Option<String>,
    /// Whether it is enabled.
    pub enabled: bool,
    /// Its targets.
    pub targets: Vec<ExistingTarget>,
}

impl ExistingRule {
    /// The groups its targets' inputs name (`{"groups": [..]}`, or the former
    /// one-group input `{"group": ".."}`).
    pub fn groups(&self) -> BTreeSet<GroupKey> {
        self.targets
            .iter()
            .filter_map(|t| t.input.as_deref())
            .flat_map(input_groups)
            .collect()
    }
}

/// The groups an input names: `{"groups": [..]}` or `{"group": ".."}`. Names that do
/// not parse are left out.
pub fn input_groups(input: &str) -> Vec<GroupKey> {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(input) else {
        return Vec::new();
    };
    let names: Vec<&str> = match (value.get("groups"), value.get("group")) {
        (Some(serde_json::Value::Array(list)), _) => {
            list.iter().filter_map(|g| g.as_str()).collect()
        }
        (_, Some(serde_json::Value::String(one))) => vec![one.as_str()],
        _ => Vec::new(),
    };
    names
        .into_iter()
        .filter_map(|n| GroupKey::parse(n).ok())
        .collect()
}

/// One change to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Create or update a rule and its probe target.
    Put {
        /// The rule wanted.
        spec: RuleSpec,
        /// The rule itself must be written (missing, other schedule, or disabled).
        rule: bool,
        /// The probe target must be written (missing, other ARN or input).
        target: bool,
        /// Other targets to remove.
        remove_targets: Vec<String>,
    },
    /// Delete a rule after removing its targets.
    Delete {
        /// Rule name.
        name: String,
        /// Its target ids.
        target_ids: Vec<String>,
    },
}

/// Which rules a plan may touch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Only the rules of these trigger slugs (`every-1m`; a stream batch touched groups
    /// of them), and the former one-group rules (`webmon-1m-3`) of the same slugs.
    Schedules(BTreeSet<String>),
    /// Every rule with our prefix (a full resync): orphans are deleted too.
    All,
}

/// Rule name of bin `bin` of a trigger slug: `webmon-every-1m-0`.
pub fn rule_name(prefix: &str, slug: &str, bin: usize) -> String {
    format!("{prefix}{slug}-{bin}")
}

/// The trigger slug a rule name stands for, if it is one of ours and well formed: a
/// bin rule (`webmon-every-5m-2`) or a former one-group rule (`webmon-5m-3`). A bin rule
/// of an older release whose period is no longer a trigger period (`webmon-every-7m-0`,
/// a `rate(7 minutes)` rule) stands for today's trigger of that interval (`every-1m`), so
/// reconciling that trigger replaces it.
pub fn slug_of_rule(prefix: &str, name: &str) -> Option<String> {
    let rest = name.strip_prefix(prefix)?;
    if let Ok(group) = GroupKey::parse(rest) {
        return Some(group.trigger_slug());
    }
    let (slug, bin) = rest.rsplit_once('-')?;
    let period = slug.strip_prefix("every-")?;
    if bin.is_empty() || !bin.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    match Interval::parse(period) {
        Ok(interval)
            if !interval.is_sub_minute() && period.bytes().all(|b| b.is_ascii_alphanumeric()) =>
        {
            Some(GroupKey { interval, shard: 0 }.trigger_slug())
        }
        _ => Some(slug.to_string()),
    }
}

/// Plans the changes that make `existing` match `wanted` (from [`pack`]), within
/// `scope`: rules in scope that are not wanted are deleted.
pub fn plan(
    prefix: &str,
    target_arn: &str,
    wanted: &[RuleSpec],
    scope: &Scope,
    existing: &[ExistingRule],
) -> Vec<Change> {
    let in_scope = |name: &str| match scope {
        Scope::All => name.starts_with(prefix),
        Scope::Schedules(slugs) => slug_of_rule(prefix, name).is_some_and(|s| slugs.contains(&s)),
    };
    let wanted_names: BTreeSet<&str> = wanted.iter().map(|s| s.name.as_str()).collect();
    let mut changes = Vec::new();
    for rule in existing.iter().filter(|r| r.name.starts_with(prefix)) {
        if in_scope(&rule.name) && !wanted_names.contains(rule.name.as_str()) {
            changes.push(Change::Delete {
                name: rule.name.clone(),
                target_ids: rule.targets.iter().map(|t| t.id.clone()).collect(),
            });
        }
    }
    for spec in wanted.iter().filter(|s| in_scope(&s.name)) {
        let current = existing.iter().find(|r| r.name == spec.name);
        let rule = current.is_none_or(|r| {
            !r.enabled
                || r.schedule_expression.as_deref() != Some(spec.schedule_expression.as_str())
        });
        let ours = current.and_then(|r| r.targets.iter().find(|t| t.id == TARGET_ID));
        let target =
            ours.is_none_or(|t| t.arn != target_arn || !same_json(t.input.as_deref(), &spec.input));
        let remove_targets: Vec<String> = current
            .map(|r| {
                r.targets
                    .iter()
                    .filter(|t| t.id != TARGET_ID)
                    .map(|t| t.id.clone())
                    .collect()
            })
            .unwrap_or_default();
        if rule || target || !remove_targets.is_empty() {
            changes.push(Change::Put {
                spec: spec.clone(),
                rule,
                target,
                remove_targets,
            });
        }
    }
    changes
}

fn same_json(a: Option<&str>, b: &str) -> bool {
    let parse = |s: &str| serde_json::from_str::<serde_json::Value>(s).ok();
    a.and_then(parse).is_some_and(|a| Some(a) == parse(b))
}

#[cfg(test)]
#[path = "reconcile_tests.rs"]
mod tests;
