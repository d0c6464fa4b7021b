//! New incidents sent together as one digest, and notifications of UNKNOWN periods.

use std::collections::BTreeMap;

use super::check::Level;
use super::intent::{EventKind, NotificationIntent};
use super::notify::{commit, intent_for, route};
use super::policy::{AlertConfig, CheckAlerting};
use super::state::CheckState;

/// Sends due new incidents, as one digest when `group.threshold` of them are due.
pub(super) fn flush_triggers(
    checks: &mut BTreeMap<String, CheckState>,
    suspects: &BTreeMap<String, i64>,
    config: &AlertConfig,
    triggers: &[&str],
    now_ms: i64,
    out: &mut Vec<NotificationIntent>,
) {
    let g = &config.global;
    let earliest = triggers
        .iter()
        .filter_map(|id| checks[*id].incident.as_ref().map(|i| i.opened_at_ms))
        .min();
    let Some(earliest) = earliest else { return };
    if g.group_threshold > 0 && now_ms < earliest.saturating_add(g.group_wait_ms) {
        return;
    }
    let mut members = Vec::new();
    for id in triggers {
        let check = &config.checks[*id];
        let cs = checks.get_mut(*id).expect("present");
        let level = cs.incident.as_ref().map_or(cs.level, |i| i.level);
        let channels = route(&check.policy.routes, level);
        members.push(commit(
            cs,
            check,
            suspects,
            EventKind::Triggered,
            channels,
            now_ms,
        ));
    }
    if g.group_threshold == 0 || (members.len() as u32) < g.group_threshold {
        out.extend(members);
        return;
    }
    let mut channels: Vec<String> = members.iter().flat_map(|m| m.channels.clone()).collect();
    channels.sort();
    channels.dedup();
    out.push(NotificationIntent {
        id: format!("group:{}", members[0].id),
        kind: EventKind::Grouped,
        at_ms: now_ms,
        check: None,
        incident_id: None,
        seq: 0,
        level: members.iter().map(|m| m.level).max().unwrap_or(Level::Down),
        previous_level: Level::Up,
        opened_at_ms: Some(earliest),
        regions: Vec::new(),
        quorum: None,
        region: None,
        tls_days_left: None,
        note: None,
        channels,
        members,
    });
}

/// UNKNOWN periods: one [`EventKind::NoData`] when one starts, one
/// [`EventKind::DataResumed`] when it ends (held while the check is quiet).
pub(super) fn gap_step(
    cs: &mut CheckState,
    check: &CheckAlerting,
    quiet: bool,
    suspects: &BTreeMap<String, i64>,
    now_ms: i64,
    out: &mut Vec<NotificationIntent>,
) {
    if quiet {
        return;
    }
    let channels = route(&check.policy.routes, Level::Unknown);
    match (cs.level == Level::Unknown, cs.gap_notified) {
        (true, None) => {
            let id = format!("{}:no_data:{}", check.check_id, cs.level_since_ms);
            out.push(intent_for(
                cs,
                check,
                suspects,
                EventKind::NoData,
                id,
                channels,
                now_ms,
            ));
            cs.gap_notified = Some(cs.level_since_ms);
        }
        (false, Some(since)) => {
            let id = format!("{}:no_data:{since}:end", check.check_id);
            let mut intent = intent_for(
                cs,
                check,
                suspects,
                EventKind::DataResumed,
                id,
                channels,
                now_ms,
            );
            intent.previous_level = Level::Unknown;
            out.push(intent);
            cs.gap_notified = None;
        }
        _ => {}
    }
}
