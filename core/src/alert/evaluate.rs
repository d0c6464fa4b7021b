//! The evaluator: `evaluate(state, results, now, config, silences) -> (state, intents)`,
//! pure and deterministic.
//!
//! It runs in two phases:
//!
//! 1. **Rounds** (per check, no cross-check input). Results are grouped into rounds by
//!    scheduled time and deduplicated by (check, region, scheduled time); conflicting
//!    copies resolve to the worse one. A round is evaluated once every configured region
//!    has reported, or once `settle` has passed since its scheduled time, and always
//!    after every earlier round of the check. Its executions feed the region state
//!    machines ([`super::region`]) and the check level ([`super::check`]) in scheduled
//!    order. A result for a round already evaluated is **ignored** (and counted in
//!    [`AlertState::late_ignored`]): merging it would rewrite history that notifications
//!    were already based on. Then the level is recomputed at `now` so silent regions turn
//!    into NO_DATA.
//! 2. **Notifications** (at `now`, checks in id order): suspect probe regions, flap
//!    damping, holds (maintenance, silences, `depends_on`, suspect regions), incident
//!    events, reminders, UNKNOWN periods, TLS warnings and grouping
//!    ([`super::notify`]).
//!
//! The same results in any order or duplication, within the settle window, give the same
//! state and intents. A notification states the level at the evaluation: transitions
//! that happen between two evaluations are recorded in the incident timeline but
//! notified as one change (like a short `group_wait`).

use super::check::{level_of, RegionState};
use super::notify;
use super::policy::{AlertConfig, CheckAlerting};
use super::quiet::{quiet_at, Quiet, Silence};
use super::region::{Observation, RegionTrack};
use super::state::{AlertState, CheckState, MAX_PENDING_ROUNDS};
use super::NotificationIntent;
use crate::result::ProbeResult;

/// Feeds `results` into `state` and decides what to notify at `now_ms`.
///
/// `config` is the current alerting configuration (checks no longer in it are forgotten);
/// `silences` are the ad-hoc silences the runner keeps. Call it after every stored batch
/// of results and on a timer (every 10 s or so) for time-driven events.
pub fn evaluate(
    state: &AlertState,
    results: &[ProbeResult],
    now_ms: i64,
    config: &AlertConfig,
    silences: &[Silence],
) -> (AlertState, Vec<NotificationIntent>) {
    let mut state = state.clone();
    state.checks.retain(|id, _| config.checks.contains_key(id));
    for id in config.checks.keys() {
        state
            .checks
            .entry(id.clone())
            .or_insert_with(|| CheckState::new(now_ms));
    }
    for result in results {
        ingest(&mut state, result, config, silences);
    }
    for (id, check) in &config.checks {
        let cs = state.checks.get_mut(id).expect("inserted above");
        cs.regions.retain(|r, _| check.regions.contains(r));
        close_rounds(cs, check, now_ms);
        time_step(cs, check, config, silences, now_ms);
    }
    let intents = notify::decide(&mut state, config, silences, now_ms);
    (state, intents)
}

fn ingest(state: &mut AlertState, r: &ProbeResult, config: &AlertConfig, silences: &[Silence]) {
    let Some(check) = config.checks.get(&r.check_id) else {
        return;
    };
    if !check.regions.contains(&r.region) {
        return;
    }
    let tick = r.scheduled_at_ms;
    // Executions inside a pause window do not count (the probe should not have run).
    if let Some(Quiet::Paused { .. }) = quiet_at(
        &config.maintenance,
        silences,
        &check.check_id,
        &check.tags,
        tick,
    ) {
        return;
    }
    let cs = state.checks.get_mut(&r.check_id).expect("inserted");
    if cs.closed_through_ms.is_some_and(|closed| tick <= closed) {
        state.late_ignored += 1;
        return;
    }
    let obs = Observation::from_result(r, &check.policy);
    let round = cs.pending.entry(tick).or_default();
    match round.get(&r.region) {
        Some(old) if old.rank() >= obs.rank() => {}
        _ => {
            round.insert(r.region.clone(), obs);
        }
    }
}

/// Evaluates waiting rounds in scheduled order while each is complete or settled.
fn close_rounds(cs: &mut CheckState, check: &CheckAlerting, now_ms: i64) {
    let policy = &check.policy;
    while let Some((&tick, round)) = cs.pending.first_key_value() {
        let complete = check.regions.iter().all(|r| round.contains_key(r));
        let settled = now_ms >= tick.saturating_add(policy.settle_ms);
        if !(complete || settled || cs.pending.len() > MAX_PENDING_ROUNDS) {
            break;
        }
        let (_, round) = cs.pending.pop_first().expect("present");
        for (region, obs) in round {
            match cs.regions.get_mut(&region) {
                Some(track) => track.apply(tick, obs, policy),
                None => {
                    cs.regions
                        .insert(region, RegionTrack::new(tick, obs, policy));
                }
            }
        }
        cs.closed_through_ms = Some(tick);
        let states = region_states(cs, check, tick);
        let (level, q) = level_of(&states, policy);
        cs.set_level(&check.check_id, level, q, tick);
    }
}

/// Recomputes the level at `now` (regions fall silent without any result arriving).
/// A paused check is frozen, and staleness counts from the end of the pause.
fn time_step(
    cs: &mut CheckState,
    check: &CheckAlerting,
    config: &AlertConfig,
    silences: &[Silence],
    now_ms: i64,
) {
    if let Some(Quiet::Paused { until_ms, .. }) = quiet_at(
        &config.maintenance,
        silences,
        &check.check_id,
        &check.tags,
        now_ms,
    ) {
        cs.fresh_from_ms = cs.fresh_from_ms.max(until_ms);
        return;
    }
    let states = region_states(cs, check, now_ms);
    let (level, q) = level_of(&states, &check.policy);
    cs.set_level(&check.check_id, level, q, now_ms);
}

/// The state of every configured region at `at_ms`, in region order. A region that has
/// never reported has no data once `stale_after` has passed since the check was first
/// seen, and counts as OK before that.
pub(super) fn region_states(
    cs: &CheckState,
    check: &CheckAlerting,
    at_ms: i64,
) -> Vec<RegionState> {
    let stale = check.policy.stale_after_ms;
    let fresh_from = cs.fresh_from_ms.max(cs.since_ms);
    check
        .regions
        .iter()
        .map(|r| match cs.regions.get(r) {
            Some(track) => track.state_at(at_ms, stale, cs.fresh_from_ms),
            None if at_ms - fresh_from > stale => RegionState::NoData,
            None => RegionState::Ok,
        })
        .collect()
}
