//! Trigger-rule reconciliation, with no I/O: the rules a region should have (one per
//! schedule group that holds at least one of its checks) against the rules it has
//! gives a plan of changes. Applying an empty plan makes no API call, so replaying a
//! stream batch changes nothing.

use std::collections::BTreeSet;

use crate::schedule::GroupKey;

/// Prefix of every rule we manage; rules without it are never touched.
pub const RULE_PREFIX: &str = "webmon-";
/// Id of the probe target on each rule.
pub const TARGET_ID: &str = "probe";

/// A rule and its probe target as they should be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSpec {
    /// Rule name, `<prefix><group>`, e.g. `webmon-30s-3`.
    pub name: String,
    /// The group it triggers.
    pub group: GroupKey,
    /// EventBridge schedule expression.
    pub schedule_expression: String,
    /// Target input: `{"group":"30s-3"}`.
    pub input: String,
}

impl RuleSpec {
    /// The rule for a group.
    pub fn for_group(prefix: &str, group: GroupKey) -> Self {
        Self {
            name: rule_name(prefix, group),
            group,
            schedule_expression: group.schedule_expression(),
            input: serde_json::json!({ "group": group.name() }).to_string(),
        }
    }
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
    /// Only the rules of these groups (a stream batch touched them).
    Groups(BTreeSet<GroupKey>),
    /// Every rule with our prefix (a full resync): orphans are deleted too.
    All,
}

/// Rule name of a group.
pub fn rule_name(prefix: &str, group: GroupKey) -> String {
    format!("{prefix}{}", group.name())
}

/// The group a rule name stands for, if it is one of ours and well formed.
pub fn group_of_rule(prefix: &str, name: &str) -> Option<GroupKey> {
    GroupKey::parse(name.strip_prefix(prefix)?).ok()
}

/// Plans the changes that make `existing` match `wanted` (the groups holding at least
/// one check this region probes), within `scope`.
pub fn plan(
    prefix: &str,
    target_arn: &str,
    wanted: &BTreeSet<GroupKey>,
    scope: &Scope,
    existing: &[ExistingRule],
) -> Vec<Change> {
    let in_scope = |group: Option<GroupKey>| match scope {
        Scope::All => true,
        Scope::Groups(groups) => group.is_some_and(|g| groups.contains(&g)),
    };
    let mut changes = Vec::new();
    for rule in existing.iter().filter(|r| r.name.starts_with(prefix)) {
        let group = group_of_rule(prefix, &rule.name);
        if in_scope(group) && !group.is_some_and(|g| wanted.contains(&g)) {
            changes.push(Change::Delete {
                name: rule.name.clone(),
                target_ids: rule.targets.iter().map(|t| t.id.clone()).collect(),
            });
        }
    }
    for &group in wanted {
        if !in_scope(Some(group)) {
            continue;
        }
        let spec = RuleSpec::for_group(prefix, group);
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
                spec,
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
mod tests {
    use super::*;
    use crate::check::Interval;

    const ARN: &str = "arn:aws:lambda:eu-west-1:123456789012:function:webmon-probe";

    fn group(interval: &str, shard: u32) -> GroupKey {
        GroupKey {
            interval: Interval::parse(interval).unwrap(),
            shard,
        }
    }

    fn existing_for(spec: &RuleSpec) -> ExistingRule {
        ExistingRule {
            name: spec.name.clone(),
            schedule_expression: Some(spec.schedule_expression.clone()),
            enabled: true,
            targets: vec![ExistingTarget {
                id: TARGET_ID.into(),
                arn: ARN.into(),
                input: Some(spec.input.clone()),
            }],
        }
    }

    #[test]
    fn creates_missing_rules_and_is_idempotent() {
        let wanted: BTreeSet<_> = [group("30s", 3), group("5m", 0)].into();
        let changes = plan(RULE_PREFIX, ARN, &wanted, &Scope::All, &[]);
        assert_eq!(changes.len(), 2);
        let existing: Vec<_> = wanted
            .iter()
            .map(|&g| existing_for(&RuleSpec::for_group(RULE_PREFIX, g)))
            .collect();
        assert_eq!(existing[0].name, "webmon-30s-3");
        assert!(plan(RULE_PREFIX, ARN, &wanted, &Scope::All, &existing).is_empty());
    }

    #[test]
    fn updates_only_what_differs() {
        let g = group("1m", 1);
        let mut rule = existing_for(&RuleSpec::for_group(RULE_PREFIX, g));
        rule.targets[0].input = Some(r#"{ "group" : "1m-1" }"#.into());
        rule.targets.push(ExistingTarget {
            id: "stray".into(),
            arn: ARN.into(),
            input: None,
        });
        let changes = plan(RULE_PREFIX, ARN, &[g].into(), &Scope::All, &[rule.clone()]);
        assert!(
            matches!(&changes[..], [Change::Put { rule: false, target: false, remove_targets, .. }] if remove_targets == &["stray"])
        );
        rule.enabled = false;
        let changes = plan(RULE_PREFIX, ARN, &[g].into(), &Scope::All, &[rule]);
        assert!(matches!(
            &changes[..],
            [Change::Put {
                rule: true,
                target: false,
                ..
            }]
        ));
    }

    #[test]
    fn deletes_empty_groups_in_scope_and_orphans_on_resync() {
        let (a, b) = (group("1m", 1), group("1m", 2));
        let existing = vec![
            existing_for(&RuleSpec::for_group(RULE_PREFIX, a)),
            existing_for(&RuleSpec::for_group(RULE_PREFIX, b)),
            ExistingRule {
                name: "webmon-junk".into(),
                schedule_expression: None,
                enabled: true,
                targets: vec![],
            },
            ExistingRule {
                name: "other-rule".into(),
                schedule_expression: None,
                enabled: true,
                targets: vec![],
            },
        ];
        let only_a = Scope::Groups([a].into());
        let changes = plan(RULE_PREFIX, ARN, &BTreeSet::new(), &only_a, &existing);
        assert_eq!(
            changes,
            vec![Change::Delete {
                name: "webmon-1m-1".into(),
                target_ids: vec![TARGET_ID.into()]
            }]
        );
        let changes = plan(RULE_PREFIX, ARN, &[b].into(), &Scope::All, &existing);
        let deleted: Vec<_> = changes
            .iter()
            .map(|c| match c {
                Change::Delete { name, .. } => name.as_str(),
                _ => "put",
            })
            .collect();
        assert_eq!(deleted, ["webmon-1m-1", "webmon-junk"]);
    }

    #[test]
    fn rule_names_map_back_to_groups() {
        let g = group("15s", 7);
        assert_eq!(
            group_of_rule(RULE_PREFIX, &rule_name(RULE_PREFIX, g)),
            Some(g)
        );
        assert_eq!(group_of_rule(RULE_PREFIX, "webmon-junk"), None);
    }
}
