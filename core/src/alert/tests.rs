//! Scenario tests: one per transition, driven round by round through [`Harness`].

use super::check::Level;
use super::intent::EventKind;
use super::policy::{AlertConfig, GlobalPolicy};
use super::state::AlertState;
use super::testkit::{check, config, describe, result, Harness, MIN};

const ABC: [&str; 3] = ["a", "b", "c"];

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn single_region_blip_is_silent() {
    let mut h = Harness::new(config(vec![check("web", &ABC)]));
    for (round, up) in [
        (1, [true, true, true]),
        (2, [false, true, true]),
        (3, [true; 3]),
    ] {
        assert!(h.round("web", round, &ABC, &up).is_empty());
    }
    assert_eq!(h.state.checks["web"].level, Level::Up);
}

#[test]
fn regional_outage_opens_and_resolves_one_incident() {
    let mut h = Harness::new(config(vec![check("web", &ABC)]));
    let down_in_a = [false, true, true];
    assert!(h.round("web", 1, &ABC, &down_in_a).is_empty());
    assert_eq!(
        h.round("web", 2, &ABC, &down_in_a),
        strs(&["triggered REGIONAL web"])
    );
    let inc = &h.sent[0];
    assert_eq!(inc.incident_id.as_deref(), Some("web:120000"));
    assert_eq!(inc.id, "web:120000:1");
    let q = inc.quorum.unwrap();
    assert_eq!((q.failing, q.required, q.configured), (1, 2, 3));
    assert_eq!(
        inc.regions[0].last_error.as_deref(),
        Some("http_status: status 503")
    );
    let open = h.state.checks["web"].incident.clone().unwrap();
    assert_eq!(
        open.regions,
        strs(&["a"]),
        "the incident names the failing region"
    );
    assert!(h.round("web", 3, &ABC, &[true; 3]).is_empty());
    assert_eq!(
        h.round("web", 4, &ABC, &[true; 3]),
        strs(&["resolved UP web"])
    );
    assert_eq!(h.sent[1].id, "web:120000:2");
    assert!(h.state.checks["web"].incident.is_none());
}

#[test]
fn an_escalated_incident_names_every_region_that_failed_in_it() {
    let mut h = Harness::new(config(vec![check("web", &ABC)]));
    h.round("web", 1, &ABC, &[false, true, true]);
    h.round("web", 2, &ABC, &[false, true, true]);
    h.round("web", 3, &ABC, &[false, false, true]);
    let escalated = h.round("web", 4, &ABC, &[false, false, true]);
    assert_eq!(escalated, strs(&["escalated DOWN web"]));
    let open = h.state.checks["web"].incident.clone().unwrap();
    assert_eq!(open.regions, strs(&["a", "b"]));
}

#[test]
fn global_outage_is_one_notification_whatever_the_region_order() {
    let mut h = Harness::new(config(vec![check("web", &ABC)]));
    h.round("web", 1, &ABC, &[false; 3]);
    // Round 2 arrives region by region, in two evaluations, before the round settles.
    let first = h.at(2 * MIN + 1000, vec![result("web", "c", 2, false, 0.0)]);
    assert!(first.is_empty(), "the round waits for every region");
    let rest = vec![
        result("web", "b", 2, false, 0.0),
        result("web", "a", 2, false, 0.0),
    ];
    assert_eq!(
        describe(&h.at(2 * MIN + 2000, rest)),
        strs(&["triggered DOWN web"])
    );
    h.round("web", 3, &ABC, &[true; 3]);
    assert_eq!(
        h.round("web", 4, &ABC, &[true; 3]),
        strs(&["resolved UP web"])
    );
}

#[test]
fn escalation_and_deescalation_keep_the_incident_id() {
    let mut h = Harness::new(config(vec![check("web", &ABC)]));
    let steps: [(i64, [bool; 3], &[&str]); 8] = [
        (1, [false, true, true], &[]),
        (2, [false, true, true], &["triggered REGIONAL web"]),
        (3, [false, false, false], &[]),
        (4, [false, false, false], &["escalated DOWN web"]),
        (5, [false, true, true], &[]),
        (6, [false, true, true], &["deescalated REGIONAL web"]),
        (7, [true; 3], &[]),
        (8, [true; 3], &["resolved UP web"]),
    ];
    for (round, up, want) in steps {
        assert_eq!(
            h.round("web", round, &ABC, &up),
            strs(want),
            "round {round}"
        );
    }
    let ids: Vec<&str> = h
        .sent
        .iter()
        .filter_map(|i| i.incident_id.as_deref())
        .collect();
    assert!(ids.iter().all(|id| *id == "web:120000"), "{ids:?}");
    assert_eq!(h.sent[1].previous_level, Level::Regional);
}

#[test]
fn degraded_latency_per_region() {
    let mut c = check("web", &ABC);
    c.policy
        .degraded
        .as_mut()
        .unwrap()
        .regions
        .insert("c".into(), 2000.0);
    let mut h = Harness::new(config(vec![c]));
    for round in 1..=2 {
        let results = ABC
            .iter()
            .map(|r| result("web", r, round, true, 900.0))
            .collect();
        let got = describe(&h.at(round * MIN + 10_000, results));
        // c allows 2000 ms, so only a and b are slow: 2 of 3 is the majority.
        assert_eq!(
            got,
            if round == 2 {
                strs(&["triggered DEGRADED web"])
            } else {
                vec![]
            }
        );
    }
}

#[test]
fn flapping_is_held_until_stable() {
    let mut c = check("web", &["local"]);
    (
        c.policy.failure_threshold,
        c.policy.failure_window,
        c.policy.success_threshold,
    ) = (1, 1, 1);
    let mut h = Harness::new(config(vec![c]));
    let mut got = Vec::new();
    for round in 1..=8 {
        got.extend(h.round("web", round, &["local"], &[round % 2 == 0]));
    }
    assert_eq!(
        got,
        strs(&[
            "triggered DOWN web",
            "resolved UP web",
            "triggered DOWN web",
            "resolved UP web",
            "triggered DOWN web",
            "flapping UP web",
        ])
    );
    let mut after = Vec::new();
    for round in 9..=20 {
        after.extend(h.round("web", round, &["local"], &[true]));
    }
    assert_eq!(after, strs(&["resolved UP web"]));
    assert_eq!(
        h.sent.last().unwrap().note.as_deref(),
        Some("held by flapping")
    );
}

#[test]
fn many_checks_failing_together_are_one_digest() {
    let ids = ["a1", "a2", "a3", "a4", "a5"];
    let mut cfg = config(ids.iter().map(|id| check(id, &["local"])).collect());
    cfg.global = GlobalPolicy {
        group_threshold: 3,
        group_wait_ms: 30_000,
        ..GlobalPolicy::default()
    };
    let mut h = Harness::new(cfg);
    let all = |h: &mut Harness, round: i64, up: bool| {
        let results = ids
            .iter()
            .map(|id| result(id, "local", round, up, 100.0))
            .collect();
        h.at(round * MIN + 10_000, results)
    };
    all(&mut h, 1, false);
    assert!(all(&mut h, 2, false).is_empty(), "waiting for the group");
    let grouped = all(&mut h, 3, false);
    assert_eq!(grouped.len(), 1);
    assert_eq!(grouped[0].kind, EventKind::Grouped);
    assert_eq!(grouped[0].members.len(), 5);
    assert_eq!(grouped[0].members[0].id, "a1:120000:1");
    all(&mut h, 4, true);
    assert_eq!(all(&mut h, 5, true).len(), 5, "resolutions are per check");
}

#[test]
fn reminders_follow_the_wall_clock_up_to_max() {
    let mut c = check("web", &["local"]);
    (c.policy.reminder_every_ms, c.policy.reminder_max) = (Some(10 * MIN), 2);
    let mut h = Harness::new(config(vec![c]));
    let mut got = Vec::new();
    for round in 1..=40 {
        got.extend(h.round("web", round, &["local"], &[false]));
    }
    assert_eq!(
        got,
        strs(&[
            "triggered DOWN web",
            "reminder DOWN web",
            "reminder DOWN web"
        ])
    );
    assert_eq!(h.sent[1].at_ms, 12 * MIN + 10_000);
}

#[test]
fn restart_from_persisted_state_does_not_renotify() {
    let cfg: AlertConfig = config(vec![check("web", &ABC)]);
    let mut h = Harness::new(cfg.clone());
    h.round("web", 1, &ABC, &[false; 3]);
    assert_eq!(h.round("web", 2, &ABC, &[false; 3]).len(), 1);
    let saved = serde_json::to_string(&h.state).unwrap();
    let mut h2 = Harness::new(cfg);
    h2.state = serde_json::from_str::<AlertState>(&saved).unwrap();
    assert_eq!(h2.state, h.state);
    assert!(h2.round("web", 3, &ABC, &[false; 3]).is_empty());
    h2.round("web", 4, &ABC, &[true; 3]);
    assert_eq!(
        h2.round("web", 5, &ABC, &[true; 3]),
        strs(&["resolved UP web"])
    );
    assert_eq!(h2.sent[0].seq, 2);
}

#[test]
fn late_results_are_ignored_and_counted() {
    let mut h = Harness::new(config(vec![check("web", &["local"])]));
    for round in 1..=5 {
        h.round("web", round, &["local"], &[true]);
    }
    let late = h.at(
        5 * MIN + 20_000,
        vec![result("web", "local", 3, false, 0.0)],
    );
    assert!(late.is_empty());
    assert_eq!(h.state.late_ignored, 1);
    assert_eq!(
        h.state.checks["web"].regions["local"].window,
        vec![false, false]
    );
}

#[test]
fn a_round_missing_a_region_settles() {
    let mut h = Harness::new(config(vec![check("web", &ABC)]));
    for round in 1..=2 {
        let results = ["a", "b"]
            .iter()
            .map(|r| result("web", r, round, false, 0.0))
            .collect();
        assert!(h.at(round * MIN + 1000, results).is_empty(), "waits for c");
    }
    // 30 s after round 2, both rounds are evaluated without c.
    assert_eq!(
        describe(&h.at(2 * MIN + 30_000, vec![])),
        strs(&["triggered DOWN web"])
    );
}

#[test]
fn a_failing_region_falling_silent_is_unknown_not_resolved() {
    let mut h = Harness::new(config(vec![check("web", &ABC)]));
    h.round("web", 1, &ABC, &[false, true, true]);
    assert_eq!(
        h.round("web", 2, &ABC, &[false, true, true]),
        strs(&["triggered REGIONAL web"])
    );
    // Region a stops reporting; b and c keep passing.
    let mut got = Vec::new();
    for round in 3..=8 {
        got.extend(h.round("web", round, &["b", "c"], &[true, true]));
    }
    assert_eq!(got, strs(&["no_data UNKNOWN web"]));
    assert!(h.state.checks["web"].incident.as_ref().unwrap().is_open());
    // Back with a pass: REGIONAL again (data resumed), then recovered.
    assert_eq!(
        h.round("web", 9, &ABC, &[true; 3]),
        strs(&["data_resumed REGIONAL web"])
    );
    assert_eq!(
        h.round("web", 10, &ABC, &[true; 3]),
        strs(&["resolved UP web"])
    );
}
