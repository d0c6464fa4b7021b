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
//!    were already based on. Then the check moves to its watermark (`now - settle`, or
//!    just before its oldest waiting round), applying the moments at which regions fell
//!    silent (NO_DATA) in order; results at or before the watermark are late.
//!    Level changes are logged with their time.
//! 2. **Notifications** (checks in id order, [`super::notify`]): suspect probe regions
//!    at `now`; then each logged change in order updates the incident and is notified
//!    unless held (maintenance, silences and flapping judged at the change's time,
//!    `depends_on` parents and suspect regions as they are now); then, at `now`,
//!    reconciliation of held changes, reminders, TLS warnings and grouping.
//!
//! For the same evaluation times, the same results in any order, duplication or split
//! between evaluations (within the settle window) give the same state and intents. What
//! is judged by the wall clock (the end of maintenance, silences and flapping, reminders,
//! group waits) depends on when evaluations run, by design.

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
        // Regions that fell silent before this round change the level first.
        advance(cs, check, tick - 1);
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
        let (level, q) = level_at(cs, check, tick);
        let regions = problem_regions(cs, check, tick);
        cs.set_level(level, q, tick, regions);
    }
}

/// Moves the check's evaluated time to `to_ms`, applying every moment in between at
/// which a region went stale (`last seen + stale_after`), in order. Levels change between
/// rounds only through staleness, so these moments are the only ones to look at, and the
/// stamps do not depend on when evaluations ran.
fn advance(cs: &mut CheckState, check: &CheckAlerting, to_ms: i64) {
    let from = cs.closed_through_ms.unwrap_or(i64::MIN);
    if to_ms <= from {
        return;
    }
    let stale = check.policy.stale_after_ms;
    let fresh_from = cs.fresh_from_ms.max(cs.since_ms);
    let mut moments: Vec<i64> = check
        .regions
        .iter()
        .map(|r| {
            let seen = cs
                .regions
                .get(r)
                .map_or(fresh_from, |t| t.last_seen_ms.max(cs.fresh_from_ms));
            seen.saturating_add(stale + 1)
        })
        .filter(|m| *m > from && *m <= to_ms)
        .collect();
    moments.sort_unstable();
    moments.dedup();
    for at in moments {
        cs.closed_through_ms = Some(at);
        let (level, q) = level_at(cs, check, at);
        let regions = problem_regions(cs, check, at);
        cs.set_level(level, q, at, regions);
    }
    cs.closed_through_ms = Some(to_ms);
}

/// Moves the check to its watermark: `now - settle`, or just before the oldest waiting
/// round. Results at or before the watermark are late from then on. A paused check is
/// frozen, and staleness counts from the end of the pause.
fn time_step(
    cs: &mut CheckState,
    check: &CheckAlerting,
    config: &AlertConfig,
    silences: &[Silence],
    now_ms: i64,
) {
    let mut watermark = now_ms - check.policy.settle_ms;
    if let Some((&first, _)) = cs.pending.first_key_value() {
        watermark = watermark.min(first - 1);
    }
    if let Some(Quiet::Paused { until_ms, .. }) = quiet_at(
        &config.maintenance,
        silences,
        &check.check_id,
        &check.tags,
        now_ms,
    ) {
        cs.fresh_from_ms = cs.fresh_from_ms.max(until_ms);
        let closed = cs.closed_through_ms.unwrap_or(i64::MIN).max(watermark);
        cs.closed_through_ms = Some(closed);
        return;
    }
    advance(cs, check, watermark);
}

/// The check's level at `at_ms`.
fn level_at(
    cs: &CheckState,
    check: &CheckAlerting,
    at_ms: i64,
) -> (super::Level, super::QuorumCount) {
    let states = region_states(cs, check, at_ms);
    let silent_failing = check.regions.iter().zip(&states).any(|(r, s)| {
        *s == RegionState::NoData
            && cs
                .regions
                .get(r)
                .is_some_and(|t| t.state == RegionState::Failing)
    });
    level_of(&states, silent_failing, &check.policy)
}

/// The configured regions failing or slow at `at_ms`, in region order: what an
/// incident records as affected.
fn problem_regions(cs: &CheckState, check: &CheckAlerting, at_ms: i64) -> Vec<String> {
    check
        .regions
        .iter()
        .zip(region_states(cs, check, at_ms))
        .filter(|(_, s)| matches!(s, RegionState::Failing | RegionState::Degraded))
        .map(|(r, _)| r.clone())
        .collect()
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
