//! Scenario tests for holds: maintenance windows, silences, pauses, `depends_on` and
//! suspect probe regions.

use super::check::Level;
use super::quiet::{MaintenanceMode, MaintenanceWindow, Silence, WindowSchedule};
use super::testkit::{check, config, describe, result, Harness, MIN};

const ABC: [&str; 3] = ["a", "b", "c"];

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn window(mode: MaintenanceMode, start_ms: i64, end_ms: i64) -> MaintenanceWindow {
    MaintenanceWindow {
        id: "m".into(),
        checks: vec!["web".into()],
        tags: Default::default(),
        mode,
        schedule: WindowSchedule::Once { start_ms, end_ms },
    }
}

#[test]
fn maintenance_holds_then_reconciles_once() {
    let mut cfg = config(vec![check("web", &["local"])]);
    cfg.maintenance
        .push(window(MaintenanceMode::Silence, MIN / 2, 5 * MIN + MIN / 2));
    let mut h = Harness::new(cfg);
    for round in 1..=5 {
        assert!(
            h.round("web", round, &["local"], &[false]).is_empty(),
            "round {round}"
        );
    }
    assert_eq!(
        h.round("web", 6, &["local"], &[false]),
        strs(&["triggered DOWN web"])
    );
    assert_eq!(h.sent[0].note.as_deref(), Some("held by maintenance m"));
    assert_eq!(
        h.sent[0].opened_at_ms,
        Some(2 * MIN),
        "opened during the window"
    );
}

#[test]
fn outage_inside_maintenance_sends_nothing_after() {
    let mut cfg = config(vec![check("web", &["local"])]);
    cfg.maintenance
        .push(window(MaintenanceMode::Silence, MIN / 2, 5 * MIN + MIN / 2));
    let mut h = Harness::new(cfg);
    for round in 1..=10 {
        h.round("web", round, &["local"], &[!(1..=3).contains(&round)]);
    }
    assert!(h.sent.is_empty(), "{:?}", describe(&h.sent));
}

#[test]
fn pause_ignores_results_and_never_goes_stale() {
    let mut cfg = config(vec![check("web", &["local"])]);
    cfg.maintenance
        .push(window(MaintenanceMode::Pause, MIN / 2, 4 * MIN + MIN / 2));
    let mut h = Harness::new(cfg);
    for round in 1..=4 {
        h.round("web", round, &["local"], &[false]);
    }
    h.at(6 * MIN, vec![]);
    h.round("web", 7, &["local"], &[true]);
    assert!(h.sent.is_empty(), "{:?}", describe(&h.sent));
    assert_eq!(h.state.checks["web"].level, Level::Up);
}

#[test]
fn silence_expiry_notifies_the_current_state() {
    let mut h = Harness::new(config(vec![check("web", &["local"])]));
    h.silences.push(Silence {
        id: "s1".into(),
        check_id: Some("web".into()),
        tag: None,
        starts_at_ms: 0,
        ends_at_ms: 4 * MIN + MIN / 2,
        comment: "deploy".into(),
    });
    for round in 1..=4 {
        assert!(h.round("web", round, &["local"], &[false]).is_empty());
    }
    assert_eq!(
        h.round("web", 5, &["local"], &[false]),
        strs(&["triggered DOWN web"])
    );
    assert_eq!(h.sent[0].note.as_deref(), Some("held by silence s1"));
}

#[test]
fn missing_data_is_unknown_and_resumes() {
    let mut h = Harness::new(config(vec![check("web", &["a", "b"])]));
    h.round("web", 1, &["a", "b"], &[true, true]);
    // Stale 3.5 minutes after round 1, seen once the 30 s settle window has passed.
    assert!(h.at(5 * MIN, vec![]).is_empty());
    assert_eq!(
        describe(&h.at(5 * MIN + 31_000, vec![])),
        strs(&["no_data UNKNOWN web"])
    );
    assert_eq!(
        h.sent[0].id, "web:no_data:270001",
        "stamped when it went stale"
    );
    assert!(h.at(6 * MIN, vec![]).is_empty(), "one notification per gap");
    assert_eq!(
        h.round("web", 7, &["a", "b"], &[true, true]),
        strs(&["data_resumed UP web"])
    );
}

#[test]
fn tls_warnings_rearm_after_renewal() {
    let mut h = Harness::new(config(vec![check("web", &["local"])]));
    let mut got = Vec::new();
    for (round, days) in [(1, 40), (2, 25), (3, 20), (4, 5), (5, 4), (6, 90), (7, 29)] {
        let mut r = result("web", "local", round, true, 100.0);
        r.tls_cert_days_left = Some(days);
        for i in h.at(round * MIN + 10_000, vec![r]) {
            got.push(format!(
                "{} {} {}",
                i.kind.as_str(),
                i.tls_days_left.unwrap(),
                i.id
            ));
        }
    }
    assert_eq!(
        got,
        strs(&[
            "tls_expiring 25 web:tls:0:30",
            "tls_expiring 5 web:tls:0:7",
            "tls_renewed 90 web:tls:0:renewed",
            "tls_expiring 29 web:tls:1:30",
        ])
    );
}

#[test]
fn depends_on_holds_the_dependant_until_the_parent_recovers() {
    let mut api = check("api", &["local"]);
    api.policy.depends_on = vec!["db".into()];
    let mut h = Harness::new(config(vec![api, check("db", &["local"])]));
    let both = |h: &mut Harness, round: i64, api_up: bool, db_up: bool| {
        let results = vec![
            result("api", "local", round, api_up, 100.0),
            result("db", "local", round, db_up, 100.0),
        ];
        describe(&h.at(round * MIN + 10_000, results))
    };
    assert!(both(&mut h, 1, false, false).is_empty());
    assert_eq!(both(&mut h, 2, false, false), strs(&["triggered DOWN db"]));
    assert!(both(&mut h, 3, false, true).is_empty());
    assert_eq!(
        both(&mut h, 4, false, true),
        strs(&["resolved UP db", "triggered DOWN api"])
    );
    assert_eq!(
        h.sent[2].note.as_deref(),
        Some("held by depends_on db (DOWN)")
    );
}

#[test]
fn suspect_region_does_not_page() {
    let checks = ["c1", "c2", "c3"]
        .iter()
        .map(|id| check(id, &ABC))
        .collect();
    let mut cfg = config(checks);
    cfg.global.operator_channels = vec!["ops".into()];
    let mut h = Harness::new(cfg);
    let mut got = Vec::new();
    for round in 1..=4 {
        let up = round > 2;
        let results = ["c1", "c2", "c3"]
            .iter()
            .flat_map(|id| {
                ABC.iter()
                    .map(move |r| result(id, r, round, up || *r != "c", 100.0))
            })
            .collect();
        got.extend(describe(&h.at(round * MIN + 10_000, results)));
    }
    assert_eq!(got, strs(&["region_suspect UP c", "region_cleared UP c"]));
    assert_eq!(h.sent[0].channels, strs(&["ops"]));
}

#[test]
fn silence_by_tag_holds_only_tagged_checks() {
    let mut tagged = check("pay", &["local"]);
    tagged.tags.insert("team".into(), "payments".into());
    let mut h = Harness::new(config(vec![tagged, check("web", &["local"])]));
    h.silences.push(Silence {
        id: "s2".into(),
        check_id: None,
        tag: Some(("team".into(), "payments".into())),
        starts_at_ms: 0,
        ends_at_ms: 60 * MIN,
        comment: String::new(),
    });
    for round in 1..=3 {
        let results = vec![
            result("pay", "local", round, false, 0.0),
            result("web", "local", round, false, 0.0),
        ];
        h.at(round * MIN + 10_000, results);
    }
    assert_eq!(describe(&h.sent), strs(&["triggered DOWN web"]));
    assert_eq!(
        h.state.checks["pay"]
            .incident
            .as_ref()
            .unwrap()
            .held_by
            .as_deref(),
        Some("silence s2")
    );
}

#[test]
fn recovery_during_maintenance_is_one_resolution_after_it() {
    let mut cfg = config(vec![check("web", &["local"])]);
    cfg.maintenance.push(window(
        MaintenanceMode::Silence,
        3 * MIN + MIN / 2,
        8 * MIN + MIN / 2,
    ));
    let mut h = Harness::new(cfg);
    let mut got = Vec::new();
    for round in 1..=10 {
        // Down before the window, recovered (and briefly down again) inside it.
        let up = !(1..=4).contains(&round) && round != 7;
        got.extend(h.round("web", round, &["local"], &[up]));
    }
    assert_eq!(got, strs(&["triggered DOWN web", "resolved UP web"]));
    assert_eq!(
        h.sent[1].at_ms,
        9 * MIN + 10_000,
        "sent when the window ended"
    );
    assert_eq!(h.sent[1].note.as_deref(), Some("held by maintenance m"));
}
