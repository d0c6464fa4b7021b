//! Phase 2 of an evaluation: what to notify at `now`.
//!
//! For each check (in id order), the incident's actual level is compared with the level
//! last notified. A difference is notified unless something holds it, in this order:
//! a `pause` or `silence` maintenance window, an ad-hoc silence, a `depends_on` parent
//! that is REGIONAL or DOWN, failures only in suspect probe regions, flapping. While held,
//! nothing is sent; when the hold ends, at most one notification brings receivers to
//! the current level (none if it equals what they were last told).
//!
//! New incidents wait `group.wait` from their opening round; when that many are due
//! together (`group.threshold`), one [`EventKind::Grouped`] digest replaces them.

use std::collections::BTreeMap;

use super::check::{Level, RegionState};
use super::evaluate::region_states;
use super::group::{flush_triggers, gap_step};
use super::incident::Incident;
use super::intent::{CheckRef, EventKind, NotificationIntent, RegionStatus};
use super::policy::{AlertConfig, CheckAlerting, Routes};
use super::quiet::{quiet_at, Silence};
use super::state::{AlertState, CheckState};
use super::{suspect, tls};

/// Channels for a level.
pub(super) fn route(routes: &Routes, level: Level) -> Vec<String> {
    match level {
        Level::Down => routes.down.clone(),
        Level::Regional => routes.regional.clone(),
        Level::Degraded => routes.degraded.clone(),
        Level::Unknown => routes.unknown.clone(),
        Level::Up => Vec::new(),
    }
}

/// Builds an intent about a check with its regions as seen at `now_ms`.
pub(super) fn intent_for(
    cs: &CheckState,
    check: &CheckAlerting,
    suspects: &BTreeMap<String, i64>,
    kind: EventKind,
    id: String,
    channels: Vec<String>,
    now_ms: i64,
) -> NotificationIntent {
    let states = region_states(cs, check, cs.closed_through_ms.unwrap_or(now_ms));
    let regions = check
        .regions
        .iter()
        .zip(states)
        .map(|(region, state)| {
            let track = cs.regions.get(region);
            RegionStatus {
                region: region.clone(),
                state,
                since_ms: track.map_or(cs.since_ms, |t| t.since_ms),
                last_error: track.and_then(|t| t.last.error.clone()),
                latency_ms: track.map(|t| t.last.avg_ms),
                suspect: suspects.contains_key(region),
            }
        })
        .collect();
    NotificationIntent {
        id,
        kind,
        at_ms: now_ms,
        check: Some(CheckRef {
            id: check.check_id.clone(),
            url: check.url.clone(),
            tags: check.tags.clone(),
        }),
        incident_id: None,
        seq: 0,
        level: cs.level,
        previous_level: cs.level,
        opened_at_ms: None,
        regions,
        quorum: Some(cs.quorum),
        region: None,
        tls_days_left: None,
        note: None,
        channels,
        members: Vec::new(),
    }
}

/// What a notification step needs besides the check.
struct Phase<'a> {
    config: &'a AlertConfig,
    silences: &'a [Silence],
    /// Levels of every check, for `depends_on`.
    levels: &'a BTreeMap<String, Level>,
    /// Suspect probe regions.
    suspects: &'a BTreeMap<String, i64>,
    now_ms: i64,
    out: Vec<NotificationIntent>,
}

impl Phase<'_> {
    /// One notification step for a check at time `at_ms`: flap damping, holds, incident
    /// events (and reminders when `reminders`), UNKNOWN periods. Returns whether a new
    /// incident is due to be sent.
    fn step(
        &mut self,
        cs: &mut CheckState,
        check: &CheckAlerting,
        at_ms: i64,
        reminders: bool,
    ) -> bool {
        let id = check.check_id.as_str();
        let quiet = quiet_at(
            &self.config.maintenance,
            self.silences,
            id,
            &check.tags,
            at_ms,
        )
        .map(|q| q.reason());
        let levels = self.levels;
        let parent = check
            .policy
            .depends_on
            .iter()
            .find(|p| matches!(levels.get(p.as_str()), Some(Level::Down | Level::Regional)))
            .map(|p| format!("depends_on {p} ({})", levels[p.as_str()].as_str()));
        let view = cs.closed_through_ms.unwrap_or(at_ms);
        let failing: Vec<&String> = check
            .regions
            .iter()
            .zip(region_states(cs, check, view))
            .filter(|(_, s)| *s == RegionState::Failing)
            .map(|(r, _)| r)
            .collect();
        let suspect_hold = (!failing.is_empty()
            && failing.iter().all(|r| self.suspects.contains_key(*r)))
        .then(|| format!("suspect probe region {}", failing[0]));
        flap_step(
            cs,
            check,
            quiet.is_some(),
            self.suspects,
            at_ms,
            self.now_ms,
            &mut self.out,
        );
        let flapping = cs.flapping.then(|| "flapping".to_string());
        let hold = quiet.clone().or(parent).or(suspect_hold).or(flapping);
        let due = incident_step(
            cs,
            check,
            hold,
            reminders,
            self.suspects,
            self.now_ms,
            &mut self.out,
        );
        gap_step(
            cs,
            check,
            quiet.is_some(),
            self.suspects,
            self.now_ms,
            &mut self.out,
        );
        due
    }

    /// Walks the check's logged level changes in order, then steps at `now`. Returns
    /// whether a new incident waits for [`flush_triggers`].
    fn check(&mut self, cs: &mut CheckState, check: &CheckAlerting) -> bool {
        let (level, quorum, since) = (cs.level, cs.quorum, cs.level_since_ms);
        for change in std::mem::take(&mut cs.log) {
            // The step sees the check as it was right after this change.
            (cs.level, cs.quorum, cs.level_since_ms) = (change.to, change.quorum, change.at_ms);
            cs.remember_change(change.at_ms);
            Incident::on_level(
                &mut cs.incident,
                &check.check_id,
                change.from,
                change.to,
                change.at_ms,
                &change.regions,
            );
            if self.step(cs, check, change.at_ms, false) && self.config.global.group_threshold == 0
            {
                let channels = route(&check.policy.routes, cs.level);
                let intent = commit(
                    cs,
                    check,
                    self.suspects,
                    EventKind::Triggered,
                    channels,
                    self.now_ms,
                );
                self.out.push(intent);
            }
        }
        (cs.level, cs.quorum, cs.level_since_ms) = (level, quorum, since);
        self.step(cs, check, self.now_ms, true)
    }
}

/// Decides every notification of an evaluation, updating `state`.
pub(super) fn decide(
    state: &mut AlertState,
    config: &AlertConfig,
    silences: &[Silence],
    now_ms: i64,
) -> Vec<NotificationIntent> {
    let mut out = Vec::new();
    suspect::update(state, config, now_ms, &mut out);
    let levels: BTreeMap<String, Level> = state
        .checks
        .iter()
        .map(|(id, cs)| (id.clone(), cs.level))
        .collect();
    let AlertState {
        checks,
        suspect_regions,
        ..
    } = state;
    let mut phase = Phase {
        config,
        silences,
        levels: &levels,
        suspects: suspect_regions,
        now_ms,
        out,
    };
    let mut triggers: Vec<&str> = Vec::new();
    for (id, check) in &config.checks {
        let cs = checks.get_mut(id).expect("evaluate inserts every check");
        if phase.check(cs, check) {
            triggers.push(id);
        }
        let quiet = quiet_at(&config.maintenance, silences, id, &check.tags, now_ms).is_some();
        tls::step(cs, check, quiet, suspect_regions, now_ms, &mut phase.out);
    }
    let mut out = phase.out;
    flush_triggers(checks, suspect_regions, config, &triggers, now_ms, &mut out);
    out
}

/// Flap damping: more than `flap_changes` level changes within `flap_window` hold
/// notifications (one [`EventKind::Flapping`] says so) until the level has not changed
/// for `flap_stable`.
#[allow(clippy::too_many_arguments)]
fn flap_step(
    cs: &mut CheckState,
    check: &CheckAlerting,
    quiet: bool,
    suspects: &BTreeMap<String, i64>,
    at_ms: i64,
    now_ms: i64,
    out: &mut Vec<NotificationIntent>,
) {
    let p = &check.policy;
    let recent = cs
        .changes
        .iter()
        .filter(|t| **t > at_ms - p.flap_window_ms && **t <= at_ms)
        .count() as u32;
    let last = cs.changes.last().copied().unwrap_or(i64::MIN);
    if !cs.flapping && recent > p.flap_changes {
        cs.flapping = true;
        let Some(inc) = &cs.incident else { return };
        if quiet || inc.notified_channels.is_empty() {
            return;
        }
        let mut intent = intent_for(
            cs,
            check,
            suspects,
            EventKind::Flapping,
            format!("{}:flapping:{last}", inc.id),
            inc.notified_channels.clone(),
            now_ms,
        );
        intent.incident_id = Some(inc.id.clone());
        intent.previous_level = inc.notified_level;
        out.push(intent);
    } else if cs.flapping && at_ms.saturating_sub(last) >= p.flap_stable_ms {
        cs.flapping = false;
    }
}

/// Incident events and reminders. Returns true when a new incident is due (committed by
/// the caller, or by [`flush_triggers`]).
fn incident_step(
    cs: &mut CheckState,
    check: &CheckAlerting,
    hold: Option<String>,
    reminders: bool,
    suspects: &BTreeMap<String, i64>,
    now_ms: i64,
    out: &mut Vec<NotificationIntent>,
) -> bool {
    let p = &check.policy;
    let Some(inc) = cs.incident.as_mut() else {
        return false;
    };
    let (actual, told) = (inc.level, inc.notified_level);
    if actual != told {
        if let Some(reason) = hold {
            inc.held_by = Some(reason);
            return false;
        }
        if actual == Level::Up && !p.resolved {
            inc.notified_level = Level::Up;
        } else if told == Level::Up {
            return true;
        } else {
            let kind = if actual == Level::Up {
                EventKind::Resolved
            } else if actual.severity() > told.severity() {
                EventKind::Escalated
            } else {
                EventKind::Deescalated
            };
            let channels = if kind == EventKind::Resolved {
                inc.notified_channels.clone()
            } else {
                route(&p.routes, actual)
            };
            out.push(commit(cs, check, suspects, kind, channels, now_ms));
        }
    } else if reminders
        && hold.is_none()
        && told.is_problem()
        && inc.reminders_sent < p.reminder_max
        && p.reminder_every_ms.is_some_and(|every| {
            now_ms - inc.last_notified_at_ms.unwrap_or(inc.opened_at_ms) >= every
        })
    {
        let channels = route(&p.routes, actual);
        out.push(commit(
            cs,
            check,
            suspects,
            EventKind::Reminder,
            channels,
            now_ms,
        ));
    }
    drop_if_done(cs);
    false
}

/// Forgets a resolved incident once receivers know (or never knew) about it.
fn drop_if_done(cs: &mut CheckState) {
    if cs
        .incident
        .as_ref()
        .is_some_and(|i| !i.is_open() && i.notified_level == Level::Up)
    {
        cs.incident = None;
    }
}

/// Records a notification in the incident and builds its intent.
pub(super) fn commit(
    cs: &mut CheckState,
    check: &CheckAlerting,
    suspects: &BTreeMap<String, i64>,
    kind: EventKind,
    channels: Vec<String>,
    now_ms: i64,
) -> NotificationIntent {
    let inc: &mut Incident = cs.incident.as_mut().expect("caller checked");
    inc.seq += 1;
    let previous = std::mem::replace(&mut inc.notified_level, inc.level);
    inc.last_notified_at_ms = Some(now_ms);
    if kind == EventKind::Reminder {
        inc.reminders_sent += 1;
    } else {
        inc.reminders_sent = 0;
    }
    for c in &channels {
        if !inc.notified_channels.contains(c) {
            inc.notified_channels.push(c.clone());
        }
    }
    inc.notified_channels.sort();
    let note = inc.held_by.take().map(|r| format!("held by {r}"));
    let (id, seq, opened, inc_id, level) = (
        format!("{}:{}", inc.id, inc.seq),
        inc.seq,
        inc.opened_at_ms,
        inc.id.clone(),
        inc.level,
    );
    let mut intent = intent_for(cs, check, suspects, kind, id, channels, now_ms);
    intent.incident_id = Some(inc_id);
    intent.seq = seq;
    intent.level = level;
    intent.previous_level = previous;
    intent.opened_at_ms = Some(opened);
    intent.note = note;
    intent
}
