//! Unit tests of [`super`]: packing and planning.

use super::*;
use crate::check::Interval;
use crate::schedule::SHARDS;

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

/// Every group of the usual intervals with `checks` checks each.
fn loads(checks: u64) -> BTreeMap<GroupKey, u64> {
    let mut out = BTreeMap::new();
    for interval in ["10s", "30s", "1m", "5m"] {
        for shard in 0..SHARDS {
            let g = group(interval, shard);
            out.insert(g, group_load(g, checks));
        }
    }
    out
}

#[test]
fn groups_of_one_schedule_share_a_rule() {
    let rules = pack(RULE_PREFIX, &loads(8), DEFAULT_BIN_CAPACITY);
    let names: Vec<&str> = rules.iter().map(|r| r.name.as_str()).collect();
    // 1 min trigger: 32 x (8 x 6 + 8 x 2 + 8) = 2,304 executions: one bin.
    assert_eq!(names, ["webmon-every-1m-0", "webmon-every-5m-0"]);
    assert_eq!(rules[0].groups.len(), 96);
    assert_eq!(rules[0].schedule_expression, "cron(* * * * ? *)");
    assert_eq!(rules[1].schedule_expression, "cron(0/5 * * * ? *)");
    let input: serde_json::Value = serde_json::from_str(&rules[1].input).unwrap();
    assert_eq!(input["groups"].as_array().unwrap().len(), 32);
    assert_eq!(input["groups"][0], "5m-0");
    assert!(rules
        .iter()
        .all(|r| r.name.len() <= 64 && r.input.len() <= MAX_INPUT_CHARS));
}

#[test]
fn packing_is_deterministic_and_respects_capacity() {
    let mut l = loads(0);
    for (n, load) in l.values_mut().enumerate() {
        *load = (n as u64 * 7919) % 500;
    }
    let a = pack(RULE_PREFIX, &l, 1000);
    let b = pack(RULE_PREFIX, &l.clone().into_iter().rev().collect(), 1000);
    assert_eq!(a, b);
    for rule in &a {
        let used: u64 = rule.groups.iter().map(|g| l[g]).sum();
        assert!(used <= 1000, "{} carries {used}", rule.name);
    }
    let packed: usize = a.iter().map(|r| r.groups.len()).sum();
    assert_eq!(packed, l.len(), "every group is in exactly one rule");
    // First-fit decreasing leaves at most one bin less than half full per schedule.
    let half_empty = a
        .iter()
        .filter(|r| r.groups.iter().map(|g| l[g]).sum::<u64>() < 500)
        .count();
    assert!(half_empty <= 2, "{half_empty}");
}

#[test]
fn a_group_larger_than_the_capacity_gets_a_rule_of_its_own() {
    let (big, small) = (group("10s", 4), group("1m", 9));
    let l: BTreeMap<_, _> = [(big, 5000), (small, 10)].into();
    let rules = pack(RULE_PREFIX, &l, 3000);
    assert_eq!(rules.len(), 2);
    assert_eq!(rules[0].groups, [big]);
    assert_eq!(rules[1].groups, [small]);
    assert_eq!(rules[1].name, "webmon-every-1m-1");
}

#[test]
fn inputs_stay_under_the_eventbridge_limit() {
    // More groups than one rule may hold, all empty: split by group count alone.
    let mut l = BTreeMap::new();
    for interval in ["10s", "15s", "20s", "30s", "1m"] {
        for shard in 0..SHARDS {
            l.insert(group(interval, shard), 0);
        }
    }
    let mut rules = pack(RULE_PREFIX, &l, DEFAULT_BIN_CAPACITY);
    assert_eq!(rules.len(), 1, "160 groups fit in one rule");
    assert!(rules[0].input.len() < MAX_INPUT_CHARS);
    let many: Vec<GroupKey> = (0..MAX_GROUPS_PER_RULE)
        .map(|n| group("1d", n as u32 % SHARDS))
        .collect();
    rules.push(RuleSpec::for_bin(RULE_PREFIX, 0, many));
    assert!(
        rules[1].input.len() < MAX_INPUT_CHARS,
        "{}",
        rules[1].input.len()
    );
}

#[test]
fn creates_missing_rules_and_is_idempotent() {
    let wanted = pack(RULE_PREFIX, &loads(3), DEFAULT_BIN_CAPACITY);
    let changes = plan(RULE_PREFIX, ARN, &wanted, &Scope::All, &[]);
    assert_eq!(changes.len(), 2);
    let existing: Vec<_> = wanted.iter().map(existing_for).collect();
    assert!(plan(RULE_PREFIX, ARN, &wanted, &Scope::All, &existing).is_empty());
    // The same loads again (a replayed batch) pack the same way: still nothing to do.
    let again = pack(RULE_PREFIX, &loads(3), DEFAULT_BIN_CAPACITY);
    assert!(plan(RULE_PREFIX, ARN, &again, &Scope::All, &existing).is_empty());
}

#[test]
fn updates_only_what_differs() {
    let spec = RuleSpec::for_bin(RULE_PREFIX, 0, vec![group("1m", 1)]);
    let mut rule = existing_for(&spec);
    rule.targets[0].input = Some(r#"{ "groups" : ["1m-1"], "time": "<time>" }"#.into());
    rule.targets.push(ExistingTarget {
        id: "stray".into(),
        arn: ARN.into(),
        input: None,
    });
    let wanted = [spec.clone()];
    let changes = plan(RULE_PREFIX, ARN, &wanted, &Scope::All, &[rule.clone()]);
    assert!(
        matches!(&changes[..], [Change::Put { rule: false, target: false, remove_targets, .. }] if remove_targets == &["stray"])
    );
    rule.enabled = false;
    rule.targets[0].input = Some(r#"{"groups":["1m-1","1m-2"]}"#.into());
    let changes = plan(RULE_PREFIX, ARN, &wanted, &Scope::All, &[rule]);
    assert!(matches!(
        &changes[..],
        [Change::Put {
            rule: true,
            target: true,
            ..
        }]
    ));
}

#[test]
fn deletes_unneeded_bins_in_scope_legacy_rules_and_orphans_on_resync() {
    let one = RuleSpec::for_bin(RULE_PREFIX, 0, vec![group("1m", 1)]);
    let two = RuleSpec::for_bin(RULE_PREFIX, 1, vec![group("1m", 2)]);
    let five = RuleSpec::for_bin(RULE_PREFIX, 0, vec![group("5m", 2)]);
    let bare = |name: &str| ExistingRule {
        name: name.into(),
        schedule_expression: None,
        enabled: true,
        targets: vec![],
    };
    let existing = vec![
        existing_for(&one),
        existing_for(&two),
        existing_for(&five),
        bare("webmon-30s-3"),
        bare("webmon-junk"),
        bare("other-rule"),
    ];
    let names = |changes: &[Change]| -> Vec<String> {
        changes
            .iter()
            .map(|c| match c {
                Change::Delete { name, .. } => name.clone(),
                Change::Put { spec, .. } => format!("put {}", spec.name),
            })
            .collect()
    };
    let minute = Scope::Schedules(["every-1m".to_string()].into());
    let changes = plan(
        RULE_PREFIX,
        ARN,
        std::slice::from_ref(&one),
        &minute,
        &existing,
    );
    assert_eq!(names(&changes), ["webmon-every-1m-1", "webmon-30s-3"]);
    let changes = plan(RULE_PREFIX, ARN, &[one, five], &Scope::All, &existing);
    assert_eq!(
        names(&changes),
        ["webmon-every-1m-1", "webmon-30s-3", "webmon-junk"]
    );
}

#[test]
fn rule_names_map_back_to_slugs_and_inputs_to_groups() {
    assert_eq!(
        slug_of_rule(RULE_PREFIX, &rule_name(RULE_PREFIX, "every-1m", 3)).as_deref(),
        Some("every-1m")
    );
    assert_eq!(
        slug_of_rule(RULE_PREFIX, "webmon-15s-7").as_deref(),
        Some("every-1m")
    );
    // A rate(7 minutes) rule of an older release belongs to the every-minute trigger
    // that carries 7m groups today, so reconciling that trigger removes it.
    assert_eq!(
        slug_of_rule(RULE_PREFIX, "webmon-every-7m-0").as_deref(),
        Some("every-1m")
    );
    assert_eq!(
        slug_of_rule(RULE_PREFIX, "webmon-every-90m-1").as_deref(),
        Some("every-30m")
    );
    assert_eq!(
        slug_of_rule(RULE_PREFIX, "webmon-every-5h-0").as_deref(),
        Some("every-1h")
    );
    assert_eq!(
        slug_of_rule(RULE_PREFIX, "webmon-every-2h-0").as_deref(),
        Some("every-2h")
    );
    assert_eq!(slug_of_rule(RULE_PREFIX, "webmon-junk"), None);
    assert_eq!(slug_of_rule(RULE_PREFIX, "webmon-every-1m-x"), None);
    assert_eq!(
        input_groups(r#"{"groups":["10s-3","bad","5m-0"]}"#),
        [group("10s", 3), group("5m", 0)]
    );
    assert_eq!(input_groups(r#"{"group":"1m-3"}"#), [group("1m", 3)]);
    assert!(input_groups("not json").is_empty());
}

#[test]
fn bin_capacity_follows_the_measured_curve() {
    assert_eq!(
        bin_capacity_for_memory(DEFAULT_PROBE_MEMORY_MB),
        DEFAULT_BIN_CAPACITY
    );
    // CPU-bound below 512 MB: half the measured figure; between points, linear.
    assert_eq!(bin_capacity_for_memory(128), 3_000);
    assert_eq!(bin_capacity_for_memory(256), 6_000);
    assert_eq!(bin_capacity_for_memory(192), 4_500);
    assert_eq!(bin_capacity_for_memory(64), 3_000, "flat below the curve");
    // In-flight bound above: 256 slots x 60 s / 2 s.
    assert_eq!(bin_capacity_for_memory(3008), 7_680);
    assert!(bin_capacity_for_memory(384) <= bin_capacity_for_memory(512));
}
